#!/bin/sh
# Build mod_expect and run every test (unit + integration under the event,
# worker and prefork MPMs, then the Debian package: make check-package).
# Installs missing Debian packages first.
# A tree it configures itself (CI: always a fresh clone) builds with
# -Werror; an existing Makefile is used as configured.
set -e
cd "$(dirname "$0")/.."
build/install-deps.sh
[ -x configure ] || build/bootstrap.sh
[ -f Makefile ] || ./configure --enable-werror
make
make check
# The Debian package, built, linted, installed into the system apache2 and
# purged again; needs root (CI runs as root) and says it skipped otherwise.
make check-package
