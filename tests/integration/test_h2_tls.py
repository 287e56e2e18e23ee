# SPDX-License-Identifier: Apache-2.0
"""HTTP/2 (h2c with prior knowledge, h2 over TLS) and HTTP/1.1 over TLS,
with real clients: curl and nghttp.

What clients see on h2 is pinned here, including curl 7.88's "Empty reply"
on a 417 (see docs/mod_expect.md, "HTTP/2"): the server's frames are
correct (RFC 9113 s8.1), and the same happens without mod_expect for any
early final response.
"""
import os
import shutil
import subprocess

import pytest

from httpd_harness import Httpd, free_port, serving
from probehelp import install_echo_cgi, make_cert
from testlib import CGI, TLS_LINES, vhost

NGHTTP = shutil.which("nghttp")
SIZE = 2 * 1024 * 1024

CONF = """
Protocols h2 h2c http/1.1
ScriptSock @ROOT@/logs/cgid.sock
Listen 127.0.0.1:@TLSPORT@
""" + "".join(
    vhost(name, f"ExpectPolicy {policy}", CGI, *tls, docroot=False, echo=False, port=port)
    for port, tls in (("@PORT@", ()), ("@TLSPORT@", TLS_LINES))
    for name, policy in (("cont.test", "continue"), ("rej.test", "reject")))
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tls_port = free_port()
    h = Httpd(CONF.replace("@TLSPORT@", str(tls_port)), mpm="event",
              modules=("http2", "cgid", "ssl", "socache_shmcb"), name="h2tls")
    h.tls_port = tls_port
    install_echo_cgi(h.root)
    make_cert(f"{h.root}/tls", "cont.test", "DNS:cont.test,DNS:rej.test")
    payload = tmp_path_factory.mktemp("h2") / "2mb.bin"
    payload.write_bytes(os.urandom(SIZE))
    h.payload = str(payload)
    small = tmp_path_factory.mktemp("h2s") / "small.txt"
    small.write_bytes(b"hello over h2\n")
    h.small = str(small)
    with serving(h) as h:
        yield h


def curl(server, host, *opts, tls=False, expect=None):
    port = server.tls_port if tls else server.port
    scheme = "https" if tls else "http"
    cmd = ["curl", "-sS", "-v", "-o", "/dev/null", "--data-binary", f"@{server.payload}",
           "--resolve", f"{host}:{port}:127.0.0.1", "-k",
           "-w", "%{http_code} %{size_upload} %{http_version}", *opts]
    if expect is not None:
        cmd += ["-H", f"Expect: {expect}"]
    cmd.append(f"{scheme}://{host}:{port}/cgi/echo.cgi")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    parts = res.stdout.split()
    code, size, version = (int(parts[0]), int(float(parts[1])), parts[2]) if len(parts) == 3 \
        else (0, 0, "")
    return res.returncode, code, size, version, res.stderr


# ---- HTTP/1.1 over TLS: the same policy behaviour as cleartext -------------

def test_tls_http11_continue(server):
    rc, code, size, version, trace = curl(server, "cont.test", "--http1.1", tls=True)
    assert (rc, code, size, version) == (0, 200, SIZE, "1.1")
    assert "< HTTP/1.1 100 Continue" in trace
    assert "Done waiting for 100-continue" not in trace


def test_tls_http11_reject(server):
    rc, code, size, version, trace = curl(server, "rej.test", "--http1.1", tls=True)
    assert (code, size) == (417, 0)
    assert "Done waiting for 100-continue" not in trace


# ---- HTTP/2: curl never sends Expect by itself, so its uploads just work ----

@pytest.mark.parametrize("host", ["cont.test", "rej.test"])
@pytest.mark.parametrize("mode", ["h2c-prior-knowledge", "h2-tls"])
def test_curl_h2_default_upload_is_clean(server, host, mode):
    opts = ["--http2-prior-knowledge"] if mode == "h2c-prior-knowledge" else ["--http2"]
    rc, code, size, version, trace = curl(server, host, *opts, tls=(mode == "h2-tls"))
    assert "> expect:" not in trace.lower(), "curl sent Expect over h2 on its own"
    assert (rc, code, size, version) == (0, 200, SIZE, "2")


@pytest.mark.parametrize("mode", ["h2c-prior-knowledge", "h2-tls"])
def test_curl_h2_forced_expect_continue(server, mode):
    opts = ["--http2-prior-knowledge"] if mode == "h2c-prior-knowledge" else ["--http2"]
    rc, code, size, version, trace = curl(server, "cont.test", *opts, tls=(mode == "h2-tls"),
                                          expect="100-continue")
    assert (rc, code, size) == (0, 200, SIZE)


@pytest.mark.parametrize("mode", ["h2c-prior-knowledge", "h2-tls"])
def test_curl_h2_forced_expect_reject_known_curl_bug(server, mode):
    """curl 7.88 mishandles a complete 417 followed by RST_STREAM(NO_ERROR):
    it reports "Empty reply" (exit 52) or a framing error (exit 16); RFC 9113
    s8.1 says it MUST NOT discard the response. Either way no body byte is
    uploaded and no 200 is ever seen."""
    opts = ["--http2-prior-knowledge"] if mode == "h2c-prior-knowledge" else ["--http2"]
    rc, code, size, version, trace = curl(server, "rej.test", *opts, tls=(mode == "h2-tls"),
                                          expect="100-continue")
    assert size == 0
    # curl 7.88's reaction varies from run to run: exit 52 ("Empty reply
    # from server") or 16 ("Error in the HTTP2 framing layer"), sometimes
    # after parsing the 417; a fixed curl exits 0 with the 417.
    assert rc in (0, 16, 52) and code in (0, 417), (rc, code, trace[-500:])
    if rc == 52:
        assert "Empty reply from server" in trace
    if rc == 16:
        assert "HTTP2 framing layer" in trace


# ---- nghttp: waits for the 100 as the protocol intends -------------------

def nghttp(server, host, tls=False):
    """nghttp's exit status, its -v trace, and the :status values in it."""
    port = server.tls_port if tls else server.port
    scheme = "https" if tls else "http"
    res = subprocess.run([NGHTTP, "-v", "--expect-continue", "-H", f":authority: {host}",
                          "-d", server.small, f"{scheme}://127.0.0.1:{port}/cgi/echo.cgi"],
                         capture_output=True, text=True, timeout=60, errors="replace")
    statuses = [line.split(":status:")[1].strip() for line in res.stdout.splitlines()
                if ":status:" in line]
    return res.returncode, res.stdout, statuses


@pytest.mark.skipif(not NGHTTP, reason="nghttp missing: build/install-deps.sh")
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_nghttp_continue(server, tls):
    rc, out, statuses = nghttp(server, "cont.test", tls)
    assert rc == 0
    assert statuses == ["100", "200"], statuses
    assert "RST_STREAM" not in out
    assert "read 14 bytes" in out


@pytest.mark.skipif(not NGHTTP, reason="nghttp missing: build/install-deps.sh")
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_nghttp_reject(server, tls):
    rc, out, statuses = nghttp(server, "rej.test", tls)
    assert rc == 0
    assert statuses == ["417"], statuses
    # A complete response, then the server asks the client to stop sending
    # without error: RFC 9113 s8.1.
    assert "recv RST_STREAM frame" in out and "error_code=NO_ERROR" in out
    assert "send DATA frame" not in out, "nghttp uploaded body bytes after the 417"
