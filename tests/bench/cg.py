# SPDX-License-Identifier: Apache-2.0
"""Deterministic per-request instruction counts with callgrind.

One `valgrind --tool=callgrind apache2 -X` (prefork, one process, one
thread) per server configuration.  The phases of a run are separated by
marker requests: `OPTIONS /small.html` is answered by core's default handler
through ap_send_http_options(), which no other request reaches, and callgrind
runs with --dump-before=ap_send_http_options, so each marker writes (and
zeroes) a profile.  A profile between two markers holds the K requests sent
in between plus exactly one marker request's worth of work (the tail of the
previous marker and the head of the next); an empty phase measures that
constant, which is subtracted:

    per request = (phase - empty) / K

Warm-up requests of every kind come first (lazy symbol binding, first-use
allocations), so the counts are steady-state.
"""
import collections
import os
import signal
import socket
import subprocess
import time

import benchlib as B

MARKER_FN = "ap_send_http_options"


class Profile:
    """One callgrind dump: totals by function, and calls into one object."""

    def __init__(self, path, into_obj=None):
        self.total = None
        self.self = collections.Counter()    # fn -> exclusive Ir
        self.incl = collections.Counter()    # callee fn -> Ir of calls to it
        self.calls = collections.Counter()   # callee fn -> number of calls
        # Calls from outside into_obj to a function inside it: the entry
        # points httpd (hooks, config merges) calls, callee -> (Ir, calls).
        self.entry = collections.Counter()
        self.entry_calls = collections.Counter()
        self.entry_callers = collections.defaultdict(set)
        self.edges = collections.Counter()   # (caller, callee) -> Ir
        self._parse(path, into_obj)

    def _parse(self, path, into_obj):
        names = {}

        def name_of(spec):
            spec = spec.strip()
            if spec.startswith("("):
                idx, _, rest = spec.partition(")")
                rest = rest.strip()
                if rest:
                    names[idx] = rest
                return names.get(idx, spec)
            return spec

        ob = cur = cfn = cob = None
        cur_ob = None
        pending = None
        with open(path, errors="replace") as f:
            for line in f:
                if line == "\n":
                    continue
                c = line[0]
                if c.isdigit() or c in "+-*":
                    parts = line.split()
                    cost = int(parts[1]) if len(parts) > 1 else 0
                    if pending is not None:
                        callee, n, callee_ob = pending
                        self.incl[callee] += cost
                        self.calls[callee] += n
                        self.edges[(cur, callee)] += cost
                        if (into_obj and callee_ob and callee_ob.endswith(into_obj)
                                and not (cur_ob or "").endswith(into_obj)):
                            self.entry[callee] += cost
                            self.entry_calls[callee] += n
                            self.entry_callers[callee].add(cur)
                        pending = None
                    else:
                        self.self[cur] += cost
                    continue
                if line.startswith("ob="):
                    ob = name_of(line[3:])
                elif line.startswith("fn="):
                    cur = name_of(line[3:])
                    cur_ob = ob
                elif line.startswith("cob="):
                    cob = name_of(line[4:])
                elif line.startswith("cfn="):
                    cfn = name_of(line[4:])
                elif line.startswith("calls="):
                    pending = (cfn, int(line[6:].split()[0]), cob or cur_ob)
                    cob = None
                elif line.startswith("summary:") or line.startswith("totals:"):
                    self.total = int(line.split(":", 1)[1].split()[0])
        if self.total is None:
            self.total = sum(self.self.values())


def per_request(d, e, k):
    """(phase d - empty phase e) / k, for every counter."""
    def sub(a, b):
        return {f: (a[f] - b[f]) / k for f in set(a) | set(b)}
    return {
        "total": (d.total - e.total) / k,
        "self": sub(d.self, e.self),
        "incl": sub(d.incl, e.incl),
        "calls": sub(d.calls, e.calls),
        "edges": sub(d.edges, e.edges),
        "entry": sub(d.entry, e.entry),
        "entry_calls": sub(d.entry_calls, e.entry_calls),
        "entry_callers": {f: sorted(d.entry_callers[f]) for f in d.entry_callers},
    }


def send_marker(port):
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(f"OPTIONS /{B.SMALL} HTTP/1.1\r\nHost: localhost\r\n"
                  "Connection: close\r\n\r\n".encode())
        status, _, _ = B.recv_response(s)
        while s.recv(65536):
            pass
    if status != 200:
        raise RuntimeError(f"marker OPTIONS got {status}")


def profile(variant, kinds, k=100, warmup=10, extra="", vhosts=1, host="localhost",
            keep=False, vhost_directive=""):
    """Profile kinds (list of (label, request kind, expected status[, Host])).

    Returns {label: {"total": Ir/request, "self": {...}, "incl": {...},
    "calls": {...}}} with every number per request, plus "_startup" (s).
    """
    srv = B.Server(variant, mpm="prefork", extra=extra, vhosts=vhosts,
                   vhost_directive=vhost_directive)
    # httpd -X still drops to User nobody before the first request.
    outdir = os.path.join(srv.root, "callgrind")
    os.makedirs(outdir)
    os.chmod(outdir, 0o1777)
    out = os.path.join(outdir, "cg.out")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           f"--dump-before={MARKER_FN}", "--dump-instr=no",
           "--compress-strings=no", "--compress-pos=no", "--vgdb=no",
           B.APACHE2, "-X", "-d", srv.root, "-f", srv.conf]
    log = open(os.path.join(srv.root, "valgrind.log"), "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    result = {}
    try:
        # The port is bound before post_config; a request waits in the backlog.
        deadline = time.time() + 600
        while True:
            try:
                socket.create_connection(("127.0.0.1", srv.port), 1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("callgrind httpd did not start: "
                                       + open(log.name).read()[-2000:])
                time.sleep(0.1)
        for label, kind, status, *kh in kinds:
            B.send_requests(srv.port, kind, warmup, host=kh[0] if kh else host,
                            expect_status=status)
        send_marker(srv.port)                  # dump 1: startup + warm-up
        result["_startup"] = time.monotonic() - t0
        send_marker(srv.port)                  # dump 2: empty phase
        send_marker(srv.port)                  # dump 3: empty phase, again
        for _, kind, status, *kh in kinds:     # dumps 4..: one per kind
            B.send_requests(srv.port, kind, k, host=kh[0] if kh else host,
                            expect_status=status)
            send_marker(srv.port)
    finally:
        # Every dump needed is written before the marker is answered, and a
        # SIGTERM can sit unnoticed while valgrind's httpd blocks in accept().
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        log.close()
    dumps = [f"{out}.{i}" for i in range(1, 4 + len(kinds))]
    for d in dumps:
        if not os.path.exists(d):
            raise RuntimeError(f"missing callgrind dump {d}: "
                               + open(log.name).read()[-2000:])
    obj = os.path.basename(B.module_path())
    e1 = Profile(dumps[1], obj)
    e2 = Profile(dumps[2], obj)
    result["_empty_drift"] = abs(e1.total - e2.total)
    for i, (label, *_) in enumerate(kinds):
        result[label] = per_request(Profile(dumps[3 + i], obj), e2, k)
    if keep:
        result["_root"] = srv.root
    else:
        srv.cleanup()
    return result


RUNNERS_PREFIX = "ap_run_"


def module_cost(with_mod, stock, label, dispatch_from="noexpect"):
    """Instructions mod_expect adds to a request of kind label.

    hooks:    inclusive cost of every call httpd's hook runners (ap_run_*)
              make into mod_expect.so: fixups, handler, log_transaction
    dispatch: the runners' own extra work for the module's hooks: their
              exclusive cost with the module minus without, taken from the
              no-Expect phase, where every other hook runs the same way
    merge:    the module's per-directory config merges on this request
              (only where a section holds an Expect* directive)
    whole:    total instructions per request with the module minus the same
              request on stock httpd (needs the same kind in both runs)
    """
    m = with_mod[label]
    hooks, merge, by_fn = 0.0, 0.0, {}
    runners = set()
    for fn, ir in m["entry"].items():
        if not ir:
            continue
        callers = m["entry_callers"].get(fn, [])
        by_fn[fn] = (ir, m["entry_calls"].get(fn, 0))
        if any(c and c.startswith(RUNNERS_PREFIX) for c in callers):
            hooks += ir
            runners.update(c for c in callers if c and c.startswith(RUNNERS_PREFIX))
        else:
            merge += ir
    ref, st = with_mod[dispatch_from], stock[dispatch_from]
    for fn in ref["entry_callers"]:
        runners.update(c for c in ref["entry_callers"][fn]
                       if c and c.startswith(RUNNERS_PREFIX))
    dispatch = sum(ref["self"].get(r, 0) - st["self"].get(r, 0) for r in runners)
    whole = m["total"] - stock[label]["total"] if label in stock else None
    return {"hooks": hooks, "dispatch": dispatch, "merge": merge,
            "budgeted": hooks + dispatch + merge, "by_fn": by_fn,
            "runners": sorted(runners), "whole_delta": whole}
