/*
 * All of warden's randomness comes from here: the OS CSPRNG through OpenSSL's RAND_bytes.
 * Test builds can make it a deterministic stream so that outputs are reproducible.
 */
#ifndef WD_RAND_H
#define WD_RAND_H

#include <stddef.h>

#include "warden/common.h"

/* Fill p with n cryptographically strong random bytes. WD_ECRYPTO if the RNG fails. */
WD_MUST_USE int wd_rand_bytes(void *p, size_t n);

/*
 * WD_TESTING builds only: replace the RNG with a deterministic stream from seed
 * (seed 0 restores the real RNG). Does nothing in other builds. Never affects key
 * generation inside OpenSSL, only wd_rand_bytes callers (serials, nonces, tokens, IDs).
 */
void wd_rand_set_test_seed(unsigned long seed);

#endif
