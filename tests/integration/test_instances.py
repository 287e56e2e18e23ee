# SPDX-License-Identifier: Apache-2.0
"""Finding the segment on any layout (issue 13, items 4 and 6): expectctl's
default is httpd's runtime directory (from apxs at configure time;
$EXPECTCTL_RUNDIR replaces it), `-i NAME` is the Debian instance
apache2-NAME, and when the default has no segment expectctl lists the
instances that do.  Each start logs one EXP0003 line.
"""
import os
import re
import shutil
import tempfile

import pytest

from httpd_harness import Httpd, expectctl

ONE = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName one.test
</VirtualHost>
"""
TWO = ONE.replace("one.test", "two.test")


def instance(conf, rundir, name):
    h = Httpd(conf, name=name)
    os.makedirs(rundir, exist_ok=True)
    os.chmod(rundir, 0o755)
    h.base = re.sub(r"(?m)^DefaultRuntimeDir .*$", f"DefaultRuntimeDir {rundir}", h.base)
    h.write_config()
    return h


@pytest.fixture
def two_instances():
    top = tempfile.mkdtemp(prefix="mod_expect-instances-")
    os.chmod(top, 0o755)
    base = os.path.join(top, "apache2")
    one = instance(ONE, base, "inst-one")
    two = instance(TWO, base + "-two", "inst-two")
    env = {k: v for k, v in os.environ.items() if k != "EXPECTCTL_SHM"}
    env["EXPECTCTL_RUNDIR"] = base
    try:
        one.start()
        two.start()
        yield one, two, base, env
    finally:
        one.cleanup()
        two.cleanup()
        shutil.rmtree(top, ignore_errors=True)


def test_default_and_instance(two_instances):
    one, two, base, env = two_instances
    res = expectctl("stats", env=env)
    assert res.returncode == 0, res.stderr
    assert "one.test" in res.stdout and "two.test" not in res.stdout
    res = expectctl("-i", "two", "policy", env=env)
    assert res.returncode == 0, res.stderr
    assert "two.test" in res.stdout and "one.test" not in res.stdout
    # -i says more than $EXPECTCTL_SHM; -s and -i together are a usage error.
    res = expectctl("-i", "two", "stats", env=dict(env, EXPECTCTL_SHM=one.shm))
    assert res.returncode == 0 and "two.test" in res.stdout, res
    res = expectctl("-s", one.shm, "-i", "two", "stats", env=env)
    assert res.returncode == 2 and "choose one of -s and -i" in res.stderr, res
    res = expectctl("-i", "../etc", "stats", env=env)
    assert res.returncode == 2, res


def test_absent_default_lists_the_instances(two_instances):
    one, two, base, env = two_instances
    one.stop()
    res = expectctl("stats", env=env)
    assert res.returncode == 3, res
    assert f"{base}-two/mod_expect.shm  (expectctl -i two)" in res.stderr, res.stderr
    assert "name one with -i NAME or -s PATH" in res.stderr
    # An explicit path that is absent lists nothing: it said what it meant.
    res = expectctl("-s", one.shm, "stats", env=env)
    assert res.returncode == 3 and "-i two" not in res.stderr, res


def test_startup_line(two_instances):
    one, two, base, env = two_instances
    two.reload("graceful")
    for h, rundir in ((one, base), (two, base + "-two")):
        lines = [ln for ln in h.read_error_log().splitlines() if "EXP0003" in ln]
        assert len(lines) == (1 if h is one else 2), lines
        assert "[expect:notice]" in lines[-1]
        assert re.search(r"EXP0003: mod_expect \d+\.\d+\.\d+ \([^()\s]+\) serving: segment "
                         + re.escape(f"{rundir}/mod_expect.shm") + r", layout \d+, 2 vhosts, "
                         r"judging in fixups for all 2 servers", lines[-1]), lines[-1]


def test_unknown_instance_names_those_that_exist(two_instances):
    one, two, base, env = two_instances
    for verb in ("stats", "policy", "events"):
        res = expectctl("-i", "nosuch", verb, env=env)
        assert res.returncode == 3, res
        assert "no instance 'nosuch' exists" in res.stderr, res.stderr
        assert f"{base}-two/mod_expect.shm  (expectctl -i two)" in res.stderr, res.stderr
        assert res.stdout == ""
    two.stop()
    res = expectctl("-i", "nosuch", "stats", env=env)
    assert res.returncode == 3 and "no instance has a segment" in res.stderr, res.stderr
