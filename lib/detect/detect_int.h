/* Private to lib/detect: the loaded set, the literal prefilter and the PCRE2 glue. */
#ifndef WD_DETECT_INT_H
#define WD_DETECT_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcre2.h>

#include "warden/detect.h"
#include "warden/doc.h"

/* Prefilter literals are cut to this many bytes: a prefix of a required literal is required
 * too, and shorter literals keep the automaton small. */
#define DET_LIT_MAX 32

enum det_kind { DET_REGEX, DET_SIZE, DET_JSON, DET_OVERSIZE };
enum det_jtest { DET_PRESENT, DET_EQUALS, DET_MATCHES };

struct det_step {
    char *key; /* NULL for an index step */
    size_t key_len;
    size_t index;
};

struct det {
    char *name;
    enum det_kind kind;
    pcre2_code *re; /* DET_REGEX, or DET_JSON with DET_MATCHES */
    char *lit;      /* DET_REGEX: required literal (prefilter), NULL when none */
    size_t lit_len; /* <= DET_LIT_MAX */
    uint64_t size_over;
    struct det_step steps[WD_DETECT_PATH_MAX];
    size_t nsteps;
    enum det_jtest test;
    enum wd_node_type eq_type; /* DET_EQUALS: WD_NODE_STR, _INT, _REAL or _BOOL */
    char *eq_s;
    size_t eq_len;
    int64_t eq_i;
    double eq_d;
    bool eq_b;
};

/* Aho-Corasick automaton over byte classes (lib/detect/ac.c). */
struct det_ac;

struct wd_detect_set {
    struct det *dets;
    size_t n;            /* entries in dets, the appended oversize detector included */
    size_t oversize_idx; /* index of the oversize detector; SIZE_MAX for none (prefix) */
    size_t max_scan;
    uint32_t match_limit, depth_limit, heap_limit_kib;
    bool jit;     /* the configuration allows JIT */
    bool jit_any; /* at least one regex runs JIT code */
    bool has_json;
    struct det_ac *ac; /* NULL when no detector has a literal */
    size_t nlit;       /* detectors with a literal */
    pcre2_general_context *gctx;
    pcre2_compile_context *cctx;
    atomic_bool oom; /* set by the allocator callback when wd_malloc fails */
};

/* PCRE2 allocator callbacks over wd_malloc/wd_free; data is an atomic_bool * set on failure. */
void *det_pcre2_malloc(PCRE2_SIZE n, void *data);
void det_pcre2_free(void *p, void *data);

/*
 * The longest run of literal bytes that every match of pattern must contain, cut to
 * DET_LIT_MAX, or 0 when none can be proven (see docs/internals/detect.md for the rule).
 * out must hold DET_LIT_MAX bytes.
 */
size_t det_required_literal(const char *pat, size_t len, char *out);

/*
 * Build an automaton for n literals; literal k reports detector ids[k]. WD_OK, WD_ENOMEM.
 */
WD_MUST_USE int det_ac_build(const char *const *lits, const size_t *lens, const uint16_t *ids,
                             size_t n, struct det_ac **out);
void det_ac_free(struct det_ac *ac);
/*
 * One pass over p[0..len): set the bit of every detector whose literal occurs. Stops early
 * once `want` distinct detectors are seen. Returns the number of distinct detectors seen.
 */
size_t det_ac_scan(const struct det_ac *ac, const uint8_t *p, size_t len, uint64_t *seen,
                   size_t want);

#endif
