# SPDX-License-Identifier: Apache-2.0
"""The policy table, over raw sockets, under event, worker and prefork.

Every row states what the server does before the body is sent (a 100, a
final status, or nothing), the final status, whether the body was read,
and whether the connection is kept or closed.  A kept connection is proven
by a second request on it; a closed one by EOF.  Rejections are followed by
the body and a pipelined request to prove that neither is parsed (no
desync).
"""
import socket
import time
from dataclasses import dataclass, field, replace

import pytest

from httpd_harness import Httpd, serving
from rawhttp import Closed, Conn, chunked

BODY = b"0123456789abcdef" * 4  # 64 bytes, echoed back by mod_reflector
SENTINEL = "GET /index.html HTTP/1.1\r\nHost: {host}\r\n\r\n"
PAUSE = 0.5  # how long a client waits for a 100 before sending anyway


@dataclass
class Row:
    id: str
    host: str
    path: str
    before_body: str          # "100", "final", "nothing", or "-" (no body)
    status: int
    body_read: object         # True: echoed back; False: never read; None: n/a
    conn: str                 # "keep" or "close"
    method: str = "POST"
    proto: str = "HTTP/1.1"
    expect: list = field(default_factory=lambda: ["100-continue"])
    framing: str = "cl"       # "cl", "chunked", "cl0", "none"
    extra: list = field(default_factory=list)
    decision: str = None      # %{expect-decision}n in the access log ("-": none)
    body_has: bytes = None    # a marker the response body must contain
    close_header: bool = True  # a closing response says "Connection: close"
    note: str = ""


C, R, I = "continue.test", "reject.test", "ignore.test"
PC, PR = "proxy-continue.test", "proxy-reject.test"
CORE = ("httpd core's own 417: only 100-continue passes ap_check_request_header; "
        "core reads the declared body first, then closes without a "
        "Connection: close header")

ROWS = [
    # --- the three policies, Content-Length body ------------------------------
    Row("continue-cl", C, "/echo", "100", 200, True, "keep", decision="continue"),
    Row("reject-cl", R, "/echo", "final", 417, False, "close", decision="reject"),
    Row("ignore-cl", I, "/echo", "nothing", 200, True, "keep", decision="ignore"),
    # --- chunked bodies -------------------------------------------------------
    Row("continue-chunked", C, "/echo", "100", 200, True, "keep",
        framing="chunked", decision="continue"),
    Row("reject-chunked", R, "/echo", "final", 417, False, "close",
        framing="chunked", decision="reject"),
    Row("ignore-chunked", I, "/echo", "nothing", 200, True, "keep",
        framing="chunked", decision="ignore"),
    # --- requests without content ---------------------------------------------
    Row("get-bodyless-strict-off", C, "/index.html", "-", 200, None, "keep",
        method="GET", framing="none", decision="bodyless", body_has=b"index page"),
    Row("get-bodyless-on-reject-vhost", R, "/index.html", "-", 200, None, "keep",
        method="GET", framing="none", decision="bodyless",
        note="no content: nothing to reject, keep-alive survives"),
    Row("post-cl0-strict-off", C, "/echo", "-", 200, None, "keep",
        framing="cl0", decision="bodyless"),
    Row("get-bodyless-strict-on", C, "/strict", "-", 417, None, "close",
        method="GET", framing="none", decision="reject"),
    Row("post-cl0-strict-on", C, "/strict", "-", 417, None, "close",
        framing="cl0", decision="reject"),
    # --- HTTP/1.0: never a 100, whatever the policy ---------------------------
    Row("http10-continue-vhost", C, "/echo", "nothing", 200, True, "close",
        proto="HTTP/1.0", decision="http10"),
    Row("http10-reject-vhost", R, "/echo", "nothing", 200, True, "close",
        proto="HTTP/1.0", decision="http10"),
    Row("http10-keepalive-body-read", C, "/echo", "nothing", 200, True, "keep",
        proto="HTTP/1.0", extra=["Connection: keep-alive"], decision="http10",
        note="the handler read the whole body before answering: nothing to misparse"),
    Row("http10-keepalive-body-unread", C, "/missing", "nothing", 404, None, "close",
        proto="HTTP/1.0", extra=["Connection: keep-alive"], decision="http10",
        note="answered without reading the body: the connection closes"),
    Row("http10-bodyless-keepalive", C, "/index.html", "-", 200, None, "keep",
        method="GET", proto="HTTP/1.0", framing="none",
        extra=["Connection: keep-alive"], decision="http10"),
    # --- spelling of the token ------------------------------------------------
    Row("mixed-case", C, "/echo", "100", 200, True, "keep",
        expect=["100-Continue"], decision="continue"),
    Row("surrounding-whitespace", C, "/echo", "100", 200, True, "keep",
        expect=["   100-continue   "], decision="continue"),
    Row("mixed-case-reject", R, "/echo", "final", 417, False, "close",
        expect=["100-CONTINUE"], decision="reject"),
    # --- unknown expectations: core answers before any module runs -----------
    Row("unknown-list", C, "/echo", "nothing", 417, None, "close",
        expect=["100-continue, foo"], decision="-", close_header=False, note=CORE),
    Row("two-expect-headers", C, "/echo", "nothing", 417, None, "close",
        expect=["100-continue", "100-continue"], decision="-", close_header=False, note=CORE),
    Row("unknown-bodyless", C, "/index.html", "-", 417, None, "close",
        method="GET", framing="none", expect=["x-foo"], decision="-", close_header=False, note=CORE),
    # --- per-location and ErrorDocument -----------------------------------------
    Row("location-reject-in-continue-vhost", C, "/upload", "final", 417, False,
        "close", decision="reject"),
    Row("errordocument-417", R, "/errdoc", "final", 417, False, "close",
        decision="reject", body_has=b"custom 417 page"),
    Row("errordocument-417-text", R, "/errtext", "final", 417, False, "close",
        decision="reject", body_has=b"a custom 417 text"),
    Row("errordocument-417-default", R, "/errdoc/default", "final", 417, False, "close",
        decision="reject", body_has=b"does not accept",
        note="ErrorDocument 417 default undoes the page: mod_expect's text again"),
    # --- mod_proxy_http in front of a backend httpd -------------------------------
    Row("proxy-continue", PC, "/echo", "100", 200, True, "keep", decision="continue"),
    Row("proxy-reject", PR, "/echo", "final", 417, False, "close", decision="reject"),
]


def request_head(row):
    lines = [f"{row.method} {row.path} {row.proto}", f"Host: {row.host}"]
    lines += [f"Expect: {v}" for v in row.expect]
    if row.framing == "cl":
        lines.append(f"Content-Length: {len(BODY)}")
    elif row.framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
    elif row.framing == "cl0":
        lines.append("Content-Length: 0")
    lines += row.extra
    return "\r\n".join(lines) + "\r\n\r\n"


def wire_body(row):
    return chunked(BODY) if row.framing == "chunked" else BODY


def try_send(conn, data):
    """Send what a misbehaving or eager client would; the server may be gone."""
    try:
        conn.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def run_row(srv, row):
    conn = Conn(srv.port)
    try:
        conn.send(request_head(row))
        body_sent = False
        if row.framing in ("cl", "chunked"):
            before, final = conn.wait_interim_or_final(PAUSE)
            assert before == row.before_body, \
                f"before the body the server gave {before!r}, wanted {row.before_body!r}"
            if final is None:
                conn.send(wire_body(row))
                body_sent = True
                interims, resp = conn.read_response()
                if before == "100":
                    interims = [100] + interims
            else:
                interims, resp = final
        else:
            interims, resp = conn.read_response()
        assert resp.status == row.status, resp
        # A 100 is sent at most once, and only when the row says so.
        assert interims == ([100] if row.before_body == "100" else []), interims
        if row.body_read is True:
            assert body_sent and resp.body == BODY, "body was not read and echoed"
        elif row.body_read is False:
            assert not body_sent, "final status should come before the body"
        if row.body_has is not None:
            assert row.body_has in resp.body, resp.body
        if row.conn == "keep":
            assert not resp.closes(), f"connection should be kept: {resp.headers}"
            conn.send(SENTINEL.format(host=row.host))
            _, again = conn.read_response()
            assert again.status == 200 and again.body == b"index page\n", again
        else:
            if row.proto == "HTTP/1.1" and row.close_header:
                assert resp.closes(), f"417 must carry Connection: close: {resp.headers}"
            if row.body_read is False:
                # The client now sends the body anyway, then a request: if
                # either were parsed we would get a second response.
                try_send(conn, wire_body(row))
                try_send(conn, SENTINEL.format(host=row.host))
            assert conn.expect_eof(), "server sent more after a closing response"
        return resp
    finally:
        conn.close()


def for_phase(row, phase):
    """The row as the configuration of this phase serves it."""
    if phase == "translate":
        if row.path == "/upload":
            pytest.skip("a per-<Location> policy cannot be judged early")
        if row.path == "/strict":
            # ExpectStrict On moved from <Location /strict> to its own vhost.
            return replace(row, host="strict.test")
    return row


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_policy_row(policy_server, row):
    row = for_phase(row, policy_server.phase)
    mark = policy_server.log_mark()
    run_row(policy_server, row)
    if row.decision is not None:
        log = policy_server.access_log_since(mark)
        assert f"decision={row.decision}" in log, log


@pytest.mark.parametrize("pipelined_with_body", [True, False])
def test_reject_eager_client_no_desync(policy_server, pipelined_with_body):
    """A client that sends headers, body and a second request in one write
    must get exactly one response: the 417."""
    row = ROWS[1]
    payload = request_head(row)
    if pipelined_with_body:
        payload += BODY.decode()
    payload += SENTINEL.format(host=R)
    conn = Conn(policy_server.port)
    try:
        conn.send(payload)
        interims, resp = conn.read_response()
        assert interims == [] and resp.status == 417 and resp.closes()
        assert conn.expect_eof()
    finally:
        conn.close()


def test_proxy_reject_never_contacts_backend(policy_server, backend):
    """Not one request of this test reaches the backend.  The backend is
    shared: its log is searched for this test's own target, so that a
    slow line of an earlier test cannot fail this one."""
    mark = backend.log_mark()
    row = next(r for r in ROWS if r.id == "proxy-reject")
    tag = f"reject-{time.monotonic_ns()}"
    run_row(policy_server, replace(row, path=f"{row.path}?{tag}"))
    assert tag not in backend.access_log_since(mark, settle=0.5)


def test_proxy_continue_relays_backend_100(policy_server, backend):
    mark = backend.log_mark()
    run_row(policy_server, next(r for r in ROWS if r.id == "proxy-continue"))
    log = backend.access_log_since(mark, settle=1.0)
    # Proxy100Continue On (the default) forwards the expectation: the 100
    # the client saw is the backend's.
    assert '"POST /echo HTTP/1.1" 200' in log and '"100-continue"' in log, log


def test_errordocument_is_not_rejected_again(policy_server):
    run_row(policy_server, next(r for r in ROWS if r.id == "errordocument-417"))
    assert "Additionally, a 417" not in policy_server.read_error_log()


# httpd's error-page frame, which mod_expect's own 417 keeps.
PAGE_FRAME = (b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
              b"<title>417 Expectation Failed</title>\n</head><body>\n"
              b"<h1>Expectation Failed</h1>\n<p>")
# httpd's canned 417 text, written for core's refusal of an unknown
# expectation; said of a 100-continue rejection, it contradicts itself.
STOCK_417 = b"Only the 100-continue expectation is supported"
POLICY_WORDS = (b"does not accept requests with <code>Expect: 100-continue</code>",
                b"Send the request again without the <code>Expect</code> header")
STRICT_WORDS = (b"This request has no body, so it must not send",
                b"Send the request again without the <code>Expect</code> header")
# The rows mod_expect rejects with its own text: what each must say.
EXPLAINED = {
    "reject-cl": POLICY_WORDS,
    "reject-chunked": POLICY_WORDS,
    "mixed-case-reject": POLICY_WORDS,
    "location-reject-in-continue-vhost": POLICY_WORDS,
    "proxy-reject": POLICY_WORDS,
    "get-bodyless-strict-on": STRICT_WORDS,
    "post-cl0-strict-on": STRICT_WORDS,
}


@pytest.mark.parametrize("row_id", sorted(EXPLAINED))
def test_mod_expect_417_explains_itself(policy_server, row_id):
    """mod_expect's 417 says what happened and what to do, in the frame and
    with the Content-Type of httpd's error pages; run_row has already
    checked that no 100 came, no body byte was read and the connection
    closed without parsing what followed."""
    row = for_phase(next(r for r in ROWS if r.id == row_id), policy_server.phase)
    resp = run_row(policy_server, row)
    assert resp.status == 417 and resp.closes(), resp
    assert resp.header("content-type") == "text/html; charset=iso-8859-1", resp.headers
    assert resp.body.startswith(PAGE_FRAME), resp.body
    assert resp.body.endswith(b"</p>\n</body></html>\n"), resp.body
    for words in EXPLAINED[row_id]:
        assert words in resp.body, resp.body
    assert STOCK_417 not in resp.body, resp.body
    # The policy's text is not the strict one, nor the other way round.
    other = STRICT_WORDS if EXPLAINED[row_id] is POLICY_WORDS else POLICY_WORDS
    assert other[0] not in resp.body, resp.body
    assert int(resp.header("content-length")) == len(resp.body), resp.headers


@pytest.mark.parametrize("row_id", ["errordocument-417", "errordocument-417-text"])
def test_errordocument_417_overrides_the_explanation(policy_server, row_id):
    """A configured ErrorDocument 417, a page or a text, is what the client
    gets; mod_expect's text only stands in where none is configured."""
    row = next(r for r in ROWS if r.id == row_id)
    resp = run_row(policy_server, row)
    assert resp.body == {"errordocument-417": b"custom 417 page\n",
                         "errordocument-417-text": b"a custom 417 text"}[row_id], resp.body


@pytest.mark.parametrize("row_id", ["unknown-list", "two-expect-headers", "unknown-bodyless"])
def test_core_417_keeps_httpd_stock_text(policy_server, row_id):
    """Core answers an unknown expectation before any module runs: its 417
    is httpd's own page, and it is still counted as produced by core."""
    mark = policy_server.log_mark()
    before = policy_server.vhost_stats(C)["r417"]["core"]
    resp = run_row(policy_server, next(r for r in ROWS if r.id == row_id))
    assert STOCK_417 in resp.body, resp.body
    assert POLICY_WORDS[0] not in resp.body and STRICT_WORDS[0] not in resp.body
    assert "AH00570" in policy_server.error_log_since(mark)
    # Counted after the response went out: give log_transaction a moment.
    deadline = time.time() + 5
    while policy_server.vhost_stats(C)["r417"]["core"] != before + 1:
        assert time.time() < deadline, policy_server.vhost_stats(C)
        time.sleep(0.05)


def test_core_417_logged_as_core(policy_server):
    mark = policy_server.log_mark()
    run_row(policy_server, next(r for r in ROWS if r.id == "unknown-bodyless"))
    assert "AH00570" in policy_server.error_log_since(mark)


def test_silent_socket_is_not_a_timeout_bug(policy_server):
    """Guard for the harness itself: a server that says nothing is seen as
    'nothing', not as an error."""
    conn = Conn(policy_server.port)
    try:
        conn.send(f"POST /echo HTTP/1.1\r\nHost: {I}\r\nExpect: 100-continue\r\n"
                  f"Content-Length: 3\r\n\r\n")
        assert conn.wait_interim_or_final(0.2) == ("nothing", None)
        conn.send("abc")
        _, resp = conn.read_response()
        assert resp.body == b"abc"
    except (Closed, socket.timeout) as e:  # pragma: no cover - diagnostic
        pytest.fail(f"unexpected: {e}")
    finally:
        conn.close()


def test_judging_hook_follows_the_configuration(policy_server):
    """fixups by default, translate_name with ExpectJudge early (EXP0015
    names the hook)."""
    hook = {"fixups": "fixups", "translate": "translate_name"}[policy_server.phase]
    assert f"EXP0015: judging Expect: 100-continue in {hook} " \
        in policy_server.read_error_log()


def test_reject_before_or_after_access_control(policy_server):
    """Judged in fixups, a request access control denies gets its 403
    first; judged in translate_name (as a server-context mod_rewrite rule
    would), the 417 comes first.  Either way before any body byte, and the
    connection closes."""
    want = {"fixups": 403, "translate": 417}[policy_server.phase]
    row = Row("reject-denied", R, "/denied", "final", want, False, "close")
    run_row(policy_server, row)


# ignore on a request answered by something other than a body-reading
# handler.  httpd's own error path reads (discards) the body before it
# answers, so where ignore was decided first (translate_name) the client,
# which gets no 100, must send its body before it sees the error, and
# keep-alive survives.  Where the error came before the decision (fixups:
# access control and mod_alias answer earlier), expecting_100 is still set:
# an immediate answer, and close.  A handler that answers without reading
# (Lua here), directly or as the ErrorDocument of an error, is the case
# mod_expect must close itself: the client that saw a final status may
# never send its body, and waiting for it would swallow its next request.
# After the ErrorDocument's internal redirect only the late gate is left,
# so the connection closes without a "Connection: close" header.
IGNORE_ANSWERED = {
    # path: {placement: (before_body, status, conn, decision, close_header)}
    "/gone": {"fixups": ("final", 410, "close", "-", True),
              "translate": ("nothing", 410, "keep", "ignore", True)},
    "/denied": {"fixups": ("final", 403, "close", "-", True),
                "translate": ("nothing", 403, "keep", "ignore", True)},
    "/denied-doc": {"fixups": ("final", 403, "close", "-", True),
                    "translate": ("final", 403, "close", "ignore", False)},
    "/noread": {"fixups": ("final", 200, "close", "ignore", True),
                "translate": ("final", 200, "close", "ignore", True)},
}


@pytest.mark.parametrize("path", sorted(IGNORE_ANSWERED))
def test_ignore_answered_without_the_handler_reading(policy_server, path):
    before, status, conn, decision, close_header = IGNORE_ANSWERED[path][policy_server.phase]
    row = Row(f"ignore{path}", I, path, before, status,
              False if before == "final" else None, conn, decision=decision,
              close_header=close_header)
    mark = policy_server.log_mark()
    resp = run_row(policy_server, row)
    if path == "/denied-doc":
        assert b"answered without reading the body" in resp.body, resp.body
    assert f"decision={decision}" in policy_server.access_log_since(mark)


PLACEMENT_BASE = """
ExpectPolicy continue
<Location /echo>
    SetHandler reflector
</Location>
"""
PLACEMENT_EARLY = "ExpectJudge early\n" + PLACEMENT_BASE
PLACEMENT_SECTION = PLACEMENT_BASE + """
<Location /echo/up>
    ExpectPolicy reject
</Location>
"""


def test_placement_follows_graceful_restarts():
    """Each generation registers its own hook: a graceful restart that adds
    ExpectJudge early moves judging to translate_name, one that removes it
    (and adds a section policy) moves it back to fixups, and the policy in
    force is always the configured one."""
    def judged_in(h, mark):
        log = h.error_log_since(mark)
        assert log.count("EXP0015") >= 1, log
        return "fixups" if "judging Expect: 100-continue in fixups for all" in log \
            else "translate"

    up = Row("up", "localhost", "/echo/up", "100", 200, True, "keep")
    up_rejected = Row("up", "localhost", "/echo/up", "final", 417, False, "close")
    h = Httpd(PLACEMENT_BASE, name="placement")
    with serving(h):
        assert judged_in(h, (0, 0)) == "fixups"
        run_row(h, up)
        for conf, where, row in ((PLACEMENT_EARLY, "translate", up),
                                 (PLACEMENT_SECTION, "fixups", up_rejected),
                                 (PLACEMENT_EARLY, "translate", up)):
            mark = h.log_mark()
            h.write_config(conf)
            h.reload("graceful")
            assert judged_in(h, mark) == where
            # A first request waits out the new child's start-up, which
            # would otherwise read as "no 100 within PAUSE".
            warm = Conn(h.port)
            try:
                warm.send(SENTINEL.format(host="localhost"))
                assert warm.read_response()[1].status == 200
            finally:
                warm.close()
            run_row(h, row)
