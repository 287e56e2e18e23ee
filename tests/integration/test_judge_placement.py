# SPDX-License-Identifier: Apache-2.0
"""Where requests are judged: fixups by default, translate_name only with
ExpectJudge early, and only where no per-directory policy applies.

The point of judging in fixups: a client sends Expect: 100-continue to a
protected upload URL so that a 401 comes back before the body.  Judged in
fixups, access control answers first and no body byte is wasted; judged
early, the 417 comes first and the client pays for the body twice.
"""
import base64
import hashlib

import pytest

from httpd_harness import MPMS, Httpd, serving
from rawhttp import Conn
from test_policy_raw import SENTINEL, Row, run_row

AUTH_MODULES = ("auth_basic", "authn_core", "authn_file", "authz_user")
USER, PASSWORD = "uploader", "s3cret"
CREDENTIALS = "Authorization: Basic " + base64.b64encode(
    f"{USER}:{PASSWORD}".encode()).decode()

# A protected upload URL; @EXTRA@ is more of the section.
PRIVATE = """    <Location /private>
        SetHandler reflector
        AuthType Basic
        AuthName "uploads"
        AuthBasicProvider file
        AuthUserFile @ROOT@/htpasswd
        Require valid-user
@EXTRA@    </Location>
"""

AUTH_VHOST = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName auth.test
    DocumentRoot @ROOT@/htdocs
    @JUDGE@
    ExpectPolicy reject
""" + PRIVATE.replace("@EXTRA@", "") + """</VirtualHost>
"""

# Another vhost with a policy in a section: before ExpectJudge, this alone
# moved every vhost of the server to fixups.
OTHER_VHOST = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName other.test
    DocumentRoot @ROOT@/htdocs
    <Location /echo>
        SetHandler reflector
        ExpectPolicy continue
    </Location>
""" + PRIVATE.replace("@EXTRA@", "        ExpectPolicy reject\n") + """</VirtualHost>
"""

A = "auth.test"
NO_CREDS_401 = Row("no-credentials", A, "/private", "final", 401, False, "close")
CREDS_417 = Row("credentials", A, "/private", "final", 417, False, "close",
                extra=[CREDENTIALS])
NO_CREDS_417 = Row("no-credentials-early", A, "/private", "final", 417, False, "close")


def auth_server(body, mpm="event", name="judge"):
    h = Httpd(body, mpm=mpm, modules=AUTH_MODULES, name=name)
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
    with open(f"{h.root}/htpasswd", "w") as f:
        f.write(f"{USER}:{{SHA}}{digest}\n")
    return h


def warm(h, host):
    """A first request waits out a new child's start-up after a reload,
    which would otherwise read as "no answer within PAUSE"."""
    conn = Conn(h.port)
    try:
        conn.send(SENTINEL.format(host=host))
        assert conn.read_response()[1].status == 200
    finally:
        conn.close()


def decisions(h, mark):
    return [line.rsplit("decision=", 1)[1] for line in
            h.access_log_since(mark).splitlines() if "/private" in line]


@pytest.mark.parametrize("mpm", MPMS)
def test_default_answers_401_before_417(mpm):
    """By default (fixups) a request without credentials gets 401 with no
    100 and no body read; with credentials it gets the policy's 417."""
    h = auth_server(AUTH_VHOST.replace("@JUDGE@", ""), mpm=mpm, name=f"judge-{mpm}")
    with serving(h):
        mark = h.log_mark()
        run_row(h, NO_CREDS_401)
        run_row(h, CREDS_417)
        # The 401 was answered before mod_expect judged; the 417 was its own.
        assert decisions(h, mark) == ["-", "reject"]
        assert "EXP0015: judging Expect: 100-continue in fixups for all" \
            in h.read_error_log()


@pytest.mark.parametrize("mpm", MPMS)
def test_judge_early_answers_417_first(mpm):
    """ExpectJudge early: the 417 comes before access control."""
    h = auth_server(AUTH_VHOST.replace("@JUDGE@", "ExpectJudge early"), mpm=mpm,
                    name=f"judge-early-{mpm}")
    with serving(h):
        mark = h.log_mark()
        run_row(h, NO_CREDS_417)
        run_row(h, CREDS_417)
        assert decisions(h, mark) == ["reject", "reject"]
        log = h.read_error_log()
        # The main server still judges in fixups: both hooks, each for its own.
        assert ("EXP0015: judging Expect: 100-continue in fixups for 1 servers "
                "and in translate_name for 1 (ExpectJudge early)") in log


def test_a_section_elsewhere_does_not_move_judging():
    """Adding a <Location> policy to another vhost leaves this vhost's order
    of 401 and 417 as it was, by default and with ExpectJudge early."""
    for judge, first in (("", NO_CREDS_401), ("ExpectJudge early", NO_CREDS_417)):
        alone = AUTH_VHOST.replace("@JUDGE@", judge)
        h = auth_server(alone, name="judge-distance")
        with serving(h):
            run_row(h, first)
            mark = h.log_mark()
            h.write_config(alone + OTHER_VHOST)
            h.reload("graceful")
            warm(h, A)
            run_row(h, first)
            run_row(h, CREDS_417)
            # The other vhost's own sections decide there, in fixups.
            run_row(h, Row("other-continue", "other.test", "/echo", "100", 200, True,
                           "keep"))
            run_row(h, Row("other-401", "other.test", "/private", "final", 401, False,
                           "close"))
            run_row(h, Row("other-417", "other.test", "/private", "final", 417, False,
                           "close", extra=[CREDENTIALS]))
            assert "EXP0015" in h.error_log_since(mark)


def test_judge_early_in_a_module_guard_registers_one_hook():
    """<IfModule expect_module> is surely in effect: early for every server
    registers translate_name alone (a request without Expect pays one hook)."""
    body = ("<IfModule expect_module>\n    ExpectJudge early\n</IfModule>\n"
            + AUTH_VHOST.replace("@JUDGE@", ""))
    h = auth_server(body, name="judge-guarded")
    with serving(h):
        run_row(h, NO_CREDS_417)
        assert ("EXP0015: judging Expect: 100-continue in translate_name for all 2 "
                "servers (ExpectJudge early)") in h.read_error_log()


def test_judge_early_under_a_false_condition_is_not_applied():
    """A conditional ExpectJudge early that httpd skips leaves fixups."""
    body = ("<IfDefine NO_SUCH_DEFINE>\n    ExpectJudge early\n</IfDefine>\n"
            + AUTH_VHOST.replace("@JUDGE@", ""))
    h = auth_server(body, name="judge-false-cond")
    with serving(h):
        run_row(h, NO_CREDS_401)
        assert "EXP0015: judging Expect: 100-continue in fixups for all 2 servers" \
            in h.read_error_log()
