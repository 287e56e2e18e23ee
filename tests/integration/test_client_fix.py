"""Client-aware fixes: a 417 to a known client's 100-continue names that
client's own switch, warns when it hangs or loses the upload, and gives the
server-side policy for it, in `expectctl events` (text and --json); an
unknown client gets the generic fix, and httpd core's unknown-expectation
417 keeps its own."""
import json
import time

import pytest

from httpd_harness import Httpd, expectctl, serving
from rawhttp import Conn

JAVA_UA = "Java-http-client/17.0.15"
UNKNOWN_UA = "client-fix-test/1.0"
# expect_reason_text(EXPECT_REASON_POLICY), unchanged for unknown clients.
GENERIC_POLICY_FIX = ("ExpectPolicy reject on this vhost/location; the client should "
                      "resend without Expect, or set ExpectPolicy continue")
GENERIC_CORE_FIX = ("only 100-continue is defined; httpd rejects other expectations "
                    "before modules run; fix the client")

CONF = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName rej.test
    ExpectPolicy reject
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
"""


def expect_request(port, ua, expect="100-continue", path="/echo"):
    """A POST with Expect that waits for the answer before its body; the
    final status."""
    conn = Conn(port)
    try:
        conn.send(f"POST {path} HTTP/1.1\r\nHost: rej.test\r\nUser-Agent: {ua}\r\n"
                  f"Expect: {expect}\r\nContent-Length: 4\r\n\r\n")
        what, final = conn.wait_interim_or_final(3.0)
        if what == "100":
            conn.send("body")
            return conn.read_response()[1].status
        if what == "final":
            return final[1].status
        conn.send("body")
        return conn.read_response()[1].status
    finally:
        conn.close()


def events(h, n):
    """The last n events, waiting for them to be recorded."""
    deadline = time.time() + 5
    while True:
        res = expectctl("events", "--json", shm=h.shm)
        assert res.returncode == 0, res.stderr
        got = json.loads(res.stdout)["events"]
        if len(got) >= n or time.time() > deadline:
            return got[-n:]
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server():
    with serving(Httpd(CONF, name="client-fix")) as h:
        assert expect_request(h.port, JAVA_UA) == 417
        assert expect_request(h.port, UNKNOWN_UA) == 417
        # httpd core's 417 for an unknown expectation, from the same client
        assert expect_request(h.port, JAVA_UA, expect="100-continue, x-foo") == 417
        events(h, 3)
        yield h


def test_json_names_the_java_fix(server):
    java, unknown, core = events(server, 3)
    assert java["user_agent"] == JAVA_UA and java["producer"] == "mod_expect"
    assert java["reason"] == "policy"
    fix = java["fix"]
    assert "expectContinue(false)" in fix
    assert "known to hang" in fix and "JDK-8286171" in fix
    assert "ExpectPolicy reject on this vhost/location" in fix
    assert ("ExpectPolicy continue for it, in <If '%{HTTP_USER_AGENT} =~ "
            "m#^Java-http-client/#i'>") in fix
    assert java["client_key"] == "java-httpclient"
    assert java["client_family"].startswith("Java HttpClient")
    assert "expectContinue(false)" in java["client_fix"]
    # the address is still where it was
    assert java["client"] == "127.0.0.1"

    assert unknown["user_agent"] == UNKNOWN_UA
    assert unknown["fix"] == GENERIC_POLICY_FIX
    assert unknown["client_key"] is None and unknown["client_family"] is None
    assert unknown["client_fix"] is None

    assert core["producer"] == "core" and core["reason"] == "unknown-expectation"
    assert core["user_agent"] == JAVA_UA
    assert core["fix"] == GENERIC_CORE_FIX
    assert core["client_key"] is None


def test_text_names_the_java_fix(server):
    res = expectctl("events", "-n", "3", shm=server.shm)
    assert res.returncode == 0, res.stderr
    java, unknown, core = res.stdout.splitlines()
    assert f'ua="{JAVA_UA}" by=mod_expect: ExpectPolicy reject' in java
    assert "expectContinue(false)" in java and "known to hang" in java
    assert "m#^Java-http-client/#i" in java
    assert unknown.endswith(f'ua="{UNKNOWN_UA}" by=mod_expect: {GENERIC_POLICY_FIX}')
    assert core.endswith(f"by=core: {GENERIC_CORE_FIX}")
    # the fix adds no quote: each line keeps its three quoted fields
    for line in (java, unknown, core):
        assert line.count('"') == 6, line
