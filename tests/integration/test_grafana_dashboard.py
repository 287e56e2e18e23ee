# SPDX-License-Identifier: Apache-2.0
"""The Grafana dashboard (docs/grafana/mod_expect.json), checked against a
real Prometheus.

Debian's prometheus (2.42 on Debian 12) runs on loopback with its own
storage directory and scrapes two private httpds every second.  Traffic on
both makes what every panel shows: 417s of both producers (mod_expect's
reject, core's unknown expectation), retried and abandoned uploads (a short
ExpectRetryWindow), pending ones, continue/ignore/reject decisions, an
override with `expectctl set`, unknown expectations dropped (ExpectUnknown
ignore).  Then every target of every panel is evaluated through
Prometheus's HTTP API with the dashboard's variables substituted as Grafana
does: $instance and $vhost as All (`.*`, the variables' allValue), as the
regex alternation of every value, and as one instance with its vhosts;
$__rate_interval, $__interval and $__range with the values Grafana would
give for the test's time range.  A time-series panel is a query_range, a
stat panel's instant target a query.  Each must succeed, return data for
the selected instances and vhosts only, and show the traffic.  The
variables' own queries (label_values) are run as Grafana runs them, through
/api/v1/label/NAME/values and /api/v1/series.  Run under the three MPMs.

The dashboard's structure is checked without servers: uid, title, schema
version (Grafana 10 and 11), the variables, every panel and target on the
data-source variable and no data-source uid of its own.

docs/MANY-SERVERS.md's Prometheus configuration (every ```yaml block) passes
`promtool check config`, with the alert rules it loads.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from httpd_harness import MPMS, Httpd, expectctl, free_port, serving
from rawhttp import Conn
from testlib import upload, vhost, wait_for

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(TOP, "docs", "grafana", "mod_expect.json")
RULES = os.path.join(TOP, "docs", "prometheus", "mod_expect-alerts.yml")
MANY = os.path.join(TOP, "docs", "MANY-SERVERS.md")
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool")

REJ, CONT, IGN, SET = "rej.test", "cont.test", "ign.test", "set.test"
WINDOW = 4   # ExpectRetryWindow: long enough for scrapes to see pending 417s
SCRAPE = 1   # seconds between scrapes

CONF = f"""
ExpectRetryWindow {WINDOW}
<Location /expect-metrics>
    SetHandler expect-metrics
</Location>
""" + (vhost(REJ, "ExpectPolicy reject") + vhost(CONT, "ExpectPolicy continue")
       + vhost(IGN, "ExpectPolicy ignore", "ExpectUnknown ignore") + vhost(SET))

needs_prometheus = pytest.mark.skipif(
    not os.access(PROMETHEUS, os.X_OK),
    reason="Debian's prometheus not installed (apt-get install prometheus)")


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def targets(dash):
    """(panel, target) for every target of every panel."""
    return [(p, t) for p in dash["panels"] for t in p.get("targets", [])]


def variable(dash, name):
    return next(v for v in dash["templating"]["list"] if v["name"] == name)


# ---- the dashboard's structure ----------------------------------------------

def test_dashboard_structure():
    dash = load_dashboard()
    assert dash["uid"] == "mod-expect" and dash["title"] == "mod_expect"
    # Grafana's classic JSON model, the schema version docs/MANY-SERVERS.md
    # names (no Grafana runs here: Debian 12 packages none).
    assert dash["schemaVersion"] == 39, dash["schemaVersion"]
    with open(MANY) as f:
        assert "schemaVersion 39" in " ".join(f.read().split())
    assert "__inputs" not in dash and dash.get("id") is None
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names == ["datasource", "instance", "vhost"], names
    ds = variable(dash, "datasource")
    assert ds["type"] == "datasource" and ds["query"] == "prometheus", ds
    for name, label in (("instance", "instance"), ("vhost", "vhost")):
        v = variable(dash, name)
        assert v["type"] == "query" and v["multi"] and v["includeAll"], v
        assert v["allValue"] == ".*", v
        assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, v
        assert re.fullmatch(r"label_values\(.+, %s\)" % label, v["query"]["query"]), v
        assert v["definition"] == v["query"]["query"], v
    # The vhost list follows the instances selected.
    assert '$instance' in variable(dash, "vhost")["query"]["query"]

    ids, cells = set(), set()
    for p in dash["panels"]:
        assert p["type"] in ("timeseries", "stat"), p["title"]
        assert p["id"] not in ids, p["title"]
        ids.add(p["id"])
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, t
            assert t["expr"].strip(), p["title"]
            # Every target follows the instance selection, and every one of
            # a per-vhost metric the vhost selection.
            assert 'instance=~"$instance"' in t["expr"], t["expr"]
            for m in re.findall(r"\b(mod_expect_\w+)\{([^}]*)\}", t["expr"]):
                if m[0] != "mod_expect_retry_evicted_total":
                    assert 'vhost=~"$vhost"' in m[1], t["expr"]
    # No data-source uid but the variable (and Grafana's built-in
    # annotation source): the dashboard works on any Prometheus.
    def sources(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "datasource":
                    yield json.dumps(v, sort_keys=True)
                yield from sources(v)
        elif isinstance(node, list):
            for v in node:
                yield from sources(v)
    assert set(sources(dash)) == {
        json.dumps({"type": "prometheus", "uid": "${datasource}"}, sort_keys=True),
        json.dumps({"type": "grafana", "uid": "-- Grafana --"}, sort_keys=True)}, \
        set(sources(dash))
    assert set(PANELS) == {p["title"] for p in dash["panels"]}, \
        "every panel has its expectation below, and no other"


def test_dashboard_names_only_metrics_the_module_exposes():
    """A renamed metric would leave a panel that stays empty: every
    mod_expect_ name of the dashboard is a family expect_prom.c writes."""
    with open(os.path.join(TOP, "mod_expect", "expect_prom.c")) as f:
        exposed = set(re.findall(r'"(mod_expect_[a-z0-9_]+)"', f.read()))
    exposed |= {"mod_expect_retry_evicted_total"}
    with open(os.path.join(TOP, "mod_expect", "expect_prom.c")) as f:
        assert "mod_expect_retry_evicted_total" in f.read()
    used = set(re.findall(r"\bmod_expect_[a-z0-9_]+", json.dumps(load_dashboard())))
    assert used and used <= exposed, used - exposed


# ---- MANY-SERVERS.md's Prometheus configuration ---------------------------

@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) not installed")
def test_many_servers_scrape_config_is_valid(tmp_path):
    """Each ```yaml block of docs/MANY-SERVERS.md is a Prometheus
    configuration; the alert rules it loads (by file name) are the shipped
    ones."""
    with open(MANY) as f:
        blocks = re.findall(r"```yaml\n(.*?)```", f.read(), re.S)
    assert blocks, "no yaml block in docs/MANY-SERVERS.md"
    for i, block in enumerate(blocks):
        text = block
        for path in re.findall(r"^\s*-\s*(\S*mod_expect-alerts\.yml)\s*$", block, re.M):
            text = text.replace(path, RULES)
        conf = tmp_path / f"prometheus-{i}.yml"
        conf.write_text(text)
        res = subprocess.run([PROMTOOL, "check", "config", str(conf)], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, block + res.stdout + res.stderr
        out = res.stdout + res.stderr
        assert "SUCCESS" in out, out
        if "rule_files" in block:
            assert "4 rules found" in out, out


def test_a_vhost_location_replaces_the_shipped_access_rule():
    """docs/MANY-SERVERS.md: a virtual host's own <Location /expect-metrics>
    (the doc's, as written) replaces the access rule of the package's
    conf-available/expect-metrics.conf (Require local) there, and only
    there.  From loopback: the doc's vhost, which lets only its Prometheus
    addresses in, refuses; another vhost keeps the shipped rule and
    answers.  (Configuration merging, the same under every MPM.)"""
    with open(MANY) as f:
        blocks = [b for b in re.findall(r"```apache\n(.*?)```", f.read(), re.S)
                  if "expect-metrics" in b]
    assert len(blocks) == 1 and "Require ip" in blocks[0], blocks
    with open(os.path.join(TOP, "debian", "expect-metrics.conf")) as f:
        shipped = f.read()
    assert "Require local" in shipped
    body = (shipped + vhost("other.example", echo=False)
            + blocks[0].replace("*:80", "127.0.0.1:@PORT@"))
    h = Httpd(body, modules=("authz_host",), name="grafana-access")
    with serving(h, allowed_errors=(r"AH01630",)):
        def get(host):
            c = Conn(h.port)
            try:
                c.send(f"GET /expect-metrics HTTP/1.1\r\nHost: {host}\r\n"
                       "Connection: close\r\n\r\n")
                return c.read_response()[1]
            finally:
                c.close()
        assert get("web1.example").status == 403
        other = get("other.example")
        assert other.status == 200 and b"mod_expect_417_responses_total" in other.body


# ---- a live Prometheus scraping two servers --------------------------------

class Prometheus:
    """Debian's prometheus on 127.0.0.1, its own storage and configuration
    in a temporary directory."""

    def __init__(self, targets):
        self.dir = tempfile.mkdtemp(prefix="mod_expect-prometheus-")
        self.port = free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""global:
  scrape_interval: {SCRAPE}s
  scrape_timeout: {SCRAPE}s
scrape_configs:
  - job_name: mod_expect
    metrics_path: /expect-metrics
    static_configs:
      - targets: {json.dumps(targets)}
""")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={conf}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.ready, timeout=30, what="prometheus ready", interval=0.1)

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited {self.proc.returncode}: {self.read_log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def read_log(self):
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()

    def api(self, path, **params):
        """GET /api/v1/PATH; the decoded answer, whatever its status."""
        items = []
        for k, v in params.items():
            for x in (v if isinstance(v, list) else [v]):
                items.append((k.replace("match", "match[]"), x))
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(items)
        try:
            with urllib.request.urlopen(url, timeout=20) as f:
                return json.load(f)
        except urllib.error.HTTPError as e:
            return json.load(e)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def send(h, host, path, ua, expect="100-continue", body=b"0123456789", method="POST"):
    """One request on a new connection, as a patient client: the body goes
    after a 100, or after 0.3 s of nothing; never after a final status."""
    c = Conn(h.port)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
        if body:
            head += f"Content-Length: {len(body)}\r\n"
        if expect:
            head += f"Expect: {expect}\r\n"
        c.send(head + "Connection: close\r\n\r\n")
        if expect:
            what, final = c.wait_interim_or_final(0.3)
            if final is not None:
                return final[1].status
        c.send(body)
        return c.read_response(timeout=5)[1].status
    finally:
        c.close()


def traffic(h):
    """What every panel shows, on one server."""
    # mod_expect's 417s: two uploads come back without Expect (retried),
    # two never do (pending for the window, then abandoned).
    for i in range(2):
        assert send(h, REJ, f"/echo/retried-{i}", f"RetryClient/{i}") == 417
    # A 417 is remembered once its response is written (a real client is a
    # round trip away): resend once both are.
    wait_for(lambda: h.vhost_stats(REJ)["retry"]["pending"] == 2, timeout=10,
             what="two pending 417s", interval=0.05)
    for i in range(2):
        assert send(h, REJ, f"/echo/retried-{i}", f"RetryClient/{i}", expect=None) == 200
    wait_for(lambda: h.vhost_stats(REJ)["retry"]["retried"] == 2, timeout=10,
             what="two retried 417s", interval=0.05)
    for i in range(2):
        assert send(h, REJ, f"/echo/abandoned-{i}", f"GoneClient/{i}") == 417
    # core's 417: an expectation httpd does not know (ExpectUnknown reject).
    assert send(h, CONT, "/index.html", "Odd/1", expect="x-custom", body=b"",
                method="GET") == 417
    # continue, and ignore.
    for _ in range(2):
        assert upload(h.port, CONT, wait=0.3) == 200
    assert upload(h.port, IGN, wait=0.3) == 200
    # ExpectUnknown ignore drops an unknown expectation (and keeps the
    # 100-continue beside it, which ExpectPolicy ignore then judges).
    assert send(h, IGN, "/echo", "Proxy/1", expect="100-continue, x-proxy") == 200
    assert send(h, IGN, "/index.html", "Odd/1", expect="x-custom", body=b"",
                method="GET") == 200
    # An override in force.
    res = expectctl("set", f"{SET}:{h.port}", "reject", shm=h.shm)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.fixture(scope="module", params=MPMS)
def scraped(request):
    mpm = request.param
    h1 = Httpd(CONF, mpm=mpm, name=f"grafana1-{mpm}")
    h2 = Httpd(CONF, mpm=mpm, name=f"grafana2-{mpm}")
    with serving(h1), serving(h2):
        insts = [f"127.0.0.1:{h.port}" for h in (h1, h2)]
        prom = Prometheus(insts)
        try:
            # Two scrapes of each before any traffic: a counter's first
            # sample is its zero, so rate() and increase() see the traffic.
            wait_for(lambda: len([r for r in prom.api(
                "query", query='count_over_time(up{job="mod_expect"}[1m]) >= 2'
            )["data"]["result"]]) == 2, timeout=30, what="two scrapes of each server")
            start = time.time()
            for h in (h1, h2):
                traffic(h)
            # Until Prometheus has every abandoned 417 and the overrides.
            wait_for(lambda: prom.api("query", query=(
                'sum(mod_expect_417_outcomes_total{outcome="abandoned"}) >= 4 and '
                'sum(mod_expect_policy_override) == 2'))["data"]["result"],
                timeout=WINDOW + 30, what="abandoned 417s and overrides scraped")
            time.sleep(2 * SCRAPE)
            yield dict(prom=prom, servers=(h1, h2), instances=insts, start=start,
                       end=time.time(), mpm=mpm)
        finally:
            prom.stop()


# ---- Grafana's variable substitution ---------------------------------------

def regex_escape(value):
    """A value in a PromQL regex matcher's string: regex-escaped, then the
    backslashes doubled for the string (as Grafana's Prometheus data source
    writes a multi-value variable's values)."""
    return re.sub(r"[\\$^*{}\[\]+?.()|]", lambda m: "\\\\" + m.group(0), value)


def multi_value(values):
    """A multi-value variable in a regex matcher: `.*` for All (the
    variable's allValue), the escaped value alone, or `(a|b)`."""
    if values == "All":
        return ".*"
    esc = [regex_escape(v) for v in values]
    return esc[0] if len(esc) == 1 else "(" + "|".join(esc) + ")"


def interpolate(expr, values, timing):
    def sub(m):
        name = m.group(1) or m.group(2)
        if name in timing:
            return timing[name]
        if name in values:
            return multi_value(values[name])
        raise AssertionError(f"the test does not know ${name} (in {expr})")
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, expr)


def timing_for(run):
    """Grafana's built-ins for a dashboard showing the test's time range:
    $__interval is the range over the panel's width in points (here the
    scrape interval, Grafana's minimum with the data source's scrape
    interval set to 1s), $__rate_interval max($__interval + scrape
    interval, 4 x scrape interval), $__range the range in whole seconds."""
    rng = int(run["end"] - run["start"]) + 10
    interval = SCRAPE
    rate = max(interval + SCRAPE, 4 * SCRAPE)
    return {"__interval": f"{interval}s", "__rate_interval": f"{rate}s",
            "__range": f"{rng}s", "__range_s": str(rng)}


def label_values(prom, query, start, end):
    """A label_values(SELECTOR, LABEL) variable, run the two ways Grafana
    runs it: the label values API with match[], and the series API."""
    m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
    assert m, query
    selector, label = m.groups()
    a = prom.api(f"label/{label}/values", match=selector, start=str(start), end=str(end))
    assert a["status"] == "success", a
    s = prom.api("series", match=selector, start=str(start), end=str(end))
    assert s["status"] == "success", s
    by_series = {x[label] for x in s["data"] if label in x}
    assert set(a["data"]) == by_series, (a["data"], by_series)
    return sorted(a["data"])


# What each panel must show once the traffic is scraped, per refId, for the
# selected servers: a list of label sets, each of which some series must
# carry with a value above zero ("{port}" is each selected server's port), or
# "present" (series for each selected instance, zero allowed), with why.
PANELS = {
    "Targets up": {"A": [{"instance": "{instance}"}]},
    "417s in range": {"A": [{}]},
    "Abandoned uploads in range": {"A": [{}]},
    "Overrides in force": {"A": [{}]},
    "417 responses by vhost and producer": {"A": [
        {"vhost": f"{REJ}:{{port}}", "producer": "mod_expect"},
        {"vhost": f"{CONT}:{{port}}", "producer": "core"}]},
    "417 outcomes: retried vs abandoned": {
        "A": [{"vhost": f"{REJ}:{{port}}", "outcome": "retried"},
              {"vhost": f"{REJ}:{{port}}", "outcome": "abandoned"}],
        # Evictions need a flood of 417s filling a bucket of ExpectRetrySlots:
        # no data above zero here by design, but a series for each server.
        "B": "present"},
    "Pending 417s": {"A": [{"vhost": f"{REJ}:{{port}}", "instance": "{instance}"}]},
    "Decisions": {"A": [{"vhost": f"{CONT}:{{port}}", "decision": "continue"},
                        {"vhost": f"{REJ}:{{port}}", "decision": "reject"},
                        {"vhost": f"{IGN}:{{port}}", "decision": "ignore"}]},
    "Overrides in force, with the policy they set": {"A": [
        {"vhost": f"{SET}:{{port}}", "policy": "reject", "instance": "{instance}"}]},
    "Unknown expectations dropped": {"A": [{"vhost": f"{IGN}:{{port}}"}]},
    "Scrape health": {"A": [{"instance": "{instance}"}], "B": [{"instance": "{instance}"}]},
}

# Stat values that are exact: the sum of a gauge, one per selected server.
EXACT = {"Overrides in force": 1}


def selections(run, prom):
    """(name, variable values, the selected servers) as a user picks them."""
    start, end = run["start"] - 60, run["end"]
    insts = label_values(prom, variable(load_dashboard(), "instance")["query"]["query"],
                         start, end)
    q = variable(load_dashboard(), "vhost")["query"]["query"]
    all_vhosts = label_values(prom, interpolate(q, {"instance": "All"}, {}), start, end)
    one = run["instances"][0]
    one_vhosts = label_values(prom, interpolate(q, {"instance": [one]}, {}), start, end)
    h1 = run["servers"][0]
    return [
        ("All", {"instance": "All", "vhost": "All"}, run["servers"]),
        ("every value", {"instance": insts, "vhost": all_vhosts}, run["servers"]),
        ("one server", {"instance": [one], "vhost": one_vhosts}, (h1,)),
        ("one server, its four vhosts", {
            "instance": [one], "vhost": [f"{n}:{h1.port}" for n in (REJ, CONT, IGN, SET)]},
         (h1,)),
    ]


@needs_prometheus
def test_variables_list_both_servers_and_their_vhosts(scraped):
    prom, run = scraped["prom"], scraped
    dash = load_dashboard()
    start, end = run["start"] - 60, run["end"]
    insts = label_values(prom, variable(dash, "instance")["query"]["query"], start, end)
    assert insts == sorted(run["instances"]), insts
    q = variable(dash, "vhost")["query"]["query"]
    ports = [h.port for h in run["servers"]]
    want = {f"{n}:{p}" for n in (REJ, CONT, IGN, SET) for p in ports}
    every = set(label_values(prom, interpolate(q, {"instance": "All"}, {}), start, end))
    assert want <= every, want - every
    assert every - want <= {"main"}, every - want
    listed = set(label_values(prom, interpolate(q, {"instance": insts}, {}), start, end))
    assert listed == every, (listed, every)
    one = set(label_values(prom, interpolate(q, {"instance": [run["instances"][0]]}, {}),
                           start, end))
    assert one == {f"{n}:{ports[0]}" for n in (REJ, CONT, IGN, SET)} | (every - want), one


def evaluate(prom, run, panel, target, values, timing):
    """The target's answer as Grafana asks for it: a query_range over the
    test's time range for a time series, an instant query at its end for an
    instant target.  [(labels, [values])]."""
    expr = interpolate(target["expr"], values, timing)
    if target.get("instant") and not target.get("range"):
        res = prom.api("query", query=expr, time=str(run["end"]))
    else:
        assert panel["type"] == "timeseries" or target.get("range"), panel["title"]
        res = prom.api("query_range", query=expr, start=str(run["start"] - 5),
                       end=str(run["end"]), step=timing["__interval"])
    assert res.get("status") == "success", f"{panel['title']} {target['refId']}: {expr}\n{res}"
    out = []
    for r in res["data"]["result"]:
        vals = [r["value"]] if "value" in r else r["values"]
        out.append((r["metric"], [float(v[1]) for v in vals]))
    return expr, out


@needs_prometheus
def test_every_panel_shows_the_traffic(scraped):
    prom, run = scraped["prom"], scraped
    dash = load_dashboard()
    timing = timing_for(run)
    problems = []
    for sel_name, values, servers in selections(run, prom):
        chosen = {f"127.0.0.1:{h.port}" for h in servers}
        ports = {str(h.port) for h in servers}
        for panel, target in targets(dash):
            where = f"[{run['mpm']}, {sel_name}] {panel['title']} {target['refId']}"
            expr, series = evaluate(prom, run, panel, target, values, timing)
            if not series:
                problems.append(f"{where}: no data: {expr}")
                continue
            # Only the selected servers and vhosts.
            for labels, _ in series:
                if "instance" in labels and labels["instance"] not in chosen:
                    problems.append(f"{where}: {labels} is not selected")
                if values["vhost"] != "All" and "vhost" in labels \
                        and labels["vhost"] not in values["vhost"]:
                    problems.append(f"{where}: {labels} is not selected")
                if "vhost" in labels and labels["vhost"] != "main" \
                        and labels["vhost"].rsplit(":", 1)[1] not in ports:
                    problems.append(f"{where}: {labels} belongs to another server")
            want = PANELS[panel["title"]][target["refId"]]
            if want == "present":
                got = {labels.get("instance") for labels, _ in series}
                if got != chosen:
                    problems.append(f"{where}: series for {got}, not {chosen}")
                continue
            for h in servers:
                for pattern in want:
                    need = {k: v.format(port=h.port, instance=f"127.0.0.1:{h.port}")
                            for k, v in pattern.items()}
                    if not any(all(labels.get(k) == v for k, v in need.items())
                               and max(vals) > 0 for labels, vals in series):
                        problems.append(f"{where}: nothing above 0 with {need}: {expr}\n"
                                        f"  got {series}")
            if panel["title"] in EXACT:
                total = sum(vals[-1] for _, vals in series)
                if total != EXACT[panel["title"]] * len(servers):
                    problems.append(f"{where}: {total}, not "
                                    f"{EXACT[panel['title']] * len(servers)}")
    assert not problems, "\n".join(problems)


@needs_prometheus
def test_a_server_that_stops_shows_down(scraped):
    """Scrape health shows a server that stops answering: its up drops to 0
    while the other stays 1 (last, since it stops a server)."""
    prom, run = scraped["prom"], scraped
    h2 = run["servers"][1]
    h2.stop()
    wait_for(lambda: prom.api("query", query=f'up{{instance="127.0.0.1:{h2.port}"}} == 0'
                              )["data"]["result"], timeout=15, what="up == 0")
    panel = next(p for p in load_dashboard()["panels"] if p["title"] == "Targets up")
    run = dict(run, end=time.time())
    _, series = evaluate(prom, run, panel, panel["targets"][0],
                         {"instance": "All", "vhost": "All"}, timing_for(run))
    assert {s[0]["instance"]: s[1][-1] for s in series} == {
        run["instances"][0]: 1.0, run["instances"][1]: 0.0}, series
