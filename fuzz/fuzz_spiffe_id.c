/*
 * Fuzz the SPIFFE ID and trust domain parsers against an independent reference check of
 * SPIFFE-ID §2 written here in a different style (split on '/', then test each part), and
 * check the round-trip properties of accepted IDs.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "warden/common.h"
#include "warden/err.h"
#include "warden/spiffe.h"

#define MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_set(uint8_t c, bool upper_ok)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'
           || (upper_ok && c >= 'A' && c <= 'Z');
}

/* The reference: is s[0..n) a valid SPIFFE ID? */
static bool reference_valid(const uint8_t *s, size_t n)
{
    if (n == 0 || n > WD_SPIFFE_ID_MAX || n < 9 || memcmp(s, "spiffe://", 9) != 0) {
        return false;
    }
    size_t i = 9, td_start = 9;
    while (i < n && s[i] != '/') {
        if (!in_set(s[i], false)) {
            return false;
        }
        i++;
    }
    if (i == td_start || i - td_start > WD_SPIFFE_TD_MAX) {
        return false;
    }
    while (i < n) {
        /* s[i] == '/': a segment follows, non-empty, not "." or "..", in the set. */
        size_t seg = ++i;
        while (i < n && s[i] != '/') {
            if (!in_set(s[i], true)) {
                return false;
            }
            i++;
        }
        size_t len = i - seg;
        if (len == 0 || (len == 1 && s[seg] == '.')
            || (len == 2 && s[seg] == '.' && s[seg + 1] == '.')) {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    const char *s = (const char *)data;
    struct wd_spiffe_id id;
    enum wd_spiffe_err why = WD_SPIFFE_OK;
    struct wd_diag diag;
    int rc = wd_spiffe_id_parse(s, size, &id, &why, &diag);
    bool ok = rc == WD_OK;
    WD_BUG_ON(ok != reference_valid(data, size));
    if (!ok) {
        WD_BUG_ON(rc != WD_EPROTO || why == WD_SPIFFE_OK);
        WD_BUG_ON(strncmp(diag.msg, "spiffe: ", 8) != 0);
        WD_BUG_ON(strcmp(wd_spiffe_err_name(why), "unknown") == 0);
    } else {
        WD_BUG_ON(why != WD_SPIFFE_OK || id.len != size || memcmp(id.str, s, size) != 0);
        WD_BUG_ON(id.str[size] != '\0');
        struct wd_spiffe_td td;
        wd_spiffe_id_td(&id, &td);
        WD_BUG_ON(!wd_spiffe_id_member_of(&id, &td));
        /* The trust domain alone, and re-made from its parts, give the same ID. */
        struct wd_spiffe_td td2;
        WD_BUG_ON(wd_spiffe_td_parse(td.name, td.len, &td2, NULL, NULL) != WD_OK);
        WD_BUG_ON(!wd_spiffe_td_eq(&td, &td2));
        struct wd_spiffe_id again;
        WD_BUG_ON(wd_spiffe_id_make(&td, wd_spiffe_id_path(&id), &again, NULL, NULL) != WD_OK);
        WD_BUG_ON(!wd_spiffe_id_eq(&id, &again));
    }
    /* The trust-domain parser must agree with the ID parser on "spiffe://<input>". */
    struct wd_spiffe_td td;
    rc = wd_spiffe_td_parse(s, size, &td, &why, &diag);
    if (rc == WD_OK) {
        WD_BUG_ON(td.len == 0 || td.len > WD_SPIFFE_TD_MAX || strlen(td.name) != td.len);
        for (size_t i = 0; i < td.len; i++) {
            WD_BUG_ON(!in_set((uint8_t)td.name[i], false));
        }
    } else {
        WD_BUG_ON(rc != WD_EPROTO || why == WD_SPIFFE_OK);
    }
    return 0;
}
