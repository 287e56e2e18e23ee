# SPDX-License-Identifier: Apache-2.0
"""A listening socket on a loopback address and a free port that serves
each connection in a daemon thread: the frame of the test servers
(misbehaving.py, h2misbehaving.py, hopproxy.py)."""
import socket
import threading


class LoopbackServer:
    """Calls serve(conn, stop) in a thread per accepted connection."""

    def __init__(self, serve, host="127.0.0.1"):
        self.serve = serve
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn, self.stop), daemon=True).start()

    def url(self, path="/upload"):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()
