// TimerQueue: the Stack's one queue of deadlines.
//
// A timer is a deadline stored in the object it belongs to (an ARP entry's retry_at, a
// reassembly's expires_at, a TCB's retransmit_at). When an entry comes due, Stack::poll
// dispatches by `kind` with a switch to the owning layer, which looks the object up by `key` and
// checks its own stored deadlines.
//
// Two kinds of entries:
//  - one-shot entries (schedule): fire once and are gone. ARP and reassembly keep one each, at
//    their earliest deadline, and sweep when it fires; an entry whose object is gone is ignored.
//  - timers (create / arm / destroy): one slot per object that the owner re-arms whenever its
//    earliest deadline moves, in O(log n). A TCP connection re-arms on nearly every segment
//    (delayed ACK, retransmission, keepalive), so leaving stale entries behind would let the
//    queue grow with traffic; a timer is moved in place instead, and destroyed with its owner.
//
// Both live in one binary heap of slot numbers; each slot knows its heap position.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "stack/base/time.h"

namespace ustack {

enum class TimerKind : std::uint8_t {
  arp,            // key: ArpCache entry (interface index << 32 | IPv4 address)
  ip_reassembly,  // key: reassembly serial number
  tcp,            // key: connection id (Tcp::connection_by_id)
};

struct TimerEntry {
  Instant when;
  TimerKind kind;
  std::uint64_t key;
};

using TimerId = std::uint32_t;
inline constexpr TimerId kNoTimer = std::numeric_limits<TimerId>::max();

class TimerQueue {
 public:
  // A one-shot entry; one at kNever is not queued at all.
  void schedule(Instant when, TimerKind kind, std::uint64_t key);

  // A re-armable timer, created disarmed.
  TimerId create(TimerKind kind, std::uint64_t key);
  // Sets the timer's deadline; kNever disarms it. Firing (pop_due) disarms it too.
  void arm(TimerId id, Instant when);
  void destroy(TimerId id);
  Instant deadline(TimerId id) const { return slots_[id].when; }

  // Removes and returns the earliest entry that is due at `now`, if any.
  std::optional<TimerEntry> pop_due(Instant now);
  // The earliest queued deadline, or kNever.
  Instant next_deadline() const;
  // Entries in the heap (armed timers and pending one-shots).
  std::size_t size() const { return heap_.size(); }

 private:
  static constexpr std::uint32_t kNotQueued = std::numeric_limits<std::uint32_t>::max();
  struct Slot {
    Instant when = kNever;
    TimerKind kind{};
    bool one_shot = false;
    bool in_use = false;
    std::uint32_t heap_index = kNotQueued;
    std::uint64_t key = 0;
  };

  TimerId allocate(TimerKind kind, std::uint64_t key, bool one_shot);
  void release(TimerId id);
  void remove_from_heap(TimerId id);
  void sift_up(std::uint32_t i);
  void sift_down(std::uint32_t i);
  void place(std::uint32_t i, TimerId id) {
    heap_[i] = id;
    slots_[id].heap_index = i;
  }
  bool earlier(TimerId a, TimerId b) const { return slots_[a].when < slots_[b].when; }

  std::vector<Slot> slots_;
  std::vector<TimerId> free_;
  std::vector<TimerId> heap_;
};

}  // namespace ustack
