/* Unit tests for the core modules: err, alloc, buf, reader, log, file, clock, rand. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/clock.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/log.h"
#include "warden/rand.h"

#include "harness.h"

TEST(strerror_table)
{
    CHECK_STR(wd_strerror(WD_OK), "success");
    CHECK_STR(wd_strerror(WD_ENOMEM), "out of memory");
    CHECK_STR(wd_strerror(WD_EEXPIRED), "expired or not yet valid");
    CHECK_STR(wd_strerror(-999), "unknown error");
    CHECK_STR(wd_strerror(5), "unknown error");
}

TEST(diag_format)
{
    struct wd_diag d;
    CHECK_ERR(wd_diag_set(&d, WD_ECONFIG, "a.yaml", 3, 7, "bad %s", "key"), WD_ECONFIG);
    CHECK_STR(d.msg, "a.yaml:3:7: bad key");
    CHECK_ERR(wd_diag_set(&d, WD_EIO, "f", 0, 0, "gone"), WD_EIO);
    CHECK_STR(d.msg, "f: gone");
    CHECK_ERR(wd_diag_set(&d, WD_EIO, NULL, 0, 0, "plain"), WD_EIO);
    CHECK_STR(d.msg, "plain");
    CHECK_ERR(wd_diag_set(NULL, WD_EIO, NULL, 0, 0, "ignored"), WD_EIO);
    char big[2 * WD_DIAG_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    (void)wd_diag_set(&d, WD_EIO, "f", 1, 1, "%s", big);
    CHECK_EQ(strlen(d.msg), WD_DIAG_MAX - 1);
}

TEST(alloc_counts_and_injection)
{
    long base = wd_alloc_live();
    void *a = wd_malloc(10);
    CHECK(a != NULL);
    CHECK_EQ(wd_alloc_live(), base + 1);
    wd_alloc_fail_at(2);
    void *b = wd_malloc(1);
    void *c = wd_malloc(1);
    void *d = wd_calloc(2, 2);
    CHECK(b != NULL);
    CHECK(c == NULL);
    CHECK(d == NULL);
    CHECK(wd_alloc_injected());
    wd_alloc_fail_at(0);
    CHECK(!wd_alloc_injected());
    wd_free(b);
    WD_FREE(a);
    CHECK(a == NULL);
    CHECK_NO_LEAKS(base);
    /* Overflowing sizes fail without allocating. */
    CHECK(wd_calloc(SIZE_MAX / 2, 4) == NULL);
    CHECK(wd_reallocarray(NULL, SIZE_MAX / 2, 4) == NULL);
    char *s = wd_strndup("abcdef", 3);
    CHECK_STR(s, "abc");
    wd_free(s);
    s = wd_strdup("secret");
    wd_free_secret(s, 6);
    wd_free(NULL);
    wd_free_secret(NULL, 0);
    CHECK_NO_LEAKS(base);
}

TEST(realloc_keeps_count)
{
    long base = wd_alloc_live();
    char *p = wd_reallocarray(NULL, 4, 1);
    CHECK(p != NULL);
    char *q = wd_reallocarray(p, 400, 1);
    CHECK(q != NULL);
    CHECK_EQ(wd_alloc_live(), base + 1);
    wd_alloc_fail_at(1);
    CHECK(wd_reallocarray(q, 800, 1) == NULL); /* q still owned */
    wd_alloc_fail_at(0);
    wd_free(q);
    CHECK_NO_LEAKS(base);
}

TEST(buf_append_and_cap)
{
    struct wd_buf b;
    wd_buf_init(&b, 10);
    CHECK_STR(wd_buf_str(&b), "");
    CHECK_OK(wd_buf_append_str(&b, "hello"));
    CHECK_OK(wd_buf_append_byte(&b, ' '));
    CHECK_ERR(wd_buf_append_str(&b, "world"), WD_ELIMIT);
    CHECK_STR(wd_buf_str(&b), "hello "); /* unchanged by the refused append */
    CHECK_OK(wd_buf_printf(&b, "%d", 1234));
    CHECK_EQ(b.len, 10);
    CHECK_ERR(wd_buf_printf(&b, "x"), WD_ELIMIT);
    CHECK_ERR(wd_buf_append(&b, "", 0), WD_OK);
    wd_buf_consume(&b, 6);
    CHECK_STR(wd_buf_str(&b), "1234");
    wd_buf_reset(&b);
    CHECK_EQ(b.len, 0);
    CHECK_STR(wd_buf_str(&b), "");
    CHECK_OK(wd_buf_append(&b, "ab", 2));
    size_t n = 0;
    char *s = wd_buf_steal(&b, &n);
    CHECK(s != NULL);
    CHECK_EQ(n, 2);
    CHECK_STR(s, "ab");
    wd_free(s);
    CHECK(b.p == NULL);
    /* Steal from a buffer that never allocated gives an empty string. */
    s = wd_buf_steal(&b, &n);
    CHECK(s != NULL && n == 0 && s[0] == '\0');
    wd_free(s);
    wd_buf_cleanup(&b);
    wd_buf_cleanup(NULL);
}

TEST(buf_grows_large_and_secret_cleanup)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++) {
        CHECK_OK(wd_buf_append(&b, "0123456789", 10));
    }
    CHECK_EQ(b.len, 100000);
    CHECK(b.cap <= (1 << 20) + 1);
    struct wd_slice s = wd_buf_slice(&b);
    CHECK_EQ(s.len, 100000);
    CHECK(s.p[99999] == '9');
    wd_buf_cleanup_secret(&b);
    CHECK(b.p == NULL && b.len == 0);
}

static int buf_build(struct wd_buf *b)
{
    WD_TRY(wd_buf_append_str(b, "abc"));
    for (int i = 0; i < 100; i++) {
        WD_TRY(wd_buf_printf(b, "%04d", i));
    }
    return WD_OK;
}

TEST(buf_alloc_failures)
{
    struct wd_buf b;
    wd_buf_init(&b, 1 << 16);
    CHECK_ALLOC_SWEEP(buf_build(&b), wd_buf_cleanup(&b));
}

TEST(slices)
{
    struct wd_slice s = wd_slice_from_str("abc");
    CHECK(wd_slice_eq_str(s, "abc"));
    CHECK(!wd_slice_eq_str(s, "ab"));
    CHECK(!wd_slice_eq_str(s, "abd"));
    struct wd_slice e = {NULL, 0};
    CHECK(wd_slice_eq_str(e, ""));
}

TEST(reader_bounds)
{
    const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
    struct wd_rd r;
    wd_rd_init(&r, data, sizeof(data));
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    CHECK_OK(wd_rd_u8(&r, &u8));
    CHECK_EQ(u8, 1);
    CHECK_OK(wd_rd_u16be(&r, &u16));
    CHECK_EQ(u16, 0x0203);
    CHECK_OK(wd_rd_u16le(&r, &u16));
    CHECK_EQ(u16, 0x0504);
    CHECK_OK(wd_rd_u32be(&r, &u32));
    CHECK_EQ(u32, 0x06070809);
    CHECK_EQ(wd_rd_left(&r), 0);
    CHECK_ERR(wd_rd_u8(&r, &u8), WD_EPROTO);
    wd_rd_init(&r, data, sizeof(data));
    CHECK_OK(wd_rd_u64be(&r, &u64));
    CHECK(u64 == 0x0102030405060708ULL);
    CHECK_ERR(wd_rd_u16be(&r, &u16), WD_EPROTO);
    CHECK_EQ(wd_rd_left(&r), 1); /* nothing consumed on error */
    wd_rd_init(&r, data, sizeof(data));
    CHECK_OK(wd_rd_u32le(&r, &u32));
    CHECK_EQ(u32, 0x04030201);
    CHECK_ERR(wd_rd_u64le(&r, &u64), WD_EPROTO);
    CHECK_OK(wd_rd_skip(&r, 5));
    CHECK_ERR(wd_rd_skip(&r, 1), WD_EPROTO);
    wd_rd_init(&r, data, sizeof(data));
    uint8_t copy[3];
    CHECK_OK(wd_rd_copy(&r, copy, 3));
    CHECK_EQ(copy[2], 3);
    struct wd_slice s;
    CHECK_ERR(wd_rd_bytes(&r, 7, &s), WD_EPROTO);
    CHECK_OK(wd_rd_bytes(&r, 6, &s));
    CHECK_EQ(s.len, 6);
    CHECK_OK(wd_rd_u64le(&(struct wd_rd){data, 8, 0}, &u64));
    CHECK(u64 == 0x0807060504030201ULL);
}

TEST(reader_varint)
{
    /* MQTT 5.0 §1.5.5 table: boundaries of 1..4 byte encodings. */
    static const struct {
        uint8_t b[5];
        size_t n;
        uint32_t v;
    } ok[] = {
            {{0x00}, 1, 0},
            {{0x7f}, 1, 127},
            {{0x80, 0x01}, 2, 128},
            {{0xff, 0x7f}, 2, 16383},
            {{0x80, 0x80, 0x01}, 3, 16384},
            {{0xff, 0xff, 0x7f}, 3, 2097151},
            {{0x80, 0x80, 0x80, 0x01}, 4, 2097152},
            {{0xff, 0xff, 0xff, 0x7f}, 4, 268435455},
    };
    for (size_t i = 0; i < WD_ARRAY_LEN(ok); i++) {
        struct wd_rd r;
        uint32_t v;
        wd_rd_init(&r, ok[i].b, ok[i].n);
        CHECK_OK(wd_rd_varint(&r, &v));
        CHECK_EQ(v, ok[i].v);
        CHECK_EQ(r.off, ok[i].n);
        /* Every truncation asks for more and consumes nothing. */
        for (size_t cut = 0; cut < ok[i].n; cut++) {
            wd_rd_init(&r, ok[i].b, cut);
            CHECK_ERR(wd_rd_varint(&r, &v), WD_EAGAIN);
            CHECK_EQ(r.off, 0);
        }
    }
    const uint8_t five[] = {0xff, 0xff, 0xff, 0xff, 0x01};
    struct wd_rd r;
    uint32_t v;
    wd_rd_init(&r, five, sizeof(five));
    CHECK_ERR(wd_rd_varint(&r, &v), WD_EPROTO);
    CHECK_EQ(r.off, 0);
}

TEST(log_escape)
{
    char out[64];
    CHECK_STR(wd_log_escape(out, sizeof(out), "plain text", 10), "plain text");
    CHECK_STR(wd_log_escape(out, sizeof(out), "a\nb\r\"\\", 6), "a\\x0ab\\x0d\\\"\\\\");
    CHECK_STR(wd_log_escape(out, sizeof(out), "\x00\xff", 2), "\\x00\\xff");
    char small[8];
    CHECK_STR(wd_log_escape(small, sizeof(small), "abcdefghijkl", 12), "abcd...");
    CHECK_STR(wd_log_escape(small, sizeof(small), "abcdefg", 7), "abcdefg");
    CHECK_STR(wd_log_escape(small, sizeof(small), "\x01\x02", 2), "\\x01...");
    CHECK_STR(wd_log_escape(small, 1, "abc", 3), "");
}

TEST(log_levels_and_lines)
{
    CHECK_EQ(wd_log_level_parse("debug"), WD_LOG_DEBUG);
    CHECK_EQ(wd_log_level_parse("err"), WD_LOG_ERR);
    CHECK_EQ(wd_log_level_parse("loud"), -1);
    char path[] = "/tmp/wd-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    wd_log_set_fd(fd);
    wd_log_set_level(WD_LOG_WARN);
    wd_log(WD_LOG_INFO, "hidden %d", 1);
    wd_log(WD_LOG_ERR, "shown %s", "a\nforged line");
    wd_log_set_fd(2);
    wd_log_set_level(WD_LOG_NOTICE);
    struct wd_buf b;
    wd_buf_init(&b, 4096);
    CHECK_OK(wd_file_read(path, 4096, &b, NULL));
    (void)close(fd);
    (void)unlink(path);
    const char *s = wd_buf_str(&b);
    int lines = 0;
    for (const char *c = s; *c; c++) {
        lines += *c == '\n';
    }
    int has_shown = strstr(s, "err: shown a forged line") != NULL;
    int has_hidden = strstr(s, "hidden") != NULL;
    wd_buf_cleanup(&b);
    CHECK_EQ(lines, 1);
    CHECK(has_shown);
    CHECK(!has_hidden);
}

TEST(file_atomic_write_and_read)
{
    char dir[] = "/tmp/wd-file-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/key.pem", dir);
    struct wd_diag d;
    mode_t old = umask(0);
    int rc = wd_file_write_atomic(path, "secret", 6, 0600, &d);
    umask(old);
    CHECK_OK(rc);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_OK(wd_file_write_atomic(path, "replaced", 8, 0644, &d));
    struct wd_buf b;
    wd_buf_init(&b, 100);
    CHECK_OK(wd_file_read(path, 100, &b, &d));
    CHECK_STR(wd_buf_str(&b), "replaced");
    wd_buf_reset(&b);
    CHECK_ERR(wd_file_read(path, 4, &b, &d), WD_ELIMIT);
    wd_buf_reset(&b);
    char missing[300];
    (void)snprintf(missing, sizeof(missing), "%s/none", dir);
    CHECK_ERR(wd_file_read(missing, 100, &b, &d), WD_ENOENT);
    CHECK(strstr(d.msg, "No such file") != NULL);
    CHECK_ERR(wd_file_read(dir, 100, &b, &d), WD_EIO);
    wd_buf_cleanup(&b);
    /* A directory that does not exist: error, nothing written. */
    (void)snprintf(missing, sizeof(missing), "%s/no/such/file", dir);
    CHECK_ERR(wd_file_write_atomic(missing, "x", 1, 0600, &d), WD_EIO);
    char sub[300];
    (void)snprintf(sub, sizeof(sub), "%s/sub", dir);
    CHECK_OK(wd_file_mkdir(sub, 0700, &d));
    CHECK_OK(wd_file_mkdir(sub, 0700, &d));
    CHECK_ERR(wd_file_mkdir(path, 0700, &d), WD_EIO);
    (void)rmdir(sub);
    (void)unlink(path);
    CHECK(rmdir(dir) == 0); /* no temporary file left behind */
}

TEST(clock_pin_and_format)
{
    char out[21];
    wd_clock_pin(0);
    CHECK_EQ(wd_time_now(), 0);
    CHECK_STR(wd_time_format(wd_time_now(), out), "1970-01-01T00:00:00Z");
    wd_clock_advance(86400 + 3661);
    CHECK_STR(wd_time_format(wd_time_now(), out), "1970-01-02T01:01:01Z");
    CHECK_EQ(wd_time_now_ms(), (86400 + 3661) * 1000LL);
    int64_t m1 = wd_time_mono_ms();
    wd_clock_advance(2);
    CHECK_EQ(wd_time_mono_ms() - m1, 2000);
    wd_clock_unpin();
    CHECK(wd_time_now() > 1700000000);
}

TEST(time_parse)
{
    int64_t t;
    CHECK_OK(wd_time_parse("2026-11-25T12:00:00Z", &t));
    CHECK_EQ(t, 1795608000);
    CHECK_OK(wd_time_parse("2026-11-25T13:30:00+01:30", &t));
    CHECK_EQ(t, 1795608000);
    CHECK_OK(wd_time_parse("2000-02-29T00:00:00.123Z", &t));
    CHECK_EQ(t, 951782400);
    CHECK_OK(wd_time_parse("1700000000", &t));
    CHECK_EQ(t, 1700000000);
    static const char *bad[] = {"",
                                "2026-11-25",
                                "2026-11-25T12:00:00",
                                "2026-13-01T00:00:00Z",
                                "2026-02-29T00:00:00Z",
                                "2026-11-25T24:00:00Z",
                                "2026-11-25T12:00:00+1:00",
                                "2026-11-25T12:00:00Zjunk",
                                "2026-11-25T12:00:00.Z",
                                "99999999999999",
                                "-5"};
    for (size_t i = 0; i < WD_ARRAY_LEN(bad); i++) {
        if (wd_time_parse(bad[i], &t) != WD_EPROTO) {
            printf("accepted bad time '%s'\n", bad[i]);
            CHECK(0);
        }
    }
}

TEST(duration_parse)
{
    int64_t ms;
    CHECK_OK(wd_duration_parse("90s", &ms));
    CHECK_EQ(ms, 90000);
    CHECK_OK(wd_duration_parse("1h30m", &ms));
    CHECK_EQ(ms, 5400000);
    CHECK_OK(wd_duration_parse("7d", &ms));
    CHECK_EQ(ms, 604800000);
    CHECK_OK(wd_duration_parse("1s500ms", &ms));
    CHECK_EQ(ms, 1500);
    CHECK_ERR(wd_duration_parse("", &ms), WD_EPROTO);
    CHECK_ERR(wd_duration_parse("10", &ms), WD_EPROTO);
    CHECK_ERR(wd_duration_parse("m", &ms), WD_EPROTO);
    CHECK_ERR(wd_duration_parse("5m1h", &ms), WD_EPROTO); /* units out of order */
    CHECK_ERR(wd_duration_parse("1h1h", &ms), WD_EPROTO);
    CHECK_ERR(wd_duration_parse("1x", &ms), WD_EPROTO);
    CHECK_ERR(wd_duration_parse("-1s", &ms), WD_EPROTO);
    CHECK_ERR(wd_duration_parse("999999999999999d", &ms), WD_ELIMIT);
}

TEST(rand_real_and_seeded)
{
    uint8_t a[32], b[32];
    CHECK_OK(wd_rand_bytes(a, sizeof(a)));
    CHECK_OK(wd_rand_bytes(b, sizeof(b)));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    wd_rand_set_test_seed(42);
    CHECK_OK(wd_rand_bytes(a, 13));
    wd_rand_set_test_seed(42);
    CHECK_OK(wd_rand_bytes(b, 13));
    wd_rand_set_test_seed(0);
    CHECK_MEM(a, b, 13);
}

int main(void)
{
    RUN(strerror_table);
    RUN(diag_format);
    RUN(alloc_counts_and_injection);
    RUN(realloc_keeps_count);
    RUN(buf_append_and_cap);
    RUN(buf_grows_large_and_secret_cleanup);
    RUN(buf_alloc_failures);
    RUN(slices);
    RUN(reader_bounds);
    RUN(reader_varint);
    RUN(log_escape);
    RUN(log_levels_and_lines);
    RUN(file_atomic_write_and_read);
    RUN(clock_pin_and_format);
    RUN(time_parse);
    RUN(duration_parse);
    RUN(rand_real_and_seeded);
    return HARNESS_END("core");
}
