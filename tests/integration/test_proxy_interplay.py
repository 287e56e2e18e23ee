# SPDX-License-Identifier: Apache-2.0
"""mod_expect in front of mod_proxy_http: the policy is applied before
proxying, and its interplay with Proxy100Continue On|Off and a worker's
ping= is pinned here (documented in docs/mod_expect.md, "Proxies").

The backend is a second httpd that also runs mod_expect (a chain), logging
the Expect header each request reached it with."""
import time

import pytest

from httpd_harness import Httpd, MPMS, serving
from rawhttp import Conn

BACKEND = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName backend.test
    ExpectPolicy continue
    <LocationMatch "^/echo">
        SetHandler reflector
    </LocationMatch>
    <Location /echo-rejecting>
        ExpectPolicy reject
    </Location>
</VirtualHost>
"""

# Each vhost proxies to its own backend path, so each gets its own worker.
FRONT = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName on.test
    ExpectPolicy continue
    ProxyPass /up http://127.0.0.1:@B@/echo-on
    ProxyPass /chain http://127.0.0.1:@B@/echo-rejecting
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName off.test
    ExpectPolicy continue
    Proxy100Continue Off
    ProxyPass /up http://127.0.0.1:@B@/echo-off
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName ignore.test
    ExpectPolicy ignore
    ProxyPass /up http://127.0.0.1:@B@/echo-ignore
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName ping.test
    ExpectPolicy continue
    ProxyPass /up http://127.0.0.1:@B@/echo-ping ping=3
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName reject.test
    ExpectPolicy reject
    ProxyPass /up http://127.0.0.1:@B@/echo-reject ping=3
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName ignore-ping.test
    ExpectPolicy ignore
    ProxyPass /up http://127.0.0.1:@B@/echo-rejecting ping=3
</VirtualHost>
"""
BODY = b"proxied body 0123456789"


@pytest.fixture(scope="module")
def backend():
    with serving(Httpd(BACKEND, mpm="event", name="chain-backend")) as h:
        yield h


@pytest.fixture(scope="module", params=MPMS)
def front(request, backend):
    h = Httpd(FRONT.replace("@B@", str(backend.port)), mpm=request.param,
              modules=("proxy", "proxy_http"), name=f"chain-front-{request.param}")
    with serving(h) as h:
        yield h


def send(front, host, expect=True, pause=0.5):
    """POST BODY; returns (before-body, status, echoed body)."""
    conn = Conn(front.port)
    try:
        head = f"POST /up HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(BODY)}\r\n"
        if expect:
            head += "Expect: 100-continue\r\n"
        conn.send(head + "\r\n")
        before, final = conn.wait_interim_or_final(pause) if expect else ("-", None)
        if final is None:
            conn.send(BODY)
            final = conn.read_response()
        return before, final[1].status, final[1].body
    finally:
        conn.close()


def backend_saw(backend, mark, path):
    """The Expect value each request to path reached the backend with."""
    time.sleep(0.3)
    lines = [line for line in backend.access_log_since(mark, settle=1.0).splitlines()
             if f'"POST {path} ' in line]
    return [line.split('"')[3] for line in lines]


def test_proxy100continue_on_relays_backend_100(front, backend):
    mark = backend.log_mark()
    assert send(front, "on.test") == ("100", 200, BODY)
    assert backend_saw(backend, mark, "/echo-on") == ["100-continue"]


def test_proxy100continue_off_front_answers_100(front, backend):
    mark = backend.log_mark()
    # The front end sends the 100 itself when mod_proxy reads the body; the
    # backend never sees the expectation.
    assert send(front, "off.test") == ("100", 200, BODY)
    assert backend_saw(backend, mark, "/echo-off") == ["-"]


def test_ignore_in_front_of_proxy(front, backend):
    mark = backend.log_mark()
    # No 100 from anyone: mod_expect cleared the expectation before
    # mod_proxy looked at it, so it is not forwarded either.
    assert send(front, "ignore.test") == ("nothing", 200, BODY)
    assert backend_saw(backend, mark, "/echo-ignore") == ["-"]


def test_ping_probes_backend_even_without_client_expect(front, backend):
    mark = backend.log_mark()
    assert send(front, "ping.test", expect=False) == ("-", 200, BODY)
    # ping= makes httpd itself ask the backend with 100-continue; mod_expect
    # judges only what the client sent, so it counts nothing here.  (httpd
    # spells its own probe "100-Continue"; the token is case-insensitive.)
    assert backend_saw(backend, mark, "/echo-ping") == ["100-Continue"]
    assert front.vhost_stats("ping.test")["expect"] == 0


def test_ping_with_client_expect_continue(front, backend):
    mark = backend.log_mark()
    assert send(front, "ping.test") == ("100", 200, BODY)
    assert backend_saw(backend, mark, "/echo-ping") == ["100-continue"]


def test_reject_wins_over_ping(front, backend):
    mark = backend.log_mark()
    before, status, _ = send(front, "reject.test")
    assert (before, status) == ("final", 417)
    assert backend_saw(backend, mark, "/echo-reject") == []


def test_backend_417_is_counted_as_backend(front, backend):
    before = front.vhost_stats("on.test")["r417"]
    back_before = backend.vhost_stats("backend.test")["r417"]
    conn = Conn(front.port)
    try:
        conn.send(f"POST /chain HTTP/1.1\r\nHost: on.test\r\nExpect: 100-continue\r\n"
                  f"Content-Length: {len(BODY)}\r\n\r\n")
        what, final = conn.wait_interim_or_final(2.0)
        assert what == "final" and final[1].status == 417
    finally:
        conn.close()
    time.sleep(0.5)
    after = front.vhost_stats("on.test")["r417"]
    assert after["backend"] == before["backend"] + 1
    assert after["mod_expect"] == before["mod_expect"]
    assert backend.vhost_stats("backend.test")["r417"]["mod_expect"] == \
        back_before["mod_expect"] + 1
    events = front.ctl_json("events", "-n", "5")["events"]
    assert events[-1]["producer"] == "backend" and events[-1]["uri"] == "/chain"


def test_ignore_with_ping_and_a_backend_that_answers_first(front, backend):
    """ignore cleared the expectation, but ping= still probes the backend,
    which answers 417 before the client sent any body byte: the front end
    relays it and must close, not wait for a body the client never sends
    (a pipelined request after the 417 must not be answered)."""
    conn = Conn(front.port)
    try:
        conn.send(f"POST /up HTTP/1.1\r\nHost: ignore-ping.test\r\n"
                  f"Expect: 100-continue\r\nContent-Length: {len(BODY)}\r\n\r\n")
        what, final = conn.wait_interim_or_final(2.0)
        assert what == "final" and final[1].status == 417, (what, final)
        assert final[1].closes(), final[1].headers
        conn.send("GET /up HTTP/1.1\r\nHost: ignore-ping.test\r\n\r\n")
        assert conn.expect_eof()
    finally:
        conn.close()
