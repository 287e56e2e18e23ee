#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The mod_expect demo: a private httpd on loopback with two virtual hosts of
# different policies, real curl requests, and what happened to each.
# Installs missing Debian packages and builds the module first.
set -euo pipefail
cd "$(dirname "$0")/.."
build/install-deps.sh
[ -x configure ] || build/bootstrap.sh >/dev/null
[ -f Makefile ] || ./configure -q
make -s

MODDIR=/usr/lib/apache2/modules
ROOT=$(mktemp -d)
chmod 755 "$ROOT"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$ROOT/htdocs" "$ROOT/logs"
echo "hello from the demo" > "$ROOT/htdocs/index.html"
head -c $((2 * 1024 * 1024)) /dev/urandom > "$ROOT/upload.bin"
RUNAS=""
if [ "$(id -u)" -eq 0 ]; then RUNAS=$'User nobody\nGroup nogroup'; fi

cat > "$ROOT/httpd.conf" <<EOF
ServerRoot $ROOT
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule mime_module $MODDIR/mod_mime.so
LoadModule reflector_module $MODDIR/mod_reflector.so
LoadModule expect_module $PWD/mod_expect/mod_expect.so
Listen 127.0.0.1:$PORT
PidFile $ROOT/httpd.pid
ExpectShmFile $ROOT/mod_expect.shm
ErrorLog $ROOT/logs/error_log
LogLevel info
TypesConfig /etc/mime.types
LogFormat "%v \"%r\" %>s expect=\"%{Expect}i\" decision=%{expect-decision}n" demo
CustomLog $ROOT/logs/access_log demo
ServerName localhost
DocumentRoot $ROOT/htdocs
$RUNAS

<VirtualHost 127.0.0.1:$PORT>
    ServerName uploads.example
    DocumentRoot $ROOT/htdocs
    ExpectPolicy continue
    <Location /upload>
        SetHandler reflector
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:$PORT>
    ServerName legacy.example
    DocumentRoot $ROOT/htdocs
    ExpectPolicy reject
    <Location /upload>
        SetHandler reflector
    </Location>
</VirtualHost>
EOF

cleanup() {
    apache2 -d "$ROOT" -f "$ROOT/httpd.conf" -k stop 2>/dev/null || true
    sleep 0.5
    rm -rf "$ROOT"
}
trap cleanup EXIT
apache2 -d "$ROOT" -f "$ROOT/httpd.conf" -k start
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

URL="http://127.0.0.1:$PORT"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trace() { grep -E '^(> Expect|< HTTP/|\* (Re-using|Connection #|Done waiting|Closing))' || true; }

say "1. uploads.example (ExpectPolicy continue): a 2 MB upload with curl's default Expect: 100-continue"
curl -sv -o /dev/null -H "Host: uploads.example" --data-binary "@$ROOT/upload.bin" \
     -w '   status %{http_code}, sent %{size_upload} bytes, total %{time_total}s\n' \
     "$URL/upload" 2>"$ROOT/t1" ; trace < "$ROOT/t1"
echo "   -> 100 Continue at once, body uploaded, no 1-second stall."

say "2. legacy.example (ExpectPolicy reject): the same upload"
curl -sv -o /dev/null -H "Host: legacy.example" --data-binary "@$ROOT/upload.bin" \
     -w '   status %{http_code}, sent %{size_upload} bytes, total %{time_total}s\n' \
     "$URL/upload" 2>"$ROOT/t2" ; trace < "$ROOT/t2"
echo "   -> 417 before any body byte was sent; the connection is closed (no desync)."

say "3. an unknown expectation: Expect: 100-continue, foo"
curl -sv -o /dev/null -H "Host: uploads.example" -H "Expect: 100-continue, foo" \
     --data-binary "small body" -w '   status %{http_code}\n' "$URL/upload" 2>"$ROOT/t3" ; trace < "$ROOT/t3"
echo "   -> httpd core answers 417 before any module runs (only 100-continue is defined),"
echo "      but only after reading the body: curl waited its 1 s for a 100 first."

say "4. a body-less GET carrying Expect: 100-continue, twice on one connection"
curl -sv -o /dev/null -o /dev/null -H "Host: uploads.example" -H "Expect: 100-continue" \
     -w '   status %{http_code}\n' "$URL/index.html" "$URL/index.html" 2>"$ROOT/t4" ; trace < "$ROOT/t4"
echo "   -> 200 and the connection is re-used: stock httpd would have closed it."

sleep 0.3
say "What the server logged (%{expect-decision}n)"
sed 's/^/   /' "$ROOT/logs/access_log"

CTL=(expectctl/expectctl -s "$ROOT/mod_expect.shm")
say "expectctl stats"
"${CTL[@]}" stats
say "expectctl events: every 417, who produced it, and the fix"
"${CTL[@]}" events

say "expectctl set uploads.example reject: no reload"
"${CTL[@]}" set uploads.example reject
curl -s -o /dev/null -H "Host: uploads.example" --data-binary "@$ROOT/upload.bin" \
     -w '   the same upload now: status %{http_code}, sent %{size_upload} bytes\n' "$URL/upload"
"${CTL[@]}" set uploads.example default
sleep 0.3
say "expectctl stats"
"${CTL[@]}" stats
