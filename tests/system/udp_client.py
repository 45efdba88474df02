#!/usr/bin/env python3
"""Kernel-side UDP client for udp_echo_test.sh: sends datagrams to an echo server, checks each
comes back byte for byte, and checks that a closed port is refused.

udp_client.py HOST PORT CLOSED_PORT
Exits non-zero with a message on the first failure. Every wait is bounded (socket timeouts, a
fixed number of datagrams).
"""
import os
import random
import socket
import sys


def main() -> int:
    host, port, closed_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(7)
    # The sizes (0, 1, one full frame, one byte more, fragmented, the largest datagram),
    # then 200 mixed sizes up to the maximum.
    sizes = [0, 1, 1472, 1473, 8000, 65507] + [rng.randint(0, 65507) for _ in range(200)]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.settimeout(3)
    for i, size in enumerate(sizes):
        data = os.urandom(size)
        got = None
        # A datagram may be lost on a real link; retry a little, but every echo must be exact.
        for _ in range(3):
            s.sendto(data, (host, port))
            try:
                got, peer = s.recvfrom(70000)
                break
            except socket.timeout:
                continue
        if got is None:
            print(f"FAIL: datagram {i} of {size} bytes: no echo after 3 tries")
            return 1
        if got != data:
            print(f"FAIL: datagram {i}: sent {size} bytes, got {len(got)} different bytes")
            return 1
        if peer != (host, port):
            print(f"FAIL: echo came from {peer}, want {(host, port)}")
            return 1
    print(f"echoed {len(sizes)} datagrams intact, {sum(sizes)} bytes")

    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(3)
    c.connect((host, closed_port))
    c.send(b"anyone there?")
    try:
        c.recv(100)
        print(f"FAIL: port {closed_port} answered")
        return 1
    except ConnectionRefusedError:
        print(f"port {closed_port}: ECONNREFUSED, as expected")
    except socket.timeout:
        print(f"FAIL: port {closed_port}: no ICMP port unreachable within 3 s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
