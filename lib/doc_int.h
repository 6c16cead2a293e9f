/*
 * Private to lib/doc.c, lib/json.c and lib/yaml.c: the document arena, the tree builder both
 * loaders drive, and small helpers (UTF-8 validation, locale-independent strtod).
 *
 * The builder turns a stream of "open container / key / value / close container" calls into
 * the immutable tree of include/warden/doc.h. It enforces the limits that do not depend on
 * the syntax (depth, node count) and the duplicate-key rule, so JSON and YAML report them
 * the same way. Not thread-safe; one builder per parse.
 */
#ifndef WD_DOC_INT_H
#define WD_DOC_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"

struct wd_doc_chunk;

struct wd_doc {
    struct wd_doc_chunk *chunks; /* head is the chunk bump allocation happens in */
    size_t next_chunk;           /* usable size of the next regular chunk */
    const struct wd_node *root;
    const char *file; /* in the arena */
};

/* Defaults for zero fields of struct wd_doc_limits. */
#define WD_DOC_DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define WD_DOC_DEFAULT_MAX_DEPTH ((size_t)128)
#define WD_DOC_DEFAULT_MAX_NODES ((size_t)1000000)

/* Copy lim (may be NULL) to *out with zero fields replaced by the defaults. */
void wd_doc_limits_resolve(const struct wd_doc_limits *lim, struct wd_doc_limits *out);

/*
 * Arena allocation: n bytes aligned to align (a power of two, at most alignof(max_align_t)),
 * owned by doc and released by wd_doc_free. NULL on allocation failure.
 */
void *wd_doc_alloc(struct wd_doc *doc, size_t n, size_t align);
/*
 * Give back the tail of the most recent allocation p (old bytes) so that only new_len bytes
 * stay in use. Does nothing when p is not the most recent allocation.
 */
void wd_doc_trim(struct wd_doc *doc, void *p, size_t old_len, size_t new_len);
/* NUL-terminated copy of s[0..n) in the arena; NULL on allocation failure. */
char *wd_doc_strndup(struct wd_doc *doc, const char *s, size_t n);

/*
 * Length (1-4) of the well-formed UTF-8 sequence at p[0..n) (RFC 3629 §4: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if it is not one.
 */
size_t wd_doc_utf8_len(const uint8_t *p, size_t n);

/*
 * Convert the decimal number s[0..n) (already checked against the JSON or YAML grammar)
 * with strtod in the C locale, whatever locale the process uses. WD_OK; WD_ELIMIT when it
 * overflows to infinity (underflow to zero or a subnormal is accepted); WD_EPROTO when
 * strtod does not consume all of it; WD_ENOMEM when a long number needs a temporary copy.
 */
WD_MUST_USE int wd_doc_strtod(struct wd_doc *doc, const char *s, size_t n, double *out);

struct wd_docb_frame {
    struct wd_node *node; /* the open array or object */
    size_t base;          /* index of its first entry in the entry stack */
};

struct wd_docb {
    struct wd_doc *doc; /* owned until wd_docb_finish hands it over */
    const char *file;   /* borrowed: the caller's name for diagnostics */
    struct wd_doc_limits lim;
    struct wd_diag *diag;
    size_t nodes;
    struct wd_docb_frame *frames;
    size_t nframes, cap_frames;
    struct wd_member *stack; /* entries of all open containers; arrays use .val only */
    size_t nstack, cap_stack;
    const struct wd_member **sort; /* scratch for the duplicate-key check */
    size_t cap_sort;
    bool have_key; /* a key was given for the next value of the open object */
    struct wd_member key;
};

/*
 * Start a document named file (NULL: "<input>"; borrowed for the builder's lifetime and
 * copied into the document) under lim (NULL: defaults). WD_OK or WD_ENOMEM (diag set).
 * b must be cleaned up with wd_docb_cleanup whatever this returns.
 */
WD_MUST_USE int wd_docb_init(struct wd_docb *b, const char *file, const struct wd_doc_limits *lim,
                             struct wd_diag *diag);
/* Free the scratch stacks and, unless wd_docb_finish took it, the document. */
void wd_docb_cleanup(struct wd_docb *b);

/* Fill diag with "file:line:col: fmt" (line 0: no position) and return err. */
int wd_docb_fail(struct wd_docb *b, int err, unsigned line, unsigned col, const char *fmt, ...)
        WD_PRINTF(5, 6);
int wd_docb_vfail(struct wd_docb *b, int err, unsigned line, unsigned col, const char *fmt,
                  va_list ap) WD_PRINTF(5, 0);

/* Number of open containers. */
size_t wd_docb_depth(const struct wd_docb *b);
/* Type of the innermost open container; WD_BUG_ON when none is open. */
enum wd_node_type wd_docb_top(const struct wd_docb *b);
/* True when the innermost open container is an object waiting for a key. */
bool wd_docb_want_key(const struct wd_docb *b);

/*
 * Give the key (already in the arena, NUL-terminated after len bytes) of the next value of
 * the open object. Only valid when wd_docb_want_key.
 */
void wd_docb_key(struct wd_docb *b, const char *key, size_t len, unsigned line, unsigned col);

/*
 * Add a scalar value of type t at line:col: as the root, the next array item, or the value
 * of the pending key. *out is the new node (borrowed) for the caller to fill in u.
 * WD_ELIMIT (too many nodes, diag set), WD_ENOMEM.
 */
WD_MUST_USE int wd_docb_value(struct wd_docb *b, enum wd_node_type t, unsigned line, unsigned col,
                              struct wd_node **out);
/* Add an array or object like wd_docb_value and open it. WD_ELIMIT also for depth. */
WD_MUST_USE int wd_docb_open(struct wd_docb *b, enum wd_node_type t, unsigned line, unsigned col);
/*
 * Close the innermost container: its entries move into the arena. WD_EPROTO for a
 * duplicate key (reported at the later occurrence), WD_ENOMEM.
 */
WD_MUST_USE int wd_docb_close(struct wd_docb *b);
/* Hand over the finished document (owned by the caller); everything must be closed. */
void wd_docb_finish(struct wd_docb *b, struct wd_doc **out);

/* Shared by wd_json_load_file and wd_yaml_load_file. */
typedef int (*wd_doc_parse_fn)(const char *file, const void *p, size_t len,
                               const struct wd_doc_limits *lim, struct wd_doc **out,
                               struct wd_diag *diag);
WD_MUST_USE int wd_doc_load_file(const char *path, const struct wd_doc_limits *lim,
                                 struct wd_doc **out, struct wd_diag *diag, wd_doc_parse_fn parse);

#endif
