/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_policy.c - libFuzzer harness for the header-value parsing in
 * expect_policy.c: expect_has_content(Transfer-Encoding, Content-Length),
 * expect_is_unknown_expectation(Expect) and expect_policy_parse(), each
 * compared with a straightforward reference; and expect_decide() over a
 * request shape taken from the input, checked against its contract.
 *
 * Input: byte 0 is flags (bit 0: no Transfer-Encoding, bit 1: no
 * Content-Length, bits 2-7 and byte 1: the expect_input_t fields); the
 * rest is split at its first NUL into two strings A and B, each in an
 * exact-size allocation.  A is the Transfer-Encoding, B the Content-Length;
 * both are also tried as Expect values and policy names.
 */
#include <stdlib.h>
#include <string.h>

#include "expect_policy.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* s[0, n) equals the lower-case word w, ignoring ASCII case. */
static int ieq_n(const char *s, size_t n, const char *w)
{
    size_t i;

    if (n != strlen(w)) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (lower(s[i]) != w[i]) {
            return 0;
        }
    }
    return 1;
}

/* Trim spaces and tabs; returns the start, length in *n. */
static const char *trim(const char *s, size_t *n)
{
    size_t len = strlen(s);

    while (len > 0 && ows(*s)) {
        s++;
        len--;
    }
    while (len > 0 && ows(s[len - 1])) {
        len--;
    }
    *n = len;
    return s;
}

static int ref_is_unknown(const char *v)
{
    size_t n;

    if (v == NULL) {
        return 0;
    }
    v = trim(v, &n);
    if (n == 0) {
        return 0;
    }
    return !ieq_n(v, n, "100-continue");
}

/* Content unless there is no Transfer-Encoding and the Content-Length is
 * absent or, trimmed, one or more '0' digits and nothing else. */
static int ref_has_content(const char *te, const char *cl)
{
    size_t n, i;

    if (te != NULL) {
        return 1;
    }
    if (cl == NULL) {
        return 0;
    }
    cl = trim(cl, &n);
    if (n == 0) {
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (cl[i] != '0') {
            return 1;
        }
    }
    return 0;
}

static expect_policy_t ref_policy(const char *s)
{
    size_t n = strlen(s);

    if (ieq_n(s, n, "continue")) return EXPECT_POLICY_CONTINUE;
    if (ieq_n(s, n, "reject"))   return EXPECT_POLICY_REJECT;
    if (ieq_n(s, n, "ignore"))   return EXPECT_POLICY_IGNORE;
    return EXPECT_POLICY_UNSET;
}

static void check_string(const char *s)
{
    expect_policy_t p = expect_policy_parse(s);
    const char *name = expect_policy_name(p);

    FZ_ASSERT(expect_is_unknown_expectation(s) == ref_is_unknown(s));
    FZ_ASSERT(p == ref_policy(s));
    FZ_ASSERT(name != NULL);
    if (p != EXPECT_POLICY_UNSET) {
        /* The name round-trips, and parses back. */
        FZ_ASSERT(ieq_n(s, strlen(s), name));
        FZ_ASSERT(expect_policy_parse(name) == p);
    }
    /* Any Transfer-Encoding at all means content. */
    FZ_ASSERT(expect_has_content(s, NULL) == 1);
    FZ_ASSERT(expect_has_content(s, s) == 1);
    FZ_ASSERT(expect_has_content(NULL, s) == ref_has_content(NULL, s));
}

static void check_decide(uint8_t f0, uint8_t f1)
{
    expect_input_t in;
    expect_outcome_t out;

    in.expecting_100 = (f0 >> 2) & 1;
    in.initial = (f0 >> 3) & 1;
    in.http11 = (f0 >> 4) & 1;
    in.has_content = (f0 >> 5) & 1;
    in.strict = (f0 >> 6) & 1;
    in.policy = (expect_policy_t)((int)(f1 % 4) - 1);   /* UNSET..IGNORE */
    memset(&out, 0x5a, sizeof(out));
    expect_decide(&in, &out);

    FZ_ASSERT(out.status == 0 || out.status == 417);
    FZ_ASSERT((out.status == 417) == (out.decision == EXPECT_DECIDE_REJECT));
    /* Never clear the flag before an error response (desync). */
    FZ_ASSERT(!(out.clear_expecting && out.status != 0));
    FZ_ASSERT(out.clear_expecting == 0 || out.clear_expecting == 1);
    if (!in.expecting_100 || !in.initial) {
        FZ_ASSERT(out.decision == EXPECT_DECIDE_NONE && out.status == 0
                  && !out.clear_expecting && out.why == EXPECT_WHY_NONE);
        FZ_ASSERT(expect_decision_name(out.decision) == NULL);
        return;
    }
    FZ_ASSERT(expect_decision_name(out.decision) != NULL);
    if (!in.http11) {
        FZ_ASSERT(out.decision == EXPECT_DECIDE_HTTP10);
        FZ_ASSERT(out.clear_expecting == !in.has_content);
        return;
    }
    if (!in.has_content) {
        FZ_ASSERT(out.decision == (in.strict ? EXPECT_DECIDE_REJECT : EXPECT_DECIDE_BODYLESS));
        FZ_ASSERT(out.why == (in.strict ? EXPECT_WHY_STRICT : EXPECT_WHY_NONE));
        return;
    }
    switch (in.policy) {
    case EXPECT_POLICY_REJECT:
        FZ_ASSERT(out.decision == EXPECT_DECIDE_REJECT && out.why == EXPECT_WHY_POLICY);
        break;
    case EXPECT_POLICY_IGNORE:
        FZ_ASSERT(out.decision == EXPECT_DECIDE_IGNORE && out.clear_expecting);
        break;
    default:
        FZ_ASSERT(out.decision == EXPECT_DECIDE_CONTINUE && !out.clear_expecting);
        break;
    }
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    FZ_ASSERT(s != NULL);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t f0 = size > 0 ? data[0] : 0, f1 = size > 1 ? data[1] : 0;
    const uint8_t *p = size > 2 ? data + 2 : data, *nul;
    size_t rest = size > 2 ? size - 2 : 0, alen;
    char *a, *b;
    const char *te, *cl;

    nul = rest ? memchr(p, 0, rest) : NULL;
    alen = nul ? (size_t)(nul - p) : rest;
    a = dup_n(p, alen);
    b = nul ? dup_n(nul + 1, rest - alen - 1) : dup_n(p, 0);
    /* B may hold more NULs: the C string ends at the first, as in httpd. */

    check_string(a);
    check_string(b);
    FZ_ASSERT(expect_is_unknown_expectation(NULL) == 0);
    FZ_ASSERT(expect_policy_parse(NULL) == EXPECT_POLICY_UNSET);

    te = (f0 & 1) ? NULL : a;
    cl = (f0 & 2) ? NULL : b;
    FZ_ASSERT(expect_has_content(te, cl) == ref_has_content(te, cl));

    check_decide(f0, f1);
    free(a);
    free(b);
    return 0;
}
