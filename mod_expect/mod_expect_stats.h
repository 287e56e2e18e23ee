/*
 * mod_expect_stats.h - the statistics glue: the segment's lifetime across
 * restarts, counting decisions and 417s, and reading runtime overrides.
 */
#ifndef MOD_EXPECT_STATS_H
#define MOD_EXPECT_STATS_H

#include "httpd.h"

#include "expect_policy.h"

int expect_stats_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* expectctl's runtime override for the request's vhost, or EXPECT_POLICY_UNSET. */
expect_policy_t expect_stats_override(const request_rec *r);
/* Count a decision, and mark a 417 of ours for log_transaction. */
void expect_stats_decided(request_rec *r, const expect_outcome_t *out);
/* This generation's segment path; NULL when the server runs without
 * statistics. */
const char *expect_stats_path(void);
/* Count a 417, whoever produced it, and record its event. */
int expect_stats_log_transaction(request_rec *r);

#endif /* MOD_EXPECT_STATS_H */
