/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_version.h - the version and the build (package version or git
 * commit), which the Makefile passes with -D; the defaults only serve a
 * compile outside it.  One place for the module's EXP0003 line,
 * expectctl --version and the probe's User-Agent.
 */
#ifndef EXPECT_VERSION_H
#define EXPECT_VERSION_H

#ifndef EXPECT_VERSION
#define EXPECT_VERSION "0.0.0"
#endif
#ifndef EXPECT_BUILD
#define EXPECT_BUILD "unknown build"
#endif
#define EXPECT_BUILD_STRING EXPECT_VERSION " (" EXPECT_BUILD ")"

#endif /* EXPECT_VERSION_H */
