/*
 * http1_corpus DATA_DIR: runs warden's HTTP/1.1 parser over llhttp's markdown test corpus
 * (the .md files of DATA_DIR/llhttp/request and .../response, MIT, see DATA_DIR/llhttp/LICENSE) and
 * compares it with what llhttp's strict mode logged for each case.
 *
 * A case is one heading with a `<!-- meta=... -->` line, an ```http block (the input, with
 * llhttp's escapes: lines joined with CRLF, "\r" "\n" "\t" "\f" "\xHH" "\OOO" and a trailing
 * backslash joining lines) and a ```log block (llhttp's callbacks: spans, "headers
 * complete", "message complete", "error code=..."). From the log the runner rebuilds the
 * messages llhttp saw (method, URL, version, status, reason, header and trailer fields,
 * body bytes, completion) and whether it refused the input; warden's parser is run on the
 * same bytes, once whole and once one byte at a time (which must agree exactly), and the two
 * are compared:
 *   - llhttp refuses  -> warden must refuse, having completed the same messages before;
 *   - llhttp accepts  -> warden must parse the same messages the same way, or refuse with
 *                        the reason that DATA_DIR/warden-stricter.txt lists for the case
 *                        (or by its "rule" lines: a missing Host is then re-checked with
 *                        the Host requirement off, and everything else must agree);
 *   - llhttp pauses on CONNECT/Upgrade -> warden's message must be a tunnel or upgrade.
 * Cases for llhttp-only features are skipped and counted by reason. An allow-list entry
 * that no case needs is a failure too. The last line is "http1-corpus: N passed, N failed".
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/buf.h"
#include "warden/err.h"
#include "warden/file.h"
#include "warden/http1.h"

#define MAX_MSGS   8
#define MAX_FIELDS 64
#define BUF_CAP    (1u << 20)

struct kv {
    struct wd_buf name, value;
};

struct mmsg {
    bool head_done, complete;
    struct wd_buf method, url, protocol, version, reason, body;
    unsigned status;
    struct kv hdr[MAX_FIELDS], trl[MAX_FIELDS];
    size_t nhdr, ntrl;
    /* llhttp log: the field being assembled from spans */
    struct wd_buf fname, fval;
};

struct model {
    struct mmsg msg[MAX_MSGS];
    size_t n;
    bool err;      /* refused (llhttp error other than a pause; warden EPROTO/ELIMIT) */
    char why[96];  /* llhttp reason text / warden reason name */
    int pause;     /* llhttp: 22 CONNECT/Upgrade, 23 PRI; warden: 22 on tunnel/upgrade */
    int finish;    /* -1: not asked; llhttp: 0/1 fine, 2 error; warden: 0 ok, 2 error */
    bool too_many; /* more messages or fields than the model holds */
    enum wd_http1_reason reason;
};

struct tcase {
    char file[64];
    char name[192];
    char type[64];
    bool pause_meta, skip_body, is_url;
    struct wd_buf input;
    struct wd_buf log;
};

struct allow {
    char file[64];
    char name[192];
    char reason[32];
    bool used;
};

static struct allow allows[256];
static size_t nallows;
static char host_rule_reason[32];
static bool host_rule_used;

static unsigned n_agreed, n_stricter, n_host_rule, n_failed;
static bool verbose;
static struct {
    const char *why;
    unsigned n;
} skips[8];

static void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    m->finish = -1;
    for (size_t i = 0; i < MAX_MSGS; i++) {
        struct mmsg *g = &m->msg[i];
        wd_buf_init(&g->method, BUF_CAP);
        wd_buf_init(&g->url, BUF_CAP);
        wd_buf_init(&g->protocol, BUF_CAP);
        wd_buf_init(&g->version, BUF_CAP);
        wd_buf_init(&g->reason, BUF_CAP);
        wd_buf_init(&g->body, BUF_CAP);
        wd_buf_init(&g->fname, BUF_CAP);
        wd_buf_init(&g->fval, BUF_CAP);
        for (size_t j = 0; j < MAX_FIELDS; j++) {
            wd_buf_init(&g->hdr[j].name, BUF_CAP);
            wd_buf_init(&g->hdr[j].value, BUF_CAP);
            wd_buf_init(&g->trl[j].name, BUF_CAP);
            wd_buf_init(&g->trl[j].value, BUF_CAP);
        }
    }
}

static void model_cleanup(struct model *m)
{
    for (size_t i = 0; i < MAX_MSGS; i++) {
        struct mmsg *g = &m->msg[i];
        wd_buf_cleanup(&g->method);
        wd_buf_cleanup(&g->url);
        wd_buf_cleanup(&g->protocol);
        wd_buf_cleanup(&g->version);
        wd_buf_cleanup(&g->reason);
        wd_buf_cleanup(&g->body);
        wd_buf_cleanup(&g->fname);
        wd_buf_cleanup(&g->fval);
        for (size_t j = 0; j < MAX_FIELDS; j++) {
            wd_buf_cleanup(&g->hdr[j].name);
            wd_buf_cleanup(&g->hdr[j].value);
            wd_buf_cleanup(&g->trl[j].name);
            wd_buf_cleanup(&g->trl[j].value);
        }
    }
}

/* Append, treating a full buffer as "too many" (the corpus is far below the caps). */
static void put(struct model *m, struct wd_buf *b, const void *p, size_t n)
{
    if (wd_buf_append(b, p, n) < 0) {
        m->too_many = true;
    }
}

static struct mmsg *cur(struct model *m)
{
    return m->n > 0 ? &m->msg[m->n - 1] : NULL;
}

static void add_field(struct model *m, struct mmsg *g, bool trailer, const uint8_t *n, size_t nl,
                      const uint8_t *v, size_t vl)
{
    size_t *cnt = trailer ? &g->ntrl : &g->nhdr;
    struct kv *arr = trailer ? g->trl : g->hdr;
    if (*cnt == MAX_FIELDS) {
        m->too_many = true;
        return;
    }
    /* llhttp keeps trailing whitespace in a value; RFC 9110 §5.5 excludes it. */
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
        vl--;
    }
    put(m, &arr[*cnt].name, n, nl);
    put(m, &arr[*cnt].value, v, vl);
    (*cnt)++;
}

/* ---- the llhttp side: rebuild the messages from the log ---- */

static void log_line(struct model *m, const char *line)
{
    if (strncmp(line, "off=NULL finish=", 16) == 0) {
        m->finish = (int)strtol(line + 16, NULL, 10);
        return;
    }
    if (strncmp(line, "off=", 4) != 0) {
        return;
    }
    const char *rest = strchr(line, ' ');
    if (rest == NULL) {
        return;
    }
    rest++;
    struct mmsg *g = cur(m);
    if (strcmp(rest, "message begin") == 0) {
        if (m->n == MAX_MSGS) {
            m->too_many = true;
            return;
        }
        m->n++;
        return;
    }
    if (g == NULL) {
        return;
    }
    if (strncmp(rest, "len=", 4) == 0) {
        const char *sp = strstr(rest, "span[");
        const char *close = sp != NULL ? strstr(sp, "]=") : NULL;
        if (close == NULL) {
            return;
        }
        char name[40];
        size_t nl = (size_t)(close - sp - 5);
        if (nl >= sizeof(name)) {
            return;
        }
        memcpy(name, sp + 5, nl);
        name[nl] = '\0';
        const char *v = close + 2;
        const char *val;
        size_t vl;
        if (strcmp(v, "cr") == 0) {
            val = "\r";
            vl = 1;
        } else if (strcmp(v, "lf") == 0) {
            val = "\n";
            vl = 1;
        } else {
            /* The value is printed raw between the first and the last quote. */
            const char *last = strrchr(v, '"');
            if (v[0] != '"' || last == v) {
                return;
            }
            val = v + 1;
            vl = (size_t)(last - v - 1);
        }
        if (strcmp(name, "method") == 0) {
            put(m, &g->method, val, vl);
        } else if (strcmp(name, "url") == 0) {
            put(m, &g->url, val, vl);
        } else if (strcmp(name, "protocol") == 0) {
            put(m, &g->protocol, val, vl);
        } else if (strcmp(name, "version") == 0) {
            put(m, &g->version, val, vl);
        } else if (strcmp(name, "status") == 0) {
            put(m, &g->reason, val, vl);
        } else if (strcmp(name, "header_field") == 0) {
            put(m, &g->fname, val, vl);
        } else if (strcmp(name, "header_value") == 0) {
            put(m, &g->fval, val, vl);
        } else if (strcmp(name, "body") == 0) {
            put(m, &g->body, val, vl);
        }
        return;
    }
    if (strcmp(rest, "header_value complete") == 0) {
        add_field(m, g, g->head_done, g->fname.p, g->fname.len, g->fval.p, g->fval.len);
        wd_buf_reset(&g->fname);
        wd_buf_reset(&g->fval);
        return;
    }
    if (strncmp(rest, "headers complete ", 17) == 0) {
        g->head_done = true;
        const char *s = strstr(rest, "status=");
        if (s != NULL) {
            g->status = (unsigned)strtoul(s + 7, NULL, 10);
        }
        return;
    }
    if (strcmp(rest, "message complete") == 0) {
        g->complete = true;
        return;
    }
    if (strncmp(rest, "error code=", 11) == 0) {
        int code = (int)strtol(rest + 11, NULL, 10);
        if (code == 21 || code == 22 || code == 23) {
            m->pause = code;
            return;
        }
        m->err = true;
        const char *r = strstr(rest, "reason=");
        (void)snprintf(m->why, sizeof(m->why), "%s", r != NULL ? r + 7 : rest);
    }
}

static void parse_log(struct model *m, const struct wd_buf *log)
{
    const char *s = wd_buf_str(log);
    while (*s != '\0') {
        const char *e = strchr(s, '\n');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        char line[8192];
        if (n < sizeof(line)) {
            memcpy(line, s, n);
            line[n] = '\0';
            log_line(m, line);
        }
        s += n + (e != NULL ? 1 : 0);
    }
}

/* ---- the warden side ---- */

struct run_opts {
    enum wd_http1_kind kind;
    bool head_request; /* response case with llhttp's skipBody: the request was HEAD */
    bool relax_host;
    bool finish;
    bool bytewise;
};

static void on_head(struct model *m, const struct wd_http1_parser *p)
{
    if (m->n == MAX_MSGS) {
        m->too_many = true;
        return;
    }
    struct mmsg *g = &m->msg[m->n++];
    const struct wd_http1_msg *h = wd_http1_msg(p);
    g->head_done = true;
    if (p->kind == WD_HTTP1_REQUEST) {
        put(m, &g->method, h->method_name.p, h->method_name.len);
        put(m, &g->url, h->target.p, h->target.len);
    } else {
        put(m, &g->reason, h->reason.p, h->reason.len);
        g->status = h->status;
    }
    put(m, &g->protocol, "HTTP", 4);
    put(m, &g->version, h->version == 10 ? "1.0" : "1.1", 3);
    for (size_t i = 0; i < h->nfields; i++) {
        struct wd_slice n, v;
        if (wd_http1_field(p, i, &n, &v)) {
            add_field(m, g, false, n.p, n.len, v.p, v.len);
        }
    }
}

static void run_warden(const struct wd_buf *in, const struct run_opts *o, struct model *m)
{
    struct wd_http1_config cfg;
    wd_http1_config_default(&cfg);
    cfg.allow_missing_host = o->relax_host;
    struct wd_http1_field fields[MAX_FIELDS];
    struct wd_http1_parser p;
    wd_http1_init(&p, o->kind, &cfg, fields, MAX_FIELDS);
    if (o->head_request) {
        wd_http1_set_request_method(&p, WD_HTTP1_HEAD);
    }
    size_t pos = 0;
    size_t avail = o->bytewise ? 0 : in->len;
    for (;;) {
        struct wd_http1_step st;
        int rc = wd_http1_step(&p, in->p + pos, avail - pos, &st);
        if (rc == WD_EAGAIN) {
            pos += st.used;
            if (avail < in->len) {
                avail++;
                continue;
            }
            break;
        }
        if (rc < 0) {
            m->err = true;
            m->reason = wd_http1_reason(&p);
            (void)snprintf(m->why, sizeof(m->why), "%s", wd_http1_reason_name(m->reason));
            return;
        }
        struct mmsg *g = cur(m);
        switch (st.ev) {
        case WD_HTTP1_EV_HEAD:
            on_head(m, &p);
            break;
        case WD_HTTP1_EV_DATA:
            if (g != NULL) {
                put(m, &g->body, st.data.p, st.data.len);
            }
            break;
        case WD_HTTP1_EV_TRAILERS:
            for (size_t i = 0; g != NULL && i < wd_http1_msg(&p)->ntrailers; i++) {
                struct wd_slice n, v;
                if (wd_http1_trailer(&p, i, &n, &v)) {
                    add_field(m, g, true, n.p, n.len, v.p, v.len);
                }
            }
            break;
        case WD_HTTP1_EV_END:
            if (g != NULL) {
                g->complete = true;
            }
            if (wd_http1_msg(&p)->upgrade || wd_http1_msg(&p)->tunnel) {
                /* The connection stops being HTTP here, as llhttp's pause says. */
                m->pause = 22;
                return;
            }
            break;
        }
        pos += st.used;
    }
    if (o->finish) {
        int rc = wd_http1_finish(&p);
        m->finish = rc == WD_OK ? 0 : 2;
    }
}

/* ---- comparison ---- */

static bool buf_eq(const struct wd_buf *a, const struct wd_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static bool msg_eq(const struct mmsg *x, const struct mmsg *a, enum wd_http1_kind kind, char *diff,
                   size_t dn)
{
    if (kind == WD_HTTP1_REQUEST) {
        if (!buf_eq(&x->method, &a->method) || !buf_eq(&x->url, &a->url)) {
            (void)snprintf(diff, dn, "request line: llhttp %s %s, warden %s %s",
                           wd_buf_str(&x->method), wd_buf_str(&x->url), wd_buf_str(&a->method),
                           wd_buf_str(&a->url));
            return false;
        }
    } else if (x->status != a->status || !buf_eq(&x->reason, &a->reason)) {
        (void)snprintf(diff, dn, "status: llhttp %u '%s', warden %u '%s'", x->status,
                       wd_buf_str(&x->reason), a->status, wd_buf_str(&a->reason));
        return false;
    }
    if (!buf_eq(&x->version, &a->version)) {
        (void)snprintf(diff, dn, "version: llhttp %s, warden %s", wd_buf_str(&x->version),
                       wd_buf_str(&a->version));
        return false;
    }
    if (x->nhdr != a->nhdr || x->ntrl != a->ntrl) {
        (void)snprintf(diff, dn, "field count: llhttp %zu+%zu, warden %zu+%zu", x->nhdr, x->ntrl,
                       a->nhdr, a->ntrl);
        return false;
    }
    for (size_t i = 0; i < x->nhdr + x->ntrl; i++) {
        const struct kv *f = i < x->nhdr ? &x->hdr[i] : &x->trl[i - x->nhdr];
        const struct kv *g = i < x->nhdr ? &a->hdr[i] : &a->trl[i - x->nhdr];
        if (!buf_eq(&f->name, &g->name) || !buf_eq(&f->value, &g->value)) {
            (void)snprintf(diff, dn, "field %zu: llhttp '%s: %s', warden '%s: %s'", i,
                           wd_buf_str(&f->name), wd_buf_str(&f->value), wd_buf_str(&g->name),
                           wd_buf_str(&g->value));
            return false;
        }
    }
    if (!buf_eq(&x->body, &a->body)) {
        (void)snprintf(diff, dn, "body: llhttp %zu bytes, warden %zu bytes", x->body.len,
                       a->body.len);
        return false;
    }
    if (x->complete != a->complete) {
        (void)snprintf(diff, dn, "completion: llhttp %d, warden %d", x->complete, a->complete);
        return false;
    }
    return true;
}

static size_t completed(const struct model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        n += m->msg[i].complete ? 1 : 0;
    }
    return n;
}

static size_t heads(const struct model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        n += m->msg[i].head_done ? 1 : 0;
    }
    return n;
}

/* The messages llhttp finished parsing, in order (partial heads have no counterpart). */
static const struct mmsg *nth_head(const struct model *m, size_t k)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->msg[i].head_done && k-- == 0) {
            return &m->msg[i];
        }
    }
    return NULL;
}

/* Same messages, same parse: the agreement test for inputs both parsers accept. */
static bool models_agree(const struct model *x, const struct model *a, enum wd_http1_kind kind,
                         char *diff, size_t dn)
{
    if (x->too_many || a->too_many) {
        (void)snprintf(diff, dn, "model overflow");
        return false;
    }
    if (heads(x) != heads(a)) {
        (void)snprintf(diff, dn, "messages: llhttp %zu, warden %zu", heads(x), heads(a));
        return false;
    }
    for (size_t i = 0; i < heads(x); i++) {
        if (!msg_eq(nth_head(x, i), nth_head(a, i), kind, diff, dn)) {
            return false;
        }
    }
    if ((x->pause == 22) != (a->pause == 22)) {
        (void)snprintf(diff, dn, "CONNECT/Upgrade stop: llhttp %d, warden %d", x->pause == 22,
                       a->pause == 22);
        return false;
    }
    if (x->finish >= 0 && (x->finish == 2) != (a->finish == 2)) {
        (void)snprintf(diff, dn, "finish: llhttp %d, warden %d", x->finish, a->finish);
        return false;
    }
    return true;
}

/* Whole and byte-at-a-time runs must be identical in every respect. */
static bool models_same(const struct model *a, const struct model *b, enum wd_http1_kind kind,
                        char *diff, size_t dn)
{
    if (a->err != b->err || a->reason != b->reason || a->pause != b->pause || a->finish != b->finish
        || a->n != b->n) {
        (void)snprintf(diff, dn, "whole vs byte-at-a-time: %s/%zu vs %s/%zu", a->why, a->n, b->why,
                       b->n);
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (!msg_eq(&a->msg[i], &b->msg[i], kind, diff, dn)) {
            return false;
        }
    }
    return true;
}

static struct allow *find_allow(const struct tcase *c)
{
    for (size_t i = 0; i < nallows; i++) {
        if (strcmp(allows[i].file, c->file) == 0 && strcmp(allows[i].name, c->name) == 0) {
            return &allows[i];
        }
    }
    return NULL;
}

static void failure(const struct tcase *c, const char *what)
{
    printf("FAIL %s: %s: %s\n", c->file, c->name, what);
    n_failed++;
}

/* Run warden whole and byte-at-a-time; a mismatch between the two is a failure. */
static bool run_both(const struct tcase *c, const struct run_opts *o, struct model *a)
{
    struct model b;
    struct run_opts ob = *o;
    char diff[512];
    model_init(a);
    model_init(&b);
    run_warden(&c->input, o, a);
    ob.bytewise = true;
    run_warden(&c->input, &ob, &b);
    bool ok = models_same(a, &b, o->kind, diff, sizeof(diff));
    model_cleanup(&b);
    if (!ok) {
        failure(c, diff);
    }
    return ok;
}

static void skip(const char *why)
{
    for (size_t i = 0; i < WD_ARRAY_LEN(skips); i++) {
        if (skips[i].why == NULL || strcmp(skips[i].why, why) == 0) {
            skips[i].why = why;
            skips[i].n++;
            return;
        }
    }
}

static void run_case(const struct tcase *c)
{
    if (c->is_url) {
        skip("url.md: llhttp URL-splitter spans (no HTTP message)");
        return;
    }
    if (strstr(c->type, "lenient") != NULL) {
        skip("llhttp lenient flags");
        return;
    }
    if (c->pause_meta) {
        skip("llhttp_pause() from a callback");
        return;
    }
    struct run_opts o = {0};
    o.kind = strncmp(c->type, "response", 8) == 0 ? WD_HTTP1_RESPONSE : WD_HTTP1_REQUEST;
    o.finish = strstr(c->type, "finish") != NULL;
    if (c->skip_body) {
        if (o.kind == WD_HTTP1_REQUEST) {
            skip("skip-body return from on_headers_complete (request)");
            return;
        }
        o.head_request = true; /* a response without a body is what HEAD gets */
    }
    struct model x, a;
    char diff[512];
    model_init(&x);
    parse_log(&x, &c->log);
    for (size_t i = 0; i < x.n && !x.err; i++) {
        const char *proto = wd_buf_str(&x.msg[i].protocol);
        if (strcmp(proto, "RTSP") == 0 || strcmp(proto, "ICE") == 0) {
            skip("RTSP/ICE protocols (llhttp extension)");
            model_cleanup(&x);
            return;
        }
    }
    if (!run_both(c, &o, &a)) {
        goto out;
    }
    struct allow *al = find_allow(c);
    if (x.err) {
        /* llhttp refuses: so must warden, after completing the same messages. */
        if (!a.err) {
            failure(c, "warden accepts (or waits for more) what llhttp refuses");
        } else if (completed(&a) > completed(&x)) {
            failure(c, "warden completed a message llhttp refused");
        } else if (completed(&a) < completed(&x)) {
            goto stricter;
        } else if (al != NULL) {
            failure(c, "listed as stricter but both refuse");
        } else if (host_rule_reason[0] != '\0' && strcmp(a.why, host_rule_reason) == 0) {
            /* warden stopped at the missing Host: the rule llhttp tests must still bite. */
            struct model r;
            o.relax_host = true;
            if (run_both(c, &o, &r)) {
                if (!r.err || completed(&r) != completed(&x)) {
                    failure(c, "accepted once Host is not required, llhttp refuses");
                } else {
                    n_agreed++;
                    if (verbose) {
                        printf("agreed %s: %s: both refuse (llhttp %s; warden %s after %s)\n",
                               c->file, c->name, x.why, r.why, a.why);
                    }
                }
            }
            model_cleanup(&r);
        } else {
            n_agreed++;
            if (verbose) {
                printf("agreed %s: %s: both refuse (llhttp %s; warden %s)\n", c->file, c->name,
                       x.why, a.why);
            }
        }
        goto out;
    }
    if (!a.err) {
        if (!models_agree(&x, &a, o.kind, diff, sizeof(diff))) {
            failure(c, diff);
        } else if (al != NULL) {
            failure(c, "listed as stricter but warden accepts");
        } else {
            n_agreed++;
            if (verbose) {
                printf("agreed %s: %s: both accept (%zu messages)\n", c->file, c->name, heads(&a));
            }
        }
        goto out;
    }
stricter:
    /* warden refuses what llhttp accepts: it must say so in warden-stricter.txt. */
    if (al != NULL) {
        if (strcmp(al->reason, a.why) != 0) {
            (void)snprintf(diff, sizeof(diff), "stricter with %s, listed as %s", a.why, al->reason);
            failure(c, diff);
        } else {
            al->used = true;
            n_stricter++;
            printf("stricter %s: %s (%s)\n", c->file, c->name, a.why);
        }
        goto out;
    }
    if (host_rule_reason[0] != '\0' && strcmp(a.why, host_rule_reason) == 0) {
        /* Everything but the Host rule must agree. */
        struct model r;
        o.relax_host = true;
        if (run_both(c, &o, &r)) {
            if (r.err ? (x.err && completed(&r) == completed(&x))
                      : models_agree(&x, &r, o.kind, diff, sizeof(diff))) {
                host_rule_used = true;
                n_host_rule++;
            } else {
                failure(c, r.err ? r.why : diff);
            }
        }
        model_cleanup(&r);
        goto out;
    }
    (void)snprintf(diff, sizeof(diff), "warden refuses (%s) what llhttp accepts; not listed",
                   a.why);
    failure(c, diff);
out:
    model_cleanup(&a);
    model_cleanup(&x);
}

/* ---- markdown ---- */

/* Append the UTF-8 encoding of code point u (the fixture feeds llhttp a UTF-8 string). */
static int put_utf8(struct wd_buf *b, unsigned long u)
{
    uint8_t t[4];
    size_t n;
    if (u < 0x80) {
        t[0] = (uint8_t)u;
        n = 1;
    } else if (u < 0x800) {
        t[0] = (uint8_t)(0xc0 | (u >> 6));
        t[1] = (uint8_t)(0x80 | (u & 0x3f));
        n = 2;
    } else {
        t[0] = (uint8_t)(0xe0 | ((u >> 12) & 0x0f));
        t[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
        t[2] = (uint8_t)(0x80 | (u & 0x3f));
        n = 3;
    }
    return wd_buf_append(b, t, n);
}

/* One pass of llhttp's md-test.ts: replace the two-byte escape "\<e>" by byte to. */
static int replace_escape(struct wd_buf *s, char e, uint8_t to)
{
    struct wd_buf o;
    wd_buf_init(&o, BUF_CAP);
    int rc = WD_OK;
    for (size_t i = 0; i < s->len; i++) {
        if (s->p[i] == '\\' && i + 1 < s->len && s->p[i + 1] == (uint8_t)e) {
            rc = wd_buf_append_byte(&o, to);
            i++;
        } else {
            rc = wd_buf_append_byte(&o, s->p[i]);
        }
        if (rc < 0) {
            break;
        }
    }
    wd_buf_cleanup(s);
    *s = o;
    return rc;
}

/* Turn an ```http block into the bytes llhttp was given (test/md-test.ts, in its order). */
static int build_input(struct wd_buf *raw)
{
    struct wd_buf o;
    int rc = WD_OK;
    /* Lines were joined with "\n"; "\<newline>" joins lines; newlines become CRLF. */
    wd_buf_init(&o, BUF_CAP);
    for (size_t i = 0; i < raw->len && rc == WD_OK; i++) {
        if (raw->p[i] == '\\' && i + 1 < raw->len && raw->p[i + 1] == '\n') {
            i++;
        } else if (raw->p[i] == '\n') {
            rc = wd_buf_append(&o, "\r\n", 2);
        } else {
            rc = wd_buf_append_byte(&o, raw->p[i]);
        }
    }
    wd_buf_cleanup(raw);
    *raw = o;
    WD_TRY(rc);
    WD_TRY(replace_escape(raw, 'r', '\r'));
    WD_TRY(replace_escape(raw, 'n', '\n'));
    WD_TRY(replace_escape(raw, 't', '\t'));
    WD_TRY(replace_escape(raw, 'f', '\f'));
    /* "\xHH..." (greedy, as the JS regex) then "\OOO" octal, each one code point. */
    for (int pass = 0; pass < 2; pass++) {
        wd_buf_init(&o, BUF_CAP);
        for (size_t i = 0; i < raw->len && rc == WD_OK; i++) {
            size_t j = i + 1;
            unsigned long u = 0;
            if (raw->p[i] == '\\' && pass == 0 && j < raw->len && raw->p[j] == 'x') {
                size_t k = j + 1;
                while (k < raw->len && strchr("0123456789abcdefABCDEF", raw->p[k]) != NULL
                       && raw->p[k] != '\0') {
                    u = u * 16
                        + (unsigned long)(raw->p[k] <= '9'   ? raw->p[k] - '0'
                                          : raw->p[k] <= 'F' ? raw->p[k] - 'A' + 10
                                                             : raw->p[k] - 'a' + 10);
                    k++;
                }
                if (k > j + 1) {
                    rc = put_utf8(&o, u);
                    i = k - 1;
                    continue;
                }
            }
            if (raw->p[i] == '\\' && pass == 1 && j < raw->len && raw->p[j] >= '0'
                && raw->p[j] <= '7') {
                size_t k = j;
                while (k < raw->len && k < j + 3 && raw->p[k] >= '0' && raw->p[k] <= '7') {
                    u = u * 8 + (unsigned long)(raw->p[k] - '0');
                    k++;
                }
                rc = put_utf8(&o, u);
                i = k - 1;
                continue;
            }
            rc = wd_buf_append_byte(&o, raw->p[i]);
        }
        wd_buf_cleanup(raw);
        *raw = o;
        WD_TRY(rc);
    }
    return WD_OK;
}

/* The expected log gets "\t" and "\f" unescaped, nothing else. */
static int build_log(struct wd_buf *log)
{
    WD_TRY(replace_escape(log, 't', '\t'));
    return replace_escape(log, 'f', '\f');
}

static void meta_str(const char *meta, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    const char *k = strstr(meta, key);
    if (k == NULL) {
        return;
    }
    const char *q = strchr(k + strlen(key), '"');
    if (q == NULL) {
        return;
    }
    const char *e = strchr(q + 1, '"');
    if (e == NULL || (size_t)(e - q - 1) >= n) {
        return;
    }
    memcpy(out, q + 1, (size_t)(e - q - 1));
    out[e - q - 1] = '\0';
}

struct mdstate {
    const char *rel;
    char heading[192];
    char meta[256];
    char seen[64][192];
    size_t nseen;
    struct tcase c;
    bool have_in;
};

/* The log block of a case has closed: name it, decode it and run it. */
static void emit_case(struct mdstate *st)
{
    struct tcase *c = &st->c;
    (void)snprintf(c->file, sizeof(c->file), "%s", st->rel);
    unsigned dup = 1;
    for (size_t i = 0; i < st->nseen; i++) {
        dup += strcmp(st->seen[i], st->heading) == 0 ? 1 : 0;
    }
    if (st->nseen < WD_ARRAY_LEN(st->seen)) {
        (void)snprintf(st->seen[st->nseen++], sizeof(st->seen[0]), "%s", st->heading);
    }
    /* Headings repeat within a file ("LINK request"); later ones get " (2)", ... */
    if (dup > 1) {
        (void)snprintf(c->name, sizeof(c->name), "%.170s (%u)", st->heading, dup);
    } else {
        (void)snprintf(c->name, sizeof(c->name), "%s", st->heading);
    }
    meta_str(st->meta, "\"type\"", c->type, sizeof(c->type));
    c->pause_meta = strstr(st->meta, "\"pause\"") != NULL;
    c->skip_body = strstr(st->meta, "\"skipBody\": true") != NULL;
    if (build_input(&c->input) < 0 || build_log(&c->log) < 0) {
        failure(c, "cannot decode the case");
    } else {
        run_case(c);
    }
    st->meta[0] = '\0';
    st->have_in = false;
    wd_buf_reset(&c->input);
    wd_buf_reset(&c->log);
}

static void run_file(const char *dir, const char *rel)
{
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, rel);
    struct wd_buf text;
    wd_buf_init(&text, 16u << 20);
    struct wd_diag diag;
    if (wd_file_read(path, 16u << 20, &text, &diag) < 0) {
        printf("FAIL %s\n", diag.msg);
        n_failed++;
        wd_buf_cleanup(&text);
        return;
    }
    static struct mdstate st;
    memset(&st, 0, sizeof(st));
    st.rel = rel;
    wd_buf_init(&st.c.input, BUF_CAP);
    wd_buf_init(&st.c.log, BUF_CAP);
    int block = 0; /* 0 none, 1 input, 2 log, 3 another fence */
    bool first = true;
    const char *s = wd_buf_str(&text);
    while (*s != '\0') {
        const char *e = strchr(s, '\n');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        char line[16384];
        size_t keep = n < sizeof(line) ? n : sizeof(line) - 1;
        memcpy(line, s, keep);
        line[keep] = '\0';
        s += n + (e != NULL ? 1 : 0);
        if (block != 0) {
            if (strcmp(line, "```") == 0) {
                if (block == 2 && st.have_in) {
                    emit_case(&st);
                }
                block = 0;
                continue;
            }
            struct wd_buf *b = block == 1 ? &st.c.input : block == 2 ? &st.c.log : NULL;
            if (b != NULL) {
                /* Block lines are joined with "\n" and no trailing one, as md-test sees. */
                if ((!first && wd_buf_append_byte(b, '\n') < 0) || wd_buf_append_str(b, line) < 0) {
                    failure(&st.c, "block too large");
                }
                first = false;
            }
            continue;
        }
        if (line[0] == '#') {
            const char *h = line;
            while (*h == '#') {
                h++;
            }
            while (*h == ' ') {
                h++;
            }
            (void)snprintf(st.heading, sizeof(st.heading), "%.190s", h);
        } else if (strncmp(line, "<!-- meta=", 10) == 0) {
            (void)snprintf(st.meta, sizeof(st.meta), "%.250s", line + 10);
        } else if (strcmp(line, "```http") == 0 || strcmp(line, "```url") == 0) {
            block = 1;
            first = true;
            st.c.is_url = strcmp(line, "```url") == 0;
            st.have_in = true;
            wd_buf_reset(&st.c.input);
        } else if (strcmp(line, "```log") == 0) {
            block = 2;
            first = true;
            wd_buf_reset(&st.c.log);
        } else if (strncmp(line, "```", 3) == 0) {
            block = 3;
        }
    }
    wd_buf_cleanup(&st.c.input);
    wd_buf_cleanup(&st.c.log);
    wd_buf_cleanup(&text);
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t') {
        i++;
    }
    memmove(s, s + i, n - i + 1);
}

/* "file | case | REASON | why" lines, "rule | REASON | why", "#" comments. */
static int load_allow(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("FAIL cannot open %s\n", path);
        return -1;
    }
    char line[1024];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        trim(line);
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        char *part[4] = {line, NULL, NULL, NULL};
        for (int k = 1; k < 4; k++) {
            char *bar = strstr(part[k - 1], " | ");
            if (bar == NULL) {
                break;
            }
            *bar = '\0';
            part[k] = bar + 3;
        }
        for (int k = 0; k < 4; k++) {
            if (part[k] != NULL) {
                trim(part[k]);
            }
        }
        if (strcmp(part[0], "rule") == 0 && part[1] != NULL && part[2] != NULL) {
            (void)snprintf(host_rule_reason, sizeof(host_rule_reason), "%.31s", part[1]);
            continue;
        }
        if (part[3] == NULL || part[3][0] == '\0' || nallows == WD_ARRAY_LEN(allows)) {
            printf("FAIL %s:%u: want \"file | case | REASON | why\"\n", path, lineno);
            rc = -1;
            continue;
        }
        struct allow *a = &allows[nallows++];
        (void)snprintf(a->file, sizeof(a->file), "%.63s", part[0]);
        (void)snprintf(a->name, sizeof(a->name), "%.191s", part[1]);
        (void)snprintf(a->reason, sizeof(a->reason), "%.31s", part[2]);
    }
    (void)fclose(f);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void run_dir(const char *data, const char *sub)
{
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/llhttp/%s", data, sub);
    DIR *d = opendir(path);
    if (d == NULL) {
        printf("FAIL cannot open %s\n", path);
        n_failed++;
        return;
    }
    char names[64][128];
    const char *order[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        size_t l = strlen(e->d_name);
        if (l > 3 && strcmp(e->d_name + l - 3, ".md") == 0 && l < sizeof(names[0])) {
            (void)snprintf(names[n], sizeof(names[n]), "%.127s", e->d_name);
            order[n] = names[n];
            n++;
        }
    }
    (void)closedir(d);
    qsort(order, n, sizeof(order[0]), cmp_str);
    char base[1024];
    (void)snprintf(base, sizeof(base), "%s/llhttp", data);
    for (size_t i = 0; i < n; i++) {
        char rel[256];
        (void)snprintf(rel, sizeof(rel), "%s/%s", sub, order[i]);
        run_file(base, rel);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "-v") == 0) {
        verbose = true;
        argv++;
        argc--;
    }
    if (argc != 2) {
        (void)fprintf(stderr, "usage: %s [-v] DATA_DIR (tests/data/http)\n", argv[0]);
        return 2;
    }
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/warden-stricter.txt", argv[1]);
    if (load_allow(path) < 0) {
        n_failed++;
    }
    run_dir(argv[1], "request");
    run_dir(argv[1], "response");
    (void)snprintf(path, sizeof(path), "%s/llhttp", argv[1]);
    run_file(path, "url.md");
    for (size_t i = 0; i < nallows; i++) {
        if (!allows[i].used) {
            printf("FAIL stale allow-list entry: %s: %s\n", allows[i].file, allows[i].name);
            n_failed++;
        }
    }
    if (host_rule_reason[0] != '\0' && !host_rule_used) {
        printf("FAIL stale rule: %s\n", host_rule_reason);
        n_failed++;
    }
    unsigned skipped = 0;
    for (size_t i = 0; i < WD_ARRAY_LEN(skips) && skips[i].why != NULL; i++) {
        printf("skipped %u: %s\n", skips[i].n, skips[i].why);
        skipped += skips[i].n;
    }
    printf("http1-corpus: agreed %u, deliberately stricter %u (%u listed, %u by the %s rule), "
           "skipped %u\n",
           n_agreed, n_stricter + n_host_rule, n_stricter, n_host_rule,
           host_rule_reason[0] != '\0' ? host_rule_reason : "-", skipped);
    printf("http1-corpus: %u passed, %u failed\n", n_agreed + n_stricter + n_host_rule, n_failed);
    return n_failed == 0 ? 0 : 1;
}
