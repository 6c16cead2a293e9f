/*
 * Routes: named URL path templates, matched against request paths so that policies see
 * context.route and context.params instead of re-parsing paths (docs/policy.md §2,
 * docs/internals/detect.md "Routes").
 *
 * A template is an absolute path whose segments are literals, `{name}` parameters (one
 * whole segment) or, as the final segment only, a `{name...}` catch-all (one or more
 * segments: the rest of the path):
 *
 *     prescription: /prescriptions/{id}
 *     vitals:       /patients/{pid}/vitals
 *     files:        /files/{path...}
 *
 * A set is built once into an immutable segment trie; matching walks the trie segment by
 * segment (literal child first, then the parameter child, then the catch-all), so the cost
 * follows the path's length, not the number of routes. The most specific template wins:
 * at the first segment where two matching templates differ, a literal beats a parameter,
 * which beats a catch-all. Two templates with the same shape (they differ only in parameter
 * names) would tie; the build rejects them as a conflict.
 *
 * A built set is never modified: any number of threads may match against it at once.
 */
#ifndef WD_ROUTE_H
#define WD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"

#define WD_ROUTE_MAX_ROUTES   4096 /* templates in one set */
#define WD_ROUTE_NAME_MAX     64   /* bytes in a route or parameter name */
#define WD_ROUTE_TEMPLATE_MAX 1024 /* bytes in a template */
#define WD_ROUTE_MAX_SEGMENTS 64   /* segments in a template or a matched path */
#define WD_ROUTE_MAX_PARAMS   16   /* parameters (catch-all included) in one template */
#define WD_ROUTE_PATH_MAX     8192 /* bytes in a matched path */

/* One template to build, with its position for diagnostics. */
struct wd_route_def {
    const char *name;   /* borrowed, NUL-terminated: [A-Za-z0-9_.-], 1..WD_ROUTE_NAME_MAX bytes */
    const char *tmpl;   /* borrowed, NUL-terminated template */
    const char *file;   /* borrowed; file named in diagnostics, NULL for none */
    unsigned line, col; /* position of the entry in file; 0 when unknown */
};

struct wd_route_set;

/*
 * Build a set from n definitions (n may be 0: a set that matches nothing). Rejected with
 * WD_ECONFIG and "file:line:col: route 'NAME': ..." in diag (position of the offending
 * def): a bad or duplicate route name; a template that is empty, longer than
 * WD_ROUTE_TEMPLATE_MAX, does not start with '/', has an empty segment (also a trailing
 * '/', except the root template "/"), a "." or ".." segment, a byte outside RFC 3986 pchar
 * (unreserved, sub-delims, ':' '@'; '%' is not allowed in templates) in a literal, a '{' or
 * '}' that does not form a whole-segment parameter, a bad or repeated parameter name
 * ([A-Za-z_][A-Za-z0-9_]*), a catch-all that is not the last segment, more than
 * WD_ROUTE_MAX_SEGMENTS segments or WD_ROUTE_MAX_PARAMS parameters; a template with the
 * same shape as an earlier one (conflict, naming both); more than WD_ROUTE_MAX_ROUTES
 * defs (WD_ELIMIT). WD_ENOMEM. WD_EINVAL when defs is NULL with n > 0 or out is NULL.
 * Nothing in defs is kept (names and templates are copied). On success *out is owned by
 * the caller (wd_route_set_free); on failure it is NULL.
 */
WD_MUST_USE int wd_route_set_new(const struct wd_route_def *defs, size_t n,
                                 struct wd_route_set **out, struct wd_diag *diag);

/*
 * Build a set from a document node holding the `routes:` mapping (name -> template string),
 * as in a YAML or JSON configuration. The mapping's order is the defs order; errors are
 * reported at the entry's key ("expected object"/"expected string" at the node). Errors as
 * wd_route_set_new (keys containing NUL bytes are bad names). doc and routes are borrowed.
 */
WD_MUST_USE int wd_route_set_from_doc(const struct wd_doc *doc, const struct wd_node *routes,
                                      struct wd_route_set **out, struct wd_diag *diag);

/* Free a set. Accepts NULL. */
void wd_route_set_free(struct wd_route_set *set);

/* Number of routes in the set. */
size_t wd_route_set_count(const struct wd_route_set *set);

/* One captured parameter; both strings are NUL-terminated and borrowed (see below). */
struct wd_route_param {
    const char *name;  /* from the set */
    const char *value; /* decoded, in the match's buffer */
    size_t value_len;  /* bytes in value */
};

/*
 * The result of one match: caller-provided storage (about 9 KiB; put it on the stack or in
 * the per-request arena). route and params[].name point into the set (valid while the set
 * lives), params[].value into buf (valid while this struct lives and is not reused).
 */
struct wd_route_match {
    const char *route; /* the route's name; "" when no route matched */
    bool bad_path;     /* no route because the path itself was refused (see wd_route_match) */
    size_t nparams;    /* in template order */
    struct wd_route_param params[WD_ROUTE_MAX_PARAMS];
    /* private: decoded segments */
    struct {
        unsigned short off, len;
    } seg_[WD_ROUTE_MAX_SEGMENTS];
    char buf_[WD_ROUTE_PATH_MAX + 1];
};

/*
 * Match path[0..len) — the origin-form path of a request target, without the query
 * (RFC 9112 §3.2.1; the caller splits at '?') — against the set. Never allocates.
 *
 * The path is refused (no route, m->bad_path set) when it: is empty, longer than
 * WD_ROUTE_PATH_MAX, or does not start with '/'; has a byte outside RFC 3986 §3.3 pchar
 * and '/' (so also '?', '#', spaces, controls and raw bytes >= 0x80); has a '%' not
 * followed by two hex digits; has an empty segment ("//", or a trailing '/' on anything
 * but "/"); has more than WD_ROUTE_MAX_SEGMENTS segments; or has a segment that, once
 * percent-decoded, contains NUL or '/' (%00, %2F), is not valid UTF-8, or is "." or ".."
 * (also when spelt %2E: RFC 3986 §6.2.2.2 makes them equivalent). Every segment is
 * percent-decoded before matching (RFC 3986 §2.1), so literals match their encoded
 * spellings too ("/a%62c" matches the literal "abc"); matching is case-sensitive byte
 * equality. A parameter captures one decoded segment; a catch-all captures the decoded
 * remaining segments joined by '/'. "/" matches only the root template "/".
 *
 * Returns WD_OK and fills m (route, params in template order) on a match; WD_ENOENT when no
 * route matches or the path is refused (m->route = "", m->nparams = 0, m->bad_path tells
 * which); WD_EINVAL when set, path (with len > 0) or m is NULL. Thread-safe.
 */
WD_MUST_USE int wd_route_match(const struct wd_route_set *set, const char *path, size_t len,
                               struct wd_route_match *m);

#endif
