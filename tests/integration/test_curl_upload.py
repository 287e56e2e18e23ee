# SPDX-License-Identifier: Apache-2.0
"""Real curl, default behaviour: bodies over 1 MB are sent with
"Expect: 100-continue", and curl waits up to 1 s for the 100."""
import os
import subprocess

import pytest

from httpd_harness import Httpd, MPMS, serving
from testlib import vhost

CONF = "\n" + vhost("continue.test", "ExpectPolicy continue", docroot=False) + vhost(
    "reject.test", "ExpectPolicy reject", docroot=False)
SIZE = 2 * 1024 * 1024


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    with serving(Httpd(CONF, mpm=request.param, name=f"curl-{request.param}")) as h:
        yield h


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "2mb.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


def curl_upload(port, host, path):
    res = subprocess.run(
        ["curl", "-sS", "-v", "-o", "/dev/null", "--data-binary", f"@{path}",
         "-H", f"Host: {host}", "-w", "%{http_code} %{size_upload}\n",
         f"http://127.0.0.1:{port}/echo"],
        capture_output=True, text=True, timeout=30)
    code, size = res.stdout.split()
    return int(code), int(float(size)), res.stderr


def test_continue_uploads_without_stall(server, payload):
    code, size, trace = curl_upload(server.port, "continue.test", payload)
    assert "> Expect: 100-continue" in trace, "curl did not send Expect"
    assert "< HTTP/1.1 100 Continue" in trace
    # curl prints this only when its 1 s expect timeout ran out: the stall.
    assert "Done waiting for 100-continue" not in trace
    assert code == 200 and size == SIZE


def test_reject_sends_no_body_byte(server, payload):
    code, size, trace = curl_upload(server.port, "reject.test", payload)
    assert code == 417
    assert size == 0, f"curl uploaded {size} bytes before the 417"
    assert "Done waiting for 100-continue" not in trace
