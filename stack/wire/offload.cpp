#include "stack/wire/offload.h"

#include <algorithm>

#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/tcp.h"

namespace ustack::wire {

std::uint16_t pseudo_header_partial(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                                    std::uint16_t length) {
  ChecksumAccumulator acc;
  add_pseudo_header(acc, src, dst, protocol, length);
  // finish() complements the folded sum; the field wants it uncomplemented.
  return static_cast<std::uint16_t>(~acc.finish());
}

std::optional<L4Location> locate_l4(std::span<const std::uint8_t> frame) {
  constexpr std::size_t kEth = EthernetHeader::kSize;
  if (frame.size() < kEth + Ipv4Header::kMinSize) return std::nullopt;
  if (load_be16(frame.data() + 12) != static_cast<std::uint16_t>(EtherType::ipv4)) {
    return std::nullopt;
  }
  const std::uint8_t* ip = frame.data() + kEth;
  const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
  const std::uint16_t flags_offset = load_be16(ip + 6);
  // A fragment carries only part of the transport segment: no checksum to find or finish.
  if ((ip[0] >> 4) != 4 || ihl < Ipv4Header::kMinSize || (flags_offset & 0x3fff) != 0) {
    return std::nullopt;
  }
  L4Location l4{kEth + ihl, ip[9], 0};
  switch (static_cast<IpProtocol>(l4.protocol)) {
    case IpProtocol::tcp:
      l4.checksum_offset = 16;
      break;
    case IpProtocol::udp:
      l4.checksum_offset = 6;
      break;
    default:
      return std::nullopt;
  }
  if (frame.size() < l4.start + l4.checksum_offset + 2) return std::nullopt;
  return l4;
}

bool complete_partial_checksum(std::span<std::uint8_t> frame) {
  auto l4 = locate_l4(frame);
  if (!l4) return false;
  ChecksumAccumulator acc;
  acc.add(frame.subspan(l4->start));
  std::uint16_t sum = acc.finish();
  // RFC 768: a UDP checksum that computes to zero is sent as all ones (zero means "none").
  if (l4->protocol == static_cast<std::uint8_t>(IpProtocol::udp) && sum == 0) sum = 0xffff;
  store_be16(frame.data() + l4->start + l4->checksum_offset, sum);
  return true;
}

std::vector<Packet> segment_gso(const Packet& frame) {
  std::vector<Packet> out;
  if (frame.offload.gso_size == 0) {
    Packet copy = frame.clone();
    copy.offload = PacketOffload{};
    if (frame.offload.csum_partial && !complete_partial_checksum(copy.bytes())) return out;
    out.push_back(std::move(copy));
    return out;
  }
  const std::span<const std::uint8_t> bytes = frame.bytes();
  auto l4 = locate_l4(bytes);
  if (!l4 || l4->protocol != static_cast<std::uint8_t>(IpProtocol::tcp)) return out;
  constexpr std::size_t kEth = EthernetHeader::kSize;
  const std::size_t tcp_start = l4->start;
  const std::size_t tcp_header = static_cast<std::size_t>(bytes[tcp_start + 12] >> 4) * 4;
  const std::size_t headers = tcp_start + tcp_header;
  const std::size_t ip_total = load_be16(bytes.data() + kEth + 2);
  if (tcp_header < TcpHeader::kMinSize || headers > bytes.size() ||
      kEth + ip_total != bytes.size()) {
    return out;
  }
  const std::size_t data = bytes.size() - headers;
  const std::size_t mss = frame.offload.gso_size;
  const std::uint16_t first_id = load_be16(bytes.data() + kEth + 4);
  const std::uint32_t first_seq = load_be32(bytes.data() + tcp_start + 4);
  const std::uint8_t flags = bytes[tcp_start + 13];
  const Ipv4Address src = Ipv4Address::from_u32(load_be32(bytes.data() + kEth + 12));
  const Ipv4Address dst = Ipv4Address::from_u32(load_be32(bytes.data() + kEth + 16));
  const std::size_t count = std::max<std::size_t>(1, (data + mss - 1) / mss);
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t offset = i * mss;
    const std::size_t length = std::min(mss, data - std::min(offset, data));
    const bool first = i == 0;
    const bool last = i + 1 == count;
    Packet seg = Packet::allocate(headers + length);
    seg.append(bytes.first(headers));
    seg.append(bytes.subspan(headers + offset, length));
    std::uint8_t* p = seg.data();
    std::uint8_t* ip = p + kEth;
    store_be16(ip + 2, static_cast<std::uint16_t>(headers - kEth + length));
    store_be16(ip + 4, static_cast<std::uint16_t>(first_id + i));
    store_be16(ip + 10, 0);
    store_be16(ip + 10, checksum({ip, tcp_start - kEth}));
    std::uint8_t* tcp = p + tcp_start;
    store_be32(tcp + 4, first_seq + static_cast<std::uint32_t>(offset));
    std::uint8_t f = flags;
    if (!first) f = static_cast<std::uint8_t>(f & ~tcp_flag::cwr);
    if (!last) f = static_cast<std::uint8_t>(f & ~(tcp_flag::fin | tcp_flag::psh));
    tcp[13] = f;
    const auto tcp_length = static_cast<std::uint16_t>(tcp_header + length);
    store_be16(tcp + 16, pseudo_header_partial(src, dst, l4->protocol, tcp_length));
    complete_partial_checksum(seg.bytes());
    out.push_back(std::move(seg));
  }
  return out;
}

}  // namespace ustack::wire
