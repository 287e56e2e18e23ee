# SPDX-License-Identifier: Apache-2.0
"""Retry tracking: did a client that got a 417 come back?

A vhost rejects Expect: 100-continue; clients get their 417 on one
connection and come back (or not) on another, which may be served by any
child.  Checked under each MPM:

- a 417 followed by the same request without Expect is `retried`, with its
  delay, in stats (table, JSON, Prometheus), mod_status and the events;
- a 417 nobody comes back for is `abandoned` once ExpectRetryWindow has
  passed (the parent's monitor hook settles it), and until then `pending`;
- another client (address or User-Agent), method or target is not a retry;
- a client that tries again with Expect and gets another 417 is one upload
  (`repeated`), not two;
- a full retry table gives up its oldest entries, and says so;
- `events --summary` folds it per vhost and client family, text and JSON.
"""
import time

import pytest

from httpd_harness import MPMS, Httpd, expectctl, serving
from rawhttp import Conn

R = "retry.test"
O = "other.test"
WINDOW = 2

def vhost(name, policy=""):
    return f"""
<VirtualHost 127.0.0.1:@PORT@>
    ServerName {name}
    DocumentRoot @ROOT@/htdocs
    {policy}
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
"""


CONF = f"""
ExpectRetryWindow {WINDOW}
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
</Location>
<Location /expect-metrics>
    SetHandler expect-metrics
</Location>
""" + vhost(R, "ExpectPolicy reject") + vhost(O)

JAVA = "Java-http-client/17.0.15"
CURL = "curl/7.88.1"


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    h = Httpd(CONF, mpm=request.param, modules=["status"], name=f"retry-{request.param}")
    with serving(h):
        yield h


def send(h, path, ua, expect=True, host=R, body=b"0123456789", method="POST"):
    """One request on a new connection; returns the final status."""
    c = Conn(h.port)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
                f"Content-Length: {len(body)}\r\n")
        if expect:
            c.send((head + "Expect: 100-continue\r\n\r\n").encode())
            what, final = c.wait_interim_or_final(5)
            if what == "100":
                c.send(body)
                final = c.read_response(timeout=5)
            assert final is not None, what
        else:
            c.send(head.encode() + b"\r\n" + body)
            final = c.read_response(timeout=5)
        return final[1].status
    finally:
        c.close()


def ctl(h, *args):
    res = expectctl(*args, shm=h.shm)
    assert res.returncode == 0, res.stderr
    return res


def row(h, name=R):
    return h.vhost_stats(name)


def events(h):
    return h.ctl_json("events", "-n", "1000")["events"]


def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def settle():
    """A 417 is remembered in its log_transaction, which runs once the
    response has been written: a client on the same machine can resend
    before that.  Real clients are a network round trip away."""
    time.sleep(0.2)


def uniq(tag):
    return f"/echo/{tag}-{time.monotonic_ns()}"


def test_retry_counted(server):
    h = server
    before = row(h)["retry"]
    path = uniq("retry")
    assert send(h, path, JAVA) == 417
    settle()
    assert row(h)["retry"]["pending"] == before["pending"] + 1
    # The same client, without Expect, on a new connection: retried.
    assert send(h, path, JAVA, expect=False) == 200
    after = wait_for(lambda: (lambda r: r if r["retried"] == before["retried"] + 1 else None)(
        row(h)["retry"]), what="retried")
    assert after["abandoned"] == before["abandoned"]
    assert after["pending"] == before["pending"]
    ev = [e for e in events(h) if e["uri"] == path]
    assert len(ev) == 1, ev
    assert ev[0]["outcome"] == "retried"
    assert 200 <= ev[0]["retry_after_ms"] < 5000, ev[0]
    # Text form: the outcome with its delay.
    res = ctl(h, "events", "-n", "1000")
    line = [ln for ln in res.stdout.splitlines() if path in ln]
    assert len(line) == 1 and 'outcome="retried after ' in line[0], line


def test_abandoned_after_window(server):
    h = server
    before = row(h)["retry"]
    path = uniq("gone")
    t0 = time.monotonic()
    assert send(h, path, CURL) == 417
    settle()
    ev = [e for e in events(h) if e["uri"] == path]
    assert ev and ev[0]["outcome"] == "pending", ev
    assert ev[0]["retry_after_ms"] is None
    # Settled by the parent's monitor hook, which httpd runs about every
    # ten seconds: abandoned only after the window.
    after = wait_for(lambda: (lambda r: r if r["abandoned"] == before["abandoned"] + 1 else None)(
        row(h)["retry"]), timeout=WINDOW + 25, what="abandoned")
    assert time.monotonic() - t0 >= WINDOW
    assert after["retried"] == before["retried"]
    ev = [e for e in events(h) if e["uri"] == path]
    assert ev[0]["outcome"] == "abandoned", ev
    # Coming back after that is too late: nothing more is counted.
    assert send(h, path, CURL, expect=False) == 200
    time.sleep(0.5)
    assert row(h)["retry"]["retried"] == before["retried"]


def test_other_requests_are_not_retries(server):
    h = server
    before = row(h)["retry"]
    path = uniq("other")
    assert send(h, path, JAVA) == 417
    settle()
    # Another User-Agent, method, target or vhost: not this client coming back.
    assert send(h, path, CURL, expect=False) == 200
    assert send(h, path, JAVA, expect=False, method="PUT") == 405
    assert send(h, path + "x", JAVA, expect=False) == 200
    assert send(h, path, JAVA, expect=False, host=O) == 200
    time.sleep(0.5)
    r = row(h)["retry"]
    assert r["retried"] == before["retried"]
    assert r["pending"] == before["pending"] + 1
    # Then the real one.
    assert send(h, path, JAVA, expect=False) == 200
    wait_for(lambda: row(h)["retry"]["retried"] == before["retried"] + 1, what="retried")


def test_repeated_is_one_upload(server):
    h = server
    before = row(h)["retry"]
    path = uniq("again")
    assert send(h, path, JAVA) == 417
    settle()
    assert send(h, path, JAVA) == 417
    settle()
    ev = [e for e in events(h) if e["uri"] == path]
    assert [e["outcome"] for e in ev] == ["repeated", "pending"], ev
    assert row(h)["retry"]["pending"] == before["pending"] + 1
    assert send(h, path, JAVA, expect=False) == 200
    wait_for(lambda: row(h)["retry"]["retried"] == before["retried"] + 1, what="retried")
    ev = [e for e in events(h) if e["uri"] == path]
    assert [e["outcome"] for e in ev] == ["repeated", "retried"], ev


def test_outputs_show_the_counters(server):
    h = server
    r = row(h)["retry"]
    assert r["retried"] >= 1
    js = h.ctl_json("stats")
    assert js["segment"]["retry_window_ms"] == WINDOW * 1000
    assert js["segment"]["retry_slots"] == 4096
    prom = ctl(h, "stats", "--prometheus").stdout
    key = f'vhost="{R}:{h.port}"'
    assert (f'mod_expect_417_outcomes_total{{{key},outcome="retried"}} {r["retried"]}'
            in prom), prom
    assert f'mod_expect_417_outcomes_total{{{key},outcome="abandoned"}} ' in prom
    assert f"mod_expect_417_pending{{{key}}} " in prom
    # The module's own exposition: the same bytes.
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{h.port}/expect-metrics") as f:
        body = f.read().decode()
    assert f'mod_expect_417_outcomes_total{{{key},outcome="retried"}} {r["retried"]}' in body
    with urllib.request.urlopen(f"http://127.0.0.1:{h.port}/server-status?auto") as f:
        auto = f.read().decode()
    assert f"retried={r['retried']} abandoned={r['abandoned']}" in auto, auto
    assert "Expect417Retried: " in auto and "Expect417Pending: " in auto
    with urllib.request.urlopen(f"http://127.0.0.1:{h.port}/server-status") as f:
        html = f.read().decode()
    assert "<th>Retried</th><th>Abandoned</th>" in html
    table = ctl(h, "stats").stdout
    assert "RETRIED" in table and "ABANDONED" in table and "PENDING" in table
    assert f"within {WINDOW} s (ExpectRetryWindow)" in table


def test_summary(server):
    h = server
    assert send(h, uniq("sum"), JAVA) == 417
    settle()
    s = h.ctl_json("events", "--summary")
    assert s["format"] == "mod_expect.events.summary"
    groups = {(g["vhost"], g["client_key"]): g for g in s["groups"]}
    java = groups[(f"{R}:{h.port}", "java-httpclient")]
    n = [e for e in events(h) if e["user_agent"] == JAVA]
    assert java["count"] == len(n)
    assert java["retried"] == sum(1 for e in n if e["outcome"] == "retried")
    assert java["bytes_declared"] == 10 * len(n)
    assert "expectContinue(false)" in java["action"]
    assert java["client_family"].startswith("Java HttpClient")
    text = ctl(h, "events", "--summary").stdout
    assert f"{R}:{h.port}  Java HttpClient" in text
    assert f"{java['count']} 417s, {java['retried']} retried" in text
    # --summary is an events option, and not one to follow.
    bad = expectctl("events", "--summary", "--follow", shm=h.shm)
    assert bad.returncode == 2 and "choose one of --follow and --summary" in bad.stderr
    bad = expectctl("stats", "--summary", shm=h.shm)
    assert bad.returncode == 2 and "--summary is for events" in bad.stderr


def test_no_expect_traffic_untouched(server):
    """Plain requests with nothing pending change no retry counter."""
    h = server
    wait_for(lambda: row(h)["retry"]["pending"] == 0, timeout=WINDOW + 25,
             what="nothing pending")
    before = row(h)["retry"]
    for _ in range(5):
        assert send(h, "/echo/plain", CURL, expect=False) == 200
    assert row(h)["retry"] == before


SMALL = "ExpectRetryWindow 60\nExpectRetrySlots 8\n" + vhost(R, "ExpectPolicy reject")


def test_full_table_evicts_oldest():
    h = Httpd(SMALL, name="retry-small")
    with serving(h):
        paths = [f"/echo/full-{i}" for i in range(10)]
        for p in paths:
            assert send(h, p, CURL) == 417
            settle()
        js = h.ctl_json("stats")
        assert js["segment"]["retry_slots"] == 8
        assert js["segment"]["retry_evicted"] == 2
        assert row(h)["retry"]["pending"] == 8
        out = {e["uri"]: e["outcome"] for e in events(h)}
        # One bucket of eight: the two oldest gave way.
        assert out[paths[0]] == "evicted" and out[paths[1]] == "evicted", out
        assert all(out[p] == "pending" for p in paths[2:]), out
        table = ctl(h, "stats").stdout
        assert "2 not followed, the retry table was full (ExpectRetrySlots 8)" in table
        # The newest still resolve.
        assert send(h, paths[9], CURL, expect=False) == 200
        wait_for(lambda: row(h)["retry"]["retried"] == 1, what="retried")


@pytest.mark.parametrize("directive,value,message", [
    ("ExpectRetryWindow", "-1", "'-1' is not a number from 0 to 86400"),
    ("ExpectRetryWindow", "30s", "'30s' is not a number from 0 to 86400"),
    ("ExpectRetrySlots", "12", "12 is not a multiple of 8"),
    ("ExpectRetrySlots", "99999999", "is not a number from 0 to 1048576"),
])
def test_directive_errors(directive, value, message):
    h = Httpd(f"{directive} {value}\n", name="retry-bad")
    try:
        res = h.configtest()
        assert res.returncode != 0
        assert message in res.stderr, res.stderr
    finally:
        h.cleanup()


def test_window_zero_tracks_nothing():
    h = Httpd(SMALL.replace("ExpectRetryWindow 60", "ExpectRetryWindow 0"), name="retry-off")
    with serving(h):
        assert send(h, "/echo/off", CURL) == 417
        assert send(h, "/echo/off", CURL, expect=False) == 200
        time.sleep(0.3)
        r = row(h)["retry"]
        assert r == {"retried": 0, "abandoned": 0, "pending": 0}
        assert [e["outcome"] for e in events(h)] == ["untracked"]
        assert "retry tracking is off" in ctl(h, "stats").stdout


def test_troubleshooting_example_is_real_output(server):
    """docs/TROUBLESHOOTING.md shows a --summary entry for Java's HttpClient:
    its action line is what expectctl prints for that client, and its
    counts line has the shape expectctl prints."""
    import os
    import re
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                            "TROUBLESHOOTING.md")).read()
    block = doc.split("Start with `--summary`", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    counts, action = block.rstrip("\n").split("\n")
    h = server
    assert send(h, uniq("doc"), JAVA) == 417
    text = ctl(h, "events", "--summary").stdout.splitlines()
    i = [n for n, ln in enumerate(text) if f"{R}:{h.port}  Java HttpClient" in ln][0]
    assert text[i + 1] == action, (text[i + 1], action)
    shape = re.compile(r"^\S+  [^:]+: \d+ 417s, \d+ retried, \d+ abandoned, \d+ pending"
                       r"(, \d+ not followed)?, \d+ bytes declared$")
    assert shape.match(counts), counts
    assert shape.match(text[i]), text[i]


def test_slow_resend_is_retried():
    """The resend is matched as it arrives: an upload that takes longer than
    the window (and than the parent's ten-second sweep) is still retried."""
    h = Httpd("ExpectRetryWindow 1\n" + vhost(R, "ExpectPolicy reject"), name="retry-slow")
    with serving(h):
        path = uniq("slow")
        assert send(h, path, JAVA) == 417
        settle()
        c = Conn(h.port, timeout=30)
        try:
            body = b"0123456789ab"
            c.send(f"POST {path} HTTP/1.1\r\nHost: {R}\r\nUser-Agent: {JAVA}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode())
            t0 = time.monotonic()
            for i in range(len(body)):
                c.send(body[i:i + 1])
                time.sleep(1.0)
            _, resp = c.read_response(timeout=10)
            assert resp.status == 200 and time.monotonic() - t0 >= 11
        finally:
            c.close()
        r = row(h)["retry"]
        assert (r["retried"], r["abandoned"], r["pending"]) == (1, 0, 0), r
        ev = [e for e in events(h) if e["uri"] == path]
        assert ev[0]["outcome"] == "retried" and ev[0]["retry_after_ms"] < 1000, ev


REMOTEIP = """
ExpectRetryWindow 60
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
""" + vhost(R)


def raw_post(h, path, headers):
    """A 5-byte POST sent at once, with extra header lines; its status."""
    c = Conn(h.port)
    try:
        c.send(f"POST {path} HTTP/1.1\r\nHost: {R}\r\nUser-Agent: {CURL}\r\n{headers}"
               "Content-Length: 5\r\n\r\nhello".encode())
        _, resp = c.read_response(timeout=5)
    finally:
        c.close()
    return resp.status


def test_behind_remoteip_core_417_is_matched():
    """Core's 417 (an unknown expectation) comes before mod_remoteip's hook,
    so it is keyed by the proxy's address; the resend, by the client's."""
    h = Httpd(REMOTEIP, modules=["remoteip"], name="retry-remoteip")
    with serving(h):
        path = uniq("rip")
        xff = "X-Forwarded-For: 192.0.2.7\r\n"
        assert raw_post(h, path, xff + "Expect: x-foo\r\n") == 417
        settle()
        assert raw_post(h, path, xff) == 200
        r = row(h)["retry"]
        assert (r["retried"], r["pending"]) == (1, 0), r
