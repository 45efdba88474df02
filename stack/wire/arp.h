// ARP for IPv4 over Ethernet (RFC 826), 28 bytes.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Hardware type (1)         |     Protocol type (0x0800)    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  HLEN (6)     |  PLEN (4)     |   Operation (1 req, 2 reply)  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                Sender hardware address (SHA)                  |
//   +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                               |  Sender protocol address (SPA)
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |             SPA               |                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//   |                Target hardware address (THA)                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                Target protocol address (TPA)                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/parsed.h"

namespace ustack::wire {

enum class ArpOp : std::uint16_t { request = 1, reply = 2 };

struct ArpPacket {
  static constexpr std::size_t kSize = 28;
  static constexpr std::uint16_t kHardwareEthernet = 1;
  static constexpr std::uint16_t kProtocolIpv4 = 0x0800;

  ArpOp op = ArpOp::request;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;
  Ipv4Address target_ip;

  // Fails with arp.short, arp.bad_format (not Ethernet/IPv4 with lengths 6/4) or arp.bad_op.
  static Parsed<ArpPacket> parse(std::span<const std::uint8_t> bytes);
  // Writes kSize bytes at out.
  void emit(std::uint8_t* out) const;
};

}  // namespace ustack::wire

template <>
struct fmt::formatter<ustack::wire::ArpPacket> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::ArpPacket& a, Ctx& ctx) const {
    if (a.op == ustack::wire::ArpOp::request) {
      return fmt::format_to(ctx.out(), "arp who-has {} tell {} ({})", a.target_ip, a.sender_ip,
                            a.sender_mac);
    }
    return fmt::format_to(ctx.out(), "arp reply {} is-at {} (to {} {})", a.sender_ip, a.sender_mac,
                          a.target_ip, a.target_mac);
  }
};
