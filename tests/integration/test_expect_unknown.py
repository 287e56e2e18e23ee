# SPDX-License-Identifier: Apache-2.0
"""ExpectUnknown: expectations other than 100-continue, which httpd core
answers with 417 before any module hook runs.

- curl with `Expect: 100-continue, foo` uploads without its 1 s stall under
  `ignore` (the 100 arrives, 200), and gets core's 417 under `reject`;
- the setting is per virtual host, decided once the vhost is known;
- what `ignore` changed is counted (`unknown_dropped`: stats, JSON,
  Prometheus, mod_status) and the value sent stays in %{expect-original}n;
- with `reject` everywhere, nothing is hooked (no filter on any request);
- HTTP/2 (h2c): the same decision, from the header table;
- bad values: EXP config errors.
The hostile table and its desync checks run with `ExpectUnknown ignore` in
test_hostile.py (every MPM, both judging placements).
"""
import os
import subprocess
import time
import urllib.request

import pytest

from httpd_harness import MPMS, Httpd, expectctl, has_module, httpd_version, serving
from rawhttp import Conn
from testlib import vhost, wait_for

IGN = "ign.test"
REJ = "rej.test"
SIZE = 256 * 1024

CONF = """
ErrorDocument 400 /errdocs/400.html
LogFormat "%v \\"%r\\" %>s expect=\\"%{Expect}i\\" original=\\"%{expect-original}n\\" decision=%{expect-decision}n" unknown
CustomLog @ROOT@/logs/unknown_log unknown
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
</Location>
""" + vhost(IGN, "ExpectUnknown ignore") + vhost(REJ)


@pytest.fixture(scope="module", params=MPMS)
def server(request, tmp_path_factory):
    h = Httpd(CONF, mpm=request.param, modules=["status"], name=f"unknown-{request.param}")
    payload = tmp_path_factory.mktemp("unknown") / "upload.bin"
    payload.write_bytes(os.urandom(SIZE))
    h.payload = str(payload)
    with serving(h):
        yield h


def curl_upload(h, host, expect, *opts):
    cmd = ["curl", "-sS", "-v", "-o", "/dev/null", "--data-binary", f"@{h.payload}",
           "-H", f"Expect: {expect}", "--resolve", f"{host}:{h.port}:127.0.0.1",
           "-w", "%{http_code} %{size_upload} %{time_total}", *opts,
           f"http://{host}:{h.port}/echo"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    code, size, total = res.stdout.split()
    return int(code), int(float(size)), float(total), res.stderr


def log_lines(h, needle):
    path = os.path.join(h.root, "logs", "unknown_log")
    deadline = time.time() + 5
    while time.time() < deadline:
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines() if needle in ln]
        if lines:
            return lines
        time.sleep(0.1)
    return []


def dropped(h, name):
    return h.vhost_stats(name)["unknown_dropped"]


def test_curl_uploads_without_a_stall(server):
    h = server
    before = dropped(h, IGN)
    code, size, total, trace = curl_upload(h, IGN, "100-continue, foo")
    assert (code, size) == (200, SIZE), trace
    # The 100 came (curl says so), and curl did not sit out its 1 s timer.
    assert "< HTTP/1.1 100 Continue" in trace, trace
    assert "Done waiting for 100-continue" not in trace
    assert total < 0.9, total
    assert dropped(h, IGN) == before + 1
    line = log_lines(h, f"{IGN} \"POST /echo")[-1]
    assert 'expect="100-continue" original="100-continue, foo" decision=continue' in line, line


def test_reject_vhost_answers_as_core(server):
    h = server
    before = dropped(h, REJ)
    code, size, _, trace = curl_upload(h, REJ, "100-continue, foo")
    assert code == 417, trace
    assert "< HTTP/1.1 100 Continue" not in trace
    assert dropped(h, REJ) == before
    # Counted as core's unknown-expectation 417, as without the module: in
    # log_transaction, which may run after curl has the answer (seen under
    # prefork with the test files side by side).
    wait_for(lambda: h.vhost_stats(REJ)["r417"]["core"] >= 1, timeout=5,
             what="core's 417 counted")
    assert "EXP0030" in h.read_error_log()


def post_foo(h):
    """`Expect: foo` with a 5-byte body sent at once: (interims, response)."""
    c = Conn(h.port)
    try:
        c.send(f"POST /echo HTTP/1.1\r\nHost: {IGN}\r\nExpect: foo\r\n"
               "Content-Length: 5\r\n\r\nhello".encode())
        return c.read_response()
    finally:
        c.close()


def test_unknown_only_is_no_expectation(server):
    h = server
    interims, resp = post_foo(h)
    assert interims == [] and resp.status == 200 and resp.body == b"hello"
    line = log_lines(h, 'original="foo"')[-1]
    # No expectation left: not judged, no Expect header for the application.
    assert 'expect="-"' in line and "decision=-" in line, line


def test_known_value_is_untouched(server):
    h = server
    before = dropped(h, IGN)
    code, size, _, trace = curl_upload(h, IGN, "100-continue")
    assert (code, size) == (200, SIZE)
    assert "< HTTP/1.1 100 Continue" in trace
    assert dropped(h, IGN) == before


def test_outputs_show_the_count(server):
    h = server
    n = dropped(h, IGN)
    assert n >= 2
    prom = expectctl("stats", "--prometheus", shm=h.shm).stdout
    assert (f'mod_expect_unknown_expectations_dropped_total{{vhost="{IGN}:{h.port}"}} {n}'
            in prom), prom
    table = expectctl("stats", shm=h.shm).stdout
    assert "DROPPED" in table
    with urllib.request.urlopen(f"http://127.0.0.1:{h.port}/server-status?auto") as f:
        auto = f.read().decode()
    assert f"unknown_dropped={n}" in auto and "ExpectUnknownDropped: " in auto


def test_core_refusal_then_errordocument(server):
    """A request core refuses before any hook (here: no Host) goes to its
    ErrorDocument by an internal redirect, which runs post_read_request
    again: the Expect value is not judged there, as core never judged it."""
    h = server
    with open(os.path.join(h.htdocs, "errdocs", "400.html"), "w") as f:
        f.write("custom 400 page\n")
    before = dropped(h, IGN)
    c = Conn(h.port)
    try:
        c.send(b"GET /index.html HTTP/1.1\r\nExpect: x-foo\r\n\r\n")
        _, resp = c.read_response()
    finally:
        c.close()
    assert resp.status == 400 and resp.body == b"custom 400 page\n", resp.body
    assert dropped(h, IGN) == before


def test_reject_everywhere_hooks_nothing():
    """Without ExpectUnknown ignore no filter is added: core's own 417,
    logged by core (AH00570), not by mod_expect (EXP0030)."""
    h = Httpd(CONF.replace("ExpectUnknown ignore", "ExpectUnknown reject"),
              name="unknown-off")
    with serving(h):
        _, resp = post_foo(h)
        assert resp.status == 417
        log = h.read_error_log()
        assert "AH00570" in log and "EXP0030" not in log


@pytest.mark.parametrize("value,message", [
    ("maybe", "ExpectUnknown: unknown value 'maybe'; allowed values are reject and ignore"),
])
def test_bad_value(value, message):
    h = Httpd(f"ExpectUnknown {value}\n", name="unknown-bad")
    try:
        res = h.configtest()
        assert res.returncode != 0 and message in res.stderr, res.stderr
    finally:
        h.cleanup()


def test_not_in_a_directory():
    h = Httpd("<Location />\n    ExpectUnknown ignore\n</Location>\n", name="unknown-dir")
    try:
        res = h.configtest()
        assert res.returncode != 0 and "ExpectUnknown not allowed in <Location> context" in res.stderr, \
            res.stderr
    finally:
        h.cleanup()


# ---- HTTP/2: mod_http2 fills the header table before pre_read_request ----

H2_CONF = "Protocols h2c http/1.1\n" + CONF


def h2_refused():
    """httpd 2.4.49 to 2.4.57: mod_http2 checks Expect before any hook sees
    the headers (read in the sources of 2.4.52 and 2.4.58), so mod_expect
    refuses ExpectUnknown ignore over h2 at -t (EXP0033)."""
    return (2, 4, 49) <= httpd_version() < (2, 4, 58)


def test_h2_ignore_at_configtest():
    if not has_module("http2"):
        pytest.skip("this httpd has no mod_http2")
    h = Httpd(H2_CONF, mpm="event", modules=["status", "http2"], name="unknown-h2-t")
    try:
        res = h.configtest()
        if h2_refused():
            assert res.returncode != 0, res.stderr
            assert "EXP0033" in res.stderr and f"on virtual host {IGN} (" in res.stderr, res.stderr
            assert "Protocols allows h2c" in res.stderr, res.stderr
            # Without h2 in Protocols the same vhosts are accepted.
            h.write_config(CONF)
            res = h.configtest()
        assert res.returncode == 0, res.stderr
    finally:
        h.cleanup()


@pytest.fixture(scope="module")
def h2_server(tmp_path_factory):
    if not has_module("http2"):
        pytest.skip("this httpd has no mod_http2")
    if h2_refused():
        pytest.skip(f"httpd {'.'.join(map(str, httpd_version()))}: ExpectUnknown ignore over "
                    "h2 is refused at -t (test_h2_ignore_at_configtest)")
    h = Httpd(H2_CONF, mpm="event", modules=["status", "http2"], name="unknown-h2")
    payload = tmp_path_factory.mktemp("unknown-h2") / "upload.bin"
    payload.write_bytes(os.urandom(SIZE))
    h.payload = str(payload)
    with serving(h):
        yield h


def h2_post(h, host, expect):
    """An h2c upload to a static page (mod_reflector does not echo over h2)."""
    cmd = ["curl", "-sS", "-o", "/dev/null", "--http2-prior-knowledge",
           "--data-binary", "hello", "-H", f"Expect: {expect}",
           "--resolve", f"{host}:{h.port}:127.0.0.1", "-w", "%{http_code}",
           f"http://{host}:{h.port}/index.html"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_h2_ignore(h2_server):
    h = h2_server
    before = dropped(h, IGN)
    res = h2_post(h, IGN, "100-continue, foo")
    # curl 7.88 reports "Empty reply" for an h2 upload with Expect:
    # 100-continue whatever the server does (plain 100-continue included;
    # see test_h2_tls.py): the server's answer is in its log.
    line = log_lines(h, f'{IGN} "POST /index.html HTTP/2.0"')[-1]
    assert '" 200 expect="100-continue" original="100-continue, foo" decision=continue' \
        in line, (line, res.stdout, res.stderr)
    assert dropped(h, IGN) == before + 1


def test_h2_reject(h2_server):
    h = h2_server
    res = h2_post(h, REJ, "foo")
    # curl 7.88 may report an early final response on h2 as an empty reply
    # (see test_h2_tls.py); the server's status is in its log.
    line = log_lines(h, f'{REJ} "POST /index.html HTTP/2.0"')[-1]
    assert '" 417 ' in line, (line, res.stdout, res.stderr)
