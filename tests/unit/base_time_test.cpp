// Instant, ManualClock, SteadyClock, the Instant formatter, and the TimerQueue.
#include "stack/base/time.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "stack/base/rng.h"
#include "stack/base/timer_queue.h"

namespace ustack {
namespace {

TEST(ManualClock, StartsAtOneSecondAndMovesOnlyWhenTold) {
  ManualClock clock;
  EXPECT_EQ(clock.now(), Instant{} + 1s);
  EXPECT_EQ(clock.now(), clock.now());
  clock.advance(250ms);
  EXPECT_EQ(clock.now(), Instant{} + 1250ms);
  clock.advance(Duration{1});
  EXPECT_EQ(clock.now().time_since_epoch().count(), 1'250'000'001);
  clock.advance(Duration{0});
  EXPECT_EQ(clock.now().time_since_epoch(), 1250ms + 1ns);
  clock.set(Instant{} + 10s);
  EXPECT_EQ(clock.now(), Instant{} + 10s);

  ManualClock at_zero(Instant{});
  EXPECT_EQ(at_zero.now(), Instant{});

  // Through the interface, as the Stack sees it.
  const Clock& c = clock;
  clock.advance(2h);
  EXPECT_EQ(c.now(), Instant{} + 10s + 2h);
}

TEST(SteadyClock, IsMonotonic) {
  SteadyClock clock;
  Instant a = clock.now();
  Instant b = clock.now();
  EXPECT_LE(a, b);
  EXPECT_GT(a, Instant{});
  EXPECT_LT(b, kNever);
}

TEST(Instant, Formats) {
  EXPECT_EQ(fmt::format("{}", Instant{}), "0.000000s");
  EXPECT_EQ(fmt::format("{}", Instant{} + 1s), "1.000000s");
  EXPECT_EQ(fmt::format("{}", Instant{} + 1500ms), "1.500000s");
  EXPECT_EQ(fmt::format("{}", Instant{} + 12s + 345us), "12.000345s");
  EXPECT_EQ(fmt::format("{}", Instant{} + 999ns), "0.000001s");  // rounded to microseconds
  EXPECT_EQ(fmt::format("{}", Instant{} + 3600s), "3600.000000s");
  EXPECT_EQ(fmt::format("{}", Instant{} - 1ms), "-0.001000s");
  EXPECT_EQ(fmt::format("{}", kNever), "never");
  EXPECT_EQ(fmt::format("at {} until {}", Instant{} + 2s, kNever), "at 2.000000s until never");
  ManualClock clock;
  EXPECT_EQ(fmt::format("{}", clock.now()), "1.000000s");
  // A steady-clock reading a few days into uptime keeps microsecond resolution.
  EXPECT_EQ(fmt::format("{}", Instant{} + 300000s + 123456us), "300000.123456s");
}

TEST(TimerQueue, EmptyQueue) {
  TimerQueue q;
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.next_deadline(), kNever);
  EXPECT_FALSE(q.pop_due(Instant{}));
  EXPECT_FALSE(q.pop_due(kNever));
}

TEST(TimerQueue, PopsInDeadlineOrder) {
  TimerQueue q;
  const Instant t0 = Instant{} + 1s;
  q.schedule(t0 + 300ms, TimerKind::arp, 3);
  q.schedule(t0 + 100ms, TimerKind::ip_reassembly, 1);
  q.schedule(t0 + 200ms, TimerKind::arp, 2);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.next_deadline(), t0 + 100ms);

  // Nothing is due before the first deadline.
  EXPECT_FALSE(q.pop_due(t0));
  EXPECT_FALSE(q.pop_due(t0 + 100ms - 1ns));
  EXPECT_EQ(q.size(), 3u);

  // Due exactly at the deadline.
  auto e = q.pop_due(t0 + 100ms);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->when, t0 + 100ms);
  EXPECT_EQ(e->kind, TimerKind::ip_reassembly);
  EXPECT_EQ(e->key, 1u);
  EXPECT_FALSE(q.pop_due(t0 + 100ms));
  EXPECT_EQ(q.next_deadline(), t0 + 200ms);

  // Late polls get everything due, earliest first, one at a time.
  e = q.pop_due(t0 + 10s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, 2u);
  EXPECT_EQ(e->kind, TimerKind::arp);
  e = q.pop_due(t0 + 10s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, 3u);
  EXPECT_FALSE(q.pop_due(t0 + 10s));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.next_deadline(), kNever);
}

TEST(TimerQueue, EqualDeadlinesAllFire) {
  TimerQueue q;
  const Instant t = Instant{} + 5s;
  for (std::uint64_t k = 0; k < 10; ++k) q.schedule(t, TimerKind::arp, k);
  std::vector<std::uint64_t> keys;
  while (auto e = q.pop_due(t)) keys.push_back(e->key);
  std::sort(keys.begin(), keys.end());
  ASSERT_EQ(keys.size(), 10u);
  for (std::uint64_t k = 0; k < 10; ++k) EXPECT_EQ(keys[k], k);
}

TEST(TimerQueue, DuplicatesAndStaleEntriesStay) {
  // Cancellation is the owner's business: the queue hands back every entry it was given.
  TimerQueue q;
  q.schedule(Instant{} + 2s, TimerKind::arp, 7);
  q.schedule(Instant{} + 1s, TimerKind::arp, 7);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pop_due(Instant{} + 3s)->when, Instant{} + 1s);
  EXPECT_EQ(q.pop_due(Instant{} + 3s)->when, Instant{} + 2s);
}

TEST(TimerQueue, KeysAreFull64Bit) {
  TimerQueue q;
  const std::uint64_t key = (std::uint64_t{3} << 32) | 0x0a000002;  // interface 3, 10.0.0.2
  q.schedule(Instant{}, TimerKind::arp, key);
  q.schedule(Instant{}, TimerKind::ip_reassembly, ~std::uint64_t{0});
  std::vector<std::uint64_t> keys;
  while (auto e = q.pop_due(Instant{})) keys.push_back(e->key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::uint64_t>{key, ~std::uint64_t{0}}));
}

TEST(TimerQueue, RandomSchedulesDrainSorted) {
  Rng rng(31);
  TimerQueue q;
  std::vector<Instant> deadlines;
  for (int i = 0; i < 2000; ++i) {
    Instant t = Instant{} + Duration{static_cast<Duration::rep>(rng.below(1'000'000'000))};
    deadlines.push_back(t);
    q.schedule(t, TimerKind::arp, static_cast<std::uint64_t>(i));
  }
  std::sort(deadlines.begin(), deadlines.end());
  // Advance in steps like Stack::poll would, draining what is due at each step.
  std::vector<Instant> fired;
  for (Instant now = Instant{}; q.size() > 0; now += 10ms) {
    while (auto e = q.pop_due(now)) {
      ASSERT_LE(e->when, now);
      fired.push_back(e->when);
    }
    if (q.size() > 0) {
      ASSERT_GT(q.next_deadline(), now);
    }
  }
  EXPECT_EQ(fired, deadlines);
}

}  // namespace
}  // namespace ustack
