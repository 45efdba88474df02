// Test support: building and decoding frames with the wire emit/parse functions, and reading
// counters as a map of name -> value so a test can assert "exactly this counter went up".
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stack/base/packet.h"
#include "stack/base/rng.h"
#include "stack/base/stats.h"
#include "stack/wire/arp.h"
#include "stack/wire/bytes.h"
#include "stack/wire/checksum.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/icmp.h"
#include "stack/wire/ipv4.h"

namespace ustack::test {

using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------------
// Building

inline Bytes concat(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// `n` bytes of a recognisable pattern that depends on `seed` (so payloads of different datagrams
// differ).
inline Bytes pattern(std::size_t n, std::uint32_t seed = 0) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::uint8_t>((i * 7 + seed * 13 + (i >> 8)) & 0xff);
  }
  return out;
}

inline Bytes ethernet(MacAddress dst, MacAddress src, std::uint16_t type,
                      std::span<const std::uint8_t> payload) {
  Bytes out(wire::EthernetHeader::kSize);
  wire::EthernetHeader{dst, src, type}.emit(out.data());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline Bytes ethernet(MacAddress dst, MacAddress src, wire::EtherType type,
                      std::span<const std::uint8_t> payload) {
  return ethernet(dst, src, static_cast<std::uint16_t>(type), payload);
}

inline Bytes arp_bytes(const wire::ArpPacket& arp) {
  Bytes out(wire::ArpPacket::kSize);
  arp.emit(out.data());
  return out;
}

inline wire::ArpPacket arp_packet(wire::ArpOp op, MacAddress sender_mac, Ipv4Address sender_ip,
                                  MacAddress target_mac, Ipv4Address target_ip) {
  wire::ArpPacket arp;
  arp.op = op;
  arp.sender_mac = sender_mac;
  arp.sender_ip = sender_ip;
  arp.target_mac = target_mac;
  arp.target_ip = target_ip;
  return arp;
}

// A 20-byte IPv4 header in front of `payload`. total_length is filled in when left at 0.
inline Bytes ipv4(wire::Ipv4Header h, std::span<const std::uint8_t> payload) {
  if (h.total_length == 0) {
    h.total_length = static_cast<std::uint16_t>(wire::Ipv4Header::kMinSize + payload.size());
  }
  Bytes out(wire::Ipv4Header::kMinSize);
  h.emit(out.data());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Recomputes the header checksum of a hand-edited datagram over IHL*4 bytes (as far as present).
inline void fix_ip_checksum(Bytes& datagram) {
  const std::size_t hl =
      std::min<std::size_t>(std::size_t{datagram[0] & 0x0fu} * 4, datagram.size());
  wire::store_be16(&datagram[10], 0);
  wire::store_be16(&datagram[10], wire::checksum({datagram.data(), hl}));
}

// A datagram with `options` (padded by the caller to a multiple of 4) after the 20-byte header.
inline Bytes ipv4_with_options(const wire::Ipv4Header& h, std::span<const std::uint8_t> options,
                               std::span<const std::uint8_t> payload) {
  Bytes out = ipv4(h, {});
  out.insert(out.end(), options.begin(), options.end());
  out.insert(out.end(), payload.begin(), payload.end());
  out[0] = static_cast<std::uint8_t>(0x40 | ((out.size() - payload.size()) / 4));
  wire::store_be16(&out[2], static_cast<std::uint16_t>(out.size()));
  fix_ip_checksum(out);
  return out;
}

inline Bytes icmp(std::uint8_t type, std::uint8_t code, std::uint32_t rest,
                  std::span<const std::uint8_t> data) {
  Bytes out(wire::IcmpHeader::kSize);
  out.insert(out.end(), data.begin(), data.end());
  wire::IcmpHeader h;
  h.type = type;
  h.code = code;
  h.rest = rest;
  h.emit(out);
  return out;
}

inline Bytes echo_request(std::uint16_t id, std::uint16_t seq, std::span<const std::uint8_t> data) {
  return icmp(static_cast<std::uint8_t>(wire::IcmpType::echo_request), 0,
              wire::IcmpHeader::echo_rest(id, seq), data);
}

inline wire::Ipv4Header ip_header(Ipv4Address src, Ipv4Address dst,
                                  std::uint8_t protocol = 1 /* icmp */, std::uint16_t id = 0x1234) {
  wire::Ipv4Header h;
  h.src = src;
  h.dst = dst;
  h.protocol = protocol;
  h.identification = id;
  h.ttl = 64;
  return h;
}

// Splits a transport payload into IPv4 fragments carrying `per_fragment` bytes each (a multiple
// of 8), every one a complete datagram with the given header template.
inline std::vector<Bytes> fragment(const wire::Ipv4Header& base,
                                   std::span<const std::uint8_t> payload,
                                   std::size_t per_fragment) {
  std::vector<Bytes> out;
  for (std::size_t offset = 0; offset < payload.size(); offset += per_fragment) {
    const std::size_t n = std::min(per_fragment, payload.size() - offset);
    wire::Ipv4Header h = base;
    h.total_length = 0;
    h.fragment_offset = static_cast<std::uint16_t>(offset);
    h.more_fragments = offset + n < payload.size();
    out.push_back(ipv4(h, payload.subspan(offset, n)));
  }
  return out;
}

// One fragment by hand: payload bytes at byte offset `offset`.
inline Bytes fragment_at(wire::Ipv4Header h, std::size_t offset, bool more,
                         std::span<const std::uint8_t> payload) {
  h.total_length = 0;
  h.fragment_offset = static_cast<std::uint16_t>(offset);
  h.more_fragments = more;
  return ipv4(h, payload);
}

// A Fisher-Yates shuffle driven by the stack's own seeded Rng, so orders repeat on every
// standard library.
template <typename T>
void shuffle(std::vector<T>& v, std::uint64_t seed) {
  Rng rng(seed);
  for (std::size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[rng.below(i)]);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding what a stack sent

struct EthFrame {
  wire::EthernetHeader eth;
  Bytes payload;
};

inline std::optional<EthFrame> decode_ethernet(std::span<const std::uint8_t> frame) {
  auto h = wire::EthernetHeader::parse(frame);
  if (!h) return std::nullopt;
  auto rest = frame.subspan(wire::EthernetHeader::kSize);
  return EthFrame{*h, Bytes(rest.begin(), rest.end())};
}

struct IpDatagram {
  MacAddress eth_dst;
  wire::Ipv4Header ip;
  Bytes header;   // the IP header's bytes
  Bytes payload;  // what follows the header, up to total_length
  Bytes whole() const { return concat(header, payload); }
};

inline std::optional<IpDatagram> decode_ipv4(std::span<const std::uint8_t> frame) {
  auto e = decode_ethernet(frame);
  if (!e || e->eth.ethertype != static_cast<std::uint16_t>(wire::EtherType::ipv4)) {
    return std::nullopt;
  }
  auto h = wire::Ipv4Header::parse(e->payload);
  if (!h) return std::nullopt;
  IpDatagram d;
  d.eth_dst = e->eth.dst;
  d.ip = *h;
  d.header.assign(e->payload.begin(), e->payload.begin() + h->header_length);
  d.payload.assign(e->payload.begin() + h->header_length, e->payload.begin() + h->total_length);
  return d;
}

inline std::optional<wire::ArpPacket> decode_arp(std::span<const std::uint8_t> frame,
                                                 wire::EthernetHeader* eth = nullptr) {
  auto e = decode_ethernet(frame);
  if (!e || e->eth.ethertype != static_cast<std::uint16_t>(wire::EtherType::arp)) {
    return std::nullopt;
  }
  if (eth) *eth = e->eth;
  auto a = wire::ArpPacket::parse(e->payload);
  if (!a) return std::nullopt;
  return *a;
}

// Reassembles fragments the way a receiver would (sorted by offset, no holes, one ID), for
// checking the stack's own output. Returns the whole transport payload, or nothing.
inline std::optional<Bytes> reassemble(std::vector<IpDatagram> fragments) {
  if (fragments.empty()) return std::nullopt;
  std::sort(fragments.begin(), fragments.end(), [](const IpDatagram& a, const IpDatagram& b) {
    return a.ip.fragment_offset < b.ip.fragment_offset;
  });
  Bytes out;
  for (std::size_t i = 0; i < fragments.size(); ++i) {
    const IpDatagram& f = fragments[i];
    if (f.ip.identification != fragments[0].ip.identification) return std::nullopt;
    if (f.ip.fragment_offset != out.size()) return std::nullopt;
    if (f.ip.more_fragments != (i + 1 < fragments.size())) return std::nullopt;
    out.insert(out.end(), f.payload.begin(), f.payload.end());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Counters

using CounterMap = std::map<std::string, std::uint64_t>;

inline CounterMap counters(const Stats& stats) {
  CounterMap out;
  stats.for_each([&](std::string_view name, std::uint64_t v) { out[std::string(name)] = v; });
  return out;
}

// Counters that count traffic rather than a reason to drop it.
inline bool is_traffic_counter(std::string_view name) {
  static constexpr std::string_view kTraffic[] = {"dev.rx_frames",
                                                  "dev.tx_frames",
                                                  "dev.rx_gso",
                                                  "dev.tx_gso",
                                                  "eth.rx",
                                                  "eth.tx",
                                                  "arp.rx",
                                                  "arp.tx_request",
                                                  "arp.tx_reply",
                                                  "arp.expired",
                                                  "ip.rx",
                                                  "ip.tx",
                                                  "ip.delivered",
                                                  "ip.frag_rx",
                                                  "ip.frag_tx",
                                                  "ip.reassembled",
                                                  "icmp.rx",
                                                  "icmp.tx",
                                                  "icmp.echo_request",
                                                  "icmp.echo_reply",
                                                  "icmp.error_rx",
                                                  "icmp.error_tx",
                                                  "udp.rx",
                                                  "udp.tx",
                                                  "udp.delivered",
                                                  "udp.icmp_error"};
  return std::find(std::begin(kTraffic), std::end(kTraffic), name) != std::end(kTraffic);
}

// How much every drop counter grew since `before` (only those that changed).
inline CounterMap drops_since(const CounterMap& before, const Stats& stats) {
  CounterMap out;
  for (const auto& [name, value] : counters(stats)) {
    if (is_traffic_counter(name)) continue;
    const auto it = before.find(name);
    const std::uint64_t old = it == before.end() ? 0 : it->second;
    if (value != old) out[name] = value - old;
  }
  return out;
}

// How much every counter grew since `before` (only those that changed).
inline CounterMap changes_since(const CounterMap& before, const Stats& stats) {
  CounterMap out;
  for (const auto& [name, value] : counters(stats)) {
    const auto it = before.find(name);
    const std::uint64_t old = it == before.end() ? 0 : it->second;
    if (value != old) out[name] = value - old;
  }
  return out;
}

}  // namespace ustack::test
