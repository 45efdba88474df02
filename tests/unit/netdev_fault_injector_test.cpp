// FaultInjector: every fault on its own (exact at probabilities 0 and 1, within generous bounds
// over 10k frames otherwise), held frames released only once a ManualClock passes their time,
// the rate limiter's pacing and bound, and the same output for the same seed.
#include "netdev/fault_injector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "support/fake_device.h"

namespace ustack {
namespace {

struct FakeDevice : test::FakeDevice {
  FakeDevice() { name_value = "fake"; }
};

// A frame whose first four bytes hold `n` and whose other bytes depend on it.
Packet numbered_frame(std::uint32_t n, std::size_t size = 64) {
  Packet p = Packet::allocate(size);
  std::uint8_t* d = p.put(size);
  for (std::size_t i = 0; i < size; ++i) d[i] = static_cast<std::uint8_t>(n * 7 + i);
  std::memcpy(d, &n, sizeof n);
  return p;
}

std::uint32_t number_of(const Packet& p) {
  std::uint32_t n = 0;
  std::memcpy(&n, p.data(), sizeof n);
  return n;
}

std::vector<std::uint32_t> numbers(const std::vector<Packet>& frames) {
  std::vector<std::uint32_t> out;
  for (const Packet& p : frames) out.push_back(number_of(p));
  return out;
}

std::vector<std::vector<std::uint8_t>> contents(const std::vector<Packet>& frames) {
  std::vector<std::vector<std::uint8_t>> out;
  for (const Packet& p : frames) out.emplace_back(p.bytes().begin(), p.bytes().end());
  return out;
}

TEST(FaultInjector, WithoutFaultsEverythingPassesStraightThrough) {
  FakeDevice inner;
  ManualClock clock;
  FaultInjector faults(inner, clock, FaultConfig{});
  for (std::uint32_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(faults.transmit(numbered_frame(i)));
    inner.incoming.push_back(numbered_frame(100 + i));
  }
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  std::vector<Packet> got;
  EXPECT_EQ(faults.receive(got, 4), 4u);
  EXPECT_EQ(faults.receive(got, 100), 6u);
  EXPECT_EQ(numbers(got).front(), 100u);
  EXPECT_EQ(numbers(got).back(), 109u);
  EXPECT_EQ(faults.held_frames(), 0u);
  EXPECT_EQ(faults.next_deadline(), kNever);

  // Without tx faults the inner device's refusal reaches the caller.
  inner.refuse = true;
  EXPECT_FALSE(faults.transmit(numbered_frame(11)));
}

TEST(FaultInjector, DelegatesDeviceProperties) {
  FakeDevice inner;
  ManualClock clock;
  FaultInjector faults(inner, clock, FaultConfig{});
  EXPECT_EQ(faults.mtu(), 1500u);
  EXPECT_EQ(faults.name(), "fake");
  EXPECT_EQ(faults.fd(), -1);
  inner.deadline = clock.now() + 5s;
  EXPECT_EQ(faults.next_deadline(), clock.now() + 5s);
  faults.flush();
  EXPECT_EQ(inner.flushes, 1);
}

TEST(FaultInjector, DropProbabilityZeroAndOneAreExact) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.drop = 0.0;
  config.duplicate = 0.0;
  FaultInjector keep(inner, clock, config);
  for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_TRUE(keep.transmit(numbered_frame(i)));
  EXPECT_EQ(inner.sent.size(), 1000u);
  EXPECT_EQ(keep.counters().dropped, 0u);

  FakeDevice inner2;
  config.drop = 1.0;
  FaultInjector lose(inner2, clock, config);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    // A dropped frame was taken: lost on the wire, not refused by the device.
    ASSERT_TRUE(lose.transmit(numbered_frame(i)));
    inner2.incoming.push_back(numbered_frame(i));
  }
  std::vector<Packet> got;
  for (int i = 0; i < 20; ++i) lose.receive(got, 64);
  EXPECT_TRUE(inner2.sent.empty());
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(inner2.incoming.empty());
  EXPECT_EQ(lose.counters().dropped, 2000u);
}

TEST(FaultInjector, DirectionSelectsWhichFramesSuffer) {
  ManualClock clock;
  FaultConfig config;
  config.drop = 1.0;

  for (FaultDirection direction : {FaultDirection::tx, FaultDirection::rx}) {
    FakeDevice inner;
    config.direction = direction;
    FaultInjector faults(inner, clock, config);
    for (std::uint32_t i = 0; i < 10; ++i) {
      faults.transmit(numbered_frame(i));
      inner.incoming.push_back(numbered_frame(i));
    }
    std::vector<Packet> got;
    faults.receive(got, 100);
    bool tx_hit = direction == FaultDirection::tx;
    EXPECT_EQ(inner.sent.size(), tx_hit ? 0u : 10u);
    EXPECT_EQ(got.size(), tx_hit ? 10u : 0u);
    EXPECT_EQ(faults.counters().dropped, 10u);
  }
}

TEST(FaultInjector, StatisticalRatesOver10kFrames) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.seed = 42;
  config.direction = FaultDirection::tx;
  config.drop = 0.10;
  config.duplicate = 0.05;
  config.corrupt = 0.02;
  config.reorder = 0.03;
  FaultInjector faults(inner, clock, config);
  constexpr std::uint32_t kFrames = 10000;
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    faults.transmit(numbered_frame(i));
    clock.advance(1ms);
  }
  clock.advance(1s);
  faults.flush();

  const FaultCounters& c = faults.counters();
  // Expected 1000 / 450 (of the 9000 kept) / 180 / ~285: bounds of about +-20 % and more.
  EXPECT_GT(c.dropped, 800u);
  EXPECT_LT(c.dropped, 1200u);
  EXPECT_GT(c.duplicated, 330u);
  EXPECT_LT(c.duplicated, 570u);
  EXPECT_GT(c.corrupted, 110u);
  EXPECT_LT(c.corrupted, 250u);
  EXPECT_GT(c.reordered, 180u);
  EXPECT_LT(c.reordered, 400u);
  EXPECT_EQ(inner.sent.size(), kFrames - c.dropped + c.duplicated);
  EXPECT_EQ(faults.held_frames(), 0u);
}

TEST(FaultInjector, SameSeedSameOutputDifferentSeedDifferentOutput) {
  auto run = [](std::uint64_t seed) {
    FakeDevice inner;
    ManualClock clock;
    FaultConfig config;
    config.seed = seed;
    config.drop = 0.2;
    config.duplicate = 0.1;
    config.corrupt = 0.1;
    config.reorder = 0.1;
    config.delay = 3ms;
    config.jitter = 2ms;
    config.rate_bytes_per_second = 64 * 1000;
    config.rate_burst_bytes = 640;
    FaultInjector faults(inner, clock, config);
    std::vector<Packet> received;
    for (std::uint32_t i = 0; i < 2000; ++i) {
      faults.transmit(numbered_frame(i, 60 + i % 50));
      inner.incoming.push_back(numbered_frame(50000 + i, 60 + i % 30));
      faults.receive(received, 4);
      clock.advance(std::chrono::microseconds(300 + 100 * (i % 7)));
      faults.flush();
    }
    for (int i = 0; i < 1000 && faults.held_frames() > 0; ++i) {
      clock.set(std::max(clock.now(), faults.next_deadline()));
      faults.flush();
      faults.receive(received, 64);
    }
    EXPECT_EQ(faults.held_frames(), 0u);
    return std::make_pair(contents(inner.sent), contents(received));
  };
  auto first = run(7);
  auto again = run(7);
  auto other = run(8);
  EXPECT_GT(first.first.size(), 1000u);
  EXPECT_GT(first.second.size(), 1000u);
  EXPECT_EQ(first, again);
  EXPECT_NE(first.first, other.first);
  EXPECT_NE(first.second, other.second);
}

TEST(FaultInjector, CorruptFlipsExactlyOneBit) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.corrupt = 1.0;
  FaultInjector faults(inner, clock, config);
  for (std::uint32_t i = 0; i < 300; ++i) faults.transmit(numbered_frame(i, 20 + i % 100));
  ASSERT_EQ(inner.sent.size(), 300u);
  EXPECT_EQ(faults.counters().corrupted, 300u);
  std::vector<std::size_t> bytes_hit;
  for (std::uint32_t i = 0; i < 300; ++i) {
    Packet original = numbered_frame(i, 20 + i % 100);
    const Packet& got = inner.sent[i];
    ASSERT_EQ(got.size(), original.size());
    int flipped = 0;
    for (std::size_t b = 0; b < got.size(); ++b) {
      flipped += std::popcount(static_cast<unsigned>(got.data()[b] ^ original.data()[b]));
      if (got.data()[b] != original.data()[b]) bytes_hit.push_back(b);
    }
    EXPECT_EQ(flipped, 1) << "frame " << i;
  }
  // The position is random, not always the first byte.
  ASSERT_FALSE(bytes_hit.empty());
  EXPECT_NE(*std::min_element(bytes_hit.begin(), bytes_hit.end()),
            *std::max_element(bytes_hit.begin(), bytes_hit.end()));
}

TEST(FaultInjector, DuplicateSendsTwoIdenticalCopies) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.duplicate = 1.0;
  FaultInjector faults(inner, clock, config);
  faults.transmit(numbered_frame(1));
  faults.transmit(numbered_frame(2));
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{1, 1, 2, 2}));
  EXPECT_EQ(contents(inner.sent)[0], contents(inner.sent)[1]);
  EXPECT_EQ(faults.counters().duplicated, 2u);
}

TEST(FaultInjector, ReorderSwapsNeighbours) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.reorder = 1.0;
  FaultInjector faults(inner, clock, config);
  for (std::uint32_t i = 1; i <= 6; ++i) faults.transmit(numbered_frame(i));
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{2, 1, 4, 3, 6, 5}));
  EXPECT_EQ(faults.counters().reordered, 3u);
}

TEST(FaultInjector, ReorderedFrameGoesAloneAtItsHoldDeadline) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.reorder = 1.0;
  config.reorder_hold = 20ms;
  FaultInjector faults(inner, clock, config);
  Instant sent_at = clock.now();
  faults.transmit(numbered_frame(1));
  EXPECT_TRUE(inner.sent.empty());
  EXPECT_EQ(faults.next_deadline(), sent_at + 20ms);

  clock.advance(20ms - 1ns);
  faults.flush();
  EXPECT_TRUE(inner.sent.empty());
  clock.advance(1ns);
  faults.flush();
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(faults.next_deadline(), kNever);
}

TEST(FaultInjector, DelayReleasesOnlyAfterTheDeadline) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.delay = 50ms;
  FaultInjector faults(inner, clock, config);
  Instant t0 = clock.now();
  faults.transmit(numbered_frame(1));
  clock.advance(10ms);
  faults.transmit(numbered_frame(2));
  inner.incoming.push_back(numbered_frame(3));
  std::vector<Packet> got;
  EXPECT_EQ(faults.receive(got, 10), 0u);
  EXPECT_TRUE(inner.sent.empty());
  EXPECT_EQ(faults.next_deadline(), t0 + 50ms);
  EXPECT_EQ(faults.held_frames(), 3u);

  clock.set(t0 + 50ms - 1ns);
  faults.flush();
  EXPECT_TRUE(inner.sent.empty());
  clock.set(t0 + 50ms);
  faults.flush();
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(faults.next_deadline(), t0 + 60ms);

  clock.set(t0 + 60ms);
  EXPECT_EQ(faults.receive(got, 10), 1u);
  EXPECT_EQ(numbers(got), (std::vector<std::uint32_t>{3}));
  faults.flush();
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(faults.counters().delayed, 3u);
  EXPECT_EQ(faults.next_deadline(), kNever);
}

TEST(FaultInjector, JitterStaysWithinBoundsAndKeepsOrder) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.direction = FaultDirection::tx;
  config.delay = 10ms;
  config.jitter = 5ms;
  FaultInjector faults(inner, clock, config);
  Instant t0 = clock.now();
  for (std::uint32_t i = 0; i < 200; ++i) faults.transmit(numbered_frame(i));
  // Nothing before the fixed delay, everything by delay + jitter.
  clock.set(t0 + 10ms - 1ns);
  faults.flush();
  EXPECT_TRUE(inner.sent.empty());
  std::size_t released_at_first = 0;
  for (int step = 0; step <= 5000 && inner.sent.size() < 200; ++step) {
    clock.set(t0 + 10ms + std::chrono::microseconds(step));
    faults.flush();
    if (step == 0) released_at_first = inner.sent.size();
  }
  EXPECT_LE(clock.now(), t0 + 15ms);
  ASSERT_EQ(inner.sent.size(), 200u);
  EXPECT_LT(released_at_first, 200u) << "jitter spread the releases";
  for (std::uint32_t i = 0; i < 200; ++i) EXPECT_EQ(number_of(inner.sent[i]), i);
}

TEST(FaultInjector, DelayQueueIsBounded) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.delay = 1s;
  config.delay_queue_limit = 3;
  FaultInjector faults(inner, clock, config);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_TRUE(faults.transmit(numbered_frame(i)));
  EXPECT_EQ(faults.counters().delay_dropped, 2u);
  EXPECT_EQ(faults.held_frames(), 3u);
  clock.advance(1s);
  faults.flush();
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{0, 1, 2}));
}

TEST(FaultInjector, RateLimitPacesFramesAfterTheBurst) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.direction = FaultDirection::tx;
  config.rate_bytes_per_second = 1000;  // one 100-byte frame every 100 ms
  config.rate_burst_bytes = 300;
  config.rate_queue_limit = 100;
  FaultInjector faults(inner, clock, config);
  Instant t0 = clock.now();
  for (std::uint32_t i = 0; i < 10; ++i) faults.transmit(numbered_frame(i, 100));
  // A full bucket lets three go at once; the others follow at the rate.
  EXPECT_EQ(inner.sent.size(), 3u);
  EXPECT_EQ(faults.next_deadline(), t0 + 100ms);
  clock.set(t0 + 100ms - 1ns);
  faults.flush();
  EXPECT_EQ(inner.sent.size(), 3u);
  clock.set(t0 + 100ms);
  faults.flush();
  EXPECT_EQ(inner.sent.size(), 4u);
  // A late call releases everything that became due meanwhile, and no more.
  clock.set(t0 + 450ms);
  faults.flush();
  EXPECT_EQ(inner.sent.size(), 7u);
  EXPECT_EQ(faults.next_deadline(), t0 + 500ms);
  clock.set(t0 + 700ms);
  faults.flush();
  EXPECT_EQ(inner.sent.size(), 10u);
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(faults.counters().rate_dropped, 0u);

  // After an idle second the bucket is full again, but no fuller.
  clock.advance(1s);
  for (std::uint32_t i = 10; i < 15; ++i) faults.transmit(numbered_frame(i, 100));
  EXPECT_EQ(inner.sent.size(), 13u);
}

TEST(FaultInjector, RateLimitMeasuredOverManyFrames) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.direction = FaultDirection::rx;
  config.rate_bytes_per_second = 1'000'000;
  config.rate_burst_bytes = 1500;
  config.rate_queue_limit = 100000;
  FaultInjector faults(inner, clock, config);
  Instant t0 = clock.now();
  for (std::uint32_t i = 0; i < 1000; ++i) inner.incoming.push_back(numbered_frame(i, 1000));
  std::vector<Packet> got;
  for (int i = 0; i < 5000 && got.size() < 1000; ++i) {
    faults.receive(got, 1000);
    if (faults.next_deadline() != kNever) clock.set(std::max(clock.now(), faults.next_deadline()));
  }
  ASSERT_EQ(got.size(), 1000u);
  // 1 MB at 1 MB/s, less the one frame the bucket let through at once.
  Duration took = clock.now() - t0;
  EXPECT_GE(took, 998ms);
  EXPECT_LE(took, 1000ms);
}

TEST(FaultInjector, RateLimitQueueIsBounded) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.rate_bytes_per_second = 1000;
  config.rate_burst_bytes = 100;
  config.rate_queue_limit = 4;
  FaultInjector faults(inner, clock, config);
  for (std::uint32_t i = 0; i < 10; ++i) faults.transmit(numbered_frame(i, 100));
  // One leaves at once, four wait, five are dropped.
  EXPECT_EQ(inner.sent.size(), 1u);
  EXPECT_EQ(faults.held_frames(), 4u);
  EXPECT_EQ(faults.counters().rate_dropped, 5u);
  clock.advance(1s);
  faults.flush();
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
}

TEST(FaultInjector, FrameLargerThanTheBucketStillGoes) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.rate_bytes_per_second = 1000;
  config.rate_burst_bytes = 100;
  FaultInjector faults(inner, clock, config);
  Instant t0 = clock.now();
  faults.transmit(numbered_frame(0, 500));
  faults.transmit(numbered_frame(1, 100));
  EXPECT_EQ(inner.sent.size(), 1u);
  // The big frame left the bucket 400 bytes in debt: the next one waits 500 ms.
  EXPECT_EQ(faults.next_deadline(), t0 + 500ms);
}

TEST(FaultInjector, ReceiveHandsOutAtMostMaxAndReportsTheRestAsDue) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.direction = FaultDirection::rx;
  config.delay = 1ms;
  FaultInjector faults(inner, clock, config);
  for (std::uint32_t i = 0; i < 10; ++i) inner.incoming.push_back(numbered_frame(i));
  std::vector<Packet> got;
  EXPECT_EQ(faults.receive(got, 100), 0u);
  clock.advance(1ms);
  EXPECT_EQ(faults.receive(got, 4), 4u);
  EXPECT_LE(faults.next_deadline(), clock.now());
  EXPECT_EQ(faults.receive(got, 4), 4u);
  EXPECT_EQ(faults.receive(got, 4), 2u);
  EXPECT_EQ(numbers(got), (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(faults.next_deadline(), kNever);
}

TEST(FaultInjector, SetConfigHealsWithoutLosingHeldFrames) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.delay = 100ms;
  FaultInjector faults(inner, clock, config);
  faults.transmit(numbered_frame(1));
  faults.set_config(FaultConfig{});
  // The held frame is still ahead of new ones, which are no longer delayed.
  faults.transmit(numbered_frame(2));
  EXPECT_TRUE(inner.sent.empty());
  clock.advance(100ms);
  faults.flush();
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{1, 2}));
  faults.transmit(numbered_frame(3));
  EXPECT_EQ(numbers(inner.sent), (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST(FaultInjector, CountsFramesTheInnerDeviceRefused) {
  FakeDevice inner;
  ManualClock clock;
  FaultConfig config;
  config.delay = 1ms;
  FaultInjector faults(inner, clock, config);
  EXPECT_TRUE(faults.transmit(numbered_frame(1)));
  inner.refuse = true;
  clock.advance(1ms);
  faults.flush();
  EXPECT_EQ(faults.counters().tx_refused, 1u);
  EXPECT_EQ(faults.held_frames(), 0u);
}

}  // namespace
}  // namespace ustack
