#!/usr/bin/env python3
"""Sends malformed Ethernet frames out of a TAP's kernel side, into the stack behind it.

    inject_frames.py IFACE STACK_MAC STACK_IP HOST_IP COUNT

Each kind is sent COUNT times through a raw AF_PACKET socket. For every kind it prints one line,
"sent KIND N" or "refused KIND ERRNO-NAME" (the kernel itself refuses, for instance, frames
shorter than an Ethernet header), so the caller knows which counters must have moved.
Used by counters_test.sh; run inside the test's namespace.
"""

import errno
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


def ipv4(src: bytes, dst: bytes, payload: bytes, *, first_byte=0x45, total_length=None,
         bad_checksum=False, ident=0x5157, proto=1) -> bytes:
    header_len = (first_byte & 0x0F) * 4
    options = b"\0" * max(0, header_len - 20)
    if total_length is None:
        total_length = 20 + len(options) + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", first_byte, 0, total_length, ident, 0, 64, proto, 0, src,
                    dst)
    h += options
    c = checksum(h)
    if bad_checksum:
        c = (c + 1) & 0xFFFF or 1
    h = h[:10] + struct.pack("!H", c) + h[12:]
    return h + payload


def icmp_echo(ident: int, seq: int, data: bytes, *, bad_checksum=False) -> bytes:
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    c = checksum(m)
    if bad_checksum:
        c = (c + 1) & 0xFFFF or 1
    return m[:2] + struct.pack("!H", c) + m[4:]


def arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes, *, htype=1) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", htype, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def main() -> int:
    iface, stack_mac, stack_ip, host_ip, count = sys.argv[1:6]
    count = int(count)
    with open(f"/sys/class/net/{iface}/address") as f:
        host_mac = mac(f.read().strip())
    dst = mac(stack_mac)
    sip = socket.inet_aton(host_ip)
    dip = socket.inet_aton(stack_ip)

    def eth(ethertype: int, payload: bytes, *, to=dst) -> bytes:
        return to + host_mac + struct.pack("!H", ethertype) + payload

    echo = icmp_echo(0x5157, 1, b"ustack counters test".ljust(32, b"."))
    arp_request = arp(1, host_mac, sip, b"\0" * 6, dip)
    kinds = {
        # kind: (frame, the counter it must raise)
        "runt": eth(0x0800, b"")[:10],
        "unknown_type": eth(0x88B5, b"\0" * 46),
        "not_for_us": eth(0x0800, ipv4(sip, dip, echo), to=mac("02:00:00:00:00:99")),
        "ip_short": eth(0x0800, b"\x45\0\0\x14"),
        "ip_bad_version": eth(0x0800, ipv4(sip, dip, echo, first_byte=0x65)),
        "ip_bad_header_length": eth(0x0800, ipv4(sip, dip, echo, first_byte=0x44)),
        "ip_bad_total_length": eth(0x0800, ipv4(sip, dip, echo, total_length=16)),
        "ip_truncated": eth(0x0800, ipv4(sip, dip, echo, total_length=1000)),
        "ip_bad_checksum": eth(0x0800, ipv4(sip, dip, echo, bad_checksum=True)),
        "ip_bad_source": eth(0x0800, ipv4(socket.inet_aton("127.0.0.1"), dip, echo)),
        "ip_not_for_us": eth(0x0800, ipv4(sip, socket.inet_aton("10.0.0.99"), echo)),
        "ip_unknown_protocol": eth(0x0800, ipv4(sip, dip, b"\0" * 20, proto=99)),
        "icmp_short": eth(0x0800, ipv4(sip, dip, b"\x08\0\xf7\xff")),
        "icmp_bad_checksum": eth(0x0800, ipv4(sip, dip, icmp_echo(0x5157, 2, b"x" * 32,
                                                                  bad_checksum=True))),
        "arp_short": eth(0x0806, arp_request[:20]),
        "arp_bad_format": eth(0x0806, arp(1, host_mac, sip, b"\0" * 6, dip, htype=6)),
        "arp_bad_op": eth(0x0806, arp(9, host_mac, sip, b"\0" * 6, dip)),
    }

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((iface, 0))
    for kind, frame in kinds.items():
        sent = 0
        err = None
        for _ in range(count):
            try:
                s.send(frame)
                sent += 1
            except OSError as e:
                err = errno.errorcode.get(e.errno, str(e.errno))
                break
        if err is None:
            print(f"sent {kind} {sent}")
        else:
            print(f"refused {kind} {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
