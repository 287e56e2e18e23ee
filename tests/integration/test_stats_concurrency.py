# SPDX-License-Identifier: Apache-2.0
"""Exact counting under concurrency, under event and prefork.

8 client threads x 2,000 requests each, a mix per thread of
  (a) POST + Expect: 100-continue to the reject vhost, a new connection
      each (the 417 closes it);
  (b) POST + Expect: 100-continue to the continue vhost's /echo, waiting for
      the 100 before the body, on a kept-alive connection;
  (c) GET + Expect: 100-continue (bodyless), kept alive, alternately to the
      reject and the continue vhost.
Every request has a unique URI and a per-thread User-Agent.  The counters
of both vhosts must then equal exactly what the clients sent and received,
and every event in the ring must describe one of the 417s a client got.
"""
import json
import re
import threading
import time
from collections import Counter

import pytest

from httpd_harness import Httpd, expectctl, serving
from rawhttp import Closed, Conn
from testlib import vhost

THREADS = 8
PER_THREAD = 2000
BODY = b"concurrency-body-" * 4  # 68 bytes
REJ, CONT = "rej.test", "cont.test"
RING = 1024  # ExpectEventSlots default

CONF = """
<IfModule mpm_prefork_module>
    StartServers 24
    MinSpareServers 24
    MaxSpareServers 48
    MaxRequestWorkers 64
</IfModule>
<IfModule !mpm_prefork_module>
    StartServers 3
</IfModule>
MaxKeepAliveRequests 0
""" + vhost("rej.test", "ExpectPolicy reject", docroot=False) + vhost(
    "cont.test", "ExpectPolicy continue", docroot=False)


class Tally:
    """What one client thread sent and received."""

    def __init__(self):
        self.sent = Counter()      # (vhost, kind) -> requests sent
        self.got = Counter()       # (vhost, kind, status) -> responses received
        self.rejected_uris = set()  # URIs answered 417
        self.errors = []           # (kind, uri, repr(exception))
        self.bad = []              # unexpected responses
        self.retries = 0           # resent after a stale keep-alive close


def post_head(host, uri, ua):
    return (f"POST {uri} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
            f"Expect: 100-continue\r\nContent-Length: {len(BODY)}\r\n\r\n")


class KeepAlive:
    """One kept-alive connection.  Like any HTTP client, it resends a request
    once on a new connection when the server closed the idle connection
    before a single byte of the response (the event MPM closes idle
    keep-alive connections when its workers are busy).  A request the
    server had already read could not be resent unnoticed: the counters
    would then exceed what the clients sent."""

    def __init__(self, port, tally):
        self.port = port
        self.tally = tally
        self.conn = None
        self.used = 0

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def exchange(self, fn):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = CountingConn(self.port)
                self.used = 0
            reused = self.used > 0
            self.used += 1
            try:
                return fn(self.conn)
            except (Closed, BrokenPipeError, ConnectionResetError):
                stale = reused and attempt == 0 and not self.conn.buf \
                    and not getattr(self.conn, "got_bytes", False)
                self.close()
                if not stale:
                    raise
                self.tally.retries += 1
        raise AssertionError("unreachable")


class CountingConn(Conn):
    """A Conn that remembers whether the current request got any byte."""

    def _fill(self, deadline):
        super()._fill(deadline)
        self.got_bytes = True


def client(port, t, tally):
    ua = f"conc-t{t}"
    ka = KeepAlive(port, tally)

    def post_continue(uri):
        def fn(c):
            c.got_bytes = False
            c.send(post_head(CONT, uri, ua))
            status = c.read_head()[0]
            if status != 100:
                return [], None, status
            c.send(BODY)
            interims, resp = c.read_response()
            return interims, resp, 100
        return fn

    def get_bodyless(host, uri):
        def fn(c):
            c.got_bytes = False
            c.send(f"GET {uri} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
                   f"Expect: 100-continue\r\n\r\n")
            return c.read_response()
        return fn

    for i in range(PER_THREAD):
        kind = ("reject", "continue", "bodyless")[i % 3]
        uri = f"/echo?t={t}&i={i}" if kind != "bodyless" else f"/index.html?t={t}&i={i}"
        try:
            if kind == "reject":
                tally.sent[(REJ, kind)] += 1
                c = Conn(port)
                try:
                    c.send(post_head(REJ, uri, ua))
                    interims, resp = c.read_response()
                finally:
                    c.close()
                tally.got[(REJ, kind, resp.status)] += 1
                if resp.status == 417 and not interims and resp.closes():
                    tally.rejected_uris.add(uri)
                else:
                    tally.bad.append((uri, interims, resp))
                continue
            if kind == "continue":
                host = CONT
                tally.sent[(host, kind)] += 1
                interims, resp, first = ka.exchange(post_continue(uri))
                if first != 100:
                    tally.bad.append((uri, "no 100 but", first))
                    ka.close()
                    continue
                if resp.status != 200 or resp.body != BODY or interims:
                    tally.bad.append((uri, interims, resp))
            else:
                host = REJ if (i // 3) % 2 == 0 else CONT
                tally.sent[(host, kind)] += 1
                interims, resp = ka.exchange(get_bodyless(host, uri))
                if resp.status != 200 or resp.body != b"index page\n" or interims:
                    tally.bad.append((uri, interims, resp))
            tally.got[(host, kind, resp.status)] += 1
            if resp.closes():
                ka.close()
        except (OSError, Closed, ValueError, IndexError) as e:
            tally.errors.append((kind, uri, repr(e)))
            ka.close()
    ka.close()


def settled_stats(h, want, timeout=3.0):
    """Poll stats --json until the rows match `want` (417s are counted after
    the response is sent) or the time is up; return the last rows."""
    deadline = time.time() + timeout
    while True:
        rows = {v["name"]: v for v in h.ctl_json("stats")["vhosts"]}
        if all(want_fn(rows) for want_fn in want) or time.time() > deadline:
            return rows
        time.sleep(0.05)


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_exact_counts_and_consistent_events(mpm):
    h = Httpd(CONF, mpm=mpm, loglevel="warn", name=f"conc-{mpm}")
    with serving(h):
        # Let prefork spawn its children before the load starts.
        time.sleep(0.3)
        tallies = [Tally() for _ in range(THREADS)]
        threads = [threading.Thread(target=client, args=(h.port, t, tallies[t]))
                   for t in range(THREADS)]
        t0 = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.time() - t0

        sent, got = Counter(), Counter()
        rejected_uris, errors, bad = set(), [], []
        retries = sum(ta.retries for ta in tallies)
        for ta in tallies:
            sent.update(ta.sent)
            got.update(ta.got)
            rejected_uris |= ta.rejected_uris
            errors += ta.errors
            bad += ta.bad
        print(f"{mpm}: {sum(sent.values())} requests in {elapsed:.1f}s, "
              f"{len(errors)} errors, {retries} resent after an idle close")
        assert not errors, f"{len(errors)} client errors, first: {errors[:5]}"
        assert not bad, f"{len(bad)} unexpected responses, first: {bad[:5]}"
        assert sum(sent.values()) == THREADS * PER_THREAD

        n_rej = got[(REJ, "reject", 417)]
        assert n_rej == sent[(REJ, "reject")] == len(rejected_uris)
        n_cont = got[(CONT, "continue", 200)]
        assert n_cont == sent[(CONT, "continue")]
        n_bl_rej = got[(REJ, "bodyless", 200)]
        n_bl_cont = got[(CONT, "bodyless", 200)]
        assert n_bl_rej == sent[(REJ, "bodyless")]
        assert n_bl_cont == sent[(CONT, "bodyless")]

        expected = {
            REJ: dict(expect=n_rej + n_bl_rej, continued=0, rejected=n_rej,
                      ignored=0, bodyless=n_bl_rej, http10=0,
                      r417=dict(mod_expect=n_rej, core=0, handler=0, backend=0,
                                others=0, total=n_rej)),
            CONT: dict(expect=n_cont + n_bl_cont, continued=n_cont, rejected=0,
                       ignored=0, bodyless=n_bl_cont, http10=0,
                       r417=dict(mod_expect=0, core=0, handler=0, backend=0,
                                 others=0, total=0)),
        }

        def matches(rows):
            for host, exp in expected.items():
                row = rows.get(f"{host}:{h.port}")
                if row is None:
                    return False
                if any(row[k] != v for k, v in exp.items()):
                    return False
            return True

        rows = settled_stats(h, [matches])
        for host, exp in expected.items():
            row = rows[f"{host}:{h.port}"]
            got_row = {k: row[k] for k in exp}
            assert got_row == exp, f"{host}: counters {got_row} != clients {exp}"
        assert rows[f"{REJ}:{h.port}"]["last_417"] is not None
        assert rows[f"{CONT}:{h.port}"]["last_417"] is None
        # The default vhost saw nothing.
        main = rows["main"]
        assert main["expect"] == 0 and main["r417"]["total"] == 0

        res = expectctl("events", "-n", str(RING), "--json", shm=h.shm)
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        events = doc["events"]
        assert len(events) == min(RING, n_rej), \
            f"{len(events)} events for {n_rej} rejections (ring {RING})"
        uris = [e["uri"] for e in events]
        assert len(set(uris)) == len(uris), "an event was recorded twice"
        problems = []
        for e in events:
            m = re.fullmatch(r"/echo\?t=(\d+)&i=(\d+)", e["uri"])
            ua = re.fullmatch(r"conc-t(\d+)", e["user_agent"])
            checks = {
                "vhost": e["vhost"] == f"{REJ}:{h.port}",
                "method": e["method"] == "POST",
                "status": e["status"] == 417,
                "producer": e["producer"] == "mod_expect",
                "reason": e["reason"] == "policy",
                "protocol": e["protocol"] == "HTTP/1.1",
                "client": e["client"] == "127.0.0.1",
                "expect": e["expect"] == "100-continue",
                "content_length": e["content_length"] == len(BODY),
                "uri/ua thread": bool(m and ua and m.group(1) == ua.group(1)),
                "uri was a 417": e["uri"] in rejected_uris,
                "reject slot": bool(m and int(m.group(2)) % 3 == 0),
            }
            failed = [k for k, ok in checks.items() if not ok]
            if failed:
                problems.append((failed, e))
        assert not problems, (f"{len(problems)} inconsistent events, first: "
                              f"{problems[:3]}")
