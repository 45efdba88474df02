#include "stack/ip/ipv4.h"

#include <cerrno>

#include "stack/stack.h"

namespace ustack::ip {

using wire::IpProtocol;
using wire::Ipv4Header;

Ipv4::Ipv4(Stack& stack, const Ipv4Config& config)
    : stack_(stack),
      config_(config),
      reassembler_(stack, config.reassembly),
      next_id_(static_cast<std::uint16_t>(stack.rng().next_u32())) {}

void Ipv4::input(Interface& iface, Packet datagram) {
  Stats& stats = stack_.stats();
  stats.add(Counter::ip_rx);

  // RFC 1122 3.2.1.1-3.2.1.2: a bad version or checksum is discarded silently (counted here).
  auto parsed = Ipv4Header::parse(datagram.bytes());
  if (!parsed) return stats.drop(parsed.error(), "{} bytes", datagram.size());
  const Ipv4Header& header = *parsed;
  log::ip().trace("rx {}", header);

  // Ethernet pads short frames to 60 bytes; the datagram ends at its total length.
  datagram.trim(header.total_length);

  if (!valid_source(iface, header.src)) return stats.drop(Counter::ip_bad_source, "{}", header);
  // RFC 1122 3.3.4.2: a host does not forward, so anything not addressed to us goes.
  if (!iface.accepts(header.dst)) return stats.drop(Counter::ip_not_for_us, "{}", header);
  // TTL 0 or 1 on a datagram addressed to us is fine: TTL only limits forwarding
  // (RFC 1122 3.2.1.7).

  datagram.pull(header.header_length);
  if (header.is_fragment()) {
    auto whole = reassembler_.add(iface, header, std::move(datagram));
    if (whole) deliver(iface, whole->header, std::move(whole->payload));
    return;
  }
  deliver(iface, header, std::move(datagram));
}

void Ipv4::deliver(Interface& iface, const Ipv4Header& header, Packet payload) {
  stack_.stats().add(Counter::ip_delivered);
  switch (static_cast<IpProtocol>(header.protocol)) {
    case IpProtocol::icmp:
      return stack_.icmp().input(iface, header, std::move(payload));
    case IpProtocol::udp:
      return stack_.udp().input(iface, header, std::move(payload));
    case IpProtocol::tcp:
      return stack_.tcp().input(iface, header, std::move(payload));
    default:
      // RFC 1122 3.2.2.1: a host SHOULD send protocol unreachable for a protocol it lacks.
      stack_.stats().drop(Counter::ip_unknown_protocol, "{}", header);
      return stack_.icmp().send_error(iface, wire::IcmpType::destination_unreachable,
                                      static_cast<std::uint8_t>(wire::UnreachableCode::protocol),
                                      header, payload);
  }
}

bool Ipv4::valid_source(const Interface& iface, Ipv4Address src) const {
  // RFC 1122 3.2.1.3: a source must be one host.
  if (!iface.is_unicast_host(src)) return false;
  // Our own address arriving from the wire is a spoof or a loop; loopback never uses the wire.
  return src != iface.address();
}

std::optional<Route> Ipv4::route(Ipv4Address dst) {
  auto& ifaces = stack_.interfaces();
  for (auto& iface : ifaces) {
    if (iface->is_on_link(dst) || iface->accepts(dst)) return Route{iface.get(), dst};
  }
  for (auto& iface : ifaces) {
    if (iface->gateway()) return Route{iface.get(), *iface->gateway()};
  }
  return std::nullopt;
}

int Ipv4::output(Packet payload, const Ipv4OutputParams& params) {
  Stats& stats = stack_.stats();
  auto route = this->route(params.dst);
  if (!route) {
    stats.drop(Counter::ip_no_route, "to {}", params.dst);
    return ENETUNREACH;
  }
  if (payload.size() + Ipv4Header::kMinSize > Ipv4Header::kMaxDatagram) {
    stats.drop(Counter::ip_too_big, "{} bytes to {}", payload.size(), params.dst);
    return EMSGSIZE;
  }

  Ipv4Header header;
  header.total_length = static_cast<std::uint16_t>(payload.size() + Ipv4Header::kMinSize);
  header.identification = next_id_++;
  header.dont_fragment = params.dont_fragment;
  // A datagram never leaves with TTL 0 (RFC 1122 3.2.1.7), not even with default_ttl set to 0.
  header.ttl = params.ttl != 0 ? params.ttl : config_.default_ttl != 0 ? config_.default_ttl : 64;
  header.tos = params.tos;
  header.protocol = static_cast<std::uint8_t>(params.protocol);
  header.src = params.src.is_unspecified() ? route->iface->address() : params.src;
  header.dst = params.dst;

  if (header.dst == route->iface->address()) {
    // To ourselves: never on the wire. Queued, not delivered re-entrantly, so that a transport
    // sending from inside its own input path does not recurse.
    if (loopback_.size() >= config_.loopback_queue) {
      stats.drop(Counter::ip_loopback_full, "to {}", params.dst);
      return ENOBUFS;
    }
    header.emit(payload.push(Ipv4Header::kMinSize));
    stats.add(Counter::ip_tx);
    loopback_.push_back(Looped{route->iface, std::move(payload)});
    return 0;
  }

  // A TSO segment (PacketOffload::gso_size) is cut to the MTU by the device, each piece a whole
  // TCP segment with DF set: never fragmented here. TCP makes them only up to the device's
  // tso_max.
  const bool tso =
      payload.offload.gso_size != 0 && header.total_length <= route->iface->offloads().tso_max;
  if (header.total_length > route->iface->mtu() && !tso) {
    if (params.dont_fragment) {
      stats.drop(Counter::ip_too_big, "{} bytes, mtu {}", header.total_length, route->iface->mtu());
      return EMSGSIZE;
    }
    // A link too small for 8 bytes of data per fragment (RFC 791 asks for at least 68) would make
    // the fragment loop spin forever, or underflow below 20 bytes.
    if (route->iface->mtu() < Ipv4Header::kMinSize + 8) {
      stats.drop(Counter::ip_too_big, "mtu {} cannot carry fragments", route->iface->mtu());
      return EMSGSIZE;
    }
    fragment_and_send(*route, header, std::move(payload));
    return 0;
  }

  header.emit(payload.push(Ipv4Header::kMinSize));
  log::ip().trace("tx {}", header);
  stats.add(Counter::ip_tx);
  stack_.ethernet().output(*route->iface, std::move(payload), route->next_hop);
  return 0;
}

void Ipv4::fragment_and_send(Route route, Ipv4Header header, Packet payload) {
  // RFC 791 3.2 "Fragmentation": every fragment but the last carries a multiple of 8 bytes.
  const std::size_t per_fragment = (route.iface->mtu() - Ipv4Header::kMinSize) & ~std::size_t{7};
  const std::size_t total = payload.size();
  for (std::size_t offset = 0; offset < total; offset += per_fragment) {
    const std::size_t length = std::min(per_fragment, total - offset);
    Packet fragment = Packet::allocate(length);
    fragment.append(payload.bytes().subspan(offset, length));
    Ipv4Header h = header;
    h.total_length = static_cast<std::uint16_t>(Ipv4Header::kMinSize + length);
    h.fragment_offset = static_cast<std::uint16_t>(offset);
    h.more_fragments = offset + length < total;
    h.emit(fragment.push(Ipv4Header::kMinSize));
    log::ip().trace("tx {}", h);
    stack_.stats().add(Counter::ip_frag_tx);
    stack_.ethernet().output(*route.iface, std::move(fragment), route.next_hop);
  }
  stack_.stats().add(Counter::ip_tx);
}

void Ipv4::deliver_loopback() {
  // Only what was queued before this call: anything sent in response waits for the next poll.
  for (std::size_t n = loopback_.size(); n > 0 && !loopback_.empty(); --n) {
    Looped looped = std::move(loopback_.front());
    loopback_.pop_front();
    Interface& iface = *looped.iface;
    Packet datagram = std::move(looped.datagram);
    auto parsed = Ipv4Header::parse(datagram.bytes());
    if (!parsed) continue;  // we built it; cannot fail
    datagram.pull(parsed->header_length);
    deliver(iface, *parsed, std::move(datagram));
  }
}

}  // namespace ustack::ip
