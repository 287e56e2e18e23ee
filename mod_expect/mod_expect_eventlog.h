/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_eventlog.h - ExpectEventLog: every 417 as one JSON line, to a
 * file or a piped program, written by the httpd parent from its monitor
 * hook, off every request's path.
 */
#ifndef MOD_EXPECT_EVENTLOG_H
#define MOD_EXPECT_EVENTLOG_H

#include "httpd.h"
#include "http_config.h"

#include "mod_expect_config.h"

/* The directive: FILE (relative to ServerRoot) or "|PROGRAM"; main server only. */
const char *expect_eventlog_set(cmd_parms *cmd, void *dconf, const char *arg);
/* Open the log and take up the writer's cursor; after the statistics'
 * post_config, which sets the segment. */
int expect_eventlog_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* The parent's tick: write what became final, keep what is pending. */
int expect_eventlog_monitor(apr_pool_t *p, server_rec *s);

#endif /* MOD_EXPECT_EVENTLOG_H */
