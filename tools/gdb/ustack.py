# gdb pretty-printers for ustack: addresses, Packet, the wire headers and Instant print the way the
# stack's own fmt formatters print them.
#
#   (gdb) source tools/gdb/ustack.py
#   (gdb) p h
#   $1 = ip 10.0.0.1 > 10.0.0.2 proto 1 (icmp) len 84 id 4660 ttl 64 DF = {header_length = 20, ...}
#   (gdb) p pkt
#   $2 = Packet size 98 headroom 160 tailroom 0 [02 00 00 00 00 02 0a 5e ...]
#   (gdb) ustack-dump pkt          # every byte of a Packet's data, 16 per line
#
# Printers for header structs show a one-line summary followed by the fields, so `p h.ttl` and
# `p h` both stay useful. `info pretty-printer` lists them under "ustack"; `disable pretty-printer
# global ustack` turns them off.

import re

import gdb
import gdb.printing

# --- helpers -----------------------------------------------------------------------------------

_ETHERTYPES = {0x0800: "ipv4", 0x0806: "arp", 0x8100: "vlan", 0x86DD: "ipv6"}
_PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp"}
_ICMP_TYPES = {
    0: "echo reply",
    3: "unreachable",
    4: "source quench",
    5: "redirect",
    8: "echo request",
    11: "time exceeded",
    12: "parameter problem",
    13: "timestamp",
    14: "timestamp reply",
}


def _u8_type():
    return gdb.lookup_type("unsigned char")


def _read_bytes(address, count):
    """count bytes of the inferior's memory at an integer address, as a bytes object."""
    if count <= 0:
        return b""
    return bytes(gdb.selected_inferior().read_memory(address, count))


def _field(val, *names):
    """The first of `names` that val has (libstdc++ and libc++ name their members differently)."""
    for name in names:
        try:
            return val[name]
        except gdb.error:
            continue
    raise gdb.error("none of the members %s" % (names,))


def _array_bytes(arr, count):
    """The first `count` elements of a std::array<uint8_t, N> (or a C array) as bytes."""
    try:
        inner = _field(arr, "_M_elems", "__elems_")
        return bytes(int(inner[i]) & 0xFF for i in range(count))
    except gdb.error:
        pass
    if arr.address is not None:
        return _read_bytes(int(arr.address), count)
    raise gdb.error("cannot read the array's bytes")


def _hex(data):
    return " ".join("%02x" % b for b in data)


def _plain(value):
    """A child value as gdb should show it: 8-bit integers as numbers, not characters."""
    t = value.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_INT and t.sizeof == 1:
        return int(value)
    if t.code == gdb.TYPE_CODE_BOOL:
        return bool(value)
    return value


def _fields(val):
    """(name, value) for each non-static data member of a struct value, in declaration order."""
    for f in val.type.strip_typedefs().fields():
        if f.is_base_class or not f.name or not hasattr(f, "bitpos"):
            continue
        yield f.name, _plain(val[f.name])


def ipv4_str(val):
    v = int(val["value_"]) & 0xFFFFFFFF
    return "%d.%d.%d.%d" % (v >> 24, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)


def mac_str(val):
    return ":".join("%02x" % b for b in _array_bytes(val["octets_"], 6))


# --- printers ----------------------------------------------------------------------------------


class Ipv4AddressPrinter:
    """ustack::Ipv4Address: its host-order value_ as a dotted quad."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        return ipv4_str(self.val)


class MacAddressPrinter:
    """ustack::MacAddress: its six octets_ as aa:bb:cc:dd:ee:ff."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        return mac_str(self.val)


class Ipv4CidrPrinter:
    """ustack::Ipv4Cidr: 10.0.0.2/24."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        return "%s/%d" % (ipv4_str(self.val["address"]), int(self.val["prefix_length"]))


class PacketPrinter:
    """ustack::Packet: size, headroom, tailroom and the first bytes of its data in hex."""

    SHOW = 32

    def __init__(self, val):
        self.val = val

    def to_string(self):
        buf = packet_buffer(self.val)
        head = int(self.val["head_"])
        tail = int(self.val["tail_"])
        capacity = int(self.val["capacity_"])
        if buf == 0:
            return "Packet (no buffer: moved from, or never allocated)"
        size = tail - head
        text = "Packet size %d headroom %d tailroom %d" % (size, head, capacity - tail)
        if bool(self.val["link_broadcast"]):
            text += " link_broadcast"
        try:
            data = _read_bytes(buf + head, min(size, self.SHOW))
        except gdb.MemoryError:
            return text + " [unreadable buffer at 0x%x]" % buf
        more = " ..." if size > self.SHOW else ""
        return "%s [%s%s]" % (text, _hex(data), more)


def packet_buffer(val):
    """The address held by Packet::buffer_, a raw owning pointer (or, in builds from before the
    packet pool, a std::unique_ptr<uint8_t[]>)."""
    ptr = val["buffer_"]
    if ptr.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        return int(ptr)
    # Both libstdc++ and libc++ keep the raw pointer first in the unique_ptr object.
    if ptr.address is not None:
        raw_type = _u8_type().pointer().pointer()
        return int(ptr.address.cast(raw_type).dereference())
    # A value not in memory (gdb history, registers): walk libstdc++'s members.
    impl = ptr["_M_t"]["_M_t"]
    head = impl.cast(impl.type.fields()[0].type)["_M_head_impl"]
    return int(head)


class _HeaderPrinter:
    """A one-line summary of a wire header, followed by its fields."""

    def __init__(self, val):
        self.val = val

    def children(self):
        return _fields(self.val)


class EthernetHeaderPrinter(_HeaderPrinter):
    def to_string(self):
        t = int(self.val["ethertype"])
        name = _ETHERTYPES.get(t)
        return "eth %s > %s type 0x%04x%s" % (
            mac_str(self.val["src"]),
            mac_str(self.val["dst"]),
            t,
            " (%s)" % name if name else "",
        )


class ArpPacketPrinter(_HeaderPrinter):
    def to_string(self):
        v = self.val
        op = int(v["op"])
        if op == 1:
            return "arp who-has %s tell %s (%s)" % (
                ipv4_str(v["target_ip"]),
                ipv4_str(v["sender_ip"]),
                mac_str(v["sender_mac"]),
            )
        if op == 2:
            return "arp reply %s is-at %s (to %s %s)" % (
                ipv4_str(v["sender_ip"]),
                mac_str(v["sender_mac"]),
                ipv4_str(v["target_ip"]),
                mac_str(v["target_mac"]),
            )
        return "arp op %d %s (%s) > %s (%s)" % (
            op,
            ipv4_str(v["sender_ip"]),
            mac_str(v["sender_mac"]),
            ipv4_str(v["target_ip"]),
            mac_str(v["target_mac"]),
        )


class Ipv4HeaderPrinter(_HeaderPrinter):
    def to_string(self):
        v = self.val
        proto = int(v["protocol"])
        name = _PROTOCOLS.get(proto)
        text = "ip %s > %s proto %d%s len %d id %d ttl %d" % (
            ipv4_str(v["src"]),
            ipv4_str(v["dst"]),
            proto,
            " (%s)" % name if name else "",
            int(v["total_length"]),
            int(v["identification"]),
            int(v["ttl"]),
        )
        offset = int(v["fragment_offset"])
        more = bool(v["more_fragments"])
        if more or offset:
            text += " frag %d%s" % (offset, "+" if more else "")
        if bool(v["dont_fragment"]):
            text += " DF"
        if int(v["header_length"]) != 20:
            text += " hlen %d" % int(v["header_length"])
        return text


class IcmpHeaderPrinter(_HeaderPrinter):
    def to_string(self):
        v = self.val
        t = int(v["type"])
        code = int(v["code"])
        rest = int(v["rest"]) & 0xFFFFFFFF
        name = _ICMP_TYPES.get(t, "type %d" % t)
        if t in (0, 8):
            return "icmp %s id %d seq %d" % (name, rest >> 16, rest & 0xFFFF)
        return "icmp %s code %d" % (name, code)


class InstantPrinter:
    """ustack::Instant (a time_point on StackTime, in nanoseconds): seconds, as fmt prints it."""

    NEVER = (1 << 63) - 1

    def __init__(self, val):
        self.val = val

    def to_string(self):
        d = _field(self.val, "__d", "__d_")
        ns = int(_field(d, "__r", "__rep_"))
        if ns == self.NEVER:
            return "never"
        return "%.6fs" % (ns / 1e9)


class _Collection(gdb.printing.RegexpCollectionPrettyPrinter):
    """The printers by type name; a reference (`const Ipv4Header& ip`) prints as its referent."""

    def __call__(self, val):
        if val.type.code in (gdb.TYPE_CODE_REF, gdb.TYPE_CODE_RVALUE_REF):
            try:
                referent = val.referenced_value()
            except gdb.error:
                return None
            return super().__call__(referent)
        return super().__call__(val)


def build_pretty_printer():
    pp = _Collection("ustack")
    pp.add_printer("Ipv4Address", r"^ustack::Ipv4Address$", Ipv4AddressPrinter)
    pp.add_printer("MacAddress", r"^ustack::MacAddress$", MacAddressPrinter)
    pp.add_printer("Ipv4Cidr", r"^ustack::Ipv4Cidr$", Ipv4CidrPrinter)
    pp.add_printer("Packet", r"^ustack::Packet$", PacketPrinter)
    pp.add_printer("EthernetHeader", r"^ustack::wire::EthernetHeader$", EthernetHeaderPrinter)
    pp.add_printer("ArpPacket", r"^ustack::wire::ArpPacket$", ArpPacketPrinter)
    pp.add_printer("Ipv4Header", r"^ustack::wire::Ipv4Header$", Ipv4HeaderPrinter)
    pp.add_printer("IcmpHeader", r"^ustack::wire::IcmpHeader$", IcmpHeaderPrinter)
    pp.add_printer("Instant", r"^std::chrono::time_point<ustack::StackTime,", InstantPrinter)
    return pp


class DumpCommand(gdb.Command):
    """Hex dump of a ustack::Packet's data: ustack-dump EXPR [MAX_BYTES]."""

    def __init__(self):
        super().__init__("ustack-dump", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        if not args:
            raise gdb.GdbError("usage: ustack-dump PACKET-EXPRESSION [MAX_BYTES]")
        val = gdb.parse_and_eval(args[0])
        if val.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
            val = val.dereference()
        if not re.match(r"^ustack::Packet$", str(val.type.strip_typedefs())):
            raise gdb.GdbError("ustack-dump: %s is not a ustack::Packet" % val.type)
        limit = int(args[1]) if len(args) > 1 else 4096
        buf = packet_buffer(val)
        head, tail = int(val["head_"]), int(val["tail_"])
        size = tail - head
        data = _read_bytes(buf + head, min(size, limit)) if buf else b""
        gdb.write("%d bytes (headroom %d)\n" % (size, head))
        for off in range(0, len(data), 16):
            chunk = data[off : off + 16]
            text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
            gdb.write("%04x  %-47s  %s\n" % (off, _hex(chunk), text))
        if size > len(data):
            gdb.write("... %d more bytes\n" % (size - len(data)))


gdb.printing.register_pretty_printer(gdb.current_objfile(), build_pretty_printer(), replace=True)
DumpCommand()
