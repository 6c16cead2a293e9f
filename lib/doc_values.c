/*
 * Strict configuration values (include/warden/doc.h): the checks every program's config
 * loader makes on strings, paths and durations, with one wording for the messages.
 */
#include <string.h>

#include "warden/alloc.h"
#include "warden/clock.h"
#include "warden/doc.h"

int wd_doc_str_dup(const struct wd_doc *doc, const struct wd_node *node, const char *what,
                   char **out, struct wd_diag *diag)
{
    if (node->u.s.len == 0) {
        return wd_doc_error(doc, node, diag, "%s must not be empty", what);
    }
    if (memchr(node->u.s.p, '\0', node->u.s.len) != NULL) {
        return wd_doc_error(doc, node, diag, "%s contains a NUL byte", what);
    }
    char *s = wd_strndup(node->u.s.p, node->u.s.len);
    if (s == NULL) {
        return WD_ENOMEM;
    }
    *out = s;
    return WD_OK;
}

int wd_doc_path_dup(const struct wd_doc *doc, const struct wd_node *node, const char *what,
                    size_t max_len, char **out, struct wd_diag *diag)
{
    if (node->u.s.len == 0 || node->u.s.p[0] != '/') {
        return wd_doc_error(doc, node, diag, "%s must be an absolute path", what);
    }
    if (node->u.s.len > max_len) {
        return wd_doc_error(doc, node, diag, "%s is longer than %zu bytes", what, max_len);
    }
    return wd_doc_str_dup(doc, node, what, out, diag);
}

int wd_doc_duration_ms(const struct wd_doc *doc, const struct wd_node *node, const char *what,
                       int64_t min_ms, int64_t max_ms, int64_t *out, struct wd_diag *diag)
{
    int64_t ms = 0;
    if (memchr(node->u.s.p, '\0', node->u.s.len) != NULL
        || wd_duration_parse(node->u.s.p, &ms) < 0) {
        return wd_doc_error(doc, node, diag, "%s: not a duration (e.g. \"90s\", \"10m\", \"1h\")",
                            what);
    }
    if (ms < min_ms || ms > max_ms) {
        return wd_doc_error(doc, node, diag, "%s must be between %lld ms and %lld ms", what,
                            (long long)min_ms, (long long)max_ms);
    }
    *out = ms;
    return WD_OK;
}
