/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_siphash.c - the keyed hash of retry tracking.  Built here as
 * SipHash-2-4, the variant the paper gives a test vector for (the module
 * uses 1-3: the same code with fewer rounds), and fed in every split, since
 * retry keys are fed field by field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define EXPECT_SIP_C_ROUNDS 2
#define EXPECT_SIP_D_ROUNDS 4
#include "expect_siphash.c"

static const uint64_t paper_key[2] = {
    UINT64_C(0x0706050403020100), UINT64_C(0x0f0e0d0c0b0a0908)
};

/* Appendix A of the SipHash paper: key 00..0f, message 00..0e. */
static void test_paper_vector(void **state)
{
    unsigned char msg[15];
    expect_sip_t s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(msg); i++) {
        msg[i] = (unsigned char)i;
    }
    expect_sip_init(&s, paper_key);
    expect_sip_feed(&s, msg, sizeof(msg));
    assert_true(expect_sip_final(&s) == UINT64_C(0xa129ca6149be45e5));
}

/* Any split of the input gives the same hash as the whole. */
static void test_pieces(void **state)
{
    unsigned char msg[40];
    expect_sip_t s;
    uint64_t whole;
    size_t a, b, i;

    (void)state;
    for (i = 0; i < sizeof(msg); i++) {
        msg[i] = (unsigned char)(i * 7 + 3);
    }
    expect_sip_init(&s, paper_key);
    expect_sip_feed(&s, msg, sizeof(msg));
    whole = expect_sip_final(&s);
    for (a = 0; a <= sizeof(msg); a++) {
        for (b = a; b <= sizeof(msg); b++) {
            expect_sip_init(&s, paper_key);
            expect_sip_feed(&s, msg, a);
            expect_sip_feed(&s, msg + a, b - a);
            expect_sip_feed(&s, msg + b, sizeof(msg) - b);
            assert_true(expect_sip_final(&s) == whole);
        }
    }
    /* And the length counts: a trailing zero byte is another input. */
    expect_sip_init(&s, paper_key);
    expect_sip_feed(&s, msg, sizeof(msg) - 1);
    assert_true(expect_sip_final(&s) != whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_vector),
        cmocka_unit_test(test_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
