// Two Stacks over a MemoryLink ping each other in ManualClock time: every size from 0 to 65507
// bytes with ARP resolution on the way, then through a FaultInjector that loses, reorders,
// duplicates and corrupts frames (seeded). Replies that arrive are exact; lost ones are lost,
// never duplicated or corrupted; state left behind by lost fragments is freed.
#include <gtest/gtest.h>

#include <map>

#include "support/two_stacks.h"

namespace ustack::test {
namespace {

// Drop counters that moved on either stack since the snapshots.
struct Baseline {
  explicit Baseline(TwoStacks& net)
      : net_(net), a_(counters(net.a().stats())), b_(counters(net.b().stats())) {}
  CounterMap drops_a() const { return drops_since(a_, net_.a().stats()); }
  CounterMap drops_b() const { return drops_since(b_, net_.b().stats()); }

 private:
  TwoStacks& net_;
  CounterMap a_;
  CounterMap b_;
};

TEST(Ping, EverySizeIsAnsweredExactlyIncludingArpResolution) {
  TwoStacks net;
  const Baseline baseline(net);
  EXPECT_FALSE(net.a().arp().lookup(net.iface_a(), kIpB));

  std::uint16_t seq = 0;
  for (std::size_t size : {0u, 56u, 1472u, 1473u, 4000u, 20000u, 65507u}) {
    SCOPED_TRACE(size);
    const Bytes data = pattern(size, static_cast<std::uint32_t>(size));
    const Instant sent_at = net.now();
    auto reply = net.ping(data, ++seq);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->from, kIpB);
    EXPECT_EQ(reply->id, 0x5a5a);
    EXPECT_EQ(reply->sequence, seq);
    EXPECT_EQ(reply->data, data);
    EXPECT_EQ(reply->ttl, 64);
    EXPECT_LE(reply->received_at - sent_at, 5ms);
  }
  EXPECT_TRUE(net.others.empty());

  // A resolved B with one request; B learned A from it and needed none of its own.
  EXPECT_EQ(net.a().arp().lookup(net.iface_a(), kIpB), kMacB);
  EXPECT_EQ(net.b().arp().lookup(net.iface_b(), kIpA), kMacA);
  EXPECT_EQ(net.a().stats().get("arp.tx_request"), 2u);  // the announcement and one request
  EXPECT_EQ(net.b().stats().get("arp.tx_request"), 1u);  // the announcement
  // Nothing was dropped anywhere, and nothing is left half-done.
  EXPECT_EQ(baseline.drops_a(), CounterMap{});
  EXPECT_EQ(baseline.drops_b(), CounterMap{});
  EXPECT_EQ(net.a().ipv4().reassembler().datagrams(), 0u);
  EXPECT_EQ(net.b().ipv4().reassembler().datagrams(), 0u);
  // 1473, 4000, 20000 and 65507 bytes of data did not fit one 1500-byte datagram.
  EXPECT_EQ(net.b().stats().get("ip.reassembled"), 4u);
  EXPECT_EQ(net.a().stats().get("ip.reassembled"), 4u);
}

TEST(Ping, BothWaysAtOnce) {
  TwoStacks net;
  for (std::uint16_t i = 0; i < 20; ++i) {
    const Bytes data = pattern(100u * i, i);
    ASSERT_EQ(net.a().icmp().send_echo_request(kIpB, 1, i, data), 0);
    ASSERT_EQ(net.b().icmp().send_echo_request(kIpA, 2, i, data), 0);
    net.run_for(10ms);
  }
  net.run_for(100ms);
  for (Stack* s : {&net.a(), &net.b()}) {
    for (std::uint16_t i = 0; i < 20; ++i) {
      auto reply = s->icmp().take_echo_reply();
      ASSERT_TRUE(reply);
      EXPECT_EQ(reply->sequence, i);
      EXPECT_EQ(reply->data, pattern(100u * i, i));
    }
    EXPECT_FALSE(s->icmp().take_echo_reply());
  }
}

TEST(Ping, SmallMtuLinkFragmentsEverything) {
  TwoStacksOptions options;
  options.mtu = 576;
  TwoStacks net(options);
  for (std::size_t size : {0u, 548u, 549u, 20000u, 65507u}) {
    SCOPED_TRACE(size);
    const Bytes data = pattern(size, 3);
    auto reply = net.ping(data, static_cast<std::uint16_t>(size));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->data, data);
  }
}

// The outcome of many pings through faults: which sequence numbers came back, checked exact.
struct PingRun {
  std::size_t sent = 0;
  std::map<std::uint16_t, int> answered;  // seq -> replies received
  std::size_t wrong = 0;                  // replies whose data or source differ
};

PingRun ping_many(TwoStacks& net, std::size_t count, std::size_t size, Duration interval) {
  PingRun run;
  auto collect = [&] {
    for (ip::EchoReply& r : net.replies_at_a()) {
      ++run.answered[r.sequence];
      if (r.data != pattern(size, r.sequence) || r.from != kIpB || r.id != 0x5a5a) ++run.wrong;
    }
  };
  for (std::size_t i = 0; i < count; ++i) {
    const auto seq = static_cast<std::uint16_t>(i);
    EXPECT_EQ(net.a().icmp().send_echo_request(kIpB, 0x5a5a, seq, pattern(size, seq)), 0);
    ++run.sent;
    for (Duration t{}; t < interval; t += 1ms) {
      net.step(1ms);
      collect();
    }
  }
  net.run_for(1s);
  collect();
  return run;
}

FaultConfig loss(std::uint64_t seed, double p) {
  FaultConfig f;
  f.seed = seed;
  f.drop = p;
  return f;
}

class LossyPing : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(LossyPing, TwentyPercentLossLosesRepliesButNeverDuplicatesOrCorruptsThem) {
  TwoStacksOptions options;
  options.faults = loss(GetParam(), 0.2);
  TwoStacks net(options);
  const PingRun run = ping_many(net, 200, 56, 100ms);
  EXPECT_EQ(run.wrong, 0u);
  for (const auto& [seq, n] : run.answered) EXPECT_EQ(n, 1) << "seq " << seq;
  // Each ping crosses the lossy link twice: about 64% come back.
  EXPECT_GE(run.answered.size(), 100u);
  EXPECT_LT(run.answered.size(), 200u);
  EXPECT_GT(net.injector().counters().dropped, 40u);
}

TEST_P(LossyPing, LostFragmentsAreTimedOutAndFreed) {
  TwoStacksOptions options;
  options.faults = loss(GetParam(), 0.2);
  TwoStacks net(options);
  const PingRun run = ping_many(net, 60, 4000, 100ms);  // three fragments each way
  EXPECT_EQ(run.wrong, 0u);
  for (const auto& [seq, n] : run.answered) EXPECT_EQ(n, 1) << "seq " << seq;
  EXPECT_GE(run.answered.size(), 5u);
  EXPECT_LT(run.answered.size(), 60u);
  // Incomplete datagrams on both sides are dropped after the reassembly timeout.
  net.run_for(31s, 100ms);
  EXPECT_EQ(net.a().ipv4().reassembler().datagrams(), 0u);
  EXPECT_EQ(net.b().ipv4().reassembler().datagrams(), 0u);
  EXPECT_EQ(net.a().ipv4().reassembler().memory(), 0u);
  EXPECT_EQ(net.b().ipv4().reassembler().memory(), 0u);
  EXPECT_GT(net.a().stats().get("ip.frag_timeout") + net.b().stats().get("ip.frag_timeout"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, LossyPing, ::testing::Values(1, 2, 3));

class ReorderedPing : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(ReorderedPing, ReorderedFragmentsAllArriveExactly) {
  TwoStacksOptions options;
  FaultConfig f;
  f.seed = GetParam();
  f.reorder = 0.3;
  f.reorder_hold = 5ms;
  options.faults = f;
  TwoStacks net(options);
  for (std::size_t size : {56u, 4000u, 20000u, 65507u}) {
    SCOPED_TRACE(size);
    const PingRun run = ping_many(net, 10, size, 50ms);
    EXPECT_EQ(run.wrong, 0u);
    EXPECT_EQ(run.answered.size(), 10u);
    for (const auto& [seq, n] : run.answered) EXPECT_EQ(n, 1) << "seq " << seq;
  }
  EXPECT_GT(net.injector().counters().reordered, 10u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReorderedPing, ::testing::Values(1, 2, 3));

TEST(Ping, LossAndReorderingTogether) {
  TwoStacksOptions options;
  FaultConfig f = loss(4, 0.2);
  f.reorder = 0.2;
  options.faults = f;
  TwoStacks net(options);
  const PingRun run = ping_many(net, 100, 1000, 50ms);
  EXPECT_EQ(run.wrong, 0u);
  for (const auto& [seq, n] : run.answered) EXPECT_EQ(n, 1) << "seq " << seq;
  EXPECT_GE(run.answered.size(), 45u);
}

TEST(Ping, DuplicatedFragmentsAreReassembledOnce) {
  TwoStacksOptions options;
  FaultConfig f;
  f.seed = 5;
  f.duplicate = 0.3;
  options.faults = f;
  TwoStacks net(options);
  const PingRun run = ping_many(net, 30, 4000, 50ms);
  EXPECT_EQ(run.wrong, 0u);
  // A duplicated request is a second request, and earns a second reply (ping says "DUP!"), but
  // a duplicated fragment never makes a second datagram.
  EXPECT_EQ(run.answered.size(), 30u);
  EXPECT_GT(net.b().stats().get("ip.frag_duplicate"), 0u);
  EXPECT_GT(net.a().stats().get("ip.frag_duplicate"), 0u);
  std::uint64_t reassembled = net.a().stats().get("ip.reassembled");
  std::uint64_t replies = 0;
  for (const auto& [seq, n] : run.answered) replies += static_cast<std::uint64_t>(n);
  EXPECT_EQ(reassembled, replies);
}

TEST(Ping, CorruptedFramesAreCaughtNeverDelivered) {
  TwoStacksOptions options;
  FaultConfig f;
  f.seed = 6;
  f.corrupt = 0.05;
  options.faults = f;
  TwoStacks net(options);
  const PingRun run = ping_many(net, 200, 1472, 20ms);
  EXPECT_EQ(run.wrong, 0u);
  EXPECT_GE(run.answered.size(), 150u);
  EXPECT_GT(net.injector().counters().corrupted, 10u);
  std::uint64_t caught = 0;
  for (Stack* s : {&net.a(), &net.b()}) {
    for (const char* name : {"ip.bad_checksum", "icmp.bad_checksum", "eth.not_for_us",
                             "eth.unknown_type", "ip.bad_version", "ip.bad_header_length"}) {
      caught += s->stats().get(name);
    }
  }
  EXPECT_GT(caught, 0u);
}

}  // namespace
}  // namespace ustack::test
