#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check-versions: build mod_expect against each httpd whose release
# tarball is in $HTTPD_SRC_DIR (default: ../shared/httpd-src beside the
# repository's top) and against Debian's apache2, and run the integration
# core against each: the raw policy table and the hostile table under the
# three MPMs, ExpectUnknown (over h2 where mod_http2 exists), stats, events
# and set, and a graceful restart (event and prefork: the test's own MPMs).
#
# Each httpd is built once and cached outside the work tree
# (build/httpd-build.sh); mod_expect is built in a scratch copy of the tree,
# with -Werror.  Prints a table of what each version did and writes it to
# $CACHE/check-versions.md; VERSIONS_WRITE_DOC=1 also puts it into
# docs/mod_expect.md (between the versions-table markers).
# With no sources, says SKIPPED and exits 0.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
src=${HTTPD_SRC_DIR:-$top/../shared/httpd-src}
cache=${EXPECT_HTTPD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mod_expect}
export EXPECT_HTTPD_CACHE="$cache"
if ! ls "$src"/httpd-2.4.*.tar.xz >/dev/null 2>&1; then
    echo "check-versions: SKIPPED: no httpd-2.4.*.tar.xz in $src (set HTTPD_SRC_DIR to the directory of the release tarballs)"
    exit 0
fi
src=$(cd "$src" && pwd)
# What building httpd needs (installs only what is missing).
"$top/build/install-deps.sh" --versions
mkdir -p "$cache"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mod_expect-versions.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

# The integration core.  The policy table runs under the three MPMs and
# the hostile table under event, both in the fixups placement only: the
# placement is the module's own code, the same on every httpd, and make
# check runs both tables in both placements under every MPM on Debian's.
CORE="tests/integration/test_policy_raw.py::test_policy_row
tests/integration/test_hostile.py::test_hostile
tests/integration/test_expect_unknown.py
tests/integration/test_stats.py::test_exact_counts_and_events
tests/integration/test_stats.py::test_runtime_toggle
tests/integration/test_stats_restarts.py::test_counters_and_overrides_survive_reload[event-graceful]
tests/integration/test_stats_restarts.py::test_counters_and_overrides_survive_reload[prefork-graceful]
tests/integration/test_versions.py
tests/integration/test_event_log.py::test_file_lines_at_once_match_events_json[event]
tests/integration/test_event_log.py::test_restart_and_stop_write_pending_once[prefork]
tests/integration/test_event_log.py::test_more_than_a_pipe_pending_at_stop_or_restart[event-restart]"
CORE_K="(test_policy_row and fixups) or (test_hostile and event-fixups) or not (test_policy_row or test_hostile)"

# The tree as it is (committed or not), without build products.
copy_tree() {
    mkdir -p "$1"
    (cd "$top" && { git ls-files -co --exclude-standard; echo configure; echo install-sh; } \
        | while read -r f; do [ -f "$f" ] && echo "$f"; done | tar -cf - -T -) | tar -xf - -C "$1"
}
[ -x "$top/configure" ] || (cd "$top" && build/bootstrap.sh >/dev/null 2>&1)

# The files side by side, as make check-integration runs them (each file
# in one worker: its module-scoped servers start once); PYTEST_JOBS=0 runs
# one process.
jobs=""
if [ "${PYTEST_JOBS:-4}" != 0 ] && /usr/bin/python3 -c 'import xdist' 2>/dev/null; then
    jobs="-n ${PYTEST_JOBS:-4} --dist loadfile"
fi

results="$scratch/results"
: >"$results"
failed=""

# run_one LABEL APXS HTTPD MODDIR MIME
run_one() {
    label=$1 apxs=$2 httpd=$3 moddir=$4 mime=$5
    tree="$scratch/$label"
    copy_tree "$tree"
    echo "check-versions: $label: building mod_expect against $($httpd -v | sed -n 's/^Server version: //p')"
    if ! (cd "$tree" && ./configure --enable-werror --with-apxs="$apxs" >configure.log 2>&1 \
          && make -j2 >make.log 2>&1); then
        echo "check-versions: $label: build FAILED:" >&2
        tail -20 "$tree/make.log" "$tree/configure.log" >&2 2>/dev/null || true
        echo "$label|$httpd|build failed|||" >>"$results"
        failed="$failed $label"
        return 0
    fi
    # No compiler warning: -Werror made any one fatal; say so.
    inc=$("$apxs" -q INCLUDEDIR)
    mmn=$(sed -n 's/^#define MODULE_MAGIC_NUMBER_\(MAJOR\|MINOR\) *\([0-9]*\).*/\2/p' "$inc/ap_mmn.h" | paste -sd.)
    # What the module says at -t about ExpectUnknown ignore over h2.
    h2="no mod_http2"
    if [ -f "$moddir/mod_http2.so" ]; then
        t="$scratch/$label-h2t"
        mkdir -p "$t/logs"
        cat >"$t/httpd.conf" <<EOF
ServerRoot $t
LoadModule mpm_event_module $moddir/mod_mpm_event.so
LoadModule http2_module $moddir/mod_http2.so
LoadModule expect_module $tree/mod_expect/mod_expect.so
Listen 127.0.0.1:1
ErrorLog $t/logs/error_log
DefaultRuntimeDir $t/logs
PidFile $t/logs/httpd.pid
Protocols h2c http/1.1
ExpectUnknown ignore
EOF
        if out=$("$httpd" -d "$t" -f "$t/httpd.conf" -t 2>&1); then
            h2="works"
        elif echo "$out" | grep -q EXP0033; then
            h2="refused at -t (EXP0033)"
        else
            h2="-t failed: $(echo "$out" | head -1)"
        fi
    fi
    echo "check-versions: $label: running the integration core (ExpectUnknown ignore over h2: $h2)"
    log="$scratch/$label-pytest.log"
    # shellcheck disable=SC2086
    if (cd "$tree" && EXPECT_HTTPD="$httpd" EXPECT_HTTPD_MODDIR="$moddir" \
          EXPECT_HTTPD_MIME_TYPES="$mime" \
          MOD_EXPECT_SO="$tree/mod_expect/mod_expect.so" EXPECTCTL="$tree/expectctl/expectctl" \
          /usr/bin/python3 -m pytest -q -p no:cacheprovider -rs $jobs $CORE -k "$CORE_K") >"$log" 2>&1; then
        ok=yes
    else
        ok=no
        failed="$failed $label"
    fi
    summary=$(grep -E "^(=+ )?[0-9]+ (passed|failed)" "$log" | tail -1 | sed 's/=//g; s/^ *//; s/ in [0-9.]*s.*//; s/, [0-9]* deselected//')
    [ -n "$summary" ] || summary="no tests ran"
    skips=$(grep -c "^SKIPPED" "$log" || true)
    echo "check-versions: $label: $summary"
    if [ "$ok" = no ]; then
        grep -E "^(FAILED|ERROR)" "$log" | head -20
        tail -40 "$log"
    elif [ "$skips" -gt 0 ]; then
        grep "^SKIPPED" "$log"
    fi
    echo "$label|$($httpd -v | sed -n 's/^Server version: Apache\///p' | cut -d' ' -f1)|$mmn|$h2|$summary|$ok" >>"$results"
}

for tarball in "$src"/httpd-2.4.*.tar.xz; do
    version=$(basename "$tarball" .tar.xz)
    version=${version#httpd-}
    prefix=$("$top/build/httpd-build.sh" "$tarball" | tail -1)
    run_one "$version" "$prefix/bin/apxs" "$prefix/bin/httpd" "$prefix/modules" "$prefix/conf/mime.types"
done
# Debian's own apache2, as make check builds against it.
if [ -x /usr/sbin/apache2 ] && command -v apxs >/dev/null 2>&1; then
    run_one debian "$(command -v apxs)" /usr/sbin/apache2 /usr/lib/apache2/modules /etc/mime.types
else
    echo "check-versions: Debian's apache2 or apxs (apache2-dev) missing: not run"
fi

table="$cache/check-versions.md"
{
    echo "| httpd | shipped by | MMN | build | integration core | \`ExpectUnknown ignore\` over h2 |"
    echo "|---|---|---|---|---|---|"
    while IFS='|' read -r label version mmn h2 summary ok; do
        case "$label" in
        2.4.37) by="RHEL 8, Rocky 8, AlmaLinux 8" ;;
        2.4.52) by="Ubuntu 22.04" ;;
        2.4.58) by="Ubuntu 24.04" ;;
        2.4.62) by="the newest tag here (close to RHEL 9 and 10)" ;;
        debian) by="Debian 12 (its apache2 package)" ;;
        *) by="" ;;
        esac
        if [ "$mmn" = "build failed" ]; then
            echo "| $label | $by | | failed | not run | |"
            continue
        fi
        echo "| $version | $by | $mmn | no warning (-Werror) | $summary | $h2 |"
    done <"$results"
} >"$table"
echo
cat "$table"
echo "check-versions: table written to $table"
if [ "${VERSIONS_WRITE_DOC:-}" = 1 ] && [ -z "$failed" ]; then
    /usr/bin/python3 - "$top/docs/mod_expect.md" "$table" <<'EOF'
import sys
doc, table = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
begin, end = "<!-- versions-table begin -->\n", "<!-- versions-table end -->"
a, b = text.index(begin) + len(begin), text.index(end)
open(doc, "w").write(text[:a] + table + text[b:])
EOF
    echo "check-versions: docs/mod_expect.md updated"
fi
if [ -n "$failed" ]; then
    echo "check-versions: FAILED:$failed" >&2
    exit 1
fi
echo "check-versions: all passed"
