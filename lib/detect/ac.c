/*
 * Aho-Corasick multi-literal matcher for the detector prefilter (Aho and Corasick, "Efficient
 * string matching", CACM 18(6), 1975), built as a full DFA over byte classes.
 *
 * Bytes that occur in some literal get a class of their own; all other bytes share class 0,
 * so a transition table row has nclass entries (usually a few dozen) instead of 256. The
 * scan table holds, for each edge, the offset of the target's row (no multiply in the
 * dependency chain from one byte to the next) with the top bit set when the target state
 * reports something, so the hot loop is one table load and one test per byte. In the root
 * state, bytes that cannot start a literal are skipped without touching the table (memchr
 * when only one byte can), which is where text spends most of its time. Reports follow the
 * dictionary suffix links (the nearest failure-chain state with literals of its own), so no
 * output list is copied.
 */
#include <string.h>

#include "warden/alloc.h"
#include "warden/err.h"

#include "detect_int.h"

#define AC_MASK     0x7FFFu
#define AC_NONE     0xFFFFu
#define AC_ROW_OUT  0x80000000u
#define AC_ROW_MASK 0x7FFFFFFFu

struct det_ac {
    uint8_t cls[256];
    uint8_t root_exit[256]; /* 1 when the byte leaves the root state */
    int root_single;        /* the only byte that leaves the root, or -1 */
    size_t nclass;
    size_t nstates;
    uint16_t *delta;   /* nstates * nclass, state numbers (build form) */
    uint32_t *rows;    /* nstates * nclass, row offsets | AC_ROW_OUT (scan form) */
    uint16_t *dict;    /* dictionary suffix link, AC_NONE when none */
    uint32_t *out_off; /* nstates + 1: the state's own reports in out[] */
    uint16_t *out;
};

void det_ac_free(struct det_ac *ac)
{
    if (ac == NULL) {
        return;
    }
    wd_free(ac->delta);
    wd_free(ac->rows);
    wd_free(ac->dict);
    wd_free(ac->out_off);
    wd_free(ac->out);
    wd_free(ac);
}

int det_ac_build(const char *const *lits, const size_t *lens, const uint16_t *ids, size_t n,
                 struct det_ac **out)
{
    int rc = WD_OK;
    uint16_t *fail = NULL, *queue = NULL, *term = NULL, *cnt = NULL;
    *out = NULL;
    struct det_ac *ac = wd_calloc(1, sizeof(*ac));
    if (ac == NULL) {
        return WD_ENOMEM;
    }
    size_t total = 1;
    for (size_t k = 0; k < n; k++) {
        WD_BUG_ON(lens[k] == 0 || lens[k] > DET_LIT_MAX);
        total += lens[k];
        for (size_t j = 0; j < lens[k]; j++) {
            uint8_t b = (uint8_t)lits[k][j];
            if (ac->cls[b] == 0) {
                ac->cls[b] = (uint8_t)(++ac->nclass);
            }
        }
    }
    ac->nclass++;
    /* At most WD_DETECT_MAX * DET_LIT_MAX + 1 = 8193 states: far below AC_MASK. */
    WD_BUG_ON(total > AC_MASK);
    ac->delta = wd_calloc(total * ac->nclass, sizeof(uint16_t));
    ac->rows = wd_calloc(total * ac->nclass, sizeof(uint32_t));
    fail = wd_calloc(total, sizeof(uint16_t));
    queue = wd_calloc(total, sizeof(uint16_t));
    term = wd_calloc(n == 0 ? 1 : n, sizeof(uint16_t));
    cnt = wd_calloc(total, sizeof(uint16_t));
    ac->dict = wd_calloc(total, sizeof(uint16_t));
    ac->out_off = wd_calloc(total + 1, sizeof(uint32_t));
    ac->out = wd_calloc(n == 0 ? 1 : n, sizeof(uint16_t));
    if (ac->delta == NULL || ac->rows == NULL || fail == NULL || queue == NULL || term == NULL
        || cnt == NULL || ac->dict == NULL || ac->out_off == NULL || ac->out == NULL) {
        rc = WD_ENOMEM;
        goto out;
    }
    memset(ac->delta, 0xFF, total * ac->nclass * sizeof(uint16_t));
    /* The trie (goto function); AC_NONE marks a missing edge until the BFS fills it. */
    ac->nstates = 1;
    for (size_t k = 0; k < n; k++) {
        size_t s = 0;
        for (size_t j = 0; j < lens[k]; j++) {
            size_t c = ac->cls[(uint8_t)lits[k][j]];
            uint16_t *e = &ac->delta[s * ac->nclass + c];
            if (*e == AC_NONE) {
                *e = (uint16_t)ac->nstates++;
            }
            s = *e;
        }
        term[k] = (uint16_t)s;
        cnt[s]++;
    }
    /* Own reports, grouped by state. */
    for (size_t s = 0; s < ac->nstates; s++) {
        ac->out_off[s + 1] = ac->out_off[s] + cnt[s];
        cnt[s] = 0;
    }
    for (size_t k = 0; k < n; k++) {
        ac->out[ac->out_off[term[k]] + cnt[term[k]]++] = ids[k];
    }
    /* Breadth-first: failure links, dictionary links and the missing DFA edges. */
    size_t head = 0, tail = 0;
    ac->dict[0] = AC_NONE;
    for (size_t c = 0; c < ac->nclass; c++) {
        uint16_t *e = &ac->delta[c];
        if (*e == AC_NONE) {
            *e = 0;
        } else {
            fail[*e] = 0;
            ac->dict[*e] = AC_NONE;
            queue[tail++] = *e;
        }
    }
    while (head < tail) {
        size_t s = queue[head++];
        for (size_t c = 0; c < ac->nclass; c++) {
            uint16_t *e = &ac->delta[s * ac->nclass + c];
            uint16_t via_fail = (uint16_t)(ac->delta[fail[s] * ac->nclass + c] & AC_MASK);
            if (*e == AC_NONE) {
                *e = via_fail;
                continue;
            }
            size_t t = *e;
            fail[t] = via_fail;
            size_t f = via_fail;
            ac->dict[t] = ac->out_off[f + 1] > ac->out_off[f] ? (uint16_t)f : ac->dict[f];
            queue[tail++] = (uint16_t)t;
        }
    }
    /* The scan form: row offsets, flagging every edge into a state that reports (its own
     * literals or a dictionary link). */
    for (size_t i = 0; i < ac->nstates * ac->nclass; i++) {
        size_t t = ac->delta[i];
        ac->rows[i] = (uint32_t)(t * ac->nclass);
        if (ac->out_off[t + 1] > ac->out_off[t] || ac->dict[t] != AC_NONE) {
            ac->rows[i] |= AC_ROW_OUT;
        }
    }
    size_t nexit = 0;
    ac->root_single = -1;
    for (size_t b = 0; b < 256; b++) {
        if (ac->delta[ac->cls[b]] != 0) {
            ac->root_exit[b] = 1;
            ac->root_single = (int)b;
            nexit++;
        }
    }
    if (nexit != 1) {
        ac->root_single = -1;
    }
    *out = ac;
    ac = NULL;
out:
    wd_free(fail);
    wd_free(queue);
    wd_free(term);
    wd_free(cnt);
    det_ac_free(ac);
    return rc;
}

size_t det_ac_scan(const struct det_ac *ac, const uint8_t *p, size_t len, uint64_t *seen,
                   size_t want)
{
    size_t nseen = 0;
    uint32_t row = 0;
    const uint32_t *rows = ac->rows;
    const uint8_t *cls = ac->cls;
    size_t i = 0;
    while (i < len) {
        if (row == 0) {
            if (ac->root_single >= 0) {
                const uint8_t *q = memchr(p + i, ac->root_single, len - i);
                if (q == NULL) {
                    break;
                }
                i = (size_t)(q - p);
            } else {
                while (i < len && !ac->root_exit[p[i]]) {
                    i++;
                }
                if (i == len) {
                    break;
                }
            }
        }
        uint32_t t = rows[row + cls[p[i++]]];
        row = t & AC_ROW_MASK;
        if (!(t & AC_ROW_OUT)) {
            continue;
        }
        for (size_t q = row / ac->nclass; q != AC_NONE; q = ac->dict[q]) {
            for (uint32_t k = ac->out_off[q]; k < ac->out_off[q + 1]; k++) {
                uint16_t id = ac->out[k];
                uint64_t bit = (uint64_t)1 << (id % 64);
                if (!(seen[id / 64] & bit)) {
                    seen[id / 64] |= bit;
                    nseen++;
                }
            }
        }
        if (nseen >= want) {
            break;
        }
    }
    return nseen;
}
