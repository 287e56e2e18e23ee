# SPDX-License-Identifier: Apache-2.0
"""The statistics segment across graceful and plain restarts, stop and start.

- counters and runtime overrides survive `graceful` and `restart`, and the
  first request after the reload is judged by the override;
- a vhost removed from the config leaves stats after a graceful, a new one
  appears (with zero counters, and can be overridden); a graceful that
  outgrows the vhost table (so the segment is rebuilt) keeps counters,
  overrides, recent events and the generation count;
- under client load across a graceful, r417.total equals exactly the 417s
  the clients received;
- stop removes the segment; a stale file at the path (garbage, a leftover
  segment, a symlink, a half-built side file) is replaced cleanly at start;
- stop and start clear counters, overrides and events.
"""
import contextlib
import json
import os
import shutil
import stat
import threading
import time

import pytest

from httpd_harness import Httpd, expectctl
from rawhttp import Closed, Conn
from testlib import rows, vhost

BODY = b"restart-body-0123456789"
CONT, REJ = "cont.test", "rej.test"
MPMS = ("prefork", "event")

def vhosts(*pairs):
    """A vhost (no DocumentRoot) with the reflector per (name, policy)."""
    return "".join("\n" + vhost(n, f"ExpectPolicy {p}", docroot=False) for n, p in pairs)


CONF = vhosts((CONT, "continue"), (REJ, "reject"))
COUNTERS = ("expect", "continued", "rejected", "ignored", "bodyless", "http10",
            "r417", "last_417")


def start(h):
    """Httpd.start() returns once the new generation built its segment."""
    return h.start()


@contextlib.contextmanager
def running(h):
    """serving(), with start() above: stop, require a clean error log,
    remove the root."""
    try:
        start(h)
        try:
            yield h
        finally:
            h.stop()
        h.assert_clean_error_log()
    finally:
        h.cleanup()


# ---- clients ---------------------------------------------------------------

def head(host, uri, ua="restarts", method="POST", length=len(BODY)):
    lines = [f"{method} {uri} HTTP/1.1", f"Host: {host}", f"User-Agent: {ua}",
             "Expect: 100-continue"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return "\r\n".join(lines) + "\r\n\r\n"


def post(port, host, uri, ua="restarts"):
    """POST with Expect on a new connection.  Returns what the server said
    before the body ("100", "final" or "nothing") and the final status."""
    c = Conn(port)
    try:
        c.send(head(host, uri, ua))
        before, final = c.wait_interim_or_final(1.0)
        if final is None:
            c.send(BODY)
            _, resp = c.read_response()
            assert resp.body == BODY, resp
        else:
            _, resp = final
        return before, resp.status
    finally:
        c.close()


def get_bodyless(port, host, uri):
    c = Conn(port)
    try:
        c.send(head(host, uri, method="GET", length=None))
        interims, resp = c.read_response()
        assert interims == [] and resp.status == 200, resp
    finally:
        c.close()


def counters(row):
    return {k: row[k] for k in COUNTERS}


def wait_for(h, pred, timeout=3.0):
    """Poll stats until pred(rows) holds (417s are counted in
    log_transaction, after the response went out); return the rows."""
    deadline = time.time() + timeout
    while True:
        r = rows(h)
        if pred(r) or time.time() > deadline:
            return r
        time.sleep(0.05)


def ctl_ok(h, *args):
    res = expectctl(*args, shm=h.shm)
    assert res.returncode == 0, (args, res.stderr)
    return res


def events(h, n=1024):
    return h.ctl_json("events", "-n", str(n))["events"]


# ---- counters and overrides survive reloads ---------------------------------

@pytest.mark.parametrize("how", ["graceful", "restart"])
@pytest.mark.parametrize("mpm", MPMS)
def test_counters_and_overrides_survive_reload(mpm, how):
    h = Httpd(CONF, mpm=mpm, name=f"survive-{mpm}-{how}")
    with running(h):
        p = h.port
        cont, rej = f"{CONT}:{p}", f"{REJ}:{p}"
        for i in range(5):
            assert post(p, REJ, f"/echo?before={i}") == ("final", 417)
        for i in range(3):
            assert post(p, CONT, f"/echo?before={i}") == ("100", 200)
        for i in range(2):
            get_bodyless(p, CONT, f"/index.html?before={i}")
        r = wait_for(h, lambda r: r[rej]["r417"]["total"] == 5)
        assert r[rej]["rejected"] == 5 and r[rej]["r417"]["mod_expect"] == 5
        assert (r[cont]["expect"], r[cont]["continued"], r[cont]["bodyless"]) == (5, 3, 2)

        # Overrides in both directions.
        ctl_ok(h, "set", cont, "reject")
        ctl_ok(h, "set", rej, "continue")
        before = rows(h)
        gen = h.ctl_json("stats")["segment"]["generation"]
        n_events = len(events(h))
        assert n_events == 5

        h.reload(how)

        after = rows(h)
        assert h.ctl_json("stats")["segment"]["generation"] == gen + 1
        for name in (cont, rej):
            assert counters(after[name]) == counters(before[name]), name
        assert (after[cont]["override"], after[cont]["policy"],
                after[cont]["configured_policy"]) == ("reject", "reject", "continue")
        assert (after[rej]["override"], after[rej]["policy"],
                after[rej]["configured_policy"]) == ("continue", "continue", "reject")
        assert len(events(h)) == n_events

        # The new generation's children obey the overrides at once.
        assert post(p, CONT, "/echo?after=1", ua="after-reload") == ("final", 417)
        assert post(p, REJ, "/echo?after=2") == ("100", 200)
        r = wait_for(h, lambda r: r[cont]["r417"]["total"] == 1)
        assert (r[cont]["rejected"], r[cont]["r417"]["mod_expect"],
                r[cont]["r417"]["total"], r[cont]["continued"]) == (1, 1, 1, 3)
        assert (r[rej]["continued"], r[rej]["rejected"], r[rej]["r417"]["total"]) == (1, 5, 5)
        last = events(h)[-1]
        assert (last["vhost"], last["uri"], last["user_agent"]) == \
            (cont, "/echo?after=1", "after-reload")

        # And `default` still returns to the configured policy.
        ctl_ok(h, "set", cont, "default")
        assert post(p, CONT, "/echo?after=3") == ("100", 200)


# ---- vhosts removed and added by a graceful ---------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_removed_vhost_disappears_added_vhost_appears(mpm):
    h = Httpd(vhosts(("a.test", "reject"), ("b.test", "continue")), mpm=mpm,
              name=f"vhosts-{mpm}")
    with running(h):
        p = h.port
        a, b, c = f"a.test:{p}", f"b.test:{p}", f"c.test:{p}"
        for i in range(2):
            assert post(p, "a.test", f"/echo?{i}") == ("final", 417)
        assert post(p, "b.test", "/echo") == ("100", 200)
        r = wait_for(h, lambda r: r[a]["r417"]["total"] == 2)
        assert set(r) == {"main", a, b}
        a_before = counters(r[a])

        h.write_config(vhosts(("a.test", "reject"), ("c.test", "ignore")))
        h.reload("graceful")

        r = rows(h)
        assert set(r) == {"main", a, c}, sorted(r)
        assert counters(r[a]) == a_before
        new = r[c]
        assert (new["policy"], new["configured_policy"], new["override"]) == \
            ("ignore", "ignore", None)
        assert new["expect"] == 0 and new["r417"]["total"] == 0 and new["last_417"] is None
        # The removed vhost is unknown to every verb.
        assert expectctl("stats", b, "--json", shm=h.shm).returncode == 1
        assert expectctl("set", b, "reject", shm=h.shm).returncode == 1
        # The new vhost counts, and can be overridden.
        assert post(p, "c.test", "/echo?ignored") == ("nothing", 200)
        ctl_ok(h, "set", c, "reject")
        assert post(p, "c.test", "/echo?rejected") == ("final", 417)
        r = wait_for(h, lambda r: r[c]["r417"]["total"] == 1)
        assert (r[c]["expect"], r[c]["ignored"], r[c]["rejected"],
                r[c]["r417"]["mod_expect"]) == (2, 1, 1, 1)
        assert counters(r[a]) == a_before


def test_graceful_that_outgrows_the_table_keeps_everything():
    """70 new vhosts do not fit the 64-slot table the first start sized, so
    the graceful has to rebuild the segment: counters and overrides must
    come along, the generation must still go up by one, and the recent
    417s must still be listed."""
    h = Httpd(CONF, mpm="event", name="grow")
    with running(h):
        p = h.port
        cont, rej = f"{CONT}:{p}", f"{REJ}:{p}"
        for i in range(3):
            assert post(p, REJ, f"/echo?grow={i}") == ("final", 417)
        assert post(p, CONT, "/echo?grow") == ("100", 200)
        ctl_ok(h, "set", cont, "reject")
        before = wait_for(h, lambda r: r[rej]["r417"]["total"] == 3)
        gen = h.ctl_json("stats")["segment"]["generation"]
        # log_transaction runs after lingering close, so three requests on
        # three connections may be recorded in any order.
        ev_before = sorted(e["uri"] for e in events(h))
        assert ev_before == [f"/echo?grow={i}" for i in range(3)]

        many = [(f"v{i}.test", "continue") for i in range(70)]
        h.write_config(CONF + vhosts(*many))
        h.reload("graceful")

        after = rows(h)
        assert len(after) == 3 + 70
        for name in (cont, rej):
            assert counters(after[name]) == counters(before[name]), name
        assert after[cont]["override"] == "reject"
        assert post(p, CONT, "/echo?grown") == ("final", 417)
        assert post(p, "v69.test", "/echo") == ("100", 200)
        seg = h.ctl_json("stats")["segment"]
        assert seg["generation"] == gen + 1, \
            f"generation went from {gen} to {seg['generation']} across a graceful"
        ev_after = sorted(e["uri"] for e in events(h))
        assert ev_after[:3] == ev_before, \
            f"recent 417s lost by the graceful: {ev_before} -> {ev_after}"


# ---- 417s counted exactly under load across a graceful ----------------------

class LoadClient(threading.Thread):
    def __init__(self, port, n, stop):
        super().__init__()
        self.port, self.n, self.stop = port, n, stop
        self.got417 = []      # (time received, uri)
        self.other = []       # any other complete response
        self.errors = []      # no complete response: not a 417

    def run(self):
        i = 0
        while not self.stop.is_set():
            uri = f"/echo?t={self.n}&i={i}"
            i += 1
            try:
                c = Conn(self.port)
            except OSError as e:
                self.errors.append(("connect", uri, repr(e)))
                continue
            try:
                c.send(head(REJ, uri, ua=f"load-t{self.n}"))
                interims, resp = c.read_response()
            except (OSError, Closed, ValueError, IndexError) as e:
                self.errors.append(("exchange", uri, repr(e)))
                continue
            finally:
                c.close()
            if resp.status == 417 and not interims:
                self.got417.append((time.time(), uri))
            else:
                self.other.append((uri, interims, resp.status))


@pytest.mark.parametrize("mpm", ("prefork", "event", "worker"))
def test_417_total_exact_across_graceful_under_load(mpm):
    h = Httpd(CONF, mpm=mpm, loglevel="warn", name=f"load-{mpm}")
    with running(h):
        p = h.port
        rej = f"{REJ}:{p}"
        stop = threading.Event()
        clients = [LoadClient(p, n, stop) for n in range(4)]
        for c in clients:
            c.start()
        try:
            time.sleep(1.5)
            t_reload = time.time()
            h.reload("graceful")
            t_done = time.time()
            time.sleep(1.5)
        finally:
            stop.set()
            for c in clients:
                c.join()
        got = sorted(x for c in clients for x in c.got417)
        errors = [e for c in clients for e in c.errors]
        other = [o for c in clients for o in c.other]
        print(f"{mpm}: {len(got)} 417s received, {len(errors)} errors "
              f"{errors[:3]}, {len(other)} other responses")
        assert not other, other[:5]
        # The load really spanned the reload.
        assert sum(1 for t, _ in got if t < t_reload) > 50
        assert sum(1 for t, _ in got if t > t_done) > 50
        n = len(got)
        r = wait_for(h, lambda r: r[rej]["r417"]["total"] >= n
                     and r[rej]["rejected"] >= n, timeout=3.0)
        # Settle a little more: a surplus would show up late, too.
        time.sleep(0.3)
        r = rows(h)[rej]
        assert r["r417"]["total"] == n, \
            f"server counted {r['r417']['total']} 417s, clients received {n} " \
            f"({len(errors)} client errors)"
        assert r["r417"]["mod_expect"] == n
        if not errors:
            assert r["rejected"] == n and r["expect"] == n
        ev = events(h)
        assert len(ev) == min(1024, n)
        received = {u for _, u in got}
        assert all(e["uri"] in received for e in ev), \
            [e["uri"] for e in ev if e["uri"] not in received][:5]


# ---- the segment's lifetime: stop removes it, start replaces a stale one ----

def fresh_segment_checks(h):
    """The segment at the path is a new, private, zeroed one that this
    server's children count into."""
    st = os.lstat(h.shm)
    assert stat.S_ISREG(st.st_mode), "segment is not a regular file"
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    doc = h.ctl_json("stats")
    assert doc["segment"]["generation"] == 1
    r = {v["name"]: v for v in doc["vhosts"]}
    assert set(r) == {"main", f"{CONT}:{h.port}", f"{REJ}:{h.port}"}
    for name, row in r.items():
        assert row["override"] is None, name
        assert row["policy"] == row["configured_policy"], name
        assert row["expect"] == 0 and row["rejected"] == 0, name
        assert row["r417"]["total"] == 0 and row["last_417"] is None, name
    assert events(h) == []
    # Counting goes to this file.
    assert post(h.port, REJ, "/echo?fresh") == ("final", 417)
    assert post(h.port, CONT, "/echo?fresh") == ("100", 200)
    r = wait_for(h, lambda r: r[f"{REJ}:{h.port}"]["r417"]["total"] == 1)
    assert r[f"{REJ}:{h.port}"]["r417"]["total"] == 1
    assert r[f"{CONT}:{h.port}"]["continued"] == 1
    assert [e["uri"] for e in events(h)] == ["/echo?fresh"]


def make_traffic_and_override(h):
    for i in range(3):
        assert post(h.port, REJ, f"/echo?old={i}") == ("final", 417)
    assert post(h.port, CONT, "/echo?old") == ("100", 200)
    ctl_ok(h, "set", f"{CONT}:{h.port}", "ignore")
    wait_for(h, lambda r: r[f"{REJ}:{h.port}"]["r417"]["total"] == 3)


@pytest.mark.parametrize("mpm", MPMS)
def test_stop_removes_segment_and_start_clears_everything(mpm):
    h = Httpd(CONF, mpm=mpm, name=f"stopstart-{mpm}")
    try:
        start(h)
        assert os.path.isfile(h.shm)
        make_traffic_and_override(h)
        assert post(h.port, CONT, "/echo?overridden") == ("nothing", 200)
        h.stop()
        assert not os.path.exists(h.shm), "segment left behind at stop"
        assert not os.path.exists(h.shm + ".new")
        res = expectctl("stats", shm=h.shm)
        assert res.returncode == 3, (res.returncode, res.stderr)

        start(h)
        fresh_segment_checks(h)
        h.stop()
        assert not os.path.exists(h.shm)
        h.assert_clean_error_log()
    finally:
        h.cleanup()


STALE_KINDS = ["garbage", "empty", "leftover-segment", "symlink", "side-file"]


@pytest.mark.parametrize("mpm,kind", [("event", k) for k in STALE_KINDS]
                         + [("prefork", "garbage"), ("prefork", "leftover-segment")])
def test_stale_segment_replaced_at_start(mpm, kind):
    h = Httpd(CONF, mpm=mpm, name=f"stale-{mpm}-{kind}")
    victim = os.path.join(h.root, "victim")
    try:
        if kind == "leftover-segment":
            # A real segment with counts and an override, as a crash or a
            # kill -9 would leave it.
            start(h)
            make_traffic_and_override(h)
            saved = os.path.join(h.root, "saved.shm")
            shutil.copyfile(h.shm, saved)
            shutil.copyfile(h.shm + ".ctl", saved + ".ctl")  # the pair's control file
            h.stop()
            assert not os.path.exists(h.shm)
            shutil.copyfile(saved, h.shm)
            shutil.copyfile(saved + ".ctl", h.shm + ".ctl")
            os.chmod(h.shm, 0o600)
            os.chmod(h.shm + ".ctl", 0o600)
            # Nothing serves it: expectctl calls it stale (exit 3), names
            # the pid that served it last, and changes nothing.
            for args in (["stats", "--json"], ["set", "all", "reject"]):
                res = expectctl(*args, shm=h.shm)
                assert res.returncode == 3, res
                assert "stale segment: httpd pid" in res.stderr, res.stderr
                assert res.stdout == ""
        elif kind == "garbage":
            with open(h.shm, "wb") as f:
                f.write(os.urandom(20000))
            os.chmod(h.shm, 0o644)
            assert expectctl("stats", shm=h.shm).returncode == 5
        elif kind == "empty":
            open(h.shm, "wb").close()
        elif kind == "symlink":
            with open(victim, "w") as f:
                f.write("victim\n")
            os.symlink(victim, h.shm)
        elif kind == "side-file":
            # A half-built segment from a crash during creation, and a
            # symlink where the next one would be built.
            with open(h.shm + ".new", "wb") as f:
                f.write(b"MODEXPCT" + os.urandom(100))
            with open(victim, "w") as f:
                f.write("victim\n")
            os.symlink(victim, h.shm)
        before = os.lstat(h.shm).st_ino if os.path.lexists(h.shm) else None

        start(h)
        try:
            assert os.lstat(h.shm).st_ino != before
            assert not os.path.lexists(h.shm + ".new")
            fresh_segment_checks(h)
            if os.path.exists(victim):
                with open(victim) as f:
                    assert f.read() == "victim\n", "start wrote through a symlink"
        finally:
            h.stop()
        assert not os.path.lexists(h.shm), "segment left behind at stop"
        h.assert_clean_error_log()
    finally:
        h.cleanup()
