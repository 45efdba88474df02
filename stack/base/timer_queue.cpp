#include "stack/base/timer_queue.h"

#include <cassert>

namespace ustack {

TimerId TimerQueue::allocate(TimerKind kind, std::uint64_t key, bool one_shot) {
  TimerId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<TimerId>(slots_.size());
    slots_.emplace_back();
  }
  slots_[id] = Slot{kNever, kind, one_shot, true, kNotQueued, key};
  return id;
}

void TimerQueue::release(TimerId id) {
  slots_[id].in_use = false;
  free_.push_back(id);
}

void TimerQueue::schedule(Instant when, TimerKind kind, std::uint64_t key) {
  // A one-shot at kNever would never be queued, so never fire, so never give its slot back.
  if (when == kNever) return;
  arm(allocate(kind, key, true), when);
}

TimerId TimerQueue::create(TimerKind kind, std::uint64_t key) {
  return allocate(kind, key, false);
}

void TimerQueue::arm(TimerId id, Instant when) {
  Slot& s = slots_[id];
  assert(s.in_use);
  if (when == kNever) {
    remove_from_heap(id);
    s.when = kNever;
    return;
  }
  const Instant old = s.when;
  s.when = when;
  if (s.heap_index == kNotQueued) {
    heap_.push_back(id);
    s.heap_index = static_cast<std::uint32_t>(heap_.size() - 1);
    sift_up(s.heap_index);
  } else if (when < old) {
    sift_up(s.heap_index);
  } else {
    sift_down(s.heap_index);
  }
}

void TimerQueue::destroy(TimerId id) {
  if (id == kNoTimer) return;
  // Freeing a slot twice would hand it to two owners.
  assert(slots_[id].in_use && !slots_[id].one_shot);
  remove_from_heap(id);
  release(id);
}

void TimerQueue::remove_from_heap(TimerId id) {
  const std::uint32_t i = slots_[id].heap_index;
  if (i == kNotQueued) return;
  slots_[id].heap_index = kNotQueued;
  const TimerId last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  place(i, last);
  sift_up(i);
  sift_down(slots_[last].heap_index);
}

void TimerQueue::sift_up(std::uint32_t i) {
  const TimerId id = heap_[i];
  while (i > 0) {
    const std::uint32_t parent = (i - 1) / 2;
    if (!earlier(id, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, id);
}

void TimerQueue::sift_down(std::uint32_t i) {
  const TimerId id = heap_[i];
  const auto n = static_cast<std::uint32_t>(heap_.size());
  while (true) {
    std::uint32_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && earlier(heap_[child + 1], heap_[child])) ++child;
    if (!earlier(heap_[child], id)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, id);
}

std::optional<TimerEntry> TimerQueue::pop_due(Instant now) {
  if (heap_.empty() || slots_[heap_.front()].when > now) return std::nullopt;
  const TimerId id = heap_.front();
  Slot& s = slots_[id];
  TimerEntry e{s.when, s.kind, s.key};
  remove_from_heap(id);
  s.when = kNever;
  if (s.one_shot) release(id);
  return e;
}

Instant TimerQueue::next_deadline() const {
  return heap_.empty() ? kNever : slots_[heap_.front()].when;
}

}  // namespace ustack
