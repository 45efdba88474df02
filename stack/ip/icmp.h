// ICMP (RFC 792) with the host rules of RFC 1122 section 3.2.2.
//
// Input (Icmp::input): verify the checksum, answer echo requests in place (the request's own
// buffer becomes the reply), queue echo replies for the stack's own pings, pass errors about
// our datagrams up to the transport they concern.
// Errors (Icmp::send_error): never about an ICMP error, a broadcast or multicast, a non-first
// fragment or a source that is not one host (RFC 1122 3.2.2); rate-limited by a token bucket.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "stack/base/packet.h"
#include "stack/base/time.h"
#include "stack/interface.h"
#include "stack/wire/icmp.h"
#include "stack/wire/ipv4.h"

namespace ustack {
class Stack;
}

namespace ustack::ip {

struct IcmpConfig {
  // Token bucket for errors (RFC 1812 4.3.2.8 style; Linux allows 1000/s with a burst of 50).
  double errors_per_second = 100;
  double error_burst = 20;
  // Replies to the stack's own echo requests waiting to be read.
  std::size_t echo_reply_queue = 64;
  bool answer_broadcast_echo = false;  // as Linux's icmp_echo_ignore_broadcasts=1
};

// An echo reply received for a request the stack sent.
struct EchoReply {
  Ipv4Address from;
  std::uint16_t id = 0;
  std::uint16_t sequence = 0;
  std::uint8_t ttl = 0;
  Instant received_at;
  std::vector<std::uint8_t> data;
};

class Icmp {
 public:
  Icmp(Stack& stack, const IcmpConfig& config);

  // Where every ICMP message arrives (the IP header pulled; its bytes are in the headroom).
  void input(Interface& iface, const wire::Ipv4Header& ip, Packet message);

  // Sends an error about a datagram we received: `ip` is its header and `payload` what followed
  // the header (Ipv4::header_bytes recovers the header's bytes). `rest` is the second header
  // word (pointer, next-hop MTU), zero for most errors.
  void send_error(Interface& iface, wire::IcmpType type, std::uint8_t code,
                  const wire::Ipv4Header& ip, const Packet& payload, std::uint32_t rest = 0);

  // A datagram we sent could not be delivered on the link (ARP never answered): the transport
  // that sent it hears "host unreachable" (RFC 1122 3.3.1.3, as Linux's ip_link_failure).
  void link_failure(const Packet& datagram);

  // Sends an echo request; returns 0 or an errno from Ipv4::output.
  int send_echo_request(Ipv4Address dst, std::uint16_t id, std::uint16_t sequence,
                        std::span<const std::uint8_t> data);
  // The oldest echo reply not yet taken.
  std::optional<EchoReply> take_echo_reply();

 private:
  void answer_echo(Interface& iface, const wire::Ipv4Header& ip, const wire::IcmpHeader& request,
                   Packet message);
  void receive_error(const wire::IcmpHeader& icmp, const Packet& message);
  // Hands an ICMP error about `quoted` (an IP datagram we sent, at least its headers) to the
  // transport that sent it.
  void deliver_error(const wire::IcmpHeader& icmp, std::span<const std::uint8_t> quoted);
  bool take_error_token();

  Stack& stack_;
  IcmpConfig config_;
  // The error token bucket kept as time: an error costs error_cost_ns_ of credit, and credit grows
  // by one nanosecond per nanosecond up to error_burst errors' worth. Integers, so the rate is
  // exact however finely time is sliced (summing fractional tokens in doubles lost tokens).
  std::int64_t error_cost_ns_;
  std::int64_t credit_cap_ns_;
  std::int64_t credit_ns_;
  Instant credit_at_{};
  std::deque<EchoReply> echo_replies_;
};

}  // namespace ustack::ip
