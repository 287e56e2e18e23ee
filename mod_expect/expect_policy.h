/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_policy.h - the Expect: 100-continue decision, as plain C.
 *
 * This file must not include httpd headers: it is linked into the module,
 * into expectctl and into the unit tests, none of which may depend on a
 * running server.
 */
#ifndef EXPECT_POLICY_H
#define EXPECT_POLICY_H

#include <stdint.h>

#include <stddef.h>

/* Values are stable: they are stored in shared memory by later layers. */
typedef enum {
    EXPECT_POLICY_UNSET    = -1,  /* config merge sentinel */
    EXPECT_POLICY_CONTINUE = 0,
    EXPECT_POLICY_REJECT   = 1,
    EXPECT_POLICY_IGNORE   = 2
} expect_policy_t;

#define EXPECT_POLICY_DEFAULT EXPECT_POLICY_CONTINUE

typedef enum {
    EXPECT_DECIDE_NONE = 0,   /* not ours to judge: no 100-continue, or not initial */
    EXPECT_DECIDE_CONTINUE,   /* honour: httpd sends 100 on the first body read */
    EXPECT_DECIDE_REJECT,     /* 417 now, connection closes */
    EXPECT_DECIDE_IGNORE,     /* never send 100, read the body when it comes */
    EXPECT_DECIDE_BODYLESS,   /* no content: drop the expectation, keep-alive survives */
    EXPECT_DECIDE_HTTP10      /* HTTP/1.0: RFC 9110 says ignore it */
} expect_decision_t;

/* Why a request was rejected; lets logs and counters tell the two apart. */
typedef enum {
    EXPECT_WHY_NONE = 0,
    EXPECT_WHY_POLICY,        /* ExpectPolicy reject */
    EXPECT_WHY_STRICT         /* ExpectStrict On and the request has no content */
} expect_why_t;

/* What the request looks like, reduced to what the decision needs. */
typedef struct {
    int expecting_100;   /* httpd core matched "100-continue" */
    int initial;         /* not a subrequest, internal redirect or ErrorDocument */
    int http11;          /* protocol is HTTP/1.1 or later */
    int has_content;     /* see expect_has_content() */
    expect_policy_t policy;  /* effective policy (never UNSET) */
    int strict;          /* ExpectStrict On */
} expect_input_t;

typedef struct {
    expect_decision_t decision;
    expect_why_t why;
    int status;           /* 0 to let the request go on, or 417 */
    /*
     * Clear r->expecting_100.  Only ever set when the request goes on
     * normally or has no content: clearing it before an error response
     * makes httpd wait for a body the client never sends (a desync).
     */
    int clear_expecting;
} expect_outcome_t;

void expect_decide(const expect_input_t *in, expect_outcome_t *out);

/*
 * Does the request carry content, judged from its framing headers (either
 * may be NULL)?  Any Transfer-Encoding means content.  A Content-Length
 * means content unless it is a valid zero; a malformed one counts as
 * content, because wrongly saying "no content" is what could desync.
 */
int expect_has_content(const char *transfer_encoding, const char *content_length);

/* The declared Content-Length as httpd accepts it (digits only, no sign,
 * no overflow); -1 when absent or anything else. */
int64_t expect_content_length(const char *content_length);

/*
 * Would httpd core answer this Expect value with its own 417?  Core lets
 * through only an empty value and "100-continue" (case-insensitive); the
 * header parser has already trimmed surrounding whitespace, and so do we.
 */
int expect_is_unknown_expectation(const char *value);

/*
 * ExpectUnknown ignore: what is left of an Expect value once the
 * expectations other than 100-continue are dropped.  Returns 1 when a
 * 100-continue member remains (any case, repeated, with whitespace; a
 * member with a parameter is another expectation), else 0.  *dropped is
 * set when something was dropped: the value was not one that core accepts
 * as it is (empty, or exactly 100-continue).  Commas inside quoted
 * strings do not split members.
 */
int expect_unknown_keep(const char *value, int *dropped);

/* Name <-> value.  Parsing is case-insensitive; returns UNSET if unknown. */
expect_policy_t expect_policy_parse(const char *name);
const char *expect_policy_name(expect_policy_t p);
/* The r->notes "expect-decision" value; NULL for EXPECT_DECIDE_NONE. */
const char *expect_decision_name(expect_decision_t d);

#define EXPECT_POLICY_CHOICES "continue, reject, ignore"

#endif /* EXPECT_POLICY_H */
