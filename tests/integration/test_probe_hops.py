# SPDX-License-Identifier: Apache-2.0
"""expectctl probe over HTTP/2, and hop by hop (issue 15, part 2).

- --h2c and --http2 against the project's own httpd with mod_http2 under
  each policy (continue, reject, ignore): a 100 on the stream, a final
  status before DATA, the unknown expectation;
- --compare: the same URL over h2 and HTTP/1.1, on a vhost that treats
  them differently (<If "%{HTTP2} == 'on'">), and the line comparing them;
- --connect-to: a name-based vhost reached by its name on another address;
- --proxy: httpd's mod_proxy as a forward proxy (absolute form for http,
  CONNECT for https and h2c), and a refused CONNECT;
- --chain: hops from hopproxy.py (one that answers 100 itself, one that
  sends two) in front of a healthy httpd: the chain names that hop;
- small HTTP/2 servers that misbehave (h2misbehaving.py): each verdict,
  within the time bound;
- usage errors, and valgrind over the new modes.

Every probe runs with --timeout 1 (the wait for a 100 is 0.5 s).
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

from h2misbehaving import H2Misbehaving
from hopproxy import HopProxy
from loopback import LoopbackServer
from httpd_harness import Httpd, expectctl, expectctl_path, free_port, serving
from probehelp import (EXIT, TIMEOUT, assert_verdict, check, closed_port, findings,
                       install_echo_cgi, make_cert, probe)
from testlib import CGI, TLS_LINES, vhost

VALGRIND = shutil.which("valgrind")
POLICIES = ("continue", "reject", "ignore")
VERDICT = {"continue": "honours-100-continue", "reject": "rejects-100-continue",
           "ignore": "ignores-100-continue"}
# What the expect-100-continue check sees before the body, by policy.
BEFORE = {"continue": ("100", 1), "reject": ("final", 0), "ignore": ("nothing", 0)}

# ExpectPolicy ignore where %{HTTP2} is "on" or "off" (a vhost line).
IGNORE_IF = """<If "%{{HTTP2}} == '{}'">
    ExpectPolicy ignore
</If>"""

# One cleartext port per policy (h2c and HTTP/1.1 on each), one TLS port
# with a name-based vhost per policy; "mixed.test" ignores 100-continue
# over HTTP/2 only, "h1ignore.test" over HTTP/1.1 only.
CONF = """
Protocols h2 h2c http/1.1
ScriptSock @ROOT@/logs/cgid.sock
SSLSessionCache none
Listen 127.0.0.1:@REJECT@
Listen 127.0.0.1:@IGNORE@
Listen 127.0.0.1:@TLSPORT@
""" + "".join((
    vhost("continue.test", "ExpectPolicy continue", CGI, docroot=False, echo=False),
    vhost("mixed.test", "ExpectPolicy continue", IGNORE_IF.format("on"), CGI, docroot=False,
          echo=False),
    vhost("h1ignore.test", "ExpectPolicy continue", IGNORE_IF.format("off"), CGI, docroot=False,
          echo=False),
    vhost("reject.test", "ExpectPolicy reject", CGI, docroot=False, echo=False, port="@REJECT@"),
    vhost("ignore.test", "ExpectPolicy ignore", CGI, docroot=False, echo=False, port="@IGNORE@")))
TLS_VHOST = "\n" + vhost("{policy}.test", "ExpectPolicy {policy}", CGI, *TLS_LINES,
                         docroot=False, echo=False, port="@TLSPORT@")
PATH = "/cgi/echo.cgi"


@pytest.fixture(scope="module")
def h2srv():
    ports = {"reject": free_port(), "ignore": free_port(), "tls": free_port()}
    # uploads.example: the name the documentation's examples use.
    conf = (CONF + "".join(TLS_VHOST.format(policy=p) for p in POLICIES)
            + TLS_VHOST.format(policy="continue").replace("continue.test", "uploads.example")) \
        .replace("@REJECT@", str(ports["reject"])).replace("@IGNORE@", str(ports["ignore"])) \
        .replace("@TLSPORT@", str(ports["tls"]))
    h = Httpd(conf, mpm="event", modules=("http2", "cgid", "ssl", "socache_shmcb"),
              name="probe-h2")
    h.policy_port = {"continue": h.port, "reject": ports["reject"], "ignore": ports["ignore"]}
    h.tls_port = ports["tls"]
    install_echo_cgi(h.root)
    h.cert = make_cert(f"{h.root}/tls", "continue.test",
                       "DNS:continue.test,DNS:reject.test,DNS:ignore.test,"
                       "DNS:uploads.example,DNS:localhost,IP:127.0.0.1")
    # AH01270: the CGI whose body never came, behind the forward proxy that
    # gave up waiting for a 100 (test_proxy_absolute_form[ignore]).
    with serving(h, allowed_errors=(r"AH01270",)):
        yield h


def url(h, policy, path=PATH):
    return f"http://127.0.0.1:{h.policy_port[policy]}{path}"


def tls_url(h, policy):
    return f"https://{policy}.test:{h.tls_port}{PATH}"


def assert_h2_checks(doc, policy):
    """What each check saw on its stream, by policy."""
    assert [c["protocol"] for c in doc["checks"]] == ["HTTP/2"] * 4
    base, cont = check(doc, "baseline"), check(doc, "expect-100-continue")
    assert (base["status"], base["body_complete"], base["reuse"]) == (200, True, "reused")
    before, n100 = BEFORE[policy]
    assert (cont["before_body"], cont["interim_100"]) == (before, n100), cont
    assert cont["status"] == (417 if policy == "reject" else 200)
    assert cont["body_sent"] is (policy != "reject")
    assert cont["reason"] is None  # HTTP/2 has no reason phrase
    # mod_http2 refuses an unknown expectation from the HEADERS alone,
    # before any DATA: unlike HTTP/1.1, where core reads the body first.
    unk = check(doc, "unknown-expectation")
    assert (unk["before_body"], unk["status"], unk["body_sent"]) == ("final", 417, False)
    assert "unknown-expectation-417" in findings(doc)
    h10 = check(doc, "http10")
    assert (h10["outcome"], h10["status"], h10["interim_100"]) == ("not-applicable", None, 0)
    assert cont["server"].startswith("Apache")


# ---- HTTP/2 against the project's httpd, under each policy -----------------

@pytest.mark.parametrize("policy", POLICIES)
def test_h2c_each_policy(h2srv, policy):
    mark = h2srv.log_mark()
    res, doc = probe(url(h2srv, policy), "--h2c")
    assert_verdict(res, doc, VERDICT[policy])
    assert (doc["protocol"], doc["tls"], doc["proxy"]) == ("h2c", None, None)
    assert_h2_checks(doc, policy)
    # The requests really went over HTTP/2.
    log = h2srv.access_log_since(mark)
    assert f'"POST {PATH} HTTP/2.0"' in log and "HTTP/1.1" not in log, log


@pytest.mark.parametrize("policy", POLICIES)
def test_h2_tls_each_policy_by_name(h2srv, policy):
    """--http2: h2 chosen by ALPN; --connect-to reaches the name-based TLS
    vhost by the URL's name (SNI and :authority) on 127.0.0.1."""
    hop = f"127.0.0.1:{h2srv.tls_port}"
    res, doc = probe(tls_url(h2srv, policy), "--http2", "--insecure", "--connect-to", hop)
    assert_verdict(res, doc, VERDICT[policy])
    assert (doc["protocol"], doc["connect"], doc["host"]) == ("h2", hop, f"{policy}.test")
    assert doc["tls"]["version"].startswith("TLS") and doc["tls"]["verified"] is False
    assert_h2_checks(doc, policy)


def test_h2_tls_verifies_the_url_name(h2srv):
    """The certificate is checked against the URL's name, not the hop's."""
    env = dict(os.environ, SSL_CERT_FILE=h2srv.cert)
    res = expectctl("probe", tls_url(h2srv, "continue"), "--http2", "--timeout", TIMEOUT,
                    "--json", "--connect-to", f"127.0.0.1:{h2srv.tls_port}", env=env,
                    timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["tls"]["verified"] is True
    res = expectctl("probe", f"https://elsewhere.test:{h2srv.tls_port}{PATH}", "--http2",
                    "--timeout", TIMEOUT, "--connect-to", f"127.0.0.1:{h2srv.tls_port}",
                    env=env, timeout=60)
    assert res.returncode == 1 and "not trusted" in res.stderr, res.stderr


def test_h2_text_output(h2srv):
    res = expectctl("probe", url(h2srv, "ignore"), "--h2c", "--timeout", TIMEOUT, timeout=60)
    assert res.returncode == 10, res.stderr
    out = res.stdout
    assert "; h2c; POST with 1024 bytes" in out
    assert "http10               HTTP/1.0 + 100-continue  not applicable: HTTP/2 has no HTTP/1.0" \
        in out
    assert "verdict: ignores-100-continue (exit 10)" in out


def test_http2_refuses_a_server_without_h2(h2srv):
    """A TLS server that does not choose h2 by ALPN: no verdict, exit 1."""
    only11 = Httpd(f"""
Listen 127.0.0.1:@TLS@
<VirtualHost 127.0.0.1:@TLS@>
    SSLEngine on
    SSLCertificateFile {h2srv.cert}
    SSLCertificateKeyFile {h2srv.root}/tls/key.pem
</VirtualHost>
""".replace("@TLS@", str(free_port())), modules=("ssl", "socache_shmcb"), name="probe-h1only")
    port = int(only11.body.split("Listen 127.0.0.1:")[1].split()[0])
    with serving(only11):
        res, doc = probe(f"https://127.0.0.1:{port}/", "--http2", "--insecure")
    assert res.returncode == 1 and doc is None
    # httpd picks http/1.1 although only h2 was offered, which OpenSSL
    # refuses in the handshake; a server that picks nothing is named too.
    assert "offers only h2 by ALPN: does the server speak h2?" in res.stderr \
        or "does not speak h2: it chose" in res.stderr, res.stderr
    assert len(res.stderr.splitlines()) == 1


# ---- --compare ----------------------------------------------------------------

def test_compare_names_the_difference(h2srv):
    """mixed.test ignores 100-continue over HTTP/2 only."""
    hop = f"127.0.0.1:{h2srv.port}"
    target = f"http://mixed.test:{h2srv.port}{PATH}"
    res = expectctl("probe", target, "--h2c", "--compare", "--connect-to", hop,
                    "--timeout", TIMEOUT, timeout=90)
    assert res.returncode == 10, res.stderr
    assert "compare: h2c ignores 100-continue while HTTP/1.1 honours it" in res.stdout
    assert "compare: unknown expectation: h2c answers it 417 at once while HTTP/1.1 " \
           "answers it 417 only after the body" in res.stdout
    res, doc = probe(target, "--h2c", "--compare", "--connect-to", hop)
    assert res.returncode == doc["exit_code"] == 10
    assert doc["protocol"] == "h2c" and doc["verdict"]["key"] == "ignores-100-continue"
    cmp = doc["comparison"]
    assert cmp["expect_100"] == "h2c ignores 100-continue while HTTP/1.1 honours it"
    assert cmp["http1"]["protocol"] == "http/1.1"
    assert cmp["http1"]["verdict"]["key"] == "honours-100-continue"
    assert check(cmp["http1"], "http10")["outcome"] == "response"


def test_compare_agreeing(h2srv):
    res, doc = probe(url(h2srv, "continue"), "--h2c", "--compare")
    assert res.returncode == 0, res.stderr
    assert doc["comparison"]["expect_100"] == "h2c honours 100-continue, as HTTP/1.1 does"


def test_compare_problem_on_http1_only_is_not_exit_0(h2srv):
    """h2 healthy, HTTP/1.1 not: the status is HTTP/1.1's problem."""
    res, doc = probe(f"http://h1ignore.test:{h2srv.port}{PATH}", "--h2c", "--compare",
                     "--connect-to", f"127.0.0.1:{h2srv.port}")
    assert doc["verdict"]["key"] == "honours-100-continue"
    assert doc["comparison"]["expect_100"] == \
        "h2c honours 100-continue while HTTP/1.1 ignores it"
    assert res.returncode == doc["exit_code"] == 10, res.stderr


def test_compare_with_one_side_unprobeable_shows_the_other():
    """A server without h2c: no comparison, exit 1, but the HTTP/1.1 report
    is printed (text and JSON), not nothing."""
    h = Httpd("", name="compare-h1only")
    with serving(h):
        u = f"http://127.0.0.1:{h.port}/index.html"
        res = expectctl("probe", u, "--h2c", "--compare", "--timeout", TIMEOUT, timeout=120)
        assert res.returncode == 1, res.stdout + res.stderr
        assert "verdict: " in res.stdout
        assert "compare: not made: h2c could not be probed" in res.stdout
        res, doc = probe(u, "--h2c", "--compare")
        assert res.returncode == 1 and doc is not None, res.stderr
        assert doc["protocol"] == "http/1.1" and doc["comparison"] is None
        assert doc["exit_code"] == 1


# ---- --connect-to -------------------------------------------------------------

def test_connect_to_reaches_a_vhost_by_name(h2srv):
    port = h2srv.port
    res, doc = probe(f"http://mixed.test:{port}{PATH}", "--connect-to", f"127.0.0.1:{port}")
    assert_verdict(res, doc, "honours-100-continue")
    res, doc = probe(f"http://mixed.test:{port}{PATH}", "--h2c",
                     "--connect-to", f"127.0.0.1:{port}")
    assert_verdict(res, doc, "ignores-100-continue")
    # Another port than the URL's: the hop's port is used, the URL's stays
    # in :authority.
    other = h2srv.policy_port["reject"]
    res, doc = probe(f"http://reject.test:1{PATH}", "--connect-to", f"127.0.0.1:{other}")
    assert_verdict(res, doc, "rejects-100-continue")
    assert doc["port"] == 1 and doc["connect"] == f"127.0.0.1:{other}"


def test_connect_to_ipv6_form():
    res = expectctl("probe", "http://h.test/", "--connect-to", "[::1]:1", "--timeout", TIMEOUT)
    assert res.returncode == 1 and "cannot connect to ::1 port 1" in res.stderr, res.stderr


# ---- --proxy: httpd as a forward proxy ------------------------------------------

@pytest.fixture(scope="module")
def fwd_proxy(h2srv):
    allowed = f"{h2srv.tls_port} {h2srv.port}"
    h = Httpd(f"""
ProxyRequests On
AllowCONNECT {allowed}
<Proxy "*">
    Require ip 127.0.0.1
</Proxy>
""", load_expect=False, loglevel="info",
        modules=("authz_host", "proxy", "proxy_http", "proxy_connect"),
        name="fwd-proxy")
    h.proxy_url = f"http://127.0.0.1:{h.port}"
    # AH00898: the CONNECT refused on purpose, and the "Timeout on
    # 100-Continue" (with AH01102) in front of the ignore backend.
    with serving(h, allowed_errors=(r"AH00898", r"AH01102")):
        yield h


# Through httpd's forward proxy (Proxy100Continue On, the default), which
# forwards the expectation and waits for the backend's 100 before it reads
# the client's body: in front of a backend that ignores 100-continue
# nobody sends the body until httpd's Timeout (AH00898 "Timeout on
# 100-Continue"), and the client waits out its own.
VIA_PROXY = dict(VERDICT, ignore="times-out")


@pytest.mark.parametrize("policy", POLICIES)
def test_proxy_absolute_form(h2srv, fwd_proxy, policy):
    """http through a forward proxy: the request in absolute form; httpd
    relays the backend's answer to the expectation."""
    mark = fwd_proxy.log_mark()
    res, doc = probe(url(h2srv, policy), "--proxy", fwd_proxy.proxy_url)
    assert_verdict(res, doc, VIA_PROXY[policy])
    assert doc["proxy"] == {"url": fwd_proxy.proxy_url, "tunnel": False}
    assert doc["address"] == "127.0.0.1"
    log = fwd_proxy.access_log_since(mark)
    assert f'"POST http://127.0.0.1:{h2srv.policy_port[policy]}{PATH} HTTP/1.1"' in log, log


def test_proxy_connect_https_h2(h2srv, fwd_proxy):
    mark = fwd_proxy.log_mark()
    res, doc = probe(f"https://127.0.0.1:{h2srv.tls_port}{PATH}", "--http2", "--insecure",
                     "--proxy", fwd_proxy.proxy_url)
    # No SNI for an address: the TLS port's first vhost, continue.test.
    assert_verdict(res, doc, "honours-100-continue")
    assert doc["proxy"]["tunnel"] is True and doc["protocol"] == "h2"
    assert f'"CONNECT 127.0.0.1:{h2srv.tls_port} HTTP/1.1" 200' in \
        fwd_proxy.access_log_since(mark)


def test_proxy_connect_https_http11(h2srv, fwd_proxy):
    res, doc = probe(f"https://127.0.0.1:{h2srv.tls_port}{PATH}", "--insecure",
                     "--proxy", fwd_proxy.proxy_url)
    assert_verdict(res, doc, "honours-100-continue")
    assert doc["proxy"]["tunnel"] is True and doc["protocol"] == "http/1.1"


def test_proxy_connect_h2c(h2srv, fwd_proxy):
    res, doc = probe(url(h2srv, "continue"), "--h2c", "--proxy", fwd_proxy.proxy_url)
    assert_verdict(res, doc, "honours-100-continue")
    assert doc["proxy"]["tunnel"] is True


def test_proxy_refused_connect_is_exit_1(h2srv, fwd_proxy):
    port = h2srv.policy_port["ignore"]  # not in AllowCONNECT
    res, doc = probe(url(h2srv, "ignore"), "--h2c", "--proxy", fwd_proxy.proxy_url)
    assert res.returncode == 1 and doc is None
    assert f"refused CONNECT 127.0.0.1:{port}: 403" in res.stderr, res.stderr


# ---- --chain -------------------------------------------------------------------

def chain(target, hops, *args):
    return probe(target, "--chain", ",".join(hops), *args)


@pytest.mark.parametrize("kind,key", [("double100", "duplicate-100"),
                                      ("own100", "http10-gets-100")])
def test_chain_names_the_misbehaving_hop(h2srv, kind, key):
    """A hop that answers 100 itself (or adds a second one) in front of a
    healthy httpd: the chain says that hop changes the verdict."""
    backend = f"127.0.0.1:{h2srv.port}"
    with HopProxy(kind, h2srv.port) as bad:
        res, doc = chain(f"http://continue.test:{h2srv.port}{PATH}", [bad.hop, backend])
        text = expectctl("probe", f"http://continue.test:{h2srv.port}{PATH}", "--timeout",
                         TIMEOUT, "--chain", f"{bad.hop},{backend}", timeout=90)
    assert doc["format"] == "mod_expect.probe-chain"
    assert [h["verdict"] for h in doc["hops"]] == [key, "honours-100-continue"]
    assert doc["changed_at"] == 1 and doc["hops"][0]["changes_verdict"] is True
    assert doc["hops"][0]["probe"]["connect"] == bad.hop
    assert res.returncode == doc["exit_code"] == EXIT[key]
    assert text.returncode == EXIT[key]
    assert f"chain: hop 1 ({bad.hop}) changes the verdict: {key} there, " \
           f"honours-100-continue behind it (hop 2)" in text.stdout, text.stdout
    if kind == "double100":
        cont = check(doc["hops"][0]["probe"], "expect-100-continue")
        assert cont["interim_100"] == 2


def test_chain_names_a_middle_hop(h2srv):
    """relay -> double100 -> httpd: the front relay repeats what it is
    given; the change is at hop 2."""
    backend = f"127.0.0.1:{h2srv.port}"
    with HopProxy("double100", h2srv.port) as bad, HopProxy("relay", bad.port) as front:
        res, doc = chain(f"http://continue.test:{h2srv.port}{PATH}",
                         [front.hop, bad.hop, backend])
    assert [h["verdict"] for h in doc["hops"]] == \
        ["duplicate-100", "duplicate-100", "honours-100-continue"]
    assert doc["changed_at"] == 2 and res.returncode == 12
    assert [h["changes_verdict"] for h in doc["hops"]] == [False, True, False]


def test_chain_without_change(h2srv):
    backend = f"127.0.0.1:{h2srv.port}"
    with HopProxy("relay", h2srv.port) as front:
        res = expectctl("probe", f"http://continue.test:{h2srv.port}{PATH}", "--timeout",
                        TIMEOUT, "--chain", f"{front.hop},{backend}", timeout=90)
    assert res.returncode == 0, res.stdout
    assert "chain: no hop changes the verdict: every hop probed says honours-100-continue" \
        in res.stdout


def test_chain_h2c(h2srv):
    """Each hop over h2c: the ignore port in front of the continue port."""
    hops = [f"127.0.0.1:{h2srv.policy_port['ignore']}", f"127.0.0.1:{h2srv.port}"]
    res, doc = chain(f"http://127.0.0.1:{h2srv.port}{PATH}", hops, "--h2c")
    assert doc["protocol"] == "h2c" and doc["changed_at"] == 1
    assert [h["verdict"] for h in doc["hops"]] == ["ignores-100-continue",
                                                   "honours-100-continue"]
    assert res.returncode == 10


def test_chain_https_h2(h2srv):
    """Over TLS with h2: a relay in front of the TLS port, then the port;
    each hop's report keeps its TLS details."""
    with HopProxy("relay", h2srv.tls_port) as front:
        res, doc = chain(tls_url(h2srv, "reject"), [front.hop, f"127.0.0.1:{h2srv.tls_port}"],
                         "--http2", "--insecure")
    assert res.returncode == 11 and doc["changed_at"] is None, res.stderr
    for hop in doc["hops"]:
        assert hop["verdict"] == "rejects-100-continue"
        assert hop["probe"]["protocol"] == "h2" and hop["probe"]["host"] == "reject.test"
        assert hop["probe"]["tls"]["version"].startswith("TLS"), hop["probe"]["tls"]


def test_chain_with_an_unreachable_hop_is_not_healthy(h2srv):
    """Never exit 0 over a chain with a hole in it."""
    dead = f"127.0.0.1:{closed_port()}"
    res, doc = chain(f"http://continue.test:{h2srv.port}{PATH}",
                     [dead, f"127.0.0.1:{h2srv.port}"])
    assert res.returncode == doc["exit_code"] == 1
    assert doc["hops"][0]["verdict"] is None and doc["hops"][0]["probe"] is None
    assert "Connection refused" in doc["hops"][0]["error"]
    assert doc["hops"][1]["verdict"] == "honours-100-continue"
    assert doc["changed_at"] is None


# ---- misbehaving HTTP/2 servers ---------------------------------------------------

H2_BAD = [("good100", "honours-100-continue"), ("two100", "duplicate-100"),
          ("endless1xx", "garbled-response"), ("reset", "closes-without-response"),
          ("silent", "times-out"),
          # Connection errors nghttp2 finds in the server's frames, the
          # server closing nothing: garbled, not closed (exit 16, not 13).
          ("hugeframe", "garbled-response"), ("badindex", "garbled-response"),
          ("tablesize", "garbled-response"), ("hugefield", "garbled-response")]
CONNECTION_ERRORS = {"hugeframe": "FRAME_SIZE_ERROR", "badindex": "COMPRESSION_ERROR",
                     "tablesize": "COMPRESSION_ERROR", "hugefield": "COMPRESSION_ERROR"}


@pytest.mark.parametrize("kind,key", H2_BAD, ids=[k for k, _ in H2_BAD])
def test_h2_misbehaving_server(kind, key):
    with H2Misbehaving(kind) as srv:
        start = time.time()
        res, doc = probe(srv.url(), "--h2c", timeout=30)
        elapsed = time.time() - start
    assert_verdict(res, doc, key)
    # Bounded like HTTP/1.1: within 8 x --timeout, whatever the server does.
    assert elapsed < 8.0 and doc["elapsed_ms"] <= 8000, elapsed
    cont = check(doc, "expect-100-continue")
    if kind == "two100":
        assert cont["interim_100"] == 2 and cont["status"] == 200
    if kind == "endless1xx":
        assert cont["interim_other"] == 100 and cont["outcome"] == "garbled"
        assert "more than 100 interim responses" in cont["detail"]
    if kind == "reset":
        assert "INTERNAL_ERROR" in cont["detail"]
    if kind in CONNECTION_ERRORS:
        assert res.returncode == 16, res.stdout
        ran = [c for c in doc["checks"] if c["outcome"] != "not-applicable"]
        assert ran
        for c in ran:
            assert c["outcome"] == "garbled", c
            assert c["detail"].startswith("a connection error in the server's HTTP/2 frames: "
                                          + CONNECTION_ERRORS[kind]), c


def test_chain_of_silent_hops_is_bounded():
    """Each hop's probe has the bound of one: N hops within N x 8 x S."""
    with H2Misbehaving("silent") as a, H2Misbehaving("endless1xx") as b:
        start = time.time()
        res, doc = probe(a.url(), "--h2c", "--chain", f"127.0.0.1:{a.port},127.0.0.1:{b.port}",
                         timeout=30)
        elapsed = time.time() - start
    assert [h["verdict"] for h in doc["hops"]] == ["times-out", "garbled-response"]
    assert res.returncode == 14 and doc["changed_at"] == 1
    assert elapsed < 2 * 8 * float(TIMEOUT), elapsed


def test_h2c_to_an_http1_server_is_exit_1():
    with H2Misbehaving("http1") as srv:
        res, doc = probe(srv.url(), "--h2c")
    assert res.returncode == 1 and doc is None
    assert "does not speak HTTP/2 with prior knowledge: it answered in HTTP/1.x" in res.stderr


# ---- usage errors -------------------------------------------------------------------

@pytest.mark.parametrize("target,args,msg", [
    ("http://h/", ["--http2"], "--http2 is h2 over TLS"),
    ("https://h/", ["--h2c"], "--h2c is h2 over cleartext"),
    ("http://h/", ["--http2", "--h2c"], "choose one of --http2 and --h2c"),
    ("http://h/", ["--compare"], "--compare compares h2 with HTTP/1.1"),
    ("http://h/", ["--h2c", "--compare", "--chain", "a:1"], "do not combine"),
    ("http://h/", ["--connect", "a", "--connect-to", "b:1"], "choose one of --connect"),
    ("http://h/", ["--proxy", "http://p:1", "--chain", "a:1"], "choose one of --connect"),
    ("http://h/", ["--connect-to", "a:0"], "port must be a number"),
    ("http://h/", ["--connect-to", "a b:1"], "character a host name cannot have"),
    ("http://h/", ["--connect-to", "[zz]:1"], "bad IPv6 address"),
    ("http://h/", ["--proxy", "https://p:1"], "give an http:// URL"),
    ("http://h/", ["--proxy", "http://p:1/path"], "without a path"),
    ("http://h/", ["--proxy", "p:1"], "bad --proxy URL"),
    ("http://h/", ["--chain", "a:1,,b:2"], "empty or overlong hop"),
    ("http://h/", ["--chain", ",".join(["a:1"] * 17)], "at most 16 hops"),
    ("http://h/", ["--chain", "a:1,b:x"], "port must be a number"),
    ("http://h/", ["--chain"], "--chain needs"),
])
def test_usage_errors(target, args, msg):
    res = expectctl("probe", target, *args)
    assert res.returncode == 2, (args, res.stdout, res.stderr)
    assert res.stdout == "" and msg in res.stderr, res.stderr
    assert len(res.stderr.splitlines()) == 1 or "usage:" in res.stderr


def test_help_documents_the_new_options():
    res = expectctl("--help")
    for opt in ("--http2", "--h2c", "--compare", "--connect-to HOST:PORT", "--proxy URL",
                "--chain HOP"):
        assert opt in res.stdout, opt


# ---- valgrind --------------------------------------------------------------------------

VG = [VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
      "--errors-for-leak-kinds=definite,indirect,possible"]


@pytest.mark.skipif(not VALGRIND, reason="valgrind missing: build/install-deps.sh")
@pytest.mark.skipif(bool(os.environ.get("MOD_EXPECT_PRELOAD")),
                    reason="sanitizer build: memcheck does not apply")
@pytest.mark.parametrize("mode", ["h2c", "h2-tls-proxy", "compare", "chain", "endless1xx",
                                  "reset"])
def test_valgrind_clean(h2srv, fwd_proxy, mode):
    base = [expectctl_path(), "probe", "--timeout", "2", "--json"]
    if mode == "h2c":
        cmd, want = base + [url(h2srv, "reject"), "--h2c"], 11
    elif mode == "h2-tls-proxy":
        cmd, want = base + [f"https://127.0.0.1:{h2srv.tls_port}{PATH}", "--http2", "-k",
                            "--proxy", fwd_proxy.proxy_url], 0
    elif mode == "compare":
        cmd, want = base + [f"http://mixed.test:{h2srv.port}{PATH}", "--h2c", "--compare",
                            "--connect-to", f"127.0.0.1:{h2srv.port}"], 10
    elif mode == "chain":
        cmd, want = None, 12
    else:
        cmd, want = None, EXIT[dict(H2_BAD)[mode]]
    if mode == "chain":
        with HopProxy("double100", h2srv.port) as bad:
            res = subprocess.run(base + [f"http://continue.test:{h2srv.port}{PATH}", "--chain",
                                         f"{bad.hop},127.0.0.1:{closed_port()},"
                                         f"127.0.0.1:{h2srv.port}"],
                                 capture_output=True, text=True, timeout=300)
    elif cmd is None:
        with H2Misbehaving(mode) as srv:
            res = subprocess.run(base + [srv.url(), "--h2c"], capture_output=True, text=True,
                                 timeout=300)
    else:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == want, res.stderr
    assert "==" not in res.stderr, res.stderr
    json.loads(res.stdout)


# ---- every probe command of the docs' hop sections runs -------------------------

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NEW_OPTIONS = re.compile(r"--(http2|h2c|compare|connect-to|proxy|chain)\b")


def doc_commands():
    """Every expectctl probe line of TROUBLESHOOTING.md's sh blocks (a pipe
    into jq is cut off: the probe's own exit status is what counts), and
    those of expectctl.8's EXAMPLES that use the hop or HTTP/2 options."""
    out = []
    with open(os.path.join(REPO, "docs", "TROUBLESHOOTING.md")) as f:
        text = f.read()
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        out += [("TROUBLESHOOTING.md", line.split(" | ")[0].strip())
                for line in block.splitlines() if line.startswith("expectctl probe ")]
    with open(os.path.join(REPO, "docs", "expectctl.8")) as f:
        man = f.read()
    examples = man[man.index(".SH EXAMPLES"):man.index(".SH SEE ALSO")].replace("\\-", "-")
    out += [("expectctl.8", line) for line in examples.splitlines()
            if line.startswith("expectctl probe ") and NEW_OPTIONS.search(line)]
    return out


DOC_COMMANDS = doc_commands()


def test_doc_commands_found():
    where = {w for w, _ in DOC_COMMANDS}
    assert where == {"TROUBLESHOOTING.md", "expectctl.8"}
    used = set(NEW_OPTIONS.findall(" ".join(c for _, c in DOC_COMMANDS)))
    assert used == {"http2", "h2c", "compare", "connect-to", "proxy", "chain"}, used


def localize(cmd, h, proxy_url, lb_hop):
    """The documented command aimed at the test servers: uploads.example is
    the TLS port (by name where a hop or proxy carries the name, else as
    localhost, which resolves), 10.0.0.5:443 that port, lb.example:443 a
    relay in front of it, 127.0.0.1:8080 the cleartext port, proxy.example
    the forward proxy (which resolves the URL's host itself: 127.0.0.1)."""
    args = shlex.split(cmd)[1:]
    if "--connect" in args:
        args[args.index("--connect") + 1] = "127.0.0.1"
    by_name = "--connect-to" in args or "--chain" in args
    hops = {"10.0.0.5:443": f"127.0.0.1:{h.tls_port}", "lb.example:443": lb_hop}
    out = []
    for a in args:
        if a.startswith("https://uploads.example/"):
            host = "127.0.0.1" if "--proxy" in args else \
                "uploads.example" if by_name else "localhost"
            a = f"https://{host}:{h.tls_port}{PATH}"
        elif a.startswith("http://127.0.0.1:8080/"):
            a = f"http://127.0.0.1:{h.port}{PATH}"
        elif a == "http://proxy.example:3128":
            a = proxy_url
        elif not a.startswith("-"):
            a = ",".join(hops.get(x, x) for x in a.split(","))
        out.append(a)
    return out


@pytest.mark.parametrize("where,cmd", DOC_COMMANDS,
                         ids=[f"{w}:{c[16:60]}" for w, c in DOC_COMMANDS])
def test_doc_command_runs(h2srv, fwd_proxy, where, cmd):
    """Each documented command, against a healthy chain: exit 0."""
    env = dict(os.environ, SSL_CERT_FILE=h2srv.cert)
    with HopProxy("relay", h2srv.tls_port) as lb:
        args = localize(cmd, h2srv, fwd_proxy.proxy_url, lb.hop)
        if "--timeout" not in args:
            args += ["--timeout", TIMEOUT]
        res = expectctl(*args, env=env, timeout=120)
    assert res.returncode == 0, f"{where}: {cmd}\n{args}\n{res.stdout[-3000:]}\n{res.stderr}"
    if "--json" in args:
        assert json.loads(res.stdout)["verdict"]["key"] == "honours-100-continue"
    else:
        assert "verdict: honours-100-continue" in res.stdout


# ---- h2c through a proxy whose CONNECT answer carries the server's first frame ----

SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


def tunnel_to_fake_h2(coalesce):
    """serve() for a LoopbackServer: a CONNECT proxy and, behind it, a tiny
    h2c server that answers every stream with :status 200 at once.  With
    `coalesce`, its SETTINGS frame goes out in the same write as the
    CONNECT answer, as a fast relay can deliver them."""
    def serve(conn, stop):
        with conn:
            conn.settimeout(10)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            buf = buf.split(b"\r\n\r\n", 1)[1]
            head = b"HTTP/1.1 200 Connection established\r\n\r\n"
            conn.sendall(head + SETTINGS if coalesce else head)
            sent_settings = coalesce
            while not stop.is_set():
                if buf.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
                    buf = buf[24:]
                    if not sent_settings:
                        conn.sendall(SETTINGS)
                        sent_settings = True
                while len(buf) >= 9 and not buf.startswith(b"PRI"):
                    length = int.from_bytes(buf[:3], "big")
                    if len(buf) < 9 + length:
                        break
                    ftype, flags, sid = buf[3], buf[4], buf[5:9]
                    buf = buf[9 + length:]
                    if ftype == 4 and not flags & 1:
                        conn.sendall(SETTINGS_ACK)
                    elif ftype == 1:
                        # HEADERS, END_STREAM | END_HEADERS: ":status 200" (static index 8)
                        conn.sendall(b"\x00\x00\x01\x01\x05" + sid + b"\x88")
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
    return serve


def test_h2c_proxy_frames_with_the_connect_answer():
    """The server's SETTINGS arriving with the CONNECT answer (the probe's
    reader has buffered it) must not be lost: the same verdict either way."""
    results = []
    for coalesce in (False, True):
        with LoopbackServer(tunnel_to_fake_h2(coalesce)) as px:
            res, doc = probe("http://upload.test:8080/upload", "--h2c", "--proxy",
                             f"http://127.0.0.1:{px.port}")
        assert doc is not None, res.stderr
        results.append((doc["verdict"]["key"], res.returncode))
    assert results[0] == results[1], results
    assert results[0][0] != "closes-without-response", results
