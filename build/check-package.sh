#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make check-package: the Debian package end to end, on this machine's own
# apache2.  Builds libapache2-mod-expect from a copy of the tree (the work
# tree stays clean), runs lintian (any error or warning fails), installs the
# .deb with apt-get, makes the system apache2 listen on 127.0.0.1 only and
# starts it, uses expectctl as root and as nobody, disables the module and
# removes the package with a site that still needs it (prerm must say so
# first, and the running server's segment must survive), purges segments
# left stale (apache2's and an instance's), then installs again, purges
# under a running apache2 and checks that nothing of it is left.  Each case
# is a block of its own below: add new ones the same way.  The machine's /etc/apache2 and
# /var/lib/apache2 are copied first and put back at the end, pass or fail,
# and an apache2 that was running is started again.
#
# Needs root: without it, it says so and skips.  Run it where changing the
# system apache2 for a minute is fine: CI, a container, a chroot.
# KEEP_PACKAGE_WORK=1 keeps the build directory (the .deb, the logs).
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=libapache2-mod-expect

if [ "$(id -u)" -ne 0 ]; then
    echo "check-package: SKIPPED: not root.  It installs $PKG into the system's"
    echo "  apache2 and purges it again; run it as root (CI does), in a throwaway"
    echo "  container or chroot if this machine matters."
    exit 0
fi

passed=0
ok()   { passed=$((passed + 1)); echo "ok $passed - $*"; }
fail() { echo "check-package: FAIL: $*" >&2; echo "check-package: $passed passed, 1 failed"; exit 1; }
step() { echo "== check-package: $*"; }
installed() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed'; }
apt() {
    DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"
}

step "dependencies"
build/install-deps.sh --package --package-test
if installed; then
    fail "$PKG is already installed; this check would purge it (remove it first)"
fi

WORK=$(mktemp -d)
STATE=$WORK/state
mkdir -p "$WORK/src" "$STATE"

# Everything below that changes the machine is undone here, whatever
# happened: stop our apache2, purge the package, put the configuration back.
STARTED=no
WAS_RUNNING=no
# Debian instances' runtime directories (/run/apache2-NAME), where the
# check plants segments; no instance of those names is set up.
INSTANCE_RUN=/run/apache2-expect-check
# And an instance's configuration (/etc/apache2-NAME), for the removal check.
INSTANCE_ETC=/etc/apache2-expect-check
if [ -e "$INSTANCE_ETC" ]; then
    echo "check-package: $INSTANCE_ETC exists; remove it first" >&2
    exit 1
fi
cleanup() {
    local rc=$?
    set +e
    trap - EXIT
    if [ "$STARTED" = yes ]; then
        stop_apache2
    fi
    rm -rf "$INSTANCE_RUN" "$INSTANCE_RUN-live" "$INSTANCE_ETC"
    if installed; then
        echo "check-package: purging $PKG left behind by a failure"
        apt purge "$PKG" >/dev/null 2>&1 || dpkg --purge "$PKG" >/dev/null 2>&1
    fi
    if [ -d "$STATE/etc-apache2" ]; then
        rm -rf /etc/apache2 && cp -a "$STATE/etc-apache2" /etc/apache2
        if ! diff -r --no-dereference "$STATE/etc-apache2" /etc/apache2 >/dev/null; then
            echo "check-package: /etc/apache2 could not be restored; the copy is in $STATE" >&2
            KEEP_PACKAGE_WORK=1
            rc=1
        fi
    fi
    if [ -d "$STATE/var-lib-apache2" ]; then
        rm -rf /var/lib/apache2 && cp -a "$STATE/var-lib-apache2" /var/lib/apache2
    fi
    if [ "$WAS_RUNNING" = yes ]; then
        echo "check-package: starting the apache2 that was running before"
        apache2ctl start || rc=1
    fi
    if [ "${KEEP_PACKAGE_WORK:-}" = 1 ]; then
        echo "check-package: kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The system apache2's own paths (APACHE_PID_FILE, APACHE_RUN_DIR, ...).
set +u
# shellcheck disable=SC1091
. /etc/apache2/envvars
set -u
SEGMENT=$APACHE_RUN_DIR/mod_expect.shm

apache2_pid() {
    local pid
    pid=$(cat "$APACHE_PID_FILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
stop_apache2() {
    local pid
    pid=$(apache2_pid) || return 0
    # After the purge the configuration no longer loads mod_expect, so
    # apache2ctl can parse it; a signal does the same if it cannot.
    apache2ctl stop >/dev/null 2>&1 || kill -TERM "$pid"
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

# kill -9 the parent and its children: a crash, which leaves the segment.
kill_apache2() {
    local pid p stat
    pid=$(apache2_pid) || return 0
    # Its children, by their parent pid (the name in /proc/PID/stat may
    # hold spaces: read the fields after its last ')').
    for p in /proc/[0-9]*; do
        stat=$(cat "$p/stat" 2>/dev/null) || continue
        set -- ${stat##*) }
        if [ "$2" = "$pid" ]; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
    done
    kill -KILL "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$APACHE_PID_FILE"
}
# A copy of the segment pair in DIR; with "reused", its control file names
# another start time for the parent's pid, as if that pid had been reused.
copy_segment() {
    mkdir -p "$1"
    cp "$SEGMENT" "$SEGMENT.ctl" "$1/"
    if [ "${2:-}" = reused ]; then
        /usr/bin/python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(88)
    start = int.from_bytes(f.read(8), "little")
    f.seek(88)
    f.write((start + 12345).to_bytes(8, "little"))
' "$1/mod_expect.shm.ctl"
    fi
}
has_segment() { [ -e "$1/mod_expect.shm" ] && [ -e "$1/mod_expect.shm.ctl" ]; }
no_segment() { [ ! -e "$1/mod_expect.shm" ] && [ ! -e "$1/mod_expect.shm.ctl" ]; }

# ---- build ------------------------------------------------------------------
step "building the package in $WORK"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files plus new ones not ignored: what a commit of this tree holds.
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
        if [ -e "$f" ]; then printf '%s\0' "$f"; fi
    done | xargs -0 cp --parents -t "$WORK/src"
else
    cp -a . "$WORK/src"
    if [ -f "$WORK/src/Makefile" ]; then make -s -C "$WORK/src" distclean >/dev/null; fi
fi
# A repository of the copy, so that what the build leaves in the tree
# shows as `git status` would show it in a checkout.
HAVE_GIT=no
if command -v git >/dev/null 2>&1; then
    (cd "$WORK/src" && git init -q && git add -A \
        && git -c user.name=check -c user.email=check@invalid commit -qm tree) && HAVE_GIT=yes
fi
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
ARCH=$(dpkg --print-architecture)
DEB=$WORK/${PKG}_${VERSION}_${ARCH}.deb
if ! (cd "$WORK/src" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
    tail -40 "$WORK/build.log"
    fail "dpkg-buildpackage failed (log above)"
fi
[ -f "$DEB" ] || fail "dpkg-buildpackage made no $(basename "$DEB")"
ok "dpkg-buildpackage -us -uc -b built $(basename "$DEB")"

left=$(cd "$WORK/src" && ls -d debian/autoreconf.* 2>/dev/null || true)
[ -z "$left" ] || fail "the build left $left in the tree"
if [ "$HAVE_GIT" = yes ]; then
    dirty=$(git -C "$WORK/src" status --porcelain)
    [ -z "$dirty" ] || fail "after the build, git status is not clean: $dirty"
    ok "the build leaves the tree as git status found it (no debian/autoreconf.*)"
else
    ok "the build leaves no debian/autoreconf.* (git missing: git status not checked)"
fi

UPSTREAM=$(sed -n 's/^AC_INIT(\[mod_expect\], *\[\([^]]*\)\].*/\1/p' configure.ac)
[ "$VERSION" = "$UPSTREAM" ] || fail "debian/changelog says $VERSION, configure.ac $UPSTREAM"
ok "the package version $VERSION is configure.ac's"

if grep -nE '(^|[^-])warning:' "$WORK/build.log"; then
    fail "the package build has compiler warnings (above)"
fi
ok "the package build (Debian's hardening flags) has no compiler warning"

dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/contents"
for f in /usr/lib/apache2/modules/mod_expect.so \
         /etc/apache2/mods-available/expect.load \
         /etc/apache2/mods-available/expect.conf \
         /etc/apache2/conf-available/expect-metrics.conf \
         /usr/sbin/expectctl /usr/bin/expectctl \
         /usr/share/man/man8/expectctl.8.gz \
         /usr/share/bash-completion/completions/expectctl \
         /usr/share/doc/$PKG/copyright /usr/share/doc/$PKG/README.md.gz \
         /usr/share/doc/$PKG/mod_expect.md.gz /usr/share/doc/$PKG/TROUBLESHOOTING.md.gz \
         /usr/share/doc/$PKG/examples/mod_expect-alerts.yml \
         /usr/share/doc/$PKG/examples/mod_expect.json \
         /usr/share/libapache2-mod-expect/expect-config-check; do
    grep -qxF "$f" "$WORK/contents" || fail "the package lacks $f"
done
grep -qxE "/usr/share/doc/$PKG/README.Debian(.gz)?" "$WORK/contents" \
    || fail "the package lacks README.Debian"
if grep -qE "^/usr/share/doc/$PKG/LICENSE" "$WORK/contents"; then
    fail "the package ships a LICENSE copy (debian/copyright and common-licenses have it)"
fi
ok "the package holds the module, its Debian files, expectctl, the man page, completion, docs, README.Debian, the alert rules and the Grafana dashboard in examples/ and the removal check"

# The installed README's links name files the package installs beside it
# (compressed or not), or the system's licence text.
mkdir -p "$WORK/deb"
dpkg-deb -x "$DEB" "$WORK/deb"
# The examples are installed as they are in the tree, uncompressed: the
# alert rules to copy into /etc/prometheus, the dashboard to upload to
# Grafana.
for f in prometheus/mod_expect-alerts.yml grafana/mod_expect.json; do
    cmp -s "docs/$f" "$WORK/deb/usr/share/doc/$PKG/examples/${f##*/}" \
        || fail "examples/${f##*/} in the package differs from docs/$f"
done
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["uid"] == "mod-expect"' \
    "$WORK/deb/usr/share/doc/$PKG/examples/mod_expect.json" \
    || fail "the installed dashboard is not the mod_expect dashboard's JSON"
ok "examples/: the alert rules and the dashboard (JSON, uid mod-expect), as in docs/"
links=$(zcat "$WORK/deb/usr/share/doc/$PKG/README.md.gz" | grep -o ']([^)#]*' | sed 's/^](//' | sort -u)
[ -n "$links" ] || fail "no links found in the installed README"
for l in $links; do
    case $l in *://*) continue ;; /*) t=$l ;; *) t=/usr/share/doc/$PKG/$l ;; esac
    grep -qxE "$t(\.gz)?" "$WORK/contents" || [ -e "$t" ] \
        || fail "the installed README links to $l, which is not installed ($t)"
done
ok "every link of the installed README names an installed file: $(echo $links)"

# ---- lintian ----------------------------------------------------------------
step "lintian"
lintian --display-info --fail-on error,warning "$WORK/${PKG}_${VERSION}_${ARCH}.changes" \
    >"$WORK/lintian.log" 2>&1 || lrc=$?
grep -v 'running with root privileges' "$WORK/lintian.log" || true
[ "${lrc:-0}" -eq 0 ] || fail "lintian reports errors or warnings (above)"
ok "lintian: no error, no warning"

# ---- install ------------------------------------------------------------------
step "recording the machine's apache2"
while read -r f; do
    if [ -e "$f" ] && [ ! -d "$f" ]; then
        fail "$f exists before the install (a make install?); remove it first (make uninstall)"
    fi
done <"$WORK/contents"
# Copied under a side name and renamed only once complete: the cleanup
# restores from a copy only if it is whole (a full disk must not make it
# replace /etc/apache2 with half of itself).
cp -a /etc/apache2 "$STATE/etc-apache2.part"
mv "$STATE/etc-apache2.part" "$STATE/etc-apache2"
if [ -d /var/lib/apache2 ]; then
    cp -a /var/lib/apache2 "$STATE/var-lib-apache2.part"
    mv "$STATE/var-lib-apache2.part" "$STATE/var-lib-apache2"
fi
if apache2_pid >/dev/null; then
    WAS_RUNNING=yes
    echo "check-package: the system apache2 is running: stopping it for the check"
    stop_apache2
fi
NAMES=(-name 'mod_expect*' -o -name 'expectctl*' -o -name 'expect.load' -o -name 'expect.conf'
       -o -name 'expect-metrics.conf' -o -name "$PKG*" -o -name expect -o -name expect-metrics)
leftovers() { find /etc /usr /var -xdev \( "${NAMES[@]}" \) 2>/dev/null | sort; }
leftovers >"$WORK/before"

step "installing $(basename "$DEB")"
apt install --no-install-recommends "$DEB" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log"; fail "apt-get install failed"; }
installed || fail "$PKG is not installed after apt-get install"
[ "$(readlink /etc/apache2/mods-enabled/expect.load)" = ../mods-available/expect.load ] \
    || fail "the install did not enable the module (mods-enabled/expect.load)"
[ -L /etc/apache2/mods-enabled/expect.conf ] || fail "mods-enabled/expect.conf missing"
a2query -q -m expect || fail "a2query -m expect: not enabled"
a2query -q -c expect-metrics || fail "a2query -c expect-metrics: not enabled"
ok "apt-get install enabled the module (a2query -m expect) and expect-metrics"

# ---- the system apache2, on loopback only ------------------------------------------
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "Listen 127.0.0.1:$PORT" >/etc/apache2/ports.conf
cat >/etc/apache2/sites-available/zz-expect-check.conf <<EOF
<VirtualHost 127.0.0.1:$PORT>
    ServerName check.test
    DocumentRoot /var/www/html
</VirtualHost>
<VirtualHost 127.0.0.1:$PORT>
    ServerName reject.test
    DocumentRoot /var/www/html
    <IfModule expect_module>
        ExpectPolicy reject
    </IfModule>
</VirtualHost>
EOF
a2ensite -q zz-expect-check >/dev/null
apache2ctl configtest 2>"$WORK/configtest.log" || { cat "$WORK/configtest.log"; fail "apache2ctl configtest"; }
step "starting the system apache2 on 127.0.0.1:$PORT"
if [ -d /run/systemd/system ]; then
    echo "check-package: systemd is running; apache2ctl start goes through it"
fi
apache2ctl start
STARTED=yes
for _ in $(seq 200); do
    if [ -e "$SEGMENT" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done
[ -e "$SEGMENT" ] || fail "apache2 made no segment at $SEGMENT"
ok "apache2ctl start: the packaged module made its segment at $SEGMENT"

# ---- expectctl as root: no flags, the default segment ------------------------
step "expectctl as root"
[ "$(command -v expectctl)" = /usr/sbin/expectctl ] || fail "root's expectctl is $(command -v expectctl)"
out=$(expectctl stats) || fail "expectctl stats exited $?"
echo "$out"
# Every virtual host apache2 -S lists, as name:port.
apache2ctl -S 2>/dev/null | sed -n \
    -e 's/^ *port \([0-9]*\) namevhost \([^ ]*\) .*/\2:\1/p' \
    -e 's/^[^ ]*:\([0-9*]*\) *\([^ ()]*\) (.*/\2:\1/p' | sort -u >"$WORK/vhosts"
grep -qx "check.test:$PORT" "$WORK/vhosts" || fail "apache2ctl -S parsing: no check.test:$PORT"
while read -r v; do
    grep -q "^$v " <<<"$out" || fail "expectctl stats does not list $v (apache2ctl -S does)"
done <"$WORK/vhosts"
ok "expectctl stats (no flags) lists the $(wc -l <"$WORK/vhosts") live vhosts of apache2ctl -S"

head -c 4096 /dev/zero >"$WORK/body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: reject.test' -H 'Expect: 100-continue' \
       --data-binary "@$WORK/body" "http://127.0.0.1:$PORT/")
[ "$code" = 417 ] || fail "an upload to reject.test got $code, not 417"
n=$(expectctl stats "reject.test:$PORT" --json \
    | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["vhosts"][0]["r417"]["mod_expect"])')
[ "$n" = 1 ] || fail "expectctl stats counts $n 417s from mod_expect on reject.test, not 1"
ok "ExpectPolicy reject answers 417 and expectctl stats counts it"

metrics=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$PORT/expect-metrics")
[ "${metrics##*$'\n'}" = 200 ] || fail "/expect-metrics answered ${metrics##*$'\n'}"
grep -q "^mod_expect_417_responses_total{vhost=\"reject.test:$PORT\",producer=\"mod_expect\"} 1" <<<"$metrics" \
    || fail "/expect-metrics lacks reject.test's 417: $metrics"
ok "conf-available/expect-metrics.conf serves /expect-metrics to a local client"

words=$(bash --norc --noprofile -c '
    . /usr/share/bash-completion/completions/expectctl
    COMP_LINE="expectctl set "; COMP_POINT=${#COMP_LINE}
    COMP_WORDS=(expectctl set ""); COMP_CWORD=2
    _expectctl; printf "%s\n" "${COMPREPLY[@]}"')
grep -qx "check.test:$PORT" <<<"$words" || fail "completion of 'expectctl set ' lacks check.test:$PORT: $words"
ok "the installed bash completion offers the live vhosts"

# ---- expectctl as nobody: probe by its plain name, the segment refused ----------
step "expectctl as nobody"
as_nobody() { su nobody -s /bin/sh -c "PATH=/usr/local/bin:/usr/bin:/bin; export PATH; $1"; }
where=$(as_nobody 'command -v expectctl') || true
[ "$where" = /usr/bin/expectctl ] || fail "nobody's PATH (no sbin) finds expectctl at '$where'"
rc=0
out=$(as_nobody "expectctl probe http://127.0.0.1:$PORT/") || rc=$?
echo "$out" | tail -3
[ "$rc" -eq 0 ] || fail "expectctl probe as nobody exited $rc"
grep -q '^verdict: ' <<<"$out" || fail "probe as nobody printed no verdict"
ok "nobody runs 'expectctl probe http://127.0.0.1:$PORT/' by its plain name (exit 0)"
rc=0
err=$(as_nobody 'expectctl stats' 2>&1) || rc=$?
echo "$err"
[ "$rc" -eq 4 ] || fail "expectctl stats as nobody exited $rc, not 4"
grep -q 'run expectctl as root' <<<"$err" || fail "expectctl stats as nobody does not say to run it as root"
ok "expectctl stats as nobody: exit 4, 'run expectctl as root'"

# ---- a2dismod with the IfModule form ------------------------------------------
step "a2dismod expect with every Expect* line inside <IfModule expect_module>"
CHECK=/usr/share/libapache2-mod-expect/expect-config-check
rc=0; out=$("$CHECK") || rc=$?
[ "$rc" -eq 0 ] && [ -z "$out" ] || fail "expect-config-check on the IfModule form: exit $rc: $out"
a2dismod -q expect >/dev/null
apache2ctl configtest 2>"$WORK/configtest.log" \
    || { cat "$WORK/configtest.log"; fail "configtest after a2dismod, IfModule form"; }
a2enmod -q expect >/dev/null
ok "expect-config-check finds nothing, and apache2ctl configtest passes after a2dismod expect"

# ---- remove, with a site that needs the module -----------------------------------
step "apt-get remove with a site using ExpectPolicy outside <IfModule>"
printf '<VirtualHost 127.0.0.1:%s>\n    ServerName bare.test\n    ExpectPolicy reject\n</VirtualHost>\n' \
    "$PORT" >/etc/apache2/sites-available/zz-expect-bare.conf
a2ensite -q zz-expect-bare >/dev/null
BARE=/etc/apache2/sites-enabled/zz-expect-bare.conf
# An instance's configuration, as setup-instance makes it, with a line of its own.
mkdir -p "$INSTANCE_ETC/sites-enabled"
printf '# instance\nIncludeOptional sites-enabled/*.conf\n' >"$INSTANCE_ETC/apache2.conf"
printf 'ExpectUnknown ignore\n' >"$INSTANCE_ETC/sites-enabled/up.conf"
rc=0; out=$("$CHECK") || rc=$?
[ "$rc" -eq 1 ] || fail "expect-config-check exited $rc on the bare site"
grep -qxF "  $BARE:3: ExpectPolicy reject" <<<"$out" || fail "expect-config-check does not name $BARE:3: $out"
grep -qxF "  $INSTANCE_ETC/sites-enabled/up.conf:1: ExpectUnknown ignore" <<<"$out" \
    || fail "expect-config-check does not name the instance's line: $out"
a2dismod -q expect >/dev/null
rc=0; apache2ctl configtest 2>"$WORK/configtest.log" || rc=$?
if [ "$rc" -eq 0 ] || ! grep -q "Invalid command 'ExpectPolicy'" "$WORK/configtest.log"; then
    fail "configtest after a2dismod with the bare site: exit $rc, $(cat "$WORK/configtest.log")"
fi
a2enmod -q expect >/dev/null
ok "expect-config-check names $BARE:3, the line that stops configtest after a2dismod, and the instance's line in $INSTANCE_ETC"

live_pid=$(apache2_pid) || fail "apache2 is not running before the remove"
CTL=$WORK/src/expectctl/expectctl   # the build's: the package's goes with it
apt remove "$PKG" >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log"; fail "apt-get remove failed"; }
sed -n '/WARNING: apache2 will not start/,/^\*\*\*\*/p' "$WORK/remove.log" | head -5
warned=$(grep -n 'WARNING: apache2 will not start without mod_expect' "$WORK/remove.log" | head -1 | cut -d: -f1)
[ -n "$warned" ] || { cat "$WORK/remove.log"; fail "apt-get remove printed no warning"; }
grep -qF "$BARE:3: ExpectPolicy reject" "$WORK/remove.log" || fail "the warning does not name $BARE:3"
grep -qF "$INSTANCE_ETC/sites-enabled/up.conf:1:" "$WORK/remove.log" \
    || fail "the warning does not name the instance's line"
grep -qF '<IfModule expect_module>' "$WORK/remove.log" || fail "the warning gives no fix"
broken=$(grep -n 'configuration is broken' "$WORK/remove.log" | head -1 | cut -d: -f1)
if [ -n "$broken" ] && [ "$broken" -lt "$warned" ]; then
    fail "the warning (line $warned) comes after apache2's own complaint (line $broken)"
fi
[ "$(apache2_pid)" = "$live_pid" ] || fail "apache2 pid $live_pid did not survive the remove"
has_segment "$APACHE_RUN_DIR" || fail "the remove deleted the segment apache2 pid $live_pid serves"
"$CTL" policy >/dev/null || fail "the segment that survived the remove is not live"
ok "apt-get remove named $BARE:3, the instance's line and the fix first; apache2 ran on, its segment kept and live"

# ---- purge of stale segments (apache2's, an instance's) ---------------------------
step "purge after the remove: stale segments go"
a2dissite -q zz-expect-bare >/dev/null     # the fix the warning gave
rm -f /etc/apache2/sites-available/zz-expect-bare.conf
rm -rf "$INSTANCE_ETC"
copy_segment "$INSTANCE_RUN" reused
if "$CTL" -s "$INSTANCE_RUN/mod_expect.shm" policy >/dev/null 2>&1; then
    fail "the instance's copy naming a reused pid reads as live"
fi
kill_apache2
STARTED=no
rc=0; "$CTL" policy >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "after kill -9, expectctl policy exited $rc, not 3 (stale)"
has_segment "$APACHE_RUN_DIR" || fail "kill -9 left no segment to clean"
apt purge "$PKG" >"$WORK/purge-stale.log" 2>&1 || { cat "$WORK/purge-stale.log"; fail "apt-get purge failed"; }
no_segment "$APACHE_RUN_DIR" || fail "the purge kept the stale segment of a killed apache2"
no_segment "$INSTANCE_RUN" || fail "the purge kept the stale segment in $INSTANCE_RUN"
ok "apt-get purge deleted the stale segments: a killed apache2's and the instance's in $INSTANCE_RUN"

step "installing $(basename "$DEB") again"
apt install --no-install-recommends "$DEB" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log"; fail "apt-get install (again) failed"; }
apache2ctl start
STARTED=yes
for _ in $(seq 200); do
    if "$CTL" policy >/dev/null 2>&1; then break; fi
    sleep 0.1
done
"$CTL" policy >/dev/null || fail "apache2 made no live segment after the reinstall"
ok "installed again; apache2 serves a live segment"

# ---- an upgrade to a build of another segment layout, and back ---------------------
# The package's postinst reloads apache2 (a graceful restart), which
# carries the counters and the `expectctl set` overrides over into the new
# layout (EXP0040).  Where invoke-rc.d may not act (policy-rc.d, as in
# containers), the reload is what an administrator runs after the upgrade.
step "upgrading to a build of segment layout 99, then back"
ours=$("$CTL" --version | sed -n 's/.*segment layout \([0-9]*\).*/\1/p')
[ -n "$ours" ] || fail "expectctl --version names no segment layout"
rm -rf "$WORK/src99"
cp -a "$WORK/src" "$WORK/src99"
V99="$VERSION+layout99"
{
    printf '%s (%s) unstable; urgency=medium\n\n' "$PKG" "$V99"
    printf '  * check-package: the same tree built with segment layout 99.\n\n'
    printf ' -- mod_expect maintainers <maintainers@example.org>  %s\n\n' "$(date -R)"
    cat "$WORK/src/debian/changelog"
} >"$WORK/src99/debian/changelog"
# nocheck: the unit tests pin this tree's layout number.
if ! (cd "$WORK/src99" && DEB_BUILD_OPTIONS=nocheck \
      DEB_CFLAGS_APPEND=-DEXPECT_SHM_LAYOUT_VERSION=99u dpkg-buildpackage -us -uc -b) \
      >"$WORK/build99.log" 2>&1; then
    tail -40 "$WORK/build99.log"
    fail "dpkg-buildpackage of the layout-99 build failed (log above)"
fi
DEB99=$WORK/${PKG}_${V99}_${ARCH}.deb
[ -f "$DEB99" ] || fail "no $(basename "$DEB99")"
# Counters and an override, as an operator leaves them.
for _ in 1 2; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: reject.test' -H 'Expect: 100-continue' \
           --data-binary "@$WORK/body" "http://127.0.0.1:$PORT/")
    [ "$code" = 417 ] || fail "an upload to reject.test got $code, not 417"
done
"$CTL" set "check.test:$PORT" ignore >/dev/null || fail "expectctl set before the upgrade"
r417() {  # EXPECTCTL: reject.test's 417s from mod_expect, and check.test's override
    "$1" stats --json | /usr/bin/python3 -c '
import json, sys
rows = {v["name"].split(":")[0]: v for v in json.load(sys.stdin)["vhosts"]}
print(rows["reject.test"]["r417"]["mod_expect"], rows["check.test"]["override"])'
}
before=$(r417 "$CTL") || fail "expectctl stats before the upgrade"
case $before in "2 ignore") ;; *) fail "before the upgrade: $before, not '2 ignore'" ;; esac
pid=$(apache2_pid) || fail "apache2 is not running before the upgrade"
# A graceful restart, by the postinst or by hand: wait for the carry-over's line.
upgraded_to() {  # DEB EXPECTED-LAYOUT-IN-THE-LINE
    local n0 n
    n0=$(grep -c 'EXP0040' "$APACHE_LOG_DIR/error.log" 2>/dev/null || true)
    apt install --no-install-recommends --allow-downgrades "$1" >"$WORK/upgrade.log" 2>&1 \
        || { cat "$WORK/upgrade.log"; fail "apt-get install $(basename "$1") failed"; }
    for i in $(seq 100); do
        n=$(grep -c 'EXP0040' "$APACHE_LOG_DIR/error.log" 2>/dev/null || true)
        [ "${n:-0}" -gt "${n0:-0}" ] && break
        if [ "$i" = 30 ]; then
            echo "check-package: no reload by the postinst (invoke-rc.d refused?): apache2ctl graceful"
            apache2ctl graceful
        fi
        sleep 0.1
    done
    [ "${n:-0}" -gt "${n0:-0}" ] || { tail -20 "$APACHE_LOG_DIR/error.log"; fail "no EXP0040 after installing $(basename "$1")"; }
    [ "$(apache2_pid)" = "$pid" ] || fail "apache2 was restarted (pid $pid gone), not reloaded"
    grep 'EXP0040' "$APACHE_LOG_DIR/error.log" | tail -1 | grep -q "$2" \
        || fail "EXP0040 does not say '$2': $(grep EXP0040 "$APACHE_LOG_DIR/error.log" | tail -1)"
}
upgraded_to "$DEB99" "written by a build of layout $ours (this build: layout 99, mod_expect [^ ]* (debian-$V99))"
grep 'EXP0003' "$APACHE_LOG_DIR/error.log" | tail -1 | grep -qF "(debian-$V99) serving" \
    || fail "EXP0003 does not name the build debian-$V99"
after=$(r417 /usr/sbin/expectctl) || fail "the layout-99 expectctl cannot read the carried segment"
[ "$after" = "2 ignore" ] || fail "after the upgrade: $after, not '2 ignore'"
ok "upgrade to a build of another layout: apache2 reloaded (pid $pid kept), counters and override carried over, EXP0040 and EXP0003 say so"
upgraded_to "$DEB" "written by a build of layout 99 (this build: layout $ours"
back=$(r417 "$CTL") || fail "expectctl stats after the downgrade"
[ "$back" = "2 ignore" ] || fail "after the downgrade: $back, not '2 ignore'"
"$CTL" set "check.test:$PORT" default >/dev/null || fail "expectctl set default"
ok "and back: the downgrade carries them over too"

# ---- purge -----------------------------------------------------------------------
step "purging $PKG"
live_pid=$(apache2_pid) || fail "apache2 is not running before the purge"
copy_segment "$INSTANCE_RUN-live"
copy_segment "$INSTANCE_RUN" reused
dpkg -L "$PKG" >"$WORK/files"
apt purge "$PKG" >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; fail "apt-get purge failed"; }
status=$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true)
case $status in
    ""|*not-installed) ;;
    *) fail "after the purge dpkg says $PKG is '$status'" ;;
esac
while read -r f; do
    case $f in /etc/*|/usr/*|/var/*) ;; *) continue ;; esac
    if [ -L "$f" ] || { [ -e "$f" ] && [ ! -d "$f" ]; }; then
        fail "the purge left $f"
    fi
    if [ -d "$f" ] && ! dpkg-query -S "$f" >/dev/null 2>&1; then
        fail "the purge left the directory $f, which no other package owns"
    fi
done <"$WORK/files"
for f in /etc/apache2/mods-enabled/expect.load /etc/apache2/mods-enabled/expect.conf \
         /etc/apache2/conf-enabled/expect-metrics.conf; do
    if [ -e "$f" ] || [ -L "$f" ]; then fail "the purge left $f"; fi
done
# The maintainer scripts restart apache2 without the module (its stop
# removes the segment) unless invoke-rc.d may not (policy-rc.d, as in
# containers): then the old apache2 runs on with the module, and its
# segment, still live, must be there.
if [ "$(apache2_pid)" = "$live_pid" ] && has_segment "$APACHE_RUN_DIR"; then
    "$CTL" policy >/dev/null || fail "the purge kept a segment that is not live"
    echo "check-package: apache2 was not restarted (invoke-rc.d refused?): its live segment stays"
else
    no_segment "$APACHE_RUN_DIR" || fail "the purge left a segment no running apache2 serves"
fi
has_segment "$INSTANCE_RUN-live" || fail "the purge deleted a segment the running apache2 serves"
no_segment "$INSTANCE_RUN" || fail "the purge kept a segment naming a reused pid"
rm -rf "$INSTANCE_RUN" "$INSTANCE_RUN-live"
ok "the purge deleted only stale segments: a live one (an instance's copy) stays, a reused pid's goes"
leftovers >"$WORK/after"
apache2ctl configtest 2>"$WORK/configtest.log" \
    || { cat "$WORK/configtest.log"; fail "apache2's configuration does not parse after the purge"; }
new=$(comm -13 "$WORK/before" "$WORK/after")
[ -z "$new" ] || fail "the purge left, under /etc, /usr and /var: $new"
ok "the purge removed its $(grep -c . "$WORK/files") paths, the enablement links and the maintainer state; apache2's configuration still parses"

step "stopping apache2"
stop_apache2
STARTED=no
if [ -e "$SEGMENT" ] || [ -e "$SEGMENT.ctl" ]; then fail "a segment file is left after the stop"; fi
ok "apache2 stopped; no segment file"

echo "check-package: $passed passed, 0 failed"
