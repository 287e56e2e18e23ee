"""Real clients against ExpectPolicy continue, reject and ignore.

curl (defaults and --expect100-timeout), PHP's cURL extension and Node's
http client each upload 2 MiB to one event-MPM httpd with a virtual host per
policy.  For every client and policy the tests record whether a 100 came,
whether the client stalled, whether it retried without Expect after a 417 and
whether the upload succeeded.  They check those facts and render
docs/CLIENTS.md from them: the last test fails when the committed file
disagrees with this run.  WRITE_CLIENTS_MD=1 (make clients-doc) rewrites it
instead, but only when every other test here passed.
"""
import os
import re
import sys
import time

import pytest

from httpd_harness import Httpd, serving

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "clients"))
import client_matrix as cm  # noqa: E402

DOC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                   "docs", "CLIENTS.md"))
WRITE_DOC = os.environ.get("WRITE_CLIENTS_MD") == "1"

# Our own access log, so that the harness's format can change freely.
CONF = """
LogFormat "%v \\"%r\\" %>s \\"%{Expect}i\\"" clients
CustomLog @ROOT@/logs/clients_log clients
""" + "".join(f"""
<VirtualHost 127.0.0.1:@PORT@>
    ServerName {p}.test
    ExpectPolicy {p}
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
""" for p in cm.POLICIES)

# One access log line per request; the run tag in the query string ties it
# to one upload, so a client's retry shows as a second line.
LOG_LINE = re.compile(r'^(?P<vhost>\S+) "POST /echo\?run=(?P<tag>[\w.-]+) '
                      r'HTTP/[\d.]+" (?P<status>\d{3}) "(?P<expect>[^"]*)"$', re.M)

RUNS = [(c, p) for c in cm.CLIENTS for p in cm.POLICIES]
IDS = [f"{c.key}-{p}" for c, p in RUNS]


def tag(client, policy):
    return f"{client.key}.{policy}"


def server_requests(h):
    """The requests httpd logged, by run tag."""
    try:
        with open(os.path.join(h.logs, "clients_log"), errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    by_tag = {}
    for m in LOG_LINE.finditer(text):
        by_tag.setdefault(m.group("tag"), []).append(m.groupdict())
    return by_tag


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """Run every available client against every policy, once."""
    payload = tmp_path_factory.mktemp("clients") / "2mib.bin"
    payload.write_bytes(os.urandom(cm.SIZE))
    missing = {prog: cm.missing_program(prog) for prog in ("curl", "php", "node")}
    h = Httpd(CONF, mpm="event", name="clients")
    with serving(h):
        before = {p: h.vhost_stats(f"{p}.test") for p in cm.POLICIES}
        results = {}
        for client, policy in RUNS:
            if missing[client.program]:
                continue
            url = f"http://127.0.0.1:{h.port}/echo?run={tag(client, policy)}"
            results[(client.key, policy)] = cm.run_client(
                client, url, f"{policy}.test", str(payload))
        # Requests are logged when they end; a retry would be logged with
        # (or just after) the upload's first request.
        deadline = time.time() + 10
        while True:
            seen = server_requests(h)
            if all(tag(cm.BY_KEY[k], p) in seen for k, p in results):
                break
            if time.time() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        seen = server_requests(h)
        for (key, policy), run in results.items():
            lines = seen.get(tag(cm.BY_KEY[key], policy), [])
            run["server"] = {
                "requests": len(lines),
                "with_expect": sum(ln["expect"].lower() == "100-continue"
                                   for ln in lines),
                "statuses": [int(ln["status"]) for ln in lines],
                "vhosts": [ln["vhost"] for ln in lines],
                "first_expect": lines[0]["expect"] if lines else None,
            }
        after = {p: h.vhost_stats(f"{p}.test") for p in cm.POLICIES}
        yield {"results": results, "missing": missing, "httpd": h,
               "stats": (before, after), "versions": cm.versions()}


def measured(matrix, client, policy):
    run = matrix["results"].get((client.key, policy))
    if run is None:
        pytest.skip(matrix["missing"][client.program])
    return run


def observed(run):
    srv = run["server"]
    return dict(got_100=run["got_100"], stalled=run["waited"],
                body_sent=run["body_sent"], status=run["status"],
                retried=srv["requests"] > 1,
                succeeded=run["status"] == 200 and run["echo_ok"])


def expected(client, policy):
    """What each client does, as measured with Debian 12's curl 7.88, PHP 8.2
    and Node 20.  `stalled` is the client's own sign that it waited for a
    100 in vain."""
    if not client.sends_expect:
        return dict(got_100=False, stalled=False, body_sent=True, status=200,
                    retried=False, succeeded=True)
    if policy == "continue":
        return dict(got_100=True, stalled=False, body_sent=True, status=200,
                    retried=False, succeeded=True)
    if policy == "reject":
        # None of them sends the request again without Expect.
        return dict(got_100=False, stalled=False, body_sent=False, status=417,
                    retried=False, succeeded=False)
    if client.key == "node":
        # Body only on 'continue': no 100, so no body and no response until
        # the application gives up.
        return dict(got_100=False, stalled=True, body_sent=False, status=None,
                    retried=False, succeeded=False)
    return dict(got_100=False, stalled=True, body_sent=True, status=200,
                retried=False, succeeded=True)


@pytest.mark.parametrize("client,policy", RUNS, ids=IDS)
def test_server_saw_the_expectation(matrix, client, policy):
    """curl and libcurl add Expect by themselves above 1 MB; Node only when
    told to; the workarounds remove it.  Checked where it counts: httpd."""
    run = measured(matrix, client, policy)
    srv = run["server"]
    assert srv["requests"] >= 1, f"httpd logged no request for {client.key}"
    assert srv["vhosts"][0] == f"{policy}.test"
    want = "100-continue" if client.sends_expect else "-"
    assert srv["first_expect"] == want, srv
    # The client's own trace agrees with the server.
    assert run["requests_with_expect"] == srv["with_expect"], (run, srv)


@pytest.mark.parametrize("client,policy", RUNS, ids=IDS)
def test_client_behaviour(matrix, client, policy):
    run = measured(matrix, client, policy)
    srv = run["server"]
    assert observed(run) == expected(client, policy), (run, run.get("error"))
    if run["status"] == 417:
        # A 417 is no error to the client: curl exits 0, curl_exec()
        # returns the body, Node emits 'response'.
        assert run["error"] is None, run
    # What the client reports matches what httpd logged.
    assert run["requests"] == srv["requests"], (run, srv)
    if run["status"] is not None:
        assert srv["statuses"][-1] == run["status"]


@pytest.mark.parametrize("client,policy", RUNS, ids=IDS)
def test_stall_length(matrix, client, policy):
    """A stall lasts the client's own wait for a 100; anything else is
    immediate.  Thresholds are loose: the point is 0 vs. a timeout."""
    run = measured(matrix, client, policy)
    if run["waited"]:
        assert client.wait is not None
        assert client.wait * 0.9 <= run["stall"] <= client.wait + 2.0, run
    else:
        assert run["stall"] < 0.5, run


@pytest.mark.parametrize("key", ["curl", "php"])
def test_libcurl_adds_expect_only_above_1mib(matrix, key, tmp_path):
    """The "over 1 MB" in docs/CLIENTS.md: 1 MiB goes without Expect,
    one byte more with it."""
    client = cm.BY_KEY[key]
    if matrix["missing"][client.program]:
        pytest.skip(matrix["missing"][client.program])
    h = matrix["httpd"]
    for size, want in ((1024 * 1024, "-"), (1024 * 1024 + 1, "100-continue")):
        payload = tmp_path / f"{size}.bin"
        payload.write_bytes(os.urandom(size))
        run_tag = f"threshold-{key}-{size}"
        run = cm.run_client(client, f"http://127.0.0.1:{h.port}/echo?run={run_tag}",
                            "continue.test", str(payload), size=size)
        assert run["status"] == 200 and run["echo_ok"], run
        deadline = time.time() + 5
        while run_tag not in server_requests(h):
            assert time.time() < deadline, f"httpd logged no {run_tag}"
            time.sleep(0.05)
        lines = server_requests(h)[run_tag]
        assert [ln["expect"] for ln in lines] == [want], (size, lines)


def test_policy_counters(matrix):
    """expectctl stats counted, per vhost, exactly the requests that the
    access log shows with Expect, and the decision its policy makes."""
    results = matrix["results"]
    if not results:
        pytest.skip("no client available")
    before, after = matrix["stats"]
    for policy in cm.POLICIES:
        runs = [r for (k, p), r in results.items() if p == policy]
        with_expect = sum(r["server"]["with_expect"] for r in runs)
        r417 = sum(r["server"]["statuses"].count(417) for r in runs)
        d = {k: after[policy][k] - before[policy][k]
             for k in ("expect", "continued", "rejected", "ignored")}
        d417 = after[policy]["r417"]["mod_expect"] - before[policy]["r417"]["mod_expect"]
        decided = {"continue": "continued", "reject": "rejected",
                   "ignore": "ignored"}[policy]
        assert with_expect > 0
        assert d["expect"] == with_expect, (policy, d)
        assert d[decided] == with_expect, (policy, d)
        assert sum(d[k] for k in ("continued", "rejected", "ignored")) == with_expect
        assert d417 == r417 == (with_expect if policy == "reject" else 0), (policy, d417)


def test_clients_md(matrix, request):
    """docs/CLIENTS.md is what this run measured.  Versions are taken from
    the committed file, so a newer client with the same behaviour passes."""
    missing = {p: why for p, why in matrix["missing"].items() if why}
    rendered = cm.render_markdown(matrix["results"], matrix["versions"])
    if WRITE_DOC:
        assert not missing, f"cannot write docs/CLIENTS.md without: {missing}"
        # Even when run alone (-k): write only what the tests accept.
        assert request.session.testsfailed == 0, \
            "not writing docs/CLIENTS.md: other tests failed"
        wrong = [k for k, run in matrix["results"].items()
                 if observed(run) != expected(cm.BY_KEY[k[0]], k[1])]
        assert not wrong, f"not writing docs/CLIENTS.md: unexpected {wrong}"
        with open(DOC, "w") as f:
            f.write(rendered)
        return
    if missing:
        pytest.skip(f"clients missing: {missing}")
    assert os.path.exists(DOC), "docs/CLIENTS.md missing: run make clients-doc"
    with open(DOC) as f:
        committed = f.read()
    vers = cm.committed_versions(committed)
    assert vers, "docs/CLIENTS.md has no measured-with line: run make clients-doc"
    assert cm.render_markdown(matrix["results"], vers) == committed, (
        "docs/CLIENTS.md does not match the behaviour measured now "
        f"(measured with {vers}, here {matrix['versions']}): run make clients-doc")
