#include "stack/wire/arp.h"

namespace ustack::wire {

Parsed<ArpPacket> ArpPacket::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kSize) return Counter::arp_short;
  const std::uint8_t* p = bytes.data();
  if (load_be16(p) != kHardwareEthernet || load_be16(p + 2) != kProtocolIpv4 || p[4] != 6 ||
      p[5] != 4) {
    return Counter::arp_bad_format;
  }
  std::uint16_t op = load_be16(p + 6);
  if (op != 1 && op != 2) return Counter::arp_bad_op;
  ArpPacket a;
  a.op = static_cast<ArpOp>(op);
  a.sender_mac = MacAddress::load(p + 8);
  a.sender_ip = Ipv4Address::load(p + 14);
  a.target_mac = MacAddress::load(p + 18);
  a.target_ip = Ipv4Address::load(p + 24);
  return a;
}

void ArpPacket::emit(std::uint8_t* out) const {
  store_be16(out, kHardwareEthernet);
  store_be16(out + 2, kProtocolIpv4);
  out[4] = 6;
  out[5] = 4;
  store_be16(out + 6, static_cast<std::uint16_t>(op));
  sender_mac.store(out + 8);
  sender_ip.store(out + 14);
  target_mac.store(out + 18);
  target_ip.store(out + 24);
}

}  // namespace ustack::wire
