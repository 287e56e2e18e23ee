# SPDX-License-Identifier: Apache-2.0
"""The statistics in httpd's own terms: a mod_status section (HTML and
?auto), the expect-metrics handler (Prometheus, behind Require), and the
debug log messages with their stable IDs."""
import shutil
import subprocess
import time

import pytest

from httpd_harness import Httpd, MPMS, serving
from rawhttp import Conn, expect_post
from testlib import location, vhost

CONF = "\n" + vhost("obs-a.test", "ExpectPolicy reject",
                 location("/server-status", "SetHandler server-status"),
                 location("/metrics", "SetHandler expect-metrics", "Require ip 127.0.0.1"),
                 location("/metrics-closed", "SetHandler expect-metrics", "Require all denied"),
                 echo=False) + vhost("obs-b.test", "ExpectPolicy continue")


def get(port, path, host="obs-a.test", method="GET"):
    conn = Conn(port)
    try:
        conn.send(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        return conn.read_response(method=method)[1]
    finally:
        conn.close()


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    h = Httpd(CONF, mpm=request.param, modules=("status", "authz_host"),
              name=f"obs-{request.param}")
    with serving(h, allowed_errors=(r"AH01630",)) as h:
        for _ in range(3):
            assert expect_post(h.port, "obs-a.test")[1] == 417
        for _ in range(2):
            assert expect_post(h.port, "obs-b.test")[1] == 200
        time.sleep(0.3)
        yield h


def test_status_auto_lines(server):
    resp = get(server.port, "/server-status?auto")
    assert resp.status == 200
    text = resp.body.decode()
    assert "ExpectRequests: 5\n" in text
    assert "ExpectRejected: 3\n" in text and "ExpectContinued: 2\n" in text
    assert "Expect417ModExpect: 3\n" in text and "Expect417Total: 3\n" in text
    assert f"ExpectVhost: obs-a.test:{server.port} policy=reject expect=3 " in text
    assert f"ExpectVhost: obs-b.test:{server.port} policy=continue expect=2 continued=2" in text
    # ?auto is Key: value, one per line.
    ours = [line for line in text.splitlines() if line.startswith("Expect")]
    # totals (15: the 11 counters, retried, abandoned, unknown dropped and
    # pending), then one line per vhost (main server too)
    assert len(ours) == 15 + 3
    for line in ours:
        assert ": " in line, line


def test_status_html_section(server):
    resp = get(server.port, "/server-status")
    assert resp.status == 200
    html = resp.body.decode()
    assert '<h2><a name="mod_expect">mod_expect</a></h2>' in html
    assert f"<tr><td>obs-a.test:{server.port}</td><td>reject</td><td>3</td>" in html


def test_metrics_handler(server):
    resp = get(server.port, "/metrics")
    assert resp.status == 200
    assert resp.header("content-type").startswith("text/plain; version=0.0.4")
    text = resp.body.decode()
    assert f'mod_expect_417_responses_total{{vhost="obs-a.test:{server.port}",' \
           f'producer="mod_expect"}} 3' in text
    assert f'mod_expect_decisions_total{{vhost="obs-b.test:{server.port}",' \
           f'decision="continue"}} 2' in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: build/install-deps.sh"
    check = subprocess.run([promtool, "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_metrics_match_expectctl(server):
    from httpd_harness import expectctl
    served = get(server.port, "/metrics").body.decode()
    ctl = expectctl("stats", "--prometheus", shm=server.shm).stdout
    # The handler and expectctl share one writer; only last-417 times and
    # the counters of the scrape itself could differ, and neither does here.
    assert served == ctl


def test_metrics_access_control_and_methods(server):
    assert get(server.port, "/metrics-closed").status == 403
    assert get(server.port, "/metrics", method="POST").status == 405
    head = get(server.port, "/metrics", method="HEAD")
    assert head.status == 200 and head.body == b""


def test_debug_log_ids(server):
    log = server.read_error_log()
    assert "EXP0012: statistics segment" in log  # startup, at debug
    assert "EXP0001: rejecting Expect: 100-continue on POST /echo (ExpectPolicy reject)" in log
    assert "EXP0002: Expect: 100-continue on POST /echo: continue" in log
    get(server.port, "/metrics")
    time.sleep(0.2)
    assert "EXP0021: expect-metrics: served 3 vhosts" in server.read_error_log()
