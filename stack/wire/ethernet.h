// Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Destination MAC address                    |
//   +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                               |                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//   |                      Source MAC address                       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           EtherType           |  payload (46..1500 bytes) ...
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The 4-byte FCS is neither delivered by a TAP nor expected by it.
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/parsed.h"

namespace ustack::wire {

enum class EtherType : std::uint16_t {
  ipv4 = 0x0800,
  arp = 0x0806,
  vlan = 0x8100,
  ipv6 = 0x86dd,
};

struct EthernetHeader {
  static constexpr std::size_t kSize = 14;
  // Shortest frame on the wire, without FCS; shorter frames are padded by the sender.
  static constexpr std::size_t kMinFrame = 60;

  MacAddress dst;
  MacAddress src;
  std::uint16_t ethertype = 0;

  // Fails with eth.runt if the frame cannot hold a header.
  static Parsed<EthernetHeader> parse(std::span<const std::uint8_t> frame);
  // Writes kSize bytes at out.
  void emit(std::uint8_t* out) const;
};

}  // namespace ustack::wire

template <>
struct fmt::formatter<ustack::wire::EthernetHeader> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::EthernetHeader& h, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "eth {} > {} type {:#06x}", h.src, h.dst, h.ethertype);
  }
};
