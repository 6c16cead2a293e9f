/*
 * Cedar's JSON formats (module-private view): values with __entity/__extn escapes and the
 * schema-directed implicit forms, entity uids, entities files and requests. The public
 * entry points are in warden/cedar.h; these helpers are shared with the corpus tool and
 * the CLI through that header.
 */
#ifndef WD_CEDAR_JSON_IO_H
#define WD_CEDAR_JSON_IO_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/doc.h"

#include "cedar/value.h"

/* Where a conversion reports: the document (positions), the schema hooks, the diag. */
struct wd_cedar_jctx {
    const struct wd_doc *doc;
    const struct wd_cedar_json_schema *schema; /* may be NULL */
    struct wd_diag *diag;
};

/*
 * Convert a JSON value to a Cedar value pushed on vb (after the key, inside a record).
 * type is the schema's expected type (NULL: none). WD_ECONFIG with diag at the node for
 * malformed values; WD_ENOMEM; WD_ELIMIT (nesting).
 */
WD_MUST_USE int wd_cedar_json_value(const struct wd_cedar_jctx *jc, const struct wd_node *n,
                                    const void *type, struct wd_cedar_vb *vb);

/*
 * Read an entity uid: {"type": T, "id": I}, {"__entity": {...}} or (allow_text) a string
 * `T::"I"` in Cedar syntax (the id is unescaped into idbuf). On success the parts are
 * borrowed from the document or idbuf. WD_ECONFIG with diag.
 */
struct wd_cedar_juid {
    const char *type;
    size_t tlen;
    const char *id;
    size_t idlen;
};
WD_MUST_USE int wd_cedar_json_uid(const struct wd_cedar_jctx *jc, const struct wd_node *n,
                                  bool allow_text, struct wd_buf *idbuf, struct wd_cedar_juid *out);

/*
 * Parse `Type::"id"` (Cedar entity uid text; escapes \n \r \t \\ \0 \' \" \u{h..h}).
 * The type is borrowed from s; the unescaped id is appended to idbuf (after a reset).
 * WD_EPROTO when malformed (or the type is not a Cedar name), WD_ENOMEM, WD_ELIMIT.
 */
WD_MUST_USE int wd_cedar_uid_text_parse(const char *s, size_t n, struct wd_buf *idbuf,
                                        struct wd_cedar_juid *out);

#endif
