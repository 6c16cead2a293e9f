/*
 * Fuzz the store URL parser (wd_store_parse_url: operator-written configuration) and check
 * what it promises: an accepted URL names a backend and a non-empty target, PostgreSQL
 * exactly for postgresql:// and postgres:// (the target is then the URL itself), SQLite
 * options within their ranges, no '?' left in a sqlite: target; a refused URL gives
 * WD_ECONFIG with a message and no target. No I/O: nothing is opened.
 */
#include <stdint.h>
#include <string.h>

#include "warden/alloc.h"
#include "warden/common.h"
#include "warden/err.h"

#include "store/store_int.h"

#define MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char url[MAX_INPUT + 1];
    const struct store_backend *be = NULL;
    struct store_opts o;
    struct wd_diag d;
    char *target = NULL;
    if (size > MAX_INPUT) {
        return 0;
    }
    memcpy(url, data, size);
    url[size] = '\0';
    d.msg[0] = '\0';
    int rc = wd_store_parse_url(url, &be, &target, &o, &d);
    if (rc != WD_OK) {
        WD_BUG_ON(rc != WD_ECONFIG && rc != WD_ENOMEM);
        WD_BUG_ON(target != NULL);
        WD_BUG_ON(rc == WD_ECONFIG && d.msg[0] == '\0');
        return 0;
    }
    bool pg = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
    WD_BUG_ON(target == NULL || target[0] == '\0');
    WD_BUG_ON(pg != (be == &wd_store_pg_backend));
    WD_BUG_ON(!pg && be != &wd_store_sqlite_backend);
    WD_BUG_ON(pg && strcmp(target, url) != 0);
    WD_BUG_ON(o.busy_timeout_ms > 600000);
    if (strncmp(url, "sqlite:", 7) == 0) {
        WD_BUG_ON(strchr(target, '?') != NULL);
        WD_BUG_ON(strstr(url, target) == NULL);
    } else if (!pg) {
        WD_BUG_ON(strcmp(target, url) != 0);
    }
    wd_free(target);
    return 0;
}
