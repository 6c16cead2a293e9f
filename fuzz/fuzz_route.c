/*
 * Fuzz route sets and path matching. The first line holds templates separated by spaces,
 * each "name=/template" or just "/template" (named rN); every further line is a path to
 * match. Beyond "no crash, no leak": every result is checked against a slow reference
 * matcher that tries each template on its own and keeps the most specific one (per path
 * segment: literal before parameter before catch-all), which must be the trie's answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/route.h"

#define MAX_INPUT  4096
#define MAX_ROUTES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wd_route_match m, all;

struct tmpl {
    char name[32];
    char text[MAX_INPUT + 1];
};
static struct tmpl tmpls[MAX_ROUTES];

/* Decoded segments of the path last matched against the catch-everything set. */
static const char *segs[WD_ROUTE_MAX_SEGMENTS];
static size_t seglen[WD_ROUTE_MAX_SEGMENTS];
static size_t nsegs;

/* Rank of template t at every path segment (0 literal, 1 parameter, 2 catch-all), or -1 when
 * it does not match. */
static int reference(const char *t, int *rank)
{
    size_t k = 0;
    const char *p = t + 1;
    if (t[1] == '\0') {
        return nsegs == 0 ? 0 : -1;
    }
    while (*p != '\0' || p[-1] == '/') {
        const char *e = strchr(p, '/');
        size_t l = e != NULL ? (size_t)(e - p) : strlen(p);
        bool param = l >= 2 && p[0] == '{' && p[l - 1] == '}';
        bool rest = param && l > 5 && memcmp(p + l - 4, "...}", 4) == 0;
        if (rest) {
            if (k >= nsegs) {
                return -1;
            }
            for (; k < nsegs; k++) {
                rank[k] = 2;
            }
            return 0;
        }
        if (k >= nsegs) {
            return -1;
        }
        if (param) {
            rank[k] = 1;
        } else if (seglen[k] == l && memcmp(segs[k], p, l) == 0) {
            rank[k] = 0;
        } else {
            return -1;
        }
        k++;
        if (e == NULL) {
            break;
        }
        p = e + 1;
    }
    return k == nsegs ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    char in[MAX_INPUT + 1];
    memcpy(in, data, size);
    in[size] = '\0';
    char *nl = memchr(in, '\n', size);
    size_t first = nl != NULL ? (size_t)(nl - in) : size;

    struct wd_route_def defs[MAX_ROUTES];
    size_t n = 0, i = 0;
    while (i < first && n < MAX_ROUTES) {
        while (i < first && in[i] == ' ') {
            i++;
        }
        size_t start = i;
        while (i < first && in[i] != ' ') {
            i++;
        }
        if (i == start) {
            break;
        }
        const char *tok = in + start;
        size_t tl = i - start;
        const char *eq = memchr(tok, '=', tl);
        if (eq != NULL && (size_t)(eq - tok) < sizeof(tmpls[n].name)) {
            memcpy(tmpls[n].name, tok, (size_t)(eq - tok));
            tmpls[n].name[eq - tok] = '\0';
            tl -= (size_t)(eq - tok) + 1;
            tok = eq + 1;
        } else {
            (void)snprintf(tmpls[n].name, sizeof(tmpls[n].name), "r%zu", n);
        }
        memcpy(tmpls[n].text, tok, tl);
        tmpls[n].text[tl] = '\0';
        defs[n] = (struct wd_route_def){.name = tmpls[n].name, .tmpl = tmpls[n].text};
        n++;
    }
    struct wd_route_set *set = NULL, *every = NULL;
    struct wd_diag diag;
    int rc = wd_route_set_new(defs, n, &set, &diag);
    if (rc != WD_OK) {
        WD_BUG_ON(set != NULL);
        WD_BUG_ON(rc != WD_ECONFIG && rc != WD_ENOMEM);
        return 0;
    }
    WD_BUG_ON(wd_route_set_count(set) != n);
    static const struct wd_route_def every_def = {.name = "all", .tmpl = "/{all...}"};
    rc = wd_route_set_new(&every_def, 1, &every, NULL);
    WD_BUG_ON(rc != WD_OK);

    char *line = nl != NULL ? nl + 1 : in + size;
    while (line < in + size) {
        char *end = memchr(line, '\n', (size_t)(in + size - line));
        size_t len = end != NULL ? (size_t)(end - line) : (size_t)(in + size - line);
        rc = wd_route_match(set, line, len, &m);
        int rc2 = wd_route_match(every, line, len, &all);
        WD_BUG_ON(m.bad_path != all.bad_path);
        if (rc != WD_OK) {
            WD_BUG_ON(rc != WD_ENOENT || m.route[0] != '\0' || m.nparams != 0);
        } else {
            WD_BUG_ON(m.route[0] == '\0' || m.bad_path);
            for (size_t k = 0; k < m.nparams; k++) {
                WD_BUG_ON(strlen(m.params[k].value) != m.params[k].value_len);
                WD_BUG_ON(m.params[k].value_len == 0);
            }
        }
        if (!m.bad_path) {
            /* The reference: split the decoded path (segments never contain '/'). */
            nsegs = 0;
            if (rc2 == WD_OK) {
                const char *v = all.params[0].value;
                while (nsegs < WD_ROUTE_MAX_SEGMENTS) {
                    const char *e = strchr(v, '/');
                    segs[nsegs] = v;
                    seglen[nsegs] = e != NULL ? (size_t)(e - v) : strlen(v);
                    nsegs++;
                    if (e == NULL) {
                        break;
                    }
                    v = e + 1;
                }
            }
            int best[WD_ROUTE_MAX_SEGMENTS], cur[WD_ROUTE_MAX_SEGMENTS];
            size_t bi = n;
            for (size_t t = 0; t < n; t++) {
                if (reference(tmpls[t].text, cur) != 0) {
                    continue;
                }
                if (bi == n || memcmp(cur, best, nsegs * sizeof(int)) < 0) {
                    memcpy(best, cur, nsegs * sizeof(int));
                    bi = t;
                }
            }
            WD_BUG_ON((bi == n) != (rc != WD_OK));
            WD_BUG_ON(bi < n && strcmp(tmpls[bi].name, m.route) != 0);
        }
        line += len + 1;
    }
    wd_route_set_free(every);
    wd_route_set_free(set);
    return 0;
}
