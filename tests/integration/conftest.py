"""Shared fixtures: a backend httpd and, per MPM, the policy test server."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from httpd_harness import Httpd, MPMS, serving  # noqa: E402

BACKEND_CONF = """
<Location /echo>
    SetHandler reflector
</Location>
"""

# Three policies on three name-based vhosts, a stricter <Location> inside
# the lenient one, and two proxied vhosts in front of the backend.
POLICY_CONF = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName continue.test
    DocumentRoot @ROOT@/htdocs
    ExpectPolicy continue
    <Location /echo>
        SetHandler reflector
    </Location>
    <Location /upload>
        SetHandler reflector
        ExpectPolicy reject
    </Location>
    <Location /strict>
        SetHandler reflector
        ExpectStrict On
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName reject.test
    DocumentRoot @ROOT@/htdocs
    ExpectPolicy reject
    <Location /echo>
        SetHandler reflector
    </Location>
    <Location /errdoc>
        SetHandler reflector
        ErrorDocument 417 /errdocs/417.html
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName ignore.test
    DocumentRoot @ROOT@/htdocs
    ExpectPolicy ignore
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName proxy-continue.test
    ExpectPolicy continue
    ProxyPass /echo http://127.0.0.1:@BACKEND@/echo
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName proxy-reject.test
    ExpectPolicy reject
    ProxyPass /echo http://127.0.0.1:@BACKEND@/echo
</VirtualHost>
"""


@pytest.fixture(scope="session")
def backend():
    h = Httpd(BACKEND_CONF, mpm="event", load_expect=False, name="backend",
              loglevel="info")
    h.start()
    yield h
    h.cleanup()


@pytest.fixture(scope="module", params=MPMS)
def policy_server(request, backend):
    conf = POLICY_CONF.replace("@BACKEND@", str(backend.port))
    h = Httpd(conf, mpm=request.param, modules=("proxy", "proxy_http"),
              name=f"policy-{request.param}")
    with serving(h):
        yield h
