# SPDX-License-Identifier: Apache-2.0
"""Shared-memory statistics and expectctl against a real httpd: exact
counts for a scripted mix, the event ring, Prometheus output, the runtime
toggle, privilege and expectctl's error paths."""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from httpd_harness import Httpd, expectctl, expectctl_path, serving
from rawhttp import Conn, expect_post
from test_policy_raw import Row, run_row
from testlib import location, vhost

IS_ROOT = os.geteuid() == 0
CGI_417 = """#!/bin/sh
printf 'Status: 417 Expectation Failed\\r\\nContent-Type: text/plain\\r\\n\\r\\nthe app says no\\n'
"""
# Runs as the httpd User: tries every way to change a policy and reports.
CGI_TAMPER = """#!/bin/sh
SHM="@SHM@"
printf 'Content-Type: text/plain\\r\\n\\r\\n'
if ( : 1<>"$SHM" ) 2>/dev/null; then echo "open-rw=allowed"; else echo "open-rw=denied"; fi
"@EXPECTCTL@" -s "$SHM" set all reject >/dev/null 2>&1
echo "expectctl-set=$?"
"""

BACKEND_CONF = """
RewriteEngine On
RewriteRule ^/bounce - [R=417]
"""

FRONT_CONF = "\n" + "".join((
    vhost("cont.test", "ExpectPolicy continue"),
    vhost("rej.test", "ExpectPolicy reject"),
    vhost("ign.test", "ExpectPolicy ignore"),
    vhost("app.test", "ScriptAlias /cgi/ @ROOT@/cgi/",
          "ProxyPass /bounce http://127.0.0.1:@BACKEND@/bounce", echo=False)))


def cgi_modules(mpm):
    # mod_cgi forks from a threaded child; Debian enables mod_cgid there.
    return ("cgi",) if mpm == "prefork" else ("cgid",)


def make_front(mpm, backend_port, name):
    h = Httpd(FRONT_CONF.replace("@BACKEND@", str(backend_port)), mpm=mpm,
              modules=("proxy", "proxy_http") + cgi_modules(mpm), name=name)
    if mpm != "prefork":
        h.base += f"ScriptSock {h.logs}/cgid.sock\n"
        h.write_config()
    cgi = os.path.join(h.root, "cgi")
    os.makedirs(cgi)
    for fname, text in (("417.cgi", CGI_417), ("tamper.cgi", CGI_TAMPER)):
        path = os.path.join(cgi, fname)
        with open(path, "w") as f:
            f.write(text.replace("@SHM@", h.shm)
                    .replace("@EXPECTCTL@", expectctl_path()))
        os.chmod(path, 0o755)
    return h


@pytest.fixture(scope="module")
def bouncer():
    with serving(Httpd(BACKEND_CONF, mpm="event", load_expect=False,
                       modules=("rewrite",), name="bouncer", loglevel="info")) as h:
        yield h


def plain(port, host, method, path, ua="stats-test"):
    conn = Conn(port)
    try:
        conn.send(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
                  "Connection: close\r\n\r\n")
        return conn.read_response()[1]
    finally:
        conn.close()


def settled(h, check, timeout=5.0):
    """Counting happens after the response; poll until check() holds."""
    deadline = time.time() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


EXPECTED = {
    "cont.test": dict(expect=8, continued=3, rejected=0, ignored=0, bodyless=2, http10=2,
                      r417=dict(mod_expect=0, core=1, handler=0, backend=0, others=0, total=1)),
    "rej.test": dict(expect=6, continued=0, rejected=4, ignored=0, bodyless=1, http10=1,
                     r417=dict(mod_expect=4, core=0, handler=0, backend=0, others=0, total=4)),
    "ign.test": dict(expect=2, continued=0, rejected=0, ignored=2, bodyless=0, http10=0,
                     r417=dict(mod_expect=0, core=0, handler=0, backend=0, others=0, total=0)),
    "app.test": dict(expect=0, continued=0, rejected=0, ignored=0, bodyless=0, http10=0,
                     r417=dict(mod_expect=0, core=0, handler=2, backend=1, others=3, total=3)),
}


def scripted_mix(h):
    rows = (
        [Row("c", "cont.test", "/echo", "100", 200, True, "keep")] * 3
        + [Row("b", "cont.test", "/index.html", "-", 200, None, "keep",
               method="GET", framing="none")] * 2
        + [Row("h10", "cont.test", "/echo", "nothing", 200, True, "close",
               proto="HTTP/1.0")] * 2
        + [Row("core", "cont.test", "/index.html?core", "-", 417, None, "close",
               method="GET", framing="none", expect=["x-custom"], close_header=False)]
        + [Row("r", "rej.test", "/echo?n=1", "final", 417, False, "close")] * 4
        + [Row("r10", "rej.test", "/echo", "nothing", 200, True, "close", proto="HTTP/1.0")]
        + [Row("rb", "rej.test", "/index.html", "-", 200, None, "keep",
               method="GET", framing="none")]
        + [Row("i", "ign.test", "/echo", "nothing", 200, True, "keep")] * 2
    )
    for row in rows:
        run_row(h, row)
    for _ in range(2):
        assert plain(h.port, "app.test", "GET", "/cgi/417.cgi").status == 417
    assert plain(h.port, "app.test", "GET", "/bounce?x=1").status == 417
    for _ in range(5):  # no Expect at all: nothing is counted
        assert plain(h.port, "cont.test", "GET", "/index.html").status == 200


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_exact_counts_and_events(mpm, bouncer):
    with serving(make_front(mpm, bouncer.port, f"counts-{mpm}")) as h:
        scripted_mix(h)

        def check():
            for name, want in EXPECTED.items():
                got = h.vhost_stats(name)
                got = {k: got[k] for k in want}
                assert got == want, f"{name}: {got} != {want}"
        settled(h, check)

        events = h.ctl_json("events", "-n", "100")["events"]
        assert len(events) == 8
        by = {}
        for e in events:
            by.setdefault((e["vhost"].split(":")[0], e["producer"]), []).append(e)
            assert e["status"] == 417 and e["client"] == "127.0.0.1"
            assert e["vhost"].endswith(f":{h.port}")
            assert e["fix"] and "\n" not in e["fix"]
        assert sorted((k, len(v)) for k, v in by.items()) == [
            (("app.test", "backend"), 1), (("app.test", "handler"), 2),
            (("cont.test", "core"), 1), (("rej.test", "mod_expect"), 4)]
        core = by[("cont.test", "core")][0]
        assert core["expect"] == "x-custom" and core["method"] == "GET"
        assert core["uri"] == "/index.html?core"
        assert core["reason"] == "unknown-expectation"
        assert "only 100-continue is defined" in core["fix"]
        assert "fix the client" in core["fix"]
        rej = by[("rej.test", "mod_expect")][0]
        assert rej["expect"] == "100-continue" and rej["content_length"] == 64
        assert rej["uri"] == "/echo?n=1" and rej["protocol"] == "HTTP/1.1"
        assert rej["reason"] == "policy" and "ExpectPolicy reject" in rej["fix"]
        assert by[("app.test", "backend")][0]["uri"] == "/bounce?x=1"
        assert by[("app.test", "backend")][0]["reason"] == "backend"
        assert by[("app.test", "handler")][0]["user_agent"] == "stats-test"

        text = expectctl("events", shm=h.shm)
        assert text.returncode == 0
        lines = text.stdout.splitlines()
        assert len(lines) == 8
        assert any("by=core: only 100-continue is defined" in line for line in lines)

        table = expectctl("stats", shm=h.shm)
        assert table.returncode == 0
        row = next(line for line in table.stdout.splitlines() if line.startswith("rej.test:"))
        assert row.split()[1:3] == ["reject", "6"]


def test_prometheus_output_passes_promtool(bouncer):
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: build/install-deps.sh installs prometheus"
    with serving(make_front("event", bouncer.port, "prom")) as h:
        scripted_mix(h)
        settled(h, lambda: None)
        out = expectctl("stats", "--prometheus", shm=h.shm)
        assert out.returncode == 0
        check = subprocess.run([promtool, "check", "metrics"], input=out.stdout,
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        assert f'mod_expect_417_responses_total{{vhost="rej.test:{h.port}",' \
               f'producer="mod_expect"}} 4' in out.stdout
        assert f'mod_expect_policy{{vhost="rej.test:{h.port}",policy="reject"}} 1' in out.stdout


TOGGLE_CONF = "\n" + vhost("one.test", "ExpectPolicy continue", location(
    "/strict-upload", "SetHandler reflector", "ExpectPolicy ignore"), docroot=False) + vhost(
    "two.test", "ExpectPolicy continue", docroot=False)


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_runtime_toggle(mpm):
    h = Httpd(TOGGLE_CONF, mpm=mpm, name=f"toggle-{mpm}")
    h.base += "StartServers 4\nMinSpareServers 4\n" if mpm == "prefork" else ""
    h.write_config()
    with serving(h):
        assert expect_post(h.port, "one.test") == ("100", 200)
        res = expectctl("set", "one.test", "reject", shm=h.shm)
        assert res.returncode == 0, res.stderr
        assert "effective=reject configured=continue override=reject" in res.stdout
        # Every following request, on fresh connections spread over the
        # children, sees the override at once; the override wins over the
        # <Location> that says ignore; the other vhost is untouched.
        for _ in range(12):
            assert expect_post(h.port, "one.test") == ("final", 417)
        assert expect_post(h.port, "one.test", "/strict-upload") == ("final", 417)
        for _ in range(4):
            assert expect_post(h.port, "two.test") == ("100", 200)
        res = expectctl("policy", "one.test", shm=h.shm)
        assert "override=reject" in res.stdout
        stats = expectctl("stats", shm=h.shm).stdout
        assert "reject*" in stats and "runtime override" in stats

        assert expectctl("set", "one.test", "default", shm=h.shm).returncode == 0
        for _ in range(6):
            assert expect_post(h.port, "one.test") == ("100", 200)
        assert expect_post(h.port, "one.test", "/strict-upload") == ("nothing", 200)

        assert expectctl("set", "all", "ignore", shm=h.shm).returncode == 0
        assert expect_post(h.port, "two.test") == ("nothing", 200)
        assert expectctl("set", "all", "default", shm=h.shm).returncode == 0
        assert expect_post(h.port, "two.test") == ("100", 200)

        bad = expectctl("set", "nosuch.test", "reject", shm=h.shm)
        assert bad.returncode == 1 and "no virtual host 'nosuch.test'" in bad.stderr


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run httpd children as nobody")
@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_httpd_user_cannot_change_policy(mpm, bouncer):
    with serving(make_front(mpm, bouncer.port, f"tamper-{mpm}")) as h:
        resp = plain(h.port, "app.test", "GET", "/cgi/tamper.cgi")
        assert resp.status == 200, resp
        assert b"open-rw=denied" in resp.body, resp.body
        assert b"expectctl-set=4" in resp.body, resp.body
        for v in h.ctl_json("stats")["vhosts"]:
            assert v["override"] is None, v
        st = os.stat(h.shm)
        assert st.st_uid == 0 and (st.st_mode & 0o777) == 0o600


# ---- expectctl's error paths: one line on stderr and the documented code ----

def test_usage_errors_exit_2():
    for args in ([], ["bogus"], ["stats", "--json", "--prometheus"],
                 ["set", "x"], ["events", "-n", "zero"]):
        res = expectctl(*args)
        assert res.returncode == 2, (args, res)
        assert res.stderr.startswith("expectctl: ")
    assert expectctl("--help").returncode == 0
    version = expectctl("--version")
    assert version.returncode == 0 and "segment layout" in version.stdout


def test_no_segment_exits_3(tmp_path):
    missing = tmp_path / "nope.shm"
    res = expectctl("stats", shm=str(missing))
    assert res.returncode == 3
    assert str(missing) in res.stderr and "ExpectShmFile" in res.stderr
    env = dict(os.environ, EXPECTCTL_SHM=str(missing))
    assert expectctl("stats", env=env).returncode == 3


@pytest.fixture(scope="module")
def small_server():
    # Unsafe lets control bytes through httpd's parser, so the escaping of
    # what reaches the event ring is tested with the worst input.
    with serving(Httpd("HttpProtocolOptions Unsafe\n" + TOGGLE_CONF, mpm="event",
                       name="errpaths")) as h:
        yield h


@pytest.mark.skipif(not IS_ROOT, reason="needs root to switch to nobody")
def test_not_root_exits_4(small_server):
    for args in (["stats"], ["set", "all", "reject"], ["reset"]):
        res = expectctl(*args, shm=small_server.shm, as_user="nobody")
        assert res.returncode == 4, (args, res)
        assert "root" in res.stderr
    for v in small_server.ctl_json("stats")["vhosts"]:
        assert v["override"] is None


def test_symlink_refused_exits_4(small_server, tmp_path):
    link = tmp_path / "link.shm"
    os.symlink(small_server.shm, link)
    res = expectctl("stats", shm=str(link))
    assert res.returncode == 4 and "symlink" in res.stderr.lower()


@pytest.mark.skipif(not IS_ROOT, reason="needs root to chown")
def test_segment_owned_by_another_user_refused(small_server, tmp_path):
    """A file the httpd User could have planted is never trusted by root."""
    import pwd
    nobody = pwd.getpwnam("nobody")
    os.chmod(tmp_path, 0o755)
    planted = tmp_path / "planted.shm"
    shutil.copyfile(small_server.shm, planted)
    os.chown(planted, nobody.pw_uid, nobody.pw_gid)
    for args in (["stats"], ["set", "all", "reject"]):
        res = expectctl(*args, shm=str(planted))
        assert res.returncode == 4, res
        assert "owned by" in res.stderr or "owner" in res.stderr, res.stderr


@pytest.mark.parametrize("offset,data,needle", [
    (0, b"NOTMAGIC", "magic"),
    (8, b"\x07\x00\x00\x00", "version"),
])
def test_corrupt_segment_exits_5(small_server, tmp_path, offset, data, needle):
    copy = tmp_path / "copy.shm"
    shutil.copyfile(small_server.shm, copy)
    os.chmod(copy, 0o600)
    with open(copy, "r+b") as f:
        f.seek(offset)
        f.write(data)
    res = expectctl("stats", shm=str(copy))
    assert res.returncode == 5, res
    assert needle in res.stderr and str(copy) in res.stderr
    assert res.stderr.count("\n") == 1


def test_truncated_segment_exits_5(small_server, tmp_path):
    copy = tmp_path / "short.shm"
    with open(small_server.shm, "rb") as f:
        head = f.read(4096 + 100)
    copy.write_bytes(head)
    os.chmod(copy, 0o600)
    assert expectctl("stats", shm=str(copy)).returncode == 5


def test_events_cannot_inject_escapes(small_server):
    conn = Conn(small_server.port)
    try:
        # A hostile User-Agent and URI: ESC sequences, CR, a fake log line.
        conn.send("POST /echo?%1b[2J HTTP/1.1\r\nHost: one.test\r\n"
                  "User-Agent: evil\x1b]0;pwned\x07\x1b[31m\x01\x7f\xff\" by=core: fake\r\n"
                  "Expect: 100-continue, boom\r\nContent-Length: 1\r\n\r\nx")
        assert conn.read_response()[1].status == 417
    except (socket.timeout, OSError):
        pass
    finally:
        conn.close()
    time.sleep(0.3)
    out = expectctl("events", shm=small_server.shm).stdout
    for bad in ("\x1b", "\x07", "\x01", "\x7f", "\xff"):
        assert bad not in out
    assert "\\x1b[31m\\x01\\x7f\\xff" in out
    assert len(out.splitlines()) == len(out.split("\n")) - 1  # one line per event
    # A quote in the User-Agent cannot close its field and fake by=...:
    # every line keeps exactly its four quoted fields (request, expect, ua,
    # outcome).
    for line in out.splitlines():
        assert line.count('"') == 8, line
    js = json.loads(expectctl("events", "--json", shm=small_server.shm).stdout)
    assert js["events"][-1]["user_agent"].startswith("evil\x1b]0;pwned")


BIDI_CONF = "\n" + vhost("bidi.test", "ExpectPolicy reject", docroot=False)

# U+202A-U+202E and U+2066-U+2069: the bidirectional embeddings,
# overrides and isolates.  Valid JSON raw, but they reorder what a viewer
# shows, so `events --json` writes them as \uXXXX.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_events_json_escapes_bidi_controls():
    """Issue 12, item 9: a User-Agent with U+202E (RIGHT-TO-LEFT OVERRIDE)
    and the other bidi controls, rejected with 417 by ExpectPolicy reject:
    `events --json` has them as \\u202e etc., never the raw UTF-8 bytes,
    and still decodes to the User-Agent that was sent; text output escapes
    them as bytes."""
    ua = "bidi-test \u202etxt.exe " + BIDI + " \u2029 end"
    with serving(Httpd(BIDI_CONF, mpm="event", name="bidi")) as h:
        conn = Conn(h.port)
        try:
            conn.send(b"POST /echo HTTP/1.1\r\nHost: bidi.test\r\nUser-Agent: "
                      + ua.encode("utf-8")
                      + b"\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            interims, resp = conn.read_response()
        finally:
            conn.close()
        assert (interims, resp.status) == ([], 417)

        # Raw bytes, not text: what a consumer of the JSON receives.
        cmd = [expectctl_path(), "-s", h.shm, "events", "--json"]
        got = {}

        def recorded():
            got["res"] = subprocess.run(cmd, capture_output=True, timeout=30)
            assert got["res"].returncode == 0, got["res"].stderr
            assert b"bidi-test" in got["res"].stdout
        settled(h, recorded)
        out = got["res"].stdout
        assert b"\\u202e" in out
        for cp in BIDI:
            assert ("\\u%04x" % ord(cp)).encode() in out, cp
            assert cp.encode("utf-8") not in out, cp
        assert b"\xe2\x80\xae" not in out
        # The paragraph separator next to them is not a bidi control: raw.
        assert "\u2029".encode("utf-8") in out
        doc = json.loads(out)
        mine = [e for e in doc["events"] if e["user_agent"].startswith("bidi-test")]
        assert len(mine) == 1 and mine[0]["user_agent"] == ua, mine
        assert (mine[0]["status"], mine[0]["producer"], mine[0]["reason"]) == \
            (417, "mod_expect", "policy")
        text = subprocess.run([expectctl_path(), "-s", h.shm, "events"],
                              capture_output=True, timeout=30).stdout
        assert b"bidi-test \\xe2\\x80\\xaetxt.exe" in text
        assert b"\xe2" not in text


def test_reset_zeroes_counters(small_server):
    assert expect_post(small_server.port, "two.test") == ("100", 200)
    settled(small_server, lambda: (
        None if small_server.vhost_stats("two.test")["continued"] >= 1
        else (_ for _ in ()).throw(AssertionError())))
    res = expectctl("reset", "two.test", shm=small_server.shm)
    assert res.returncode == 0
    assert small_server.vhost_stats("two.test")["continued"] == 0


PLAIN_VHOSTS = """
ExpectPolicy reject
<VirtualHost 127.0.0.1:@PORT@>
    ServerName plain-1.test
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName plain-2.test
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName plain-3.test
</VirtualHost>
"""


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_vhosts_without_directives_get_their_own_rows(mpm):
    """httpd shares the main server's module config with a vhost that uses
    none of our directives; each vhost must still be its own row."""
    with serving(Httpd(PLAIN_VHOSTS, mpm=mpm, name=f"plain-{mpm}")) as h:
        for i, n in ((1, 1), (2, 2), (3, 3)):
            for _ in range(n):
                assert expect_post(h.port, f"plain-{i}.test", "/x")[1] == 417

        def check():
            rows = {v["name"]: v for v in h.ctl_json("stats")["vhosts"]}
            for i in (1, 2, 3):
                row = rows[f"plain-{i}.test:{h.port}"]
                assert row["policy"] == "reject", row
                assert row["r417"]["mod_expect"] == i, row
            assert len(rows) == 4  # the main server and three vhosts
        settled(h, check)
        res = expectctl("set", "plain-2.test", "continue", shm=h.shm)
        assert res.returncode == 0
        assert expect_post(h.port, "plain-2.test", "/x")[0] == "100"
        assert expect_post(h.port, "plain-1.test", "/x")[1] == 417
