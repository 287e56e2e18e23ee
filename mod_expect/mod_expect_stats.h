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
/* Record what the judging hook saw and decided (out NULL: a request
 * without Expect, while 417s are pending in its vhost): the decision's
 * counters, a 417 of ours marked for log_transaction with the facts
 * already looked up, and a 417'd client's upload come back, retried.  The
 * one call a request makes into this unit before log_transaction. */
void expect_stats_record(request_rec *r, const expect_facts_t *f, const expect_outcome_t *out);
/* This generation's segment path; NULL when the server runs without
 * statistics. */
const char *expect_stats_path(void);
/* Count a 417, whoever produced it, record its event and remember it for
 * retry tracking; or, for any other request, see whether it is a 417'd
 * client coming back. */
int expect_stats_log_transaction(request_rec *r);
/* The parent's sweep of 417s whose window has passed (monitor hook). */
int expect_stats_monitor(apr_pool_t *p, server_rec *s);

#endif /* MOD_EXPECT_STATS_H */
