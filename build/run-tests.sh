#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build mod_expect and run every test (unit + integration under the event,
# worker and prefork MPMs, the integration core against each httpd version
# (make check-versions), then, with EXPECT_CHECK_PACKAGE=1, the Debian
# package: make check-package).
# Installs missing Debian packages first.
# A tree it configures itself (CI: always a fresh clone) builds with
# -Werror; an existing Makefile is used as configured.
set -e
cd "$(dirname "$0")/.."
build/install-deps.sh
# An older configure than configure.ac (a checkout that pulled) is made anew.
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    build/bootstrap.sh
fi
[ -f Makefile ] || ./configure --enable-werror
make
make check
# mod_expect against every httpd in ../shared/httpd-src (HTTPD_SRC_DIR) and
# Debian's; SKIPPED (exit 0) where the sources are not there.
make check-versions
# The Debian package, built, linted, installed into the system apache2 and
# purged again.  It changes the machine's apache2 for a minute (and puts it
# back), so it runs where asked: CI sets EXPECT_CHECK_PACKAGE=1 (.ci/run).
if [ "${EXPECT_CHECK_PACKAGE:-}" = 1 ]; then
    make check-package
else
    echo "run-tests: make check-package not run: it installs the .deb into this machine's"
    echo "run-tests: apache2; run it in a container or CI (EXPECT_CHECK_PACKAGE=1, as root)"
fi
