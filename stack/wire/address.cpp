#include "stack/wire/address.h"

#include <charconv>

namespace ustack {
namespace {

std::optional<unsigned> parse_number(std::string_view text, int base, unsigned max) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max) return std::nullopt;
  return v;
}

}  // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  std::array<std::uint8_t, 6> o{};
  for (std::size_t i = 0; i < 6; ++i) {
    if (text.size() < 2) return std::nullopt;
    auto v = parse_number(text.substr(0, 2), 16, 0xff);
    if (!v) return std::nullopt;
    o[i] = static_cast<std::uint8_t>(*v);
    text.remove_prefix(2);
    if (i < 5) {
      if (text.empty() || (text[0] != ':' && text[0] != '-')) return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return std::nullopt;
  return MacAddress(o[0], o[1], o[2], o[3], o[4], o[5]);
}

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    auto dot = text.find('.');
    if ((i < 3) == (dot == std::string_view::npos)) return std::nullopt;
    std::string_view octet = text.substr(0, dot);
    // No leading zeros, as inet_pton(3): inet_aton(3) would read "010" as octal 8.
    if (octet.size() > 1 && octet[0] == '0') return std::nullopt;
    auto v = parse_number(octet, 10, 255);
    if (!v) return std::nullopt;
    value = (value << 8) | *v;
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  return from_u32(value);
}

std::optional<Ipv4Cidr> Ipv4Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = Ipv4Address::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  if (slash == std::string_view::npos) return Ipv4Cidr{*address, 32};
  auto prefix = parse_number(text.substr(slash + 1), 10, 32);
  if (!prefix) return std::nullopt;
  return Ipv4Cidr{*address, static_cast<std::uint8_t>(*prefix)};
}

}  // namespace ustack
