/*
 * Fuzz the CIDR parser: whatever parses must format to text that parses to the same
 * prefix (round trip), and must contain its own network address.
 */
#include <stdint.h>
#include <string.h>

#include "warden/cidr.h"
#include "warden/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256) {
        return 0;
    }
    struct wd_cidr c, c2;
    const char *why = NULL;
    if (wd_cidr_parse((const char *)data, size, &c, &why) != WD_OK) {
        WD_BUG_ON(why == NULL);
        return 0;
    }
    char txt[WD_CIDR_TEXT_MAX + 1];
    WD_BUG_ON(wd_cidr_format(&c, txt, sizeof(txt)) != WD_OK);
    WD_BUG_ON(wd_cidr_parse(txt, strlen(txt), &c2, NULL) != WD_OK);
    WD_BUG_ON(c2.prefix != c.prefix || c2.net.family != c.net.family);
    WD_BUG_ON(memcmp(c2.net.b, c.net.b, sizeof(c.net.b)) != 0);
    WD_BUG_ON(!wd_cidr_contains(&c, &c.net));
    return 0;
}
