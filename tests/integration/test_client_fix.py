# SPDX-License-Identifier: Apache-2.0
"""Client-aware fixes: a 417 to a known client's 100-continue names that
client's own switch, warns when it hangs or loses the upload, and gives the
server-side policy for it, in `expectctl events` (text and --json); an
unknown client gets the generic fix, and httpd core's unknown-expectation
417 keeps its own."""
import json
import os
import re
import sys
import time

import pytest

from httpd_harness import Httpd, expectctl, serving
from rawhttp import Conn
from testlib import vhost

IS_ROOT = os.geteuid() == 0
JAVA_UA = "Java-http-client/17.0.15"
UNKNOWN_UA = "client-fix-test/1.0"
# expect_reason_text(EXPECT_REASON_POLICY), unchanged for unknown clients.
GENERIC_POLICY_FIX = ("ExpectPolicy reject on this vhost/location; the client should "
                      "resend without Expect, or set ExpectPolicy continue")
GENERIC_CORE_FIX = ("only 100-continue is defined; httpd rejects other expectations "
                    "before modules run; fix the client, or set ExpectUnknown ignore to drop them")

CONF = "\n" + vhost("rej.test", "ExpectPolicy reject", docroot=False)


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
        # An event is recorded after its 417 is sent (log_transaction), so
        # the next request could be recorded first: wait for each.
        assert expect_request(h.port, JAVA_UA) == 417
        events(h, 1)
        assert expect_request(h.port, UNKNOWN_UA) == 417
        events(h, 2)
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


# The same client at versions on both sides of the fix of JDK-8286171 in
# the 17 line (17.0.17, JDK-8364017), and in a line the table does not
# cover.
JAVA_FIXED = ("Java-http-client/17.0.19", "Java-http-client/17.0.21")
JAVA_OTHER_LINE = "Java-http-client/21.0.2"


@pytest.fixture(scope="module")
def versions_server():
    with serving(Httpd(CONF, name="client-versions")) as h:
        for i, ua in enumerate((JAVA_UA,) + JAVA_FIXED + (JAVA_OTHER_LINE,)):
            assert expect_request(h.port, ua) == 417
            events(h, i + 1)   # in this order (see server())
        yield h


def test_events_fix_follows_the_version(versions_server):
    before, fixed1, fixed2, other = events(versions_server, 4)
    assert before["user_agent"] == JAVA_UA
    assert "Java HttpClient (java.net.http) 17.0.15 is known to hang and lose the upload" \
        in before["fix"]
    assert "as in every version before 17.0.17 (fixed by JDK-8364017" in before["fix"]
    for e, ua in ((fixed1, JAVA_FIXED[0]), (fixed2, JAVA_FIXED[1])):
        assert e["user_agent"] == ua
        version = ua.split("/")[1]
        assert f"Java HttpClient (java.net.http) {version} is known to lose the upload on " \
            "a 417: the 417 is returned to the application" in e["fix"], e["fix"]
        assert "hang" not in e["fix"].split(". Server:")[0], e["fix"]
        assert "never completes" not in e["fix"]
        assert e["client_key"] == "java-httpclient"
    assert "21.0.2: what a 417 does to this version is not verified" in other["fix"]
    assert "21.0.2 is known" not in other["fix"]
    text = expectctl("events", "-n", "4", shm=versions_server.shm).stdout.splitlines()
    assert "17.0.15 is known to hang" in text[0]
    assert "17.0.19 is known to lose the upload" in text[1] and "hang" not in \
        text[1].split(". Server:")[0]


def test_summary_groups_by_version_range(versions_server):
    res = expectctl("events", "--summary", "--json", shm=versions_server.shm)
    assert res.returncode == 0, res.stderr
    groups = [g for g in json.loads(res.stdout)["groups"]
              if g["client_key"] == "java-httpclient"]
    by = {g["client_versions"]: g for g in groups}
    assert set(by) == {"before 17.0.17", "17.0.17 and later", "version not verified"}, groups
    assert by["before 17.0.17"]["count"] == 1
    assert by["17.0.17 and later"]["count"] == 2
    assert by["version not verified"]["count"] == 1
    assert "known to hang" in by["before 17.0.17"]["action"]
    assert "hang and" not in by["17.0.17 and later"]["action"]
    assert "known to lose the upload" in by["17.0.17 and later"]["action"]
    assert by["version not verified"]["action"].startswith(
        "what a 417 does to these versions is not verified -> ")
    assert "known to" not in by["version not verified"]["action"]
    text = expectctl("events", "--summary", shm=versions_server.shm).stdout
    assert "Java HttpClient (java.net.http) before 17.0.17: 1 417s" in text
    assert "Java HttpClient (java.net.http) 17.0.17 and later: 2 417s" in text
    assert "Java HttpClient (java.net.http) version not verified: 1 417s" in text


def test_clients_resolves_the_version():
    """`expectctl clients UA`: the facts of that UA's version; the listing
    shows both sides of the fix, and never the hang unconditionally."""
    res, doc = clients_json("Java-http-client/17.0.19")
    assert res.returncode == 0
    (java,) = doc["clients"]
    assert java["version"] == "17.0.19"
    r = java["resolved"]
    assert r["range"] == "17.0.17 and later" and r["verified"] is True
    assert r["hangs_on_417"] is False and r["loses_upload_on_417"] is True
    assert "returned to the application" in r["on_417"]
    vr = java["version_ranges"]
    assert vr["fixed_in"] == [{"line": "17", "release": "17.0.17",
                               "by": "JDK-8364017, the backport of JDK-8286171"}]
    assert vr["measured_on"] == "17.0.15" and vr["other_lines"] == "not verified"
    _, doc = clients_json(JAVA_OTHER_LINE)
    r = doc["clients"][0]["resolved"]
    assert r["verified"] is False and r["on_417"] is None and r["hangs_on_417"] is None
    _, doc = clients_json(JAVA_UA)
    r = doc["clients"][0]["resolved"]
    assert r["range"] == "before 17.0.17" and r["hangs_on_417"] is True
    _, doc = clients_json("curl/8.5.0")
    c = doc["clients"][0]
    assert c["version_ranges"] is None and c["resolved"]["range"] == "every version"
    text = expectctl("clients", "Java-http-client/17.0.19").stdout
    assert "  version     17.0.19: 17.0.17 and later" in text
    assert "hang" not in text.split("  on 417")[1].split("\n")[0]
    text = expectctl("clients", JAVA_OTHER_LINE).stdout
    assert "  version     21.0.2: version not verified" in text
    assert "other release lines: not verified" in text
    listing = expectctl("clients").stdout
    java_block = listing.split("[java-httpclient]")[1].split("\n\n")[0]
    assert "17.x before 17.0.17 (measured on 17.0.15):" in java_block
    assert "17.0.17 and later (JDK-8364017" in java_block
    assert "other release lines: not verified" in java_block
    # no line of the listing says it hangs without naming versions
    for line in java_block.splitlines():
        if "never completes" in line or "known to hang" in line:
            assert "before 17.0.17" in line, line


def test_text_names_the_java_fix(server):
    res = expectctl("events", "-n", "3", shm=server.shm)
    assert res.returncode == 0, res.stderr
    java, unknown, core = res.stdout.splitlines()
    assert re.search(f'ua="{re.escape(JAVA_UA)}" outcome="[a-z0-9 ]+" by=mod_expect: '
                     'ExpectPolicy reject', java), java
    assert "expectContinue(false)" in java and "known to hang" in java
    assert "m#^Java-http-client/#i" in java
    assert re.search(f'ua="{re.escape(UNKNOWN_UA)}" outcome="[a-z0-9 ]+" by=mod_expect: '
                     f'{re.escape(GENERIC_POLICY_FIX)}$', unknown), unknown
    assert core.endswith(f"by=core: {GENERIC_CORE_FIX}")
    # the fix adds no quote: each line keeps its four quoted fields
    for line in (java, unknown, core):
        assert line.count('"') == 8, line


# ---- expectctl clients ----------------------------------------------------------

def clients_json(*args, **kw):
    res = expectctl("clients", *args, "--json", **kw)
    return res, json.loads(res.stdout)


def test_clients_needs_no_segment(tmp_path):
    missing = str(tmp_path / "no.shm")
    env = dict(os.environ, EXPECTCTL_SHM=missing)
    res = expectctl("clients", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    for family in ("Java HttpClient", "curl", "botocore", "git", "Wget", "libwww-perl"):
        assert family in res.stdout
    assert "expectContinue(false)" in res.stdout
    assert "<If '%{HTTP_USER_AGENT} =~ m#^Java-http-client/#i'>" in res.stdout
    assert expectctl("clients", shm=missing).returncode == 0


@pytest.mark.skipif(not IS_ROOT, reason="needs root to switch to nobody")
def test_clients_as_any_user():
    res = expectctl("clients", "--json", as_user="nobody")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["format"] == "mod_expect.clients"


def test_clients_json_table():
    res, doc = clients_json()
    assert res.returncode == 0, res.stderr
    assert doc["format"] == "mod_expect.clients" and doc["version"] == 1
    assert doc["user_agent"] is None
    keys = [c["key"] for c in doc["clients"]]
    assert len(keys) == len(set(keys)) >= 20
    # the first match wins: aws-cli and Boto3 before botocore, Java's
    # HttpClient before Java/
    assert keys.index("aws-cli") < keys.index("boto3") < keys.index("botocore")
    assert keys.index("java-httpclient") < keys.index("java-urlconnection")
    by = {c["key"]: c for c in doc["clients"]}
    java = by["java-httpclient"]
    assert java["hangs_on_417"] is True and java["loses_upload_on_417"] is True
    assert java["measured"] is True and java["match"] == "prefix"
    assert "expectContinue(false)" in java["client_fix"]
    assert by["curl"]["hangs_on_417"] is False
    assert by["python-requests"]["sends_body_before_417"] is True
    assert "add_expect_header" in by["botocore"]["client_fix"]
    # no User-Agent by default: listed, never matched
    for key in ("python-http-client", "dotnet", "node-http"):
        assert by[key]["match"] == "none" and by[key]["pattern"] is None
        assert by[key]["condition"] is None


def test_clients_lookup():
    res, doc = clients_json("aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 botocore/2.4.5")
    assert res.returncode == 0
    assert [c["key"] for c in doc["clients"]] == ["aws-cli"]
    res, doc = clients_json("Mozilla/5.0 (X11; Linux x86_64)")
    assert res.returncode == 1 and doc["clients"] == []
    res = expectctl("clients", JAVA_UA)
    assert res.returncode == 0
    assert res.stdout.startswith("Java HttpClient") and "known to hang" in res.stdout
    res = expectctl("clients", "evil\x1b[2J")
    assert res.returncode == 1 and "\x1b" not in res.stdout and "\\x1b[2J" in res.stdout


def test_recommended_policy_works():
    """The <If> that `clients` recommends, pasted into a vhost with
    ExpectPolicy reject, gives that client its 100 and no one else."""
    _, doc = clients_json()
    by = {c["key"]: c for c in doc["clients"]}
    blocks = "".join(
        f"    <If '{by[k]['condition']}'>\n        ExpectPolicy continue\n    </If>\n"
        for k in ("java-httpclient", "botocore", "node-fetch-builtin"))
    conf = CONF.replace("    ExpectPolicy reject\n", "    ExpectPolicy reject\n" + blocks)
    with serving(Httpd(conf, name="client-if")) as h:
        assert expect_request(h.port, JAVA_UA) == 200
        assert expect_request(h.port, "Botocore/1.29.27 Python/3.11.2 Linux/6.1.0") == 200
        assert expect_request(h.port, "node") == 200
        assert expect_request(h.port, "nodejs/1") == 417
        assert expect_request(h.port, "Java/17.0.15") == 417
        assert expect_request(h.port, UNKNOWN_UA) == 417


# The table's measured entries and the real-client matrix's way of
# uploading that each stands for (Client.table in
# tests/clients/client_matrix.py, whose expectations test_clients.py checks
# against the real clients, and the table against the installed versions).
def test_measured_entries_agree_with_the_matrix():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "clients"))
    import client_matrix as cm
    runs = {c.table: c for c in cm.CLIENTS if c.table}
    _, doc = clients_json()
    measured = {c["key"]: c for c in doc["clients"] if c["measured"]}
    assert set(measured) == set(runs)
    for key, entry in measured.items():
        client = runs[key]
        under_reject = client.behaviour["reject"]
        pushed = under_reject["pushed"]
        pushed = pushed if isinstance(pushed, tuple) else (pushed,)
        outcome = under_reject["outcome"]
        # A versioned client declares the outcome of each side of its fix:
        # the entry's own facts (before it) and its fixed ones.
        sides = [(entry["hangs_on_417"], entry["loses_upload_on_417"])]
        if client.versioned:
            assert entry["version_ranges"] is not None, key
            fixed = entry["version_ranges"]["fixed"]
            sides.append((fixed["hangs_on_417"], fixed["loses_upload_on_417"]))
            assert isinstance(outcome, tuple) and len(outcome) == 2, key
        outcomes = outcome if isinstance(outcome, tuple) else (outcome,)
        assert len(sides) == len(outcomes), key
        for (hangs, loses), out in zip(sides, outcomes):
            assert hangs == (out == "hangs"), key
            assert loses == (out != "ok"), key
        # no client retries: each one that gets a 417 loses the upload
        assert not under_reject["retried"], key
        assert entry["sends_body_before_417"] == ("all" in pushed and "none" not in pushed), key


def test_troubleshooting_example_is_current(server):
    """docs/TROUBLESHOOTING.md shows a Java event's line: its fix is what
    expectctl prints now."""
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "docs", "TROUBLESHOOTING.md")
    with open(doc) as f:
        shown = [line for line in f.read().splitlines()
                 if line.startswith(f'... ua="{JAVA_UA}" outcome="abandoned" by=mod_expect: ')]
    assert len(shown) == 1
    java = events(server, 3)[0]
    assert shown[0].split(" by=mod_expect: ", 1)[1] == java["fix"]
