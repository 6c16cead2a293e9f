/*
 * Fuzz the detector loader (YAML in) and, when it loads, the scanner. The input is the YAML
 * configuration up to the first NUL byte; the bytes after it are a body to scan. Beyond "no
 * crash, no leak": a failed load sets a diagnostic and returns no set; names are unique;
 * and the prefiltered scan gives exactly the naive scan's result for every detector that did
 * not hit a PCRE2 limit (the prefilter may skip a regex whose literal is absent, which then
 * cannot match, but would perhaps have hit a limit on the way) — the differential check of
 * the literal extraction's conservativeness (skipped when the input names a literal_hint,
 * which is trusted rather than proven).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/detect.h"
#include "warden/err.h"

#define MAX_CONFIG (8 * 1024)
#define MAX_BODY   1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool contains(const uint8_t *p, size_t n, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= n; i++) {
        if (memcmp(p + i, word, wl) == 0) {
            return true;
        }
    }
    return false;
}

static void scan_both(const struct wd_detect_set *set, struct wd_detect_scratch *s,
                      const uint8_t *body, size_t len, bool json, bool differential)
{
    size_t max = wd_detect_max_scan(set);
    struct wd_detect_input in = {.body = body, .len = len, .total = len, .is_json = json};
    struct wd_detect_result a, b;
    int rc = wd_detect_scan(set, s, &in, &a);
    WD_BUG_ON(rc != WD_OK);
    in.flags = WD_DETECT_NO_PREFILTER;
    rc = wd_detect_scan(set, s, &in, &b);
    WD_BUG_ON(rc != WD_OK);
    WD_BUG_ON(a.truncated != (len > max) || b.truncated != a.truncated);
    WD_BUG_ON(a.json_error != b.json_error);
    for (size_t w = 0; w < WD_DETECT_WORDS; w++) {
        uint64_t care = ~(a.limit[w] | b.limit[w]);
        WD_BUG_ON(differential && (a.hit[w] & care) != (b.hit[w] & care));
        WD_BUG_ON((a.limit[w] & ~a.hit[w]) != 0);
        WD_BUG_ON((b.limit[w] & ~b.hit[w]) != 0);
    }
    for (size_t i = wd_detect_count(set); i < WD_DETECT_MAX; i++) {
        WD_BUG_ON(wd_detect_bit(a.hit, i) || wd_detect_bit(b.hit, i));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t clen = nul != NULL ? (size_t)(nul - data) : size;
    const uint8_t *body = nul != NULL ? nul + 1 : data + size;
    size_t blen = size - clen - (nul != NULL ? 1 : 0);
    if (clen > MAX_CONFIG || blen > MAX_BODY) {
        return 0;
    }
    struct wd_detect_set *set = NULL;
    struct wd_diag diag;
    diag.msg[0] = '\0';
    int rc = wd_detect_set_parse_yaml("f.yaml", data, clen, &set, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(set != NULL);
        WD_BUG_ON(rc != WD_EPROTO && rc != WD_ELIMIT && rc != WD_ECONFIG && rc != WD_ENOMEM);
        WD_BUG_ON(strncmp(diag.msg, "f.yaml", 6) != 0);
        return 0;
    }
    size_t n = wd_detect_count(set);
    WD_BUG_ON(n > WD_DETECT_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *name = wd_detect_name(set, i);
        WD_BUG_ON(name == NULL || name[0] == '\0');
        for (size_t k = 0; k < i; k++) {
            WD_BUG_ON(strcmp(name, wd_detect_name(set, k)) == 0);
        }
    }
    /* Raised PCRE2 limits could make one input run for minutes: load only. */
    /* literal_hint is trusted, not proven: a wrong hint makes the prefilter skip a regex
     * that matches, by design. Compare the two modes only for extracted literals. */
    bool diff = !contains(data, clen, "literal_hint");
    if (!contains(data, clen, "limit")) {
        struct wd_detect_scratch *s = NULL;
        rc = wd_detect_scratch_new(set, &s);
        WD_BUG_ON(rc != WD_OK);
        scan_both(set, s, body, blen, false, diff);
        scan_both(set, s, body, blen, true, diff);
        scan_both(set, s, data, WD_MIN(clen, (size_t)MAX_BODY), false, diff);
        wd_detect_scratch_free(s);
    }
    wd_detect_set_free(set);
    return 0;
}
