#include "stack/ip/icmp.h"

#include <algorithm>

#include "stack/ip/ipv4.h"
#include "stack/stack.h"
#include "stack/udp/udp.h"
#include "stack/wire/checksum.h"

namespace ustack::ip {

using wire::IcmpHeader;
using wire::IcmpType;
using wire::Ipv4Header;

namespace {

// RFC 1812 4.3.2.3: an error carries as much of the offending datagram as fits in 576 bytes.
constexpr std::size_t kMaxErrorDatagram = 576;

}  // namespace

Icmp::Icmp(Stack& stack, const IcmpConfig& config) : stack_(stack), config_(config) {
  // An error costs 1/errors_per_second seconds of credit; a rate of 0 or less sends none. The
  // clamps keep every sum of credit and elapsed time far inside int64_t.
  constexpr double kMaxNs = 1e18;
  if (config.errors_per_second > 0) {
    const double cost = std::clamp(1e9 / config.errors_per_second, 1.0, kMaxNs);
    error_cost_ns_ = static_cast<std::int64_t>(cost);
    credit_cap_ns_ = static_cast<std::int64_t>(std::clamp(cost * config.error_burst, 0.0, kMaxNs));
  } else {
    error_cost_ns_ = 1;
    credit_cap_ns_ = 0;
  }
  credit_ns_ = credit_cap_ns_;
}

void Icmp::input(Interface& iface, const Ipv4Header& ip, Packet message) {
  Stats& stats = stack_.stats();
  stats.add(Counter::icmp_rx);
  auto parsed = IcmpHeader::parse(message.bytes());
  if (!parsed) return stats.drop(parsed.error(), "from {}", ip.src);
  const IcmpHeader& icmp = *parsed;
  log::icmp().trace("rx {} from {}", icmp, ip.src);

  switch (static_cast<IcmpType>(icmp.type)) {
    case IcmpType::echo_request:
      return answer_echo(iface, ip, icmp, std::move(message));
    case IcmpType::echo_reply: {
      stats.add(Counter::icmp_echo_reply);
      if (echo_replies_.size() >= config_.echo_reply_queue) {
        return stats.drop(Counter::icmp_reply_queue_full, "from {}", ip.src);
      }
      auto data = message.bytes().subspan(IcmpHeader::kSize);
      echo_replies_.push_back(EchoReply{ip.src,
                                        icmp.echo_id(),
                                        icmp.echo_sequence(),
                                        ip.ttl,
                                        stack_.now(),
                                        {data.begin(), data.end()}});
      return;
    }
    case IcmpType::source_quench:
      // RFC 6633 deprecates it; RFC 9293 MUST-55 says to discard it.
      return stats.drop(Counter::icmp_source_quench, "from {}", ip.src);
    case IcmpType::destination_unreachable:
    case IcmpType::time_exceeded:
    case IcmpType::parameter_problem:
      return receive_error(icmp, message);
    default:
      // Redirects are ignored: a host with one default gateway has nothing to learn from them,
      // and they are a classic spoofing vector. Timestamps (optional, RFC 1122 3.2.2.8) too.
      return stats.drop(Counter::icmp_unknown_type, "{} from {}", icmp, ip.src);
  }
}

void Icmp::answer_echo(Interface& iface, const Ipv4Header& ip, const IcmpHeader& request,
                       Packet message) {
  Stats& stats = stack_.stats();
  stats.add(Counter::icmp_echo_request);
  // RFC 1122 3.2.2.6 lets a host ignore echo requests to a broadcast address; answering them
  // turns the host into a smurf amplifier.
  const bool broadcast = message.link_broadcast || !(ip.dst == iface.address());
  if (broadcast && !config_.answer_broadcast_echo) {
    return stats.drop(Counter::icmp_broadcast_echo, "from {}", ip.src);
  }

  // The request becomes the reply in place: only the type changes, so the checksum is adjusted
  // (RFC 1624) rather than summed again over up to 65507 bytes of data.
  std::uint8_t* h = message.data();
  const std::uint16_t old_word = wire::load_be16(h);
  h[0] = static_cast<std::uint8_t>(IcmpType::echo_reply);
  const std::uint16_t new_word = wire::load_be16(h);
  std::uint16_t checksum = wire::checksum_adjust(request.checksum, old_word, new_word);
  if (checksum == 0) {
    // RFC 1624 eqn. 3 gives 0x0000 both where 0x0000 is right and where only 0xffff verifies
    // (a reply whose other bytes are all zero: ping with id 0, seq 0 and zero data). Only then,
    // one time in 65536, the sum is computed afresh.
    wire::store_be16(h + 2, 0);
    checksum = wire::checksum(message.bytes());
  }
  wire::store_be16(h + 2, checksum);
  // The reply's checksum is complete; what the device said about the request must not go out.
  message.offload = PacketOffload{};
  log::icmp().trace("tx echo reply id {} seq {} to {}", request.echo_id(), request.echo_sequence(),
                    ip.src);

  // RFC 1122 3.2.2.6: the reply's source is the request's specific destination.
  Ipv4OutputParams params;
  params.dst = ip.src;
  params.src = broadcast ? iface.address() : ip.dst;
  params.protocol = wire::IpProtocol::icmp;
  params.tos = ip.tos;
  stats.add(Counter::icmp_tx);
  stack_.ipv4().output(std::move(message), params);
}

void Icmp::receive_error(const IcmpHeader& icmp, const Packet& message) {
  stack_.stats().add(Counter::icmp_error_rx);
  deliver_error(icmp, message.bytes().subspan(IcmpHeader::kSize));
}

void Icmp::link_failure(const Packet& datagram) {
  // What Linux does when a neighbour never answers (ip_link_failure): the sender learns "host
  // unreachable" as if a router had said so, so a connect fails with EHOSTUNREACH instead of
  // retransmitting its SYN into the void.
  IcmpHeader icmp;
  icmp.type = static_cast<std::uint8_t>(IcmpType::destination_unreachable);
  icmp.code = static_cast<std::uint8_t>(wire::UnreachableCode::host);
  deliver_error(icmp, datagram.bytes());
}

void Icmp::deliver_error(const IcmpHeader& icmp, std::span<const std::uint8_t> quoted) {
  Stats& stats = stack_.stats();
  // The quoted datagram: an IP header and at least the 8 bytes of transport header that name
  // the connection. Anything shorter cannot be matched to a socket and is ignored.
  if (quoted.size() < Ipv4Header::kMinSize) {
    return stats.drop(Counter::icmp_bad_error, "{}: {} quoted bytes", icmp, quoted.size());
  }
  const std::size_t inner_length = std::size_t{quoted[0] & 0x0fu} * 4;
  if ((quoted[0] >> 4) != 4 || inner_length < Ipv4Header::kMinSize ||
      quoted.size() < inner_length + 8) {
    return stats.drop(Counter::icmp_bad_error, "{}: quoted header truncated", icmp);
  }
  // The quoted header's checksum is not verified: routers may have changed TTL and options on
  // the way, and only the addresses, protocol and ports are used.
  wire::Ipv4Header inner;
  inner.header_length = static_cast<std::uint8_t>(inner_length);
  inner.protocol = quoted[9];
  inner.src = Ipv4Address::load(quoted.data() + 12);
  inner.dst = Ipv4Address::load(quoted.data() + 16);
  log::icmp().debug("rx {} about {} > {} protocol {}", icmp, inner.src, inner.dst, inner.protocol);
  auto transport = quoted.subspan(inner_length);
  switch (static_cast<wire::IpProtocol>(inner.protocol)) {
    case wire::IpProtocol::udp:
      return stack_.udp().icmp_error(inner, transport, icmp.type, icmp.code);
    case wire::IpProtocol::tcp:
      return stack_.tcp().icmp_error(inner, transport, icmp.type, icmp.code, icmp.rest);
    default:
      return;
  }
}

void Icmp::send_error(Interface& iface, IcmpType type, std::uint8_t code, const Ipv4Header& ip,
                      const Packet& payload, std::uint32_t rest) {
  Stats& stats = stack_.stats();
  // RFC 1122 3.2.2: never an error about an ICMP error (no storms of errors about errors) ...
  if (ip.protocol == static_cast<std::uint8_t>(wire::IpProtocol::icmp)) {
    if (payload.size() < 1) return;
    IcmpHeader inner;
    inner.type = payload.data()[0];
    if (inner.is_error()) return;
  }
  // ... nor about a datagram sent to a broadcast or multicast address, at either layer ...
  if (payload.link_broadcast || ip.dst.is_broadcast() || ip.dst.is_multicast() ||
      iface.is_subnet_broadcast(ip.dst)) {
    return;
  }
  // ... nor about a fragment other than the first ...
  if (ip.fragment_offset != 0) return;
  // ... nor to a source that does not name one host.
  if (!iface.is_unicast_host(ip.src)) return;
  if (!take_error_token()) {
    return stats.drop(Counter::icmp_rate_limited, "type {} to {}", static_cast<int>(type), ip.src);
  }

  auto original_header = Ipv4::header_bytes(payload, ip);
  const std::size_t room = kMaxErrorDatagram - Ipv4Header::kMinSize - IcmpHeader::kSize;
  const std::size_t quoted_payload =
      std::min(payload.size(), room - std::min(room, original_header.size()));
  const std::size_t size = IcmpHeader::kSize + original_header.size() + quoted_payload;

  Packet message = Packet::allocate(size);
  message.put(IcmpHeader::kSize);
  message.append(original_header);
  message.append(payload.bytes().first(quoted_payload));
  IcmpHeader header;
  header.type = static_cast<std::uint8_t>(type);
  header.code = code;
  header.rest = rest;
  header.emit(message.bytes());
  log::icmp().debug("tx {} to {}", header, ip.src);

  Ipv4OutputParams params;
  params.dst = ip.src;
  params.src = iface.address();
  params.protocol = wire::IpProtocol::icmp;
  stats.add(Counter::icmp_tx);
  stats.add(Counter::icmp_error_tx);
  stack_.ipv4().output(std::move(message), params);
}

int Icmp::send_echo_request(Ipv4Address dst, std::uint16_t id, std::uint16_t sequence,
                            std::span<const std::uint8_t> data) {
  Packet message = Packet::allocate(IcmpHeader::kSize + data.size());
  message.put(IcmpHeader::kSize);
  message.append(data);
  IcmpHeader header;
  header.type = static_cast<std::uint8_t>(IcmpType::echo_request);
  header.rest = IcmpHeader::echo_rest(id, sequence);
  header.emit(message.bytes());
  Ipv4OutputParams params;
  params.dst = dst;
  params.protocol = wire::IpProtocol::icmp;
  stack_.stats().add(Counter::icmp_tx);
  return stack_.ipv4().output(std::move(message), params);
}

std::optional<EchoReply> Icmp::take_echo_reply() {
  if (echo_replies_.empty()) return std::nullopt;
  EchoReply reply = std::move(echo_replies_.front());
  echo_replies_.pop_front();
  return reply;
}

bool Icmp::take_error_token() {
  const Instant now = stack_.now();
  if (now > credit_at_) {
    const std::int64_t elapsed = (now - credit_at_).count();
    credit_ns_ = elapsed >= credit_cap_ns_ - credit_ns_ ? credit_cap_ns_ : credit_ns_ + elapsed;
    credit_at_ = now;
  }
  if (credit_ns_ < error_cost_ns_) return false;
  credit_ns_ -= error_cost_ns_;
  return true;
}

}  // namespace ustack::ip
