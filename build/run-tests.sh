#!/bin/sh
# Build mod_expect and run every test (unit + integration under the event,
# worker and prefork MPMs).  Installs missing Debian packages first.
set -e
cd "$(dirname "$0")/.."
build/install-deps.sh
[ -x configure ] || build/bootstrap.sh
[ -f Makefile ] || ./configure
make
make check
