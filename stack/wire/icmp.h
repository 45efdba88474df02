// ICMP for IPv4 (RFC 792).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |     Code      |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Rest of header: echo Identifier + Sequence Number; for        |
//   |  errors unused, or Pointer (parameter problem), or Next-Hop MTU |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Data: echo payload, or for errors the offending IP header +    |
//   |  at least the first 8 bytes of its payload                     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The checksum covers the whole ICMP message.
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/address.h"
#include "stack/wire/parsed.h"

namespace ustack::wire {

enum class IcmpType : std::uint8_t {
  echo_reply = 0,
  destination_unreachable = 3,
  source_quench = 4,
  redirect = 5,
  echo_request = 8,
  time_exceeded = 11,
  parameter_problem = 12,
  timestamp = 13,
  timestamp_reply = 14,
};

// Destination unreachable codes (RFC 792, RFC 1122 3.2.2.1).
enum class UnreachableCode : std::uint8_t {
  net = 0,
  host = 1,
  protocol = 2,
  port = 3,
  fragmentation_needed = 4,
  source_route_failed = 5,
};

struct IcmpHeader {
  static constexpr std::size_t kSize = 8;

  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint16_t checksum = 0;
  std::uint32_t rest = 0;  // the second word, read per type below

  std::uint16_t echo_id() const { return static_cast<std::uint16_t>(rest >> 16); }
  std::uint16_t echo_sequence() const { return static_cast<std::uint16_t>(rest); }
  static std::uint32_t echo_rest(std::uint16_t id, std::uint16_t seq) {
    return (std::uint32_t{id} << 16) | seq;
  }
  // Types that report an error about another datagram (RFC 1122 3.2.2).
  bool is_error() const {
    switch (static_cast<IcmpType>(type)) {
      case IcmpType::destination_unreachable:
      case IcmpType::source_quench:
      case IcmpType::redirect:
      case IcmpType::time_exceeded:
      case IcmpType::parameter_problem:
        return true;
      default:
        return false;
    }
  }

  // Checks icmp.short, then icmp.bad_checksum over the whole message.
  static Parsed<IcmpHeader> parse(std::span<const std::uint8_t> message);
  // Writes the 8-byte header at message[0..8) and the checksum over the whole message, whose
  // data must already be in place after the header.
  void emit(std::span<std::uint8_t> message) const;
};

}  // namespace ustack::wire

template <>
struct fmt::formatter<ustack::wire::IcmpHeader> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::IcmpHeader& h, Ctx& ctx) const {
    using ustack::wire::IcmpType;
    switch (static_cast<IcmpType>(h.type)) {
      case IcmpType::echo_request:
        return fmt::format_to(ctx.out(), "icmp echo request id {} seq {}", h.echo_id(),
                              h.echo_sequence());
      case IcmpType::echo_reply:
        return fmt::format_to(ctx.out(), "icmp echo reply id {} seq {}", h.echo_id(),
                              h.echo_sequence());
      case IcmpType::destination_unreachable:
        return fmt::format_to(ctx.out(), "icmp unreachable code {}", h.code);
      case IcmpType::time_exceeded:
        return fmt::format_to(ctx.out(), "icmp time exceeded code {}", h.code);
      default:
        return fmt::format_to(ctx.out(), "icmp type {} code {}", h.type, h.code);
    }
  }
};
