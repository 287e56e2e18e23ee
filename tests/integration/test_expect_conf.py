# SPDX-License-Identifier: Apache-2.0
"""The shipped mods-available/expect.conf (mod_expect/expect.conf) lists
every directive, commented out, with the default mod_expect.md gives; it
passes apache2 -t as shipped and with every line uncommented, with the
module loaded and without it (a2dismod).  And the docs define one
LogFormat for mod_expect's notes, under one name."""
import os
import re

import pytest

from httpd_harness import Httpd

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONF = os.path.join(REPO, "mod_expect", "expect.conf")


def read(rel):
    with open(os.path.join(REPO, rel)) as f:
        return f.read()


def documented_defaults():
    """{directive: default line} from mod_expect.md's directive tables."""
    out = {}
    for section in re.split(r"^## ", read("docs/mod_expect.md"), flags=re.M)[1:]:
        name = section.split("\n", 1)[0].strip()
        if not re.fullmatch(r"Expect[A-Za-z]+", name):
            continue
        m = re.search(r"^\| Default \| (.*) \|$", section, re.M)
        assert m, f"mod_expect.md: {name} has no Default row"
        code = re.fullmatch(r"`(Expect\w+ [^`]+)`", m.group(1))
        out[name] = code.group(1) if code else None
    return out


def registered():
    """The directives the module registers (AP_INIT_* in mod_expect/*.c)."""
    names = set()
    for f in os.listdir(os.path.join(REPO, "mod_expect")):
        if f.endswith(".c"):
            names |= set(re.findall(r'AP_INIT_\w+\(\s*"(Expect\w+)"', read(f"mod_expect/{f}")))
    return names


def listed():
    """{directive: the commented-out line} of expect.conf."""
    return {m.group(1): m.group(0).strip().lstrip("#")
            for m in re.finditer(r"^\s*#(Expect\w+)\b.*$", read("mod_expect/expect.conf"), re.M)}


def test_every_directive_is_listed_with_its_default():
    docs, conf = documented_defaults(), listed()
    assert len(docs) >= 8, docs
    assert set(docs) | registered() <= set(conf), \
        f"not in mod_expect/expect.conf: {sorted((set(docs) | registered()) - set(conf))}"
    for name, line in docs.items():
        if line is not None:
            assert conf[name] == line, f"expect.conf says {conf[name]!r}, mod_expect.md {line!r}"


def uncommented():
    text = re.sub(r"^(\s*)#(Expect\w+)", r"\1\2", read("mod_expect/expect.conf"), flags=re.M)
    if not os.path.isdir("/run/apache2"):
        # ExpectShmFile's directory must exist for apache2 -t.
        text = text.replace("/run/apache2/", "@ROOT@/logs/")
    return text


@pytest.mark.parametrize("variant", ["shipped", "uncommented"])
@pytest.mark.parametrize("loaded", [True, False], ids=["loaded", "a2dismod"])
def test_passes_configtest(variant, loaded):
    text = read("mod_expect/expect.conf") if variant == "shipped" else uncommented()
    if variant == "uncommented":
        assert "\n    ExpectRetrySlots 4096\n" in text
    h = Httpd(text, load_expect=loaded, loglevel="info", name="expect-conf")
    try:
        res = h.configtest()
        assert res.returncode == 0 and "Syntax OK" in res.stderr, f"{variant}:\n{res.stderr}"
    finally:
        h.cleanup()


def test_one_logformat_for_the_notes():
    """README and docs/*.md define the LogFormat for mod_expect's notes
    once: one name, one definition, wherever it is shown."""
    docs = ["README.md"] + [f"docs/{f}" for f in sorted(os.listdir(os.path.join(REPO, "docs")))
                            if f.endswith(".md")]
    found = []
    for rel in docs:
        for m in re.finditer(r"^\s*LogFormat\s+(\".*\")\s+(\S+)\s*$", read(rel), re.M):
            if "expect-" in m.group(1):
                found.append((rel, m.group(1), m.group(2)))
    assert len(found) >= 2, found
    assert len({(d, n) for _, d, n in found}) == 1, found
    fmt = found[0][1]
    for note in ("%{expect-decision}n", "%{expect-original}n", "%{Expect}i", "%v"):
        assert note in fmt, fmt
