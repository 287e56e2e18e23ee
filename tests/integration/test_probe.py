# SPDX-License-Identifier: Apache-2.0
"""expectctl probe: the verdict for the project's own httpd under each
policy (continue, reject, ignore), over http and https, and for each small
misbehaving server in misbehaving.py, over IPv4 and IPv6; the errors for
bad URLs, refused connections and unknown hosts; the time bound; the
--json document; and a valgrind run.

Every probe runs with --timeout 1 (so the wait for a 100 is 0.5 s) to keep
the suite fast; the verdicts do not depend on it.
"""
import os
import shutil
import socket
import subprocess
import time

import pytest

from httpd_harness import MPMS, Httpd, expectctl, expectctl_path, free_port, serving
from misbehaving import Misbehaving
from probehelp import (EXIT, TIMEOUT, assert_verdict, check, closed_port, findings, make_cert,
                       probe)

VALGRIND = shutil.which("valgrind")

CHECK_FIELDS = {"name", "protocol", "expect", "outcome", "before_body", "body_sent",
                "interim_100", "interim_100_after_body", "interim_other",
                "first_interim_ms", "final_ms", "status", "reason", "server", "via",
                "keep_alive", "body_complete", "reuse", "reuse_status", "detail"}
FINDING_FIELDS = {"key", "severity", "exit_code", "check", "summary", "client_fix",
                  "server_fix"}
TOP_FIELDS = {"format", "version", "url", "scheme", "host", "port", "address", "family",
              "connect", "protocol", "proxy", "comparison", "tls", "method", "size", "timeout_ms", "wait_100_ms", "wait_other_ms",
              "checks", "verdict", "findings", "exit_code", "elapsed_ms"}


# ---- the project's own httpd ------------------------------------------------

def policy_conf(ports):
    """One vhost per policy, each on its own port, so a URL names it; and a
    name-based vhost behind the continue one, reached only by its name."""
    out = []
    for policy, port in ports.items():
        if port != "@PORT@":
            out.append(f"Listen 127.0.0.1:{port}")
    for policy, port in ports.items():
        out.append(f"""
<VirtualHost 127.0.0.1:{port}>
    ServerName {policy}.test
    ExpectPolicy {policy}
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>""")
    out.append("""
<VirtualHost 127.0.0.1:@PORT@>
    ServerName named-reject.test
    ExpectPolicy reject
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>""")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module", params=MPMS)
def policy_httpd(request):
    ports = {"continue": "@PORT@", "reject": free_port(), "ignore": free_port()}
    h = Httpd(policy_conf(ports), mpm=request.param, name=f"probe-{request.param}")
    h.policy_port = {p: (h.port if v == "@PORT@" else v) for p, v in ports.items()}
    with serving(h):
        yield h


def url_for(h, policy, path="/echo"):
    return f"http://127.0.0.1:{h.policy_port[policy]}{path}"


def test_continue_policy_honours(policy_httpd):
    res, doc = probe(url_for(policy_httpd, "continue"))
    assert_verdict(res, doc, "honours-100-continue")
    base, cont = check(doc, "baseline"), check(doc, "expect-100-continue")
    assert base["status"] == 200 and base["reuse"] == "reused"
    assert cont["before_body"] == "100" and cont["interim_100"] == 1
    assert cont["body_sent"] and cont["status"] == 200 and cont["body_complete"]
    assert cont["reuse"] == "reused" and cont["reuse_status"] == 200
    # httpd core reads the body of an unknown expectation before its 417.
    unk = check(doc, "unknown-expectation")
    assert (unk["before_body"], unk["status"]) == ("nothing", 417)
    assert "unknown-expectation-417-after-body" in findings(doc)
    # RFC 9110: no 100 for HTTP/1.0.
    h10 = check(doc, "http10")
    assert h10["interim_100"] == 0 and h10["status"] == 200
    assert base["server"].startswith("Apache")


def test_reject_policy_rejects(policy_httpd):
    mark = policy_httpd.log_mark()
    res, doc = probe(url_for(policy_httpd, "reject"))
    assert_verdict(res, doc, "rejects-100-continue")
    cont = check(doc, "expect-100-continue")
    # 417 before a single body byte, and the connection closed with it.
    assert (cont["before_body"], cont["status"], cont["body_sent"]) == ("final", 417, False)
    assert cont["keep_alive"] is False and cont["reuse"] == "not-tried"
    assert check(doc, "baseline")["status"] == 200
    # The probe's requests are in the access log and the event ring, named.
    log = policy_httpd.access_log_since(mark)
    assert "decision=reject" in log
    events = policy_httpd.ctl_json("events")["events"]
    mine = [e for e in events if e["user_agent"].startswith("expectctl-probe/")
            and e["vhost"] == f"reject.test:{policy_httpd.policy_port['reject']}"]
    assert {e["producer"] for e in mine} >= {"mod_expect", "core"}, mine


def test_ignore_policy_ignores(policy_httpd):
    res, doc = probe(url_for(policy_httpd, "ignore"))
    assert_verdict(res, doc, "ignores-100-continue")
    cont = check(doc, "expect-100-continue")
    assert (cont["before_body"], cont["interim_100"], cont["status"]) == ("nothing", 0, 200)
    assert cont["body_sent"] and cont["reuse"] == "reused"
    # The stall is what probe waited, and it says so.
    assert cont["final_ms"] >= doc["wait_100_ms"] == 500


def test_runtime_override_changes_verdict(policy_httpd):
    """The troubleshooting loop: probe, expectctl set, probe again."""
    name = f"reject.test:{policy_httpd.policy_port['reject']}"
    res = expectctl("set", name, "continue", shm=policy_httpd.shm)
    assert res.returncode == 0, res.stderr
    try:
        res, doc = probe(url_for(policy_httpd, "reject"))
        assert_verdict(res, doc, "honours-100-continue")
    finally:
        expectctl("set", name, "default", shm=policy_httpd.shm)


def test_connect_probes_a_named_vhost(policy_httpd):
    """--connect: the address of one hop, the name (Host) of the URL."""
    port = policy_httpd.port
    res, doc = probe(f"http://named-reject.test:{port}/echo", "--connect", "127.0.0.1")
    assert_verdict(res, doc, "rejects-100-continue")
    assert (doc["host"], doc["address"], doc["connect"]) == \
        ("named-reject.test", "127.0.0.1", "127.0.0.1")
    # The same address under its IP is the default (continue) vhost.
    res, doc = probe(f"http://127.0.0.1:{port}/echo")
    assert_verdict(res, doc, "honours-100-continue")
    assert doc["connect"] is None
    # Without --connect the name does not resolve: a clear error.
    res, doc = probe(f"http://named-reject.test:{port}/echo")
    assert res.returncode == 1 and doc is None
    assert "cannot resolve named-reject.test" in res.stderr


def test_text_output_names_verdict_and_fixes(policy_httpd):
    res = expectctl("probe", url_for(policy_httpd, "reject"), "--timeout", TIMEOUT)
    assert res.returncode == 11, res.stderr
    out = res.stdout
    assert "verdict: rejects-100-continue (exit 11)" in out
    assert "    client: " in out and "    server: " in out
    for name in ("baseline", "expect-100-continue", "unknown-expectation", "http10"):
        assert f"  {name} " in out
    assert res.stderr == ""


def test_size(policy_httpd):
    mark = policy_httpd.log_mark()
    res, doc = probe(url_for(policy_httpd, "continue"), "--size", "70000")
    assert_verdict(res, doc, "honours-100-continue")
    assert doc["size"] == 70000
    assert '"POST /echo HTTP/1.1" 200 70000' in policy_httpd.access_log_since(mark)


def test_method_refused_before_the_body(policy_httpd):
    """mod_reflector refuses PUT with 405 before any 100: the server
    decides from the head alone, which is healthy, and the connection
    survives because httpd reads and discards the body probe then sends."""
    res, doc = probe(url_for(policy_httpd, "continue"), "--method", "PUT")
    assert_verdict(res, doc, "final-status-before-body")
    assert doc["method"] == "PUT"
    cont = check(doc, "expect-100-continue")
    assert (cont["before_body"], cont["status"], cont["interim_100"]) == ("final", 405, 0)
    assert cont["reuse"] in ("reused", "closed", "not-tried")


def test_needs_no_segment_and_no_privilege(policy_httpd):
    env = dict(os.environ, EXPECTCTL_SHM="/nonexistent/mod_expect.shm")
    res = expectctl("probe", url_for(policy_httpd, "continue"), "--timeout", TIMEOUT,
                    "--json", env=env, as_user="nobody" if os.geteuid() == 0 else None)
    assert res.returncode == 0, res.stderr


# ---- https -------------------------------------------------------------------

TLS_CONF = """
Listen 127.0.0.1:@TLSPORT@
SSLSessionCache none
<VirtualHost 127.0.0.1:@TLSPORT@>
    ServerName tls.test
    ExpectPolicy @POLICY@
    SSLEngine on
    SSLCertificateFile @ROOT@/tls/cert.pem
    SSLCertificateKeyFile @ROOT@/tls/key.pem
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
"""


@pytest.fixture(scope="module", params=["continue", "reject"])
def tls_httpd(request):
    tls_port = free_port()
    h = Httpd(TLS_CONF.replace("@TLSPORT@", str(tls_port)).replace("@POLICY@", request.param),
              modules=("ssl",), name=f"probe-tls-{request.param}")
    h.tls_port = tls_port
    h.policy = request.param
    h.cert = make_cert(os.path.join(h.root, "tls"), "127.0.0.1", "IP:127.0.0.1,DNS:localhost")
    with serving(h):
        yield h


def test_https_verifies_by_default(tls_httpd):
    res, doc = probe(f"https://127.0.0.1:{tls_httpd.tls_port}/echo")
    assert res.returncode == 1 and doc is None
    assert "not trusted" in res.stderr and "--insecure" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_https_insecure(tls_httpd):
    res, doc = probe(f"https://127.0.0.1:{tls_httpd.tls_port}/echo", "--insecure")
    want = {"continue": "honours-100-continue", "reject": "rejects-100-continue"}
    assert_verdict(res, doc, want[tls_httpd.policy])
    assert doc["scheme"] == "https" and doc["port"] == tls_httpd.tls_port
    assert doc["tls"]["version"].startswith("TLS") and doc["tls"]["verified"] is False


def test_https_trusted_ca(tls_httpd):
    env = dict(os.environ, SSL_CERT_FILE=tls_httpd.cert)
    for host in ("127.0.0.1", "localhost"):
        res, doc = probe(f"https://{host}:{tls_httpd.tls_port}/echo", env=env)
        assert res.returncode in (0, 11), res.stderr
        assert doc["tls"]["verified"] is True
        assert doc["address"] in ("127.0.0.1", "::1")


def test_https_probe_of_plain_port_fails_cleanly(policy_httpd):
    res, doc = probe(f"https://127.0.0.1:{policy_httpd.port}/echo", "--insecure")
    assert res.returncode == 1 and doc is None
    assert "TLS handshake" in res.stderr


# ---- misbehaving servers --------------------------------------------------------

MISBEHAVING = [
    ("never100", "ignores-100-continue"),
    ("two100", "duplicate-100"),
    ("traefik", "duplicate-100"),
    ("always417", "always-417"),
    ("closer", "closes-without-response"),
    ("slow", "times-out"),
    ("garbled", "garbled-response"),
    ("http10_100", "http10-gets-100"),
    ("desync", "desync-risk"),
    ("good", "honours-100-continue"),
]


@pytest.mark.parametrize("kind,key", MISBEHAVING, ids=[m[0] for m in MISBEHAVING])
def test_misbehaving_server(kind, key):
    with Misbehaving(kind) as srv:
        start = time.time()
        res, doc = probe(srv.url())
        elapsed = time.time() - start
    assert_verdict(res, doc, key)
    # Every wait is bounded: even a server that never answers costs one timeout.
    assert elapsed < 4.0, elapsed
    cont = check(doc, "expect-100-continue")
    if kind == "two100":
        assert cont["interim_100"] == 2 and cont["status"] == 200
    if kind == "traefik":
        assert cont["interim_100"] == 2 and cont["outcome"] == "timeout"
        assert "times-out" in findings(doc)
    if kind == "slow":
        assert check(doc, "baseline")["outcome"] == "timeout"
        assert [c["outcome"] for c in doc["checks"][1:]] == ["skipped"] * 3
    if kind == "closer":
        assert all(c["outcome"] == "closed" for c in doc["checks"])
    if kind == "desync":
        assert cont["reuse"] == "desync" and cont["reuse_status"] == 400
        assert "rejects-100-continue" in findings(doc)
    if kind == "garbled":
        assert "HTTP/1.x" in cont["detail"]
    if kind == "http10_100":
        assert check(doc, "http10")["interim_100"] == 1
        assert "honours-100-continue" in findings(doc)


# The documented bound (expectctl.8): the whole probe ends within 8 x S.
# The assertion is generous on purpose (a loaded machine is not a bug); a
# probe that never ends is what it catches.
PROBE_BOUND_S = 8 * float(TIMEOUT)
GENEROUS_S = 15.0


def probe_bounded(url):
    """probe --json that must end by GENEROUS_S; (result, doc, seconds)."""
    start = time.time()
    try:
        res, doc = probe(url, timeout=GENEROUS_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"probe --timeout {TIMEOUT} still running after {GENEROUS_S} s "
                    f"(documented bound {PROBE_BOUND_S} s)")
    return res, doc, time.time() - start


@pytest.mark.parametrize("kind", ["endless102", "endless102_lf"])
def test_endless_interim_responses_are_bounded(kind):
    """A server that answers with 102s back to back, forever: probe stops
    at its limit of interim responses per request and says so."""
    with Misbehaving(kind) as srv:
        res, doc, elapsed = probe_bounded(srv.url())
    assert_verdict(res, doc, "garbled-response")
    assert doc["elapsed_ms"] <= PROBE_BOUND_S * 1000, doc["elapsed_ms"]
    for c in doc["checks"]:
        assert c["outcome"] == "garbled", c
        assert c["interim_other"] == 100 and c["interim_100"] == 0, c
        assert "more than 100 interim responses" in c["detail"], c
    assert elapsed < GENEROUS_S


def test_endless_body_is_bounded():
    """A final response whose body never ends: every body read stops at
    its deadline although bytes keep arriving, and the probe goes on."""
    with Misbehaving("endless_body") as srv:
        res, doc, elapsed = probe_bounded(srv.url())
    assert_verdict(res, doc, "final-status-before-body")
    assert doc["elapsed_ms"] <= PROBE_BOUND_S * 1000, doc["elapsed_ms"]
    for c in doc["checks"]:
        assert (c["outcome"], c["status"]) == ("response", 200), c
        assert c["body_complete"] is False and c["reuse"] == "not-tried", c
    assert elapsed < GENEROUS_S


def test_endless_interim_text_output():
    with Misbehaving("endless102") as srv:
        try:
            res = expectctl("probe", srv.url(), "--timeout", TIMEOUT, timeout=GENEROUS_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"probe still running after {GENEROUS_S} s")
    assert res.returncode == EXIT["garbled-response"], res.stderr
    assert "verdict: garbled-response (exit 16)" in res.stdout
    assert "100 other 1xx" in res.stdout and "more than 100 interim responses" in res.stdout


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
@pytest.mark.parametrize("kind,key", [("never100", "ignores-100-continue"),
                                      ("good", "honours-100-continue")])
def test_ipv6(kind, key):
    with Misbehaving(kind, host="::1") as srv:
        assert srv.url().startswith("http://[::1]:")
        res, doc = probe(srv.url("/x?y=1"))
    assert_verdict(res, doc, key)
    assert (doc["address"], doc["family"], doc["host"]) == ("::1", "ipv6", "::1")


# ---- errors --------------------------------------------------------------------------

def test_connection_refused():
    port = closed_port()
    res = expectctl("probe", f"http://127.0.0.1:{port}/", "--timeout", TIMEOUT)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == f"expectctl: probe: cannot connect to 127.0.0.1 port {port}: " \
                         "Connection refused\n"


def test_unknown_host():
    res = expectctl("probe", "http://no-such-host.invalid/", "--timeout", TIMEOUT)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("expectctl: probe: cannot resolve no-such-host.invalid")


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/", "127.0.0.1:80/", "http://", "http:///x", "http://a b/",
    "http://host:0/", "http://host:65536/", "http://host:8o/", "http://[::1/",
    "http://[zz::1]/", "http://u:p@host/", "http://host/a b", "http://ho%st/",
])
def test_bad_url_is_usage_error(url):
    res = expectctl("probe", url)
    assert res.returncode == 2, (url, res.stdout, res.stderr)
    assert res.stdout == "" and res.stderr.startswith("expectctl: probe: bad URL: ")
    assert len(res.stderr.splitlines()) == 1


@pytest.mark.parametrize("args", [
    ["--timeout", "0"], ["--timeout", "61"], ["--timeout", "x"], ["--size", "0"],
    ["--size", "-1"], ["--method", "PO ST"], ["--prometheus"], ["--follow"],
])
def test_bad_options_are_usage_errors(args):
    res = expectctl("probe", "http://127.0.0.1:1/", *args)
    assert res.returncode == 2, (args, res.stderr)


# ---- valgrind ------------------------------------------------------------------------

VG = [VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
      "--errors-for-leak-kinds=definite,indirect,possible"]


@pytest.mark.skipif(not VALGRIND, reason="valgrind missing: build/install-deps.sh")
@pytest.mark.skipif(bool(os.environ.get("MOD_EXPECT_PRELOAD")),
                    reason="sanitizer build: memcheck does not apply")
@pytest.mark.parametrize("kind", ["desync", "traefik", "closer"])
def test_valgrind_clean(kind):
    with Misbehaving(kind) as srv:
        res = subprocess.run(VG + [expectctl_path(), "probe", srv.url(), "--timeout", "2"],
                             capture_output=True, text=True, timeout=120)
    assert res.returncode not in (99, 1, 2), res.stderr
    assert "==" not in res.stderr, res.stderr


@pytest.mark.skipif(not VALGRIND, reason="valgrind missing: build/install-deps.sh")
@pytest.mark.skipif(bool(os.environ.get("MOD_EXPECT_PRELOAD")),
                    reason="sanitizer build: memcheck does not apply")
def test_valgrind_clean_tls(tls_httpd):
    if tls_httpd.policy != "continue":
        pytest.skip("one TLS run is enough")
    res = subprocess.run(VG + [expectctl_path(), "probe", "--insecure", "--json",
                               f"https://127.0.0.1:{tls_httpd.tls_port}/echo"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert "==" not in res.stderr, res.stderr
    # And the failure path: the untrusted certificate.
    res = subprocess.run(VG + [expectctl_path(), "probe",
                               f"https://127.0.0.1:{tls_httpd.tls_port}/echo"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 1 and "==" not in res.stderr, res.stderr


# ---- the JSON document ------------------------------------------------------------------

def test_json_document_is_stable():
    with Misbehaving("good") as srv:
        res, doc = probe(srv.url())
    assert set(doc) == TOP_FIELDS
    assert (doc["format"], doc["version"]) == ("mod_expect.probe", 1)
    assert [c["name"] for c in doc["checks"]] == [
        "baseline", "expect-100-continue", "unknown-expectation", "http10"]
    for c in doc["checks"]:
        assert set(c) == CHECK_FIELDS
    for f in doc["findings"] + [doc["verdict"]]:
        assert set(f) == FINDING_FIELDS
    assert doc["findings"][0] == doc["verdict"]
    assert doc["tls"] is None and doc["family"] == "ipv4"
    assert (doc["timeout_ms"], doc["wait_100_ms"]) == (1000, 500)
    assert 300 <= doc["wait_other_ms"] <= 500
