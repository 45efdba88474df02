// ARP (RFC 826) with the host rules of RFC 1122 2.3.2: answers requests for our address, learns
// from requests aimed at us and from replies to our own requests, and resolves next hops for
// Ethernet::output.
//
// Bounds: at most `cache_size` entries; at most `pending_per_entry` datagrams wait per unresolved
// address (the oldest is dropped first, so the latest is always kept, RFC 1122 2.3.2.2); at most
// one request per second per address (RFC 1122 2.3.2.1); after `max_requests` unanswered requests
// the waiting datagrams are dropped as arp.unresolved, their senders hear "host unreachable"
// (Icmp::link_failure, so a connect fails with EHOSTUNREACH) and the entry is removed.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

#include "stack/base/packet.h"
#include "stack/base/time.h"
#include "stack/interface.h"
#include "stack/wire/arp.h"

namespace ustack {
class Stack;
}

namespace ustack::link {

struct ArpConfig {
  std::size_t cache_size = 256;
  std::size_t pending_per_entry = 16;
  // How long a learned mapping is trusted without confirmation.
  Duration reachable_time = 60s;
  // An entry in use this close to its expiry is confirmed with a unicast request first (RFC 1122
  // 2.3.2.1 suggests unicast polling) so active flows never wait on a re-resolution.
  Duration refresh_window = 10s;
  Duration retry_interval = 1s;
  unsigned max_requests = 3;
};

class Arp {
 public:
  Arp(Stack& stack, const ArpConfig& config) : stack_(stack), config_(config) {}

  // Where every ARP packet arrives (the Ethernet header already pulled).
  void input(Interface& iface, Packet packet);

  // Sends `datagram` to next_hop's MAC: now if it is known, otherwise after resolution.
  void resolve_and_send(Interface& iface, Packet datagram, Ipv4Address next_hop);

  // Broadcasts a gratuitous ARP announcement of our address (RFC 5227 2.3), so neighbours with
  // a stale entry for it update.
  void announce(Interface& iface);

  // Called by Stack::poll when the ARP timer comes due: retries, gives up on or expires every
  // entry whose deadline has passed.
  void on_timer(std::uint64_t key, Instant when);

  // The cached MAC of a resolved address.
  std::optional<MacAddress> lookup(const Interface& iface, Ipv4Address ip) const;
  std::size_t size() const { return cache_.size(); }

 private:
  struct Entry {
    enum class State : std::uint8_t { incomplete, reachable };
    State state = State::incomplete;
    MacAddress mac;
    Instant expires_at = kNever;  // reachable: mapping stops being trusted
    Instant retry_at = kNever;    // incomplete: next request, or give up
    Instant last_request{};       // meaningful while requests_sent > 0
    unsigned requests_sent = 0;   // since the entry was last confirmed
    std::deque<Packet> pending;

    Instant deadline() const { return state == State::reachable ? expires_at : retry_at; }
  };

  static std::uint64_t key_of(const Interface& iface, Ipv4Address ip) {
    return (std::uint64_t{iface.index()} << 32) | ip.to_u32();
  }
  void send_request(Interface& iface, Ipv4Address target, MacAddress dst, Entry& entry);
  void send_reply(Interface& iface, const wire::ArpPacket& request);
  void learn(Interface& iface, Entry& entry, MacAddress mac);
  void arm(Instant when);
  bool make_room();

  Stack& stack_;
  ArpConfig config_;
  std::unordered_map<std::uint64_t, Entry> cache_;
  // One timer for the whole cache, at its earliest deadline. A timer per entry would leave a
  // stale deadline in the TimerQueue for every evicted entry: a flood of ARP from ever new
  // senders would grow the queue without bound while the cache stays at cache_size.
  Instant queued_deadline_ = kNever;
};

}  // namespace ustack::link
