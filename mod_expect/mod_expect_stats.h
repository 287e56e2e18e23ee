/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_stats.h - the statistics glue: the segment's lifetime across
 * restarts, counting decisions and 417s, and reading runtime overrides.
 */
#ifndef MOD_EXPECT_STATS_H
#define MOD_EXPECT_STATS_H

#include "httpd.h"

#include "expect_policy.h"
#include "mod_expect_config.h"

int expect_stats_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* expectctl's runtime override for the request's vhost, or
 * EXPECT_POLICY_UNSET: one load from the control file's mapping. */
static inline expect_policy_t expect_stats_override(const request_rec *r)
{
    uint32_t v = __atomic_load_n(expect_srv_config(r->server)->override, __ATOMIC_RELAXED);

    return v <= (uint32_t)EXPECT_POLICY_IGNORE ? (expect_policy_t)v : EXPECT_POLICY_UNSET;
}
/* Count a decision; mark a 417 of ours for log_transaction, with what the
 * judging hook already knows of the request (whether it has content, its
 * Content-Length), so that it is not looked up twice; and take an upload
 * let through while 417s are pending in its vhost as a possible retry. */
void expect_stats_decided(request_rec *r, const expect_outcome_t *out, int has_content,
                          const char *content_length);
/* This generation's segment path; NULL when the server runs without
 * statistics. */
const char *expect_stats_path(void);
/* Count a 417, whoever produced it, record its event and remember it for
 * retry tracking; or, for any other request, see whether it is a 417'd
 * client coming back. */
int expect_stats_log_transaction(request_rec *r);
/* The parent's sweep of 417s whose window has passed (monitor hook). */
int expect_stats_monitor(apr_pool_t *p, server_rec *s);

/*
 * How many 417s the segment's retry table holds (a static zero without a
 * segment): the judging hook's second test for a request without Expect,
 * so that while nothing is pending such a request pays one load for retry
 * tracking.  A plain load, not an __atomic one: an aligned 64-bit load is
 * atomic on every target the build accepts (expect_shm.h), and a plain one
 * lets the compiler test the word in memory (cmpq) instead of loading it
 * first, which is one instruction of the no-Expect budget.  Each call
 * reads afresh: nothing is cached across requests.
 */
extern const uint64_t *expect_stats_pending_now __attribute__((visibility("hidden")));

static inline int expect_stats_maybe_retry(const request_rec *r)
{
    return *expect_stats_pending_now != 0 && *expect_srv_config(r->server)->pending != 0;
}

/* A request without Expect while 417s are pending in its vhost: if one is its
 * client's (same address, User-Agent, method and target) and it carries a
 * body, that 417 is retried.  Returns DECLINED. */
int expect_stats_arrival(request_rec *r) __attribute__((noinline));

#endif /* MOD_EXPECT_STATS_H */
