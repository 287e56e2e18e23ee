# SPDX-License-Identifier: Apache-2.0
"""Real clients against ExpectPolicy continue, reject and ignore.

curl, PHP's cURL extension, Node, Go, Java's HttpClient and
HttpURLConnection, Python's http.client and requests, botocore, Ruby's
Net::HTTP, git over smart HTTP, libwww-perl and wget each upload 2 MiB to
one event-MPM httpd with a virtual host per policy, through a counting relay
(tests/clients/wire.py).  For every client and policy the tests record
whether httpd saw Expect and sent a 100, how long the client stalled before
the body, what the application got, whether it retried without Expect after
a 417 and how much body it pushed with the 417'd request.  They check those
facts against what each client is known to do (client_matrix.CLIENTS) and
render docs/CLIENTS.md and the client table of docs/TROUBLESHOOTING.md from
them: the last tests fail when the committed files disagree with this run.
WRITE_CLIENTS_MD=1 (make clients-doc) rewrites them instead, but only when
every other test here passed.  CLIENTS_DUMP=FILE writes every measurement
to FILE as JSON.
"""
import concurrent.futures
import json
import os
import re
import sys
import time

import pytest

from httpd_harness import Httpd, free_port, serving

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "clients"))
import client_matrix as cm  # noqa: E402
import wire  # noqa: E402

DOCS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "docs"))
DOC = os.path.join(DOCS, "CLIENTS.md")
TROUBLESHOOTING = os.path.join(DOCS, "TROUBLESHOOTING.md")
WRITE_DOC = os.environ.get("WRITE_CLIENTS_MD") == "1"
# Clients run this many at a time: the machine has two cores, and most of
# a run is spent waiting.
WORKERS = 4

# What every vhost serves: /echo (mod_reflector), a PUT endpoint for
# botocore, and git's smart HTTP.  git-receive-pack needs Digest auth; under
# /git/ the 401 also offers Negotiate (and Basic, which makes libcurl wait
# for the 401 instead of sending Digest at once), which is what makes git
# send Expect; under /git-nobasic/ it offers Negotiate and Digest alone.  Timeout is above the clients' hang bound, so a client that
# hangs is ended by the test, not by httpd.
VHOST_BODY = """
    Timeout @TIMEOUT@
    <Location /echo>
        SetHandler reflector
    </Location>
    LuaMapHandler "^/bucket/" @ROOT@/s3_put.lua
    SetEnv GIT_PROJECT_ROOT @ROOT@/git
    SetEnv GIT_HTTP_EXPORT_ALL 1
    ScriptAliasMatch "^/(git|git-digest|git-nobasic)/(.*)$" "@GIT_HTTP_BACKEND@/$2"
    <LocationMatch "^/(git|git-digest|git-nobasic)/.*/git-receive-pack$">
        AuthType Digest
        AuthName @REALM@
        AuthDigestProvider file
        AuthUserFile @ROOT@/git.digest
        Require valid-user
    </LocationMatch>
    <LocationMatch "^/(git|git-nobasic)/.*/git-receive-pack$">
        Header always add WWW-Authenticate "Negotiate" "expr=%{REQUEST_STATUS} == 401"
    </LocationMatch>
    <LocationMatch "^/git/.*/git-receive-pack$">
        Header always add WWW-Authenticate "Basic realm=\\"@REALM@\\"" "expr=%{REQUEST_STATUS} == 401"
    </LocationMatch>
"""
MODULES = ("lua", "cgid", "env", "headers", "auth_digest", "authn_core",
           "authn_file", "authz_user")

# One access log line per request, with the User-Agent that the client
# table resolves (test_table_facts_hold_for_the_installed_version).
LOG_LINE = re.compile(r'^(?P<vhost>\S+) "(?P<method>[A-Z]+) (?P<uri>\S+) '
                      r'HTTP/[\d.]+" (?P<status>\d{3}) "(?P<expect>[^"]*)" '
                      r'(?P<bytes_in>\d+) "(?P<ua>[^"]*)"$', re.M)

RUNS = [(c, p) for c in cm.CLIENTS for p in cm.POLICIES]
IDS = [f"{c.key}-{p}" for c, p in RUNS]


def tag(client, policy):
    return f"{client.key}.{policy}"


def config(ports):
    conf = ['LogFormat "%v \\"%r\\" %>s \\"%{Expect}i\\" %I \\"%{User-Agent}i\\"" clients',
            "CustomLog @ROOT@/logs/clients_log clients",
            "ScriptSock @ROOT@/logs/cgid.sock"]
    body = (VHOST_BODY.replace("@TIMEOUT@", str(int(cm.HANG_AFTER * 2)))
            .replace("@GIT_HTTP_BACKEND@", cm.GIT_HTTP_BACKEND)
            .replace("@REALM@", cm.GIT_REALM))
    for policy in cm.POLICIES:
        conf += [f"Listen 127.0.0.1:{ports[policy]}",
                 f"<VirtualHost 127.0.0.1:{ports[policy]}>",
                 f"    ServerName {policy}.test",
                 f"    ExpectPolicy {policy}",
                 body, "</VirtualHost>"]
    return "\n".join(conf) + "\n"


def server_requests(h):
    """The requests httpd logged, by run tag, in the order they ended."""
    try:
        with open(os.path.join(h.logs, "clients_log"), errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    by_tag = {}
    for m in LOG_LINE.finditer(text):
        d = m.groupdict()
        d["status"] = int(d["status"])
        d["bytes_in"] = int(d["bytes_in"])
        t = cm.run_tag(d["uri"])
        if t:
            by_tag.setdefault(t, []).append(d)
    return by_tag


def vhost_stats(h, policy):
    name = f"{policy}.test:{h.client_ports[policy]}"
    for v in h.ctl_json("stats")["vhosts"]:
        if v["name"] == name:
            return v
    raise KeyError(name)


def wire_requests(relay, run):
    reqs = relay.requests_for(lambda uri: cm.run_tag(uri) == run)
    return [dict(method=r.method, uri=r.uri, expect=r.expect, interim=list(r.interim),
                 final=r.final, stall=r.stall(), stall_end_at=r.stall_end_at(),
                 body_bytes=r.body_bytes,
                 body_bytes_before_final=r.body_bytes_before_final,
                 body_complete=r.body_complete, closed=r.closed_at is not None)
            for r in reqs]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """Run every available client against every policy, once."""
    scratch = tmp_path_factory.mktemp("clients")
    build = scratch / "build"
    build.mkdir()
    payload = scratch / "2mib.bin"
    payload_bytes = os.urandom(cm.SIZE)
    payload.write_bytes(payload_bytes)
    missing = {prog: cm.missing_program(prog) for prog in cm.PROGRAMS}
    for prog, why in cm.prepare(str(build)).items():
        missing[prog] = why
    ctx = {"payload": str(payload), "payload_bytes": payload_bytes, "size": cm.SIZE,
           "build": str(build), "scratch": str(scratch)}
    if not missing["git"]:
        ctx["git_work"] = str(scratch / "git-work")
        ctx["git_commit"] = cm.prepare_git(ctx["git_work"])

    ports = {p: free_port() for p in cm.POLICIES}
    h = Httpd(config(ports), mpm="event", modules=MODULES, name="clients")
    h.client_ports = ports
    with open(os.path.join(cm.HERE, "s3_put.lua")) as src, \
            open(os.path.join(h.root, "s3_put.lua"), "w") as dst:
        dst.write(src.read())
    with open(os.path.join(h.root, "git.digest"), "w") as f:
        f.write(cm.digest_user_line())
    ctx["git_root"] = os.path.join(h.root, "git")
    os.makedirs(ctx["git_root"])
    os.chmod(ctx["git_root"], 0o755)

    todo = [(c, p) for c, p in RUNS if not missing[c.program]]
    # The slow ones first: waits for a 100 that never comes, and Java.
    todo.sort(key=lambda cp: (cp[0].program != "java", cp[1] != "ignore"))
    relays = {p: wire.Relay(ports[p]) for p in cm.POLICIES}
    try:
        with serving(h):
            for c, p in todo:
                if c.kind == "git":
                    cm.make_bare_repo(ctx["git_root"], tag(c, p))
            before = {p: vhost_stats(h, p) for p in cm.POLICIES}
            started = time.monotonic()

            def one(cp):
                c, p = cp
                return cp, cm.run_client(c, ctx, cm.url_for(c, relays[p].port, tag(c, p)))

            results = {}
            with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
                for (c, p), run in pool.map(one, todo):
                    results[(c.key, p)] = run
            elapsed = time.monotonic() - started
            # Requests are logged when they end, and the relay sees a
            # connection end when both sides have closed.
            deadline = time.time() + 10
            while time.time() < deadline:
                seen = server_requests(h)
                done = all(tag(cm.BY_KEY[k], p) in seen and
                           all(r["closed"] for r in wire_requests(relays[p], tag(cm.BY_KEY[k], p)))
                           for k, p in results)
                if done:
                    break
                time.sleep(0.1)
            time.sleep(0.3)
            seen = server_requests(h)
            for (key, policy), run in results.items():
                t = tag(cm.BY_KEY[key], policy)
                lines = seen.get(t, [])
                run["log"] = lines
                run["wire"] = wire_requests(relays[policy], t)
                run["server"] = {
                    "requests": len(lines),
                    "with_expect": sum(ln["expect"].lower() == "100-continue"
                                       for ln in lines),
                    "statuses": [ln["status"] for ln in lines],
                    "vhosts": sorted({ln["vhost"] for ln in lines}),
                }
            after = {p: vhost_stats(h, p) for p in cm.POLICIES}
            if os.environ.get("CLIENTS_DUMP"):
                # Every measurement, for a look at what a row was made of.
                with open(os.environ["CLIENTS_DUMP"], "w") as f:
                    json.dump({f"{k}.{p}": run for (k, p), run in results.items()},
                              f, indent=1, sort_keys=True, default=str)
            yield {"results": results, "missing": missing, "httpd": h, "ctx": ctx,
                   "relays": relays, "stats": (before, after), "elapsed": elapsed,
                   "versions": cm.versions(missing)}
    finally:
        for r in relays.values():
            r.stop()


def skip_missing(why):
    """Skip a test whose client is not installed: only build/install-deps.sh
    --clients brings most of them.  CI installs them all and sets
    EXPECT_REQUIRE_CLIENTS=1, where a missing client is a failure."""
    why = f"{why}: build/install-deps.sh --clients"
    if os.environ.get("EXPECT_REQUIRE_CLIENTS") == "1":
        pytest.fail(f"EXPECT_REQUIRE_CLIENTS=1 but {why}")
    pytest.skip(why)


def measured(matrix, client, policy):
    run = matrix["results"].get((client.key, policy))
    if run is None:
        skip_missing(matrix["missing"][client.program])
    return run


def test_run_time(matrix):
    """The whole matrix stays within a CI budget (printed with -s)."""
    if not matrix["results"]:
        skip_missing("no client available")
    print(f"\n{len(matrix['results'])} uploads in {matrix['elapsed']:.1f} s")
    assert matrix["elapsed"] < 180


@pytest.mark.parametrize("client,policy", RUNS, ids=IDS)
def test_server_saw_the_expectation(matrix, client, policy):
    """Who adds Expect, checked where it counts: httpd."""
    run = measured(matrix, client, policy)
    srv = run["server"]
    assert srv["requests"] >= 1, f"httpd logged no request for {client.key}"
    assert srv["vhosts"] == [f"{policy}.test"], srv
    assert bool(srv["with_expect"]) == client.sends_expect, run["log"]
    # The relay saw the same header on the way in.
    req = cm.primary_request(run["wire"])
    assert req is not None, run["wire"]
    assert bool(req["expect"]) == client.sends_expect, run["wire"]
    # And where the client tells, its own trace agrees.
    view = run.get("view", {})
    if "requests_with_expect" in view:
        assert view["requests_with_expect"] == srv["with_expect"], (view, srv)


@pytest.mark.parametrize("client,policy", RUNS, ids=IDS)
def test_client_behaviour(matrix, client, policy):
    run = measured(matrix, client, policy)
    obs = cm.observe(client, run)
    assert cm.matches(client, policy, obs, run), (obs, cm.expected(client, policy, run), run)
    # The error the application sees is the documented one, and a client
    # without a documented error has none: a 417 is no error to curl,
    # curl_exec(), Node, Go, requests, Ruby or LWP.
    if policy in client.errors and not run["hung"]:
        assert run["error"] and re.search(client.errors[policy][0], run["error"]), run
    else:
        assert run["error"] is None, run
    view = run.get("view", {})
    if "got_100" in view:
        assert view["got_100"] == obs["got_100"], (view, obs)
    if "waited" in view:
        assert view["waited"] == (obs["stall"] == "wait"), (view, obs)
    if "requests" in view:
        assert view["requests"] == run["server"]["requests"], (view, run["server"])
    if run["status"] is not None and client.kind != "git":
        assert run["server"]["statuses"][-1] == run["status"], run


TABLE_RUNS = [c for c in cm.CLIENTS if c.table]


@pytest.mark.parametrize("client", TABLE_RUNS, ids=[c.key for c in TABLE_RUNS])
def test_table_facts_hold_for_the_installed_version(matrix, client):
    """The client table's facts (expectctl clients; mod_expect/expect_clients.c)
    against what this client did on a 417, for the version installed here:
    the entry its real User-Agent, as httpd logged it, resolves to, at that
    version.  A client whose behaviour changed fails here, naming the entry
    and the version to update."""
    run = measured(matrix, client, "reject")
    obs = cm.observe(client, run)
    ua = cm.logged_user_agent(run)
    entry, facts = cm.version_facts(client, run)
    assert entry is not None and entry["key"] == client.table, (
        f"User-Agent {ua!r} resolves to {entry and entry['key']}, not to the entry "
        f"{client.table} that {client.key} stands for")
    if ua is None:
        # No User-Agent: the entry says so (never matched, or matched only
        # when the application sends one).
        assert "no User-Agent" in entry["user_agent"] + entry["sends_expect"], (
            client.table, entry)
        facts = entry
    assert facts.get("verified", True), (
        f"client table entry {client.table}: version {entry.get('version')} ({ua}) is "
        "not verified: add its release line to mod_expect/expect_clients.c")
    pushed = cm._declared(client, "reject", obs, "pushed") if obs["pushed"] else ()
    pushed = pushed if isinstance(pushed, tuple) else (pushed,)
    seen = {"hangs_on_417": obs["outcome"] == "hangs",
            "loses_upload_on_417": obs["outcome"] != "ok" and not obs["retried"],
            # a race is judged by the range the client declares
            "sends_body_before_417": "all" in pushed and "none" not in pushed}
    said = {k: facts[k] for k in seen}
    version = entry.get("version") or ua or "(no User-Agent)"
    assert said == seen, (
        f"client table entry {client.table} says {said} for version {version}, but "
        f"{client.key} did {seen} under reject: update the entry (or its version "
        "ranges) in mod_expect/expect_clients.c")
    # Where the client reports an error, the table words it as it reads.
    if "reject" in client.errors and run["error"]:
        message = run["error"].split(": ", 1)[1] if run["error"].startswith(
            "ClientError: ") else None
        if message:
            assert message in facts["on_417"], (client.table, message, facts["on_417"])


@pytest.mark.parametrize("key", ["curl", "php"])
def test_libcurl_adds_expect_only_above_1mib(matrix, key, tmp_path):
    """The "over 1 MB" in docs/CLIENTS.md: 1 MiB goes without Expect,
    one byte more with it."""
    client = cm.BY_KEY[key]
    if matrix["missing"][client.program]:
        skip_missing(matrix["missing"][client.program])
    h = matrix["httpd"]
    relay = matrix["relays"]["continue"]
    for size, want in ((1024 * 1024, "-"), (1024 * 1024 + 1, "100-continue")):
        payload = tmp_path / f"{size}.bin"
        payload.write_bytes(os.urandom(size))
        run_tag = f"threshold-{key}-{size}"
        ctx = dict(matrix["ctx"], payload=str(payload), payload_bytes=payload.read_bytes(),
                   size=size)
        run = cm.run_client(client, ctx, f"http://127.0.0.1:{relay.port}/echo?run={run_tag}")
        assert run["status"] == 200 and run["echo_ok"], run
        deadline = time.time() + 5
        while run_tag not in server_requests(h):
            assert time.time() < deadline, f"httpd logged no {run_tag}"
            time.sleep(0.05)
        lines = server_requests(h)[run_tag]
        assert [ln["expect"] for ln in lines] == [want], (size, lines)


def test_logio_misses_the_pushed_body(matrix):
    """What docs/CLIENTS.md says of %I: for a request answered 417 from its
    head, httpd counts the head, however much body the client pushed."""
    # Only some clients push their body before the 417; without one of
    # them there is nothing to show (curl, PHP and Node wait for the 100).
    pushers = [c for c in cm.CLIENTS
               if c.behaviour.get("reject", {}).get("pushed") == "all"]
    if not any((c.key, "reject") in matrix["results"] for c in pushers):
        skip_missing("no client that pushes its body before the 417 is installed ("
                     + "; ".join(sorted({matrix["missing"][c.program] for c in pushers
                                         if matrix["missing"][c.program]})) + ")")
    pushed = 0
    for (key, policy), run in matrix["results"].items():
        req = cm.primary_request(run["wire"])
        if policy != "reject" or not req or req["final"] != 417:
            continue
        line = [ln for ln in run["log"] if ln["status"] == 417][0]
        assert line["bytes_in"] < 64 * 1024, (key, line)
        if req["body_complete"]:
            pushed += 1
            assert req["body_bytes"] >= cm.SIZE, (key, req)
    assert pushed > 0, "no client pushed its body before the 417"


def test_policy_counters(matrix):
    """expectctl stats counted, per vhost, exactly the requests that the
    access log shows with Expect, and the decision its policy makes."""
    results = matrix["results"]
    if not results:
        skip_missing("no client available")
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


def _write_allowed(matrix, request):
    missing = {p: why for p, why in matrix["missing"].items() if why}
    assert not missing, f"cannot write the docs without: {missing}"
    # Even when run alone (-k): write only what the tests accept.
    assert request.session.testsfailed == 0, "not writing the docs: other tests failed"
    wrong = [k for k, run in matrix["results"].items()
             if not cm.matches(cm.BY_KEY[k[0]], k[1], cm.observe(cm.BY_KEY[k[0]], run), run)]
    assert not wrong, f"not writing the docs: unexpected {wrong}"


def test_clients_md(matrix, request):
    """docs/CLIENTS.md is what this run measured.  Versions are taken from
    the committed file, so a newer client with the same behaviour passes."""
    missing = {p: why for p, why in matrix["missing"].items() if why}
    if WRITE_DOC:
        _write_allowed(matrix, request)
        with open(DOC, "w") as f:
            f.write(cm.render_markdown(matrix["results"], matrix["versions"]))
        return
    if missing:
        skip_missing(f"clients missing: {missing}")
    assert os.path.exists(DOC), "docs/CLIENTS.md missing: run make clients-doc"
    with open(DOC) as f:
        committed = f.read()
    vers = cm.committed_versions(committed)
    assert vers, "docs/CLIENTS.md has no measured-with line: run make clients-doc"
    assert cm.render_markdown(matrix["results"], vers) == committed, (
        "docs/CLIENTS.md does not match the behaviour measured now "
        f"(measured with {vers}, here {matrix['versions']}): run make clients-doc")


def test_troubleshooting_client_table(matrix, request):
    """The client table in docs/TROUBLESHOOTING.md is this run's, too."""
    missing = {p: why for p, why in matrix["missing"].items() if why}
    with open(TROUBLESHOOTING) as f:
        text = f.read()
    committed = cm.committed_summary(text)
    assert committed, "docs/TROUBLESHOOTING.md lost its clients-summary block"
    rendered = cm.render_summary(matrix["results"])
    if WRITE_DOC:
        _write_allowed(matrix, request)
        with open(TROUBLESHOOTING, "w") as f:
            f.write(text.replace(committed, rendered))
        return
    if missing:
        skip_missing(f"clients missing: {missing}")
    assert rendered == committed, (
        "the client table of docs/TROUBLESHOOTING.md does not match this run: "
        "run make clients-doc")
