// IPv4 (RFC 791) with the host requirements of RFC 1122 section 3.2.
//
// Input (Ipv4::input): validate the header, trim link padding, check source and destination,
// reassemble fragments, then a switch on the protocol number hands the payload to ICMP (and,
// in later layers, UDP and TCP); other protocols get an ICMP protocol unreachable.
// Output (Ipv4::output): route (on-link or default gateway), choose the source address, prepend
// the header in the packet's headroom, fragment to the MTU, hand to Ethernet::output.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>

#include "stack/base/packet.h"
#include "stack/interface.h"
#include "stack/ip/reassembly.h"
#include "stack/wire/ipv4.h"

namespace ustack {
class Stack;
}

namespace ustack::ip {

struct Ipv4Config {
  std::uint8_t default_ttl = 64;  // RFC 1700 / Linux default
  ReassemblyConfig reassembly;
  std::size_t loopback_queue = 256;
};

struct Route {
  Interface* iface = nullptr;
  Ipv4Address next_hop;
};

// What a transport asks of Ipv4::output.
struct Ipv4OutputParams {
  Ipv4Address dst;
  Ipv4Address src;  // unspecified: the outgoing interface's address
  wire::IpProtocol protocol = wire::IpProtocol::icmp;
  std::uint8_t ttl = 0;  // 0: the default TTL (a datagram never leaves with TTL 0)
  std::uint8_t tos = 0;
  bool dont_fragment = false;
};

class Ipv4 {
 public:
  Ipv4(Stack& stack, const Ipv4Config& config);

  // Where every IPv4 datagram arrives (the Ethernet header already pulled).
  void input(Interface& iface, Packet datagram);

  // Sends `payload` (the transport header and data at payload.data(), with headroom in front).
  // Returns 0, or an errno: ENETUNREACH (no route), EMSGSIZE (over 65535 bytes, or over the MTU
  // with dont_fragment).
  int output(Packet payload, const Ipv4OutputParams& params);

  // The interface and next hop for dst: on-link subnets first, then the default gateway.
  std::optional<Route> route(Ipv4Address dst);

  // Datagrams we sent to one of our own addresses; Stack::poll feeds them back to input.
  void deliver_loopback();
  bool loopback_pending() const { return !loopback_.empty(); }

  // The IP header bytes of a datagram handed to a transport: Ipv4::input pulls exactly the
  // header, so its bytes stay in the payload's headroom (ICMP errors quote them).
  static std::span<const std::uint8_t> header_bytes(const Packet& payload,
                                                    const wire::Ipv4Header& header) {
    return {payload.data() - header.header_length, header.header_length};
  }

  Reassembler& reassembler() { return reassembler_; }

 private:
  void deliver(Interface& iface, const wire::Ipv4Header& header, Packet payload);
  bool valid_source(const Interface& iface, Ipv4Address src) const;
  void fragment_and_send(Route route, wire::Ipv4Header header, Packet payload);

  Stack& stack_;
  Ipv4Config config_;
  Reassembler reassembler_;
  // RFC 1122 3.2.1.5 only asks that an ID not repeat for the same (source, destination,
  // protocol) while a datagram may live; one counter from a random start does that.
  std::uint16_t next_id_;
  struct Looped {
    Interface* iface;
    Packet datagram;
  };
  std::deque<Looped> loopback_;
};

}  // namespace ustack::ip
