// TimerQueue: the Stack's one queue of deadlines.
//
// A timer is a deadline stored in the object it belongs to (an ARP entry's retry_at, a
// reassembly's expires_at, later a TCB's retransmit_at). The owner schedules (deadline, kind, key)
// here; when it comes due, Stack::poll dispatches by `kind` with a switch to the owning layer,
// which looks the object up by `key` and checks its own stored deadline. That check makes
// cancellation free: an entry whose object is gone, or whose deadline moved, is simply ignored
// when it fires. To keep stale entries from piling up, owners only schedule when the new deadline
// is earlier than the one already queued for the object; a later deadline is picked up when the
// earlier entry fires and the owner re-schedules.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "stack/base/time.h"

namespace ustack {

enum class TimerKind : std::uint8_t {
  arp,            // key: ArpCache entry (interface index << 32 | IPv4 address)
  ip_reassembly,  // key: reassembly serial number
};

struct TimerEntry {
  Instant when;
  TimerKind kind;
  std::uint64_t key;
};

class TimerQueue {
 public:
  void schedule(Instant when, TimerKind kind, std::uint64_t key);
  // Removes and returns the earliest entry that is due at `now`, if any.
  std::optional<TimerEntry> pop_due(Instant now);
  // The earliest queued deadline, or kNever.
  Instant next_deadline() const;
  std::size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const { return a.when > b.when; }
  };
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, Later> heap_;
};

}  // namespace ustack
