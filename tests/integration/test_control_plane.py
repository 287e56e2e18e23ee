# SPDX-License-Identifier: Apache-2.0
"""A control plane that never lies (issue 12): expectctl never presents a
segment no running httpd serves, a bad ExpectShmFile never takes a server
down, set reaches the configuration that serves, a damaged statistics file
does not lock root out, every vhost has its own row, --follow survives a
rebuild, and two builds of different layouts refuse each other's segment.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from httpd_harness import MPMS, Httpd, expectctl, expectctl_path, module_path, serving
from testlib import upload, vhost

CONF = "\n" + vhost("up.test", "ExpectPolicy continue") + vhost("rej.test", "ExpectPolicy reject")


def upload_status(h, host="up.test"):
    """Status of an upload with Expect: 100-continue (417 before the body)."""
    return upload(h.port, host)


def without_module(h):
    """The same configuration with mod_expect's LoadModule and directives gone."""
    base = "\n".join(line for line in h.base.splitlines()
                     if "expect_module" not in line).replace(" expect:debug", "") + "\n"
    body = "\n".join(line for line in h.body.splitlines()
                     if not line.strip().startswith("Expect")) + "\n"
    return base, body


def assert_stale(h, *why):
    for args in (["stats"], ["events"], ["policy"], ["set", "all", "reject"], ["reset"]):
        res = expectctl(*args, shm=h.shm)
        assert res.returncode == 3, (args, res)
        assert "stale segment" in res.stderr or "no segment" in res.stderr \
            or "no control file" in res.stderr, res.stderr
        for w in why:
            assert w in res.stderr, (args, res.stderr)
        assert res.stdout == "", res.stdout


# ---- 1. a stale segment never reads as live --------------------------------

def test_graceful_restart_without_the_module_leaves_a_stale_segment():
    h = Httpd(CONF, name="stale-graceful")
    with serving(h):
        assert expectctl("stats", shm=h.shm).returncode == 0
        pid = h.pid()
        h.base, h.body = without_module(h)
        h.write_config()
        h.reload("graceful")
        assert os.path.exists(h.shm)   # nothing could remove it
        assert_stale(h, f"httpd pid {pid} began a restart")
        # set refused: the rejecting vhost has no module, the upload goes on
        assert upload_status(h, "rej.test") == 200
        h.stop()
        # The parent is gone now: still stale, now for that reason.
        assert_stale(h, f"httpd pid {pid}, which served it, is no longer running")


def test_stop_removes_the_segment():
    h = Httpd(CONF, name="stale-stop")
    with serving(h):
        assert expectctl("policy", shm=h.shm).returncode == 0
        h.stop()
        assert not os.path.exists(h.shm)
        res = expectctl("stats", shm=h.shm)
        assert res.returncode == 3 and "no segment there" in res.stderr, res


@pytest.mark.parametrize("mpm", MPMS)
def test_kill_9_of_the_parent_leaves_a_stale_segment(mpm):
    h = Httpd(CONF, mpm=mpm, name=f"stale-kill-{mpm}")
    try:
        h.start()
        assert expectctl("stats", shm=h.shm).returncode == 0
        pid = h.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
            time.sleep(0.05)
        assert_stale(h, f"httpd pid {pid}, which served it, is no longer running")
    finally:
        # The orphaned children exit once they notice; make sure they do.
        subprocess.run(["pkill", "-9", "-f", h.conf], check=False)
        h.cleanup()


@pytest.mark.parametrize("mpm", MPMS)
def test_restart_still_reads_as_live(mpm):
    h = Httpd(CONF, mpm=mpm, name=f"live-restart-{mpm}")
    with serving(h):
        for how in ("restart", "graceful"):
            h.reload(how)
            res = expectctl("stats", "--json", shm=h.shm)
            assert res.returncode == 0, res.stderr
            assert expectctl("set", "up.test:" + str(h.port), "reject",
                             shm=h.shm).returncode == 0
            assert upload_status(h) == 417
            assert expectctl("set", "all", "default", shm=h.shm).returncode == 0


# ---- 2 and 3. ExpectShmFile: checked at -t, never fatal at run time ---------

def configtest_with_shm(path_of, prepare):
    h = Httpd("", name="shmdir")
    try:
        target = path_of(h)
        prepare(h, os.path.dirname(target))
        h.write_config(f"ExpectShmFile {target}\n")
        return h.configtest()
    finally:
        h.cleanup()


@pytest.mark.parametrize("kind,needle", [
    ("missing", "does not exist"),
    ("file", "is not a directory"),
    ("sticky-world-writable", "writable by every user (mode 1777)"),
    ("group-writable", "writable by its group (mode 0775)"),
])
def test_bad_shm_directory_fails_configtest(kind, needle):
    def prepare(h, d):
        if kind == "missing":
            return
        if kind == "file":
            with open(d, "w") as f:
                f.write("x")
            return
        os.makedirs(d)
        os.chmod(d, 0o1777 if kind == "sticky-world-writable" else 0o775)

    res = configtest_with_shm(lambda h: os.path.join(h.root, "seg", "x.shm"), prepare)
    assert res.returncode != 0, res.stderr
    assert "ExpectShmFile" in res.stderr and needle in res.stderr, res.stderr
    assert "/seg" in res.stderr, res.stderr


@pytest.mark.parametrize("planted", ["PATH.new", "PATH", "PATH.ctl", "PATH.ctl.new"])
def test_planted_directory_costs_statistics_not_service(planted):
    h = Httpd(CONF, name="planted")
    try:
        os.makedirs(planted.replace("PATH", h.shm))
        h.start()
        log = h.read_error_log()
        assert "EXP0010: cannot create the statistics segment" in log, log
        assert "without statistics" in log
        # The policies hold: continue and reject as configured.
        assert upload_status(h, "up.test") == 200
        assert upload_status(h, "rej.test") == 417
        res = expectctl("stats", shm=h.shm)
        assert res.returncode == 3, res
    finally:
        h.cleanup()


def test_failed_rebuild_at_graceful_keeps_serving_and_retires_the_old_segment():
    h = Httpd(CONF, name="rebuild-fails")
    with serving(h, allowed_errors=("EXP0010",)):
        assert expectctl("stats", shm=h.shm).returncode == 0
        pid = h.pid()
        os.makedirs(h.shm + ".new")         # the rebuild needs this name
        h.write_config(CONF + "ExpectEventSlots 7\n")   # forces a rebuild
        h.reload("graceful")
        assert h.pid() == pid
        assert "EXP0010" in h.read_error_log()
        assert upload_status(h, "rej.test") == 417
        assert_stale(h, "stopped serving it")


# ---- 4. set all during graceful restarts reaches every vhost --------------

MANY = 3000


def many_vhosts():
    return "".join(f"<VirtualHost 127.0.0.1:@PORT@>\n    ServerName v{i}.test\n"
                   f"</VirtualHost>\n" for i in range(MANY))


def test_set_all_during_graceful_restarts_reaches_every_vhost():
    """Each round sends a graceful restart that rebuilds the segment (a new
    ExpectEventSlots) and, while it runs, `set all`.  set either exits 0 and
    every vhost of the configuration that serves carries the override, or it
    fails and says so.  Bounded: 4 rounds."""
    body = many_vhosts()
    h = Httpd(body, name="setall", loglevel="warn")
    with serving(h):
        for rnd in range(4):
            value = ["reject", "ignore"][rnd % 2]
            h.write_config(body + f"ExpectEventSlots {1000 + rnd}\n")
            out = {}

            def do_set():
                time.sleep(0.05 * rnd)
                out["res"] = expectctl("set", "all", value, shm=h.shm, timeout=120)

            t = threading.Thread(target=do_set)
            before = h._generations()
            h.ctl("-k", "graceful")
            t.start()
            t.join(150)
            deadline = time.time() + 60
            while h._generations() <= before and time.time() < deadline:
                time.sleep(0.05)
            res = out["res"]
            pol = expectctl("policy", shm=h.shm, timeout=120)
            assert pol.returncode == 0, pol.stderr
            lines = pol.stdout.splitlines()
            assert len(lines) == MANY + 1
            if res.returncode == 0:
                missing = [ln for ln in lines if f"override={value}" not in ln]
                assert not missing, f"round {rnd}: {len(missing)} without the " \
                    f"override, e.g. {missing[:3]}"
            else:
                assert res.returncode == 1 and "run the command again" in res.stderr, res


# ---- 5. a damaged statistics file does not lock root out --------------------

@pytest.mark.parametrize("damage", ["magic", "ring_slots"])
def test_damaged_statistics_file_leaves_the_control_plane(damage):
    h = Httpd(CONF, name=f"damaged-{damage}")
    with serving(h):
        with open(h.shm, "r+b") as f:
            if damage == "magic":
                f.write(b"GARBAGE!")
            else:
                f.seek(52)      # ring_slots in the statistics header
                f.write((0xFFFFFFF0).to_bytes(4, "little"))
        for args in (["stats"], ["events"]):
            res = expectctl(*args, shm=h.shm)
            assert res.returncode == 5, res
            assert "damaged" in res.stderr or "bad magic" in res.stderr \
                or "implausible" in res.stderr, res.stderr
        res = expectctl("policy", shm=h.shm)
        assert res.returncode == 0 and "rej.test" in res.stdout, res
        assert expectctl("set", f"up.test:{h.port}", "reject", shm=h.shm).returncode == 0
        assert upload_status(h, "up.test") == 417
        assert expectctl("reset", shm=h.shm).returncode == 0
        assert expectctl("set", "all", "default", shm=h.shm).returncode == 0
        assert upload_status(h, "up.test") == 200


# ---- 6. every vhost has its own row ----------------------------------------

LONG_A = "a" * 120 + "-one.test"
LONG_B = "a" * 120 + "-two.test"
NAMES_CONF = "\n" + "".join((
    vhost("same.test", "ExpectPolicy reject", docroot=False, echo=False),
    vhost("same.test", "ExpectPolicy ignore", docroot=False, echo=False),
    vhost(LONG_A, "ExpectPolicy reject", docroot=False),
    vhost(LONG_B, "ExpectPolicy continue", docroot=False)))


def test_every_vhost_gets_its_own_row():
    h = Httpd(NAMES_CONF, name="names")
    with serving(h):
        p = h.port
        names = [v["name"] for v in h.ctl_json("stats")["vhosts"]]
        assert len(names) == len(set(names)) == 5, names
        same = sorted(n for n in names if n.startswith(f"same.test:{p}"))
        # Where even the address is the same: a number among those two only,
        # which another vhost added in between does not change.
        assert same == [f"same.test:{p}", f"same.test:{p}~2"], same
        longs = [n for n in names if n.startswith("aaaa")]
        assert len(longs) == 2 and all(len(n) == 127 and "~" in n for n in longs), longs
        # An ambiguous name is refused, with the candidates.
        res = expectctl("set", "same.test", "continue", shm=h.shm)
        assert res.returncode == 1 and "ambiguous" in res.stderr, res
        assert same[0] in res.stderr and same[1] in res.stderr
        # The full long name reaches its own row, not the other's.
        res = expectctl("set", f"{LONG_B}:{p}", "reject", shm=h.shm)
        assert res.returncode == 0, res
        pol = {ln.split()[0]: ln for ln in
               expectctl("policy", shm=h.shm).stdout.splitlines()}
        overridden = [n for n, ln in pol.items() if "override=reject" in ln]
        assert len(overridden) == 1 and overridden[0] in longs, pol
        # Counters land on the row of the vhost that served.
        assert upload_status(h, LONG_A) == 417
        rows = {v["name"]: v for v in h.ctl_json("stats")["vhosts"]}
        counts = sorted(rows[n]["r417"]["total"] for n in longs)
        assert counts == [0, 1], counts
        # The event names the row as stats does, long names included.
        ev = json.loads(expectctl("events", "--json", shm=h.shm).stdout)["events"]
        assert [e["vhost"] for e in ev] == [n for n in longs if rows[n]["r417"]["total"]]
        # Another vhost added before and between them moves nothing: each
        # override stays with the vhost it was set on.
        assert expectctl("set", same[1], "reject", shm=h.shm).returncode == 0
        before = {ln.split()[0]: ln for ln in
                  expectctl("policy", shm=h.shm).stdout.splitlines()}
        other = "<VirtualHost 127.0.0.1:@PORT@>\n    ServerName other.test\n</VirtualHost>\n"
        h.write_config(other + NAMES_CONF.replace("</VirtualHost>\n", "</VirtualHost>\n"
                                                  + other, 1))
        h.reload("graceful")
        after = {ln.split()[0]: ln for ln in
                 expectctl("policy", shm=h.shm).stdout.splitlines()}
        for name in (overridden[0], *same):
            assert after[name] == before[name], (name, after)
        assert "override=reject" in after[same[1]]


# ---- 7. events --follow goes on after a rebuild -----------------------------

def test_follow_reattaches_after_rebuild_and_restart():
    h = Httpd(CONF, name="follow")
    with serving(h):
        f = subprocess.Popen([expectctl_path(), "-s", h.shm,
                              "events", "--follow", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(
            ln for ln in f.stdout if ln.strip()), daemon=True)
        reader.start()
        def shown(n):
            deadline = time.time() + 15
            while len(lines) < n and time.time() < deadline:
                time.sleep(0.1)
            assert len(lines) == n, lines

        try:
            time.sleep(0.5)
            assert upload_status(h, "rej.test") == 417
            shown(1)
            # A rebuild: another ExpectEventSlots.
            h.write_config(CONF + "ExpectEventSlots 9\n")
            h.reload("graceful")
            assert upload_status(h, "rej.test") == 417
            shown(2)
            # A stop and a start: new files again.
            h.stop()
            h.start()
            assert upload_status(h, "rej.test") == 417
            shown(3)
            assert all(json.loads(ln)["vhost"].startswith("rej.test") for ln in lines)
        finally:
            f.terminate()
            f.wait(timeout=10)
            reader.join(5)
            err = f.stderr.read()
        assert err.count("was rebuilt") == 2, err


# ---- 10. upgrades: two builds, two layouts ----------------------------------

@pytest.fixture(scope="module")
def other_layout_build():
    """A copy of the tree built with another segment layout version."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    work = tempfile.mkdtemp(prefix="mod_expect-layout99-")
    for d in ("mod_expect", "expectctl"):
        shutil.copytree(os.path.join(top, d), os.path.join(work, d),
                        ignore=shutil.ignore_patterns("*.o", "*.a", "*.so", "expectctl"))
    shutil.copy(os.path.join(top, "Makefile"), work)
    os.chmod(work, 0o755)
    subprocess.run(["make", "-s", "-C", work, "EXTRA_CFLAGS=-DEXPECT_SHM_LAYOUT_VERSION=99u",
                    "mod_expect/mod_expect.so", "expectctl/expectctl"], check=True,
                   capture_output=True)
    yield (os.path.join(work, "mod_expect", "mod_expect.so"),
           os.path.join(work, "expectctl", "expectctl"))
    shutil.rmtree(work, ignore_errors=True)


def stats_rows(ctl, shm):
    res = subprocess.run([ctl, "-s", shm, "stats", "--json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return {v["name"].split(":")[0]: v for v in json.loads(res.stdout)["vhosts"]}


def carry_lines(h):
    return [ln for ln in h.read_error_log().splitlines() if "EXP0040" in ln]


def test_upgrade_to_another_layout(other_layout_build):
    """A package upgrade (a build of another layout, then a graceful restart)
    and the downgrade back keep every row's counters and every override;
    one warning line says what the layout change dropped."""
    new_so, new_ctl = other_layout_build
    ours = int(re.search(r"segment layout (\d+)", expectctl("--version").stdout).group(1))
    h = Httpd(CONF, name="upgrade")
    with serving(h):
        assert upload_status(h, "rej.test") == 417
        assert upload_status(h, "up.test") == 200
        assert expectctl("set", "up.test", "ignore", shm=h.shm).returncode == 0
        old = expectctl("stats", shm=h.shm)
        assert old.returncode == 0
        res = subprocess.run([new_ctl, "-s", h.shm, "stats"], capture_output=True, text=True)
        assert res.returncode == 5, res
        assert f"layout version {ours}, expected 99" in res.stderr, res.stderr
        assert carry_lines(h) == []
        # The package upgrade: the new module, then a graceful restart.
        pid = h.pid()
        h.base = h.base.replace(module_path(), new_so)
        h.write_config()
        h.reload("graceful")
        assert h.pid() == pid
        rows = stats_rows(new_ctl, h.shm)
        assert rows["rej.test"]["r417"]["total"] == 1
        assert rows["rej.test"]["rejected"] == 1
        assert rows["up.test"]["continued"] == 1
        assert rows["up.test"]["override"] == "ignore"
        lines = carry_lines(h)
        assert len(lines) == 1, lines
        assert "[expect:warn]" in lines[0]
        assert re.search(rf"written by a build of layout {ours} \(this build: layout 99, "
                         r"mod_expect \S+ \([^)]*\)\): carried over 3 of 3 rows with their counters "
                         r"and 1 runtime overrides \(a row not carried was of a vhost no longer configured\); "
                         r"dropped 1 events and 1 pending retries",
                         lines[0]), lines[0]
        # The override still decides: up.test ignores now, under the new build.
        assert upload_status(h, "up.test") == 200
        assert upload_status(h, "rej.test") == 417
        # A 417 is counted in log_transaction, after the response is out.
        deadline = time.time() + 10
        while stats_rows(new_ctl, h.shm)["rej.test"]["r417"]["total"] < 2 \
                and time.time() < deadline:
            time.sleep(0.05)
        rows = stats_rows(new_ctl, h.shm)
        assert rows["rej.test"]["r417"]["total"] == 2
        assert rows["up.test"]["ignored"] == 1
        res = expectctl("stats", shm=h.shm)
        assert res.returncode == 5, res
        assert f"layout version 99, expected {ours}" in res.stderr, res.stderr
        assert stat.S_ISREG(os.stat(h.shm).st_mode)
        # And back (a downgrade): nothing lost either way.
        h.base = h.base.replace(new_so, module_path())
        h.write_config()
        h.reload("graceful")
        assert h.pid() == pid
        rows = stats_rows(expectctl_path(), h.shm)
        assert rows["rej.test"]["r417"]["total"] == 2
        assert rows["up.test"]["override"] == "ignore"
        assert len(carry_lines(h)) == 2
        assert f"written by a build of layout 99 (this build: layout {ours}" in carry_lines(h)[1]
        # A plain graceful restart of the same build carries by its own state:
        # no second warning.
        h.reload("graceful")
        assert len(carry_lines(h)) == 2
        assert stats_rows(expectctl_path(), h.shm)["rej.test"]["r417"]["total"] == 2


def test_leftover_of_another_server_not_carried(other_layout_build):
    """Files a killed parent left behind, found by a new start of another
    build, are replaced, not adopted: only the parent that served a segment
    carries it over (a crash is not an upgrade; see 'Upgrading')."""
    new_so, new_ctl = other_layout_build
    h = Httpd(CONF, name="leftover")
    try:
        h.start()
        assert upload_status(h, "rej.test") == 417
        assert expectctl("set", "up.test", "reject", shm=h.shm).returncode == 0
        pid = h.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
            time.sleep(0.05)
        subprocess.run(["pkill", "-9", "-f", h.conf], check=False)
        # The orphaned children hold the listening socket until they are gone.
        deadline = time.time() + 10
        while subprocess.run(["pgrep", "-f", h.conf], capture_output=True).returncode == 0 \
                and time.time() < deadline:
            time.sleep(0.05)
        assert os.path.exists(h.shm)
        h.base = h.base.replace(module_path(), new_so)
        h.write_config()
        h.start()
        assert carry_lines(h) == []
        rows = stats_rows(new_ctl, h.shm)
        assert rows["rej.test"]["r417"]["total"] == 0
        assert rows["up.test"]["override"] is None
    finally:
        subprocess.run(["pkill", "-9", "-f", h.conf], check=False)
        h.cleanup()
