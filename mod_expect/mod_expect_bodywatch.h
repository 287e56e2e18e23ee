/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_bodywatch.h - keep-alive only when the body was really read,
 * for EXPECT_DECIDE_HTTP10 and EXPECT_DECIDE_IGNORE.
 */
#ifndef MOD_EXPECT_BODYWATCH_H
#define MOD_EXPECT_BODYWATCH_H

#include "httpd.h"

#include "expect_policy.h"

void expect_body_watch(request_rec *r, expect_decision_t decision);
void expect_body_watch_register(void);

#endif /* MOD_EXPECT_BODYWATCH_H */
