# SPDX-License-Identifier: Apache-2.0
"""Scoping a policy by client: docs/mod_expect.md, "Exempting one client".

A virtual host rejects Expect: 100-continue, except for Java's HttpClient,
which before 17.0.17 (without the fix for JDK-8286171) waits forever after
a 417.  The
exemption is the documentation's own example, taken from the page, inside
a virtual host.  <If> is a per-directory section: judged in fixups (by
default, or by the vhost's own ExpectJudge fixups while the rest of the
server judges early) it applies; with ExpectJudge early it is refused at
configuration time (EXP0016), as test_config_errors.py's "early-vhost-if"
case also checks for any <If>.
"""
import os
import re

import pytest

from httpd_harness import MPMS, Httpd, serving
from test_policy_raw import Row, run_row
from testlib import vhost

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
JAVA_UA = "User-Agent: Java-http-client/17.0.15"
OTHER_UAS = ["User-Agent: curl/7.88.1", "User-Agent: Java/17.0.15",
             "User-Agent: Apache-HttpClient/5.2 (Java/17.0.15)"]
U = "uploads.test"


def doc_example():
    """The ```apache block of the "Exempting one client" subsection."""
    with open(os.path.join(REPO, "docs", "mod_expect.md")) as f:
        text = f.read()
    section = text.split("### Exempting one client", 1)[1].split("\n#", 1)[0]
    block = re.search(r"^```apache\n(.*?)^```", section, re.M | re.S)
    assert block, "no apache example under 'Exempting one client'"
    return block.group(1)


EXAMPLE = doc_example()
assert "ExpectPolicy reject" in EXAMPLE and "Java-http-client" in EXAMPLE, EXAMPLE


def exempting_vhost(judge=""):
    """U with the documentation's example in it, judged as judge says."""
    return "\n" + vhost(U, judge, EXAMPLE)


# Where the exempting vhost is judged: fixups for every server, or fixups
# for this vhost (ExpectJudge fixups) while the main server judges early.
PLACES = {
    "fixups": (exempting_vhost(), "in fixups for all 2 servers"),
    "mixed": ("ExpectJudge early\n" + exempting_vhost("ExpectJudge fixups"),
              "in fixups for 1 servers and in translate_name for 1"),
}


@pytest.fixture(scope="module",
                params=[(m, p) for p in PLACES for m in MPMS],
                ids=[f"{m}-{p}" for p in PLACES for m in MPMS])
def exempting_server(request):
    mpm, place = request.param
    conf, where = PLACES[place]
    h = Httpd(conf, mpm=mpm, name=f"exempt-{mpm}-{place}")
    with serving(h):
        assert f"EXP0015: judging Expect: 100-continue {where}" in h.read_error_log()
        yield h


def decision(h, mark):
    lines = [line for line in h.access_log_since(mark).splitlines() if "/echo" in line]
    assert len(lines) == 1, lines
    return lines[0].rsplit("decision=", 1)[1]


def test_java_client_is_exempted(exempting_server):
    """Java-http-client gets its 100, uploads, and keeps the connection."""
    h = exempting_server
    mark = h.log_mark()
    run_row(h, Row("java", U, "/echo", "100", 200, True, "keep", extra=[JAVA_UA]))
    assert decision(h, mark) == "continue"


@pytest.mark.parametrize("ua", OTHER_UAS + [None], ids=["curl", "java-other",
                                                       "apache-httpclient", "no-ua"])
def test_other_clients_are_rejected(exempting_server, ua):
    """Every other client, Java's older URLConnection included, gets the
    417 at once, with the explanation, and no body byte is read."""
    h = exempting_server
    mark = h.log_mark()
    resp = run_row(h, Row("other", U, "/echo", "final", 417, False, "close",
                          extra=[ua] if ua else []))
    assert b"does not accept requests with <code>Expect: 100-continue</code>" \
        in resp.body, resp.body
    assert decision(h, mark) == "reject"


@pytest.mark.parametrize("where", ["vhost", "main"])
def test_exemption_refused_when_judged_early(where):
    """ExpectJudge early cannot know an <If> policy: apache2 -t refuses the
    combination with EXP0016, naming the <If> and what to do."""
    conf = exempting_vhost("ExpectJudge early") if where == "vhost" else \
        "ExpectJudge early\n" + exempting_vhost()
    h = Httpd(conf, name=f"exempt-early-{where}")
    try:
        res = h.configtest()
        assert res.returncode != 0, res.stderr
        for needle in ("EXP0016", f"virtual host {U}",
                       'ExpectPolicy in <If "%{HTTP_USER_AGENT} =~ /Java-http-client/">',
                       "a per-directory policy is known only in fixups",
                       "Remove ExpectJudge early there"):
            assert needle in res.stderr, res.stderr
    finally:
        h.cleanup()
