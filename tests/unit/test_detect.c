/*
 * Unit tests for lib/detect: configuration (and its errors with positions), literal
 * extraction and the Aho-Corasick prefilter (checked against running every regex), PCRE2
 * limits failing closed, invalid UTF-8, size and oversize handling, json_field tests,
 * allocation failure, and concurrent scanning.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/detect.h"
#include "warden/doc.h"
#include "warden/err.h"

#include "detect/detect_int.h"
#include "harness.h"

static const char BRIEF[] =
        "detectors:\n"
        "  patient-id: { regex: \"\\\\bPID-[0-9]{6}\\\\b\" }\n"
        "  ssn:        { regex: \"\\\\b[0-9]{3}-[0-9]{2}-[0-9]{4}\\\\b\", "
        "literal_hint: \"-\" }\n"
        "  big-upload: { size_over: 1048576 }\n"
        "  card-json:  { json_field: \"$.payment.card_number\" }\n"
        "  admin-flag: { json_field: \"$.user.role\", equals: \"admin\" }\n"
        "  visa:       { json_field: \"$.cards[1].n\", matches: \"^4[0-9]{3}$\" }\n"
        "  qty:        { json_field: \"$.qty\", equals: 3 }\n"
        "  price:      { json_field: \"$.price\", equals: 2.5 }\n"
        "  flag:       { json_field: \"$.f\", equals: false }\n"
        "  none:       { regex: \"(?i)secret\" }\n";

static int load(const char *y, struct wd_detect_set **set, struct wd_diag *d)
{
    return wd_detect_set_parse_yaml("d.yaml", y, strlen(y), set, d);
}

/* Scan body and render the matched names as "a,b,c" (limit hits as "a!"). */
static const char *scan_names(const struct wd_detect_set *set, struct wd_detect_scratch *s,
                              const char *body, size_t len, uint64_t total, bool json,
                              unsigned flags, struct wd_detect_result *res)
{
    static char out[1024];
    struct wd_detect_input in = {
            .body = body, .len = len, .total = total, .is_json = json, .flags = flags};
    int rc = wd_detect_scan(set, s, &in, res);
    if (rc != WD_OK) {
        (void)snprintf(out, sizeof(out), "error %d", rc);
        return out;
    }
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < wd_detect_count(set); i++) {
        if (wd_detect_bit(res->hit, i)) {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s%s", o ? "," : "",
                                  wd_detect_name(set, i), wd_detect_bit(res->limit, i) ? "!" : "");
        } else if (wd_detect_bit(res->limit, i)) {
            return "limit without hit";
        }
    }
    return out;
}

static const char *scan_str(const struct wd_detect_set *set, struct wd_detect_scratch *s,
                            const char *body, bool json)
{
    struct wd_detect_result res;
    return scan_names(set, s, body, strlen(body), strlen(body), json, 0, &res);
}

TEST(brief_config)
{
    struct wd_detect_set *set = NULL;
    struct wd_detect_scratch *s = NULL;
    struct wd_diag d;
    CHECK_OK(load(BRIEF, &set, &d));
    CHECK_OK(wd_detect_scratch_new(set, &s));
    /* 10 detectors + the default oversize detector, appended last */
    CHECK_EQ(wd_detect_count(set), 11);
    CHECK_STR(wd_detect_name(set, 0), "patient-id");
    CHECK_STR(wd_detect_name(set, 10), "oversize");
    CHECK(wd_detect_name(set, 11) == NULL);
    CHECK_EQ(wd_detect_max_scan(set), 1 << 20);
    char lit[64];
    CHECK(wd_detect_literal(set, 0, lit, sizeof(lit)));
    CHECK_STR(lit, "PID-");
    CHECK(wd_detect_literal(set, 1, lit, sizeof(lit)));
    CHECK_STR(lit, "-");
    CHECK(!wd_detect_literal(set, 9, lit, sizeof(lit))); /* (?i): no literal */

    CHECK_STR(scan_str(set, s, "hello PID-123456 bye", false), "patient-id");
    CHECK_STR(scan_str(set, s, "PID-123456", false), "patient-id");
    CHECK_STR(scan_str(set, s, "xPID-123456", false), "");
    CHECK_STR(scan_str(set, s, "PID-1234567", false), "");
    CHECK_STR(scan_str(set, s, "PID-12345", false), "");
    CHECK_STR(scan_str(set, s, "pid-123456", false), "");
    CHECK_STR(scan_str(set, s, "ssn 123-45-6789.", false), "ssn");
    CHECK_STR(scan_str(set, s, "123-45-678", false), "");
    CHECK_STR(scan_str(set, s, "a SeCrEt b", false), "none");
    CHECK_STR(scan_str(set, s, "PID-000001 and 999-99-9999 SECRET", false), "patient-id,ssn,none");
    CHECK_STR(scan_str(set, s, "", false), "");
    /* JSON detectors need is_json */
    static const char j[] = "{\"payment\":{\"card_number\":null},\"user\":{\"role\":\"admin\"},"
                            "\"cards\":[{\"n\":\"1\"},{\"n\":\"4111\"}],\"qty\":3,\"price\":2.5,"
                            "\"f\":false}";
    CHECK_STR(scan_str(set, s, j, false), "");
    CHECK_STR(scan_str(set, s, j, true), "card-json,admin-flag,visa,qty,price,flag");
    static const char j2[] = "{\"payment\":{},\"user\":{\"role\":\"Admin\"},"
                             "\"cards\":[{\"n\":\"4111\"},{\"n\":\"41111\"}],\"qty\":3.0,"
                             "\"price\":2,\"f\":0}";
    CHECK_STR(scan_str(set, s, j2, true), "qty");
    static const char j3[] = "{\"user\":{\"role\":[\"admin\"]},\"cards\":{\"1\":{\"n\":\"4111\"}},"
                             "\"qty\":\"3\",\"price\":2.50,\"f\":\"false\"}";
    CHECK_STR(scan_str(set, s, j3, true), "price");
    /* a JSON body still gets the regex detectors, on its raw bytes */
    CHECK_STR(scan_str(set, s, "{\"x\":\"PID-123456\",\"qty\":3}", true), "patient-id,qty");
    /* not JSON after all: flagged, no json_field match, regexes still run */
    struct wd_detect_result res;
    CHECK_STR(scan_names(set, s, "{\"qty\":3,} PID-111111", 21, 21, true, 0, &res), "patient-id");
    CHECK(res.json_error);
    CHECK(!res.truncated);
    CHECK_STR(scan_names(set, s, "{\"qty\":3}", 9, 9, true, 0, &res), "qty");
    CHECK(!res.json_error);
    /* a caller-parsed document is used instead of the body */
    struct wd_doc *doc = NULL;
    CHECK_OK(wd_json_parse(NULL, "{\"f\":false}", 11, NULL, &doc, &d));
    struct wd_detect_input in = {.body = "PID-222222",
                                 .len = 10,
                                 .total = 10,
                                 .is_json = true,
                                 .json = wd_doc_root(doc)};
    CHECK_OK(wd_detect_scan(set, s, &in, &res));
    CHECK(wd_detect_bit(res.hit, 0));
    CHECK(wd_detect_bit(res.hit, 8));
    CHECK(!wd_detect_bit(res.hit, 6));
    wd_doc_free(doc);

    wd_detect_scratch_free(s);
    wd_detect_set_free(set);
}

TEST(size_and_oversize)
{
    static const char y[] = "detectors:\n"
                            "  big: { size_over: 10 }\n"
                            "  tail: { regex: \"TAIL\" }\n"
                            "  j: { json_field: \"$\" }\n"
                            "scan: { max_bytes: 16 }\n";
    struct wd_detect_set *set = NULL;
    struct wd_detect_scratch *s = NULL;
    struct wd_detect_result res;
    CHECK_OK(load(y, &set, NULL));
    CHECK_OK(wd_detect_scratch_new(set, &s));
    CHECK_EQ(wd_detect_max_scan(set), 16);
    CHECK_STR(scan_str(set, s, "0123456789", false), "");
    CHECK_STR(scan_str(set, s, "0123456789A", false), "big");
    /* size_over uses total, not what was buffered */
    CHECK_STR(scan_names(set, s, "", 0, 0, false, 0, &res), "");
    CHECK_STR(scan_names(set, s, "0123456789ABCDEF", 16, 17, false, 0, &res), "big,oversize");
    CHECK(res.truncated);
    /* only the prefix is scanned, even when more was passed */
    CHECK_STR(scan_names(set, s, "0123456789ABCDEFTAIL", 20, 20, false, 0, &res), "big,oversize");
    CHECK_STR(scan_names(set, s, "0123456789ABTAIL", 16, 16, false, 0, &res), "big,tail");
    CHECK(!res.truncated);
    /* a truncated body is not parsed as JSON */
    CHECK_STR(scan_names(set, s, "[1,2,3,4,5,6,7,8,9]", 19, 19, true, 0, &res), "big,oversize");
    CHECK(res.json_error);
    CHECK_STR(scan_names(set, s, "[1]", 3, 3, true, 0, &res), "j");
    /* caller errors */
    struct wd_detect_input in = {.body = "abc", .len = 3, .total = 20};
    CHECK_ERR(wd_detect_scan(set, s, &in, &res), WD_EINVAL); /* less than min(total, max) */
    in.len = 16;
    in.body = "0123456789abcdef";
    CHECK_OK(wd_detect_scan(set, s, &in, &res));
    in.total = 3;
    CHECK_ERR(wd_detect_scan(set, s, &in, &res), WD_EINVAL); /* len > total */
    in = (struct wd_detect_input){.body = NULL, .len = 1, .total = 1};
    CHECK_ERR(wd_detect_scan(set, s, &in, &res), WD_EINVAL);
    CHECK_ERR(wd_detect_scan(NULL, s, &in, &res), WD_EINVAL);
    CHECK_ERR(wd_detect_scan(set, NULL, &in, &res), WD_EINVAL);
    CHECK_ERR(wd_detect_scan(set, s, NULL, &res), WD_EINVAL);
    CHECK_ERR(wd_detect_scan(set, s, &in, NULL), WD_EINVAL);
    /* a scratch belongs to its set */
    struct wd_detect_set *other = NULL;
    CHECK_OK(load(y, &other, NULL));
    in = (struct wd_detect_input){.body = "x", .len = 1, .total = 1};
    CHECK_ERR(wd_detect_scan(other, s, &in, &res), WD_EINVAL);
    wd_detect_set_free(other);
    wd_detect_scratch_free(s);
    wd_detect_set_free(set);

    /* prefix mode: no oversize detector; a named oversize detector; a reused name */
    static const char y2[] = "detectors:\n  tail: { regex: \"TAIL\" }\n"
                             "scan: { max_bytes: 8, oversize: prefix }\n";
    CHECK_OK(load(y2, &set, NULL));
    CHECK_OK(wd_detect_scratch_new(set, &s));
    CHECK_EQ(wd_detect_count(set), 1);
    CHECK_STR(scan_names(set, s, "TAIL....TAIL", 12, 12, false, 0, &res), "tail");
    CHECK(res.truncated);
    CHECK_STR(scan_names(set, s, "........TAIL", 12, 12, false, 0, &res), "");
    CHECK(res.truncated);
    wd_detect_scratch_free(s);
    wd_detect_set_free(set);
    static const char y3[] = "detectors:\n  huge: { size_over: 100 }\n  t: { regex: T }\n"
                             "scan: { max_bytes: 8, oversize_detector: huge }\n";
    CHECK_OK(load(y3, &set, NULL));
    CHECK_OK(wd_detect_scratch_new(set, &s));
    CHECK_EQ(wd_detect_count(set), 2);
    CHECK_STR(scan_names(set, s, "........", 8, 9, false, 0, &res), "huge");
    wd_detect_scratch_free(s);
    wd_detect_set_free(set);
    static const char y4[] =
            "detectors:\n  t: { regex: T }\n"
            "scan: { max_bytes: 8, oversize: report, oversize_detector: too-big }\n";
    CHECK_OK(load(y4, &set, NULL));
    CHECK_OK(wd_detect_scratch_new(set, &s));
    CHECK_STR(scan_names(set, s, "T.......", 8, 9, false, 0, &res), "t,too-big");
    wd_detect_scratch_free(s);
    wd_detect_set_free(set);
}

/* The config must fail with exactly this diagnostic and status. */
static int bad_config(const char *y, int err, const char *msg)
{
    struct wd_detect_set *set = (struct wd_detect_set *)1;
    struct wd_diag d = {.msg = ""};
    int rc = load(y, &set, &d);
    if (rc != err || set != NULL || strcmp(d.msg, msg) != 0) {
        printf("  rc %d, '%s'\n  expected '%s'\n", rc, d.msg, msg);
        return 0;
    }
    return 1;
}

TEST(config_errors)
{
    CHECK(bad_config("detectors: []\n", WD_ECONFIG,
                     "d.yaml:1:12: 'detectors': expected object, got array"));
    CHECK(bad_config("scan: {}\n", WD_ECONFIG, "d.yaml:1:1: missing key 'detectors'"));
    CHECK(bad_config("detectors: {}\nextra: 1\n", WD_ECONFIG, "d.yaml:2:1: unknown key 'extra'"));
    CHECK(bad_config("detectors:\n  a: { regex: x, color: red }\n", WD_ECONFIG,
                     "d.yaml:2:18: unknown key 'color'"));
    CHECK(bad_config("detectors:\n  a: { regex: 5 }\n", WD_ECONFIG,
                     "d.yaml:2:15: 'regex': expected string, got integer"));
    CHECK(bad_config("detectors:\n  a: x\n", WD_ECONFIG,
                     "d.yaml:2:6: expected object, got string"));
    CHECK(bad_config(
            "detectors:\n  a: {}\n", WD_ECONFIG,
            "d.yaml:2:6: detector 'a': needs exactly one of regex, size_over, json_field"));
    CHECK(bad_config(
            "detectors:\n  a: { regex: x, size_over: 3 }\n", WD_ECONFIG,
            "d.yaml:2:6: detector 'a': needs exactly one of regex, size_over, json_field"));
    CHECK(bad_config("detectors:\n  a: { size_over: 3, literal_hint: x }\n", WD_ECONFIG,
                     "d.yaml:2:36: detector 'a': literal_hint needs regex"));
    CHECK(bad_config("detectors:\n  a: { regex: x, equals: x }\n", WD_ECONFIG,
                     "d.yaml:2:26: detector 'a': equals and matches need json_field"));
    CHECK(bad_config("detectors:\n  a: { json_field: $.a, equals: x, matches: y }\n", WD_ECONFIG,
                     "d.yaml:2:45: detector 'a': equals and matches exclude each other"));
    CHECK(bad_config("detectors:\n  a: { json_field: $.a, equals: [1] }\n", WD_ECONFIG,
                     "d.yaml:2:33: detector 'a': equals: expected string, number or boolean, got "
                     "array"));
    CHECK(bad_config("detectors:\n  a: { json_field: $.a, equals: null }\n", WD_ECONFIG,
                     "d.yaml:2:33: detector 'a': equals: expected string, number or boolean, got "
                     "null"));
    CHECK(bad_config("detectors:\n  a: { size_over: -1 }\n", WD_ECONFIG,
                     "d.yaml:2:19: detector 'a': size_over must not be negative"));
    CHECK(bad_config("detectors:\n  \"a b\": { size_over: 1 }\n", WD_ECONFIG,
                     "d.yaml:2:3: detector 'a b': bad name (expected [A-Za-z0-9_.:-], 1 to 64 "
                     "bytes)"));
    CHECK(bad_config("detectors:\n  \"\": { size_over: 1 }\n", WD_ECONFIG,
                     "d.yaml:2:3: detector '': bad name (expected [A-Za-z0-9_.:-], 1 to 64 "
                     "bytes)"));
    CHECK(bad_config("detectors:\n  a: { regex: \"\" }\n", WD_ECONFIG,
                     "d.yaml:2:15: detector 'a': regex: must not be empty"));
    CHECK(bad_config("detectors:\n  a: { regex: x, literal_hint: \"\" }\n", WD_ECONFIG,
                     "d.yaml:2:32: detector 'a': literal_hint: must be 1 to 256 bytes"));
    /* PCRE2's own message and offset */
    CHECK(bad_config("detectors:\n  a: { regex: \"ab(c\" }\n", WD_ECONFIG,
                     "d.yaml:2:15: detector 'a': regex: missing closing parenthesis at offset 4"));
    CHECK(bad_config("detectors:\n  a: { regex: \"x{2,1}\" }\n", WD_ECONFIG,
                     "d.yaml:2:15: detector 'a': regex: numbers out of order in {} quantifier at "
                     "offset 5"));
    CHECK(bad_config("detectors:\n  a: { regex: \"a\\\\C\" }\n", WD_ECONFIG,
                     "d.yaml:2:15: detector 'a': regex: using \\C is disabled by the application "
                     "at offset 3"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$.x\", matches: \"[\" }\n", WD_ECONFIG,
                     "d.yaml:2:36: detector 'a': matches: missing terminating ] for character "
                     "class at offset 1"));
    /* json_field paths */
    CHECK(bad_config("detectors:\n  a: { json_field: \"a.b\" }\n", WD_ECONFIG,
                     "d.yaml:2:20: detector 'a': json_field: must start with '$'"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$.a..b\" }\n", WD_ECONFIG,
                     "d.yaml:2:20: detector 'a': json_field: empty name at byte 5"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$a\" }\n", WD_ECONFIG,
                     "d.yaml:2:20: detector 'a': json_field: expected '.' or '[' at byte 2"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$.a[x]\" }\n", WD_ECONFIG,
                     "d.yaml:2:20: detector 'a': json_field: expected [index] (0 to 1000000) at "
                     "byte 5"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$.a[1\" }\n", WD_ECONFIG,
                     "d.yaml:2:20: detector 'a': json_field: expected [index] (0 to 1000000) at "
                     "byte 5"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$[99999999999]\" }\n", WD_ECONFIG,
                     "d.yaml:2:20: detector 'a': json_field: expected [index] (0 to 1000000) at "
                     "byte 3"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$.a]\" }\n", WD_ECONFIG,
                     "d.yaml:2:20: detector 'a': json_field: expected '.' or '[' at byte 4"));
    CHECK(bad_config("detectors:\n  a: { json_field: \"$.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a\" }\n",
                     WD_ECONFIG, "d.yaml:2:20: detector 'a': json_field: more than 16 steps"));
    /* scan settings */
    CHECK(bad_config("detectors: {}\nscan: { max_bytes: 0 }\n", WD_ECONFIG,
                     "d.yaml:2:20: scan: max_bytes must be between 1 and 67108864"));
    CHECK(bad_config("detectors: {}\nscan: { match_limit: 0 }\n", WD_ECONFIG,
                     "d.yaml:2:22: scan: match_limit must be between 1 and 100000000"));
    CHECK(bad_config("detectors: {}\nscan: { heap_limit_kib: 99999999 }\n", WD_ECONFIG,
                     "d.yaml:2:25: scan: heap_limit_kib must be between 1 and 1048576"));
    CHECK(bad_config("detectors: {}\nscan: { oversize: drop }\n", WD_ECONFIG,
                     "d.yaml:2:19: scan: oversize must be \"report\" or \"prefix\""));
    CHECK(bad_config("detectors: {}\nscan: { oversize: prefix, oversize_detector: x }\n",
                     WD_ECONFIG, "d.yaml:2:46: scan: oversize_detector needs oversize: report"));
    CHECK(bad_config("detectors: {}\nscan: { oversize_detector: \"a b\" }\n", WD_ECONFIG,
                     "d.yaml:2:28: scan: oversize_detector: bad name (expected [A-Za-z0-9_.:-], 1 "
                     "to 64 bytes)"));
    CHECK(bad_config("detectors: {}\nscan: { jit: 1 }\n", WD_ECONFIG,
                     "d.yaml:2:14: 'jit': expected boolean, got integer"));
    /* YAML-level errors pass through */
    CHECK(bad_config("detectors: {\n", WD_EPROTO,
                     "d.yaml:2:1: while parsing a flow node: did not find expected node content"));
    /* too many detectors: 256 fit only without the appended oversize detector */
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_OK(wd_buf_append_str(&b, "detectors:\n"));
    for (int i = 0; i < WD_DETECT_MAX; i++) {
        CHECK_OK(wd_buf_printf(&b, "  d%d: { size_over: %d }\n", i, i));
    }
    CHECK(bad_config(wd_buf_str(&b), WD_ECONFIG,
                     "d.yaml:2:3: detectors: more than 256 (oversize included)"));
    CHECK_OK(wd_buf_append_str(&b, "scan: { oversize: prefix }\n"));
    struct wd_detect_set *set = NULL;
    CHECK_OK(load(wd_buf_str(&b), &set, NULL));
    CHECK_EQ(wd_detect_count(set), 256);
    wd_detect_set_free(set);
    wd_buf_cleanup(&b);
    /* argument errors */
    CHECK_ERR(wd_detect_set_load(NULL, NULL, NULL, &set, NULL), WD_EINVAL);
    CHECK_ERR(wd_detect_set_parse_yaml(NULL, "a", 1, NULL, NULL), WD_EINVAL);
    CHECK_ERR(wd_detect_scratch_new(NULL, NULL), WD_EINVAL);
}

/* Pattern -> required literal ("" when none can be proven). */
TEST(literal_extraction)
{
    static const struct {
        const char *pat, *lit;
    } cases[] = {
            {"\\bPID-[0-9]{6}\\b", "PID-"},
            {"abc", "abc"},
            {"ab?c", "a"},
            {"abc?", "ab"},
            {"xab*cde", "cde"},
            {"ab+cd", "ab"},
            {"abc{2}de", "abc"},
            {"abc{0}de", "ab"},
            {"abc{0,3}de", "ab"},
            {"ab{2,}", "ab"},
            {"a.bcd", "bcd"},
            {"a\\.bc", "a.bc"},
            {"a\\-b\\\\c", "a-b\\c"},
            {"(foo)bar", "bar"},
            {"(?:foo|x)bar+", "bar"},
            {"[abc]de[f]g", "de"},
            {"[]x]yz", "yz"},
            {"[^]x]yz", "yz"},
            {"[[:alpha:]]yz", "yz"},
            {"[\\]]yz", "yz"},
            {"^start", "start"},
            {"end$", "end"},
            {"ab\\d+cd", "ab"},
            {"ab\\d+cde", "cde"},
            {"key=\\w+;", "key="},
            {"(?=look)ahead", "ahead"},
            {"(?<name>x)after", "after"},
            {"a(?i)bcd", ""},
            {"(?i)secret", ""},
            {"(?x) a b", ""},
            {"abc|def", ""},
            {"(*UTF)abc", ""},
            {"(?:(*ACCEPT))abc", ""},
            {"abc\\Qdef\\E", ""},
            {"\\x41bc", ""},
            {"ab\\1", ""},
            {"ab\\p{L}cde", ""},
            {"ab{,3}", ""},
            {"ab{x}", ""},
            {"*ab", ""},
            {"caf\xc3\xa9", ""},
            {"(?#c)abc", ""},
            {"(?|(a)|(b))cd", ""},
            {"0123456789012345678901234567890123456789", "01234567890123456789012345678901"},
            {"", ""},
            {"a", "a"},
            {"a?", ""},
            {"\\", ""},
            {"(ab", ""},
            {"[ab", ""},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        char out[DET_LIT_MAX + 1];
        size_t n = det_required_literal(cases[i].pat, strlen(cases[i].pat), out);
        out[n] = '\0';
        if (strcmp(out, cases[i].lit) != 0) {
            printf("  %s: got '%s', expected '%s'\n", cases[i].pat, out, cases[i].lit);
        }
        CHECK_STR(out, cases[i].lit);
    }
}

TEST(aho_corasick)
{
    static const char *const lits[] = {"he", "she", "his", "hers", "x", "he"};
    size_t lens[6];
    uint16_t ids[6] = {0, 1, 2, 3, 4, 5};
    for (size_t i = 0; i < 6; i++) {
        lens[i] = strlen(lits[i]);
    }
    struct det_ac *ac = NULL;
    CHECK_OK(det_ac_build(lits, lens, ids, 6, &ac));
    static const struct {
        const char *text;
        uint64_t want;
    } cases[] = {
            {"ushers", 0x2B},   {"she", 0x23}, {"hi", 0}, {"xhis", 0x14},  {"h e r s", 0},
            {"hhhhhers", 0x29}, {"", 0},       {"sh", 0}, {"ahisx", 0x14},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(cases); i++) {
        uint64_t seen[WD_DETECT_WORDS] = {0};
        size_t n = det_ac_scan(ac, (const uint8_t *)cases[i].text, strlen(cases[i].text), seen, 6);
        if (seen[0] != cases[i].want) {
            printf("  %s: %llx\n", cases[i].text, (unsigned long long)seen[0]);
        }
        CHECK_EQ(seen[0], cases[i].want);
        CHECK_EQ(n, (size_t)__builtin_popcountll(cases[i].want));
    }
    /* early exit once everything wanted was seen */
    uint64_t seen[WD_DETECT_WORDS] = {0};
    CHECK_EQ(det_ac_scan(ac, (const uint8_t *)"x he", 4, seen, 1), 1);
    CHECK_EQ(seen[0], 0x10);
    det_ac_free(ac);
    CHECK_ALLOC_SWEEP(det_ac_build(lits, lens, ids, 6, &ac), (det_ac_free(ac), ac = NULL));
}

/*
 * Differential: over many patterns and bodies, the prefiltered scan must give exactly the
 * naive loop's result. Bodies are built from the patterns' own fragments so that literals
 * occur and are missing in many combinations.
 */
TEST(prefilter_equals_naive)
{
    static const char *const pats[] = {
            "PID-[0-9]{3}",
            "ab+c",
            "x(y|z)w",
            "[0-9]+-[0-9]+",
            "he(llo)?",
            "foo.bar",
            "\\bword\\b",
            "q{2,}r",
            "^start",
            "end$",
            "(?i)case",
            "a|bc",
            "sh[e]rs",
            "h?is",
            "\\d{2}:\\d{2}",
            "k\\.v=\\w",
            "(?=ab)abz",
            "abc{0}d",
            "ÿ",
            "lit",
    };
    struct wd_buf y;
    wd_buf_init(&y, 1 << 16);
    CHECK_OK(wd_buf_append_str(&y, "detectors:\n"));
    for (size_t i = 0; i < WD_ARRAY_LEN(pats); i++) {
        CHECK_OK(wd_buf_printf(&y, "  p%zu: { regex: '%s' }\n", i, pats[i]));
    }
    struct wd_detect_set *set = NULL;
    struct wd_detect_scratch *s = NULL;
    struct wd_diag d;
    int rc = load(wd_buf_str(&y), &set, &d);
    wd_buf_cleanup(&y);
    if (rc != WD_OK) {
        printf("  %s\n", d.msg);
    }
    CHECK_OK(rc);
    CHECK_OK(wd_detect_scratch_new(set, &s));
    static const char *const frags[] = {
            "PID-",  "123",   "abbbc", "ab",       "c",    "xyw",   "xzw", "x",   "w",
            "hello", "he",    "foo",   "bar",      "-",    "word",  " ",   "qqr", "q",
            "r",     "start", "end",   "CASE",     "bc",   "shers", "his", "is",  "12:34",
            "k.v=1", "abz",   "abd",   "\xc3\xbf", "\xff", "lit",   "\n",
    };
    unsigned long seed = 12345;
    for (int iter = 0; iter < 3000; iter++) {
        char body[256];
        size_t o = 0;
        int nf = (int)(seed % 8);
        for (int k = 0; k < nf; k++) {
            seed = seed * 6364136223846793005ul + 1442695040888963407ul;
            const char *f = frags[(seed >> 33) % WD_ARRAY_LEN(frags)];
            size_t fl = strlen(f);
            memcpy(body + o, f, fl);
            o += fl;
        }
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        struct wd_detect_result a, b;
        char na[1024];
        (void)snprintf(na, sizeof(na), "%s", scan_names(set, s, body, o, o, false, 0, &a));
        const char *nb = scan_names(set, s, body, o, o, false, WD_DETECT_NO_PREFILTER, &b);
        if (strcmp(na, nb) != 0) {
            printf("  body '%.*s': prefilter '%s', naive '%s'\n", (int)o, body, na, nb);
        }
        CHECK_STR(na, nb);
    }
    wd_detect_scratch_free(s);
    wd_detect_set_free(set);
}

/* (a+)+$ against aaaa...b: exponential backtracking, stopped by the match limit. */
static void limit_case(bool jit)
{
    char y[256];
    (void)snprintf(y, sizeof(y),
                   "detectors:\n  evil: { regex: \"(a+)+$\" }\n  ok: { regex: \"zz\" }\n"
                   "scan: { jit: %s, match_limit: 10000 }\n",
                   jit ? "true" : "false");
    struct wd_detect_set *set = NULL;
    struct wd_detect_scratch *s = NULL;
    if (load(y, &set, NULL) != WD_OK || wd_detect_scratch_new(set, &s) != WD_OK) {
        harness_failed_checks++;
        wd_detect_set_free(set);
        return;
    }
    if (!jit && wd_detect_jit(set)) {
        harness_failed_checks++;
    }
    char body[64];
    memset(body, 'a', 40);
    body[40] = 'b';
    body[41] = 'z';
    body[42] = 'z';
    struct wd_detect_result res;
    const char *names = scan_names(set, s, body, 43, 43, false, 0, &res);
    if (strcmp(names, "evil!,ok") != 0) {
        printf("  jit=%d: '%s'\n", jit, names);
        harness_failed_checks++;
    }
    /* a short subject matches or fails normally */
    names = scan_names(set, s, "aab", 3, 3, false, 0, &res);
    if (strcmp(names, "") != 0) {
        printf("  jit=%d short: '%s'\n", jit, names);
        harness_failed_checks++;
    }
    names = scan_names(set, s, "baa", 3, 3, false, 0, &res);
    if (strcmp(names, "evil") != 0) {
        harness_failed_checks++;
    }
    wd_detect_scratch_free(s);
    wd_detect_set_free(set);
}

TEST(match_limit_fails_closed)
{
    int before = harness_failed_checks;
    limit_case(true);
    limit_case(false);
    CHECK(harness_failed_checks == before);
    /* heap limit (interpreter): deep backtracking over a long subject */
    static const char y[] = "detectors:\n  deep: { regex: \"^(a|b)*c\" }\n"
                            "scan: { jit: false, heap_limit_kib: 64, depth_limit: 100000000 }\n";
    struct wd_detect_set *set = NULL;
    struct wd_detect_scratch *s = NULL;
    CHECK_OK(load(y, &set, NULL));
    CHECK_OK(wd_detect_scratch_new(set, &s));
    static char body[20000];
    memset(body, 'a', sizeof(body));
    body[sizeof(body) - 2] = 'x';
    body[sizeof(body) - 1] = 'c'; /* PCRE2 skips subjects without the required 'c' */
    struct wd_detect_result res;
    CHECK_STR(scan_names(set, s, body, sizeof(body), sizeof(body), false, 0, &res), "deep!");
    CHECK_STR(scan_names(set, s, "abac", 4, 4, false, 0, &res), "deep");
    wd_detect_scratch_free(s);
    wd_detect_set_free(set);
}

TEST(invalid_utf8_body)
{
    static const char y[] = "detectors:\n"
                            "  pid: { regex: \"\\\\bPID-[0-9]{6}\\\\b\" }\n"
                            "  any3: { regex: \"^...$\" }\n"
                            "  e: { regex: \"caf\xc3\xa9\" }\n";
    struct wd_detect_set *set = NULL;
    struct wd_detect_scratch *s = NULL;
    struct wd_detect_result res;
    for (int jit = 0; jit < 2; jit++) {
        CHECK_OK(load(y, &set, NULL));
        CHECK_OK(wd_detect_scratch_new(set, &s));
        /* a stray byte cannot hide a match, nor make the scan fail */
        CHECK_STR(scan_names(set, s, "\xff PID-123456 \xc3", 14, 14, false, 0, &res), "pid");
        CHECK_STR(scan_names(set, s, "\xffPID-123456\xfe", 12, 12, false, 0, &res), "pid");
        CHECK_STR(scan_names(set, s, "\xc0\x80PID-123456", 12, 12, false, 0, &res), "pid");
        /* invalid bytes match nothing, not even '.' */
        CHECK_STR(scan_names(set, s,
                             "a\xff"
                             "b",
                             3, 3, false, 0, &res),
                  "");
        CHECK_STR(scan_names(set, s,
                             "a\xc3\xa9"
                             "b",
                             4, 4, false, 0, &res),
                  "any3");
        CHECK_STR(scan_names(set, s, "un caf\xc3\xa9", 9, 9, false, 0, &res), "e");
        CHECK_STR(scan_names(set, s, "un caf\xc3", 7, 7, false, 0, &res), "");
        CHECK_STR(scan_names(set, s,
                             "PID-1234\xff"
                             "56",
                             11, 11, false, 0, &res),
                  "");
        wd_detect_scratch_free(s);
        wd_detect_set_free(set);
        set = NULL;
        s = NULL;
    }
}

static const char SWEEP_CFG[] = "detectors:\n"
                                "  a: { regex: \"\\\\bPID-[0-9]{6}\\\\b\" }\n"
                                "  b: { regex: \"x(y|z)\", literal_hint: \"x\" }\n"
                                "  c: { regex: \"[0-9]+\" }\n"
                                "  d: { json_field: \"$.a[0].b\", equals: \"v\" }\n"
                                "  e: { json_field: \"$.m\", matches: \"^q+$\" }\n"
                                "  f: { size_over: 3 }\n";
static struct wd_detect_set *sweep_set;
static struct wd_detect_scratch *sweep_scratch;

static int sweep_load(void)
{
    return load(SWEEP_CFG, &sweep_set, NULL);
}

static int sweep_scratch_new(void)
{
    return wd_detect_scratch_new(sweep_set, &sweep_scratch);
}

static int sweep_scan(void)
{
    static const char j[] = "{\"a\":[{\"b\":\"v\"}],\"m\":\"qqqq\",\"p\":\"PID-123456 xz 77\"}";
    struct wd_detect_input in = {
            .body = j, .len = sizeof(j) - 1, .total = sizeof(j) - 1, .is_json = true};
    struct wd_detect_result res;
    int rc = wd_detect_scan(sweep_set, sweep_scratch, &in, &res);
    if (rc == WD_OK && (res.hit[0] & 0x3F) != 0x3F) {
        return WD_EPROTO;
    }
    return rc;
}

TEST(alloc_sweep)
{
    CHECK_ALLOC_SWEEP(sweep_load(), (wd_detect_set_free(sweep_set), sweep_set = NULL));
    CHECK_OK(sweep_load());
    CHECK_ALLOC_SWEEP(sweep_scratch_new(),
                      (wd_detect_scratch_free(sweep_scratch), sweep_scratch = NULL));
    CHECK_OK(sweep_scratch_new());
    CHECK_ALLOC_SWEEP(sweep_scan(), (void)0);
    /* a plain-text scan allocates nothing once the scratch is warm */
    CHECK_OK(sweep_scan());
    struct wd_detect_input in = {.body = "PID-123456 xy", .len = 13, .total = 13};
    struct wd_detect_result res;
    wd_alloc_fail_at(1);
    CHECK_OK(wd_detect_scan(sweep_set, sweep_scratch, &in, &res));
    CHECK(!wd_alloc_injected());
    wd_alloc_fail_at(0);
    CHECK_EQ(res.hit[0], 0x27);
    wd_detect_scratch_free(sweep_scratch);
    wd_detect_set_free(sweep_set);
    sweep_scratch = NULL;
    sweep_set = NULL;
    /* the interpreter path too */
    static const char nojit[] = "detectors:\n  a: { regex: \"(x+)+y\" }\nscan: { jit: false }\n";
    CHECK_ALLOC_SWEEP(load(nojit, &sweep_set, NULL),
                      (wd_detect_set_free(sweep_set), sweep_set = NULL));
}

struct thread_arg {
    const struct wd_detect_set *set;
    int failures;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    struct wd_detect_scratch *s = NULL;
    if (wd_detect_scratch_new(a->set, &s) != WD_OK) {
        a->failures++;
        return NULL;
    }
    char body[4096];
    for (int i = 0; i < 200; i++) {
        memset(body, 'a' + (i % 3), sizeof(body));
        bool put = i % 2 == 0;
        if (put) {
            memcpy(body + (i * 13) % 4000, " PID-123456 ", 12);
        }
        struct wd_detect_input in = {.body = body, .len = sizeof(body), .total = sizeof(body)};
        struct wd_detect_result res;
        if (wd_detect_scan(a->set, s, &in, &res) != WD_OK || wd_detect_bit(res.hit, 0) != put) {
            a->failures++;
        }
    }
    wd_detect_scratch_free(s);
    return NULL;
}

TEST(threads)
{
    struct wd_detect_set *set = NULL;
    CHECK_OK(load(BRIEF, &set, NULL));
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){.set = set};
        CHECK(pthread_create(&t[i], NULL, thread_main, &args[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        (void)pthread_join(t[i], NULL);
        failures += args[i].failures;
    }
    wd_detect_set_free(set);
    CHECK_EQ(failures, 0);
}

int main(void)
{
    /* Line-buffered, so that a slow or hung test under qemu shows where it is. */
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(brief_config);
    RUN(size_and_oversize);
    RUN(config_errors);
    RUN(literal_extraction);
    RUN(aho_corasick);
    RUN(prefilter_equals_naive);
    RUN(match_limit_fails_closed);
    RUN(invalid_utf8_body);
    RUN(alloc_sweep);
    RUN(threads);
    return HARNESS_END("detect");
}
