/*
 * Structured documents: one tree type that both the JSON loader (lib/json.c) and the YAML
 * loader (lib/yaml.c) produce, with the line and column of every node and key, plus strict
 * accessors that turn unknown keys, missing keys and wrong types into file:line:col
 * diagnostics.
 *
 * A struct wd_doc owns every node, key and string in it (one arena); nodes are borrowed
 * pointers valid until wd_doc_free. A finished document is never modified, so it may be
 * read from several threads at once.
 */
#ifndef WD_DOC_H
#define WD_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/buf.h"
#include "warden/common.h"
#include "warden/err.h"

enum wd_node_type {
    WD_NODE_NULL,
    WD_NODE_BOOL,
    WD_NODE_INT,  /* an integer that fits int64_t */
    WD_NODE_REAL, /* a number with a fraction or exponent */
    WD_NODE_STR,
    WD_NODE_ARR,
    WD_NODE_OBJ,
};

struct wd_node;

struct wd_member {
    const char *key; /* NUL-terminated; may also contain NUL bytes (JSON \u0000), see key_len */
    size_t key_len;
    unsigned line, col; /* position of the key */
    const struct wd_node *val;
};

struct wd_node {
    enum wd_node_type type;
    unsigned line, col; /* 1-based position of the value's first character */
    union {
        bool b;
        int64_t i;
        double d;
        struct {
            const char *p; /* NUL-terminated; len counts bytes and may include NULs */
            size_t len;
        } s;
        struct {
            const struct wd_node *const *items;
            size_t n;
        } arr;
        struct {
            const struct wd_member *members; /* in document order; keys are unique */
            size_t n;
        } obj;
    } u;
};

struct wd_doc;

/* Bounds on what a loader accepts; zero fields take the defaults shown. */
struct wd_doc_limits {
    size_t max_bytes; /* input size: 16 MiB */
    size_t max_depth; /* arrays/objects open at once: 128 ("[[1]]" has depth 2) */
    size_t max_nodes; /* total values, containers included (keys are not values): 1,000,000 */
};

/* The root value; never NULL for a loaded document. Borrowed. */
const struct wd_node *wd_doc_root(const struct wd_doc *doc);
/* The file name given at load, for diagnostics ("<input>" if none). Borrowed. */
const char *wd_doc_file(const struct wd_doc *doc);
/* Free the document and everything in it. Accepts NULL. */
void wd_doc_free(struct wd_doc *doc);

/* "null", "boolean", "integer", "number", "string", "array", "object". */
const char *wd_node_type_name(enum wd_node_type t);

/*
 * Member of an object by key (exact bytes of the NUL-terminated key), or NULL if absent or
 * obj is NULL or not an object. A linear scan: iterate u.obj.members for large objects.
 */
const struct wd_node *wd_node_get(const struct wd_node *obj, const char *key);

/*
 * Strict object reading. Describe the keys an object may have; wd_doc_read_object checks
 * that node is an object, that every key is listed (else "unknown key 'k'" at the key),
 * that each listed key with WD_FIELD_REQUIRED is present (else "missing key 'k'" at the
 * object), and that each value has the listed type (else "'k': expected string, got
 * integer" at the value; WD_NODE_REAL also accepts integers; type WD_NODE_NULL in a field
 * means "any type"). On success *out of each present field is set and absent ones are NULL;
 * on failure every *out is NULL. out may be NULL for a key that is only checked. Keys in
 * messages are escaped (wd_log_escape). node NULL gives "expected object, got nothing"
 * without a position. Returns WD_OK or WD_ECONFIG with diag set.
 */
enum { WD_FIELD_OPTIONAL = 0, WD_FIELD_REQUIRED = 1 };
struct wd_field {
    const char *key;
    enum wd_node_type type;
    int flags;
    const struct wd_node **out;
};
WD_MUST_USE int wd_doc_read_object(const struct wd_doc *doc, const struct wd_node *node,
                                   const struct wd_field *fields, size_t nfields,
                                   struct wd_diag *diag);

/*
 * Report an error at a node of doc: fills diag with "file:line:col: <fmt>" and returns
 * WD_ECONFIG. node may be NULL (no position).
 */
int wd_doc_error(const struct wd_doc *doc, const struct wd_node *node, struct wd_diag *diag,
                 const char *fmt, ...) WD_PRINTF(4, 5);

/*
 * Parse JSON (RFC 8259, strict): exactly one value, optional surrounding whitespace; no
 * comments, trailing commas, NaN/Infinity, leading zeros, or control characters in strings;
 * valid UTF-8 only, including \u escapes (lone surrogates rejected); duplicate keys rejected;
 * integers outside int64_t rejected (numbers with fraction or exponent become WD_NODE_REAL;
 * one that overflows a double is rejected, underflow rounds to zero). No byte-order mark.
 * Diagnostics are "file:line:col: message" with col counting bytes from 1, at the offending
 * byte (duplicate keys: at the second occurrence). file names the input in diagnostics
 * (borrowed, copied; NULL means "<input>"). On success *out is owned by the caller; on
 * failure *out is NULL. WD_EPROTO (malformed, diag set), WD_ELIMIT (a limit, diag set),
 * WD_ENOMEM (diag set). Thread-safe (no shared state; uses the C locale for strtod).
 */
WD_MUST_USE int wd_json_parse(const char *file, const void *p, size_t len,
                              const struct wd_doc_limits *lim, struct wd_doc **out,
                              struct wd_diag *diag);
/*
 * Read a whole file and wd_json_parse it, naming it path in diagnostics. WD_EIO with diag
 * "path: reason" when it cannot be read (missing, a directory, read error); WD_ELIMIT when
 * it is larger than max_bytes; otherwise as wd_json_parse.
 */
WD_MUST_USE int wd_json_load_file(const char *path, const struct wd_doc_limits *lim,
                                  struct wd_doc **out, struct wd_diag *diag);

/*
 * Parse YAML 1.2 with libyaml into the same tree. One document only (an empty stream is
 * "empty document"); plain scalars resolve by the YAML 1.2 core schema (null ~ true false in
 * their three spellings, integers incl. 0x/0o, floats, .inf/.nan rejected; "yes", "on" and
 * the like stay strings); quoted and block scalars are strings; keys are scalars taken as
 * their text (a plain null key is rejected); duplicate keys, non-scalar keys,
 * anchors/aliases, explicit tags and multiple documents are rejected. Input must be UTF-8.
 * Positions come from libyaml, whose columns count characters, not bytes. Same errors and
 * ownership as wd_json_parse.
 */
WD_MUST_USE int wd_yaml_parse(const char *file, const void *p, size_t len,
                              const struct wd_doc_limits *lim, struct wd_doc **out,
                              struct wd_diag *diag);
/* As wd_json_load_file, with wd_yaml_parse. */
WD_MUST_USE int wd_yaml_load_file(const char *path, const struct wd_doc_limits *lim,
                                  struct wd_doc **out, struct wd_diag *diag);

/*
 * Writing JSON: append s[0..n) as a JSON string literal with quotes, escaping '"', '\\',
 * and control characters (\n \r \t \b \f, others \u00XX). Bytes >= 0x80 are copied as they
 * are when they form valid UTF-8; each invalid byte becomes U+FFFD. s is borrowed (may be
 * NULL when n is 0). WD_ELIMIT / WD_ENOMEM from the buffer, which is then unchanged.
 */
WD_MUST_USE int wd_json_append_string(struct wd_buf *out, const char *s, size_t n);

/*
 * Strict values for configuration files; each reports "file:line:col: WHAT ..." at node
 * (a WD_NODE_STR the caller has type-checked, e.g. with wd_doc_read_object) and returns
 * WD_ECONFIG, or WD_ENOMEM.
 *
 * wd_doc_str_dup: a non-empty string without NUL bytes; *out is a copy (wd_free).
 * wd_doc_path_dup: as wd_doc_str_dup, and an absolute path of at most max_len bytes.
 * wd_doc_duration_ms: a duration ("90s", "10m", "1h"; see wd_duration_parse) within
 *   [min_ms, max_ms], in milliseconds.
 */
WD_MUST_USE int wd_doc_str_dup(const struct wd_doc *doc, const struct wd_node *node,
                               const char *what, char **out, struct wd_diag *diag);
WD_MUST_USE int wd_doc_path_dup(const struct wd_doc *doc, const struct wd_node *node,
                                const char *what, size_t max_len, char **out, struct wd_diag *diag);
WD_MUST_USE int wd_doc_duration_ms(const struct wd_doc *doc, const struct wd_node *node,
                                   const char *what, int64_t min_ms, int64_t max_ms, int64_t *out,
                                   struct wd_diag *diag);

#endif
