// Reassembly of IPv4 fragments (RFC 791 section 3.2, RFC 815), with the defences that decades of
// fragment attacks taught (RFC 1858, RFC 5722's rule applied to IPv4):
//
//  - a fragment that overlaps another, even partly, discards the whole datagram; an exact
//    duplicate is accepted once;
//  - non-final fragments carry a multiple of 8 bytes; a first fragment too short to hold the
//    transport header is refused (the tiny-fragment attack);
//  - the datagram may not grow past 65535 bytes, nor hold more than max_fragments pieces;
//  - all datagrams together hold at most memory_limit bytes of buffers: the oldest is evicted
//    to make room; and each datagram lives at most `timeout`.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "stack/base/packet.h"
#include "stack/base/time.h"
#include "stack/interface.h"
#include "stack/wire/ipv4.h"

namespace ustack {
class Stack;
}

namespace ustack::ip {

struct ReassemblyConfig {
  // RFC 1122 3.3.2 suggests 60-120 s; Linux uses 30 s, which frees memory sooner.
  Duration timeout = 30s;
  std::size_t memory_limit = 4 * 1024 * 1024;
  std::size_t max_datagrams = 256;
  // A 65535-byte datagram over a 576-byte MTU needs 120 fragments.
  std::size_t max_fragments = 128;
};

// A whole datagram out of the reassembler: the first fragment's header (total length, flags and
// offset rewritten) and the payload, with that header's bytes just in front of it in the buffer.
struct ReassembledDatagram {
  wire::Ipv4Header header;
  Packet payload;
};

class Reassembler {
 public:
  Reassembler(Stack& stack, const ReassemblyConfig& config) : stack_(stack), config_(config) {}

  // Takes one fragment: `header` as parsed, `payload` its data with the header pulled (the
  // header's bytes are still in the headroom). Returns the datagram once it is complete.
  std::optional<ReassembledDatagram> add(Interface& iface, const wire::Ipv4Header& header,
                                         Packet payload);

  // Called by Stack::poll when the reassembly timer comes due: expires every datagram whose
  // timeout has passed.
  void on_timer(std::uint64_t serial, Instant when);

  std::size_t datagrams() const { return by_serial_.size(); }
  std::size_t memory() const { return memory_; }

 private:
  struct Key {
    std::uint32_t src, dst;
    std::uint16_t id;
    std::uint8_t protocol;
    auto operator<=>(const Key&) const = default;
  };
  struct Fragment {
    std::uint32_t offset;
    std::uint32_t length;
    Packet data;
  };
  struct Datagram {
    Key key;
    Interface* iface = nullptr;
    Instant expires_at;
    std::vector<Fragment> fragments;             // sorted by offset, never overlapping
    std::optional<std::uint32_t> payload_total;  // known once the last fragment arrived
    std::size_t memory = 0;
    bool link_broadcast = false;
    // The first fragment's header, options included: it becomes the datagram's header.
    std::array<std::uint8_t, wire::Ipv4Header::kMaxSize> first_header{};
    std::uint8_t first_header_length = 0;
  };

  void discard(std::map<std::uint64_t, Datagram>::iterator it, Counter reason);
  void expire(std::map<std::uint64_t, Datagram>::iterator it);
  void arm();
  std::optional<ReassembledDatagram> complete(std::map<std::uint64_t, Datagram>::iterator it);

  Stack& stack_;
  ReassemblyConfig config_;
  std::uint64_t next_serial_ = 1;
  // By serial number, which is also age order: begin() is the oldest datagram.
  std::map<std::uint64_t, Datagram> by_serial_;
  std::map<Key, std::uint64_t> by_key_;
  std::size_t memory_ = 0;
  // Every datagram lives `timeout` from its first fragment, so they expire in serial order and
  // one timer, for the oldest, is enough. (A timer per datagram would leave a stale deadline in
  // the TimerQueue for every evicted datagram: as many as a flood of fragments can create.)
  Instant queued_deadline_ = kNever;
};

}  // namespace ustack::ip
