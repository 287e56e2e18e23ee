# SPDX-License-Identifier: Apache-2.0
"""What the probe tests share: running `expectctl probe --json`, reading
its document, the documented verdicts, and the servers' fixtures (a test
certificate, the echo CGI)."""
import json
import os
import socket
import subprocess

from httpd_harness import expectctl

# Every probe runs with --timeout 1 (the wait for a 100 is 0.5 s) to keep
# the suites fast; the verdicts do not depend on it.
TIMEOUT = "1"

# The documented verdicts (docs/expectctl.8, docs/TROUBLESHOOTING.md).
EXIT = {
    "honours-100-continue": 0, "final-status-before-body": 0,
    "ignores-100-continue": 10, "rejects-100-continue": 11, "duplicate-100": 12,
    "closes-without-response": 13, "times-out": 14, "always-417": 15,
    "garbled-response": 16, "http10-gets-100": 17, "desync-risk": 18,
}

# mod_reflector does not echo over h2 in this httpd: a CGI reads the whole
# body, then answers with its length (reading first cannot fill a pipe).
ECHO_CGI = ("#!/bin/sh\nn=$(wc -c)\n"
            "printf 'Content-Type: text/plain\\r\\n\\r\\nread %s bytes\\n' \"$n\"\n")


def probe(url, *args, env=None, timeout=60):
    """Run probe --json; returns (CompletedProcess, document or None)."""
    res = expectctl("probe", url, "--timeout", TIMEOUT, "--json", *args, env=env,
                    timeout=timeout)
    doc = json.loads(res.stdout) if res.stdout.strip() else None
    return res, doc


def check(doc, name):
    return next(c for c in doc["checks"] if c["name"] == name)


def findings(doc):
    return [f["key"] for f in doc["findings"]]


def assert_verdict(res, doc, key):
    assert doc is not None, res.stderr
    assert doc["verdict"]["key"] == key, json.dumps(doc, indent=1)
    assert res.returncode == EXIT[key] == doc["exit_code"] == doc["verdict"]["exit_code"]
    assert doc["verdict"]["client_fix"] and doc["verdict"]["server_fix"]


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory, cn, san):
    """A self-signed certificate and key in directory (cert.pem, key.pem),
    readable by httpd's children; returns the certificate's path."""
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
                    "-days", "2", "-keyout", f"{directory}/key.pem",
                    "-out", f"{directory}/cert.pem"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(f"{directory}/key.pem", 0o644)
    return f"{directory}/cert.pem"


def install_echo_cgi(root):
    os.makedirs(f"{root}/cgi", exist_ok=True)
    with open(f"{root}/cgi/echo.cgi", "w") as f:
        f.write(ECHO_CGI)
    os.chmod(f"{root}/cgi/echo.cgi", 0o755)
