# SPDX-License-Identifier: Apache-2.0
"""Disabling or removing mod_expect never leaves apache2 unable to start
without a word, and never deletes a segment a running httpd serves.

build/expect-config-check.sh (the Debian prerm and `make uninstall` run
it) names every line of the enabled configuration that needs the module,
following apache2's includes; what it names is exactly what makes a real
`apache2 -t` fail once the module is not loaded.  debian/postrm deletes
the segments left behind (a dead parent, a zombie, a restart that dropped
the module, a reused pid) and keeps the one a running httpd serves; the
check-package run does both again on the system apache2."""
import os
import re
import signal
import subprocess
import time

import pytest

from httpd_harness import APACHE2, Httpd, expectctl, httpd_env

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(REPO, "build", "expect-config-check.sh")
POSTRM = os.path.join(REPO, "debian", "postrm")


def check(*targets):
    return subprocess.run(["sh", CHECK, *targets], capture_output=True, text=True,
                          timeout=60)


def named(out):
    """The FILE:LINE: TEXT lines the checker printed, as (file, line, text)."""
    return [(m.group(1), int(m.group(2)), m.group(3))
            for m in re.finditer(r"^  (/.+?):(\d+): (.*)$", out, re.M)]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def debian_tree(root):
    """A Debian /etc/apache2 in miniature, with its include lines."""
    write(f"{root}/apache2.conf",
          "# the main file\n"
          "IncludeOptional mods-enabled/*.load\n"
          "IncludeOptional mods-enabled/*.conf\n"
          "Include ports.conf\n"
          "IncludeOptional conf-enabled/*.conf\n"
          "IncludeOptional sites-enabled/*.conf\n")
    write(f"{root}/ports.conf", "Listen 80\n")
    write(f"{root}/mods-available/expect.load", "LoadModule expect_module /x/mod_expect.so\n")
    write(f"{root}/mods-available/expect.conf", "ExpectPolicy continue\n")
    os.makedirs(f"{root}/mods-enabled")
    for f in ("expect.load", "expect.conf"):
        os.symlink(f"../mods-available/{f}", f"{root}/mods-enabled/{f}")
    os.makedirs(f"{root}/sites-enabled")
    os.makedirs(f"{root}/conf-enabled")


def test_names_each_enabled_line_outside_ifmodule(tmp_path):
    root = str(tmp_path / "apache2")
    debian_tree(root)
    write(f"{root}/sites-available/000-default.conf",
          "<VirtualHost *:80>\n"
          "    ServerName up.example\n"
          "    ExpectPolicy reject\n"
          "    <IfModule expect_module>\n"
          "        ExpectStrict On\n"
          "    </IfModule>\n"
          "    <IfModule mod_expect.c>\n"
          "        ExpectUnknown ignore\n"
          "    </IfModule>\n"
          "    <IfModule !expect_module>\n"
          "        ExpectJudge early\n"
          "    </IfModule>\n"
          "    # ExpectPolicy continue\n"
          "    expectretrywindow \\\n"
          "        60\n"
          "</VirtualHost>\n")
    os.symlink("../sites-available/000-default.conf", f"{root}/sites-enabled/000-default.conf")
    # Not enabled: not read.
    write(f"{root}/sites-available/other.conf", "ExpectPolicy reject\n")
    # A directory include, a quoted path with a space, and an Include inside
    # <IfModule expect_module>, which apache2 skips without the module.
    write(f"{root}/conf-enabled/local.conf",
          "Include \"extra dir/\"\n"
          "<IfModule expect_module>\n"
          "    Include guarded.conf\n"
          "</IfModule>\n"
          "LoadModule expect_module /usr/lib/apache2/modules/mod_expect.so\n")
    write(f"{root}/extra dir/sub/deep.conf", "\n\nExpectShmFile /run/x.shm\n")
    write(f"{root}/guarded.conf", "ExpectEventSlots 8\n")
    res = check(root)
    assert res.returncode == 1, res
    site = f"{root}/sites-enabled/000-default.conf"
    assert named(res.stdout) == [
        (f"{root}/extra dir/sub/deep.conf", 3, "ExpectShmFile /run/x.shm"),
        (f"{root}/conf-enabled/local.conf", 5,
         "LoadModule expect_module /usr/lib/apache2/modules/mod_expect.so"),
        (site, 3, "ExpectPolicy reject"),
        (site, 11, "ExpectJudge early"),
        (site, 14, "expectretrywindow 60"),
    ], res.stdout
    # ...and the fix, with both ways and how to check.
    for words in ("<IfModule expect_module>", "delete it", "apache2ctl configtest",
                  "IfModule: when and when not"):
        assert words in res.stdout, res.stdout
    assert res.stderr == ""


def test_clean_configuration_and_instances(tmp_path):
    """Nothing to say: exit 0, silent.  Each directory given is a server
    root of its own (an instance, /etc/apache2-NAME); one without a main
    file is skipped."""
    main, inst = str(tmp_path / "apache2"), str(tmp_path / "apache2-two")
    debian_tree(main)
    debian_tree(inst)
    write(f"{main}/sites-enabled/a.conf",
          "<IfModule expect_module>\n    ExpectPolicy reject\n</IfModule>\n")
    res = check(main, inst, str(tmp_path / "apache2-none"))
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res
    write(f"{inst}/sites-enabled/b.conf", "ExpectPolicy ignore\n")
    res = check(main, inst)
    assert res.returncode == 1
    assert named(res.stdout) == [(f"{inst}/sites-enabled/b.conf", 1, "ExpectPolicy ignore")]
    assert check("--bogus").returncode == 2


def test_server_root_directive_moves_relative_includes(tmp_path):
    conf = str(tmp_path / "conf" / "httpd.conf")
    write(conf, f"ServerRoot {tmp_path}/srv\nInclude site.conf\n")
    write(f"{tmp_path}/srv/site.conf", "ExpectStrict On\n")
    res = check(conf)
    assert named(res.stdout) == [(f"{tmp_path}/srv/site.conf", 1, "ExpectStrict On")], res


def test_what_it_names_is_what_stops_apache2(tmp_path):
    """A real apache2 -t without mod_expect loaded fails at the very line the
    checker names; with that line inside <IfModule expect_module> both
    pass.  So a2dismod with the IfModule form keeps configtest passing."""
    h = Httpd("Include @ROOT@/site.conf\n", load_expect=False, loglevel="info",
              name="removal")
    try:
        site = os.path.join(h.root, "site.conf")
        write(site, "<VirtualHost 127.0.0.1:@PORT@>\n    ServerName a.test\n"
                    "    ExpectPolicy reject\n</VirtualHost>\n".replace("@PORT@", str(h.port)))
        res = check(h.conf)
        assert named(res.stdout) == [(site, 3, "ExpectPolicy reject")], res
        t = h.configtest()
        assert t.returncode != 0, t.stderr
        assert f"line 3 of {site}" in t.stderr and "Invalid command 'ExpectPolicy'" in t.stderr, \
            t.stderr

        write(site, "<VirtualHost 127.0.0.1:@PORT@>\n    ServerName a.test\n"
                    "    <IfModule expect_module>\n        ExpectPolicy reject\n"
                    "    </IfModule>\n</VirtualHost>\n".replace("@PORT@", str(h.port)))
        res = check(h.conf)
        assert res.returncode == 0 and res.stdout == "", res
        t = h.configtest()
        assert t.returncode == 0 and "Syntax OK" in t.stderr, t.stderr
    finally:
        h.cleanup()


# ---- debian/postrm: which segments it deletes ------------------------------------------

def postrm(*rundirs, action="remove"):
    env = dict(os.environ, MOD_EXPECT_RUNDIRS=" ".join(rundirs))
    return subprocess.run(["sh", POSTRM, action], capture_output=True, text=True,
                          env=env, timeout=60)


def segment_files(d):
    return sorted(f for f in os.listdir(d) if f.startswith("mod_expect.shm"))


def copy_segment(src_dir, dst_dir, start_delta=0):
    """The pair, copied; start_delta changes the recorded start time of the
    parent, as if its pid now named another process."""
    os.makedirs(dst_dir, exist_ok=True)
    for name in ("mod_expect.shm", "mod_expect.shm.ctl"):
        with open(os.path.join(src_dir, name), "rb") as f:
            data = bytearray(f.read())
        if name.endswith(".ctl") and start_delta:
            start = int.from_bytes(data[88:96], "little") + start_delta
            data[88:96] = start.to_bytes(8, "little")
        with open(os.path.join(dst_dir, name), "wb") as f:
            f.write(data)


SERVER = "<VirtualHost 127.0.0.1:@PORT@>\n    ServerName rm.test\n</VirtualHost>\n"


def test_postrm_keeps_a_live_segment_and_deletes_stale_ones(tmp_path):
    h = Httpd(SERVER, name="postrm")
    try:
        h.start()
        live = h.logs
        # A copy naming the live parent is in use too; one whose start time
        # differs names a reused pid: stale.
        same, reused = str(tmp_path / "apache2-same"), str(tmp_path / "apache2-reused")
        copy_segment(live, same)
        copy_segment(live, reused, start_delta=12345)
        res = postrm(live, str(tmp_path / "apache2-*"))
        assert res.returncode == 0, res
        assert f"{h.shm}: left in place, apache2 (pid {h.pid()}) still serves it" in res.stdout
        assert segment_files(live) == ["mod_expect.shm", "mod_expect.shm.ctl"]
        assert segment_files(same) == ["mod_expect.shm", "mod_expect.shm.ctl"]
        assert segment_files(reused) == [], res.stdout
        assert expectctl("policy", shm=h.shm).returncode == 0

        # A graceful restart onto a configuration without mod_expect: the
        # parent runs on, but no configuration took the segment back.
        h.base = h.base.replace("LoadModule expect_module", "#LoadModule expect_module") \
                       .replace("expect:debug", "")
        h.write_config()
        h.reload("graceful")
        assert h.pid() is not None
        t0 = time.time()
        res = postrm(live, action="purge")
        assert res.returncode == 0 and res.stdout == "", res
        assert segment_files(live) == []
        assert time.time() - t0 >= 2.5, "a restart in progress is waited out"
    finally:
        h.cleanup()


def test_postrm_deletes_the_segment_of_a_dead_parent_even_a_zombie(tmp_path):
    """Killed with -9 where nothing reaps it, the parent stays a zombie: it
    serves nothing."""
    h = Httpd(SERVER, name="zombie")
    proc = subprocess.Popen([APACHE2, "-d", h.root, "-f", h.conf, "-DFOREGROUND"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=httpd_env())
    try:
        deadline = time.time() + 20
        while not os.path.exists(h.shm + ".ctl") or expectctl("policy", shm=h.shm).returncode:
            assert time.time() < deadline and proc.poll() is None, h.read_error_log()
            time.sleep(0.05)
        children = [p for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == proc.pid]
        res = postrm(h.logs)
        assert segment_files(h.logs) == ["mod_expect.shm", "mod_expect.shm.ctl"], res
        os.kill(proc.pid, signal.SIGKILL)
        for c in children:
            try:
                os.kill(int(c), signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while _state(proc.pid) != "Z":
            assert time.time() < deadline, _state(proc.pid)
            time.sleep(0.05)
        res = postrm(h.logs, action="purge")
        assert res.returncode == 0 and res.stdout == "", res
        assert segment_files(h.logs) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        h.cleanup()


def _stat_fields(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def _ppid(pid):
    s = _stat_fields(pid)
    return int(s[1]) if s else None


def _state(pid):
    s = _stat_fields(pid)
    return s[0] if s else None
