/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_siphash.h - SipHash-1-3, a keyed hash: fed in pieces
 * (expect_sip_feed) or, on the request path, word by word and field by
 * field (expect_sip_field), which needs no copying.
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
#include <string.h>

/* Compression and finalization rounds: 1 and 3.  Settable only so that a
 * unit test can build the 2-4 variant and check the paper's test vector. */
#ifndef EXPECT_SIP_C_ROUNDS
#define EXPECT_SIP_C_ROUNDS 1
#endif
#ifndef EXPECT_SIP_D_ROUNDS
#define EXPECT_SIP_D_ROUNDS 3
#endif

typedef struct {
    uint64_t v0, v1, v2, v3;
    uint64_t tail;      /* bytes fed but not yet compressed, little-endian */
    unsigned ntail;     /* how many (0..7) */
    uint64_t len;       /* bytes fed in all */
} expect_sip_t;

#define EXPECT_SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void expect_sip_round(expect_sip_t *s)
{
    s->v0 += s->v1;
    s->v1 = EXPECT_SIP_ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = EXPECT_SIP_ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = EXPECT_SIP_ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = EXPECT_SIP_ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = EXPECT_SIP_ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = EXPECT_SIP_ROTL(s->v2, 32);
}

/* Compress one 64-bit word of message. */
static inline void expect_sip_word(expect_sip_t *s, uint64_t m)
{
    int i;

    s->v3 ^= m;
    for (i = 0; i < EXPECT_SIP_C_ROUNDS; i++) {
        expect_sip_round(s);
    }
    s->v0 ^= m;
}

/* Eight bytes as a little-endian word, whatever the host's order. */
static inline uint64_t expect_sip_le64(const unsigned char *p)
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

/*
 * One field of a structured input, as whole words: its bytes, then a NUL
 * and zeros to the end of a word.  A field holds no NUL (each is a C
 * string, or part of one), so a sequence of fields reads back one way only:
 * "ab","c" is not "a","bc", whatever the key.  Not to be mixed with
 * expect_sip_feed on one state.
 */
static inline void expect_sip_field(expect_sip_t *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t n = len;
    uint64_t w = 0;

    for (; n >= 8; p += 8, n -= 8) {
        expect_sip_word(s, expect_sip_le64(p));
    }
    /* The last 0 to 7 bytes: never read past the field, which may end a
     * page. */
    switch (n) {
    case 7: w |= (uint64_t)p[6] << 48; /* fall through */
    case 6: w |= (uint64_t)p[5] << 40; /* fall through */
    case 5: w |= (uint64_t)p[4] << 32; /* fall through */
    case 4: w |= (uint64_t)p[3] << 24; /* fall through */
    case 3: w |= (uint64_t)p[2] << 16; /* fall through */
    case 2: w |= (uint64_t)p[1] << 8;  /* fall through */
    case 1: w |= (uint64_t)p[0];       /* fall through */
    default: break;
    }
    expect_sip_word(s, w);
}

void expect_sip_init(expect_sip_t *s, const uint64_t key[2]);
/* Standard SipHash over a byte stream fed in any pieces. */
void expect_sip_feed(expect_sip_t *s, const void *data, size_t len);
uint64_t expect_sip_final(expect_sip_t *s);
/* The finalization alone, after expect_sip_field(). */
uint64_t expect_sip_final_fields(expect_sip_t *s);

#endif /* EXPECT_SIPHASH_H */
