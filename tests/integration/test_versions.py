# SPDX-License-Identifier: Apache-2.0
"""Which httpd mod_expect accepts to be built against.

configure refuses an httpd older than the oldest one make check-versions
builds and tests (2.4.37, module magic 20120211.83), naming that one, and
accepts 2.4.37 itself.  The httpd here is a stand-in: an apxs that answers
configure's queries and headers of our own that carry only the version
and the magic number (what the check reads).  The real httpds of each
version are built by make check-versions (build/check-versions.sh).
"""
import os
import subprocess

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

MMN_H = """#define MODULE_MAGIC_NUMBER_MAJOR {major}
#define MODULE_MAGIC_NUMBER_MINOR {minor}
#define AP_MODULE_MAGIC_AT_LEAST(major,minor) \\
    ((major) < MODULE_MAGIC_NUMBER_MAJOR \\
     || ((major) == MODULE_MAGIC_NUMBER_MAJOR && (minor) <= MODULE_MAGIC_NUMBER_MINOR))
"""
RELEASE_H = """#define AP_SERVER_MAJORVERSION_NUMBER 2
#define AP_SERVER_MINORVERSION_NUMBER {minor_version}
#define AP_SERVER_PATCHLEVEL_NUMBER   {patch}
"""
APXS = """#!/bin/sh
# answers configure's apxs -q queries for a stand-in httpd
[ "$1" = -q ] || exit 1
case "$2" in
INCLUDEDIR) echo {inc} ;;
LIBEXECDIR) echo {root}/modules ;;
SYSCONFDIR) echo {root}/conf ;;
runtimedir) echo {root}/logs ;;
*) echo ;;
esac
"""


def configure_against(tmp_path, major, minor, version):
    inc = tmp_path / "include"
    inc.mkdir()
    (inc / "ap_mmn.h").write_text(MMN_H.format(major=major, minor=minor))
    _, minor_version, patch = version.split(".")
    (inc / "ap_release.h").write_text(RELEASE_H.format(minor_version=minor_version,
                                                       patch=patch))
    apxs = tmp_path / "apxs"
    apxs.write_text(APXS.format(inc=inc, root=tmp_path))
    apxs.chmod(0o755)
    build = tmp_path / "build"
    build.mkdir()
    configure = os.path.join(TOP, "configure")
    if not os.path.exists(configure):
        pytest.skip("no ./configure: run build/bootstrap.sh")
    # A build directory of its own: the tree's Makefile stays as it is.
    return subprocess.run([configure, f"--with-apxs={apxs}"], cwd=build,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("major,minor,version", [
    (20120211, 82, "2.4.36"),   # one magic number before 2.4.37's
    (20051115, 43, "2.2.34"),   # httpd 2.2
])
def test_configure_refuses_older_httpd(tmp_path, major, minor, version):
    res = configure_against(tmp_path, major, minor, version)
    assert res.returncode != 0, res.stdout
    assert (f"httpd {version} (module magic {major}.{minor}" in res.stderr
            and "is not supported: the oldest supported is httpd 2.4.37 "
                "(module magic 20120211.83)" in res.stderr), res.stderr


def test_configure_accepts_2_4_37(tmp_path):
    res = configure_against(tmp_path, 20120211, 83, "2.4.37")
    assert "checking for httpd 2.4.37 or later... yes" in res.stdout, res.stdout + res.stderr
    assert "is not supported" not in res.stderr


def test_check_versions_skips_without_sources(tmp_path):
    """make check-versions on a machine without the httpd tarballs says so
    and succeeds, so build/run-tests.sh still passes there."""
    env = dict(os.environ, HTTPD_SRC_DIR=str(tmp_path / "no-such-dir"))
    res = subprocess.run([os.path.join(TOP, "build", "check-versions.sh")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("check-versions: SKIPPED: no httpd-2.4.*.tar.xz in "), res.stdout
