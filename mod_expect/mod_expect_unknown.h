/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_unknown.h - ExpectUnknown ignore: expectations other than
 * 100-continue dropped before httpd core answers them with 417.
 */
#ifndef MOD_EXPECT_UNKNOWN_H
#define MOD_EXPECT_UNKNOWN_H

/* At each configuration's pre_config: no hooks yet. */
void expect_unknown_reset(void);
/* Some server says ExpectUnknown ignore: register the hooks (once). */
void expect_unknown_hook(void);
/* The input filter, registered once with the module's hooks. */
void expect_unknown_register(void);

#endif /* MOD_EXPECT_UNKNOWN_H */
