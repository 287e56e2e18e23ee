# SPDX-License-Identifier: Apache-2.0
"""A raw-socket HTTP/1.x client that shows what a library would hide:
interim 100 responses, exactly when the final status arrives, and whether
the server keeps or closes the connection afterwards.
"""
import socket
import time


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> list of values
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        vals = self.headers.get(name.lower())
        return ", ".join(vals) if vals else None

    def closes(self):
        conn = (self.header("connection") or "").lower()
        return "close" in conn

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:60]!r}>"


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.time()
        if remaining <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError as e:
            raise Closed("reset") from e
        if not chunk:
            raise Closed("eof")
        self.buf += chunk

    def _read_until(self, marker, deadline):
        while marker not in self.buf:
            self._fill(deadline)
        idx = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:idx], self.buf[idx:]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self, timeout=None):
        """One response head (interim or final), or socket.timeout."""
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        raw = self._read_until(b"\r\n\r\n", deadline)
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        return status, reason, headers, raw, deadline

    def read_response(self, timeout=None, method="GET"):
        """Read interim responses and one final response.

        Returns (interims, Response): interims is the list of 1xx statuses.
        """
        interims = []
        while True:
            status, reason, headers, raw, deadline = self.read_head(timeout)
            if 100 <= status < 200:
                interims.append(status)
                continue
            break
        body = b""
        te = ", ".join(headers.get("transfer-encoding", [])).lower()
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in te:
            while True:
                size_line = self._read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    self._read_until(b"\r\n", deadline)
                    break
                body += self._read_exact(size, deadline)
                self._read_exact(2, deadline)
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"][0]), deadline)
        else:
            try:
                while True:
                    self._fill(deadline)
            except Closed:
                pass
            body, self.buf = self.buf, b""
        return interims, Response(status, reason, headers, body, raw)

    def wait_interim_or_final(self, timeout):
        """What the server says before the body is sent.

        Returns ("100", None), ("final", (interims, Response)), or
        ("nothing", None) when the server stays silent for `timeout`.
        """
        try:
            status, reason, headers, raw, _ = self.read_head(timeout)
        except socket.timeout:
            return "nothing", None
        if status == 100:
            return "100", None
        # Put the head back and read it as a full response.
        self.buf = raw + self.buf
        return "final", self.read_response()

    def expect_eof(self, timeout=3.0):
        """True if the server closes without sending another byte."""
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                before = len(self.buf)
                self._fill(deadline)
                if len(self.buf) > before:
                    return False
        except Closed:
            return len(self.buf) == 0
        except socket.timeout:
            return False
        return False


def chunked(body):
    if isinstance(body, str):
        body = body.encode()
    out = b""
    for i in range(0, len(body), 7):
        part = body[i:i + 7]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def expect_post(port, host, path="/echo", body=b"body", wait=2.0):
    """A 100-continue POST that waits for the 100 like a patient client.

    Returns (what came before the body: "100", "final" or "nothing", status).
    """
    conn = Conn(port)
    try:
        conn.send(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n")
        before, final = conn.wait_interim_or_final(wait)
        if final is None:
            conn.send(body)
            final = conn.read_response()
        return before, final[1].status
    finally:
        conn.close()
