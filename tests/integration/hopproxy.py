# SPDX-License-Identifier: Apache-2.0
"""A small HTTP/1.1 hop for `expectctl probe --chain` and --connect-to to
find: a reverse proxy on 127.0.0.1 (a free port) in front of one backend,
as a load balancer or an intermediary would sit.  Standard library only.

    with HopProxy("double100", backend_port) as hop:
        hop.hop                 # "127.0.0.1:PORT", for --connect-to / --chain

Kinds, and what probe must say of the hop (docs/expectctl.8):

    relay       passes the bytes through both ways, untouched: the hop
                says what the backend says
    own100      answers 100 Continue itself, at once, to every request
                with Expect: 100-continue (HTTP/1.0 ones too, which RFC
                9110 forbids), and forwards the request without Expect
                                                    http10-gets-100
    double100   answers 100 Continue itself, and forwards the request
                with Expect, relaying the backend's 100 too (Traefik,
                traefik#2899)                       duplicate-100

Every forwarded request carries Connection: close, so each response ends
with the backend's close and the hop needs no framing of its own.  Each
connection is served by daemon threads with socket timeouts.
"""
import socket
import threading

from loopback import LoopbackServer

KINDS = ("relay", "own100", "double100")
SOCKET_TIMEOUT = 15.0
HEAD_MAX = 65536


def _pipe(src, dst):
    """Copy src to dst until src ends; then stop writing to dst."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _read_head(sock):
    """(head bytes without the blank line, what came after it), or None."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > HEAD_MAX:
            return None
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def _rewrite(head, drop_expect):
    """The request head with Connection: close, without Expect if asked;
    and whether it carried Expect: 100-continue."""
    lines = head.split(b"\r\n")
    out, expects = [lines[0]], False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"expect" and value.strip().lower() == b"100-continue":
            expects = True
            if drop_expect:
                continue
        if key == b"connection":
            continue
        out.append(line)
    out.append(b"Connection: close")
    return b"\r\n".join(out) + b"\r\n\r\n", expects


def _serve(kind, client, backend_port):
    client.settimeout(SOCKET_TIMEOUT)
    try:
        backend = socket.create_connection(("127.0.0.1", backend_port), timeout=SOCKET_TIMEOUT)
    except OSError:
        client.close()
        return
    try:
        if kind != "relay":
            got = _read_head(client)
            if got is None:
                return
            head, rest = got
            fwd, expects = _rewrite(head, drop_expect=(kind == "own100"))
            if expects:
                client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            backend.sendall(fwd + rest)
        up = threading.Thread(target=_pipe, args=(client, backend), daemon=True)
        up.start()
        _pipe(backend, client)
        up.join(timeout=SOCKET_TIMEOUT)
    except OSError:
        pass
    finally:
        backend.close()
        client.close()


class HopProxy(LoopbackServer):
    """One hop of `kind` on 127.0.0.1 in front of 127.0.0.1:backend_port."""

    def __init__(self, kind, backend_port):
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind = kind
        self.backend_port = backend_port
        super().__init__(lambda conn, stop: _serve(kind, conn, backend_port))
        self.hop = f"127.0.0.1:{self.port}"
