/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_policy.c - the Expect: 100-continue decision.
 *
 * The order of the rules below is the contract in docs/mod_expect.md:
 * HTTP/1.0 first (RFC 9110 s10.1.1: a server MUST ignore 100-continue from
 * an HTTP/1.0 client, whatever the policy), then the body-less rule, then
 * the configured or overridden policy.
 */
#include <string.h>

#include "expect_policy.h"

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int ascii_ieq(const char *a, const char *b)
{
    while (*a && *b) {
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b)) {
            return 0;
        }
        a++;
        b++;
    }
    return *a == *b;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

void expect_decide(const expect_input_t *in, expect_outcome_t *out)
{
    out->decision = EXPECT_DECIDE_NONE;
    out->why = EXPECT_WHY_NONE;
    out->status = 0;
    out->clear_expecting = 0;

    if (!in->expecting_100 || !in->initial) {
        return;
    }

    if (!in->http11) {
        /*
         * No 100 is ever sent to HTTP/1.0.  Without content there is nothing
         * to wait for, so dropping the flag lets a keep-alive client keep its
         * connection.  With content the flag stays: httpd then refuses
         * keep-alive, so an unread body can never become the next request.
         */
        out->decision = EXPECT_DECIDE_HTTP10;
        out->clear_expecting = !in->has_content;
        return;
    }

    if (!in->has_content) {
        if (in->strict) {
            out->decision = EXPECT_DECIDE_REJECT;
            out->why = EXPECT_WHY_STRICT;
            out->status = 417;
            return;
        }
        out->decision = EXPECT_DECIDE_BODYLESS;
        out->clear_expecting = 1;
        return;
    }

    switch (in->policy) {
    case EXPECT_POLICY_REJECT:
        out->decision = EXPECT_DECIDE_REJECT;
        out->why = EXPECT_WHY_POLICY;
        out->status = 417;
        break;
    case EXPECT_POLICY_IGNORE:
        out->decision = EXPECT_DECIDE_IGNORE;
        out->clear_expecting = 1;
        break;
    case EXPECT_POLICY_CONTINUE:
    case EXPECT_POLICY_UNSET:
    default:
        out->decision = EXPECT_DECIDE_CONTINUE;
        break;
    }
}

int expect_has_content(const char *transfer_encoding, const char *content_length)
{
    const char *p;
    int digits = 0;

    if (transfer_encoding != NULL) {
        return 1;
    }
    if (content_length == NULL) {
        return 0;
    }
    p = content_length;
    while (is_ows(*p)) {
        p++;
    }
    while (*p == '0') {
        p++;
        digits++;
    }
    if (*p >= '1' && *p <= '9') {
        return 1;
    }
    while (is_ows(*p)) {
        p++;
    }
    /* Only a well-formed zero means "no content"; "", "-0", "0x" do not. */
    return !(digits > 0 && *p == '\0');
}

/* [p, end), without the whitespace around it, is "100-continue" in any case. */
static int member_is_continue(const char *p, const char *end)
{
    static const char token[] = "100-continue";
    size_t i;

    while (p < end && is_ows(*p)) {
        p++;
    }
    while (end > p && is_ows(end[-1])) {
        end--;
    }
    if ((size_t)(end - p) != sizeof(token) - 1) {
        return 0;
    }
    for (i = 0; i < sizeof(token) - 1; i++) {
        if (ascii_lower((unsigned char)p[i]) != token[i]) {
            return 0;
        }
    }
    return 1;
}

static int blank(const char *p)
{
    while (is_ows(*p)) {
        p++;
    }
    return *p == '\0';
}

int expect_is_unknown_expectation(const char *value)
{
    if (value == NULL || blank(value)) {
        return 0;
    }
    return !member_is_continue(value, value + strlen(value));
}

int expect_unknown_keep(const char *value, int *dropped)
{
    const char *member, *p;
    int keep = 0, quoted = 0;

    *dropped = 0;
    if (value == NULL || blank(value)) {
        return 0;
    }
    if (!expect_is_unknown_expectation(value)) {
        return 1;
    }
    *dropped = 1;
    /* Members are split at commas outside quoted strings, where a
     * backslash escapes the next character (RFC 9110 5.6.1, 5.6.4). */
    for (member = p = value;; p++) {
        if (quoted && *p == '\\' && p[1] != '\0') {
            p++;
        }
        else if (*p == '"') {
            quoted = !quoted;
        }
        else if (*p == '\0' || (*p == ',' && !quoted)) {
            keep |= member_is_continue(member, p);
            if (*p == '\0') {
                break;
            }
            member = p + 1;
        }
    }
    return keep;
}

expect_policy_t expect_policy_parse(const char *name)
{
    if (name == NULL) {
        return EXPECT_POLICY_UNSET;
    }
    if (ascii_ieq(name, "continue")) {
        return EXPECT_POLICY_CONTINUE;
    }
    if (ascii_ieq(name, "reject")) {
        return EXPECT_POLICY_REJECT;
    }
    if (ascii_ieq(name, "ignore")) {
        return EXPECT_POLICY_IGNORE;
    }
    return EXPECT_POLICY_UNSET;
}

const char *expect_policy_name(expect_policy_t p)
{
    switch (p) {
    case EXPECT_POLICY_CONTINUE: return "continue";
    case EXPECT_POLICY_REJECT:   return "reject";
    case EXPECT_POLICY_IGNORE:   return "ignore";
    case EXPECT_POLICY_UNSET:
    default:                     return "unset";
    }
}

const char *expect_decision_name(expect_decision_t d)
{
    switch (d) {
    case EXPECT_DECIDE_CONTINUE: return "continue";
    case EXPECT_DECIDE_REJECT:   return "reject";
    case EXPECT_DECIDE_IGNORE:   return "ignore";
    case EXPECT_DECIDE_BODYLESS: return "bodyless";
    case EXPECT_DECIDE_HTTP10:   return "http10";
    case EXPECT_DECIDE_NONE:
    default:                     return NULL;
    }
}

int64_t expect_content_length(const char *cl)
{
    int64_t v = 0;

    if (cl == NULL || *cl == '\0') {
        return -1;
    }
    for (; *cl >= '0' && *cl <= '9'; cl++) {
        if (v > (INT64_MAX - (*cl - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (*cl - '0');
    }
    return *cl == '\0' ? v : -1;
}
