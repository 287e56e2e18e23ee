# SPDX-License-Identifier: Apache-2.0
"""expectctl.8 as man renders it (issue 20, item 7): a SYNOPSIS with -i
NAME, ENVIRONMENT and FILES sections, a SEE ALSO with installed paths, and
JSON examples that keep their quotes (roff's .B takes a bare " as its own
quoting and drops it)."""
import os
import re
import shutil
import subprocess

import pytest

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "docs", "expectctl.8")

pytestmark = pytest.mark.skipif(shutil.which("man") is None,
                                reason="man missing: build/install-deps.sh (man-db)")


@pytest.fixture(scope="module")
def page():
    env = dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    res = subprocess.run(["man", "-l", PAGE], capture_output=True, text=True, env=env,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    # No troff warnings (an unknown macro, a bad escape).
    assert res.stderr == "", res.stderr
    sections, name = {}, None
    for line in res.stdout.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            name = line.strip()
            sections[name] = []
        elif name:
            sections[name].append(line)
    return {k: " ".join(" ".join(v).split()) for k, v in sections.items()}


def test_synopsis_names_instances(page):
    syn = page["SYNOPSIS"]
    for verb in ("stats", "events", "policy", "set", "reset", "top"):
        assert f"expectctl [-s PATH | -i NAME] {verb}" in syn, (verb, syn)


def test_environment_and_files(page):
    assert "EXPECTCTL_SHM" in page["ENVIRONMENT"]
    assert "EXPECTCTL_RUNDIR" in page["ENVIRONMENT"]
    files = page["FILES"]
    for path in ("/var/run/apache2/mod_expect.shm", "/var/run/apache2/mod_expect.shm.ctl",
                 "/var/run/apache2-NAME/mod_expect.shm",
                 "/etc/apache2/mods-available/expect.conf",
                 "/etc/apache2/mods-available/expect.load",
                 "/usr/share/bash-completion/completions/expectctl"):
        assert path in files, (path, files)


def test_see_also_names_installed_paths(page):
    see = page["SEE ALSO"]
    assert "sources" not in see, see
    for ref in ("apache2(8)", "apache2ctl(8)", "a2enmod(8)",
                "/usr/share/doc/libapache2-mod-expect/mod_expect.md"):
        assert ref in see, (ref, see)


def test_json_examples_keep_their_quotes(page):
    text = page["OUTPUT FORMATS"]
    for fmt in ("mod_expect.events", "mod_expect.events.summary", "mod_expect.stats",
                "mod_expect.probe", "mod_expect.clients"):
        assert f'{{"format": "{fmt}", "version": 1' in text, (fmt, text)
    assert '"events": [...]}' in text and '"groups": [...]}' in text
    # Every format name in the page is quoted.
    assert not re.search(r'format"?:\s+mod_expect\.', text), text
