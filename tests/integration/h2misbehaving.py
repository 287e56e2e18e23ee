# SPDX-License-Identifier: Apache-2.0
"""Small HTTP/2 servers (cleartext, prior knowledge) that each get a
request with a body wrong in one way, for `expectctl probe --h2c`.
Loopback only, standard library only: the few frames they send are built
here byte by byte, their header blocks from HPACK's static table
(RFC 7541 appendix A, index 8 is :status), so no HPACK decoding is needed:
requests are told apart by their frame flags alone.

    with H2Misbehaving("two100") as srv:
        srv.url("/up")          # http://127.0.0.1:PORT/up

Kinds, and the verdict probe must give:

    good100     a 100 on every stream that has a body, 200 after its
                end                                  honours-100-continue
    two100      two 100s on every stream that has a body, then 200
                                                     duplicate-100
    endless1xx  :status 103 HEADERS frames, back to back, forever
                                                     garbled-response
    reset       RST_STREAM(INTERNAL_ERROR) on every stream at once
                                                     closes-without-response
    silent      the SETTINGS exchange, then nothing  times-out
    hugeframe   a HEADERS frame header of length 0xFFFFFF (beyond any
                SETTINGS_MAX_FRAME_SIZE), then a few bytes  garbled-response
    badindex    a header block naming HPACK index 127 (no such entry)
                                                     garbled-response
    tablesize   a dynamic table size update to 8192, over the 4096 the
                client allows                        garbled-response
    hugefield   one 4 MB header field, over HEADERS and CONTINUATION frames
                                                     garbled-response
    The last four leave the connection open: the server closed nothing, the
    client's HTTP/2 library found a connection error in what it received.
    http1       answers in HTTP/1.1                  (exit 1: not h2c)
"""
import struct

from loopback import LoopbackServer

KINDS = ("good100", "two100", "endless1xx", "reset", "silent", "http1",
         "hugeframe", "badindex", "tablesize", "hugefield")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, CONTINUATION = 0, 1, 3, 4, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
SOCKET_TIMEOUT = 15.0


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) \
        + struct.pack(">I", stream) + payload


def status_block(code):
    """:status CODE as a literal without indexing, name from static index 8."""
    if code == 200:
        return b"\x88"  # indexed: :status 200
    return b"\x08\x03" + str(code).encode()


def headers(stream, code, end_stream=False):
    return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), stream,
                 status_block(code))


def hpack_int(value, prefix_bits, first):
    """An HPACK integer (RFC 7541 5.1), its first byte's high bits `first`."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


HUGE_FIELD = 4 * 1024 * 1024
MAX_FRAME = 16384


def connection_error(kind, stream):
    """The bytes of each kind that breaks the HTTP/2 connection."""
    if kind == "hugeframe":
        return b"\xff\xff\xff" + bytes([HEADERS, END_HEADERS]) + struct.pack(">I", stream) \
            + b"\x88" * 64
    if kind == "badindex":
        return frame(HEADERS, END_HEADERS, stream, hpack_int(127, 7, 0x80))
    if kind == "tablesize":
        return frame(HEADERS, END_HEADERS, stream, hpack_int(8192, 5, 0x20) + b"\x88")
    # hugefield: :status 200, then x-big as a literal without indexing.
    block = b"\x88" + b"\x00\x05x-big" + hpack_int(HUGE_FIELD, 7, 0) + b"v" * HUGE_FIELD
    chunks = [block[i:i + MAX_FRAME] for i in range(0, len(block), MAX_FRAME)]
    out = [frame(HEADERS, 0, stream, chunks[0])]
    out += [frame(CONTINUATION, END_HEADERS if i == len(chunks) - 1 else 0, stream, c)
            for i, c in enumerate(chunks[1:], 1)]
    return b"".join(out)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _serve(kind, sock, stop):
    sock.settimeout(SOCKET_TIMEOUT)
    try:
        if _recv_exact(sock, len(PREFACE)) != PREFACE:
            return
        if kind == "http1":
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            return
        sock.sendall(frame(SETTINGS, 0, 0))
        while not stop.is_set():
            hdr = _recv_exact(sock, 9)
            if hdr is None:
                return
            length = struct.unpack(">I", b"\0" + hdr[:3])[0]
            ftype, flags = hdr[3], hdr[4]
            stream = struct.unpack(">I", hdr[5:9])[0] & 0x7FFFFFFF
            if length and _recv_exact(sock, length) is None:
                return
            if ftype == SETTINGS and not flags & ACK:
                sock.sendall(frame(SETTINGS, ACK, 0))
            elif ftype == HEADERS and kind != "silent":
                if kind in ("hugeframe", "badindex", "tablesize", "hugefield"):
                    # Sent once; then go on reading until the client leaves.
                    sock.sendall(connection_error(kind, stream))
                elif kind == "reset":
                    sock.sendall(frame(RST_STREAM, 0, stream, struct.pack(">I", 2)))
                elif kind == "endless1xx":
                    block = headers(stream, 103) * 4096
                    while not stop.is_set():
                        sock.sendall(block)
                elif flags & END_STREAM:
                    sock.sendall(headers(stream, 200, end_stream=True))
                else:
                    sock.sendall(headers(stream, 100) * (2 if kind == "two100" else 1))
            elif ftype == DATA and flags & END_STREAM and kind in ("good100", "two100"):
                sock.sendall(headers(stream, 200, end_stream=True))
    except OSError:
        pass
    finally:
        sock.close()


class H2Misbehaving(LoopbackServer):
    """A listening socket on 127.0.0.1 serving one kind."""

    def __init__(self, kind):
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind = kind
        super().__init__(lambda conn, stop: _serve(kind, conn, stop))
