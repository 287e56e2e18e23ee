#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages mod_expect needs to build, test and demo.
# --dev adds what the sanitizer, valgrind and fuzzing targets need;
# --bench what make bench and make check-perf need;
# --package only the tools that build and lint the .deb (dpkg-buildpackage,
# debhelper, lintian) and the package's Build-Depends, without the list
# above; --package-test adds what make check-package uses besides (apache2
# to install into, curl);
# --clients the real clients that tests/integration/test_clients.py runs
# against each policy (make check-clients): about 600 MB with Java and Go;
# --versions what make check-versions needs to build httpd 2.4.37 and later
# from their release tags (APR, PCRE 1 for 2.4.37, Lua for mod_lua, ...).
# Options combine; all but --package and --package-test add to the list
# above.  Installs only what is missing; needs root (or sudo)
# only then.
set -e

BASE="apache2 apache2-dev autoconf make gcc pkg-config libcmocka-dev libssl-dev libnghttp2-dev libjansson-dev zlib1g-dev libncurses-dev openssl \
python3 python3-pytest python3-pytest-xdist curl prometheus util-linux valgrind man-db \
nghttp2-client php-cli php-curl nodejs tmux apache2-utils"
PACKAGES=""
base=yes
builddeps=no
if [ $# -gt 0 ]; then
    base=no
fi
for opt in "$@"; do
    case "$opt" in
    --dev|--bench|--clients|--versions) base=yes ;;
    esac
done
if [ "$base" = yes ]; then
    PACKAGES=$BASE
fi
for opt in "$@"; do
    case "$opt" in
    --dev)
        PACKAGES="$PACKAGES clang libclang-rt-14-dev" ;;
    # The load generator, the alternatives it compares against
    # (mod_security2) and the timing tools used by `make bench`.
    --bench)
        PACKAGES="$PACKAGES wrk libapache2-mod-security2 hyperfine valgrind curl" ;;
    # dpkg-buildpackage, debhelper and lintian; then debian/control's
    # Build-Depends (below).
    --package)
        PACKAGES="$PACKAGES build-essential dpkg-dev debhelper fakeroot lintian"
        builddeps=yes ;;
    --package-test)
        PACKAGES="$PACKAGES apache2 curl python3" ;;
    # Go and Java programs are compiled offline from the standard library;
    # git pushes through git-http-backend.
    --clients)
        PACKAGES="$PACKAGES golang-go openjdk-17-jdk-headless python3-requests \
python3-botocore ruby git libwww-perl wget" ;;
    # buildconf needs autoconf and libtool (and APR's build scripts);
    # config.guess comes from autotools-dev; 2.4.37 predates PCRE2.
    --versions)
        PACKAGES="$PACKAGES libapr1-dev libaprutil1-dev autoconf libtool autotools-dev \
libpcre3-dev libpcre2-dev libexpat1-dev libnghttp2-dev libssl-dev liblua5.3-dev \
xz-utils util-linux" ;;
    *)
        echo "install-deps: unknown option $opt (--dev, --bench, --package, --package-test, --clients, --versions)" >&2
        exit 2 ;;
    esac
done

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# The Build-Depends of debian/control, which dpkg-checkbuilddeps judges
# (virtual packages such as dh-apache2 included) once dpkg-dev is there.
need_builddeps() {
    [ "$builddeps" = yes ] || return 1
    command -v dpkg-checkbuilddeps >/dev/null 2>&1 || return 0
    ! (cd "$(dirname "$0")/.." && dpkg-checkbuilddeps >/dev/null 2>&1)
}
if [ -z "$missing" ] && ! need_builddeps; then
    exit 0
fi

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-deps: missing packages:$missing; run this script as root" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# Packages like apache2 and prometheus start a service listening on every
# interface when installed; the tests need only the binaries.  A temporary
# policy-rc.d (exit 101 = "not allowed") keeps them from starting.
POLICY_RC=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY_RC" >/dev/null
    $SUDO chmod 755 "$POLICY_RC"
    trap '$SUDO rm -f "$POLICY_RC"' EXIT
fi
$SUDO apt-get update -qq
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if need_builddeps; then
    echo "install-deps: installing the Build-Depends of debian/control"
    (cd "$(dirname "$0")/.." && $SUDO apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null)
fi
