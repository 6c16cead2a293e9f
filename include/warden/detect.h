/*
 * Detectors: named content tests scanned over HTTP bodies and MQTT payloads, once per
 * message for all detectors together; the names of those that matched become
 * context.detections (docs/policy.md §2, docs/internals/detect.md).
 *
 * Configuration (YAML or JSON through doc.h, strict, file:line:col diagnostics):
 *
 *     detectors:
 *       patient-id: { regex: "\\bPID-[0-9]{6}\\b" }
 *       ssn:        { regex: "\\b[0-9]{3}-[0-9]{2}-[0-9]{4}\\b", literal_hint: "-" }
 *       big-upload: { size_over: 1048576 }
 *       card-json:  { json_field: "$.payment.card_number" }
 *       admin-flag: { json_field: "$.user.role", equals: "admin" }
 *       uk-card:    { json_field: "$.cards[0].number", matches: "^4[0-9]{15}$" }
 *     scan:                        # optional; every key optional
 *       max_bytes: 1048576         # bytes scanned per message (default 1 MiB, at most 64 MiB)
 *       oversize: report           # "report" (default) or "prefix"
 *       oversize_detector: oversize  # name reported for an oversize message ("report")
 *       match_limit: 100000        # pcre2_set_match_limit (default 100,000)
 *       depth_limit: 10000         # pcre2_set_depth_limit (default 10,000)
 *       heap_limit_kib: 8192       # pcre2_set_heap_limit (default 8 MiB)
 *       jit: true                  # compile regexes with the PCRE2 JIT when available
 *
 * Regexes are PCRE2 (8-bit, UTF, with PCRE2_MATCH_INVALID_UTF: a body that is not valid
 * UTF-8 is still scanned, its invalid bytes match nothing), compiled once at load. A scan
 * first runs one Aho-Corasick pass over the body for the required literal of every regex
 * detector (extracted from the pattern, or the operator's literal_hint) and then runs only
 * the regexes whose literal occurred, plus those without one. A regex that hits a PCRE2
 * limit counts as matched (fail closed) and is flagged in the result.
 *
 * A loaded set is immutable and may be shared by any number of threads; each scanning thread
 * owns a struct wd_detect_scratch.
 */
#ifndef WD_DETECT_H
#define WD_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warden/common.h"
#include "warden/doc.h"
#include "warden/err.h"

#define WD_DETECT_MAX         256         /* detectors in a set, the oversize one included */
#define WD_DETECT_NAME_MAX    64          /* bytes in a detector name */
#define WD_DETECT_PATTERN_MAX 4096        /* bytes in a regex */
#define WD_DETECT_HINT_MAX    256         /* bytes in a literal_hint */
#define WD_DETECT_PATH_MAX    16          /* steps in a json_field path */
#define WD_DETECT_SCAN_MAX    (64u << 20) /* the largest scan.max_bytes */
#define WD_DETECT_WORDS       (WD_DETECT_MAX / 64)

struct wd_detect_set;
struct wd_detect_scratch;

/*
 * Load a set from a document: `detectors` is the detectors mapping (name -> spec, in config
 * order, which is the result order), `scan` the optional scan settings object (NULL for the
 * defaults). Rejected with WD_ECONFIG and "file:line:col: message" in diag: an unknown key,
 * a missing or wrong-typed value; a detector name that is empty, longer than
 * WD_DETECT_NAME_MAX or not [A-Za-z0-9_.:-]; a spec with none or more than one of regex,
 * size_over, json_field; literal_hint without regex, equals/matches without json_field, or
 * both equals and matches; an empty regex or one longer than WD_DETECT_PATTERN_MAX; a regex
 * PCRE2 rejects ("regex: <PCRE2 message> at offset N", N a byte offset in the pattern); an
 * empty or too long literal_hint; a negative size_over; a json_field path that is not
 * `$` followed by `.name` / `[index]` steps (at most WD_DETECT_PATH_MAX); equals of another
 * type than string, integer, number or boolean; scan values out of range; oversize not
 * "report" or "prefix"; more than WD_DETECT_MAX detectors. WD_ENOMEM. WD_EINVAL when doc or
 * out is NULL. JIT compilation that fails for any reason but memory (unsupported platform,
 * no executable memory) falls back to the interpreter silently. doc and the nodes are
 * borrowed (nothing is kept); on success *out is owned by the caller, on failure NULL.
 */
WD_MUST_USE int wd_detect_set_load(const struct wd_doc *doc, const struct wd_node *detectors,
                                   const struct wd_node *scan, struct wd_detect_set **out,
                                   struct wd_diag *diag);

/*
 * Parse YAML text whose root object has the keys `detectors` (required) and `scan`
 * (optional), and load it as wd_detect_set_load does. file names the input in diagnostics
 * (borrowed, NULL for "<input>"). Errors as wd_yaml_parse and wd_detect_set_load.
 */
WD_MUST_USE int wd_detect_set_parse_yaml(const char *file, const void *p, size_t len,
                                         struct wd_detect_set **out, struct wd_diag *diag);

/* Free a set (after every scratch made for it). Accepts NULL. */
void wd_detect_set_free(struct wd_detect_set *set);

/* Number of reportable names: the detectors plus the oversize detector when its name is not
 * one of them (it is then the last). */
size_t wd_detect_count(const struct wd_detect_set *set);
/* Name of detector i (< wd_detect_count), borrowed from the set; NULL when out of range. */
const char *wd_detect_name(const struct wd_detect_set *set, size_t i);
/* The scan.max_bytes setting: how much of a body the proxy should buffer for a scan. */
size_t wd_detect_max_scan(const struct wd_detect_set *set);
/* Whether detector i is a regex with a required literal (extracted or literal_hint; for
 * tests and diagnostics); the literal is copied into lit (NUL-terminated, truncated to
 * litsz - 1; lit may be NULL). Scans are prefiltered when two or more detectors have one. */
bool wd_detect_literal(const struct wd_detect_set *set, size_t i, char *lit, size_t litsz);
/* Whether the set's regexes run JIT-compiled code. */
bool wd_detect_jit(const struct wd_detect_set *set);

/*
 * Per-thread scanning state for one set: PCRE2 match data, match context (the limits) and
 * JIT stack. Returns WD_OK with *out owned by the caller (free it before the set), WD_ENOMEM,
 * WD_EINVAL (NULL argument). The set is borrowed and must outlive the scratch.
 */
WD_MUST_USE int wd_detect_scratch_new(const struct wd_detect_set *set,
                                      struct wd_detect_scratch **out);
/* Free a scratch. Accepts NULL. */
void wd_detect_scratch_free(struct wd_detect_scratch *s);

/* Scan flags. */
enum {
    WD_DETECT_NO_PREFILTER = 1, /* run every regex (the naive loop; benchmarks and tests) */
};

/* One message to scan. */
struct wd_detect_input {
    const void *body;           /* borrowed: the buffered bytes, at least min(total, max_scan) */
    size_t len;                 /* bytes at body */
    uint64_t total;             /* the message's full size (>= len), for size_over and oversize */
    bool is_json;               /* the content type says JSON: json_field detectors apply */
    const struct wd_node *json; /* optional: the body already parsed (borrowed); else parsed */
    unsigned flags;             /* WD_DETECT_* */
};

struct wd_detect_result {
    uint64_t hit[WD_DETECT_WORDS];   /* bit i: detector i matched */
    uint64_t limit[WD_DETECT_WORDS]; /* bit i: detector i counted as matched on a PCRE2 limit */
    bool truncated;  /* the message was larger than max_scan: only a prefix was scanned */
    bool json_error; /* is_json, but the (scanned) body did not parse: json_field skipped */
};

/* Whether bit i is set in a result word array (hit or limit). */
bool wd_detect_bit(const uint64_t *words, size_t i);

/*
 * Scan one message with every detector of set; fills *res. Regex detectors see the first
 * min(len, max_scan) bytes. size_over compares total. When total > max_scan the result is
 * truncated and, with oversize "report", the oversize detector matches. json_field
 * detectors apply only when in->is_json: in->json when given, else the scanned bytes are
 * parsed (doc.h JSON, with its allocation: the only one a scan makes, freed before return);
 * a truncated or malformed body sets json_error and no json_field detector matches.
 * Returns WD_OK; WD_EINVAL (NULL argument, a scratch of another set, len < min(total,
 * max_scan) or len > total); WD_ENOMEM (PCRE2 or the JSON parser ran out of memory: res is
 * then not meaningful and the message should be dropped). Thread-safe for distinct scratch
 * objects.
 */
WD_MUST_USE int wd_detect_scan(const struct wd_detect_set *set, struct wd_detect_scratch *s,
                               const struct wd_detect_input *in, struct wd_detect_result *res);

#endif
