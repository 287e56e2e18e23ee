# SPDX-License-Identifier: Apache-2.0
"""Building blocks of the mod_expect benchmark: server variants, load, timing.

Every server is a private Debian apache2 in its own mktemp -d ServerRoot on a
free loopback port (tests/integration/httpd_harness.Httpd does the lifecycle);
the configuration is written here so that every variant is byte-for-byte the
same except for the lines that define the variant.
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from httpd_harness import (APACHE2, MODDIR, Httpd, expectctl_path,  # noqa: E402
                           module_path)

SMALL = "small.html"
SMALL_BODY = ("<html><body>mod_expect bench, a small static file"
              "</body></html>\n").ljust(128, " ")
POST_BODY = "x" * 64          # what a POST with Expect carries in the load tests

# The variants.  "mods" are extra LoadModules, "expect" says whether
# mod_expect is loaded, "conf" is what follows the shared base.
VARIANTS = {
    # --- issue item 1: overhead on stock traffic -------------------------
    "stock": dict(expect=False, mods=(), conf=""),
    # (b) policy continue; statistics are always on, no event ring
    "expect-continue": dict(expect=True, mods=(), conf=(
        "ExpectPolicy continue\nExpectEventSlots 0\n")),
    # (c) statistics and the 1024-slot event ring (the default)
    "expect-stats-events": dict(expect=True, mods=(), conf=(
        "ExpectPolicy continue\nExpectEventSlots 1024\n")),
    # --- issue item 2: the reject path and the alternatives --------------
    # judged in fixups, the default: after walks and access checks
    "expect-reject": dict(expect=True, mods=(), conf=(
        "ExpectPolicy reject\nExpectEventSlots 1024\n")),
    # the same without the event record, to show what recording costs
    "expect-reject-noevents": dict(expect=True, mods=(), conf=(
        "ExpectPolicy reject\nExpectEventSlots 0\n")),
    # ExpectJudge early: judged in translate_name, like a server-context
    # mod_rewrite rule
    "expect-reject-early": dict(expect=True, mods=(), conf=(
        "ExpectJudge early\nExpectPolicy reject\nExpectEventSlots 1024\n")),
    # mod_rewrite in server context answers in translate_name: the like for
    # like of expect-reject-early
    "rewrite": dict(expect=False, mods=("rewrite",), conf=(
        "RewriteEngine On\n"
        "RewriteCond %{HTTP:Expect} 100-continue [NC]\n"
        "RewriteRule ^ - [R=417,L]\n")),
    # mod_rewrite per directory answers in fixups: the like for like of
    # expect-reject, with <If> and ModSecurity
    "rewrite-fixups": dict(expect=False, mods=("rewrite",), conf=(
        "<Location />\n"
        "    RewriteEngine On\n"
        "    RewriteCond %{HTTP:Expect} 100-continue [NC]\n"
        "    RewriteRule ^ - [R=417,L]\n"
        "</Location>\n")),
    "if": dict(expect=False, mods=(), conf=(
        '<If "%{HTTP:Expect} =~ /100-continue/i">\n'
        "    Redirect 417\n"
        "</If>\n")),
    # Debian's security2.load declares "Depends: unique_id": a2enmod
    # security2 enables both, so both are loaded here.
    "modsecurity": dict(expect=False, mods=("unique_id", "security2"), conf=(
        "SecRuleEngine On\n"
        "SecRequestBodyAccess Off\n"
        "SecResponseBodyAccess Off\n"
        "SecAuditEngine Off\n"
        "SecStatusEngine Off\n"
        "SecTmpDir @ROOT@/tmp\n"
        "SecDataDir @ROOT@/tmp\n"
        'SecRule REQUEST_HEADERS:Expect "@rx (?i)100-continue" '
        '"id:1000,phase:1,deny,status:417,nolog,noauditlog"\n')),
}


def module_file(name):
    if name == "security2":
        return f"{MODDIR}/mod_security2.so"
    return f"{MODDIR}/mod_{name}.so"


def vhosts_conf(n, port, directive=""):
    """n-1 name-based vhosts after the main server (n servers in all)."""
    out = []
    inner = f"    {directive}\n" if directive else ""
    for i in range(1, n):
        out.append(f"<VirtualHost 127.0.0.1:{port}>\n"
                   f"    ServerName v{i}.bench\n"
                   f"{inner}"
                   f"</VirtualHost>\n")
    return "".join(out)


class Server:
    """One private httpd of a variant."""

    def __init__(self, variant, mpm="event", extra="", vhosts=1, vhost_directive=""):
        v = VARIANTS[variant]
        self.variant = variant
        # The same name for every variant: the length of the paths in the
        # config changes the instructions httpd spends on each request.
        self.h = Httpd(body="", mpm=mpm, load_expect=False, loglevel="warn",
                       name="bench")
        root, port = self.h.root, self.h.port
        self.root, self.port = root, port
        with open(os.path.join(self.h.htdocs, SMALL), "w") as f:
            f.write(SMALL_BODY)
        os.makedirs(os.path.join(self.h.htdocs, "reject"))
        with open(os.path.join(self.h.htdocs, "reject", SMALL), "w") as f:
            f.write(SMALL_BODY)
        os.makedirs(os.path.join(root, "tmp"))
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        lines = [
            f"ServerRoot {root}",
            f"LoadModule mpm_{mpm}_module {MODDIR}/mod_mpm_{mpm}.so",
            f"LoadModule authz_core_module {MODDIR}/mod_authz_core.so",
            f"LoadModule mime_module {MODDIR}/mod_mime.so",
            f"LoadModule alias_module {MODDIR}/mod_alias.so",
        ]
        for m in v["mods"]:
            lines.append(f"LoadModule {m}_module {module_file(m)}")
        if v["expect"]:
            lines.append(f"LoadModule expect_module {module_path()}")
        lines += [
            f"Listen 127.0.0.1:{port}",
            f"PidFile {self.h.pidfile}",
            f"DefaultRuntimeDir {self.h.logs}",
            f"ErrorLog {self.h.error_log}",
            "LogLevel warn",
            "ServerName localhost",
            f"DocumentRoot {self.h.htdocs}",
            "TypesConfig /etc/mime.types",
            "KeepAlive On",
            "MaxKeepAliveRequests 0",
            "KeepAliveTimeout 5",
            "Timeout 10",
            # As Debian's apache2.conf: every request merges these two.
            "<Directory />",
            "    Options FollowSymLinks",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
            f"<Directory {self.h.htdocs}>",
            "    Options FollowSymLinks",
            "    AllowOverride None",
            "    Require all granted",
            "</Directory>",
        ]
        if os.geteuid() == 0:
            lines += ["User nobody", "Group nogroup"]
        if mpm == "prefork":
            lines += ["StartServers 1", "MinSpareServers 1", "MaxSpareServers 4"]
        else:
            # One child: nothing differs between runs but the variant.
            lines += ["StartServers 1", "ServerLimit 1", "ThreadsPerChild 64",
                      "MinSpareThreads 1", "MaxSpareThreads 64",
                      "MaxRequestWorkers 64", "ThreadLimit 64"]
        self.h.base = "\n".join(lines) + "\n"
        body = v["conf"].replace("@ROOT@", root) + extra
        if vhosts > 1:
            body += vhosts_conf(vhosts, port, vhost_directive)
        self.h.write_config(body)
        self.conf = self.h.conf

    def start(self):
        t0 = time.monotonic()
        self.h.start(timeout=120)
        self.startup = time.monotonic() - t0
        if PIN:
            self.pin(SERVER_CPU)
        return self

    def pin(self, cpu):
        """Every thread of the server onto one CPU (children forked later
        inherit it from the parent)."""
        for _, tid in self.threads():
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except OSError:
                pass

    def stop(self):
        self.h.stop()

    def cleanup(self):
        self.h.cleanup()

    def pids(self):
        """The parent and its children."""
        parent = self.h.pid()
        out = [parent] if parent else []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            if int(st.rsplit(")", 1)[1].split()[1]) == parent:
                out.append(int(d))
        return out

    def threads(self):
        """(pid, tid) of every thread of the parent and its children."""
        for pid in self.pids():
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                yield pid, tid

    def cpu_ns(self):
        """CPU time the server's threads have run, in ns (schedstat)."""
        total = 0
        for pid, tid in self.threads():
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
        return total

    def url(self, path="/" + SMALL):
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def shm(self):
        return self.h.shm

    def error_log(self):
        return self.h.read_error_log()


# ----------------------------------------------------------------- wrk


LUA_DIR = HERE

# wrk on one CPU and the server on another: the two no longer take turns on
# the same core at the scheduler's whim, which is most of the round-to-round
# noise of a 2-core machine.  BENCH_PIN=0 turns it off.
PIN = (os.environ.get("BENCH_PIN", "1") != "0" and hasattr(os, "sched_setaffinity")
       and len(os.sched_getaffinity(0)) >= 2)
if PIN:
    _cpus = sorted(os.sched_getaffinity(0))
    CLIENT_CPU, SERVER_CPU = _cpus[0], _cpus[1]


def wrk(url, seconds, threads, conns, script=None, env=None):
    """Run wrk; return a dict with requests/s of final responses."""
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s"]
    if PIN:
        cmd = ["taskset", "-c", str(CLIENT_CPU)] + cmd
    if script:
        cmd += ["-s", os.path.join(LUA_DIR, script)]
    cmd.append(url)
    res = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=seconds + 60, env=env)
    out = res.stdout
    if res.returncode != 0:
        raise RuntimeError(f"wrk failed: {res.stderr}\n{out}")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    total = int(m.group(1))
    dur = float(m.group(2)) * {"s": 1, "ms": 1e-3, "us": 1e-6, "m": 60}[m.group(3)]
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                     r"timeout (\d+)", out)
    finals = re.search(r"^finals (\d+)$", out, re.M)
    statuses = re.search(r"^statuses (.*)$", out, re.M)
    r = {"rps": rps, "total": total, "seconds": dur,
         "errors": [int(x) for x in errs.groups()] if errs else [0, 0, 0, 0],
         "raw": out}
    if finals:
        # The script counted final (non-1xx) responses itself: wrk counts a
        # 100 Continue as a response of its own.
        r["finals"] = int(finals.group(1))
        r["rps"] = int(finals.group(1)) / dur
    if statuses:
        r["statuses"] = statuses.group(1)
    return r


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# ----------------------------------------------------------------- raw client


def recv_response(sock, buf=b""):
    """Read one final response (skipping 1xx); return (status, rest, closed)."""
    while True:
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                raise ConnectionError("closed before a response")
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        if 100 <= status < 200:
            continue
        length = 0
        close = False
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                length = int(v.strip())
            elif k == b"connection" and b"close" in v.lower():
                close = True
        while len(buf) < length:
            d = sock.recv(65536)
            if not d:
                raise ConnectionError("closed in the body")
            buf += d
        return status, buf[length:], close


def request_bytes(kind, host="localhost"):
    """The requests of the callgrind runs, headers in curl 7.88's order."""
    head = (f"Host: {host}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n")
    if kind == "noexpect":
        return f"GET /{SMALL} HTTP/1.1\r\n{head}\r\n".encode()
    if kind == "body":
        # An upload without Expect: what retry tracking looks at.
        return (f"POST /{SMALL} HTTP/1.1\r\n{head}"
                f"Content-Length: {len(POST_BODY)}\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n{POST_BODY}").encode()
    if kind in ("continue", "reject"):
        path = f"/{SMALL}" if kind == "continue" else f"/reject/{SMALL}"
        return (f"POST {path} HTTP/1.1\r\n{head}"
                f"Content-Length: {len(POST_BODY)}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Expect: 100-continue\r\n\r\n{POST_BODY}").encode()
    raise ValueError(kind)


def send_requests(port, kind, n, host="localhost", expect_status=None):
    """Send n requests of a kind; keep-alive while the server allows it."""
    req = request_bytes(kind, host)
    sock = None
    buf = b""
    statuses = {}
    for _ in range(n):
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            buf = b""
        sock.sendall(req)
        status, buf, close = recv_response(sock, buf)
        statuses[status] = statuses.get(status, 0) + 1
        if close:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    if expect_status is not None and set(statuses) != {expect_status}:
        raise RuntimeError(f"{kind}: expected only {expect_status}, got {statuses}")
    return statuses


def machine_info():
    info = {"nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            info["cpu"] = m.group(1).strip() if m else "?"
    except OSError:
        info["cpu"] = "?"
    info["kernel"] = os.uname().release
    v = subprocess.run([APACHE2, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"Server version:\s*(.*)", v)
    info["httpd"] = m.group(1).strip() if m else "?"
    m = re.search(r"Server compiled with\.*\n(?:.*\n)*?", v)
    apr = re.search(r"Server loaded:\s*APR ([\d.]+), APR-UTIL ([\d.]+)", v)
    info["apr"] = f"APR {apr.group(1)}, APR-util {apr.group(2)}" if apr else "?"
    for tool, args in (("wrk", ["-v"]), ("valgrind", ["--version"]),
                       ("curl", ["--version"]), ("hyperfine", ["--version"])):
        try:
            out = subprocess.run([tool] + args, capture_output=True, text=True)
            info[tool] = (out.stdout or out.stderr).splitlines()[0].strip()
        except (OSError, IndexError):
            info[tool] = "missing"
    try:
        with open("/proc/loadavg") as f:
            info["loadavg"] = f.read().split()[:3]
    except OSError:
        pass
    return info
