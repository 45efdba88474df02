// UDP header (RFC 768).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |            Length             |           Checksum            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                          data ...                             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts header and data. The checksum covers a pseudo-header (source, destination,
// protocol 17, UDP length), the header and the data; 0 means the sender computed none, so a
// computed 0 is sent as 0xffff.
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/parsed.h"

namespace ustack::wire {

struct UdpHeader {
  static constexpr std::size_t kSize = 8;

  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint16_t length = 0;
  std::uint16_t checksum = 0;

  // `datagram` is the IP payload. Checks udp.short, udp.bad_length (length field < 8 or past
  // the IP payload) and, when the checksum field is not zero, udp.bad_checksum (RFC 1122 4.1.3.4).
  // Bytes after `length` are not part of the datagram; the caller trims them. verify_checksum is
  // false only for a datagram the local kernel vouches for (PacketOffload::checksum_trusted).
  static Parsed<UdpHeader> parse(std::span<const std::uint8_t> datagram, Ipv4Address src,
                                 Ipv4Address dst, bool verify_checksum = true);

  // Writes the header at datagram[0..8) with length = datagram.size() and the checksum over
  // the pseudo-header and the whole datagram, whose data must already be in place.
  static void emit(std::span<std::uint8_t> datagram, std::uint16_t src_port, std::uint16_t dst_port,
                   Ipv4Address src, Ipv4Address dst);
};

}  // namespace ustack::wire

template <>
struct fmt::formatter<ustack::wire::UdpHeader> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::UdpHeader& h, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "udp {} > {} len {}", h.src_port, h.dst_port, h.length);
  }
};
