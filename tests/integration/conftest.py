# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: a backend httpd and, per MPM, the policy test server."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from httpd_harness import Httpd, MPMS, serving  # noqa: E402
from testlib import location, vhost  # noqa: E402

BACKEND_CONF = """
<Location /echo>
    SetHandler reflector
</Location>
"""

# Three policies on three name-based vhosts, a stricter <Location> inside
# the lenient one, a denied <Location> in two of them, ErrorDocument 417s
# (a page, a text, and "default" undoing the page), and two proxied vhosts
# in front of the backend.
POLICY_CONF = "\n" + "".join((
    vhost("continue.test", "ExpectPolicy continue",
          location("/upload", "SetHandler reflector", "ExpectPolicy reject"),
          location("/strict", "SetHandler reflector", "ExpectStrict On")),
    vhost("reject.test", "ExpectPolicy reject",
          location("/denied", "Require all denied"),
          location("/errdoc", "SetHandler reflector", "ErrorDocument 417 /errdocs/417.html"),
          location("/errdoc/default", "ErrorDocument 417 default"),
          location("/errtext", "SetHandler reflector", 'ErrorDocument 417 "a custom 417 text"')),
    vhost("ignore.test", "ExpectPolicy ignore",
          location("/denied", "Require all denied"),
          location("/gone", "Redirect gone"),
          location("/denied-doc", "Require all denied", "ErrorDocument 403 /noread"),
          "LuaMapHandler ^/noread$ @ROOT@/noread.lua"),
    vhost("proxy-continue.test", "ExpectPolicy continue",
          "ProxyPass /echo http://127.0.0.1:@BACKEND@/echo", docroot=False, echo=False),
    vhost("proxy-reject.test", "ExpectPolicy reject",
          "ProxyPass /echo http://127.0.0.1:@BACKEND@/echo", docroot=False, echo=False)))


# The same servers judged early (ExpectJudge early: in translate_name),
# which needs every Expect* directive out of its section.  What the removed
# <Location> policies tested moves to a vhost of its own (strict.test);
# /upload keeps its handler but no longer its own policy.
POLICY_CONF_TRANSLATE = (
    "ExpectJudge early\n" + POLICY_CONF
    .replace("""        SetHandler reflector
        ExpectPolicy reject
""", """        SetHandler reflector
""")
    .replace("""        SetHandler reflector
        ExpectStrict On
""", """        SetHandler reflector
""")
    + "\n" + vhost("strict.test", "ExpectStrict On", location("/strict", "SetHandler reflector"),
                    echo=False)
)
# One ExpectJudge more, one section policy less.
assert POLICY_CONF_TRANSLATE.count("Expect") == POLICY_CONF.count("Expect")

# A handler that answers, and flushes, without reading the request body.
NOREAD_LUA = """
function handle(r)
    r.content_type = "text/plain"
    r:puts("answered without reading the body\\n")
    r:flush()
    return apache2.OK
end
"""

# Where mod_expect judges, by the configuration it is given.
PHASES = {"fixups": POLICY_CONF, "translate": POLICY_CONF_TRANSLATE}


@pytest.fixture(scope="session")
def backend():
    h = Httpd(BACKEND_CONF, mpm="event", load_expect=False, name="backend",
              loglevel="info")
    h.start()
    yield h
    h.cleanup()


@pytest.fixture(scope="module",
                params=[(m, p) for p in PHASES for m in MPMS],
                ids=[f"{m}-{p}" for p in PHASES for m in MPMS])
def policy_server(request, backend):
    mpm, phase = request.param
    conf = PHASES[phase].replace("@BACKEND@", str(backend.port))
    h = Httpd(conf, mpm=mpm, modules=("proxy", "proxy_http", "lua"),
              name=f"policy-{mpm}-{phase}")
    with open(os.path.join(h.root, "noread.lua"), "w") as f:
        f.write(NOREAD_LUA)
    h.phase = phase
    # AH01630: the denied <Location>s.
    with serving(h, allowed_errors=(r"AH01630",)):
        yield h
