# SPDX-License-Identifier: Apache-2.0
"""Every expectctl command, success and error paths, under valgrind memcheck:
no invalid access, no uninitialised use, no leak."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from h2misbehaving import H2Misbehaving
from hopproxy import HopProxy
from httpd_harness import Httpd, expectctl, expectctl_path, serving
from rawhttp import Conn

VALGRIND = shutil.which("valgrind")
pytestmark = [
    pytest.mark.skipif(not VALGRIND, reason="valgrind missing: build/install-deps.sh"),
    # An ASan build (build/sanitize.sh) cannot run under valgrind; that run
    # checks the same code with ASan instead.
    pytest.mark.skipif(bool(os.environ.get("MOD_EXPECT_PRELOAD")),
                       reason="sanitizer build: memcheck does not apply"),
]

CONF = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName vg-a.test
    ExpectPolicy reject
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName vg-b.test
    ExpectPolicy continue
</VirtualHost>
"""
VG = [VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
      "--errors-for-leak-kinds=definite,indirect,possible", "--track-origins=yes"]


@pytest.fixture(scope="module")
def server():
    with serving(Httpd(CONF, mpm="event", name="valgrind")) as h:
        # the last one a known client's: events prints its own fix
        for i, ua in enumerate(("vg\x01", "vg\x01", "Java-http-client/17.0.15")):
            conn = Conn(h.port)
            try:
                conn.send(f"POST /x?{i} HTTP/1.1\r\nHost: vg-a.test\r\nUser-Agent: {ua}\r\n"
                          "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n")
                conn.read_response()
            finally:
                conn.close()
        time.sleep(0.3)
        yield h


def vg(*args, shm):
    cmd = VG + [expectctl_path()] + (["-s", shm] if shm else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


COMMANDS = [
    ("stats",), ("stats", "--json"), ("stats", "--prometheus"), ("stats", "vg-a.test"),
    ("events",), ("events", "--json"), ("events", "-n", "1"), ("policy",),
    ("policy", "vg-b.test"), ("set", "vg-b.test", "ignore"), ("set", "all", "default"),
    ("reset", "vg-a.test"), ("reset",), ("--help",), ("--version",),
    ("clients",), ("clients", "--json"), ("clients", "Java-http-client/17.0.15", "--json"),
    ("top", "--once", "-d", "0.2"), ("top", "-d", "0.2", "vg-a"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_command_is_memcheck_clean(server, args):
    res = vg(*args, shm=server.shm)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "", res.stderr


@pytest.mark.parametrize("args,code", [
    (("bogus",), 2), (("stats", "--json", "--prometheus"), 2),
    (("stats", "nosuch.test"), 1), (("set", "nosuch.test", "reject"), 1),
    (("clients", "nosuch/1.0"), 1),
])
def test_error_paths_are_memcheck_clean(server, args, code):
    res = vg(*args, shm=server.shm)
    assert res.returncode == code, res.stderr
    assert "==" not in res.stderr, res.stderr  # no valgrind report lines


def test_missing_and_corrupt_segments_are_memcheck_clean(server, tmp_path):
    res = vg("stats", shm=str(tmp_path / "none.shm"))
    assert res.returncode == 3 and "==" not in res.stderr, res.stderr
    bad = tmp_path / "bad.shm"
    shutil.copyfile(server.shm, bad)
    os.chmod(bad, 0o600)
    with open(bad, "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 16)
    res = vg("stats", shm=str(bad))
    assert res.returncode == 5 and "==" not in res.stderr, res.stderr


def test_events_from_is_memcheck_clean(tmp_path):
    """events --from: jansson, zlib, the duplicate set and the list's heap,
    on good, doubled, malformed and cut-short gzip lines, and a file that
    cannot be opened."""
    import gzip
    import json
    line = {"format": "mod_expect.event", "version": 1, "server": "vg.test", "pid": 7,
            "seq": 0, "time": "2026-05-01T08:00:00.000Z", "time_usec": 1777622400000000,
            "vhost": "main", "client": "192.0.2.1", "method": "PUT", "uri": "/\u00e9",
            "protocol": "HTTP/1.1", "expect": "100-continue", "content_length": None,
            "user_agent": "Java-http-client/17.0.15", "status": 417, "producer": "mod_expect",
            "reason": "policy", "fix": "-", "client_key": None, "client_family": None,
            "client_fix": None, "outcome": "retried", "retry_after_ms": 9}
    text = "".join(json.dumps(dict(line, seq=i, time_usec=line["time_usec"] + i)) + "\n"
                   for i in range(300))
    good = tmp_path / "good.log.gz"
    good.write_bytes(gzip.compress(text.encode()))
    bad = tmp_path / "bad.log"
    bad.write_text(text[:5000] + "not json\n" + text[:800])
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(text.encode())[:3000])
    for args, code in (
            (("--summary", "--by", "server", "--json", "--from", str(good)), 0),
            (("-n", "50", "--json", "--from", str(good)), 0),
            (("--from", str(good), str(bad), str(cut)), 6),
            (("--summary", "--from", str(bad), str(tmp_path / "none.log")), 1)):
        res = vg("events", *args, shm=None)
        assert res.returncode == code, (args, res.stderr)
        assert "==" not in res.stderr, res.stderr


def test_follow_is_memcheck_clean(server):
    proc = subprocess.Popen(VG + [expectctl_path(), "-s", server.shm, "events", "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)
        conn = Conn(server.port)
        try:
            conn.send("POST /followed HTTP/1.1\r\nHost: vg-a.test\r\n"
                      "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            conn.read_response()
        finally:
            conn.close()
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "/followed" in out
    assert err == "", err
    assert expectctl("stats", shm=server.shm).returncode == 0


# The probe modes of issue 15 over servers that need no mod_http2 here
# (test_probe_hops.py runs them against httpd's h2 under valgrind too).
@pytest.mark.parametrize("kind,code", [("two100", 12), ("endless1xx", 16), ("reset", 13),
                                       ("badindex", 16), ("hugeframe", 16)])
def test_probe_h2c_is_memcheck_clean(kind, code):
    with H2Misbehaving(kind) as srv:
        res = vg("probe", srv.url(), "--h2c", "--timeout", "2", shm=None)
    assert res.returncode == code, res.stderr
    assert res.stderr == "", res.stderr


def test_probe_chain_is_memcheck_clean(server):
    """A hop that adds a second 100, a relay, and httpd (reject.test here):
    the chain's reports, its table and its JSON."""
    with HopProxy("double100", server.port) as bad, HopProxy("relay", server.port) as ok:
        for fmt in ((), ("--json",)):
            res = vg("probe", f"http://vg-b.test:{server.port}/x", "--timeout", "2",
                     "--chain", f"{bad.hop},{ok.hop},127.0.0.1:{server.port}", *fmt, shm=None)
            assert res.returncode == 12, res.stderr
            assert res.stderr == "", res.stderr
