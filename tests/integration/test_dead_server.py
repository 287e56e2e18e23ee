# SPDX-License-Identifier: Apache-2.0
"""A dead server never reads as live (issue 20, item 5).

Where nothing reaps it (a container whose PID 1 never waits, a shell that
started httpd in the foreground), a parent killed with -9 stays a zombie:
its pid still answers kill(pid, 0), and /proc still shows its start time.
expectctl must read it as not running: exit 3, naming the pid, with
nothing on stdout.  The parent here is a small wrapper that starts httpd
with -DFOREGROUND as its child and never calls wait().
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from httpd_harness import APACHE2, MPMS, Httpd, expectctl, httpd_env

CONF = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName up.test
    DocumentRoot @ROOT@/htdocs
    ExpectPolicy continue
</VirtualHost>
"""

# Forks httpd, prints its pid, then sleeps without ever reaping it.
NO_REAP = """
import os, sys, time
pid = os.fork()
if pid == 0:
    # httpd's environment (a sanitizer runtime to preload), not this one's.
    env = dict(os.environ)
    if env.get("NO_REAP_LD_PRELOAD"):
        env["LD_PRELOAD"] = env.pop("NO_REAP_LD_PRELOAD")
    os.execve(sys.argv[1], sys.argv[1:], env)
print(pid, flush=True)
while True:
    time.sleep(3600)
"""


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def children_of(pid):
    """Pids whose parent is pid, or that an exited pid left behind."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def start_unreaped(h, timeout=20):
    """httpd in the foreground under a parent that never waits for it."""
    env = dict(os.environ, NO_REAP_LD_PRELOAD=(httpd_env() or {}).get("LD_PRELOAD", ""))
    wrapper = subprocess.Popen(
        [sys.executable, "-c", NO_REAP, APACHE2, "-d", h.root, "-f", h.conf,
         "-DFOREGROUND"], stdout=subprocess.PIPE, text=True, env=env)
    httpd_pid = int(wrapper.stdout.readline())
    deadline = time.time() + timeout
    while "resuming normal operations" not in h.read_error_log():
        if time.time() > deadline or wrapper.poll() is not None:
            raise RuntimeError(f"httpd did not come up\n{h.read_error_log()}")
        time.sleep(0.05)
    h.wait_listening()
    return wrapper, httpd_pid


@pytest.mark.parametrize("mpm", MPMS)
def test_a_zombie_parent_reads_as_not_running(mpm):
    h = Httpd(CONF, mpm=mpm, name=f"zombie-{mpm}")
    wrapper, pid, children = None, None, []
    try:
        wrapper, pid = start_unreaped(h)
        assert h.pid() == pid
        res = expectctl("stats", shm=h.shm)
        assert res.returncode == 0, res.stderr
        children = children_of(pid)
        assert children, "httpd started no children"
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while proc_state(pid) != "Z" and time.time() < deadline:
            time.sleep(0.02)
        # The point of the test: the pid is still there, and answers signals.
        assert proc_state(pid) == "Z"
        os.kill(pid, 0)
        for args in (["stats"], ["stats", "--json"], ["events"], ["policy"],
                     ["set", "all", "reject"], ["reset"]):
            res = expectctl(*args, shm=h.shm)
            assert res.returncode == 3, (args, res)
            assert f"httpd pid {pid}, which served it, is no longer running" \
                in res.stderr, (args, res.stderr)
            assert "zombie" in res.stderr, (args, res.stderr)
            assert res.stdout == "", (args, res.stdout)
    finally:
        # The children lost their parent; they would linger on their own.
        for c in children:
            try:
                os.kill(c, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if wrapper is not None:
            wrapper.kill()
            wrapper.wait()
        if pid is not None:
            deadline = time.time() + 10
            while proc_state(pid) is not None and time.time() < deadline:
                time.sleep(0.05)
        h.cleanup()
