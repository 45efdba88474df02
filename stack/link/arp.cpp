#include "stack/link/arp.h"

#include <vector>

#include "stack/stack.h"

namespace ustack::link {

using wire::ArpOp;
using wire::ArpPacket;

void Arp::input(Interface& iface, Packet packet) {
  Stats& stats = stack_.stats();
  stats.add(Counter::arp_rx);

  auto parsed = ArpPacket::parse(packet.bytes());
  if (!parsed) return stats.drop(parsed.error(), "{} bytes", packet.size());
  const ArpPacket& arp = *parsed;
  log::arp().trace("rx {}", arp);

  // A group MAC or a broadcast/multicast IP is never one host's binding; learning it would send
  // unicast traffic to everyone.
  if (arp.sender_mac.is_multicast() || arp.sender_mac.is_zero() || arp.sender_ip.is_broadcast() ||
      arp.sender_ip.is_multicast()) {
    return stats.drop(Counter::arp_bad_sender, "{}", arp);
  }
  if (arp.sender_ip == iface.address()) {
    // Someone else claims our address (RFC 5227 2.4). We keep our address and do not learn it.
    if (arp.sender_mac != iface.mac()) {
      log::arp().warn("address conflict: {} claims {}", arp.sender_mac, arp.sender_ip);
      stats.drop(Counter::arp_address_conflict, "{}", arp);
    }
    return;
  }

  // RFC 826 "Packet Reception": if the sender is already in the table, update it (merge) whether
  // or not the packet is for us; then, only if we are the target, add the sender if it was not
  // there. A sender of 0.0.0.0 is an RFC 5227 probe and is answered but never learned.
  const bool learnable = !arp.sender_ip.is_unspecified();
  const std::uint64_t key = key_of(iface, arp.sender_ip);
  bool merged = false;
  if (learnable) {
    if (auto it = cache_.find(key); it != cache_.end()) {
      learn(iface, it->second, arp.sender_mac);
      merged = true;
    }
  }

  if (arp.target_ip != iface.address()) {
    return stats.drop(Counter::arp_not_for_us, "{}", arp);
  }

  // Learn from requests aimed at us, since we are about to talk back to the sender. An
  // unsolicited reply for an address we never asked about creates nothing: that is the classic
  // cache-poisoning vector.
  if (!merged && learnable && arp.op == ArpOp::request && make_room()) {
    Entry& entry = cache_[key];
    learn(iface, entry, arp.sender_mac);
  }

  if (arp.op == ArpOp::request) {
    send_reply(iface, arp);
  } else if (!merged) {
    stats.drop(Counter::arp_unsolicited, "{}", arp);
  }
}

void Arp::resolve_and_send(Interface& iface, Packet datagram, Ipv4Address next_hop) {
  Stats& stats = stack_.stats();
  const Instant now = stack_.now();
  const std::uint64_t key = key_of(iface, next_hop);

  auto it = cache_.find(key);
  if (it != cache_.end() && it->second.state == Entry::State::reachable) {
    Entry& entry = it->second;
    if (now >= entry.expires_at - config_.refresh_window &&
        entry.requests_sent < config_.max_requests &&
        (entry.requests_sent == 0 || now - entry.last_request >= config_.retry_interval)) {
      send_request(iface, next_hop, entry.mac, entry);
    }
    return stack_.ethernet().transmit(iface, std::move(datagram), entry.mac, wire::EtherType::ipv4);
  }

  if (it == cache_.end()) {
    if (!make_room()) return stats.drop(Counter::arp_cache_full, "for {}", next_hop);
    it = cache_.emplace(key, Entry{}).first;
  }
  Entry& entry = it->second;
  if (entry.pending.size() >= config_.pending_per_entry) {
    // Keep the latest datagrams (RFC 1122 2.3.2.2 asks for at least the latest one).
    entry.pending.pop_front();
    stats.drop(Counter::arp_queue_overflow, "for {}", next_hop);
  }
  entry.pending.push_back(std::move(datagram));

  // The first datagram for an address starts resolution; later ones only wait, so a flood of
  // traffic to an unresolved address still sends at most one request per retry_interval.
  if (entry.requests_sent == 0) {
    send_request(iface, next_hop, MacAddress::broadcast(), entry);
    entry.retry_at = now + config_.retry_interval;
    arm(entry.retry_at);
  }
}

void Arp::announce(Interface& iface) {
  ArpPacket arp;
  arp.op = ArpOp::request;
  arp.sender_mac = iface.mac();
  arp.sender_ip = iface.address();
  arp.target_ip = iface.address();
  Packet packet = Packet::allocate(ArpPacket::kSize);
  arp.emit(packet.put(ArpPacket::kSize));
  log::arp().debug("announce {} is-at {}", iface.address(), iface.mac());
  stack_.stats().add(Counter::arp_tx_request);
  stack_.ethernet().transmit(iface, std::move(packet), MacAddress::broadcast(),
                             wire::EtherType::arp);
}

void Arp::on_timer(std::uint64_t /*key*/, Instant when) {
  if (when != queued_deadline_) return;  // superseded by an earlier one, which re-armed
  queued_deadline_ = kNever;
  const Instant now = stack_.now();
  Instant next = kNever;
  std::vector<Packet> undeliverable;
  for (auto it = cache_.begin(); it != cache_.end();) {
    Entry& entry = it->second;
    Interface& iface = stack_.interface(static_cast<std::size_t>(it->first >> 32));
    const Ipv4Address ip = Ipv4Address::from_u32(static_cast<std::uint32_t>(it->first));
    if (now < entry.deadline()) {
      next = std::min(next, entry.deadline());
      ++it;
    } else if (entry.state == Entry::State::reachable) {
      log::arp().debug("{} expired", ip);
      stack_.stats().add(Counter::arp_expired);
      it = cache_.erase(it);
    } else if (entry.requests_sent >= config_.max_requests) {
      log::arp().debug("{} unresolved after {} requests", ip, entry.requests_sent);
      for (Packet& datagram : entry.pending) {
        stack_.stats().drop(Counter::arp_unresolved, "for {}", ip);
        undeliverable.push_back(std::move(datagram));
      }
      it = cache_.erase(it);
    } else {
      send_request(iface, ip, MacAddress::broadcast(), entry);
      entry.retry_at = now + config_.retry_interval;
      next = std::min(next, entry.retry_at);
      ++it;
    }
  }
  arm(next);
  // Told after the walk: the senders may send again, which can add cache entries.
  for (const Packet& datagram : undeliverable) stack_.icmp().link_failure(datagram);
}

std::optional<MacAddress> Arp::lookup(const Interface& iface, Ipv4Address ip) const {
  auto it = cache_.find(key_of(iface, ip));
  if (it == cache_.end() || it->second.state != Entry::State::reachable) return std::nullopt;
  return it->second.mac;
}

void Arp::send_request(Interface& iface, Ipv4Address target, MacAddress dst, Entry& entry) {
  ArpPacket arp;
  arp.op = ArpOp::request;
  arp.sender_mac = iface.mac();
  arp.sender_ip = iface.address();
  arp.target_ip = target;
  Packet packet = Packet::allocate(ArpPacket::kSize);
  arp.emit(packet.put(ArpPacket::kSize));
  entry.last_request = stack_.now();
  ++entry.requests_sent;
  log::arp().debug("tx {}", arp);
  stack_.stats().add(Counter::arp_tx_request);
  stack_.ethernet().transmit(iface, std::move(packet), dst, wire::EtherType::arp);
}

void Arp::send_reply(Interface& iface, const ArpPacket& request) {
  ArpPacket reply;
  reply.op = ArpOp::reply;
  reply.sender_mac = iface.mac();
  reply.sender_ip = iface.address();
  reply.target_mac = request.sender_mac;
  reply.target_ip = request.sender_ip;
  Packet packet = Packet::allocate(ArpPacket::kSize);
  reply.emit(packet.put(ArpPacket::kSize));
  log::arp().trace("tx {}", reply);
  stack_.stats().add(Counter::arp_tx_reply);
  stack_.ethernet().transmit(iface, std::move(packet), request.sender_mac, wire::EtherType::arp);
}

void Arp::learn(Interface& iface, Entry& entry, MacAddress mac) {
  const Instant now = stack_.now();
  entry.state = Entry::State::reachable;
  entry.mac = mac;
  entry.expires_at = now + config_.reachable_time;
  entry.requests_sent = 0;
  entry.retry_at = kNever;
  arm(entry.expires_at);
  // Datagrams that waited for this address leave now, in the order they were sent.
  std::deque<Packet> pending = std::move(entry.pending);
  entry.pending.clear();
  for (Packet& datagram : pending) {
    stack_.ethernet().transmit(iface, std::move(datagram), mac, wire::EtherType::ipv4);
  }
}

void Arp::arm(Instant when) {
  if (when >= queued_deadline_) return;  // an earlier timer will fire and re-arm
  queued_deadline_ = when;
  stack_.timers().schedule(when, TimerKind::arp, 0);
}

bool Arp::make_room() {
  if (cache_.size() < config_.cache_size) return true;
  // Evict the resolved entry closest to expiry; entries still resolving hold queued datagrams
  // and are left alone.
  auto victim = cache_.end();
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->second.state != Entry::State::reachable) continue;
    if (victim == cache_.end() || it->second.expires_at < victim->second.expires_at) victim = it;
  }
  if (victim == cache_.end()) return false;
  cache_.erase(victim);
  return true;
}

}  // namespace ustack::link
