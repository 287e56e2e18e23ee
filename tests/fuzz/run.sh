#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh - build and run mod_expect's libFuzzer harnesses.
#
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]
#
# SECONDS per harness (default 60); HARNESS among fuzz_shm fuzz_format
# fuzz_policy fuzz_args fuzz_probe fuzz_eventlog (default: all).  Builds every harness
# with clang straight from the sources (nothing from `make` is used), runs
# each with -max_total_time=SECONDS on a COPY of tests/fuzz/corpus/<harness>/
# in a mktemp -d directory (the repository is never written), prints one
# summary line per harness and exits non-zero if any build failed (-Werror:
# any compiler warning fails it) or any harness crashed; crash artifacts and
# logs then stay in the temporary directory, whose path is printed.
# Otherwise that directory is removed (FUZZ_KEEP=1 keeps it).  Environment:
# CC (default clang), FUZZ_FLAGS (extra libFuzzer flags, e.g. "-jobs=2"
# or "-seed=1").
set -u

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

SECS=60
if [ $# -gt 0 ]; then
    case $1 in
        -h|--help) usage; exit 0 ;;
        ''|*[!0-9]*) ;;
        *) SECS=$1; shift ;;
    esac
fi
ALL="fuzz_shm fuzz_format fuzz_policy fuzz_args fuzz_probe fuzz_eventlog"
HARNESSES=${*:-$ALL}
for h in $HARNESSES; do
    case " $ALL " in *" $h "*) ;; *) echo "run.sh: unknown harness $h (have: $ALL)" >&2; exit 2 ;; esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run.sh: $CC not found (clang with libFuzzer is needed)" >&2
    exit 2
fi
if command -v apr-1-config >/dev/null 2>&1; then
    APR_CFLAGS=$(apr-1-config --cflags --cppflags --includes)
    APR_LIBS=$(apr-1-config --link-ld --libs)
else
    echo "run.sh: apr-1-config not found (install libapr1-dev)" >&2
    exit 2
fi

# The event-log reader parses with jansson and reads gzip with zlib.
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists jansson zlib; then
    LOG_CFLAGS=$(pkg-config --cflags jansson zlib)
    LOG_LIBS=$(pkg-config --libs jansson zlib)
else
    echo "run.sh: jansson or zlib not found (install libjansson-dev zlib1g-dev)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mod_expect-fuzz.XXXXXX") || exit 2
echo "work directory: $WORK"

# Same warnings as configure's WARN_CFLAGS, and any warning fails the build.
WARN="-Wall -Wextra -Wshadow -Wpointer-arith -Wcast-align -Wwrite-strings \
-Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wundef -Wnull-dereference \
-Wdouble-promotion -Wvla -Werror"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer $SAN $WARN"
# shellcheck disable=SC2086
INC="-I$ROOT/mod_expect -I$ROOT/expectctl -I$HERE $APR_CFLAGS $LOG_CFLAGS"

# Every core source (plain C over APR); the module's glue is not fuzzed here.
CORE=$(cd "$ROOT" && echo mod_expect/expect_*.c)
CTL="expectctl/ctl_args.c expectctl/ctl_vhosts.c expectctl/ctl_stats.c expectctl/ctl_live.c expectctl/ctl_paths.c \
expectctl/ctl_events.c expectctl/ctl_summary.c expectctl/ctl_policy.c"
# The event-log reader (events --from).
LOG="expectctl/ctl_eventlog.c expectctl/ctl_from.c"
# probe's parsers and read loops: no sockets, no OpenSSL.
PROBE="expectctl/probe/probe_parse.c expectctl/probe/probe_read.c"
srcs_for() {
    case $1 in
        fuzz_shm)    echo "$CORE $CTL" ;;
        fuzz_format) echo "$CORE expectctl/ctl_vhosts.c" ;;
        fuzz_policy) echo "mod_expect/expect_policy.c" ;;
        fuzz_args)   echo "$CORE expectctl/ctl_args.c expectctl/ctl_paths.c" ;;
        fuzz_probe)  echo "$PROBE" ;;
        fuzz_eventlog) echo "$CORE $CTL $LOG" ;;
    esac
}

# ---- build: project sources once (instrumented), then each harness ----
BUILD_FAIL=0
mkdir -p "$WORK/obj" "$WORK/bin"
compile() {  # src obj
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -fsanitize=fuzzer-no-link $INC -c -o "$2" "$1" 2>>"$WORK/build.log" || BUILD_FAIL=1
}
for src in $CORE $CTL $PROBE $LOG; do
    compile "$ROOT/$src" "$WORK/obj/$(echo "$src" | tr / _).o"
done
compile "$HERE/fuzz_check.c" "$WORK/obj/fuzz_check.o"
# The seed maker is not run here, only compiled, so it stays warning-free.
compile "$HERE/make_seeds.c" "$WORK/obj/make_seeds.o"
for h in $HARNESSES; do
    compile "$HERE/$h.c" "$WORK/obj/$h.o"
    objs="$WORK/obj/$h.o $WORK/obj/fuzz_check.o"
    for src in $(srcs_for "$h"); do
        objs="$objs $WORK/obj/$(echo "$src" | tr / _).o"
    done
    # shellcheck disable=SC2086
    "$CC" -g -fsanitize=fuzzer $SAN -o "$WORK/bin/$h" $objs $APR_LIBS $LOG_LIBS 2>>"$WORK/build.log" \
        || { echo "run.sh: linking $h failed" >&2; BUILD_FAIL=1; }
done
# Under -Werror a warning is reported as "error: ... [-Werror,-W...]".
NWARN=$(grep -c -e 'warning:' -e '\[-Werror' "$WORK/build.log" 2>/dev/null)
if [ -s "$WORK/build.log" ]; then
    cat "$WORK/build.log" >&2
fi
[ "${NWARN:-0}" = 0 ] || BUILD_FAIL=1
echo "build: ${NWARN:-0} warning(s)$([ $BUILD_FAIL = 0 ] || echo ', FAILED')"
if [ $BUILD_FAIL != 0 ]; then
    echo "build log: $WORK/build.log"
    exit 1
fi

# ---- run ----
FAILED=0
for h in $HARNESSES; do
    corpus="$WORK/corpus/$h"
    arts="$WORK/artifacts/$h"
    mkdir -p "$corpus" "$arts"
    if [ -d "$HERE/corpus/$h" ]; then
        cp -R "$HERE/corpus/$h/." "$corpus/"
    fi
    dict=""
    [ -f "$HERE/$h.dict" ] && dict="-dict=$HERE/$h.dict"
    log="$WORK/$h.log"
    # shellcheck disable=SC2086
    "$WORK/bin/$h" -max_total_time="$SECS" -print_final_stats=1 -timeout=20 \
        -artifact_prefix="$arts/" $dict ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    done_line=$(grep -a 'DONE' "$log" | tail -n 1)
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    ft=$(grep -ao 'ft: [0-9]*' "$log" | tail -n 1 | sed 's/ft: //')
    ncorp=$(find "$corpus" -type f | wc -l)
    crashes=$(find "$arts" -type f 2>/dev/null)
    if [ $rc = 0 ] && [ -z "$crashes" ]; then
        status=ok
    else
        status="FAILED (exit $rc)"
        FAILED=1
    fi
    printf '%-12s %-8s execs=%-10s cov=%-6s ft=%-6s corpus=%-5s %s\n' "$h" "$status" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "$ncorp" "$(echo "$done_line" | tr -s '\t ' ' ')"
    if [ "$status" != ok ]; then
        for a in $crashes; do echo "    artifact: $a"; done
        echo "    log: $log"
        grep -a -m 3 -E 'ERROR: |runtime error|INVARIANT' "$log" | sed 's/^/    /'
    fi
done

if [ $FAILED != 0 ]; then
    echo "run.sh: a harness failed; artifacts and logs kept in $WORK"
    echo "reproduce: $WORK/bin/HARNESS ARTIFACT"
    exit 1
fi
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    echo "kept $WORK"
else
    rm -rf "$WORK"
fi
exit 0
