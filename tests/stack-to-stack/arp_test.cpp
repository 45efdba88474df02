// ARP between two Stacks in virtual time: entries expire after reachable_time, traffic keeps them
// fresh without a gap, and an unreachable peer is asked once per second, max_requests times,
// before the waiting datagrams are dropped — then a healed link resolves again.
#include <gtest/gtest.h>

#include "support/two_stacks.h"

namespace ustack::test {
namespace {

// The instants, relative to `start`, at which A's request counter went up while stepping.
std::vector<Duration> request_times(TwoStacks& net, Instant start, Duration how_long,
                                    Duration step = 10ms) {
  std::vector<Duration> times;
  std::uint64_t seen = net.a().stats().get("arp.tx_request");
  const Instant end = net.now() + how_long;
  while (net.now() < end) {
    net.step(step);
    for (std::uint64_t now = net.a().stats().get("arp.tx_request"); seen < now; ++seen) {
      times.push_back(net.now() - start);
    }
  }
  return times;
}

TEST(Arp, EntriesExpireAfterReachableTime) {
  TwoStacks net;
  const Instant start = net.now();
  ASSERT_TRUE(net.ping(pattern(56), 1));
  const Duration resolved_after = net.now() - start;
  EXPECT_LE(resolved_after, 5ms);

  net.run_for(60s - resolved_after - 10ms, 10ms);
  EXPECT_EQ(net.a().arp().lookup(net.iface_a(), kIpB), kMacB);
  EXPECT_EQ(net.b().arp().lookup(net.iface_b(), kIpA), kMacA);
  net.run_for(20ms, 1ms);
  EXPECT_FALSE(net.a().arp().lookup(net.iface_a(), kIpB));
  EXPECT_FALSE(net.b().arp().lookup(net.iface_b(), kIpA));
  EXPECT_EQ(net.a().stats().get("arp.expired"), 1u);
  EXPECT_EQ(net.b().stats().get("arp.expired"), 1u);
  EXPECT_EQ(net.a().arp().size(), 0u);
  EXPECT_EQ(net.b().arp().size(), 0u);
  EXPECT_EQ(net.a().next_deadline(), kNever);
  EXPECT_EQ(net.b().next_deadline(), kNever);

  // The next ping resolves again.
  const std::uint64_t requests = net.a().stats().get("arp.tx_request");
  auto reply = net.ping(pattern(56), 2);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->data, pattern(56));
  EXPECT_EQ(net.a().stats().get("arp.tx_request"), requests + 1);
}

TEST(Arp, SteadyTrafficKeepsTheEntryWithoutAGap) {
  TwoStacks net;
  ASSERT_TRUE(net.ping(pattern(56), 0));
  for (std::uint16_t seq = 1; seq <= 200; ++seq) {  // one ping a second for 200 s
    net.run_for(1s - 2ms);
    const Instant sent = net.now();
    auto reply = net.ping(pattern(56, seq), seq, 1s);
    ASSERT_TRUE(reply) << "seq " << seq;
    EXPECT_LE(reply->received_at - sent, 3ms) << "seq " << seq << " waited for ARP";
  }
  EXPECT_EQ(net.a().stats().get("arp.expired"), 0u);
  EXPECT_EQ(net.b().stats().get("arp.expired"), 0u);
  EXPECT_EQ(net.a().stats().get("arp.unresolved"), 0u);
  EXPECT_EQ(net.a().arp().lookup(net.iface_a(), kIpB), kMacB);
  // Refreshed by a unicast request about once per reachable_time, not once per datagram. Each
  // side's request also refreshes the other's entry (RFC 826 merge), so they take turns.
  const std::uint64_t refreshes =
      (net.a().stats().get("arp.tx_request") - 2) + (net.b().stats().get("arp.tx_request") - 1);
  EXPECT_GE(refreshes, 2u);
  EXPECT_LE(refreshes, 5u);
}

TEST(Arp, UnreachablePeerIsAskedOncePerSecondThenGivenUp) {
  TwoStacksOptions options;
  FaultConfig partitioned;
  partitioned.drop = 1.0;
  options.faults = partitioned;
  TwoStacks net(options);
  const std::uint64_t b_received = net.b().stats().get("dev.rx_frames");

  const Instant start = net.now();
  for (std::uint16_t seq = 0; seq < 5; ++seq) {
    ASSERT_EQ(net.a().icmp().send_echo_request(kIpB, 1, seq, pattern(56)), 0);
  }
  std::vector<Duration> times = request_times(net, start, 10s);
  // The first request went out with the first datagram, before any stepping.
  times.insert(times.begin(), 0s);
  EXPECT_EQ(times, (std::vector<Duration>{0s, 1s, 2s}));
  EXPECT_EQ(net.a().stats().get("arp.unresolved"), 5u);
  EXPECT_FALSE(net.a().arp().lookup(net.iface_a(), kIpB));
  EXPECT_EQ(net.a().arp().size(), 0u);
  EXPECT_EQ(net.b().stats().get("dev.rx_frames"), b_received);
  EXPECT_FALSE(net.a().icmp().take_echo_reply());

  // Healed, the next datagram resolves again.
  net.injector().set_config(FaultConfig{});
  auto reply = net.ping(pattern(56), 9);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->data, pattern(56));
}

TEST(Arp, AddressNobodyHasIsAskedForThreeTimes) {
  TwoStacks net;
  const Ipv4Address nobody(10, 1, 0, 3);
  const std::uint64_t b_not_for_us = net.b().stats().get("arp.not_for_us");
  const Instant start = net.now();
  ASSERT_EQ(net.a().icmp().send_echo_request(nobody, 1, 1, pattern(8)), 0);
  std::vector<Duration> times = request_times(net, start, 5s);
  times.insert(times.begin(), 0s);
  EXPECT_EQ(times, (std::vector<Duration>{0s, 1s, 2s}));
  // B heard every broadcast request and learned nothing from them.
  EXPECT_EQ(net.b().stats().get("arp.not_for_us"), b_not_for_us + 3);
  EXPECT_EQ(net.b().arp().size(), 0u);
  EXPECT_EQ(net.a().stats().get("arp.unresolved"), 1u);
}

TEST(Arp, NextDeadlineSaysExactlyWhenToPollAgain) {
  // Driven only by next_deadline(), as the Runtime drives a real stack: no polling in between,
  // and no wake-up that finds nothing to do.
  TwoStacks net;
  const Instant start = net.now();
  ASSERT_EQ(net.a().icmp().send_echo_request(Ipv4Address(10, 1, 0, 3), 1, 1, pattern(8)), 0);
  std::vector<Duration> wakeups;
  for (int i = 0; i < 10; ++i) {
    const Instant next = std::min(net.a().next_deadline(), net.b().next_deadline());
    if (next == kNever) break;
    wakeups.push_back(next - start);
    net.clock().set(next);
    net.step(0s);
  }
  // Retries at 1 s and 2 s, and giving up at 3 s; then nothing is pending.
  EXPECT_EQ(wakeups, (std::vector<Duration>{1s, 2s, 3s}));
  EXPECT_EQ(net.a().stats().get("arp.unresolved"), 1u);
  EXPECT_EQ(net.a().stats().get("arp.tx_request"), 4u);  // announcement + 3
}

TEST(Arp, LossyResolutionRetriesUntilAnswered) {
  TwoStacksOptions options;
  FaultConfig f;
  f.seed = 11;
  f.drop = 0.3;
  options.faults = f;
  TwoStacks net(options);
  // With 30% of the frames lost, some pings need a retried request; every reply that comes is
  // exact, and requests never go faster than one a second.
  int answered = 0;
  for (std::uint16_t seq = 0; seq < 20; ++seq) {
    const Bytes data = pattern(56, seq);
    auto reply = net.ping(data, seq, 5s);
    if (reply) {
      ++answered;
      EXPECT_EQ(reply->data, data);
    }
    net.run_for(61s, 100ms);  // let the entries expire, so each ping resolves anew
  }
  EXPECT_GE(answered, 3);
  // 20 resolutions in 20 * ~65 s: at most 3 requests each.
  EXPECT_LE(net.a().stats().get("arp.tx_request"), 1u + 20u * 3u);
  EXPECT_GT(net.a().stats().get("arp.tx_request"), 21u);
}

}  // namespace
}  // namespace ustack::test
