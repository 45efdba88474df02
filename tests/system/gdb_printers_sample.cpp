// A program for gdb_printers_test.sh: fills one of each type the pretty-printers in
// tools/gdb/ustack.py know and stops in inspect(), where the test prints them in gdb batch mode.
#include <cstdint>

#include "stack/base/packet.h"
#include "stack/base/time.h"
#include "stack/wire/address.h"
#include "stack/wire/arp.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/icmp.h"
#include "stack/wire/ipv4.h"

using namespace ustack;

struct Sample {
  Ipv4Address ip;
  MacAddress mac;
  Ipv4Cidr cidr;
  Packet packet;
  Packet empty;
  wire::EthernetHeader eth;
  wire::ArpPacket arp_request;
  wire::ArpPacket arp_reply;
  wire::Ipv4Header ip_header;
  wire::Ipv4Header fragment;
  wire::IcmpHeader icmp;
  wire::IcmpHeader unreachable;
  Instant instant;
  Instant never;
};

// Not inlined, so `break inspect` stops here; `up` is main, where `s` is in scope.
[[gnu::noinline]] void inspect(const Sample& s) {
  asm volatile("" : : "r"(&s) : "memory");
}

int main() {
  Sample s;
  s.ip = Ipv4Address(10, 0, 0, 2);
  s.mac = MacAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x02);
  s.cidr = Ipv4Cidr{Ipv4Address(192, 168, 7, 1), 24};

  const std::uint8_t frame[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00,
                                0x00, 0x01, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04};
  s.packet = Packet::copy_of(frame);

  s.eth.dst = MacAddress::broadcast();
  s.eth.src = MacAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01);
  s.eth.ethertype = 0x0806;

  s.arp_request.op = wire::ArpOp::request;
  s.arp_request.sender_mac = s.eth.src;
  s.arp_request.sender_ip = Ipv4Address(10, 0, 0, 1);
  s.arp_request.target_ip = s.ip;
  s.arp_reply.op = wire::ArpOp::reply;
  s.arp_reply.sender_mac = s.mac;
  s.arp_reply.sender_ip = s.ip;
  s.arp_reply.target_mac = s.eth.src;
  s.arp_reply.target_ip = Ipv4Address(10, 0, 0, 1);

  s.ip_header.total_length = 84;
  s.ip_header.identification = 4660;
  s.ip_header.dont_fragment = true;
  s.ip_header.ttl = 64;
  s.ip_header.protocol = 1;
  s.ip_header.src = Ipv4Address(10, 0, 0, 1);
  s.ip_header.dst = s.ip;
  s.fragment = s.ip_header;
  s.fragment.dont_fragment = false;
  s.fragment.more_fragments = true;
  s.fragment.fragment_offset = 1480;
  s.fragment.total_length = 1500;
  s.fragment.protocol = 17;

  s.icmp.type = 8;
  s.icmp.rest = wire::IcmpHeader::echo_rest(77, 3);
  s.unreachable.type = 3;
  s.unreachable.code = 3;

  s.instant = Instant{} + 12s + 345us;
  s.never = kNever;

  const wire::Ipv4Header& ip_ref = s.ip_header;  // references print as what they refer to
  inspect(s);
  return ip_ref.ttl == 64 ? 0 : 1;
}
