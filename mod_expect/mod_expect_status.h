/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_status.h - the statistics in httpd's own terms: mod_status's
 * section and the expect-metrics handler.
 */
#ifndef MOD_EXPECT_STATUS_H
#define MOD_EXPECT_STATUS_H

void expect_status_register_hooks(void);

#endif /* MOD_EXPECT_STATUS_H */
