/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_siphash.h - SipHash-1-3, a keyed hash, fed in pieces.
 *
 * Retry tracking hashes what a client sends into the bucket of a shared
 * table; with a public hash anyone could choose requests that share a
 * victim's bucket and push its entry out.  SipHash with a secret key is a
 * pseudo-random function: without the key nobody can aim.  1-3 (one
 * compression round, three finalization rounds) is the variant built for
 * hash tables, and keeps the 417 path within its instruction budget.
 * Written from the SipHash paper (Aumasson, Bernstein, 2012).
 */
#ifndef EXPECT_SIPHASH_H
#define EXPECT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t v0, v1, v2, v3;
    uint64_t tail;      /* bytes not yet compressed, little-endian */
    unsigned ntail;     /* how many (0..7) */
    uint64_t len;       /* bytes fed in all */
} expect_sip_t;

void expect_sip_init(expect_sip_t *s, const uint64_t key[2]);
void expect_sip_feed(expect_sip_t *s, const void *data, size_t len);
uint64_t expect_sip_final(expect_sip_t *s);

#endif /* EXPECT_SIPHASH_H */
