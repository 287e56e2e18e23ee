#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build mod_expect and expectctl with clang ASan+UBSan in a scratch copy of
# the tree, run the unit tests and the whole integration suite against that
# build (Debian's httpd with the ASan runtime preloaded), and fail on any
# sanitizer report.  The clang build fails on any compiler warning.
# Usage: build/sanitize.sh [pytest args]
set -e
cd "$(dirname "$0")/.."
build/install-deps.sh --dev
[ -f Makefile ] || { echo "run ./configure first" >&2; exit 1; }

RUNTIME=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
[ -f "$RUNTIME" ] || { echo "ASan runtime missing: install libclang-rt-14-dev" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
REPORTS="$WORK/reports"
mkdir -p "$REPORTS"
chmod 1777 "$REPORTS"   # httpd children write their reports as nobody
cp -r Makefile mod_expect expectctl tests "$WORK/"
chmod -R a+rX "$WORK"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
make -C "$WORK" -s clean
make -C "$WORK" -s CC=clang EXTRA_CFLAGS="$SAN -shared-libasan -Werror" \
     EXTRA_LDFLAGS="-fsanitize=address,undefined -shared-libasan" all
make -C "$WORK" -s CC=clang EXTRA_CFLAGS="$SAN -Werror" EXTRA_LDFLAGS="-fsanitize=address,undefined" \
     check-unit >/dev/null
echo "sanitize: unit tests clean"

# httpd frees its pools at exit but not every malloc: leak checking is for
# expectctl (valgrind), not for the server.
export ASAN_OPTIONS="detect_leaks=0:log_path=$REPORTS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$REPORTS/ubsan"
LD_LIBRARY_PATH=$(dirname "$RUNTIME")
export LD_LIBRARY_PATH
rc=0
MOD_EXPECT_PRELOAD="$RUNTIME" MOD_EXPECT_SO="$WORK/mod_expect/mod_expect.so" \
EXPECTCTL="$WORK/expectctl/expectctl" \
    /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/integration "$@" || rc=$?

if [ -n "$(ls -A "$REPORTS")" ]; then
    echo "sanitize: REPORTS FOUND:" >&2
    for f in "$REPORTS"/*; do echo "== $f" >&2; head -40 "$f" >&2; done
    exit 1
fi
echo "sanitize: 0 sanitizer reports"
exit "$rc"
