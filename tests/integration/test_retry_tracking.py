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
from testlib import vhost, wait_for

R = "retry.test"
O = "other.test"
T = "third.test"
WINDOW = 2

CONF = f"""
ExpectRetryWindow {WINDOW}
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
</Location>
<Location /expect-metrics>
    SetHandler expect-metrics
</Location>
""" + vhost(R, "ExpectPolicy reject") + vhost(O) + vhost(T, "ExpectPolicy reject")

JAVA = "Java-http-client/17.0.15"
CURL = "curl/7.88.1"


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    h = Httpd(CONF, mpm=request.param, modules=["status"], name=f"retry-{request.param}")
    with serving(h):
        yield h


def send(h, path, ua, expect=True, host=R, body=b"0123456789", method="POST", length=None):
    """One request on a new connection; returns the final status.  length
    declares another Content-Length (for a 417 before any body byte)."""
    c = Conn(h.port)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
                f"Content-Length: {len(body) if length is None else length}\r\n")
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


def outcomes(h, path, host=R):
    return [e["outcome"] for e in events(h)
            if e["uri"] == path and e["vhost"].startswith(host + ":")]


def retry_row_when(h, key, n, host=R, **kw):
    """host's retry counters once counter key is n (see wait_for)."""
    return wait_for(lambda: (lambda r: r if r[key] == n else None)(row(h, host)["retry"]),
                    what=f"{n} {key} on {host}", **kw)


def retried_by(h, host, n):
    return retry_row_when(h, "retried", n, host)


def events(h):
    return h.ctl_json("events", "-n", "1000")["events"]


def settle():
    """A 417 is remembered in its log_transaction, which runs once the
    response has been written: a client on the same machine can resend
    before that.  Real clients are a network round trip away."""
    time.sleep(0.2)


def uniq(tag):
    return f"/echo/{tag}-{time.monotonic_ns()}"


def first_417(h, tag, ua):
    """The retry counters before, and a new path that ua just had a 417 on."""
    before = row(h)["retry"]
    path = uniq(tag)
    assert send(h, path, ua) == 417
    settle()
    return before, path


def test_retry_counted(server):
    h = server
    before, path = first_417(h, "retry", JAVA)
    assert row(h)["retry"]["pending"] == before["pending"] + 1
    # The same client, without Expect, on a new connection: retried.
    assert send(h, path, JAVA, expect=False) == 200
    after = retry_row_when(h, "retried", before["retried"] + 1)
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
    after = retry_row_when(h, "abandoned", before["abandoned"] + 1, timeout=WINDOW + 25)
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
    before, path = first_417(h, "other", JAVA)
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
    before, path = first_417(h, "again", JAVA)
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
    n = [e for e in events(h) if e["user_agent"] == JAVA and e["vhost"] == f"{R}:{h.port}"]
    assert java["count"] == len(n)
    assert java["retried"] == sum(1 for e in n if e["outcome"] == "retried")
    assert java["repeated"] == sum(1 for e in n if e["outcome"] == "repeated")
    assert java["bytes_declared"] == 10 * (len(n) - java["repeated"])
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


# ---- an outcome depends only on that client, that vhost, that upload ----

BOTO_1 = ("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 md/arch#x86_64 "
          "lang/python#3.11.2 cfg/retry-mode#legacy Botocore/1.34.0 m/U,N,D,b,Z,e")
BOTO_2 = ("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 md/arch#x86_64 "
          "lang/python#3.11.2 cfg/retry-mode#legacy Botocore/1.34.0 m/Z,b,e,N,U,D")
GIT = "git/2.39.5"


def test_resend_to_another_vhost_is_not_a_retry(server):
    """A 417 on R; the same client's upload to T, where a stranger's 417 is
    pending, does not settle it: R's outcome depends on R alone."""
    h = server
    r0, t0 = row(h)["retry"], row(h, T)["retry"]
    path, other = uniq("xv"), uniq("xv-stranger")
    assert send(h, path, JAVA) == 417
    assert send(h, other, CURL, host=T) == 417
    settle()
    assert send(h, path, JAVA, expect=False, host=T) == 200
    time.sleep(0.5)
    assert row(h)["retry"]["retried"] == r0["retried"]
    assert row(h, T)["retry"]["retried"] == t0["retried"]
    assert outcomes(h, path) == ["pending"]
    # Each comes back to its own vhost: both retried.
    assert send(h, path, JAVA, expect=False) == 200
    assert send(h, other, CURL, expect=False, host=T) == 200
    retried_by(h, R, r0["retried"] + 1)
    retried_by(h, T, t0["retried"] + 1)


def test_417_on_another_vhost_is_not_repeated(server):
    """The same client and path 417'd on R, then on T: two uploads, neither
    repeated."""
    h = server
    r0, t0 = row(h)["retry"], row(h, T)["retry"]
    path = uniq("xr")
    assert send(h, path, JAVA) == 417
    settle()
    assert send(h, path, JAVA, host=T) == 417
    settle()
    assert outcomes(h, path) == ["pending"]
    assert outcomes(h, path, T) == ["pending"]
    assert send(h, path, JAVA, expect=False) == 200
    assert send(h, path, JAVA, expect=False, host=T) == 200
    retried_by(h, R, r0["retried"] + 1)
    retried_by(h, T, t0["retried"] + 1)
    assert outcomes(h, path) == ["retried"] and outcomes(h, path, T) == ["retried"]


def test_accepted_resend_with_expect_is_retried(server):
    """mod_expect's own advice, `expectctl set VHOST continue`: the same
    upload with Expect then gets 100 and 200, and the 417 is retried."""
    h = server
    r0 = row(h)["retry"]
    path = uniq("accepted")
    assert send(h, path, JAVA) == 417
    settle()
    ctl(h, "set", f"{R}:{h.port}", "continue")
    try:
        c = Conn(h.port)
        try:
            c.send(f"POST {path} HTTP/1.1\r\nHost: {R}\r\nUser-Agent: {JAVA}\r\n"
                   "Content-Length: 10\r\nExpect: 100-continue\r\n\r\n".encode())
            what, final = c.wait_interim_or_final(5)
            assert what == "100" and final is None, (what, final)
            c.send(b"0123456789")
            assert c.read_response(timeout=5)[1].status == 200
        finally:
            c.close()
        retried_by(h, R, r0["retried"] + 1)
        assert outcomes(h, path) == ["retried"]
    finally:
        ctl(h, "set", f"{R}:{h.port}", "default")


def test_git_probe_is_not_the_push(server):
    """git's 4-byte probe POST to the same target, between two pushes that
    each get a 417, is not a retry: the first push is repeated, and the
    second stays pending, then abandoned, as it really was."""
    h = server
    r0 = row(h)["retry"]
    path = uniq("git-receive-pack")
    assert send(h, path, GIT, length=100000) == 417
    settle()
    assert send(h, path, GIT, expect=False, body=b"0000") == 200
    time.sleep(0.5)
    assert row(h)["retry"]["retried"] == r0["retried"]
    assert outcomes(h, path) == ["pending"]
    assert send(h, path, GIT, length=100000) == 417
    settle()
    assert outcomes(h, path) == ["repeated", "pending"]
    wait_for(lambda: outcomes(h, path) == ["repeated", "abandoned"], timeout=WINDOW + 5,
             what="abandoned")
    assert row(h)["retry"]["retried"] == r0["retried"]


def test_user_agent_feature_list_does_not_split_a_client(server):
    """boto3 and aws-cli end their User-Agent with a feature list whose order
    changes from one process to the next: the next process's upload is
    still that client's."""
    h = server
    r0 = row(h)["retry"]
    path = uniq("boto")
    assert send(h, path, BOTO_1, method="PUT") == 417
    settle()
    assert send(h, path, BOTO_2, expect=False, method="PUT") == 405
    retried_by(h, R, r0["retried"] + 1)
    # Another version of the product is another client.
    path = uniq("boto-v")
    assert send(h, path, BOTO_1, method="PUT") == 417
    settle()
    assert send(h, path, BOTO_1.replace("Boto3/1.34.0", "Boto3/1.35.0"), expect=False,
                method="PUT") == 405
    time.sleep(0.5)
    assert outcomes(h, path) == ["pending"]


def test_abandoned_as_soon_as_the_window_is_over(server):
    """expectctl knows the window and the clock: no `pending` past it, though
    the parent's sweep (about every 10 s) settles the counters later."""
    h = server
    path = uniq("late")
    assert send(h, path, CURL, host=T) == 417
    settle()
    assert outcomes(h, path, T) == ["pending"]
    deadline = time.monotonic() + WINDOW + 0.3
    time.sleep(max(0.0, deadline - time.monotonic()))
    t = time.monotonic()
    assert outcomes(h, path, T) == ["abandoned"]
    line = [ln for ln in ctl(h, "events", "-n", "1000").stdout.splitlines() if path in ln]
    assert 'outcome="abandoned"' in line[0], line
    # Read well before a 10 s sweep could have run since the window ended.
    assert time.monotonic() - t < 3
    assert row(h, T)["retry"]["pending"] == 0 or time.monotonic() - t > 3


def test_summary_counts_a_repeated_upload_once(server):
    """A repeated 417 is the same upload: counted as repeated, not 'not
    followed', and its declared bytes once."""
    h = server
    ua = "Wget/1.21.3"
    path = uniq("rep")
    assert send(h, path, ua, host=T) == 417
    settle()
    assert send(h, path, ua, host=T) == 417
    settle()
    g = [g for g in h.ctl_json("events", "--summary")["groups"]
         if g["vhost"] == f"{T}:{h.port}" and g["client_key"] == "wget"][0]
    assert g["repeated"] == 1 and g["not_followed"] == 0, g
    assert g["bytes_declared"] == 10, g
    text = ctl(h, "events", "--summary").stdout
    assert "1 repeated (the same upload 417'd again)" in text
    assert send(h, path, ua, expect=False, host=T) == 200


def test_summary_bytes_saturate(server):
    """Three 417s that each declare 2^63-1 bytes: the sum says it is too
    large to add up, and never wraps."""
    h = server
    ua = "HugeUploader/1.0"
    big = 9223372036854775807
    for i in range(3):
        assert send(h, uniq(f"huge{i}"), ua, host=T, length=big) == 417
    settle()
    g = [g for g in h.ctl_json("events", "--summary")["groups"]
         if g["vhost"] == f"{T}:{h.port}" and g["client_key"] is None][0]
    assert g["bytes_saturated"] is True and g["bytes_declared"] == 2 ** 64 - 1, g
    text = ctl(h, "events", "--summary").stdout
    assert f"more than {2 ** 64 - 1} bytes declared (too many to add up)" in text
    assert "9223372036854775815" not in text


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
        # The metric ExpectRetryEvictions alerts on (tests/prometheus).
        prom = ctl(h, "stats", "--prometheus").stdout
        assert "\nmod_expect_retry_evicted_total 2\n" in prom, prom
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
                       r"(, \d+ repeated \(the same upload 417'd again\))?"
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
            # The same upload (the same declared length) as the 417'd one.
            body = b"0123456789"
            c.send(f"POST {path} HTTP/1.1\r\nHost: {R}\r\nUser-Agent: {JAVA}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode())
            t0 = time.monotonic()
            for i in range(len(body)):
                c.send(body[i:i + 1])
                time.sleep(1.15)
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
""" + vhost(R) + vhost(T, "ExpectPolicy reject")


def raw_post(h, path, headers, host=R):
    """A 5-byte POST sent at once, with extra header lines; its status."""
    c = Conn(h.port)
    try:
        c.send(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {CURL}\r\n{headers}"
               "Content-Length: 5\r\n\r\nhello".encode())
        _, resp = c.read_response(timeout=5)
    finally:
        c.close()
    return resp.status


@pytest.mark.parametrize("mpm", MPMS)
def test_behind_remoteip_core_417_is_matched(mpm):
    """Core's 417 (an unknown expectation) comes before mod_remoteip's hook,
    so it is keyed by the proxy's address; the resend, by the client's."""
    h = Httpd(REMOTEIP, mpm=mpm, modules=["remoteip"], name=f"retry-remoteip-{mpm}")
    with serving(h):
        path = uniq("rip")
        xff = "X-Forwarded-For: 192.0.2.7\r\n"
        assert raw_post(h, path, xff + "Expect: x-foo\r\n") == 417
        settle()
        assert raw_post(h, path, xff) == 200
        r = row(h)["retry"]
        assert (r["retried"], r["pending"]) == (1, 0), r


@pytest.mark.parametrize("mpm", MPMS)
def test_behind_remoteip_what_is_matched(mpm):
    """What docs/mod_expect.md (ExpectRetryWindow) says is matched behind
    mod_remoteip.  mod_expect's own 417 comes after mod_remoteip: keyed by
    the real client, so another client behind the same proxy is not its
    retry.  Core's 417 comes before: keyed by the proxy, so the same upload
    (User-Agent products, method, target) from any client behind that proxy
    counts as its retry."""
    h = Httpd(REMOTEIP, mpm=mpm, modules=["remoteip"], name=f"retry-remoteip-who-{mpm}")
    with serving(h):
        a, b = "X-Forwarded-For: 192.0.2.7\r\n", "X-Forwarded-For: 192.0.2.8\r\n"
        path = uniq("rip-policy")
        assert raw_post(h, path, a + "Expect: 100-continue\r\n", host=T) == 417
        settle()
        assert raw_post(h, path, b, host=T) == 200
        time.sleep(0.5)
        assert row(h, T)["retry"]["retried"] == 0
        ev = [e for e in events(h) if e["uri"] == path]
        assert ev[0]["client"] == "192.0.2.7" and ev[0]["outcome"] == "pending", ev
        assert raw_post(h, path, a, host=T) == 200
        wait_for(lambda: row(h, T)["retry"]["retried"] == 1, what="retried")
        path = uniq("rip-core")
        assert raw_post(h, path, a + "Expect: x-foo\r\n") == 417
        settle()
        ev = [e for e in events(h) if e["uri"] == path]
        assert ev[0]["client"] == "127.0.0.1", ev
        assert raw_post(h, path, b) == 200
        wait_for(lambda: row(h)["retry"]["retried"] == 1, what="retried by the proxy's key")


def test_false_cases_never_page(tmp_path):
    """The uploads above that succeeded (a resend to another vhost first, a
    417 on two vhosts, a resend accepted with Expect, boto3's reordered
    features) leave no abandoned 417 on a live server, so
    ExpectAbandoned417, run by promtool over those very counters, stays
    silent."""
    import os
    import re
    import shutil
    import subprocess
    import urllib.request
    if shutil.which("promtool") is None:
        pytest.skip("promtool (Debian prometheus) not installed")
    h = Httpd(CONF, name="retry-nopage")
    with serving(h):
        p1, p2, p3, p4, stranger = (uniq(t) for t in ("np1", "np2", "np3", "np4", "np-s"))
        assert send(h, p1, JAVA) == 417
        assert send(h, stranger, CURL, host=T) == 417
        settle()
        assert send(h, p1, JAVA, expect=False, host=T) == 200
        assert send(h, p1, JAVA, expect=False) == 200
        assert send(h, stranger, CURL, expect=False, host=T) == 200
        assert send(h, p2, JAVA) == 417
        assert send(h, p2, JAVA, host=T) == 417
        settle()
        assert send(h, p2, JAVA, expect=False) == 200
        assert send(h, p2, JAVA, expect=False, host=T) == 200
        assert send(h, p3, CURL) == 417
        settle()
        ctl(h, "set", f"{R}:{h.port}", "continue")
        assert send(h, p3, CURL) == 200
        ctl(h, "set", f"{R}:{h.port}", "default")
        assert send(h, p4, BOTO_1, method="PUT") == 417
        settle()
        assert send(h, p4, BOTO_2, expect=False, method="PUT") == 405
        time.sleep(WINDOW + 1)
        with urllib.request.urlopen(f"http://127.0.0.1:{h.port}/expect-metrics") as f:
            body = f.read().decode()
    abandoned = dict(re.findall(
        r'^mod_expect_417_outcomes_total\{vhost="([^"]+)",outcome="abandoned"\} (\d+)$',
        body, re.M))
    retried = dict(re.findall(
        r'^mod_expect_417_outcomes_total\{vhost="([^"]+)",outcome="retried"\} (\d+)$',
        body, re.M))
    assert int(retried[f"{R}:{h.port}"]) == 4 and int(retried[f"{T}:{h.port}"]) == 2, retried
    series = "\n".join(
        f"      - series: 'mod_expect_417_outcomes_total{{job=\"mod_expect\",instance=\"web:80\","
        f"vhost=\"{v}\",outcome=\"abandoned\"}}'\n        values: '0x5 {n}x30'"
        for v, n in abandoned.items())
    test = tmp_path / "live_test.yml"
    test.write_text(f"""rule_files:
  - {os.path.join(os.path.dirname(__file__), "..", "..", "docs", "prometheus",
                  "mod_expect-alerts.yml")}
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{series}
    alert_rule_test:
      - eval_time: 10m
        alertname: ExpectAbandoned417
        exp_alerts: []
""")
    res = subprocess.run(["promtool", "test", "rules", str(test)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr + body
    assert all(n == "0" for n in abandoned.values()), abandoned
