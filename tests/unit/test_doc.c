/*
 * Unit tests for the document tree: the strict JSON parser, the YAML loader, the strict
 * accessors, file loading and JSON string output.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/doc.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/names.h"

#include "harness.h"

/* Parse text (of length len, or strlen when len is SIZE_MAX) as JSON named t.json. */
static int jparse(const char *text, size_t len, const struct wd_doc_limits *lim,
                  struct wd_doc **doc, struct wd_diag *d)
{
    return wd_json_parse("t.json", text, len == SIZE_MAX ? strlen(text) : len, lim, doc, d);
}

static int yparse(const char *text, const struct wd_doc_limits *lim, struct wd_doc **doc,
                  struct wd_diag *d)
{
    return wd_yaml_parse("t.yaml", text, strlen(text), lim, doc, d);
}

/*
 * Whether parsing fails with exactly rc and message msg (and returns no document). Prints
 * what happened instead when not, so a failing CHECK shows the difference.
 */
static int fails_with(int yaml, const char *text, size_t len, const struct wd_doc_limits *lim,
                      int rc, const char *msg)
{
    struct wd_doc *doc = (struct wd_doc *)1;
    struct wd_diag d;
    memset(d.msg, 0, sizeof(d.msg));
    int got = yaml ? yparse(text, lim, &doc, &d) : jparse(text, len, lim, &doc, &d);
    if (got == rc && doc == NULL && strcmp(d.msg, msg) == 0) {
        return 1;
    }
    printf("  input %.60s: got rc %d doc %p msg \"%s\"; want rc %d msg \"%s\"\n", text, got,
           (void *)doc, got < 0 ? d.msg : "", rc, msg);
    if (got == WD_OK) {
        wd_doc_free(doc);
    }
    return 0;
}

#define FREE_DOC(d)     \
    do {                \
        wd_doc_free(d); \
        (d) = NULL;     \
    } while (0)
#define JSON_FAILS(text, msg)             CHECK(fails_with(0, (text), SIZE_MAX, NULL, WD_EPROTO, (msg)))
#define JSON_FAILS_N(text, n, msg)        CHECK(fails_with(0, (text), (n), NULL, WD_EPROTO, (msg)))
#define JSON_LIMIT(text, lim, msg)        CHECK(fails_with(0, (text), SIZE_MAX, (lim), WD_ELIMIT, (msg)))
#define YAML_FAILS(text, msg)             CHECK(fails_with(1, (text), 0, NULL, WD_EPROTO, (msg)))
#define YAML_FAILS_RC(text, lim, rc, msg) CHECK(fails_with(1, (text), 0, (lim), (rc), (msg)))

/* JSON: accepted values, types and positions. */

TEST(json_scalars)
{
    static const struct {
        const char *text;
        enum wd_node_type type;
        int64_t i;
        double d;
    } cases[] = {
            {"null", WD_NODE_NULL, 0, 0},      {"true", WD_NODE_BOOL, 1, 0},
            {"false", WD_NODE_BOOL, 0, 0},     {"0", WD_NODE_INT, 0, 0},
            {"-0", WD_NODE_INT, 0, 0},         {"123", WD_NODE_INT, 123, 0},
            {"-45", WD_NODE_INT, -45, 0},      {"1.5", WD_NODE_REAL, 0, 1.5},
            {"-0.25", WD_NODE_REAL, 0, -0.25}, {"1e2", WD_NODE_REAL, 0, 100},
            {"1E+2", WD_NODE_REAL, 0, 100},    {"-1.5e-1", WD_NODE_REAL, 0, -0.15},
            {"0e0", WD_NODE_REAL, 0, 0},       {" \t\r\n 7 \n", WD_NODE_INT, 7, 0},
    };
    for (size_t k = 0; k < WD_ARRAY_LEN(cases); k++) {
        struct wd_doc *doc = NULL;
        struct wd_diag d;
        CHECK_OK(jparse(cases[k].text, SIZE_MAX, NULL, &doc, &d));
        const struct wd_node *n = wd_doc_root(doc);
        int ok = n != NULL && n->type == cases[k].type;
        if (ok && n->type == WD_NODE_BOOL) {
            ok = n->u.b == (cases[k].i != 0);
        } else if (ok && n->type == WD_NODE_INT) {
            ok = n->u.i == cases[k].i;
        } else if (ok && n->type == WD_NODE_REAL) {
            ok = n->u.d == cases[k].d;
        }
        wd_doc_free(doc);
        if (!ok) {
            printf("  case %s\n", cases[k].text);
        }
        CHECK(ok);
    }
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(jparse("\"hi\"", SIZE_MAX, NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->type, WD_NODE_STR);
    CHECK_STR(wd_doc_root(doc)->u.s.p, "hi");
    CHECK_EQ(wd_doc_root(doc)->u.s.len, 2);
    CHECK_STR(wd_doc_file(doc), "t.json");
    wd_doc_free(doc);
    /* Without a file name, diagnostics and wd_doc_file say "<input>". */
    CHECK_OK(wd_json_parse(NULL, "[]", 2, NULL, &doc, &d));
    CHECK_STR(wd_doc_file(doc), "<input>");
    CHECK_EQ(wd_doc_root(doc)->type, WD_NODE_ARR);
    CHECK_EQ(wd_doc_root(doc)->u.arr.n, 0);
    wd_doc_free(doc);
    CHECK_ERR(wd_json_parse(NULL, "[", 1, NULL, &doc, &d), WD_EPROTO);
    CHECK_STR(d.msg, "<input>:1:2: expected a value, got end of input");
    wd_doc_free(NULL);
}

TEST(json_positions)
{
    /* Columns count bytes: the two-byte e-acute shifts what follows by two. */
    const char *text = "{\n"
                       "  \"name\": \"caf\xc3\xa9\", \"n\": 1,\n"
                       "  \"list\": [true,\n"
                       "     {\"x\": null}, []],\n"
                       "\t\"o\": {}\n"
                       "}\n";
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(jparse(text, SIZE_MAX, NULL, &doc, &d));
    const struct wd_node *root = wd_doc_root(doc);
    CHECK_EQ(root->type, WD_NODE_OBJ);
    CHECK_EQ(root->line, 1);
    CHECK_EQ(root->col, 1);
    CHECK_EQ(root->u.obj.n, 4);
    const struct wd_member *m = root->u.obj.members;
    CHECK_STR(m[0].key, "name");
    CHECK_EQ(m[0].key_len, 4);
    CHECK_EQ(m[0].line, 2);
    CHECK_EQ(m[0].col, 3);
    CHECK_EQ(m[0].val->line, 2);
    CHECK_EQ(m[0].val->col, 11);
    CHECK_EQ(m[0].val->u.s.len, 5);
    CHECK_STR(m[0].val->u.s.p, "caf\xc3\xa9");
    CHECK_STR(m[1].key, "n");
    CHECK_EQ(m[1].col, 20);
    CHECK_EQ(m[1].val->col, 25);
    CHECK_EQ(m[1].val->u.i, 1);
    CHECK_STR(m[2].key, "list");
    const struct wd_node *list = m[2].val;
    CHECK_EQ(list->type, WD_NODE_ARR);
    CHECK_EQ(list->line, 3);
    CHECK_EQ(list->col, 11);
    CHECK_EQ(list->u.arr.n, 3);
    CHECK_EQ(list->u.arr.items[0]->type, WD_NODE_BOOL);
    CHECK_EQ(list->u.arr.items[0]->col, 12);
    const struct wd_node *inner = list->u.arr.items[1];
    CHECK_EQ(inner->line, 4);
    CHECK_EQ(inner->col, 6);
    CHECK_EQ(inner->u.obj.members[0].line, 4);
    CHECK_EQ(inner->u.obj.members[0].col, 7);
    CHECK_EQ(inner->u.obj.members[0].val->type, WD_NODE_NULL);
    CHECK_EQ(inner->u.obj.members[0].val->col, 12);
    CHECK_EQ(list->u.arr.items[2]->col, 19);
    CHECK_EQ(m[3].line, 5);
    CHECK_EQ(m[3].col, 2); /* a tab is one byte */
    CHECK_EQ(m[3].val->type, WD_NODE_OBJ);
    CHECK_EQ(m[3].val->u.obj.n, 0);
    CHECK(wd_node_get(root, "list") == list);
    CHECK(wd_node_get(root, "lis") == NULL);
    CHECK(wd_node_get(root, "lists") == NULL);
    CHECK(wd_node_get(list, "list") == NULL);
    CHECK(wd_node_get(NULL, "x") == NULL);
    wd_doc_free(doc);
}

TEST(json_int64_edges)
{
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(jparse("[9223372036854775807, -9223372036854775808, -9223372036854775807]", SIZE_MAX,
                    NULL, &doc, &d));
    const struct wd_node *r = wd_doc_root(doc);
    CHECK_EQ(r->u.arr.items[0]->type, WD_NODE_INT);
    CHECK(r->u.arr.items[0]->u.i == INT64_MAX);
    CHECK(r->u.arr.items[1]->u.i == INT64_MIN);
    CHECK(r->u.arr.items[2]->u.i == -INT64_MAX);
    wd_doc_free(doc);
    JSON_FAILS("9223372036854775808", "t.json:1:1: integer out of range");
    JSON_FAILS("-9223372036854775809", "t.json:1:1: integer out of range");
    JSON_FAILS("[1, 18446744073709551616]", "t.json:1:5: integer out of range");
    JSON_FAILS("{\"a\":\n  99999999999999999999999}", "t.json:2:3: integer out of range");
    /* The same magnitude with a fraction is a real number, not an error. */
    CHECK_OK(jparse("9223372036854775808.0", SIZE_MAX, NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->type, WD_NODE_REAL);
    CHECK(wd_doc_root(doc)->u.d == 9223372036854775808.0);
    wd_doc_free(doc);
}

TEST(json_reals)
{
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    JSON_FAILS("1e400", "t.json:1:1: number out of range");
    JSON_FAILS("[0, -1.5e309]", "t.json:1:5: number out of range");
    /* Underflow is not an error: it rounds towards zero. */
    CHECK_OK(jparse("1e-400", SIZE_MAX, NULL, &doc, &d));
    CHECK(wd_doc_root(doc)->u.d >= 0 && wd_doc_root(doc)->u.d < 1e-300);
    wd_doc_free(doc);
    /* A number longer than the on-stack copy goes through the arena. */
    char big[300];
    memset(big, '0', sizeof(big));
    big[0] = '1';
    big[1] = '.';
    big[sizeof(big) - 2] = '5';
    big[sizeof(big) - 1] = '\0';
    CHECK_OK(jparse(big, SIZE_MAX, NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->type, WD_NODE_REAL);
    CHECK(wd_doc_root(doc)->u.d == 1.0);
    wd_doc_free(doc);
    CHECK_OK(jparse("-0.0", SIZE_MAX, NULL, &doc, &d));
    CHECK(wd_doc_root(doc)->u.d == 0.0);
    wd_doc_free(doc);
}

TEST(json_syntax_errors)
{
    JSON_FAILS("", "t.json:1:1: expected a value, got end of input");
    JSON_FAILS("  \n   ", "t.json:2:4: expected a value, got end of input");
    JSON_FAILS("[1,]", "t.json:1:3: trailing comma");
    JSON_FAILS("{\"a\":1,}", "t.json:1:7: trailing comma");
    JSON_FAILS("[1,\n  ]", "t.json:1:3: trailing comma");
    JSON_FAILS("01", "t.json:1:1: invalid number: leading zeros are not allowed");
    JSON_FAILS("[-012]", "t.json:1:2: invalid number: leading zeros are not allowed");
    JSON_FAILS("1.", "t.json:1:3: invalid number: expected a digit after '.'");
    JSON_FAILS("1.e5", "t.json:1:3: invalid number: expected a digit after '.'");
    JSON_FAILS(".5", "t.json:1:1: expected a value, got '.'");
    JSON_FAILS("+1", "t.json:1:1: expected a value, got '+'");
    JSON_FAILS("1e", "t.json:1:3: invalid number: expected a digit in the exponent");
    JSON_FAILS("1e+", "t.json:1:4: invalid number: expected a digit in the exponent");
    JSON_FAILS("-", "t.json:1:2: invalid number: expected a digit");
    JSON_FAILS("-a", "t.json:1:2: invalid number: expected a digit");
    JSON_FAILS("0x10", "t.json:1:2: unexpected data after the value");
    JSON_FAILS("1 2", "t.json:1:3: unexpected data after the value");
    JSON_FAILS("{} []", "t.json:1:4: unexpected data after the value");
    JSON_FAILS("tru", "t.json:1:1: expected a value, got 't'");
    JSON_FAILS("truex", "t.json:1:5: unexpected data after the value");
    JSON_FAILS("True", "t.json:1:1: expected a value, got 'T'");
    JSON_FAILS("nul", "t.json:1:1: expected a value, got 'n'");
    JSON_FAILS("NaN", "t.json:1:1: expected a value, got 'N'");
    JSON_FAILS("Infinity", "t.json:1:1: expected a value, got 'I'");
    JSON_FAILS("-Infinity", "t.json:1:2: invalid number: expected a digit");
    JSON_FAILS("[1 2]", "t.json:1:4: expected ',' or ']', got '2'");
    JSON_FAILS("[1,,2]", "t.json:1:4: expected a value, got ','");
    JSON_FAILS("[,1]", "t.json:1:2: expected a value, got ','");
    JSON_FAILS("{\"a\" 1}", "t.json:1:6: expected ':', got '1'");
    JSON_FAILS("{\"a\":1 \"b\":2}", "t.json:1:8: expected ',' or '}', got '\"'");
    JSON_FAILS("{1:2}", "t.json:1:2: expected a string key, got '1'");
    JSON_FAILS("{'a':2}", "t.json:1:2: expected a string key, got '''");
    JSON_FAILS("{\"a\":}", "t.json:1:6: expected a value, got '}'");
    JSON_FAILS("{,}", "t.json:1:2: expected a string key, got ','");
    JSON_FAILS("[", "t.json:1:2: expected a value, got end of input");
    JSON_FAILS("[1", "t.json:1:3: expected ',' or ']', got end of input");
    JSON_FAILS("{\"a\":1", "t.json:1:7: expected ',' or '}', got end of input");
    JSON_FAILS("{\"a\"", "t.json:1:5: expected ':', got end of input");
    JSON_FAILS("[1}", "t.json:1:3: expected ',' or ']', got '}'");
    JSON_FAILS("{\"a\":1]", "t.json:1:7: expected ',' or '}', got ']'");
    JSON_FAILS("]", "t.json:1:1: expected a value, got ']'");
    JSON_FAILS("/* c */ 1", "t.json:1:1: expected a value, got '/'");
    JSON_FAILS("1 // c", "t.json:1:3: unexpected data after the value");
    JSON_FAILS("'a'", "t.json:1:1: expected a value, got '''");
    JSON_FAILS("\xef\xbb\xbf{}", "t.json:1:1: expected a value, got byte 0xef");
    JSON_FAILS("[1,\f2]", "t.json:1:4: expected a value, got byte 0x0c");
    JSON_FAILS("\v1", "t.json:1:1: expected a value, got byte 0x0b");
    JSON_FAILS_N("1\0", 2, "t.json:1:2: unexpected data after the value");
    JSON_FAILS_N("\0", 1, "t.json:1:1: expected a value, got byte 0x00");
    JSON_FAILS("{\"a\": 1,\n \"b\": [1,\n   2,\n   x]}", "t.json:4:4: expected a value, got 'x'");
    /* "\r\n" ends one line, not two. */
    JSON_FAILS("[\r\n\r\n x]", "t.json:3:2: expected a value, got 'x'");
}

TEST(json_strings)
{
    static const struct {
        const char *text;
        const char *want;
        size_t want_len;
    } cases[] = {
            {"\"\"", "", 0},
            {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8},
            {"\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6},
            {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},
            {"\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4},
            {"\"\\u0000\"", "\0", 1},
            {"\"a\\u0000b\"", "a\0b", 3},
            {"\"\\uFFFF\\uE000\"", "\xef\xbf\xbf\xee\x80\x80", 6},
            {"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
             "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14},
            {"\"\x7f\"", "\x7f", 1},
            {"\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\"",
             "\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf", 10},
            {"\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xf0\x90\x80\x80\"",
             "\xc2\x80\xdf\xbf\xe0\xa0\x80\xf0\x90\x80\x80", 11},
    };
    for (size_t k = 0; k < WD_ARRAY_LEN(cases); k++) {
        struct wd_doc *doc = NULL;
        struct wd_diag d;
        int rc = jparse(cases[k].text, SIZE_MAX, NULL, &doc, &d);
        if (rc != WD_OK) {
            printf("  case %zu: %s\n", k, d.msg);
        }
        CHECK_OK(rc);
        const struct wd_node *n = wd_doc_root(doc);
        int ok = n->type == WD_NODE_STR && n->u.s.len == cases[k].want_len
                 && memcmp(n->u.s.p, cases[k].want, cases[k].want_len) == 0
                 && n->u.s.p[n->u.s.len] == '\0';
        wd_doc_free(doc);
        if (!ok) {
            printf("  case %zu\n", k);
        }
        CHECK(ok);
    }
}

TEST(json_string_errors)
{
    JSON_FAILS("\"abc", "t.json:1:1: unterminated string");
    JSON_FAILS("[\"a\\\"]", "t.json:1:2: unterminated string");
    JSON_FAILS("\"\\", "t.json:1:2: unterminated escape sequence");
    JSON_FAILS("\"a\\x\"", "t.json:1:3: invalid escape '\\x' in string");
    JSON_FAILS("\"\\U0041\"", "t.json:1:2: invalid escape '\\U' in string");
    JSON_FAILS("\"\\'\"", "t.json:1:2: invalid escape '\\'' in string");
    JSON_FAILS("\"\\\x01\"", "t.json:1:2: invalid escape byte 0x01 in string");
    JSON_FAILS("\"\\u12\"", "t.json:1:2: invalid \\u escape: expected 4 hex digits");
    JSON_FAILS("\"\\u12G4\"", "t.json:1:2: invalid \\u escape: expected 4 hex digits");
    JSON_FAILS("\"\\u", "t.json:1:2: invalid \\u escape: expected 4 hex digits");
    JSON_FAILS("\"\\ud800\"", "t.json:1:2: lone surrogate \\uD800 in string");
    JSON_FAILS("\"x\\udc00\"", "t.json:1:3: lone surrogate \\uDC00 in string");
    JSON_FAILS("\"\\udbff\\u0041\"", "t.json:1:2: lone surrogate \\uDBFF in string");
    JSON_FAILS("\"\\ud800\\ud800\"", "t.json:1:2: lone surrogate \\uD800 in string");
    JSON_FAILS("\"\\ud800x\"", "t.json:1:2: lone surrogate \\uD800 in string");
    JSON_FAILS("\"\\ud800\\u00\"", "t.json:1:2: lone surrogate \\uD800 in string");
    JSON_FAILS("\"a\tb\"", "t.json:1:3: control character 0x09 in string (must be escaped)");
    JSON_FAILS("\"a\nb\"", "t.json:1:3: control character 0x0a in string (must be escaped)");
    JSON_FAILS("\"\x1f\"", "t.json:1:2: control character 0x1f in string (must be escaped)");
    JSON_FAILS_N("\"a\0\"", 4, "t.json:1:3: control character 0x00 in string (must be escaped)");
    /* Invalid UTF-8, reported at the first byte of the bad sequence. */
    JSON_FAILS("\"\x80\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"ab\xc0\x80\"", "t.json:1:4: invalid UTF-8 in string");
    JSON_FAILS("\"\xc1\xbf\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xe0\x80\xaf\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xe0\x9f\xbf\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xf0\x8f\xbf\xbf\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xed\xa0\x80\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xed\xbf\xbf\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xf4\x90\x80\x80\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xf5\x80\x80\x80\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xff\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xfe\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"ok \xc3\"", "t.json:1:5: invalid UTF-8 in string");
    JSON_FAILS("\"\xe2\x82\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xe2\x82", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xf0\x9f\x98\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("\"\xc3\xa9\xc3(\"", "t.json:1:4: invalid UTF-8 in string");
    JSON_FAILS("\"\xe2\x28\xa1\"", "t.json:1:2: invalid UTF-8 in string");
    JSON_FAILS("{\"k\xff\": 1}", "t.json:1:4: invalid UTF-8 in string");
    JSON_FAILS("[1,\n  {\"a\": \"x\xc3\xa9y\xa9\"}]", "t.json:2:14: invalid UTF-8 in string");
}

TEST(json_duplicates)
{
    JSON_FAILS("{\"a\":1,\"b\":2,\"a\":3}", "t.json:1:14: duplicate key 'a'");
    JSON_FAILS("{\"a\":1,\n \"a\":1}", "t.json:2:2: duplicate key 'a'");
    JSON_FAILS("[{\"x\": {\"y\": 1, \"y\": 2}}]", "t.json:1:17: duplicate key 'y'");
    /* Equal after decoding: an escape spells the same key. */
    JSON_FAILS("{\"ab\":1,\"a\\u0062\":2}", "t.json:1:9: duplicate key 'ab'");
    /* Embedded NUL: the bytes after it count. */
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(jparse("{\"a\\u0000b\":1,\"a\\u0000c\":2,\"a\":3}", SIZE_MAX, NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->u.obj.n, 3);
    CHECK_EQ(wd_doc_root(doc)->u.obj.members[0].key_len, 3);
    CHECK(wd_node_get(wd_doc_root(doc), "a")->u.i == 3);
    wd_doc_free(doc);
    JSON_FAILS("{\"a\\u0000b\":1,\"a\\u0000b\":2}", "t.json:1:15: duplicate key 'a\\x00b'");
    /* The same key in different objects is fine. */
    CHECK_OK(jparse("{\"a\":{\"a\":1},\"b\":{\"a\":2}}", SIZE_MAX, NULL, &doc, &d));
    wd_doc_free(doc);
    JSON_FAILS("{\"\":1,\"\":2}", "t.json:1:7: duplicate key ''");
}

/* Build {"k0":0,"k1":1,...} with n keys; key dup_of is repeated at index dup_at if set. */
static char *many_keys(size_t n, size_t dup_at, size_t dup_of, size_t dup2_at, size_t dup2_of)
{
    struct wd_buf b;
    wd_buf_init(&b, 64u << 20);
    int rc = wd_buf_append_str(&b, "{");
    for (size_t i = 0; i < n && rc == WD_OK; i++) {
        size_t k = i;
        if (i == dup_at) {
            k = dup_of;
        } else if (i == dup2_at) {
            k = dup2_of;
        }
        rc = wd_buf_printf(&b, "%s\"key%zu\":%zu", i > 0 ? ",\n" : "", k, i);
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(&b, "}");
    }
    size_t len;
    char *s = rc == WD_OK ? wd_buf_steal(&b, &len) : NULL;
    wd_buf_cleanup(&b);
    return s;
}

TEST(json_duplicates_large)
{
    /* Objects above the pairwise-compare size take the sort path; check both find it. */
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    char *s = many_keys(50000, SIZE_MAX, 0, SIZE_MAX, 0);
    CHECK(s != NULL);
    int rc = jparse(s, SIZE_MAX, NULL, &doc, &d);
    wd_free(s);
    CHECK_OK(rc);
    CHECK_EQ(wd_doc_root(doc)->u.obj.n, 50000);
    CHECK(wd_node_get(wd_doc_root(doc), "key49999")->u.i == 49999);
    wd_doc_free(doc);
    /* Line i+1 holds key i; the repeat at index 700 of key 300 is reported on line 701. */
    s = many_keys(1000, 700, 300, SIZE_MAX, 0);
    CHECK(s != NULL);
    int ok = fails_with(0, s, SIZE_MAX, NULL, WD_EPROTO, "t.json:701:1: duplicate key 'key300'");
    wd_free(s);
    CHECK(ok);
    /* Two repeated keys: the earlier repeat in document order is the one reported. */
    s = many_keys(1000, 900, 5, 600, 100);
    CHECK(s != NULL);
    ok = fails_with(0, s, SIZE_MAX, NULL, WD_EPROTO, "t.json:601:1: duplicate key 'key100'");
    wd_free(s);
    CHECK(ok);
    s = many_keys(20, 19, 18, 17, 0);
    CHECK(s != NULL);
    ok = fails_with(0, s, SIZE_MAX, NULL, WD_EPROTO, "t.json:18:1: duplicate key 'key0'");
    wd_free(s);
    CHECK(ok);
    s = many_keys(10, 9, 8, 7, 0);
    CHECK(s != NULL);
    ok = fails_with(0, s, SIZE_MAX, NULL, WD_EPROTO, "t.json:8:1: duplicate key 'key0'");
    wd_free(s);
    CHECK(ok);
}

static char *nested(size_t depth, const char *open, const char *mid, const char *close)
{
    struct wd_buf b;
    wd_buf_init(&b, 64u << 20);
    int rc = WD_OK;
    for (size_t i = 0; i < depth && rc == WD_OK; i++) {
        rc = wd_buf_append_str(&b, open);
    }
    if (rc == WD_OK) {
        rc = wd_buf_append_str(&b, mid);
    }
    for (size_t i = 0; i < depth && rc == WD_OK; i++) {
        rc = wd_buf_append_str(&b, close);
    }
    size_t len;
    char *s = rc == WD_OK ? wd_buf_steal(&b, &len) : NULL;
    wd_buf_cleanup(&b);
    return s;
}

TEST(json_limits)
{
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    struct wd_doc_limits lim = {.max_depth = 3};
    CHECK_OK(jparse("[[[1]]]", SIZE_MAX, &lim, &doc, &d));
    wd_doc_free(doc);
    CHECK_OK(jparse("[{\"a\":[]}]", SIZE_MAX, &lim, &doc, &d));
    wd_doc_free(doc);
    JSON_LIMIT("[[[[1]]]]", &lim, "t.json:1:4: nesting deeper than 3 levels");
    JSON_LIMIT("{\"a\":{\"b\":[{}]}}", &lim, "t.json:1:12: nesting deeper than 3 levels");
    /* Default depth: 128 levels pass, 129 do not; a huge depth fails fast, no recursion. */
    char *s = nested(128, "[", "", "]");
    CHECK(s != NULL);
    int rc = jparse(s, SIZE_MAX, NULL, &doc, &d);
    wd_free(s);
    CHECK_OK(rc);
    wd_doc_free(doc);
    s = nested(129, "[", "", "]");
    CHECK(s != NULL);
    int ok = fails_with(0, s, SIZE_MAX, NULL, WD_ELIMIT,
                        "t.json:1:129: nesting deeper than 128 levels");
    wd_free(s);
    CHECK(ok);
    s = nested(1000000, "{\"a\":", "1", "}");
    CHECK(s != NULL);
    ok = fails_with(0, s, SIZE_MAX, NULL, WD_ELIMIT,
                    "t.json:1:641: nesting deeper than 128 levels");
    wd_free(s);
    CHECK(ok);
    /* Node limit counts every value, containers included. */
    struct wd_doc_limits nodes = {.max_nodes = 3};
    CHECK_OK(jparse("[1,2]", SIZE_MAX, &nodes, &doc, &d));
    wd_doc_free(doc);
    CHECK_OK(jparse("{\"a\":{\"b\":1}}", SIZE_MAX, &nodes, &doc, &d));
    wd_doc_free(doc);
    JSON_LIMIT("[1,2,3]", &nodes, "t.json:1:6: too many values (limit 3)");
    JSON_LIMIT("[[[[]]]]", &nodes, "t.json:1:4: too many values (limit 3)");
    /* Size limit: exactly max_bytes is accepted. */
    struct wd_doc_limits bytes = {.max_bytes = 4};
    CHECK_OK(jparse("[12]", SIZE_MAX, &bytes, &doc, &d));
    wd_doc_free(doc);
    JSON_LIMIT("[123]", &bytes, "t.json: input larger than 4 bytes");
}

TEST(json_alloc_sweep)
{
    /*
     * Enough of everything to reach every allocation site: nested containers, an object
     * past the pairwise duplicate check, a string bigger than an arena chunk, a long real,
     * and enough nodes for several chunks.
     */
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_OK(wd_buf_append_str(&b, "{\"list\": [1, 2.5, true, null, \"s\", {\"x\": [[]]}],\n"));
    for (int i = 0; i < 40; i++) {
        CHECK_OK(wd_buf_printf(&b, "\"k%d\": %d, ", i, i));
    }
    CHECK_OK(wd_buf_append_str(&b, "\"big\": \""));
    for (int i = 0; i < 5000; i++) {
        CHECK_OK(wd_buf_append_str(&b, "\\u00e9"));
    }
    CHECK_OK(wd_buf_append_str(&b, "\", \"real\": 0."));
    for (int i = 0; i < 100; i++) {
        CHECK_OK(wd_buf_append_str(&b, "1"));
    }
    CHECK_OK(wd_buf_append_str(&b, ", \"arr\": ["));
    for (int i = 0; i < 600; i++) {
        CHECK_OK(wd_buf_printf(&b, "%s{\"i\": %d}", i > 0 ? "," : "", i));
    }
    CHECK_OK(wd_buf_append_str(&b, "]}"));
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_ALLOC_SWEEP(wd_json_parse("t.json", b.p, b.len, NULL, &doc, &d), FREE_DOC(doc));
    CHECK_OK(wd_json_parse("t.json", b.p, b.len, NULL, &doc, &d));
    CHECK_EQ(wd_node_get(wd_doc_root(doc), "big")->u.s.len, 10000);
    CHECK_EQ(wd_node_get(wd_doc_root(doc), "arr")->u.arr.n, 600);
    wd_doc_free(doc);
    wd_buf_cleanup(&b);
}

/* YAML. */

TEST(yaml_structure_and_positions)
{
    const char *text = "# manifest\n"
                       "name: demo\n"
                       "port: 8443\n"
                       "ratio: 0.5\n"
                       "tags:\n"
                       "  - web\n"
                       "  - 'quoted'\n"
                       "nested: {a: 1, b: [x, y]}\n"
                       "empty:\n"
                       "text: |\n"
                       "  line one\n"
                       "  line two\n"
                       "caf\xc3\xa9: ok\n"
                       "after: \xc3\xa9t\xc3\xa9 x\n";
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(yparse(text, NULL, &doc, &d));
    const struct wd_node *root = wd_doc_root(doc);
    CHECK_EQ(root->type, WD_NODE_OBJ);
    CHECK_EQ(root->u.obj.n, 9);
    CHECK_STR(wd_doc_file(doc), "t.yaml");
    const struct wd_member *m = root->u.obj.members;
    CHECK_STR(m[0].key, "name");
    CHECK_EQ(m[0].line, 2);
    CHECK_EQ(m[0].col, 1);
    CHECK_EQ(m[0].val->type, WD_NODE_STR);
    CHECK_STR(m[0].val->u.s.p, "demo");
    CHECK_EQ(m[0].val->line, 2);
    CHECK_EQ(m[0].val->col, 7);
    CHECK_EQ(wd_node_get(root, "port")->type, WD_NODE_INT);
    CHECK(wd_node_get(root, "port")->u.i == 8443);
    CHECK_EQ(wd_node_get(root, "ratio")->type, WD_NODE_REAL);
    CHECK(wd_node_get(root, "ratio")->u.d == 0.5);
    const struct wd_node *tags = wd_node_get(root, "tags");
    CHECK_EQ(tags->type, WD_NODE_ARR);
    CHECK_EQ(tags->u.arr.n, 2);
    CHECK_EQ(tags->line, 6);
    CHECK_EQ(tags->col, 3);
    CHECK_STR(tags->u.arr.items[1]->u.s.p, "quoted");
    CHECK_EQ(tags->u.arr.items[1]->line, 7);
    CHECK_EQ(tags->u.arr.items[1]->col, 5);
    const struct wd_node *nest = wd_node_get(root, "nested");
    CHECK_EQ(nest->type, WD_NODE_OBJ);
    CHECK_EQ(nest->line, 8);
    CHECK_EQ(nest->col, 9);
    CHECK_EQ(nest->u.obj.members[1].col, 16);
    CHECK_EQ(wd_node_get(nest, "b")->u.arr.items[1]->col, 23);
    CHECK_EQ(wd_node_get(root, "empty")->type, WD_NODE_NULL);
    CHECK_STR(wd_node_get(root, "text")->u.s.p, "line one\nline two\n");
    CHECK_STR(wd_node_get(root, "caf\xc3\xa9")->u.s.p, "ok");
    /* YAML columns count characters (libyaml marks): "after: " then a 3-character word. */
    const struct wd_member *last = &root->u.obj.members[8];
    CHECK_STR(last->key, "after");
    CHECK_EQ(last->val->col, 8);
    CHECK_STR(last->val->u.s.p, "\xc3\xa9t\xc3\xa9 x");
    wd_doc_free(doc);
    /* A scalar or an empty document root. */
    CHECK_OK(yparse("--- 42\n...\n", NULL, &doc, &d));
    CHECK(wd_doc_root(doc)->u.i == 42);
    wd_doc_free(doc);
    CHECK_OK(yparse("---\n", NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->type, WD_NODE_NULL);
    wd_doc_free(doc);
    CHECK_OK(yparse("%YAML 1.2\n---\n[a, {b: c}]\n", NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->type, WD_NODE_ARR);
    wd_doc_free(doc);
    /* A double-quoted "\0" gives a NUL inside the string. */
    CHECK_OK(yparse("k: \"a\\0b\\u00e9\"\n", NULL, &doc, &d));
    CHECK_EQ(wd_node_get(wd_doc_root(doc), "k")->u.s.len, 5);
    CHECK_MEM(wd_node_get(wd_doc_root(doc), "k")->u.s.p, "a\0b\xc3\xa9", 5);
    wd_doc_free(doc);
}

/* How a plain (or quoted) scalar in "v: <text>" resolves. */
struct yres {
    const char *text;
    enum wd_node_type type;
    int64_t i;
    double d;
};

TEST(yaml_core_schema)
{
    static const struct yres cases[] = {
            {"", WD_NODE_NULL, 0, 0},
            {"~", WD_NODE_NULL, 0, 0},
            {"null", WD_NODE_NULL, 0, 0},
            {"Null", WD_NODE_NULL, 0, 0},
            {"NULL", WD_NODE_NULL, 0, 0},
            {"nULL", WD_NODE_STR, 0, 0},
            {"true", WD_NODE_BOOL, 1, 0},
            {"True", WD_NODE_BOOL, 1, 0},
            {"TRUE", WD_NODE_BOOL, 1, 0},
            {"false", WD_NODE_BOOL, 0, 0},
            {"False", WD_NODE_BOOL, 0, 0},
            {"FALSE", WD_NODE_BOOL, 0, 0},
            {"tRUE", WD_NODE_STR, 0, 0},
            {"yes", WD_NODE_STR, 0, 0},
            {"no", WD_NODE_STR, 0, 0},
            {"on", WD_NODE_STR, 0, 0},
            {"off", WD_NODE_STR, 0, 0},
            {"y", WD_NODE_STR, 0, 0},
            {"0", WD_NODE_INT, 0, 0},
            {"-0", WD_NODE_INT, 0, 0},
            {"+12", WD_NODE_INT, 12, 0},
            {"-12", WD_NODE_INT, -12, 0},
            {"007", WD_NODE_INT, 7, 0},
            {"0o17", WD_NODE_INT, 15, 0},
            {"0o0", WD_NODE_INT, 0, 0},
            {"0x1F", WD_NODE_INT, 31, 0},
            {"0xff", WD_NODE_INT, 255, 0},
            {"0x7fffffffffffffff", WD_NODE_INT, INT64_MAX, 0},
            {"0o777777777777777777777", WD_NODE_INT, INT64_MAX, 0},
            {"9223372036854775807", WD_NODE_INT, INT64_MAX, 0},
            {"-9223372036854775808", WD_NODE_INT, INT64_MIN, 0},
            {"0o", WD_NODE_STR, 0, 0},
            {"0x", WD_NODE_STR, 0, 0},
            {"0o8", WD_NODE_STR, 0, 0},
            {"0xg", WD_NODE_STR, 0, 0},
            {"0O17", WD_NODE_STR, 0, 0},
            {"0X1F", WD_NODE_STR, 0, 0},
            {"-0x10", WD_NODE_STR, 0, 0},
            {"+0o7", WD_NODE_STR, 0, 0},
            {"1_000", WD_NODE_STR, 0, 0},
            {"0b101", WD_NODE_STR, 0, 0},
            {"1.5", WD_NODE_REAL, 0, 1.5},
            {"-1.5", WD_NODE_REAL, 0, -1.5},
            {"+.5", WD_NODE_REAL, 0, 0.5},
            {".5", WD_NODE_REAL, 0, 0.5},
            {"1.", WD_NODE_REAL, 0, 1.0},
            {"1e3", WD_NODE_REAL, 0, 1000},
            {"1E-3", WD_NODE_REAL, 0, 0.001},
            {"-1.5e+3", WD_NODE_REAL, 0, -1500},
            {"007.5", WD_NODE_REAL, 0, 7.5},
            {"1e", WD_NODE_STR, 0, 0},
            {".", WD_NODE_STR, 0, 0},
            {"-.", WD_NODE_STR, 0, 0},
            {"1.2.3", WD_NODE_STR, 0, 0},
            {"e3", WD_NODE_STR, 0, 0},
            {".e3", WD_NODE_STR, 0, 0},
            {"1e3.5", WD_NODE_STR, 0, 0},
            {"1e+", WD_NODE_STR, 0, 0},
            {"0x1p3", WD_NODE_STR, 0, 0},
            {"inf", WD_NODE_STR, 0, 0},
            {"nan", WD_NODE_STR, 0, 0},
            {".infinity", WD_NODE_STR, 0, 0},
            {"hello world", WD_NODE_STR, 0, 0},
            {"12abc", WD_NODE_STR, 0, 0},
            {"'12'", WD_NODE_STR, 0, 0},
            {"\"true\"", WD_NODE_STR, 0, 0},
            {"'null'", WD_NODE_STR, 0, 0},
            {"''", WD_NODE_STR, 0, 0},
            {"'.inf'", WD_NODE_STR, 0, 0},
            {"\"99999999999999999999\"", WD_NODE_STR, 0, 0},
            {"|\n  12\n", WD_NODE_STR, 0, 0},
            {">\n  true\n", WD_NODE_STR, 0, 0},
    };
    for (size_t k = 0; k < WD_ARRAY_LEN(cases); k++) {
        char text[128];
        (void)snprintf(text, sizeof(text), "v: %s\n", cases[k].text);
        struct wd_doc *doc = NULL;
        struct wd_diag d;
        int rc = yparse(text, NULL, &doc, &d);
        if (rc != WD_OK) {
            printf("  case '%s': %s\n", cases[k].text, d.msg);
        }
        CHECK_OK(rc);
        const struct wd_node *n = wd_node_get(wd_doc_root(doc), "v");
        int ok = n != NULL && n->type == cases[k].type;
        if (ok && n->type == WD_NODE_BOOL) {
            ok = n->u.b == (cases[k].i != 0);
        } else if (ok && n->type == WD_NODE_INT) {
            ok = n->u.i == cases[k].i;
        } else if (ok && n->type == WD_NODE_REAL) {
            ok = n->u.d == cases[k].d;
        }
        if (!ok) {
            printf("  case '%s': got %s\n", cases[k].text,
                   n != NULL ? wd_node_type_name(n->type) : "nothing");
        }
        wd_doc_free(doc);
        CHECK(ok);
    }
}

TEST(yaml_rejections)
{
    YAML_FAILS("a: 1\n---\nb: 2\n", "t.yaml:2:1: multiple documents are not supported");
    YAML_FAILS("--- 1\n--- 2\n", "t.yaml:2:1: multiple documents are not supported");
    YAML_FAILS("a: &x 1\nb: *x\n", "t.yaml:1:4: anchors and aliases are not supported");
    YAML_FAILS("a: 1\nb: *x\n", "t.yaml:2:4: anchors and aliases are not supported");
    YAML_FAILS("base: &b {x: 1}\n", "t.yaml:1:7: anchors and aliases are not supported");
    YAML_FAILS("- &s [1]\n", "t.yaml:1:3: anchors and aliases are not supported");
    YAML_FAILS("a: !!str 1\n", "t.yaml:1:4: explicit tags are not supported");
    YAML_FAILS("a: ! x\n", "t.yaml:1:4: explicit tags are not supported");
    YAML_FAILS("a:\n  b: !foo {c: 1}\n", "t.yaml:2:6: explicit tags are not supported");
    YAML_FAILS("!!seq [1]\n", "t.yaml:1:1: explicit tags are not supported");
    YAML_FAILS("? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars");
    YAML_FAILS("{x: 1, {a: b}: 1}\n", "t.yaml:1:8: mapping keys must be scalars");
    YAML_FAILS("a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key 'a'");
    YAML_FAILS("top:\n  b: 1\n  c: 2\n  b: 3\n", "t.yaml:4:3: duplicate key 'b'");
    YAML_FAILS("{a: 1, 'a': 2}\n", "t.yaml:1:8: duplicate key 'a'");
    YAML_FAILS("a: .inf\n", "t.yaml:1:4: .inf and .nan are not supported");
    YAML_FAILS("- -.Inf\n", "t.yaml:1:3: .inf and .nan are not supported");
    YAML_FAILS("x:\n  y: .NaN\n", "t.yaml:2:6: .inf and .nan are not supported");
    YAML_FAILS("a: 9223372036854775808\n", "t.yaml:1:4: integer out of range");
    YAML_FAILS("a: -9223372036854775809\n", "t.yaml:1:4: integer out of range");
    YAML_FAILS("a: 0x8000000000000000\n", "t.yaml:1:4: integer out of range");
    YAML_FAILS("a: 0o1000000000000000000000\n", "t.yaml:1:4: integer out of range");
    YAML_FAILS("a: 1e400\n", "t.yaml:1:4: number out of range");
    YAML_FAILS("", "t.yaml:1:1: empty document");
    YAML_FAILS("# only a comment\n", "t.yaml:1:1: empty document");
    YAML_FAILS("? \n: 1\n", "t.yaml:1:2: null keys are not supported");
    YAML_FAILS("{x: 1, null: 2}\n", "t.yaml:1:8: null keys are not supported");
    YAML_FAILS("a: 1\n~: 2\n", "t.yaml:2:1: null keys are not supported");
}

TEST(yaml_syntax_errors)
{
    YAML_FAILS("a: b: c\n", "t.yaml:1:5: mapping values are not allowed in this context");
    YAML_FAILS("a: [1, 2\n",
               "t.yaml:2:1: while parsing a flow sequence: did not find expected ',' or ']'");
    YAML_FAILS("a:\n  - 1\n - 2\n",
               "t.yaml:3:2: while parsing a block mapping: did not find expected key");
    YAML_FAILS("a: \"x\n", "t.yaml:2:1: while scanning a quoted scalar: found unexpected end "
                           "of stream");
    YAML_FAILS("a: \"\\ud800\"\n", "t.yaml:1:7: while parsing a quoted scalar: found invalid "
                                   "Unicode character escape code");
    YAML_FAILS("a:\n\tb: 1\n", "t.yaml:2:1: while scanning for the next token: found "
                               "character that cannot start any token");
    /* Reader errors carry a byte offset, turned into a position here. */
    YAML_FAILS("a: 1\nb: x\xff\n", "t.yaml:2:5: invalid leading UTF-8 octet (0xff)");
    YAML_FAILS("a: \xc3\xa9\xc3\n", "t.yaml:1:6: invalid trailing UTF-8 octet (0x0a)");
    YAML_FAILS("a: \xc3\xa9\xc3", "t.yaml:1:5: incomplete UTF-8 octet sequence");
    YAML_FAILS("a: \xed\xa0\x80", "t.yaml:1:4: invalid Unicode character (0xd800)");
    YAML_FAILS("\xff\xfe"
               "a\0:\0",
               "t.yaml:1:1: invalid leading UTF-8 octet (0xff)");
    YAML_FAILS("a: \x01\n", "t.yaml:1:4: control characters are not allowed (0x01)");
}

TEST(yaml_limits)
{
    struct wd_doc_limits depth = {.max_depth = 2};
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    YAML_FAILS_RC("a:\n  b: [1]\n", &depth, WD_ELIMIT, "t.yaml:2:6: nesting deeper than 2 levels");
    CHECK_OK(yparse("a: [1]\n", &depth, &doc, &d));
    wd_doc_free(doc);
    YAML_FAILS_RC("a:\n  b:\n    c: 1\n", &depth, WD_ELIMIT,
                  "t.yaml:3:5: nesting deeper than 2 levels");
    YAML_FAILS_RC("[[[[[[[[[[1]]]]]]]]]]", &depth, WD_ELIMIT,
                  "t.yaml:1:3: nesting deeper than 2 levels");
    struct wd_doc_limits nodes = {.max_nodes = 3};
    CHECK_OK(yparse("a: 1\nb: 2\n", &nodes, &doc, &d));
    wd_doc_free(doc);
    YAML_FAILS_RC("a: 1\nb: 2\nc: 3\n", &nodes, WD_ELIMIT, "t.yaml:3:4: too many values (limit 3)");
    struct wd_doc_limits bytes = {.max_bytes = 5};
    CHECK_OK(yparse("a: 1\n", &bytes, &doc, &d));
    wd_doc_free(doc);
    YAML_FAILS_RC("a: 12\n", &bytes, WD_ELIMIT, "t.yaml: input larger than 5 bytes");
    /* Deep flow nesting fails at the limit, not in libyaml or on the stack. */
    char *s = nested(100000, "[", "", "]");
    CHECK(s != NULL);
    int ok = fails_with(1, s, 0, NULL, WD_ELIMIT, "t.yaml:1:129: nesting deeper than 128 levels");
    wd_free(s);
    CHECK(ok);
}

TEST(yaml_alloc_sweep)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    CHECK_OK(wd_buf_append_str(&b, "list: [1, 2.5, true, ~, s, {x: [[]]}]\nlong: \""));
    for (int i = 0; i < 3000; i++) {
        CHECK_OK(wd_buf_append_str(&b, "abc"));
    }
    CHECK_OK(wd_buf_append_str(&b, "\"\nreal: 0."));
    for (int i = 0; i < 100; i++) {
        CHECK_OK(wd_buf_append_str(&b, "5"));
    }
    CHECK_OK(wd_buf_append_str(&b, "\nmap:\n"));
    for (int i = 0; i < 40; i++) {
        CHECK_OK(wd_buf_printf(&b, "  k%d: [%d, x]\n", i, i));
    }
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_ALLOC_SWEEP(wd_yaml_parse("t.yaml", b.p, b.len, NULL, &doc, &d), FREE_DOC(doc));
    CHECK_OK(wd_yaml_parse("t.yaml", b.p, b.len, NULL, &doc, &d));
    CHECK_EQ(wd_node_get(wd_doc_root(doc), "long")->u.s.len, 9000);
    CHECK_EQ(wd_node_get(wd_doc_root(doc), "map")->u.obj.n, 40);
    wd_doc_free(doc);
    wd_buf_cleanup(&b);
}

/* Strict accessors. */

TEST(read_object)
{
    const char *text = "{\"name\": \"svc\",\n"
                       " \"port\": 8443,\n"
                       " \"ratio\": 1,\n"
                       " \"any\": [1]}";
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(jparse(text, SIZE_MAX, NULL, &doc, &d));
    const struct wd_node *root = wd_doc_root(doc);
    const struct wd_node *name = NULL, *port = NULL, *ratio = NULL, *any = NULL, *opt = NULL;
    struct wd_field fields[] = {
            {"name", WD_NODE_STR, WD_FIELD_REQUIRED, &name},
            {"port", WD_NODE_INT, WD_FIELD_REQUIRED, &port},
            {"ratio", WD_NODE_REAL, WD_FIELD_OPTIONAL, &ratio},
            {"any", WD_NODE_NULL, WD_FIELD_OPTIONAL, &any},
            {"opt", WD_NODE_BOOL, WD_FIELD_OPTIONAL, &opt},
    };
    opt = root; /* must be reset to NULL: absent */
    CHECK_OK(wd_doc_read_object(doc, root, fields, WD_ARRAY_LEN(fields), &d));
    CHECK_STR(name->u.s.p, "svc");
    CHECK(port->u.i == 8443);
    CHECK_EQ(ratio->type, WD_NODE_INT); /* a number field takes an integer */
    CHECK_EQ(any->type, WD_NODE_ARR);
    CHECK(opt == NULL);
    /* Unknown key: reported at the key; outputs are cleared on failure. */
    CHECK_ERR(wd_doc_read_object(doc, root, fields, 3, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json:4:2: unknown key 'any'");
    CHECK(name == NULL && port == NULL);
    /* Missing required key: reported at the object. */
    struct wd_field more[] = {
            {"name", WD_NODE_STR, WD_FIELD_REQUIRED, NULL},
            {"port", WD_NODE_INT, WD_FIELD_REQUIRED, NULL},
            {"ratio", WD_NODE_REAL, WD_FIELD_REQUIRED, NULL},
            {"any", WD_NODE_NULL, WD_FIELD_REQUIRED, NULL},
            {"host", WD_NODE_STR, WD_FIELD_REQUIRED, &opt},
    };
    CHECK_ERR(wd_doc_read_object(doc, root, more, WD_ARRAY_LEN(more), &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json:1:1: missing key 'host'");
    /* Wrong type: reported at the value. */
    struct wd_field typed[] = {
            {"name", WD_NODE_INT, WD_FIELD_REQUIRED, NULL},
            {"port", WD_NODE_INT, WD_FIELD_REQUIRED, NULL},
            {"ratio", WD_NODE_REAL, WD_FIELD_REQUIRED, NULL},
            {"any", WD_NODE_NULL, WD_FIELD_REQUIRED, NULL},
    };
    CHECK_ERR(wd_doc_read_object(doc, root, typed, WD_ARRAY_LEN(typed), &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json:1:10: 'name': expected integer, got string");
    typed[0].type = WD_NODE_STR;
    typed[1].type = WD_NODE_REAL;
    typed[2].type = WD_NODE_INT;
    CHECK_OK(wd_doc_read_object(doc, root, typed, WD_ARRAY_LEN(typed), &d));
    typed[3].type = WD_NODE_OBJ;
    CHECK_ERR(wd_doc_read_object(doc, root, typed, WD_ARRAY_LEN(typed), &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json:4:9: 'any': expected object, got array");
    /* Not an object at all. */
    CHECK_ERR(wd_doc_read_object(doc, wd_node_get(root, "any"), typed, 1, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json:4:9: expected object, got array");
    CHECK_ERR(wd_doc_read_object(doc, NULL, typed, 1, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json: expected object, got nothing");
    wd_doc_free(doc);

    /* The same from YAML, with the YAML positions. */
    CHECK_OK(yparse("name: svc\nport: \"8443\"\n", NULL, &doc, &d));
    CHECK_ERR(wd_doc_read_object(doc, wd_doc_root(doc), fields, 2, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.yaml:2:7: 'port': expected integer, got string");
    wd_doc_free(doc);
    /* Keys in messages are escaped. */
    CHECK_OK(jparse("{\"a\\nb\\u00e9\": 1}", SIZE_MAX, NULL, &doc, &d));
    CHECK_ERR(wd_doc_read_object(doc, wd_doc_root(doc), fields, 2, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json:1:2: unknown key 'a\\x0ab\\xc3\\xa9'");
    wd_doc_free(doc);
}

TEST(doc_error_and_names)
{
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(jparse("\n  [1, 2]", SIZE_MAX, NULL, &doc, &d));
    const struct wd_node *r = wd_doc_root(doc);
    CHECK_ERR(wd_doc_error(doc, r->u.arr.items[1], &d, "bad %s %d", "value", 2), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json:2:7: bad value 2");
    CHECK_ERR(wd_doc_error(doc, NULL, &d, "whole file"), WD_ECONFIG);
    CHECK_STR(d.msg, "t.json: whole file");
    CHECK_ERR(wd_doc_error(doc, r, NULL, "no diag"), WD_ECONFIG);
    wd_doc_free(doc);
    CHECK_STR(wd_node_type_name(WD_NODE_NULL), "null");
    CHECK_STR(wd_node_type_name(WD_NODE_BOOL), "boolean");
    CHECK_STR(wd_node_type_name(WD_NODE_INT), "integer");
    CHECK_STR(wd_node_type_name(WD_NODE_REAL), "number");
    CHECK_STR(wd_node_type_name(WD_NODE_STR), "string");
    CHECK_STR(wd_node_type_name(WD_NODE_ARR), "array");
    CHECK_STR(wd_node_type_name(WD_NODE_OBJ), "object");
    CHECK_STR(wd_node_type_name((enum wd_node_type)99), "unknown");
}

/* Files. */

TEST(load_file)
{
    char dir[] = "/tmp/wd-doc-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char jpath[256], ypath[256], missing[256];
    (void)snprintf(jpath, sizeof(jpath), "%s/a.json", dir);
    (void)snprintf(ypath, sizeof(ypath), "%s/a.yaml", dir);
    (void)snprintf(missing, sizeof(missing), "%s/nope.json", dir);
    struct wd_diag d;
    CHECK_OK(wd_file_write_atomic(jpath, "{\"a\": [1,\n 2,]}", 15, 0600, &d));
    CHECK_OK(wd_file_write_atomic(ypath, "a: 1\nb: [x]\n", 12, 0600, &d));
    struct wd_doc *doc = NULL;
    /* Errors name the path and point into the file. */
    CHECK_ERR(wd_json_load_file(jpath, NULL, &doc, &d), WD_EPROTO);
    CHECK(doc == NULL);
    char want[512];
    (void)snprintf(want, sizeof(want), "%s:2:3: trailing comma", jpath);
    CHECK_STR(d.msg, want);
    CHECK_OK(wd_file_write_atomic(jpath, "{\"a\": [1, 2]}", 13, 0600, &d));
    CHECK_OK(wd_json_load_file(jpath, NULL, &doc, &d));
    CHECK_STR(wd_doc_file(doc), jpath);
    CHECK_EQ(wd_node_get(wd_doc_root(doc), "a")->u.arr.n, 2);
    wd_doc_free(doc);
    CHECK_OK(wd_yaml_load_file(ypath, NULL, &doc, &d));
    CHECK_STR(wd_node_get(wd_doc_root(doc), "b")->u.arr.items[0]->u.s.p, "x");
    wd_doc_free(doc);
    /* Missing file and directory: WD_EIO naming the path. */
    CHECK_ERR(wd_json_load_file(missing, NULL, &doc, &d), WD_EIO);
    CHECK(doc == NULL);
    (void)snprintf(want, sizeof(want), "%s: No such file or directory", missing);
    CHECK_STR(d.msg, want);
    CHECK_ERR(wd_yaml_load_file(missing, NULL, &doc, &d), WD_EIO);
    CHECK_STR(d.msg, want);
    CHECK_ERR(wd_json_load_file(dir, NULL, &doc, &d), WD_EIO);
    (void)snprintf(want, sizeof(want), "%s: is a directory", dir);
    CHECK_STR(d.msg, want);
    CHECK_ERR(wd_yaml_load_file(dir, NULL, &doc, &d), WD_EIO);
    /* The size limit applies to the file. */
    struct wd_doc_limits small = {.max_bytes = 8};
    CHECK_ERR(wd_json_load_file(jpath, &small, &doc, &d), WD_ELIMIT);
    CHECK(doc == NULL);
    /* An empty file is an empty document. */
    CHECK_OK(wd_file_write_atomic(jpath, "", 0, 0600, &d));
    CHECK_ERR(wd_json_load_file(jpath, NULL, &doc, &d), WD_EPROTO);
    (void)snprintf(want, sizeof(want), "%s:1:1: expected a value, got end of input", jpath);
    CHECK_STR(d.msg, want);
    CHECK(unlink(jpath) == 0);
    CHECK(unlink(ypath) == 0);
    CHECK(rmdir(dir) == 0);
}

/* JSON output. */

static int appends_as(const char *s, size_t n, const char *want)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    int rc = wd_json_append_string(&b, s, n);
    int ok = rc == WD_OK && strcmp(wd_buf_str(&b), want) == 0;
    if (!ok) {
        printf("  got rc %d \"%s\", want \"%s\"\n", rc, wd_buf_str(&b), want);
    }
    wd_buf_cleanup(&b);
    return ok;
}

TEST(json_append_string)
{
    CHECK(appends_as("", 0, "\"\""));
    CHECK(appends_as("plain text", 10, "\"plain text\""));
    CHECK(appends_as("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\""));
    CHECK(appends_as("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""));
    CHECK(appends_as("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\""));
    CHECK(appends_as("a\0b", 3, "\"a\\u0000b\""));
    CHECK(appends_as("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""));
    /* Invalid bytes become U+FFFD, one per byte. */
    CHECK(appends_as("\xff", 1, "\"\xef\xbf\xbd\""));
    CHECK(appends_as("a\xc3", 2, "\"a\xef\xbf\xbd\""));
    CHECK(appends_as("\xc0\x80", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""));
    CHECK(appends_as("\xed\xa0\x80x", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\""));
    CHECK(appends_as("\xe2\x82\"", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\\\"\""));

    /* Appends after what is there; on failure the buffer is unchanged. */
    struct wd_buf b;
    wd_buf_init(&b, 10);
    CHECK_OK(wd_buf_append_str(&b, "x="));
    CHECK_OK(wd_json_append_string(&b, "abc", 3));
    CHECK_STR(wd_buf_str(&b), "x=\"abc\"");
    CHECK_ERR(wd_json_append_string(&b, "\n", 1), WD_ELIMIT);
    CHECK_STR(wd_buf_str(&b), "x=\"abc\"");
    CHECK_OK(wd_json_append_string(&b, "", 0));
    CHECK_STR(wd_buf_str(&b), "x=\"abc\"\"\"");
    wd_buf_cleanup(&b);

    /* Round trip: every byte value, through the writer and back through the parser. */
    char all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (char)i;
    }
    wd_buf_init(&b, 1 << 16);
    CHECK_OK(wd_json_append_string(&b, all, 128));
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    CHECK_OK(jparse((const char *)b.p, b.len, NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->u.s.len, 128);
    CHECK_MEM(wd_doc_root(doc)->u.s.p, all, 128);
    wd_doc_free(doc);
    wd_buf_reset(&b);
    CHECK_OK(wd_json_append_string(&b, all, 256));
    CHECK_OK(jparse((const char *)b.p, b.len, NULL, &doc, &d));
    CHECK_EQ(wd_doc_root(doc)->u.s.len, 128 + 128 * 3);
    wd_doc_free(doc);
    wd_buf_cleanup(&b);

    wd_buf_init(&b, 1 << 16);
    CHECK_ALLOC_SWEEP(wd_json_append_string(&b, "caf\xc3\xa9\n", 6), wd_buf_cleanup(&b));
    wd_buf_cleanup(&b);
}

/* Config value readers: the value of key "v" in a one-line YAML document. */
static const struct wd_node *value_of(const char *yaml, struct wd_doc **doc)
{
    *doc = NULL;
    if (wd_yaml_parse("c.yaml", yaml, strlen(yaml), NULL, doc, NULL) != WD_OK) {
        return NULL;
    }
    return wd_node_get(wd_doc_root(*doc), "v");
}

TEST(config_values)
{
    struct wd_doc *doc = NULL;
    struct wd_diag d;
    char *s = NULL;
    int64_t ms = 0;
    const struct wd_node *v = value_of("v: abc", &doc);
    CHECK_OK(wd_doc_str_dup(doc, v, "name", &s, &d));
    CHECK_STR(s, "abc");
    wd_free(s);
    s = NULL;
    CHECK_ERR(wd_doc_path_dup(doc, v, "dir", 4095, &s, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:1:4: dir must be an absolute path");
    CHECK_ERR(wd_doc_duration_ms(doc, v, "ttl", 0, 1000, &ms, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:1:4: ttl: not a duration (e.g. \"90s\", \"10m\", \"1h\")");
    wd_doc_free(doc);

    v = value_of("v: \"\"", &doc);
    CHECK_ERR(wd_doc_str_dup(doc, v, "name", &s, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:1:4: name must not be empty");
    wd_doc_free(doc);

    v = value_of("v: \"a\\0b\"", &doc);
    CHECK_ERR(wd_doc_str_dup(doc, v, "name", &s, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:1:4: name contains a NUL byte");
    wd_doc_free(doc);

    v = value_of("v: /var/lib/x", &doc);
    CHECK_ERR(wd_doc_path_dup(doc, v, "dir", 5, &s, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:1:4: dir is longer than 5 bytes");
    CHECK_OK(wd_doc_path_dup(doc, v, "dir", 4095, &s, &d));
    CHECK_STR(s, "/var/lib/x");
    wd_free(s);
    wd_doc_free(doc);

    v = value_of("v: 90s", &doc);
    CHECK_OK(wd_doc_duration_ms(doc, v, "ttl", 1000, 600000, &ms, &d));
    CHECK_EQ(ms, 90000);
    CHECK_ERR(wd_doc_duration_ms(doc, v, "ttl", 1000, 60000, &ms, &d), WD_ECONFIG);
    CHECK_STR(d.msg, "c.yaml:1:4: ttl must be between 1000 ms and 60000 ms");
    CHECK_EQ(ms, 90000);
    wd_doc_free(doc);
}

TEST(node_names)
{
    char big[257];
    memset(big, 'n', sizeof(big));
    CHECK(wd_node_name_valid("node-a.b_C9", 11));
    CHECK(wd_node_name_valid(big, 255));
    CHECK(!wd_node_name_valid(big, 256));
    CHECK(!wd_node_name_valid("", 0));
    CHECK(!wd_node_name_valid(NULL, 3));
    CHECK(!wd_node_name_valid("a/b", 3));
    CHECK(!wd_node_name_valid("a b", 3));
    CHECK(!wd_node_name_valid("a\0b", 3));
    CHECK(!wd_node_name_valid("n\xc3\xa9", 3));
}

int main(void)
{
    RUN(json_scalars);
    RUN(json_positions);
    RUN(json_int64_edges);
    RUN(json_reals);
    RUN(json_syntax_errors);
    RUN(json_strings);
    RUN(json_string_errors);
    RUN(json_duplicates);
    RUN(json_duplicates_large);
    RUN(json_limits);
    RUN(json_alloc_sweep);
    RUN(yaml_structure_and_positions);
    RUN(yaml_core_schema);
    RUN(yaml_rejections);
    RUN(yaml_syntax_errors);
    RUN(yaml_limits);
    RUN(yaml_alloc_sweep);
    RUN(read_object);
    RUN(doc_error_and_names);
    RUN(load_file);
    RUN(json_append_string);
    RUN(config_values);
    RUN(node_names);
    return HARNESS_END("doc");
}
