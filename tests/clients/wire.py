# SPDX-License-Identifier: Apache-2.0
"""A counting TCP relay between the clients and httpd, on 127.0.0.1.

httpd logs what it read for a request (mod_logio's %I), but not what the
client pushed that it never read: after `ExpectPolicy reject` answers 417
from the head alone, the body a client sends anyway is discarded while the
connection lingers, and no log counts it.  The relay forwards every byte
unchanged in both directions and, on the way, follows the HTTP/1.1 framing
of each direction, so that for every request it knows:

  head_at          when the request head was complete
  expect           the Expect header as sent
  interim          the 1xx statuses httpd sent before the final one
  final, final_at  the final status and when its head passed the relay
  body_first_at    when the first body byte arrived
  body_bytes       body bytes the client sent on the wire (chunk framing
                   included) for this request, whenever they came: before
                   or after the final response, until the next request or
                   the end of the connection
  body_complete    the body's framing ended (Content-Length reached, or
                   the last chunk and trailer)
  closed_at        when the connection ended

Each direction is copied by its own thread; an end of file is passed on as
a half close, so the client sees what it would see without the relay.
"""
import socket
import threading
import time

MAX_HEAD = 64 * 1024


class Request:
    def __init__(self, conn, method, uri, headers, head_at, head_bytes):
        self.conn = conn
        self.method = method
        self.uri = uri
        self.headers = headers
        self.expect = headers.get("expect")
        self.head_at = head_at
        self.head_bytes = head_bytes
        self.interim = []
        self.final = None
        self.final_at = None
        self.body_first_at = None
        self.body_bytes = 0
        self.body_bytes_before_final = None
        self.body_complete = False

    @property
    def closed_at(self):
        return self.conn.closed_at

    def stall_end_at(self):
        """The first body byte, or the final response or the end of the
        connection if either came first; None while none has happened."""
        ends = [t for t in (self.body_first_at, self.final_at, self.conn.closed_at)
                if t is not None]
        return min(ends) if ends else None

    def stall(self):
        """Seconds from the end of the head to stall_end_at(), or None."""
        end = self.stall_end_at()
        return None if end is None else end - self.head_at

    def __repr__(self):
        return (f"<{self.method} {self.uri} expect={self.expect!r} "
                f"interim={self.interim} final={self.final} "
                f"body={self.body_bytes}{'/complete' if self.body_complete else ''}>")


def _parse_head(raw):
    lines = raw.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return first, headers


class _Framing:
    """Incremental HTTP/1.1 message framing for one direction.  Subclasses
    say what a head starts and where body bytes go."""

    def __init__(self, conn):
        self.conn = conn
        self.state = "head"
        self.buf = bytearray()
        self.remaining = 0

    def feed(self, data, now):
        i, n = 0, len(data)
        while i < n:
            if self.state == "head":
                if not self.buf:
                    # Tolerate blank lines between messages (RFC 9112 2.2).
                    while data.startswith(b"\r\n", i):
                        i += 2
                    if i >= n:
                        return
                self.buf += data[i:]
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buf) > MAX_HEAD:
                        self.state = "opaque"
                    return
                used = end + 4 - (len(self.buf) - (n - i))
                head = bytes(self.buf[:end])
                self.buf.clear()
                i += used
                self.on_head(head, end + 4, now)
            elif self.state == "length":
                take = min(self.remaining, n - i)
                self.on_body(take, now)
                self.remaining -= take
                i += take
                if self.remaining == 0:
                    self.end_message()
            elif self.state in ("chunk-size", "trailer"):
                j = data.find(b"\n", i)
                stop = n if j < 0 else j + 1
                self.buf += data[i:stop]
                self.on_body(stop - i, now)
                i = stop
                if j < 0:
                    if len(self.buf) > MAX_HEAD:
                        self.state = "opaque"
                    return
                line = bytes(self.buf).strip()
                self.buf.clear()
                if self.state == "trailer":
                    if not line:
                        self.end_message()
                    continue
                try:
                    size = int(line.split(b";")[0], 16)
                except ValueError:
                    self.state = "opaque"
                    continue
                if size == 0:
                    self.state = "trailer"
                else:
                    self.state = "chunk-data"
                    self.remaining = size + 2  # the data and its CRLF
            elif self.state == "chunk-data":
                take = min(self.remaining, n - i)
                self.on_body(take, now)
                self.remaining -= take
                i += take
                if self.remaining == 0:
                    self.state = "chunk-size"
            else:  # "eof" (a body that ends with the connection) or "opaque"
                self.on_body(n - i, now)
                return

    def start_body(self, headers, default_eof=False):
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = "chunk-size"
        elif headers.get("content-length", "").strip().isdigit() and \
                int(headers["content-length"]) > 0:
            self.state = "length"
            self.remaining = int(headers["content-length"])
        elif default_eof:
            self.state = "eof"
        else:
            self.end_message()

    def end_message(self):
        self.state = "head"

    def on_head(self, head, size, now):
        raise NotImplementedError

    def on_body(self, n, now):
        pass


class _Requests(_Framing):
    def __init__(self, conn):
        super().__init__(conn)
        self.current = None

    def on_head(self, head, size, now):
        first, headers = _parse_head(head)
        parts = first.split(" ")
        method, uri = (parts[0], parts[1]) if len(parts) >= 2 else (first, "")
        self.current = Request(self.conn, method, uri, headers, now, size)
        self.conn.add_request(self.current)
        self.start_body(headers)

    def on_body(self, n, now):
        r = self.current
        if r is None or n == 0:
            return
        with self.conn.lock:
            if r.body_first_at is None:
                r.body_first_at = now
            r.body_bytes += n

    def end_message(self):
        if self.current is not None and self.state != "head":
            self.current.body_complete = True
        super().end_message()


class _Responses(_Framing):
    def on_head(self, head, size, now):
        first, headers = _parse_head(head)
        try:
            status = int(first.split(" ")[1])
        except (IndexError, ValueError):
            self.state = "opaque"
            return
        req = self.conn.unanswered()
        if 100 <= status < 200:
            if req is not None:
                req.interim.append(status)
            return  # no body; the next head follows
        if req is not None:
            with self.conn.lock:
                req.final = status
                req.final_at = now
                req.body_bytes_before_final = req.body_bytes
        if status in (204, 304) or (req is not None and req.method == "HEAD"):
            self.end_message()
        else:
            self.start_body(headers, default_eof=True)


class Connection:
    def __init__(self, wire, opened_at):
        self.wire = wire
        self.lock = wire.lock
        self.opened_at = opened_at
        self.closed_at = None
        self.requests = []

    def add_request(self, req):
        with self.lock:
            self.requests.append(req)
            self.wire.requests.append(req)

    def unanswered(self):
        with self.lock:
            for r in self.requests:
                if r.final is None:
                    return r
        return None


class Relay:
    """Listen on a free 127.0.0.1 port and relay to 127.0.0.1:upstream."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.lock = threading.Lock()
        self.requests = []
        self.connections = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True, name=f"relay-{self.port}")
        t.start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            now = time.monotonic()
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            conn = Connection(self, now)
            with self.lock:
                self.connections.append(conn)
            state = {"open": 2}
            for src, dst, framing in ((client, server, _Requests(conn)),
                                      (server, client, _Responses(conn))):
                t = threading.Thread(target=self._pump,
                                     args=(conn, src, dst, framing, state, client, server),
                                     daemon=True)
                t.start()

    def _pump(self, conn, src, dst, framing, state, client, server):
        try:
            while True:
                data = src.recv(65536)
                now = time.monotonic()
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                framing.feed(data, now)
                dst.sendall(data)
        except OSError:
            # A reset on either side: end both, as a direct connection would.
            for s in (client, server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        with self.lock:
            state["open"] -= 1
            last = state["open"] == 0
        if last:
            conn.closed_at = time.monotonic()
            client.close()
            server.close()

    def requests_for(self, match):
        """The requests whose URI satisfies match(uri), in arrival order."""
        with self.lock:
            return [r for r in self.requests if match(r.uri)]

    def stop(self):
        self.stopping = True
        try:
            # shutdown() wakes the thread blocked in accept(); close() alone
            # does not on Linux.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
