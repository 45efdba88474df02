#!/usr/bin/env python3
"""The kernel's TCP sockets as the peer of ustack in the system tests.

tcp_client.py echo HOST PORT BYTES            send BYTES random bytes to an echo server while
                                              reading the echo; check it by length and sha256
tcp_client.py discard HOST PORT BYTES         send BYTES, half-close, and expect a clean EOF with
                                              nothing sent back (the server read everything)
tcp_client.py concurrent HOST PORT N BYTES    N echo connections at once, BYTES each, all checked
tcp_client.py refused HOST PORT               connect must fail with ECONNREFUSED
tcp_client.py serve-file PORT FILE            accept one connection on PORT, send FILE, close
tcp_client.py receive-file PORT OUT           accept one connection on PORT, write what arrives
                                              until EOF to OUT, close
tcp_client.py send-file HOST PORT FILE        connect (retrying while refused), send FILE,
                                              half-close, read until the peer closes

Prints what it checked (with MB/s for transfers) and exits non-zero with a message on the first
failure. Every wait is bounded: socket timeouts, retry counts, and an overall deadline.
"""
import argparse
import errno
import hashlib
import os
import selectors
import socket
import sys
import threading
import time

TIMEOUT = 30  # seconds any single socket operation may take
CHUNK = 64 * 1024


class Failure(Exception):
    pass


def rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / 1e6:.1f} MB in {seconds:.2f} s, {nbytes / 1e6 / max(seconds, 1e-9):.1f} MB/s"


def connect(host: str, port: int, retries: int = 0) -> socket.socket:
    """Connects; while refused, retries every 0.1 s up to `retries` times (a listener starting)."""
    for attempt in range(retries + 1):
        try:
            return socket.create_connection((host, port), timeout=TIMEOUT)
        except ConnectionRefusedError:
            if attempt == retries:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def read_to_eof(s: socket.socket, limit: int) -> tuple[int, "hashlib._Hash"]:
    """Reads until EOF; returns the byte count and their sha256. More than `limit` is a failure."""
    digest = hashlib.sha256()
    total = 0
    while True:
        data = s.recv(1 << 20)
        if not data:
            return total, digest
        total += len(data)
        digest.update(data)
        if total > limit:
            raise Failure(f"received more than the {limit} bytes sent")


def echo(host: str, port: int, nbytes: int) -> None:
    data = os.urandom(nbytes)
    want = hashlib.sha256(data).hexdigest()
    s = connect(host, port)
    errors = []

    # Sending and receiving at once: the echo server stops reading while it cannot write back,
    # so a client that sent everything before reading would deadlock once the buffers fill.
    def send() -> None:
        try:
            view = memoryview(data)
            for off in range(0, nbytes, CHUNK):
                s.sendall(view[off : off + CHUNK])
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(f"send: {e}")

    start = time.monotonic()
    sender = threading.Thread(target=send)
    sender.start()
    try:
        got, digest = read_to_eof(s, nbytes)
    finally:
        sender.join(TIMEOUT * 2)
        s.close()
    elapsed = time.monotonic() - start
    if errors:
        raise Failure(errors[0])
    if got != nbytes:
        raise Failure(f"echo returned {got} of {nbytes} bytes before EOF")
    if digest.hexdigest() != want:
        raise Failure(f"echo returned {nbytes} bytes but different ones (sha256 differs)")
    print(f"echo: {nbytes} bytes back intact, sha256 {want[:16]}…, {rate(2 * nbytes, elapsed)}"
          " (both directions)")


def discard(host: str, port: int, nbytes: int) -> None:
    block = os.urandom(1 << 20)
    s = connect(host, port)
    start = time.monotonic()
    view = memoryview(block)
    sent = 0
    while sent < nbytes:
        n = min(len(block), nbytes - sent)
        s.sendall(view[:n])
        sent += n
    s.shutdown(socket.SHUT_WR)
    # The server closes only after it has read our FIN, which comes after every byte: a clean
    # EOF here means it consumed all of them.
    got, _ = read_to_eof(s, 0)
    elapsed = time.monotonic() - start
    s.close()
    print(f"discard: sent {rate(nbytes, elapsed)}; server read to EOF and closed cleanly,"
          f" sent back {got} bytes")


class Conn:
    def __init__(self, index: int, nbytes: int):
        self.index = index
        self.data = os.urandom(nbytes)
        self.sent = 0
        self.received = bytearray()
        self.eof = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)


def concurrent(host: str, port: int, count: int, nbytes: int) -> None:
    sel = selectors.DefaultSelector()
    conns = [Conn(i, nbytes) for i in range(count)]
    for c in conns:
        err = c.sock.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            raise Failure(f"connection {c.index}: connect: {os.strerror(err)}")
        sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    start = time.monotonic()
    deadline = start + 3 * TIMEOUT
    open_conns = count
    while open_conns > 0:
        if time.monotonic() > deadline:
            done = sum(c.eof for c in conns)
            raise Failure(f"{done} of {count} connections finished within {3 * TIMEOUT} s")
        for key, mask in sel.select(timeout=1):
            c = key.data
            if mask & selectors.EVENT_WRITE and c.sent < nbytes:
                try:
                    c.sent += c.sock.send(c.data[c.sent : c.sent + CHUNK])
                except BlockingIOError:
                    pass
                except OSError as e:
                    raise Failure(f"connection {c.index}: send: {e}") from e
                if c.sent == nbytes:
                    c.sock.shutdown(socket.SHUT_WR)
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if mask & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError as e:
                    raise Failure(f"connection {c.index}: recv: {e}") from e
                if data:
                    c.received += data
                    if len(c.received) > nbytes:
                        raise Failure(f"connection {c.index}: more bytes back than sent")
                else:
                    c.eof = True
                    sel.unregister(c.sock)
                    c.sock.close()
                    open_conns -= 1
    elapsed = time.monotonic() - start
    for c in conns:
        if bytes(c.received) != c.data:
            raise Failure(f"connection {c.index}: {len(c.received)} of {nbytes} bytes back"
                          + (", different bytes" if len(c.received) == nbytes else ""))
    print(f"concurrent: {count} connections × {nbytes} bytes echoed intact,"
          f" {rate(2 * count * nbytes, elapsed)} (both directions)")


def refused(host: str, port: int) -> None:
    try:
        s = socket.create_connection((host, port), timeout=5)
    except ConnectionRefusedError:
        print(f"refused: port {port}: ECONNREFUSED, as expected")
        return
    except socket.timeout as e:
        raise Failure(f"port {port}: no answer (want a RST, ECONNREFUSED) within 5 s") from e
    s.close()
    raise Failure(f"port {port}: connection accepted, want ECONNREFUSED")


def listener(port: int) -> socket.socket:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(TIMEOUT)
    return srv


def serve_file(port: int, path: str) -> None:
    with listener(port) as srv, open(path, "rb") as f:
        print(f"serve-file: listening on port {port}", flush=True)
        c, peer = srv.accept()
        c.settimeout(TIMEOUT)
        start = time.monotonic()
        size = 0
        while chunk := f.read(CHUNK):
            c.sendall(chunk)
            size += len(chunk)
        c.close()
        print(f"serve-file: sent {path} to {peer[0]}:{peer[1]}, {rate(size, time.monotonic() - start)}")


def receive_file(port: int, out: str) -> None:
    with listener(port) as srv, open(out, "wb") as f:
        print(f"receive-file: listening on port {port}", flush=True)
        c, peer = srv.accept()
        c.settimeout(TIMEOUT)
        start = time.monotonic()
        size = 0
        while data := c.recv(1 << 20):
            f.write(data)
            size += len(data)
        c.close()
        print(f"receive-file: {size} bytes from {peer[0]}:{peer[1]} until EOF,"
              f" {rate(size, time.monotonic() - start)}")


def send_file(host: str, port: int, path: str) -> None:
    s = connect(host, port, retries=50)
    start = time.monotonic()
    with open(path, "rb") as f:
        size = 0
        while chunk := f.read(CHUNK):
            s.sendall(chunk)
            size += len(chunk)
    s.shutdown(socket.SHUT_WR)
    got, _ = read_to_eof(s, 1 << 30)
    s.close()
    print(f"send-file: sent {path} to {host}:{port}, {rate(size, time.monotonic() - start)};"
          f" peer closed after sending {got} bytes")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    for mode in ("echo", "discard"):
        m = sub.add_parser(mode)
        m.add_argument("host")
        m.add_argument("port", type=int)
        m.add_argument("bytes", type=int)
    m = sub.add_parser("concurrent")
    m.add_argument("host")
    m.add_argument("port", type=int)
    m.add_argument("connections", type=int)
    m.add_argument("bytes", type=int)
    m = sub.add_parser("refused")
    m.add_argument("host")
    m.add_argument("port", type=int)
    for mode, arg in (("serve-file", "file"), ("receive-file", "out")):
        m = sub.add_parser(mode)
        m.add_argument("port", type=int)
        m.add_argument(arg)
    m = sub.add_parser("send-file")
    m.add_argument("host")
    m.add_argument("port", type=int)
    m.add_argument("file")
    a = p.parse_args()

    try:
        if a.mode == "echo":
            echo(a.host, a.port, a.bytes)
        elif a.mode == "discard":
            discard(a.host, a.port, a.bytes)
        elif a.mode == "concurrent":
            concurrent(a.host, a.port, a.connections, a.bytes)
        elif a.mode == "refused":
            refused(a.host, a.port)
        elif a.mode == "serve-file":
            serve_file(a.port, a.file)
        elif a.mode == "receive-file":
            receive_file(a.port, a.out)
        else:
            send_file(a.host, a.port, a.file)
    except (Failure, OSError) as e:
        print(f"FAIL: {a.mode}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
