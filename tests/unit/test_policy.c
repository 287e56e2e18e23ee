/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the decision function: one test per row of the
 * integration table (tests/integration/test_policy_raw.py), plus the
 * parsers.  No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "expect_policy.h"

static expect_input_t req(int http11, int has_content, expect_policy_t policy, int strict)
{
    expect_input_t in;
    in.expecting_100 = 1;
    in.initial = 1;
    in.http11 = http11;
    in.has_content = has_content;
    in.policy = policy;
    in.strict = strict;
    return in;
}

static expect_outcome_t decide(expect_input_t in)
{
    expect_outcome_t out;
    expect_decide(&in, &out);
    return out;
}

static void assert_outcome(expect_outcome_t out, expect_decision_t d, int status,
                           int clear, expect_why_t why)
{
    assert_int_equal(out.decision, d);
    assert_int_equal(out.status, status);
    assert_int_equal(out.clear_expecting, clear);
    assert_int_equal(out.why, why);
}

static void continue_with_body(void **state)
{
    (void)state;
    assert_outcome(decide(req(1, 1, EXPECT_POLICY_CONTINUE, 0)),
                   EXPECT_DECIDE_CONTINUE, 0, 0, EXPECT_WHY_NONE);
}

static void reject_with_body_keeps_flag(void **state)
{
    (void)state;
    /* The flag must stay set on a 417: clearing it is the desync trap. */
    assert_outcome(decide(req(1, 1, EXPECT_POLICY_REJECT, 0)),
                   EXPECT_DECIDE_REJECT, 417, 0, EXPECT_WHY_POLICY);
    assert_outcome(decide(req(1, 1, EXPECT_POLICY_REJECT, 1)),
                   EXPECT_DECIDE_REJECT, 417, 0, EXPECT_WHY_POLICY);
}

static void ignore_with_body_clears_flag(void **state)
{
    (void)state;
    assert_outcome(decide(req(1, 1, EXPECT_POLICY_IGNORE, 0)),
                   EXPECT_DECIDE_IGNORE, 0, 1, EXPECT_WHY_NONE);
}

static void bodyless_strict_off_under_every_policy(void **state)
{
    expect_policy_t p;
    (void)state;
    for (p = EXPECT_POLICY_CONTINUE; p <= EXPECT_POLICY_IGNORE; p++) {
        assert_outcome(decide(req(1, 0, p, 0)),
                       EXPECT_DECIDE_BODYLESS, 0, 1, EXPECT_WHY_NONE);
    }
}

static void bodyless_strict_on_rejects(void **state)
{
    expect_policy_t p;
    (void)state;
    for (p = EXPECT_POLICY_CONTINUE; p <= EXPECT_POLICY_IGNORE; p++) {
        assert_outcome(decide(req(1, 0, p, 1)),
                       EXPECT_DECIDE_REJECT, 417, 0, EXPECT_WHY_STRICT);
    }
}

static void http10_under_every_policy(void **state)
{
    expect_policy_t p;
    int strict;
    (void)state;
    for (strict = 0; strict <= 1; strict++) {
        for (p = EXPECT_POLICY_CONTINUE; p <= EXPECT_POLICY_IGNORE; p++) {
            /* With content the flag stays, so httpd closes after the response. */
            assert_outcome(decide(req(0, 1, p, strict)),
                           EXPECT_DECIDE_HTTP10, 0, 0, EXPECT_WHY_NONE);
            /* Without content, keep-alive may survive. */
            assert_outcome(decide(req(0, 0, p, strict)),
                           EXPECT_DECIDE_HTTP10, 0, 1, EXPECT_WHY_NONE);
        }
    }
}

static void not_initial_is_not_judged(void **state)
{
    expect_input_t in = req(1, 1, EXPECT_POLICY_REJECT, 1);
    (void)state;
    in.initial = 0;  /* ErrorDocument, internal redirect, subrequest */
    assert_outcome(decide(in), EXPECT_DECIDE_NONE, 0, 0, EXPECT_WHY_NONE);
}

static void no_expectation_is_not_judged(void **state)
{
    expect_input_t in = req(1, 0, EXPECT_POLICY_REJECT, 1);
    (void)state;
    in.expecting_100 = 0;
    assert_outcome(decide(in), EXPECT_DECIDE_NONE, 0, 0, EXPECT_WHY_NONE);
}

static void unset_policy_means_continue(void **state)
{
    (void)state;
    assert_outcome(decide(req(1, 1, EXPECT_POLICY_UNSET, 0)),
                   EXPECT_DECIDE_CONTINUE, 0, 0, EXPECT_WHY_NONE);
}

static void content_from_framing(void **state)
{
    (void)state;
    assert_false(expect_has_content(NULL, NULL));
    assert_false(expect_has_content(NULL, "0"));
    assert_false(expect_has_content(NULL, "000"));
    assert_false(expect_has_content(NULL, " 0 "));
    assert_true(expect_has_content("chunked", NULL));
    assert_true(expect_has_content("chunked", "0"));
    assert_true(expect_has_content(NULL, "1"));
    assert_true(expect_has_content(NULL, "0010"));
    assert_true(expect_has_content(NULL, "99999999999999999999999"));
    /* Malformed lengths count as content: never guess "no body". */
    assert_true(expect_has_content(NULL, ""));
    assert_true(expect_has_content(NULL, "-0"));
    assert_true(expect_has_content(NULL, "0x"));
    assert_true(expect_has_content(NULL, "0, 0"));
    assert_true(expect_has_content(NULL, "abc"));
}

static void unknown_expectation_like_core(void **state)
{
    (void)state;
    assert_false(expect_is_unknown_expectation(NULL));
    assert_false(expect_is_unknown_expectation(""));
    assert_false(expect_is_unknown_expectation("   "));
    assert_false(expect_is_unknown_expectation("100-continue"));
    assert_false(expect_is_unknown_expectation("100-Continue"));
    assert_false(expect_is_unknown_expectation(" \t100-CONTINUE\t "));
    assert_true(expect_is_unknown_expectation("100-continue, foo"));
    assert_true(expect_is_unknown_expectation("100-continue, 100-continue"));
    assert_true(expect_is_unknown_expectation("100-continu"));
    assert_true(expect_is_unknown_expectation("100-continuee"));
    assert_true(expect_is_unknown_expectation("foo"));
}

/* keep, dropped for one value under ExpectUnknown ignore. */
static void check_keep(const char *value, int keep, int dropped)
{
    int d = -1;

    assert_int_equal(expect_unknown_keep(value, &d), keep);
    assert_int_equal(d, dropped);
}

static void unknown_ignore_keeps_continue(void **state)
{
    (void)state;
    /* What core accepts as it is: nothing dropped. */
    check_keep(NULL, 0, 0);
    check_keep("", 0, 0);
    check_keep("  ", 0, 0);
    check_keep("100-continue", 1, 0);
    check_keep(" 100-CONTINUE ", 1, 0);
    /* A 100-continue among others, in any case, repeated, spaced. */
    check_keep("100-continue, foo", 1, 1);
    check_keep("foo,100-Continue", 1, 1);
    check_keep("100-continue, 100-continue", 1, 1);
    check_keep("foo ,\t100-continue\t, bar", 1, 1);
    check_keep("100-continue,", 1, 1);
    check_keep(",,100-continue,,", 1, 1);
    /* No 100-continue member: no expectation left. */
    check_keep("foo", 0, 1);
    check_keep("foo, bar", 0, 1);
    check_keep("100-continue;q=1", 0, 1);     /* a parameter: another expectation */
    check_keep("100-continuee, 100-continu", 0, 1);
    check_keep("100- continue", 0, 1);        /* obs-fold, as httpd joins it */
    /* Commas in a quoted string split nothing; escapes stay inside it. */
    check_keep("foo=\"a, 100-continue\"", 0, 1);
    check_keep("foo=\"a\\\", 100-continue\"", 0, 1);
    check_keep("foo=\"a, b\", 100-continue", 1, 1);
    check_keep("foo=\"unterminated, 100-continue", 0, 1);
}

static void policy_names(void **state)
{
    (void)state;
    assert_int_equal(expect_policy_parse("continue"), EXPECT_POLICY_CONTINUE);
    assert_int_equal(expect_policy_parse("REJECT"), EXPECT_POLICY_REJECT);
    assert_int_equal(expect_policy_parse("Ignore"), EXPECT_POLICY_IGNORE);
    assert_int_equal(expect_policy_parse("rejectx"), EXPECT_POLICY_UNSET);
    assert_int_equal(expect_policy_parse("reje"), EXPECT_POLICY_UNSET);
    assert_int_equal(expect_policy_parse(""), EXPECT_POLICY_UNSET);
    assert_int_equal(expect_policy_parse(NULL), EXPECT_POLICY_UNSET);
    assert_string_equal(expect_policy_name(EXPECT_POLICY_IGNORE), "ignore");
    assert_string_equal(expect_policy_name(EXPECT_POLICY_UNSET), "unset");
}

static void decision_names(void **state)
{
    (void)state;
    assert_null(expect_decision_name(EXPECT_DECIDE_NONE));
    assert_string_equal(expect_decision_name(EXPECT_DECIDE_CONTINUE), "continue");
    assert_string_equal(expect_decision_name(EXPECT_DECIDE_REJECT), "reject");
    assert_string_equal(expect_decision_name(EXPECT_DECIDE_IGNORE), "ignore");
    assert_string_equal(expect_decision_name(EXPECT_DECIDE_BODYLESS), "bodyless");
    assert_string_equal(expect_decision_name(EXPECT_DECIDE_HTTP10), "http10");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(continue_with_body),
        cmocka_unit_test(reject_with_body_keeps_flag),
        cmocka_unit_test(ignore_with_body_clears_flag),
        cmocka_unit_test(bodyless_strict_off_under_every_policy),
        cmocka_unit_test(bodyless_strict_on_rejects),
        cmocka_unit_test(http10_under_every_policy),
        cmocka_unit_test(not_initial_is_not_judged),
        cmocka_unit_test(no_expectation_is_not_judged),
        cmocka_unit_test(unset_policy_means_continue),
        cmocka_unit_test(content_from_framing),
        cmocka_unit_test(unknown_expectation_like_core),
        cmocka_unit_test(unknown_ignore_keeps_continue),
        cmocka_unit_test(policy_names),
        cmocka_unit_test(decision_names),
    };
    return cmocka_run_group_tests_name("expect_policy", tests, NULL, NULL);
}
