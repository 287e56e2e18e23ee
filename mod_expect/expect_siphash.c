/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_siphash.c - SipHash-1-3 (see expect_siphash.h for why).
 */
#include <string.h>

#include "expect_siphash.h"

/* Compression and finalization rounds: 1 and 3.  Settable only so that a
 * unit test can build the 2-4 variant and check the paper's test vector. */
#ifndef EXPECT_SIP_C_ROUNDS
#define EXPECT_SIP_C_ROUNDS 1
#endif
#ifndef EXPECT_SIP_D_ROUNDS
#define EXPECT_SIP_D_ROUNDS 3
#endif

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void sip_round(expect_sip_t *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static inline void sip_block(expect_sip_t *s, uint64_t m)
{
    int i;

    s->v3 ^= m;
    for (i = 0; i < EXPECT_SIP_C_ROUNDS; i++) {
        sip_round(s);
    }
    s->v0 ^= m;
}

/* Eight bytes as a little-endian word, whatever the host's order. */
static inline uint64_t le64(const unsigned char *p)
{
    uint64_t w;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&w, p, sizeof(w));
#else
    int i;

    for (w = 0, i = 7; i >= 0; i--) {
        w = (w << 8) | p[i];
    }
#endif
    return w;
}

void expect_sip_init(expect_sip_t *s, const uint64_t key[2])
{
    /* "somepseudorandomlygeneratedbytes" */
    s->v0 = key[0] ^ UINT64_C(0x736f6d6570736575);
    s->v1 = key[1] ^ UINT64_C(0x646f72616e646f6d);
    s->v2 = key[0] ^ UINT64_C(0x6c7967656e657261);
    s->v3 = key[1] ^ UINT64_C(0x7465646279746573);
    s->tail = 0;
    s->ntail = 0;
    s->len = 0;
}

void expect_sip_feed(expect_sip_t *s, const void *data, size_t len)
{
    const unsigned char *p = data;

    s->len += len;
    /* Top up a partial word first, then whole words, then keep the rest. */
    while (s->ntail != 0 && len > 0) {
        s->tail |= (uint64_t)*p++ << (8 * s->ntail);
        len--;
        if (++s->ntail == 8) {
            sip_block(s, s->tail);
            s->tail = 0;
            s->ntail = 0;
        }
    }
    for (; len >= 8; p += 8, len -= 8) {
        sip_block(s, le64(p));
    }
    for (; len > 0; len--) {
        s->tail |= (uint64_t)*p++ << (8 * s->ntail++);
    }
}

uint64_t expect_sip_final(expect_sip_t *s)
{
    int i;

    sip_block(s, s->tail | (s->len << 56));
    s->v2 ^= 0xff;
    for (i = 0; i < EXPECT_SIP_D_ROUNDS; i++) {
        sip_round(s);
    }
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}
