// IPv4 header (RFC 791 section 3.1).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Identification        |Flags|      Fragment Offset    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Time to Live |    Protocol   |         Header Checksum       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       Source Address                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Destination Address                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Options (IHL > 5)                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags: bit 0 reserved (must be zero), bit 1 DF (don't fragment), bit 2 MF (more fragments).
// The fragment offset counts 8-byte units; Ipv4Header keeps it in bytes.
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/parsed.h"

namespace ustack::wire {

enum class IpProtocol : std::uint8_t { icmp = 1, tcp = 6, udp = 17 };

struct Ipv4Header {
  static constexpr std::size_t kMinSize = 20;
  static constexpr std::size_t kMaxSize = 60;
  static constexpr std::size_t kMaxDatagram = 65535;

  std::uint8_t header_length = kMinSize;  // bytes, IHL * 4
  std::uint8_t tos = 0;                   // DSCP and ECN
  std::uint16_t total_length = 0;
  std::uint16_t identification = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // bytes, a multiple of 8
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  std::uint16_t checksum = 0;  // as received; emit() computes a fresh one
  Ipv4Address src;
  Ipv4Address dst;

  std::uint16_t payload_length() const { return total_length - header_length; }
  bool is_fragment() const { return more_fragments || fragment_offset != 0; }

  // Checks, in order: ip.short, ip.bad_version, ip.bad_header_length (IHL < 5 or past the
  // bytes), ip.bad_total_length (shorter than the header), ip.truncated (longer than the bytes),
  // ip.bad_checksum, ip.bad_options (an option length of 0, 1 or past the header),
  // ip.frag_bad_offset (offset + total length past 65535). Bytes after total_length (Ethernet
  // padding) are allowed; the caller trims them.
  static Parsed<Ipv4Header> parse(std::span<const std::uint8_t> bytes);

  // Writes a 20-byte header without options at out, with the checksum filled in.
  // header_length must be kMinSize.
  void emit(std::uint8_t* out) const;
};

}  // namespace ustack::wire

template <>
struct fmt::formatter<ustack::wire::Ipv4Header> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::Ipv4Header& h, Ctx& ctx) const {
    auto out = fmt::format_to(ctx.out(), "ip {} > {} proto {} len {} id {} ttl {}", h.src, h.dst,
                              h.protocol, h.total_length, h.identification, h.ttl);
    if (h.is_fragment()) {
      out = fmt::format_to(out, " frag {}{}", h.fragment_offset, h.more_fragments ? "+" : "");
    }
    if (h.dont_fragment) out = fmt::format_to(out, " DF");
    return out;
  }
};
