# SPDX-License-Identifier: Apache-2.0
"""`make install DESTDIR=...` stages the module, expectctl (and its bindir
link), the man page, the docs, the bash completion and the Debian files; the
staged module passes `apache2 -t`; configure's --prefix, --sbindir, --mandir
and --docdir move every file but the module, which goes where apxs says, and
`make uninstall` removes all of it; and expectctl finds a server's segment
at the compiled-in default with no -s at all."""
import os
import re
import shutil
import subprocess

import pytest

from httpd_harness import Httpd, expectctl, serving

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_RUNDIR = "/var/run/apache2"


def load_lines(root):
    """expect.load's lines but its comments."""
    with open(root + "/etc/apache2/mods-available/expect.load") as f:
        return [x for x in f.read().splitlines() if x.strip() and not x.startswith("#")]


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
    # The defaults when configure is given no directory: /usr/sbin and
    # /usr/share/man, as before; the module where apxs says.
    libexec, sbin = apxs("LIBEXECDIR"), "/usr/sbin"
    for rel in (f"{libexec}/mod_expect.so", f"{sbin}/expectctl",
                "/usr/share/man/man8/expectctl.8",
                "/usr/share/doc/mod_expect/README.md",
                "/usr/share/doc/mod_expect/mod_expect.md",
                "/usr/share/bash-completion/completions/expectctl",
                "/etc/apache2/mods-available/expect.load",
                "/etc/apache2/mods-available/expect.conf"):
        assert os.path.isfile(staged + rel), rel
    # probe for every user: /usr/bin/expectctl, a relative link to sbin's.
    link = staged + "/usr/bin/expectctl"
    assert os.path.islink(link) and os.readlink(link) == "../sbin/expectctl"
    assert load_lines(staged) == [f"LoadModule expect_module {libexec}/mod_expect.so"]
    assert os.access(f"{staged}{sbin}/expectctl", os.X_OK)
    out = subprocess.run([f"{staged}{sbin}/expectctl", "--version"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("expectctl ")
    man = subprocess.run(["man", "-l", "-P", "cat", f"{staged}/usr/share/man/man8/expectctl.8"],
                         capture_output=True, text=True,
                         env=dict(os.environ, MANWIDTH="80"))
    if man.returncode == 0:  # man-db present
        assert "EXIT STATUS" in man.stdout and "expectctl" in man.stdout


def test_installed_doc_links_resolve(staged):
    """The docs are installed flat, the alert rules and the dashboard under
    examples/: every relative link and docs/ path of the installed docs
    names a file that was installed beside them."""
    docdir = staged + "/usr/share/doc/mod_expect"
    names = sorted(os.listdir(docdir))
    assert "examples" in names
    assert sorted(os.listdir(docdir + "/examples")) == ["mod_expect-alerts.yml",
                                                        "mod_expect.json"]
    for name in names:
        if not name.endswith(".md"):
            continue
        with open(os.path.join(docdir, name)) as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", text):
            if "://" in target or target.startswith("/usr/share/common-licenses/"):
                continue
            assert os.path.exists(os.path.join(docdir, target)), f"{name}: link to {target}"
        assert not re.search(r"(^|[ `(\[])docs/\w+\.md", text, re.M), name
        assert "docs/prometheus/" not in text and "docs/grafana/" not in text, name


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


def _files(root):
    """Every file and symlink under root, as absolute paths inside root."""
    out = set()
    for d, dirs, files in os.walk(root):
        for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            out.add("/" + os.path.relpath(os.path.join(d, n), root))
    return out


def test_configure_dirs_and_uninstall(tmp_path):
    """A copy of the built tree, configured with other directories, installs
    exactly where it is told (into a DESTDIR), says where each file went,
    and `make uninstall` takes every file back out."""
    tree = tmp_path / "tree"
    shutil.copytree(REPO, tree, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "autom4te.cache", "debian"))
    conf = subprocess.run(
        ["./configure", "-q", "--prefix=/opt/x", "--sbindir=/opt/x/admin",
         "--mandir=/opt/x/manuals", "--docdir=/opt/x/manuals/doc"],
        cwd=tree, capture_output=True, text=True, timeout=300)
    assert conf.returncode == 0, conf.stdout + conf.stderr
    stage = str(tmp_path / "stage")
    res = subprocess.run(["make", "-s", "install", f"DESTDIR={stage}"], cwd=tree,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    libexec = apxs("LIBEXECDIR")
    want = {
        f"{libexec}/mod_expect.so",            # apxs's, whatever the prefix
        "/opt/x/admin/expectctl",              # --sbindir
        "/opt/x/bin/expectctl",                # bindir from --prefix: the link
        "/opt/x/manuals/man8/expectctl.8",     # --mandir
        "/opt/x/share/bash-completion/completions/expectctl",  # datadir from --prefix
        "/etc/apache2/mods-available/expect.load",
        "/etc/apache2/mods-available/expect.conf",
    } | {f"/opt/x/manuals/doc/{d}" for d in (   # --docdir
        "README.md", "mod_expect.md", "TROUBLESHOOTING.md", "SECURITY.md",
        "PERFORMANCE.md", "CLIENTS.md", "MANY-SERVERS.md", "NOTICE", "LICENSE",
        "examples/mod_expect-alerts.yml", "examples/mod_expect.json")}
    got = _files(stage)
    assert got == want, f"missing {sorted(want - got)}, unexpected {sorted(got - want)}"
    # make install names each file it installed, as staged.
    for f in want:
        assert stage + f in res.stdout, f"{f} not in make install's output:\n{res.stdout}"
    link = stage + "/opt/x/bin/expectctl"
    assert os.readlink(link) == "../admin/expectctl"
    out = subprocess.run([link, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("expectctl ")
    assert load_lines(stage) == [f"LoadModule expect_module {libexec}/mod_expect.so"]

    # An enabled module is not uninstalled: its links would stop apache2.
    enabled = stage + "/etc/apache2/mods-enabled/expect.load"
    os.makedirs(os.path.dirname(enabled))
    os.symlink("../mods-available/expect.load", enabled)
    res = subprocess.run(["make", "-s", "uninstall", f"DESTDIR={stage}"], cwd=tree,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "a2dismod expect" in res.stderr, res
    assert os.path.exists(stage + f"{libexec}/mod_expect.so")
    os.unlink(enabled)
    os.rmdir(os.path.dirname(enabled))

    # Nor while a configuration line needs it: make uninstall names the
    # file and line and the fix, and refuses without FORCE=1.
    etc = stage + "/etc/apache2"
    with open(etc + "/apache2.conf", "w") as f:
        f.write("IncludeOptional sites-enabled/*.conf\n")
    os.makedirs(etc + "/sites-enabled")
    with open(etc + "/sites-enabled/up.conf", "w") as f:
        f.write("<VirtualHost *:80>\n    ExpectPolicy reject\n</VirtualHost>\n")
    res = subprocess.run(["make", "-s", "uninstall", f"DESTDIR={stage}"], cwd=tree,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0, res
    assert f"{etc}/sites-enabled/up.conf:2: ExpectPolicy reject" in res.stderr, res.stderr
    assert "<IfModule expect_module>" in res.stderr and "FORCE=1" in res.stderr, res.stderr
    assert os.path.exists(stage + f"{libexec}/mod_expect.so")

    res = subprocess.run(["make", "-s", "uninstall", f"DESTDIR={stage}", "FORCE=1"], cwd=tree,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{etc}/sites-enabled/up.conf:2: ExpectPolicy reject" in res.stderr, res.stderr
    for f in ("apache2.conf", "sites-enabled/up.conf"):
        os.unlink(f"{etc}/{f}")
    os.rmdir(etc + "/sites-enabled")
    assert _files(stage) == set(), f"left after make uninstall: {sorted(_files(stage))}"
    for f in want:
        assert f"removed {stage}{f}" in res.stdout, f
    # The doc directory is the package's own: uninstall removes it too.
    assert not os.path.exists(stage + "/opt/x/manuals/doc")


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
