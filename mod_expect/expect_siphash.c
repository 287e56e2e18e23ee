/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_siphash.c - SipHash-1-3 (see expect_siphash.h for why); the
 * rounds themselves are inline in the header, for the request path.
 */
#include "expect_siphash.h"

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
            expect_sip_word(s, s->tail);
            s->tail = 0;
            s->ntail = 0;
        }
    }
    for (; len >= 8; p += 8, len -= 8) {
        expect_sip_word(s, expect_sip_le64(p));
    }
    for (; len > 0; len--) {
        s->tail |= (uint64_t)*p++ << (8 * s->ntail++);
    }
}

uint64_t expect_sip_final_fields(expect_sip_t *s)
{
    int i;

    s->v2 ^= 0xff;
    for (i = 0; i < EXPECT_SIP_D_ROUNDS; i++) {
        expect_sip_round(s);
    }
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t expect_sip_final(expect_sip_t *s)
{
    expect_sip_word(s, s->tail | (s->len << 56));
    return expect_sip_final_fields(s);
}
