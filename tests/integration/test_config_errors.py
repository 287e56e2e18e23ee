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
]


@pytest.mark.parametrize("snippet,needles", CASES,
                         ids=["bad-policy", "policy-no-arg", "policy-two-args",
                              "bad-strict", "bad-policy-in-location"])
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
        # Nothing registered a hook at run time: still judged in translate_name.
        assert "judging Expect: 100-continue in fixups" not in h.read_error_log()
    finally:
        h.cleanup()
