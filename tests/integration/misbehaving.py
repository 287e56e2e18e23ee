# SPDX-License-Identifier: Apache-2.0
"""Small HTTP/1.x servers that each get Expect: 100-continue wrong in one
documented way, for `expectctl probe` to diagnose.  Loopback only.

    with Misbehaving("never100") as srv:
        srv.url("/upload")      # http://127.0.0.1:PORT/upload

Kinds, and the verdict probe must give (docs/expectctl.8):

    never100      never sends 100; reads the body when it comes; keeps
                  the connection                         ignores-100-continue
    two100        sends two 100 Continue, then the final status
                                                         duplicate-100
    traefik       sends two 100 Continue and never a final status
                  (traefik#2899)                         duplicate-100
    always417     answers 417 to every request at once, then closes
                                                         always-417
    closer        closes every connection at once, without a byte
                                                         closes-without-response
    slow          reads the request, then says nothing for a long time
                                                         times-out
    garbled       answers a 100 whose status line is not HTTP
                                                         garbled-response
    http10_100    honours 100-continue, but also sends it to HTTP/1.0
                                                         http10-gets-100
    desync        answers 417 before the body on a kept connection, then
                  parses the body as the next request    desync-risk
    good          honours 100-continue correctly         honours-100-continue
    endless102    answers every request with HTTP/1.1 102 interim
                  responses, back to back, as fast as it can, forever
                                                         garbled-response
                  (more interim responses than probe accepts)
    endless102_lf the same with bare LF line ends ("HTTP/1.1 102\n\n")
                                                         garbled-response
    endless_body  answers 200 at once with a Content-Length of 10^15
                  and sends body bytes as fast as it can, forever
                                                         final-status-before-body
                  (every body read ends at its deadline)

Each connection is served by its own daemon thread; every socket has a
timeout, so a test that fails cannot leave a thread blocked for long.
"""
import socket
import time

from loopback import LoopbackServer

KINDS = ("never100", "two100", "traefik", "always417", "closer", "slow", "garbled",
         "http10_100", "desync", "good", "endless102", "endless102_lf", "endless_body")
# What the endless kinds repeat, and how much of it goes out per send.
ENDLESS = {
    "endless102": b"HTTP/1.1 102\r\n\r\n",
    "endless102_lf": b"HTTP/1.1 102\n\n",
    "endless_body": b"x",
}
ENDLESS_BLOCK = 65536
SOCKET_TIMEOUT = 15.0
SLOW_SECONDS = 30.0


class _Request:
    def __init__(self, line, headers):
        self.line = line
        parts = line.split(" ")
        self.method = parts[0] if parts else ""
        self.version = parts[2] if len(parts) == 3 else ""
        self.valid = (len(parts) == 3 and parts[0].isalpha()
                      and parts[2] in ("HTTP/1.0", "HTTP/1.1"))
        self.headers = headers

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def length(self):
        try:
            return int(self.header("content-length") or 0)
        except ValueError:
            return 0

    @property
    def expects_100(self):
        return (self.header("expect") or "").strip().lower() == "100-continue"

    @property
    def http10(self):
        return self.version == "HTTP/1.0"

    @property
    def closes(self):
        conn = (self.header("connection") or "").lower()
        return self.http10 or "close" in conn


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return _Request(lines[0], headers)

    def read_body(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        self.buf = self.buf[n:]
        return True

    def send(self, data):
        self.sock.sendall(data.encode("latin-1") if isinstance(data, str) else data)


def _response(status, reason, body=b"ok\n", close=False, version="HTTP/1.1"):
    head = f"{version} {status} {reason}\r\nContent-Length: {len(body)}\r\n"
    head += "Server: misbehaving\r\n"
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def _linger_close(sock, seconds=1.0):
    """Close without a reset: stop writing, drain what the client still
    sends, then close.  A plain close() with unread bytes sends RST, and
    the client may lose the response it has not read yet."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(seconds)
        deadline = time.time() + seconds
        while time.time() < deadline:
            if not sock.recv(65536):
                break
    except OSError:
        pass
    finally:
        sock.close()


def _hold(sock, stop):
    """Say nothing more until the client gives up (or SLOW_SECONDS)."""
    deadline = time.time() + SLOW_SECONDS
    sock.settimeout(0.2)
    while time.time() < deadline and not stop.is_set():
        try:
            if not sock.recv(65536):
                break
        except socket.timeout:
            continue


def _flood(sock, kind, stop):
    """Send the kind's pattern back to back until the client goes away."""
    if kind == "endless_body":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n"
                     b"Server: misbehaving\r\n\r\n")
    unit = ENDLESS[kind]
    block = unit * (ENDLESS_BLOCK // len(unit))
    while not stop.is_set():
        sock.sendall(block)


def _serve(kind, sock, stop):
    sock.settimeout(SOCKET_TIMEOUT)
    c = _Conn(sock)
    try:
        if kind == "closer":
            sock.close()
            return
        while not stop.is_set():
            req = c.read_head()
            if req is None:
                break
            if kind == "slow":
                _hold(sock, stop)
                break
            if kind in ENDLESS:
                _flood(sock, kind, stop)
                break
            if not req.valid:
                c.send(_response(400, "Bad Request", close=True))
                break
            if kind == "always417":
                c.send(_response(417, "Expectation Failed", close=True))
                break
            if kind == "garbled":
                c.send("HTTP/1.1 1OO Continue\r\n\r\n")
                break
            if kind == "desync" and req.header("expect"):
                # Wrong: an early final status on a kept connection, with
                # the declared body left to be parsed as the next request.
                c.send(_response(417, "Expectation Failed"))
                continue
            if kind == "traefik" and req.expects_100 and not req.http10:
                # Two 100s, then hold the request until the client gives up.
                c.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")
                _hold(sock, stop)
                break
            if req.expects_100:
                if kind == "two100" and not req.http10:
                    c.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")
                elif kind == "http10_100" or (kind in ("good", "desync") and not req.http10):
                    c.send("HTTP/1.1 100 Continue\r\n\r\n")
            if not c.read_body(req.length):
                break
            c.send(_response(200, "OK", close=req.closes))
            if req.closes:
                break
    except OSError:
        pass
    finally:
        if sock.fileno() >= 0:
            _linger_close(sock)


class Misbehaving(LoopbackServer):
    """A listening socket on host (127.0.0.1 or ::1) serving one kind."""

    def __init__(self, kind, host="127.0.0.1"):
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind = kind
        super().__init__(lambda conn, stop: _serve(kind, conn, stop), host)
