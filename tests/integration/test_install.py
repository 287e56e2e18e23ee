"""`make install DESTDIR=...` stages the module, expectctl, the man page and
the Debian files; the staged module passes `apache2 -t`; and expectctl finds
a server's segment at the compiled-in default with no -s at all."""
import os
import subprocess

import pytest

from httpd_harness import Httpd, expectctl, serving

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_RUNDIR = "/var/run/apache2"


def apxs(var):
    return subprocess.run(["apxs", "-q", var], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage")
    res = subprocess.run(["make", "-s", "install", f"DESTDIR={root}"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return str(root)


def test_install_stages_everything(staged):
    libexec, sbin = apxs("LIBEXECDIR"), apxs("SBINDIR")
    for rel in (f"{libexec}/mod_expect.so", f"{sbin}/expectctl",
                "/usr/share/man/man8/expectctl.8",
                "/etc/apache2/mods-available/expect.load",
                "/etc/apache2/mods-available/expect.conf"):
        assert os.path.isfile(staged + rel), rel
    with open(staged + "/etc/apache2/mods-available/expect.load") as f:
        assert f.read().strip() == f"LoadModule expect_module {libexec}/mod_expect.so"
    assert os.access(f"{staged}{sbin}/expectctl", os.X_OK)
    out = subprocess.run([f"{staged}{sbin}/expectctl", "--version"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("expectctl ")
    man = subprocess.run(["man", "-l", "-P", "cat", f"{staged}/usr/share/man/man8/expectctl.8"],
                         capture_output=True, text=True,
                         env=dict(os.environ, MANWIDTH="80"))
    if man.returncode == 0:  # man-db present
        assert "EXIT STATUS" in man.stdout and "expectctl" in man.stdout


def test_staged_module_passes_configtest(staged):
    so = staged + apxs("LIBEXECDIR") + "/mod_expect.so"
    h = Httpd("ExpectPolicy reject\n", load_expect=False, name="staged")
    try:
        h.base += f"LoadModule expect_module {so}\n"
        h.write_config()
        res = h.configtest()
        assert res.returncode == 0 and "Syntax OK" in res.stderr, res.stderr
    finally:
        h.cleanup()


@pytest.mark.skipif(os.geteuid() != 0, reason="the default runtime dir is root's")
def test_expectctl_finds_default_segment():
    target = os.path.join(DEFAULT_RUNDIR, "mod_expect.shm")
    if os.path.exists(target):
        pytest.skip("a system httpd already uses the default segment")
    os.makedirs(DEFAULT_RUNDIR, exist_ok=True)
    h = Httpd("<VirtualHost 127.0.0.1:@PORT@>\nServerName dflt.test\n</VirtualHost>\n",
              name="default-path")
    h.base = h.base.replace(f"DefaultRuntimeDir {h.logs}", f"DefaultRuntimeDir {DEFAULT_RUNDIR}")
    h.write_config()
    env = {k: v for k, v in os.environ.items() if k != "EXPECTCTL_SHM"}
    with serving(h):
        res = expectctl("policy", "dflt.test", env=env)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith(f"dflt.test:{h.port} effective=continue")
    assert not os.path.exists(target), "segment left behind at stop"
