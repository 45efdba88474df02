#include "stack/udp/udp.h"

#include <poll.h>

#include <cerrno>

#include "stack/stack.h"

namespace ustack::udp {

using wire::UdpHeader;

short UdpSocket::poll_events() const {
  // As Linux's datagram_poll: a pending error is POLLERR alone, and a UDP socket is always
  // writable (a send never blocks; after SHUT_WR it fails at once with EPIPE).
  short events = POLLOUT;
  if (!queue.empty() || shut_read) events |= POLLIN;
  if (pending_error != 0) events |= POLLERR;
  if (shut_read && shut_write) events |= POLLHUP;
  return events;
}

void Udp::input(Interface& iface, const wire::Ipv4Header& ip, Packet datagram) {
  Stats& stats = stack_.stats();
  stats.add(Counter::udp_rx);
  // A datagram the local kernel vouches for (virtio NEEDS_CSUM / DATA_VALID) is not summed.
  auto parsed =
      UdpHeader::parse(datagram.bytes(), ip.src, ip.dst, !datagram.offload.checksum_trusted());
  if (!parsed) return stats.drop(parsed.error(), "from {}", ip.src);
  const UdpHeader& header = *parsed;
  log::udp().trace("rx {} from {}", header, ip.src);

  // RFC 768: the datagram ends at its length field; any further IP payload is not data.
  datagram.trim(header.length);
  const Endpoint from{ip.src, header.src_port};

  const bool broadcast = datagram.link_broadcast || !(ip.dst == iface.address());
  if (broadcast) {
    // A broadcast goes to every socket on the port that could receive it (RFC 1122 4.1.3.5
    // leaves this to the host; Linux does the same).
    bool delivered = false;
    auto [first, last] = bound_.equal_range(header.dst_port);
    std::vector<UdpSocket*> matches;
    for (auto it = first; it != last; ++it) {
      UdpSocket* s = it->second;
      if (!s->local.address.is_unspecified() && s->local.address != ip.dst) continue;
      if (s->remote && !(*s->remote == from)) continue;
      matches.push_back(s);
    }
    for (UdpSocket* s : matches) {
      Packet copy = matches.size() == 1 ? std::move(datagram) : datagram.clone();
      copy.pull(UdpHeader::kSize);
      deliver(*s, from, std::move(copy));
      delivered = true;
    }
    // RFC 1122 4.1.3.1: no port unreachable for broadcasts.
    if (!delivered) stats.drop(Counter::udp_no_port, "broadcast to port {}", header.dst_port);
    return;
  }

  UdpSocket* socket = lookup(ip.dst, header.dst_port, from);
  if (socket == nullptr) {
    stats.drop(Counter::udp_no_port, "{} from {}", header, ip.src);
    return stack_.icmp().send_error(iface, wire::IcmpType::destination_unreachable,
                                    static_cast<std::uint8_t>(wire::UnreachableCode::port), ip,
                                    datagram);
  }
  datagram.pull(UdpHeader::kSize);
  deliver(*socket, from, std::move(datagram));
}

UdpSocket* Udp::lookup(Ipv4Address dst, std::uint16_t dst_port, Endpoint from) {
  UdpSocket* best = nullptr;
  int best_score = -1;
  auto [first, last] = bound_.equal_range(dst_port);
  for (auto it = first; it != last; ++it) {
    UdpSocket* s = it->second;
    int score = 0;
    if (!s->local.address.is_unspecified()) {
      if (s->local.address != dst) continue;
      score += 1;
    }
    if (s->remote) {
      if (!(*s->remote == from)) continue;  // a connected socket only hears its peer
      score += 2;
    }
    if (score > best_score) {
      best = s;
      best_score = score;
    }
  }
  return best;
}

void Udp::deliver(UdpSocket& socket, Endpoint from, Packet payload) {
  Stats& stats = stack_.stats();
  const std::size_t cost = payload.capacity();
  // An empty queue takes any one datagram, however large: otherwise a socket whose SO_RCVBUF is
  // smaller than a datagram could never receive it (Linux admits one while the bytes already
  // queued are within the buffer). So the queue holds at most max(SO_RCVBUF, one datagram).
  const bool fits = socket.queue.empty() || socket.queued_bytes + cost <= socket.receive_buffer;
  if (socket.shut_read || !fits) {
    return stats.drop(Counter::udp_queue_full, "port {}, {} bytes queued", socket.local.port,
                      socket.queued_bytes);
  }
  stats.add(Counter::udp_delivered);
  socket.queued_bytes += cost;
  socket.queue.push_back(UdpSocket::Datagram{from, std::move(payload)});
  stack_.sockets().notify(socket);
}

int Udp::send(UdpSocket& socket, std::span<const std::uint8_t> data, Endpoint dst) {
  // 65535 - 20 (IPv4 header) - 8 (UDP header).
  constexpr std::size_t kMaxData = 65507;
  if (data.size() > kMaxData) return EMSGSIZE;
  auto route = stack_.ipv4().route(dst.address);
  if (!route) {
    stack_.stats().drop(Counter::ip_no_route, "udp to {}", dst.address);
    return ENETUNREACH;
  }
  const Ipv4Address src =
      socket.local.address.is_unspecified() ? route->iface->address() : socket.local.address;

  Packet packet = Packet::allocate(UdpHeader::kSize + data.size());
  packet.put(UdpHeader::kSize);
  packet.append(data);
  UdpHeader::emit(packet.bytes(), socket.local.port, dst.port, src, dst.address);
  log::udp().trace("tx {} > {} len {}", socket.local, dst, data.size());

  ip::Ipv4OutputParams params;
  params.dst = dst.address;
  params.src = src;
  params.protocol = wire::IpProtocol::udp;
  stack_.stats().add(Counter::udp_tx);
  return stack_.ipv4().output(std::move(packet), params);
}

bool Udp::port_free(Ipv4Address address, std::uint16_t port, bool reuse) const {
  auto [first, last] = bound_.equal_range(port);
  for (auto it = first; it != last; ++it) {
    const UdpSocket* s = it->second;
    const bool overlap = s->local.address.is_unspecified() || address.is_unspecified() ||
                         s->local.address == address;
    // SO_REUSEADDR on both sockets lets them share the port (for broadcast listeners).
    if (overlap && !(reuse && s->reuse_address)) return false;
  }
  return true;
}

int Udp::bind(UdpSocket& socket, Endpoint local) {
  if (!local.address.is_unspecified()) {
    bool ours = false;
    for (auto& iface : stack_.interfaces()) ours = ours || iface->address() == local.address;
    if (!ours) return EADDRNOTAVAIL;
  }
  if (local.port == 0) {
    const std::uint32_t count = config_.ephemeral_last - config_.ephemeral_first + 1u;
    const std::uint32_t start = static_cast<std::uint32_t>(stack_.rng().below(count));
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto port = static_cast<std::uint16_t>(config_.ephemeral_first + (start + i) % count);
      if (port_free(local.address, port, false)) {
        local.port = port;
        break;
      }
    }
    if (local.port == 0) return EAGAIN;  // as Linux when the range is exhausted
  } else if (!port_free(local.address, local.port, socket.reuse_address)) {
    return EADDRINUSE;
  }
  socket.local = local;
  bound_.emplace(local.port, &socket);
  return 0;
}

void Udp::unbind(UdpSocket& socket) {
  auto [first, last] = bound_.equal_range(socket.local.port);
  for (auto it = first; it != last; ++it) {
    if (it->second == &socket) {
      bound_.erase(it);
      return;
    }
  }
}

void Udp::icmp_error(const wire::Ipv4Header& ip, std::span<const std::uint8_t> quoted,
                     std::uint8_t type, std::uint8_t code) {
  const std::uint16_t src_port = wire::load_be16(quoted.data());
  const std::uint16_t dst_port = wire::load_be16(quoted.data() + 2);
  const Endpoint peer{ip.dst, dst_port};
  int error = 0;
  if (type == static_cast<std::uint8_t>(wire::IcmpType::destination_unreachable)) {
    switch (static_cast<wire::UnreachableCode>(code)) {
      case wire::UnreachableCode::port:
        error = ECONNREFUSED;
        break;
      case wire::UnreachableCode::protocol:
        error = ENOPROTOOPT;  // as Linux's icmp_err_convert
        break;
      case wire::UnreachableCode::net:
        error = ENETUNREACH;
        break;
      case wire::UnreachableCode::fragmentation_needed:
        error = EMSGSIZE;
        break;
      default:
        error = EHOSTUNREACH;
        break;
    }
  } else if (type == static_cast<std::uint8_t>(wire::IcmpType::time_exceeded)) {
    error = EHOSTUNREACH;
  } else {
    error = EPROTO;
  }
  auto [first, last] = bound_.equal_range(src_port);
  for (auto it = first; it != last; ++it) {
    UdpSocket* s = it->second;
    // Only a connected socket can tell which of its datagrams failed (Linux does the same
    // without IP_RECVERR); errors for unconnected sockets are dropped.
    if (s->remote && *s->remote == peer &&
        (s->local.address.is_unspecified() || s->local.address == ip.src)) {
      stack_.stats().add(Counter::udp_icmp_error);
      s->pending_error = error;
      stack_.sockets().notify(*s);
      return;
    }
  }
}

}  // namespace ustack::udp
