#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build one httpd from a release tarball (httpd-VERSION.tar.xz, a git
# archive of the tag) into a cache outside the work tree, once:
#   build/httpd-build.sh TARBALL
# prints the install prefix on its last line.  The cache key is the version
# and a hash of the tarball and of the configure options (MODS, OPTS), so a
# changed tarball or recipe builds again and the same ones never do.  Cache: $EXPECT_HTTPD_CACHE, else
# ${XDG_CACHE_HOME:-~/.cache}/mod_expect.
# Only the modules the tests load are built (a minute instead of several),
# and every MPM as a shared module so one build serves event, worker and
# prefork.
set -e
tarball=$1
[ -f "$tarball" ] || { echo "httpd-build: no such tarball: $tarball" >&2; exit 2; }
base=$(basename "$tarball" .tar.xz)          # httpd-2.4.58
version=${base#httpd-}
# Modules: what tests/integration loads (the harness's base set and the
# integration core's extras), http2 where the tag has it, every MPM shared.
# Debian compiles log_config, logio, unixd and version into httpd
# (apache2 -l); so does this build, so one test config fits both.
MODS="few authz_core mime alias reflector status proxy proxy_http cgi cgid ssl http2 lua \
headers setenvif rewrite env socache_shmcb"
OPTS="--enable-log-config=static --enable-logio=static --enable-unixd=static \
--enable-version=static --enable-mpms-shared=all --with-mpm=event"
hash=$({ sha256sum <"$tarball"; echo "$MODS $OPTS"; } | sha256sum | cut -c1-16)
cache=${EXPECT_HTTPD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mod_expect}
prefix="$cache/httpd-$version-$hash"
mkdir -p "$cache"
# One build of a version at a time (two runs of make check-versions).
exec 9>"$cache/httpd-$version.lock"
flock 9
if [ -x "$prefix/bin/httpd" ] && [ -f "$prefix/.complete" ]; then
    echo "httpd-build: $version cached in $prefix" >&2
    echo "$prefix"
    exit 0
fi
rm -rf "$prefix"
work=$(mktemp -d "$cache/build-$version.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$cache/httpd-$version-$hash.log"
echo "httpd-build: building httpd $version into $prefix (log: $log)" >&2
(
    set -e
    cd "$work"
    tar -xJf "$tarball"
    cd "$base"
    # A git tag has no configure; Debian's APR ships the build scripts
    # buildconf wants in /usr/share/apr-1.0 and /usr/share/apr-util-1.0.
    ./buildconf --with-apr=/usr/share/apr-1.0 --with-apr-util=/usr/share/apr-util-1.0
    cp /usr/share/misc/config.guess /usr/share/misc/config.sub build/
    # 2.4.37 predates PCRE2 support (pcre-config from libpcre3-dev); later
    # tags find pcre2-config themselves.
    pcre=""
    if command -v pcre-config >/dev/null 2>&1 && ! grep -q pcre2 configure.in 2>/dev/null; then
        pcre="--with-pcre=$(command -v pcre-config)"
    fi
    # mod_lua (the policy tests' handler that never reads the body) finds
    # Lua through "pkg-config lua"; Debian names it lua5.3.
    mkdir -p "$work/pc"
    if pc=$(pkg-config --variable=pcfiledir lua5.3 2>/dev/null); then
        cp "$pc/lua5.3.pc" "$work/pc/lua.pc"
    fi
    export PKG_CONFIG_PATH="$work/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    # shellcheck disable=SC2086
    ./configure --prefix="$prefix" --with-apr=/usr/bin/apr-1-config \
        --with-apr-util=/usr/bin/apu-1-config $pcre --enable-mods-shared="$MODS" $OPTS
    make -j"${HTTPD_BUILD_JOBS:-2}"
    make install
) >"$log" 2>&1 || { echo "httpd-build: httpd $version failed; last lines of $log:" >&2; tail -30 "$log" >&2; exit 1; }
touch "$prefix/.complete"
# Older builds of this version (another tarball or recipe) are not used again.
for old in "$cache/httpd-$version-"*; do
    case "$old" in
    "$prefix"|"$prefix.log"|*.lock) ;;
    *) rm -rf "$old" ;;
    esac
done
echo "$prefix"
