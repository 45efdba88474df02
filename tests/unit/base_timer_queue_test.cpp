// TimerQueue's re-armable timers (create / arm / destroy) next to its one-shot entries: moving a
// deadline in place, disarming, firing, freeing and reusing slots, and a seeded random run of
// every operation against a brute-force model. One-shot ordering alone is in base_time_test.cpp.
#include "stack/base/timer_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <vector>

#include "stack/base/rng.h"
#include "stack/base/time.h"

namespace ustack {
namespace {

const Instant t0 = Instant{} + 1s;

TEST(TimerQueueTimers, CreatedDisarmed) {
  TimerQueue q;
  const TimerId id = q.create(TimerKind::tcp, 7);
  EXPECT_NE(id, kNoTimer);
  EXPECT_EQ(q.deadline(id), kNever);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.next_deadline(), kNever);
  EXPECT_FALSE(q.pop_due(kNever - 1ns));
  EXPECT_NE(q.create(TimerKind::tcp, 8), id);
}

TEST(TimerQueueTimers, RearmEarlierAndLater) {
  TimerQueue q;
  const TimerId a = q.create(TimerKind::tcp, 1);
  const TimerId b = q.create(TimerKind::tcp, 2);
  const TimerId c = q.create(TimerKind::tcp, 3);
  q.arm(a, t0 + 100ms);
  q.arm(b, t0 + 200ms);
  q.arm(c, t0 + 300ms);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.next_deadline(), t0 + 100ms);

  // Earlier: c moves to the front, in place.
  q.arm(c, t0 + 50ms);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.deadline(c), t0 + 50ms);
  EXPECT_EQ(q.next_deadline(), t0 + 50ms);

  // Later: c goes behind the others, and a (the old front) behind b.
  q.arm(c, t0 + 400ms);
  q.arm(a, t0 + 250ms);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.next_deadline(), t0 + 200ms);
  EXPECT_EQ(q.deadline(a), t0 + 250ms);

  // The same deadline again changes nothing.
  q.arm(b, t0 + 200ms);
  EXPECT_EQ(q.size(), 3u);

  std::vector<std::uint64_t> keys;
  std::vector<Instant> whens;
  while (auto e = q.pop_due(t0 + 1s)) {
    EXPECT_EQ(e->kind, TimerKind::tcp);
    keys.push_back(e->key);
    whens.push_back(e->when);
  }
  EXPECT_EQ(keys, (std::vector<std::uint64_t>{2, 1, 3}));
  EXPECT_EQ(whens, (std::vector<Instant>{t0 + 200ms, t0 + 250ms, t0 + 400ms}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTimers, RearmedTimerFiresOnlyAtItsNewDeadline) {
  TimerQueue q;
  const TimerId id = q.create(TimerKind::tcp, 9);
  q.arm(id, t0 + 100ms);
  q.arm(id, t0 + 300ms);
  EXPECT_FALSE(q.pop_due(t0 + 100ms));
  EXPECT_FALSE(q.pop_due(t0 + 300ms - 1ns));
  auto e = q.pop_due(t0 + 300ms);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->when, t0 + 300ms);
  EXPECT_FALSE(q.pop_due(kNever - 1ns));  // once only: no stale entry left behind
}

TEST(TimerQueueTimers, DisarmWithNever) {
  TimerQueue q;
  const TimerId a = q.create(TimerKind::tcp, 1);
  const TimerId b = q.create(TimerKind::tcp, 2);
  q.arm(a, t0 + 100ms);
  q.arm(b, t0 + 200ms);
  q.arm(a, kNever);
  EXPECT_EQ(q.deadline(a), kNever);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.next_deadline(), t0 + 200ms);
  // Disarming twice, or a timer never armed, is harmless.
  q.arm(a, kNever);
  const TimerId c = q.create(TimerKind::tcp, 3);
  q.arm(c, kNever);
  EXPECT_EQ(q.size(), 1u);

  auto e = q.pop_due(t0 + 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, 2u);
  EXPECT_FALSE(q.pop_due(t0 + 1s));

  // A disarmed timer arms again.
  q.arm(a, t0 + 2s);
  e = q.pop_due(t0 + 2s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, 1u);
}

TEST(TimerQueueTimers, DestroyWhileArmed) {
  TimerQueue q;
  const TimerId a = q.create(TimerKind::tcp, 1);
  const TimerId b = q.create(TimerKind::tcp, 2);
  const TimerId c = q.create(TimerKind::tcp, 3);
  q.arm(a, t0 + 100ms);
  q.arm(b, t0 + 200ms);
  q.arm(c, t0 + 300ms);
  q.destroy(a);  // the front of the heap
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.next_deadline(), t0 + 200ms);
  q.destroy(c);  // the back
  EXPECT_EQ(q.size(), 1u);
  q.destroy(kNoTimer);  // an owner that never had a timer
  EXPECT_EQ(q.size(), 1u);
  auto e = q.pop_due(t0 + 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, 2u);
  EXPECT_FALSE(q.pop_due(t0 + 1s));
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTimers, DestroyDisarmedOrFired) {
  TimerQueue q;
  const TimerId a = q.create(TimerKind::tcp, 1);
  q.destroy(a);
  const TimerId b = q.create(TimerKind::tcp, 2);
  q.arm(b, t0);
  ASSERT_TRUE(q.pop_due(t0));
  q.destroy(b);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.next_deadline(), kNever);
}

TEST(TimerQueueTimers, PopDisarmsButKeepsTheSlot) {
  TimerQueue q;
  const TimerId id = q.create(TimerKind::tcp, 42);
  q.arm(id, t0);
  auto e = q.pop_due(t0);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, TimerKind::tcp);
  EXPECT_EQ(e->key, 42u);
  EXPECT_EQ(e->when, t0);
  EXPECT_EQ(q.deadline(id), kNever);
  EXPECT_EQ(q.size(), 0u);

  // The slot still belongs to its owner: a new timer or one-shot does not take it.
  const TimerId other = q.create(TimerKind::tcp, 43);
  EXPECT_NE(other, id);
  q.schedule(t0, TimerKind::arp, 44);

  // Re-armed from the owner's handler, it fires again with the same kind and key.
  q.arm(id, t0 + 1s);
  e = q.pop_due(t0 + 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, 44u);  // the one-shot, due earlier
  e = q.pop_due(t0 + 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, TimerKind::tcp);
  EXPECT_EQ(e->key, 42u);
  EXPECT_EQ(e->when, t0 + 1s);
}

TEST(TimerQueueTimers, OneShotsAreFreedAfterFiring) {
  TimerQueue q;
  for (std::uint64_t k = 0; k < 100; ++k)
    q.schedule(t0 + std::chrono::milliseconds(k), TimerKind::arp, k);
  EXPECT_EQ(q.size(), 100u);
  std::uint64_t fired = 0;
  while (auto e = q.pop_due(t0 + 1s)) {
    EXPECT_EQ(e->key, fired);
    ++fired;
  }
  EXPECT_EQ(fired, 100u);
  EXPECT_EQ(q.size(), 0u);
  // Their slots are free again: a hundred timers fit in them without growing the table.
  for (int i = 0; i < 100; ++i) EXPECT_LT(q.create(TimerKind::tcp, 0), 100u);
  EXPECT_GE(q.create(TimerKind::tcp, 0), 100u);
}

TEST(TimerQueueTimers, ScheduleAtNeverQueuesNothing) {
  // A one-shot at kNever can never fire, so it must not hold a slot either.
  TimerQueue q;
  for (int i = 0; i < 1000; ++i) q.schedule(kNever, TimerKind::arp, 1);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.next_deadline(), kNever);
  EXPECT_EQ(q.create(TimerKind::tcp, 0), 0u);
}

TEST(TimerQueueTimers, SlotReuseAfterDestroy) {
  TimerQueue q;
  const TimerId a = q.create(TimerKind::tcp, 1);
  const TimerId b = q.create(TimerKind::tcp, 2);
  q.arm(a, t0 + 100ms);
  q.arm(b, t0 + 200ms);
  q.destroy(a);
  const TimerId c = q.create(TimerKind::arp, 3);
  EXPECT_EQ(c, a);
  // The reused slot is a new timer: disarmed, with its own kind and key.
  EXPECT_EQ(q.deadline(c), kNever);
  EXPECT_EQ(q.size(), 1u);
  q.arm(c, t0 + 50ms);
  auto e = q.pop_due(t0 + 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, TimerKind::arp);
  EXPECT_EQ(e->key, 3u);
  e = q.pop_due(t0 + 1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, 2u);
}

TEST(TimerQueueTimers, TimersAndOneShotsShareOneOrder) {
  TimerQueue q;
  const TimerId a = q.create(TimerKind::tcp, 1);
  q.schedule(t0 + 20ms, TimerKind::arp, 2);
  q.arm(a, t0 + 30ms);
  q.schedule(t0 + 10ms, TimerKind::ip_reassembly, 3);
  q.arm(a, t0 + 15ms);
  EXPECT_EQ(q.size(), 3u);
  std::vector<std::uint64_t> keys;
  while (auto e = q.pop_due(t0 + 1s)) keys.push_back(e->key);
  EXPECT_EQ(keys, (std::vector<std::uint64_t>{3, 1, 2}));
}

// A brute-force model: every live timer's deadline and every pending one-shot, scanned for the
// minimum. Keys are unique, so the entry the queue pops names exactly one model element.
class Model {
 public:
  struct Timer {
    TimerId id;
    Instant when;
  };

  std::map<std::uint64_t, Timer> timers;       // by key
  std::map<std::uint64_t, Instant> one_shots;  // by key

  Instant earliest() const {
    Instant best = kNever;
    for (const auto& [key, t] : timers) best = std::min(best, t.when);
    for (const auto& [key, when] : one_shots) best = std::min(best, when);
    return best;
  }
  std::size_t queued() const {
    std::size_t n = one_shots.size();
    for (const auto& [key, t] : timers) n += t.when != kNever;
    return n;
  }
  std::size_t slots_in_use() const { return timers.size() + one_shots.size(); }
};

void random_run(std::uint64_t seed) {
  Rng rng(seed);
  TimerQueue q;
  Model m;
  std::uint64_t next_key = 1;
  std::size_t peak_slots = 0;
  Instant now = t0;
  // Deadlines on a coarse 1 ms grid so that many tie.
  auto random_when = [&]() {
    if (rng.chance(0.1)) return kNever;
    return now + std::chrono::milliseconds(rng.below(200));
  };
  auto random_timer = [&]() {
    auto it = m.timers.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng.below(m.timers.size())));
    return it;
  };

  for (int step = 0; step < 20000; ++step) {
    const std::uint64_t op = rng.below(100);
    if (op < 15 && m.timers.size() < 64) {
      const std::uint64_t key = next_key++;
      const TimerId id = q.create(TimerKind::tcp, key);
      for (const auto& [k, t] : m.timers) ASSERT_NE(t.id, id) << "slot handed out twice";
      m.timers[key] = {id, kNever};
      // Slots are only added when none is free, so the table never outgrows the most slots ever
      // in use at once; a leaked slot (one the model does not hold) would push an id past it.
      peak_slots = std::max(peak_slots, m.slots_in_use());
      ASSERT_LT(id, peak_slots) << "step " << step;
    } else if (op < 50 && !m.timers.empty()) {
      auto it = random_timer();
      const Instant when = random_when();
      q.arm(it->second.id, when);
      it->second.when = when;
    } else if (op < 58 && !m.timers.empty()) {
      auto it = random_timer();
      q.destroy(it->second.id);
      m.timers.erase(it);
    } else if (op < 75) {
      const std::uint64_t key = next_key++;
      const Instant when = random_when();
      q.schedule(when, rng.chance(0.5) ? TimerKind::arp : TimerKind::ip_reassembly, key);
      if (when != kNever) m.one_shots[key] = when;
    } else if (op < 85) {
      now += std::chrono::milliseconds(rng.below(30));
    } else {
      // Pop everything due, as Stack::poll does.
      while (auto e = q.pop_due(now)) {
        ASSERT_LE(e->when, now);
        ASSERT_EQ(e->when, m.earliest()) << "step " << step;
        if (e->kind == TimerKind::tcp) {
          auto it = m.timers.find(e->key);
          ASSERT_NE(it, m.timers.end()) << "fired a destroyed timer, step " << step;
          ASSERT_EQ(it->second.when, e->when);
          EXPECT_EQ(q.deadline(it->second.id), kNever);
          it->second.when = kNever;
        } else {
          auto it = m.one_shots.find(e->key);
          ASSERT_NE(it, m.one_shots.end()) << "fired a one-shot twice, step " << step;
          ASSERT_EQ(it->second, e->when);
          m.one_shots.erase(it);
        }
      }
      ASSERT_GT(m.earliest(), now);
    }
    peak_slots = std::max(peak_slots, m.slots_in_use());
    ASSERT_EQ(q.size(), m.queued()) << "step " << step;
    ASSERT_EQ(q.next_deadline(), m.earliest()) << "step " << step;
    if (step % 64 == 0) {
      for (const auto& [key, t] : m.timers) ASSERT_EQ(q.deadline(t.id), t.when);
    }
  }
  EXPECT_LE(q.create(TimerKind::tcp, 0), peak_slots);

  // Drain: everything armed fires exactly once, in order.
  std::size_t expected = m.queued();
  Instant last = Instant::min();
  while (auto e = q.pop_due(kNever - 1ns)) {
    ASSERT_GE(e->when, last);
    last = e->when;
    --expected;
  }
  EXPECT_EQ(expected, 0u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTimers, RandomOperationsMatchModel) {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    SCOPED_TRACE(seed);
    random_run(seed);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace ustack
