/* The one source of randomness: OpenSSL's CSPRNG, or a seeded stream in test builds. */
#include "warden/rand.h"

#include <stdint.h>
#include <string.h>

#include <openssl/rand.h>

#include "warden/err.h"

#ifdef WD_TESTING
static uint64_t test_state; /* 0: use the real RNG */

/* splitmix64: a tiny, well-distributed generator; only for reproducible tests. */
static uint64_t next_test_word(void)
{
    uint64_t z = (test_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
#endif

int wd_rand_bytes(void *p, size_t n)
{
#ifdef WD_TESTING
    if (test_state != 0) {
        uint8_t *o = p;
        while (n > 0) {
            uint64_t w = next_test_word();
            size_t k = n < 8 ? n : 8;
            memcpy(o, &w, k);
            o += k;
            n -= k;
        }
        return WD_OK;
    }
#endif
    while (n > 0) {
        int chunk = n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
        if (RAND_bytes(p, chunk) != 1) {
            return WD_ECRYPTO;
        }
        p = (uint8_t *)p + chunk;
        n -= (size_t)chunk;
    }
    return WD_OK;
}

void wd_rand_set_test_seed(unsigned long seed)
{
#ifdef WD_TESTING
    test_state = seed;
#else
    (void)seed;
#endif
}
