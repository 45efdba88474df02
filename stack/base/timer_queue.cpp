#include "stack/base/timer_queue.h"

namespace ustack {

void TimerQueue::schedule(Instant when, TimerKind kind, std::uint64_t key) {
  heap_.push(TimerEntry{when, kind, key});
}

std::optional<TimerEntry> TimerQueue::pop_due(Instant now) {
  if (heap_.empty() || heap_.top().when > now) return std::nullopt;
  TimerEntry e = heap_.top();
  heap_.pop();
  return e;
}

Instant TimerQueue::next_deadline() const { return heap_.empty() ? kNever : heap_.top().when; }

}  // namespace ustack
