#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Soak test for mod_expect: a bounded, loopback-only load of every decision
under each MPM, with graceful restarts while it runs.

    soak.py [--requests N] [--mpm event|worker|prefork|all] [--restarts K]
            [--threads T] [--timeout S] [--json]

Per MPM: a private httpd (tests/integration/httpd_harness.py) with three
name-based vhosts (continue, reject, ignore) receives N requests from T
client threads over raw sockets, an even mix of

    continue    POST + Expect: 100-continue, body sent after the 100   -> 200
    reject      POST + Expect to the reject vhost, no body sent        -> 417
    ignore      POST + Expect to the ignore vhost, body sent at once   -> 200
    bodyless    GET + Expect, no content                               -> 200
    http10      HTTP/1.0 POST + Expect, body sent at once              -> 200
    unknown     POST + "Expect: 100-continue, x", body sent at once    -> 417 (core)
    plain_get   GET without Expect                                     -> 200
    plain_post  POST without Expect                                    -> 200

Connections are kept alive where the response allows it; a 417 or an
HTTP/1.0 response closes them.  K graceful restarts are issued when
N*j/(K+1) requests have completed (j = 1..K).  After that, every check
below must hold or the run fails (exit status 1):

  * every request got the expected final status (and body, and no stray
    100), no client errors;
  * the error log has no crash ("exit signal", "AH00052", "Segmentation",
    ...) and no emerg/alert/crit/error line;
  * sum of r417.total over vhosts (expectctl stats --json) == 417 lines in
    the access log == 417 responses the clients received (the access-log
    and client URIs of the 417s are the same multiset, too);
  * the per-vhost decision counters equal what the clients sent;
  * the segment generation went up by exactly K, the parent pid stayed;
  * child memory does not grow with the request count.  VmRSS and RssAnon
    (from /proc/<pid>/status; children = processes whose parent is the pid
    in the pidfile) are sampled at 25% and at 100% of the final phase (the
    requests issued after the last graceful restart completed), so that
    start-up and the restart's warm-up are behind the first sample.  For
    the children alive at both samples:
      - their RssAnon (private heap and pools, where a leak goes) together
        grows by at most RSS_FLOOR_KB (512 kB: a few glibc heap steps) plus
        RSS_PER_REQUEST_B (16 bytes) per request between the samples; with
        100,000 requests and 5 restarts about 12,500 requests lie between
        them, so a leak of about 60 bytes per request or more fails (a
        test build leaking 200 bytes per judged request, 130 bytes per
        request on average, failed under all three MPMs; the short pytest
        variant has too few requests in its final phase to see such a
        leak, and mainly guards the code path);
      - VmRSS less RssFile (the pages of shared libraries a young child
        is still faulting in) grows by at most RSS_CHILD_MAX_KB plus the
        size of the shared segment per child: VmRSS also counts the pages of the mmapped
        segment (about 1.1 MB, mostly the event ring) a child has touched,
        which grows as its 417s land in ring slots it never wrote before,
        without a byte being allocated.
"""
import argparse
import json
import math
import os
import random
import re
import sys
import threading
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from httpd_harness import BAD_LEVEL, CRASH_PATTERNS, MPMS, Httpd  # noqa: E402
from rawhttp import Closed, Conn  # noqa: E402

BODY = b"soak-body-0123456789abcdef-" * 2 + b"0123456789"  # 64 bytes
INDEX = b"index page\n"
CONT, REJ, IGN = "cont.test", "rej.test", "ign.test"
REQUEST_TIMEOUT = 10.0      # seconds, per socket operation / response
STALL_TIMEOUT = 60.0        # no request completed for this long: fail
SETTLE_TIMEOUT = 10.0       # for shm and access log to catch up at the end
# Allowed memory growth between the 25% and the 100% samples of the final
# phase (see the module doc).
RSS_FLOOR_KB = 512          # RssAnon, all children together: a few heap steps
RSS_PER_REQUEST_B = 16      # ... plus this many bytes per request in between
RSS_CHILD_MAX_KB = 1024     # VmRSS per child, on top of the segment's size
CRASH_WORDS = ("exit signal", "AH00052", "Segmentation")

# kind -> (host, method, protocol, Expect value or None, send body,
#          wait for 100 before the body, final status, response body,
#          the response closes the connection)
KINDS = {
    "continue":   (CONT, "POST", "HTTP/1.1", "100-continue", True, True, 200, BODY, False),
    "reject":     (REJ, "POST", "HTTP/1.1", "100-continue", False, False, 417, None, True),
    "ignore":     (IGN, "POST", "HTTP/1.1", "100-continue", True, False, 200, BODY, False),
    "bodyless":   (REJ, "GET", "HTTP/1.1", "100-continue", False, False, 200, INDEX, False),
    "http10":     (CONT, "POST", "HTTP/1.0", "100-continue", True, False, 200, BODY, True),
    "unknown":    (CONT, "POST", "HTTP/1.1", "100-continue, x", True, False, 417, None, True),
    "plain_get":  (CONT, "GET", "HTTP/1.1", None, False, False, 200, INDEX, False),
    "plain_post": (IGN, "POST", "HTTP/1.1", None, True, False, 200, BODY, False),
}
KIND_NAMES = tuple(KINDS)

VHOST = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName {name}
    ExpectPolicy {policy}
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
"""

ACCESS_RE = re.compile(r'^\S+ \S+ "(\S+) (\S+) (HTTP/1\.[01])" (\d{3}) ')


def server_conf(threads):
    """A fixed pool of children, so that none is spawned or reaped in the
    middle of the RSS phase: prefork keeps threads+8 processes and never
    has more than MaxSpareServers idle; worker/event start all ServerLimit
    processes and never have more than MaxSpareThreads idle.  ServerLimit
    leaves as many slots again for the processes of the old generation
    that are still finishing their connections after a graceful restart:
    without them, the new generation cannot start until the old one has
    exited, and requests wait seconds in the listen queue."""
    procs = max(threads + 8, 16)
    limit = max(4, math.ceil((2 * threads + 8) / 8))
    return f"""
MaxKeepAliveRequests 100
<IfModule mpm_prefork_module>
    StartServers {procs}
    MinSpareServers {procs}
    MaxSpareServers {2 * procs}
    MaxRequestWorkers {2 * procs}
</IfModule>
<IfModule !mpm_prefork_module>
    ServerLimit {2 * limit}
    StartServers {limit}
    ThreadsPerChild 8
    MaxRequestWorkers {8 * limit}
    MinSpareThreads 8
    MaxSpareThreads {8 * limit}
</IfModule>
""" + "".join(VHOST.format(name=n, policy=p)
              for n, p in ((CONT, "continue"), (REJ, "reject"), (IGN, "ignore")))


# ---- the load ----------------------------------------------------------------

class CountingConn(Conn):
    """A Conn that remembers whether the current request got any byte."""
    got_bytes = False

    def _fill(self, deadline):
        super()._fill(deadline)
        self.got_bytes = True


class Run:
    """Hands out request indices up to a gate, counts completions."""

    def __init__(self, total, seed=1):
        self.total = total
        self.kinds = random.Random(seed).choices(KIND_NAMES, k=total)
        self.cond = threading.Condition()
        self.issued = 0
        self.finished = 0          # responses + errors
        self.gate = total
        self.stopped = False
        self.last_progress = time.time()

    def take(self):
        with self.cond:
            while self.issued >= self.gate and not self.stopped \
                    and self.issued < self.total:
                self.cond.wait(0.2)
            if self.stopped or self.issued >= self.total:
                return None
            i = self.issued
            self.issued += 1
            return i

    def done(self):
        with self.cond:
            self.finished += 1
            self.last_progress = time.time()

    def set_gate(self, gate):
        with self.cond:
            self.gate = min(gate, self.total)
            self.cond.notify_all()

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class Client(threading.Thread):
    def __init__(self, port, run, t):
        super().__init__(daemon=True, name=f"soak-client-{t}")
        self.port, self.run_, self.t = port, run, t
        self.ua = f"soak-t{t}"
        self.conn = None
        self.used = 0
        self.sent = Counter()        # kind -> responses received
        self.status = Counter()      # (kind, status) -> responses received
        self.got417 = []             # URIs answered 417
        self.bad = []                # unexpected responses (first few)
        self.n_bad = 0
        self.errors = []             # no response (first few)
        self.n_errors = 0
        self.retries = 0             # resent after a stale keep-alive close
        self.connects = 0
        self.max_latency = (0.0, None, None)  # (seconds, kind, index)
        self.slow = 0                # requests that took more than 0.5 s

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def run(self):
        try:
            while True:
                i = self.run_.take()
                if i is None:
                    break
                kind = self.run_.kinds[i]
                t = time.monotonic()
                try:
                    self.one(i, kind)
                except (OSError, Closed, ValueError, IndexError) as e:
                    self.n_errors += 1
                    if len(self.errors) < 10:
                        self.errors.append((kind, i, repr(e)))
                    self.close()
                finally:
                    lat = time.monotonic() - t
                    if lat > self.max_latency[0]:
                        self.max_latency = (lat, kind, i)
                    if lat > 0.5:
                        self.slow += 1
                    self.run_.done()
        finally:
            self.close()

    def one(self, i, kind):
        host, method, proto, expect, body, wait100, want, want_body, closes = KINDS[kind]
        uri = f"/echo?k={kind}&i={i}" if method == "POST" else f"/index.html?k={kind}&i={i}"
        lines = [f"{method} {uri} {proto}", f"Host: {host}", f"User-Agent: {self.ua}"]
        if expect is not None:
            lines.append(f"Expect: {expect}")
        if method == "POST":
            lines.append(f"Content-Length: {len(BODY)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # Like any HTTP client: resend once on a new connection when the
        # server closed a reused idle connection before a single byte of the
        # response (event closes idle keep-alive connections when busy, and
        # every MPM does on a graceful restart).  A request the server had
        # read would have been answered: resending it could only make the
        # server's counts exceed the clients', which the checks would show.
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = CountingConn(self.port, timeout=REQUEST_TIMEOUT)
                self.connects += 1
                self.used = 0
            reused = self.used > 0
            self.used += 1
            c = self.conn
            c.got_bytes = False
            try:
                if wait100:
                    c.send(head)
                    status, _, _, raw, _ = c.read_head()
                    if status != 100:
                        c.buf = raw + c.buf
                        interims, resp = c.read_response(method=method)
                        saw100 = False
                    else:
                        c.send(BODY)
                        interims, resp = c.read_response(method=method)
                        saw100 = True
                else:
                    c.send(head + BODY if body else head)
                    interims, resp = c.read_response(method=method)
                    saw100 = False
                break
            except (Closed, BrokenPipeError, ConnectionResetError):
                stale = reused and attempt == 0 and not c.buf and not c.got_bytes
                self.close()
                if not stale:
                    raise
                self.retries += 1
        self.sent[kind] += 1
        self.status[(kind, resp.status)] += 1
        if resp.status == 417:
            self.got417.append(uri)
        problems = []
        if resp.status != want:
            problems.append(f"status {resp.status} != {want}")
        if interims:
            problems.append(f"interim responses {interims}")
        if saw100 != wait100:
            problems.append("no 100 before the body" if wait100 else "a 100")
        if want_body is not None and resp.body != want_body:
            problems.append(f"body {resp.body[:40]!r}")
        if kind == "reject" and not resp.closes():
            problems.append("417 without Connection: close")
        if self.conn.buf:
            problems.append(f"{len(self.conn.buf)} stray bytes after the response")
        if problems:
            self.n_bad += 1
            if len(self.bad) < 10:
                self.bad.append((kind, uri, problems, resp.status, resp.headers))
        if closes or resp.closes() or problems:
            self.close()


# ---- what the server says ------------------------------------------------------

def children(ppid):
    """{pid: (VmRSS kB, RssAnon kB, RssFile kB)} of the processes whose
    parent is ppid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                text = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        try:
            if int(fields["PPid"]) != ppid:
                continue
            out[int(d)] = (int(fields["VmRSS"].split()[0]),
                           int(fields.get("RssAnon", "0 kB").split()[0]),
                           int(fields.get("RssFile", "0 kB").split()[0]))
        except (KeyError, ValueError):
            continue  # a zombie has no VmRSS
    return out


def shm_rows(h):
    return {v["name"]: v for v in h.ctl_json("stats")["vhosts"]}


def access_417(h):
    """(417 lines, all soak lines) of the access log, 417 URIs as a Counter."""
    uris, lines = Counter(), 0
    for line in h.read_access_log().splitlines():
        m = ACCESS_RE.match(line)
        if not m or "?k=" not in m.group(2):
            continue
        lines += 1
        if m.group(4) == "417":
            uris[m.group(2)] += 1
    return uris, lines


def expected_counters(n, port):
    """The per-vhost shm counters the clients' requests must produce."""
    zero417 = dict(mod_expect=0, core=0, handler=0, backend=0, others=0, total=0)
    return {
        f"{CONT}:{port}": dict(
            expect=n["continue"] + n["http10"] + n["unknown"],
            continued=n["continue"], rejected=0, ignored=0, bodyless=0,
            http10=n["http10"],
            r417=dict(zero417, core=n["unknown"], total=n["unknown"])),
        f"{REJ}:{port}": dict(
            expect=n["reject"] + n["bodyless"], continued=0,
            rejected=n["reject"], ignored=0, bodyless=n["bodyless"], http10=0,
            r417=dict(zero417, mod_expect=n["reject"], total=n["reject"])),
        f"{IGN}:{port}": dict(
            expect=n["ignore"], continued=0, rejected=0, ignored=n["ignore"],
            bodyless=0, http10=0, r417=dict(zero417)),
        "main": dict(
            expect=0, continued=0, rejected=0, ignored=0, bodyless=0, http10=0,
            r417=dict(zero417)),
    }


# ---- one MPM -------------------------------------------------------------------

def run_mpm(mpm, requests=100000, restarts=5, threads=8, timeout=3600.0,
            log=None, seed=1, rss_floor_kb=None):
    """Run the soak under one MPM; return a result dict whose "failures"
    list is empty when every check held."""
    log = log or (lambda msg: None)
    t_start = time.time()
    deadline = t_start + timeout
    res = dict(mpm=mpm, requests=requests, threads=threads, restarts_planned=restarts,
               restarts_survived=0, failures=[], restart_log=[])
    fail = res["failures"].append
    h = Httpd(server_conf(threads), mpm=mpm, loglevel="warn", name=f"soak-{mpm}")
    run = Run(requests, seed=seed)
    clients = []
    try:
        h.start()
        ppid = h.pid()
        # Let the fixed pool of children come up before the load.
        want_children = (max(threads + 8, 16) if mpm == "prefork"
                         else max(4, math.ceil((2 * threads + 8) / 8)))
        t0 = time.time()
        while len(children(ppid)) < want_children and time.time() - t0 < 5:
            time.sleep(0.05)
        gen0 = h.ctl_json("stats")["segment"]["generation"]
        seg_kb = os.path.getsize(h.shm) // 1024
        seg = max(1, requests // (restarts + 1))
        points = [requests * j // (restarts + 1) for j in range(1, restarts + 1)]
        slack = max(1, seg // 4)
        # Requests may run up to a quarter segment past a restart point
        # while the graceful is under way; the next segment waits for it.
        run.set_gate(points[0] + slack if points else requests)
        clients = [Client(h.port, run, t) for t in range(threads)]
        t_load = time.time()
        for c in clients:
            c.start()

        def wait_finished(n, what):
            while run.finished < n:
                now = time.time()
                if now > deadline:
                    raise TimeoutError(f"overall timeout waiting for {what}")
                if now - run.last_progress > STALL_TIMEOUT:
                    raise TimeoutError(f"no progress for {STALL_TIMEOUT:.0f}s "
                                       f"waiting for {what}")
                time.sleep(0.005)

        for j, p in enumerate(points):
            wait_finished(p, f"restart {j + 1} at {p}")
            at = run.finished
            t = time.time()
            h.reload("graceful")
            if h.pid() != ppid:
                fail(f"parent pid changed across graceful {j + 1}: {ppid} -> {h.pid()}")
            res["restart_log"].append(dict(at=at, done_at=run.finished,
                                           seconds=round(time.time() - t, 2)))
            res["restarts_survived"] += 1
            log(f"[{mpm}] graceful {j + 1}/{restarts} at {at} requests "
                f"({time.time() - t:.2f}s)")
            run.set_gate(points[j + 1] + slack if j + 1 < len(points) else requests)

        # The final phase: everything issued after the last restart.
        phase_start = run.issued if points else 0
        phase_len = requests - phase_start
        at25 = phase_start + max(1, phase_len // 4)
        wait_finished(at25, "the 25% RSS sample")
        s25 = children(ppid)
        n25 = run.finished
        wait_finished(requests, "the end of the load")
        for c in clients:
            c.join(max(0.1, deadline - time.time()))
        s100 = children(ppid)
        res["load_seconds"] = round(time.time() - t_load, 2)
        log(f"[{mpm}] {requests} requests in {res['load_seconds']}s")

        # --- the clients' view
        sent, status = Counter(), Counter()
        got417 = Counter()
        for c in clients:
            sent.update(c.sent)
            status.update(c.status)
            got417.update(c.got417)
        n_errors = sum(c.n_errors for c in clients)
        n_bad = sum(c.n_bad for c in clients)
        res["served"] = sum(sent.values())
        res["by_kind"] = {k: sent[k] for k in KIND_NAMES}
        res["retries"] = sum(c.retries for c in clients)
        res["connections"] = sum(c.connects for c in clients)
        res["client_errors"] = n_errors
        ml = max(c.max_latency for c in clients)
        res["max_latency"] = dict(seconds=round(ml[0], 3), kind=ml[1], index=ml[2])
        res["slow_requests"] = sum(c.slow for c in clients)
        res["unexpected_responses"] = n_bad
        if n_errors:
            fail(f"{n_errors} requests got no response, first: "
                 f"{[e for c in clients for e in c.errors][:5]}")
        if n_bad:
            fail(f"{n_bad} unexpected responses, first: "
                 f"{[b for c in clients for b in c.bad][:5]}")
        if res["served"] != requests:
            fail(f"{res['served']} responses for {requests} requests")
        clients_417 = sum(got417.values())

        # --- the server's view, once log_transaction has caught up
        port = h.port
        settle_until = time.time() + SETTLE_TIMEOUT
        while True:
            rows = shm_rows(h)
            shm_417 = sum(v["r417"]["total"] for v in rows.values())
            log_417, log_lines = access_417(h)
            if (shm_417 >= clients_417 and sum(log_417.values()) >= clients_417
                    and log_lines >= res["served"]) or time.time() > settle_until:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # a surplus would show up late, too
        doc = h.ctl_json("stats")
        rows = {v["name"]: v for v in doc["vhosts"]}
        shm_417 = sum(v["r417"]["total"] for v in rows.values())
        log_417, log_lines = access_417(h)
        res["r417"] = dict(clients=clients_417, access_log=sum(log_417.values()),
                           shm=shm_417,
                           shm_by_producer=dict(Counter(
                               {k: sum(v["r417"][k] for v in rows.values())
                                for k in ("mod_expect", "core", "handler",
                                          "backend", "others")})))
        res["access_log_lines"] = log_lines
        if not shm_417 == sum(log_417.values()) == clients_417:
            fail(f"417 totals differ: shm {shm_417}, access log "
                 f"{sum(log_417.values())}, clients {clients_417}")
        elif log_417 != got417:
            fail(f"417 URIs differ between access log and clients: "
                 f"{list((log_417 - got417).items())[:3]} / "
                 f"{list((got417 - log_417).items())[:3]}")
        if not n_errors and log_lines != res["served"]:
            fail(f"access log has {log_lines} soak lines for {res['served']} responses")
        if not n_errors:
            for name, exp in expected_counters(sent, port).items():
                row = rows.get(name)
                if row is None:
                    fail(f"vhost {name} missing from expectctl stats")
                    continue
                got = {k: row[k] for k in exp}
                if got != exp:
                    fail(f"{name}: shm counters {got} != clients {exp}")
        gen = doc["segment"]["generation"]
        res["generation"] = [gen0, gen]
        if gen != gen0 + restarts:
            fail(f"segment generation {gen0} -> {gen} after {restarts} gracefuls")

        # --- memory in the final phase
        res["rss"] = rss_report(s25, s100, n25, requests, phase_start, seg_kb,
                                floor_kb=RSS_FLOOR_KB if rss_floor_kb is None else rss_floor_kb)
        if os.environ.get("MOD_EXPECT_PRELOAD"):
            # An ASan build: its allocator quarantines freed memory, so RSS
            # grows by design; the leak check belongs to the normal build.
            res["rss"]["violations"] = []
        for msg in res["rss"]["violations"]:
            fail(msg)
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        fail(f"{type(e).__name__}: {e}")
    finally:
        run.stop()
        for c in clients:
            c.join(REQUEST_TIMEOUT + 1)
        try:
            h.stop()
        except Exception as e:  # noqa: BLE001
            fail(f"stop: {e}")
        errlog = h.read_error_log()
        res["crash_lines"] = {w: errlog.count(w) for w in CRASH_WORDS}
        bad = [line for line in errlog.splitlines()
               if any(p in line for p in CRASH_PATTERNS) or BAD_LEVEL.search(line)]
        res["bad_error_log_lines"] = len(bad)
        if bad:
            fail(f"{len(bad)} crash/error lines in the error log, first: {bad[:5]}")
        if res["failures"]:
            res["kept_root"] = h.root if os.environ.get("KEEP_TEST_ROOT") else None
        h.cleanup()
        res["duration_seconds"] = round(time.time() - t_start, 2)
    return res


def rss_report(s25, s100, n25, n100, phase_start, segment_kb, floor_kb=RSS_FLOOR_KB):
    """Judge the two samples of the final phase (see the module doc)."""
    common = sorted(set(s25) & set(s100))
    per_child = []
    violations = []
    for pid in common:
        (r1, a1, f1), (r2, a2, f2) = s25[pid], s100[pid]
        per_child.append(dict(pid=pid, vmrss_kb=[r1, r2], rssanon_kb=[a1, a2]))
        # Without RssFile: a prefork child forked just before the first
        # sample still faults in pages of httpd's shared libraries, which
        # is no allocation.  (The segment's pages are RssShmem on tmpfs and
        # RssFile on a disk; the allowance keeps room for them either way.)
        if (r2 - f2) - (r1 - f1) > RSS_CHILD_MAX_KB + segment_kb:
            violations.append(f"child {pid}: VmRSS less RssFile grew {r1 - f1} -> "
                              f"{r2 - f2} kB (> {RSS_CHILD_MAX_KB} + {segment_kb} kB segment)")
    if not common:
        violations.append("no child alive at both RSS samples")
    anon = [sum(s25[p][1] for p in common), sum(s100[p][1] for p in common)]
    anon_max_kb = floor_kb + RSS_PER_REQUEST_B * (n100 - n25) // 1024
    if anon[1] - anon[0] > anon_max_kb:
        violations.append(f"RssAnon of the children grew {anon[0]} -> {anon[1]} kB "
                          f"(> {anon_max_kb} kB) over {n100 - n25} requests")
    tot = lambda s, pids, k: sum(s[p][k] for p in pids)  # noqa: E731
    return dict(
        phase=[phase_start, n25, n100],
        segment_kb=segment_kb,
        children=[len(s25), len(s100), len(common)],
        total_vmrss_kb=[tot(s25, s25, 0), tot(s100, s100, 0)],
        common_vmrss_kb=[tot(s25, common, 0), tot(s100, common, 0)],
        common_rssanon_kb=anon,
        rssanon_max_growth_kb=anon_max_kb,
        rssanon_bytes_per_request=round((anon[1] - anon[0]) * 1024 / max(1, n100 - n25), 2),
        max_child_growth_kb=dict(
            vmrss=max((c["vmrss_kb"][1] - c["vmrss_kb"][0] for c in per_child), default=0),
            rssanon=max((c["rssanon_kb"][1] - c["rssanon_kb"][0] for c in per_child),
                        default=0)),
        per_child=per_child,
        violations=violations,
    )


def format_summary(r):
    out = [f"== {r['mpm']}: {'FAIL' if r['failures'] else 'ok'} "
           f"({r.get('duration_seconds', '?')}s, load {r.get('load_seconds', '?')}s)"]
    if "served" in r:
        rate = r["served"] / r["load_seconds"] if r.get("load_seconds") else 0
        out.append(f"   requests served {r['served']}/{r['requests']} ({rate:.0f}/s, "
                   f"{r['threads']} threads, {r['connections']} connections, "
                   f"{r['retries']} resent after an idle close, "
                   f"{r['client_errors']} errors, {r['unexpected_responses']} unexpected)")
        out.append("   by kind: " + ", ".join(f"{k} {v}" for k, v in r["by_kind"].items()))
        ml = r["max_latency"]
        out.append(f"   slowest request {ml['seconds']}s ({ml['kind']} #{ml['index']}), "
                   f"{r['slow_requests']} took over 0.5s")
    if "r417" in r:
        q = r["r417"]
        out.append(f"   417s: clients {q['clients']} / access log {q['access_log']} / "
                   f"shm {q['shm']} (shm by producer {q['shm_by_producer']})")
    out.append(f"   restarts survived {r['restarts_survived']}/{r['restarts_planned']}: "
               + ", ".join(f"@{x['at']} {x['seconds']}s" for x in r["restart_log"])
               + (f"; segment generation {r['generation'][0]} -> {r['generation'][1]}"
                  if "generation" in r else ""))
    if "rss" in r:
        m = r["rss"]
        out.append(f"   RSS final phase (requests {m['phase'][0]}..{m['phase'][2]}, "
                   f"sampled at {m['phase'][1]} and {m['phase'][2]}): children "
                   f"{m['children'][0]}/{m['children'][1]} ({m['children'][2]} at both); "
                   f"total VmRSS {m['total_vmrss_kb'][0]} -> {m['total_vmrss_kb'][1]} kB; "
                   f"same children VmRSS {m['common_vmrss_kb'][0]} -> "
                   f"{m['common_vmrss_kb'][1]} kB, RssAnon {m['common_rssanon_kb'][0]} -> "
                   f"{m['common_rssanon_kb'][1]} kB (limit +{m['rssanon_max_growth_kb']} kB); "
                   f"max growth per child VmRSS "
                   f"{m['max_child_growth_kb']['vmrss']} kB, RssAnon "
                   f"{m['max_child_growth_kb']['rssanon']} kB "
                   f"({m['rssanon_bytes_per_request']} B/request)")
        out.append("   per child VmRSS kB: " + ", ".join(
            f"{c['pid']}:{c['vmrss_kb'][0]}->{c['vmrss_kb'][1]}" for c in m["per_child"]))
    out.append(f"   error log: {r.get('crash_lines')}, "
               f"{r.get('bad_error_log_lines')} crash/error lines")
    for f in r["failures"]:
        out.append(f"   FAILURE: {f}")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100000, help="per MPM")
    ap.add_argument("--mpm", choices=MPMS + ("all",), default="all")
    ap.add_argument("--restarts", type=int, default=5)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="overall limit in seconds, for all MPMs together")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.requests < 1 or args.restarts < 0 or args.threads < 1:
        ap.error("--requests and --threads must be positive, --restarts >= 0")
    if args.requests < 4 * (args.restarts + 1):
        ap.error("--requests too small for that many restarts")
    mpms = MPMS if args.mpm == "all" else (args.mpm,)
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else \
        (lambda m: print(m, flush=True))
    deadline = time.time() + args.timeout
    results = []
    for mpm in mpms:
        left = deadline - time.time()
        if left <= 0:
            results.append(dict(mpm=mpm, requests=args.requests, threads=args.threads,
                                restarts_planned=args.restarts, restarts_survived=0,
                                restart_log=[], failures=["overall timeout: not run"]))
            if not args.json:
                print(f"== {mpm}: FAIL (not run: overall timeout)", flush=True)
            continue
        r = run_mpm(mpm, args.requests, args.restarts, args.threads, timeout=left,
                    log=log)
        results.append(r)
        if not args.json:
            print(format_summary(r), flush=True)
    ok = all(not r["failures"] for r in results)
    if args.json:
        print(json.dumps(dict(ok=ok, results=results), indent=1))
    else:
        print("soak: " + ("PASS" if ok else "FAIL") + " "
              + ", ".join(f"{r['mpm']} {r.get('duration_seconds', 0)}s" for r in results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
