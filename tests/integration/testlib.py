# SPDX-License-Identifier: Apache-2.0
"""Helpers the integration tests share, so that a config snippet, a raw
upload or a polling loop is written once.

API:
  vhost(name, *lines, docroot=True, echo=True, port="@PORT@")
      One name-based <VirtualHost> block as configuration text.
  location(path, *lines)
      One <Location> section, to pass to vhost() as a line.
  CGI
      The ScriptAlias of the tests' CGI directory, as a vhost line.
  TLS_LINES
      The three lines that turn a vhost into the harness's TLS vhost.
  upload(port, host, path="/echo", body=b"abcd", close=True, wait=2.0)
      A raw POST with Expect: 100-continue; the final status.
  wait_for(pred, timeout=20.0, what="condition", interval=0.2)
      Poll until pred() returns something true; return it, or fail.
  rows(h)
      expectctl stats --json as {vhost name with port: row}.
  private_journald()
      A journald of the test's own (a journal namespace); yields
      (namespace, its syslog socket), or skips with the reason.
"""
import contextlib
import os
import shutil
import subprocess
import textwrap
import time
import uuid

from rawhttp import Conn

# The reflector echoes the request body; most vhosts have it at /echo.
ECHO = "<Location /echo>\n    SetHandler reflector\n</Location>"

# probehelp.install_echo_cgi puts echo.cgi in @ROOT@/cgi (mod_cgid runs it).
CGI = "ScriptAlias /cgi/ @ROOT@/cgi/"

# probehelp.make_cert(f"{h.root}/tls", ...) writes the certificate and key
# these name.
TLS_LINES = ("SSLEngine on",
             "SSLCertificateFile @ROOT@/tls/cert.pem",
             "SSLCertificateKeyFile @ROOT@/tls/key.pem")


def _indent(text):
    return textwrap.indent(textwrap.dedent(text).strip("\n"), "    ") + "\n"


def location(path, *lines):
    """A <Location path> section holding lines (each may span lines)."""
    return f"<Location {path}>\n" + "".join(_indent(x) for x in lines) + "</Location>"


def vhost(name, *lines, docroot=True, echo=True, port="@PORT@"):
    """A <VirtualHost 127.0.0.1:port> for ServerName name.

    With docroot, DocumentRoot @ROOT@/htdocs (the harness's index page and
    errdocs); then lines, each indented (a line may be a whole section, see
    location()); with echo, the reflector at /echo right after the plain
    directives, before the first section among lines, so that sections keep
    the order they are given in.  The text is exactly what the tests used to
    write by hand, so str.replace on it keeps working.
    """
    head = [f"ServerName {name}"] + (["DocumentRoot @ROOT@/htdocs"] if docroot else [])
    plain = []
    rest = list(lines)
    while rest and not rest[0].lstrip().startswith("<"):
        plain.append(rest.pop(0))
    body = head + plain + ([ECHO] if echo else []) + rest
    return (f"<VirtualHost 127.0.0.1:{port}>\n" + "".join(_indent(x) for x in body if x)
            + "</VirtualHost>\n")


def upload(port, host, path="/echo", body=b"abcd", close=True, wait=2.0, headers=()):
    """The final status of a POST with Expect: 100-continue on a new
    connection: the body goes only after a 100 or after wait seconds of
    nothing (like curl), never after a final status (a 417)."""
    conn = Conn(port)
    try:
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\n"
                f"Content-Length: {len(body)}\r\n"
                + "".join(f"{x}\r\n" for x in headers)
                + ("Connection: close\r\n" if close else "") + "\r\n")
        conn.send(head)
        _before, final = conn.wait_interim_or_final(wait)
        if final is not None:
            return final[1].status
        conn.send(body)
        return conn.read_response()[1].status
    finally:
        conn.close()


def wait_for(pred, timeout=20.0, what="condition", interval=0.2):
    """pred()'s first true value within timeout seconds; an AssertionError
    naming what otherwise (the counters are written in log_transaction,
    after the client already has its response)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def rows(h):
    """expectctl stats --json of h's segment, by vhost name (name:port)."""
    return {v["name"]: v for v in h.ctl_json("stats")["vhosts"]}


JOURNALD = ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")


@contextlib.contextmanager
def private_journald():
    """A systemd-journald for a journal namespace of this test alone (systemd
    245 and later; Debian 12 has 252), so that lines sent to its syslog
    socket come back through `journalctl --namespace=NS` and nothing reaches
    the machine's journal.  Skips, with the reason, without root, without
    systemd (journald, journalctl) or without a machine id.  Stopped by its
    pid, its files removed."""
    import pytest
    journald = next((j for j in JOURNALD if os.path.exists(j)), None)
    if os.geteuid() != 0:
        pytest.skip("a private journald needs root")
    if journald is None or shutil.which("journalctl") is None:
        pytest.skip("journald missing: apt-get install systemd")
    try:
        with open("/etc/machine-id") as f:
            machine = f.read().strip()
    except OSError:
        machine = ""
    if not machine:
        pytest.skip("no /etc/machine-id: journald cannot name its files (systemd-machine-id-setup)")
    ns = "modexpect" + uuid.uuid4().hex[:12]
    run = f"/run/systemd/journal.{ns}"
    proc = subprocess.Popen([journald, ns], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(run, "dev-log")) and time.time() < deadline:
            if proc.poll() is not None:
                pytest.skip(f"journald did not start: {proc.stderr.read().decode()[-300:]}")
            time.sleep(0.1)
        if not os.path.exists(os.path.join(run, "dev-log")):
            pytest.skip("journald did not make its socket within 10 s")
        yield ns, os.path.join(run, "dev-log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        shutil.rmtree(run, ignore_errors=True)
        for d in ("/var/log/journal", "/run/log/journal"):
            shutil.rmtree(os.path.join(d, f"{machine}.{ns}"), ignore_errors=True)
