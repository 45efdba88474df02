// Value types for link and network addresses, each printable with fmt ("10.0.0.2",
// "02:00:00:00:00:02", "10.0.0.0/24").
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string_view>

#include "stack/base/fmt.h"
#include "stack/wire/bytes.h"

namespace ustack {

class MacAddress {
 public:
  constexpr MacAddress() = default;
  constexpr MacAddress(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                       std::uint8_t e, std::uint8_t f)
      : octets_{a, b, c, d, e, f} {}

  static constexpr MacAddress broadcast() { return {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; }
  static MacAddress load(const std::uint8_t* p) {
    MacAddress m;
    std::memcpy(m.octets_.data(), p, 6);
    return m;
  }
  // "02:00:00:00:00:02" (also accepts '-' separators).
  static std::optional<MacAddress> parse(std::string_view text);

  void store(std::uint8_t* p) const { std::memcpy(p, octets_.data(), 6); }
  const std::array<std::uint8_t, 6>& octets() const { return octets_; }

  bool is_broadcast() const { return *this == broadcast(); }
  // The I/G bit: group (multicast or broadcast) addresses.
  bool is_multicast() const { return (octets_[0] & 0x01) != 0; }
  bool is_zero() const { return *this == MacAddress{}; }

  auto operator<=>(const MacAddress&) const = default;

 private:
  std::array<std::uint8_t, 6> octets_{};
};

class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;
  constexpr Ipv4Address(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
      : value_((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d) {}

  // From a host-order 32-bit value (10.0.0.1 is 0x0a000001).
  static constexpr Ipv4Address from_u32(std::uint32_t v) {
    Ipv4Address a;
    a.value_ = v;
    return a;
  }
  static constexpr Ipv4Address any() { return {}; }
  static constexpr Ipv4Address broadcast() { return from_u32(0xffffffff); }
  static Ipv4Address load(const std::uint8_t* p) { return from_u32(wire::load_be32(p)); }
  // Dotted quad, strictly four decimal octets without leading zeros (as inet_pton).
  static std::optional<Ipv4Address> parse(std::string_view text);

  void store(std::uint8_t* p) const { wire::store_be32(p, value_); }
  constexpr std::uint32_t to_u32() const { return value_; }

  constexpr bool is_unspecified() const { return value_ == 0; }
  constexpr bool is_broadcast() const { return value_ == 0xffffffff; }
  constexpr bool is_multicast() const { return (value_ >> 28) == 0xe; }  // 224.0.0.0/4
  constexpr bool is_loopback() const { return (value_ >> 24) == 127; }   // 127.0.0.0/8
  // Class E, 240.0.0.0/4 (reserved), other than the limited broadcast.
  constexpr bool is_reserved() const { return (value_ >> 28) == 0xf && !is_broadcast(); }

  auto operator<=>(const Ipv4Address&) const = default;

 private:
  std::uint32_t value_ = 0;
};

// An address with its prefix length: an interface address such as 10.0.0.2/24.
struct Ipv4Cidr {
  Ipv4Address address;
  std::uint8_t prefix_length = 32;

  // "10.0.0.2/24"; a bare address means /32.
  static std::optional<Ipv4Cidr> parse(std::string_view text);

  constexpr std::uint32_t mask() const {
    return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length);
  }
  constexpr Ipv4Address network() const { return Ipv4Address::from_u32(address.to_u32() & mask()); }
  // The directed (subnet) broadcast address; equal to the address itself for /31 and /32.
  constexpr Ipv4Address subnet_broadcast() const {
    if (prefix_length >= 31) return address;
    return Ipv4Address::from_u32(address.to_u32() | ~mask());
  }
  constexpr bool contains(Ipv4Address a) const {
    return (a.to_u32() & mask()) == (address.to_u32() & mask());
  }

  bool operator==(const Ipv4Cidr&) const = default;
};

}  // namespace ustack

template <>
struct fmt::formatter<ustack::MacAddress> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::MacAddress& m, Ctx& ctx) const {
    const auto& o = m.octets();
    return fmt::format_to(ctx.out(), "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2],
                          o[3], o[4], o[5]);
  }
};

template <>
struct fmt::formatter<ustack::Ipv4Address> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::Ipv4Address& a, Ctx& ctx) const {
    std::uint32_t v = a.to_u32();
    return fmt::format_to(ctx.out(), "{}.{}.{}.{}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
                          v & 0xff);
  }
};

template <>
struct fmt::formatter<ustack::Ipv4Cidr> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::Ipv4Cidr& c, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{}/{}", c.address, c.prefix_length);
  }
};
