/* Node names (include/warden/names.h). */
#include "warden/names.h"

bool wd_node_name_valid(const char *s, size_t n)
{
    if (s == NULL || n == 0 || n > WD_NODE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}
