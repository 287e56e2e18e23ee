# SPDX-License-Identifier: Apache-2.0
"""ExpectUnknown ignore renames Expect, in the raw head, to the private
name `Expec~` (same length) before core's check. Core parses the renamed
line with the parser that reads the client's lines, so no name it accepts
from mod_expect is one a client cannot send; a client's own field of that
name would be merged into the renamed Expect, or taken for it. So:

- a request with its own `Expec~` field (any case) is refused with a 400
  (EXP0032), over HTTP/1.1 and h2, on every vhost once one says `ignore`;
  the fields it would have been mixed with are not judged;
- names that only look like it pass untouched;
- the request line is never rewritten, even when it reads `Expect: ...`
  (a method of that name, with HttpProtocolOptions Unsafe), after leading
  blank lines, or pipelined behind another request;
- with `ignore` nowhere, a client's `Expec~` is an ordinary field.

Every MPM, HttpProtocolOptions Strict and Unsafe; h2c under event and
worker (mod_http2 does not serve h2 under prefork).
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from httpd_harness import MPMS, Httpd, serving
from rawhttp import Closed, Conn
from testlib import vhost

IGN = "ign.test"
REJ = "rej.test"
CURL = shutil.which("curl")

CONF = """
HttpProtocolOptions @OPTIONS@
ErrorDocument 400 /errdocs/400.html
""" + vhost(IGN, "ExpectUnknown ignore") + vhost(REJ)

H2_MPMS = ("event", "worker")


def make_server(mpm, options, ignore=True):
    conf = CONF.replace("@OPTIONS@", options)
    modules = []
    if mpm in H2_MPMS:
        conf = "Protocols h2c http/1.1\n" + conf
        modules = ["http2"]
    if not ignore:
        conf = conf.replace("ExpectUnknown ignore", "ExpectUnknown reject")
    return Httpd(conf, mpm=mpm, modules=modules,
                 name=f"hidden-{mpm}-{options.lower()}{'' if ignore else '-off'}")


@pytest.fixture(scope="module", params=[(m, o) for m in MPMS for o in ("Strict", "Unsafe")],
                ids=[f"{m}-{o.lower()}" for m in MPMS for o in ("Strict", "Unsafe")])
def server(request):
    mpm, options = request.param
    h = make_server(mpm, options)
    h.options = options
    with open(os.path.join(h.htdocs, "errdocs", "400.html"), "w") as f:
        f.write("custom 400 page\n")
    # Core's own refusal of the method `Expect:` (Strict), at error level.
    with serving(h, allowed_errors=(r"AH00135: Invalid method in request Expect: ",)):
        yield h


def post(h, host, fields, body=b"hello", dribble=0.0):
    """A POST to /echo with `fields`, waiting for the 100 before the body:
    (saw_100, response or None when the server closed)."""
    head = (f"POST /echo HTTP/1.1\r\nHost: {host}\r\n" + "".join(f + "\r\n" for f in fields)
            + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    c = Conn(h.port)
    try:
        if dribble:
            for i in range(len(head)):
                c.send(head[i:i + 1])
                time.sleep(dribble)
        else:
            c.send(head)
        what, final = c.wait_interim_or_final(2.0)
        if what == "final":
            return False, final[1]
        c.send(body)
        try:
            return what == "100", c.read_response()[1]
        except Closed:
            return what == "100", None
    finally:
        c.close()


def refused(h, mark, saw_100, resp):
    assert not saw_100
    assert resp is not None and resp.status == 400, resp
    assert "EXP0032: client sent a header field named Expec~" in h.error_log_since(mark)


def test_reject_vhost_own_field(server):
    """The issue's first repro: on a vhost left at reject, core merged the
    client's `Expec~: foo` into the renamed Expect and answered 417."""
    mark = server.log_mark()
    refused(server, mark, *post(server, REJ, ["Expect: 100-continue", "Expec~: foo"]))


def test_ignore_vhost_own_continue(server):
    """The second: `Expec~: 100-continue` and `Expect: foo` got a 100."""
    mark = server.log_mark()
    refused(server, mark, *post(server, IGN, ["Expec~: 100-continue", "Expect: foo"]))


@pytest.mark.parametrize("field", ["Expec~: foo", "expec~: x", "EXPEC~:"])
def test_own_field_alone(server, field):
    mark = server.log_mark()
    refused(server, mark, *post(server, IGN, [field]))


def test_own_field_dribbled(server):
    """Its name arriving one byte per read, as the renamed one may."""
    mark = server.log_mark()
    refused(server, mark, *post(server, REJ, ["Expec~: 100-continue"], dribble=0.002))


def test_names_that_only_look_like_it(server):
    saw_100, resp = post(server, IGN, ["Expec~x: 1", "Expec: 2", "X-Expec~: 3",
                                       "Expect: 100-continue"])
    assert saw_100 and resp.status == 200 and resp.body == b"hello", resp


def test_core_refusal_keeps_own_field_out(server):
    """A request core refuses before any hook (no Host) goes to its
    ErrorDocument, where Expect gets its name back: mixed with a client's
    own Expec~ it is no Expect, and stays dropped (the access log's
    %{Expect}i)."""
    mark = server.log_mark()
    statuses = send_raw(server, b"GET /index.html?nohost HTTP/1.1\r\nExpect: 100-continue\r\n"
                                b"Expec~: foo\r\n\r\n", 1)
    assert statuses == [400], statuses
    lines = request_lines(server, mark, "GET /index.html?nohost HTTP/1.1", full=True)
    assert len(lines) == 1 and '" 400 ' in lines[0], lines
    assert "foo" not in lines[0] and '"-"' in lines[0], lines


def request_lines(h, mark, needle, count=1, full=False):
    """The %r of the access log entries since mark that contain needle (an
    earlier test's entry may come late: lingering close)."""
    deadline = time.time() + 3
    while True:
        if full:
            found = [line for line in h.access_log_since(mark).splitlines() if needle in line]
        else:
            found = [line for line in re.findall(r'"(.*?)" \d{3} ', h.access_log_since(mark))
                     if needle in line]
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.05)


def send_raw(h, data, responses):
    c = Conn(h.port)
    try:
        c.send(data)
        out = []
        for _ in range(responses):
            try:
                out.append(c.read_response()[1].status)
            except Closed:
                break
        return out
    finally:
        c.close()


@pytest.mark.parametrize("lead", ["", "\r\n\r\n", "\n"], ids=["plain", "crlf-lines", "lf-line"])
def test_request_line_is_never_renamed(server, lead):
    """A request line reading `Expect: /echo HTTP/1.1` keeps its method:
    Unsafe takes `Expect:` as an (unknown) method, Strict refuses it as not
    a token; the access log's %r shows the line as sent either way."""
    mark = server.log_mark()
    statuses = send_raw(server, (lead + f"Expect: /echo HTTP/1.1\r\nHost: {IGN}\r\n"
                                 "Expect: 100-continue\r\nContent-Length: 0\r\n\r\n").encode(), 1)
    if server.options == "Strict" and lead == "\n":
        # Strict refuses a bare LF line before the request line itself.
        assert statuses == [400] and request_lines(server, mark, "\\n") == ["\\n"]
        assert "Expec~" not in server.access_log_since(mark)
        return
    lines = request_lines(server, mark, ": /echo HTTP/1.1")
    assert lines == ["Expect: /echo HTTP/1.1"], lines
    if server.options == "Strict":
        assert statuses == [400], statuses
    else:
        assert statuses and statuses[0] != 400, statuses


def test_request_line_pipelined(server):
    """Behind a first request on the same connection, in the same read."""
    mark = server.log_mark()
    statuses = send_raw(server, (f"GET /index.html HTTP/1.1\r\nHost: {IGN}\r\n\r\n"
                                 f"Expect: /index.html HTTP/1.1\r\nHost: {IGN}\r\n"
                                 "Connection: close\r\n\r\n").encode(), 2)
    lines = request_lines(server, mark, "/index.html HTTP/1.1", count=2)
    assert lines == ["GET /index.html HTTP/1.1", "Expect: /index.html HTTP/1.1"], lines
    assert statuses[0] == 200 and len(statuses) == 2, statuses


# ---- h2c: mod_http2 fills the header table before pre_read_request ----

def h2_get(h, host, *fields):
    cmd = ["curl", "-sS", "-o", "/dev/null", "--http2-prior-knowledge", "-w", "%{http_code}",
           "--resolve", f"{host}:{h.port}:127.0.0.1"]
    for f in fields:
        cmd += ["-H", f]
    res = subprocess.run(cmd + [f"http://{host}:{h.port}/index.html"], capture_output=True,
                         text=True, timeout=30)
    return res.stdout


@pytest.mark.skipif(not CURL, reason="curl missing: build/install-deps.sh")
@pytest.mark.parametrize("host,fields", [
    (REJ, ["expec~: foo"]),
    (IGN, ["expec~: foo"]),
    (IGN, ["Expec~: 100-continue", "Expect: foo"]),
], ids=["reject-vhost", "ignore-vhost", "ignore-vhost-with-expect"])
def test_h2_own_field(server, host, fields):
    """Over h2 the client's `expec~` was deleted without a word; now it is
    refused as over HTTP/1.1."""
    if server.mpm not in H2_MPMS:
        pytest.skip("mod_http2 does not serve h2 under prefork")
    mark = server.log_mark()
    assert h2_get(server, host, *fields) == "400"
    assert "EXP0032" in server.error_log_since(mark)
    assert f'"GET /index.html HTTP/2.0" 400' in server.access_log_since(mark, settle=2.0)


@pytest.mark.skipif(not CURL, reason="curl missing: build/install-deps.sh")
def test_h2_without_own_field(server):
    """The control: the same request without it is served."""
    if server.mpm not in H2_MPMS:
        pytest.skip("mod_http2 does not serve h2 under prefork")
    assert h2_get(server, REJ, "X-Other: 1") == "200"


def test_nothing_refused_without_ignore():
    """With ExpectUnknown ignore nowhere nothing is hooked: `Expec~` is an
    ordinary field, as with stock httpd (100, then 200)."""
    h = make_server("event", "Strict", ignore=False)
    with serving(h):
        saw_100, resp = post(h, REJ, ["Expect: 100-continue", "Expec~: foo"])
        assert saw_100 and resp.status == 200 and resp.body == b"hello", resp
        assert "EXP0032" not in h.read_error_log()
