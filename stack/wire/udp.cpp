#include "stack/wire/udp.h"

#include "stack/wire/checksum.h"
#include "stack/wire/ipv4.h"

namespace ustack::wire {

Parsed<UdpHeader> UdpHeader::parse(std::span<const std::uint8_t> datagram, Ipv4Address src,
                                   Ipv4Address dst, bool verify_checksum) {
  if (datagram.size() < kSize) return Counter::udp_short;
  UdpHeader h;
  h.src_port = load_be16(datagram.data());
  h.dst_port = load_be16(datagram.data() + 2);
  h.length = load_be16(datagram.data() + 4);
  h.checksum = load_be16(datagram.data() + 6);
  if (h.length < kSize || h.length > datagram.size()) return Counter::udp_bad_length;
  if (h.checksum != 0 && verify_checksum) {
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, static_cast<std::uint8_t>(IpProtocol::udp), h.length);
    acc.add(datagram.first(h.length));
    if (acc.finish() != 0) return Counter::udp_bad_checksum;
  }
  return h;
}

void UdpHeader::emit(std::span<std::uint8_t> datagram, std::uint16_t src_port,
                     std::uint16_t dst_port, Ipv4Address src, Ipv4Address dst) {
  std::uint8_t* out = datagram.data();
  const auto length = static_cast<std::uint16_t>(datagram.size());
  store_be16(out, src_port);
  store_be16(out + 2, dst_port);
  store_be16(out + 4, length);
  store_be16(out + 6, 0);
  ChecksumAccumulator acc;
  add_pseudo_header(acc, src, dst, static_cast<std::uint8_t>(IpProtocol::udp), length);
  acc.add(datagram);
  std::uint16_t sum = acc.finish();
  store_be16(out + 6, sum == 0 ? 0xffff : sum);
}

}  // namespace ustack::wire
