# SPDX-License-Identifier: Apache-2.0
"""Bad directive values stop `apache2 -t` with a message an admin can act on."""
import subprocess

import pytest

from httpd_harness import Httpd

CASES = [
    ("ExpectPolicy sometimes",
     ["ExpectPolicy", "'sometimes'", "continue, reject, ignore"]),
    ("ExpectPolicy", ["ExpectPolicy", "takes one argument"]),
    ("ExpectPolicy continue reject", ["ExpectPolicy", "takes one argument"]),
    ("ExpectStrict maybe", ["ExpectStrict", "On or Off"]),
    ("<Location /x>\nExpectPolicy nope\n</Location>",
     ["ExpectPolicy", "'nope'", "continue, reject, ignore"]),
    ("ExpectJudge sometimes", ["ExpectJudge", "'sometimes'", "fixups and early"]),
    ("ExpectJudge", ["ExpectJudge", "takes one argument"]),
    ("<Location /x>\nExpectJudge early\n</Location>",
     ["ExpectJudge not allowed in <Location> context"]),
    # ExpectJudge early is refused wherever a per-directory policy applies,
    # naming both places (the path is the test's httpd.conf).
    ("ExpectJudge early\n<Location /up>\nExpectPolicy reject\n</Location>\n",
     ["EXP0016", "ExpectJudge early (", "the main server",
      "ExpectPolicy in <Location /up> at ", "httpd.conf:"]),
    ("<Directory /srv>\nExpectStrict On\n</Directory>\n"
     "<VirtualHost 127.0.0.1:@PORT@>\nServerName v.test\nExpectJudge early\n</VirtualHost>\n",
     ["EXP0016", "virtual host v.test", "ExpectStrict in <Directory /srv> at "]),
    ("<VirtualHost 127.0.0.1:@PORT@>\nServerName w.test\nExpectJudge early\n"
     "<If \"%{HTTP_USER_AGENT} =~ /Java/\">\nExpectPolicy continue\n</If>\n</VirtualHost>\n",
     ["EXP0016", "virtual host w.test", "ExpectPolicy in <If "]),
]


@pytest.mark.parametrize("snippet,needles", CASES,
                         ids=["bad-policy", "policy-no-arg", "policy-two-args",
                              "bad-strict", "bad-policy-in-location", "bad-judge",
                              "judge-no-arg", "judge-in-location", "early-main-section",
                              "early-vhost-main-section", "early-vhost-if"])
def test_bad_value_fails_configtest(snippet, needles):
    h = Httpd(snippet + "\n", name="conftest")
    try:
        res = h.configtest()
        assert res.returncode != 0
        for n in needles:
            assert n in res.stderr, res.stderr
    finally:
        h.cleanup()


@pytest.mark.parametrize("snippet", [
    "ExpectPolicy REJECT",
    "ExpectPolicy ignore\nExpectStrict on",
    "<Directory /srv>\nExpectPolicy reject\nExpectStrict Off\n</Directory>",
    "ExpectJudge early\nExpectPolicy reject",
    "ExpectJudge FIXUPS\n<Location /up>\nExpectPolicy reject\n</Location>",
    # A section policy in one vhost does not stop another from judging early.
    "<VirtualHost 127.0.0.1:@PORT@>\nServerName a.test\nExpectJudge early\n</VirtualHost>\n"
    "<VirtualHost 127.0.0.1:@PORT@>\nServerName b.test\n<Location /up>\n"
    "ExpectPolicy reject\n</Location>\n</VirtualHost>",
])
def test_good_values_pass_configtest(snippet):
    h = Httpd(snippet + "\n", name="conftest")
    try:
        res = h.configtest()
        assert res.returncode == 0, res.stderr
        assert "Syntax OK" in res.stderr
    finally:
        h.cleanup()


def test_htaccess_cannot_set_policy():
    """ExpectPolicy is for the administrator, not for .htaccess authors."""
    h = Httpd("<Directory @ROOT@/htdocs>\nAllowOverride All\n</Directory>\n",
              name="htaccess")
    try:
        with open(f"{h.htdocs}/.htaccess", "w") as f:
            f.write("ExpectPolicy reject\n")
        h.start()
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{h.port}/index.html"],
                             capture_output=True, text=True, timeout=10).stdout
        assert out == "500"
        assert "ExpectPolicy not allowed here" in h.read_error_log()
    finally:
        h.cleanup()


def test_allowoverridelist_cannot_set_policy_either():
    """AllowOverrideList can open any directive to .htaccess; not these."""
    h = Httpd("<Directory @ROOT@/htdocs>\nAllowOverride None\n"
              "AllowOverrideList ExpectPolicy ExpectStrict\n</Directory>\n",
              name="htaccess-list")
    try:
        for line in ("ExpectPolicy reject", "ExpectStrict On"):
            with open(f"{h.htdocs}/.htaccess", "w") as f:
                f.write(line + "\n")
            if h.pid() is None:
                h.start()
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  f"http://127.0.0.1:{h.port}/index.html"],
                                 capture_output=True, text=True, timeout=10).stdout
            assert out == "500", line
            assert f"{line.split()[0]} cannot occur within htaccess files" \
                in h.read_error_log(), line
        # Judging stays where the server's configuration put it.
        assert "EXP0015: judging Expect: 100-continue in fixups for all 1 servers" \
            in h.read_error_log()
    finally:
        h.cleanup()

