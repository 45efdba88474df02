// UDP between two Stacks over a MemoryLink through the socket API, in ManualClock time: request
// and response, every datagram size from 0 to 65507 bytes (fragmented and reassembled both
// ways) checked byte for byte, and, through a seeded FaultInjector, loss, reordering,
// duplication and corruption. Lost datagrams are lost; whatever arrives is intact and — unless
// duplication is injected — arrives once.
#include <gtest/gtest.h>
#include <poll.h>

#include <map>
#include <set>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};
constexpr std::uint16_t kEchoPort = 7;

// Payloads name their sequence number in the first four bytes, so that a datagram arriving
// late, early or twice is still recognised; the rest is a pattern seeded by it.
Bytes payload(std::uint32_t seq, std::size_t size) {
  Bytes out = pattern(size, seq);
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 4); ++i) {
    out[i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
  }
  return out;
}

// The sequence number of an intact payload whose size is size_of(seq); nothing if the bytes
// are not exactly what was sent.
template <typename SizeOf>
std::optional<std::uint32_t> check(const Bytes& data, SizeOf size_of) {
  if (data.size() < 4) return std::nullopt;
  const std::uint32_t seq = wire::load_be32(data.data());
  if (data != payload(seq, size_of(seq))) return std::nullopt;
  return seq;
}

// What one side received: how often each sequence number came, and how many were wrong.
struct Tally {
  std::map<std::uint32_t, int> got;
  std::size_t wrong = 0;
  std::size_t duplicates() const {
    std::size_t n = 0;
    for (const auto& [seq, count] : got) n += static_cast<std::size_t>(count - 1);
    return n;
  }
};

class UdpTransfer : public ::testing::Test {
 protected:
  explicit UdpTransfer(const ApiPairOptions& options = {}) : pair(options) {
    server = udp_socket(b, kAny, kEchoPort, SOCK_NONBLOCK);
    client = udp_socket(a, kAny, 0, SOCK_NONBLOCK);
  }

  // B's echo server: answers every datagram queued on its socket.
  void serve() {
    while (auto r = receive(b, server)) {
      served.push_back(r->data);
      EXPECT_EQ(send_to(b, server, r->data, r->from), static_cast<ssize_t>(r->data.size()));
    }
  }
  // One millisecond of virtual time, then the echo server's turn.
  void step() {
    pair.step();
    serve();
  }
  // Steps until `done` or `limit`.
  bool run_until(const std::function<bool()>& done, Duration limit) {
    return pair.run_until(
        [&] {
          serve();
          return done();
        },
        limit);
  }
  // One request and its response, or nothing after `timeout`.
  std::optional<Bytes> round_trip(const Bytes& request, Duration timeout = 1s) {
    EXPECT_EQ(send_to(a, client, request, {kIpB, kEchoPort}), static_cast<ssize_t>(request.size()));
    std::optional<Bytes> response;
    run_until(
        [&] {
          if (auto r = receive(a, client)) {
            EXPECT_EQ(r->from, (Endpoint{kIpB, kEchoPort}));
            response = std::move(r->data);
          }
          return response.has_value();
        },
        timeout);
    return response;
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
  int server = -1;
  int client = -1;
  std::vector<Bytes> served;  // what B's server received, in order
};

// ---------------------------------------------------------------------------------------------
// A clean link

TEST_F(UdpTransfer, RequestAndResponse) {
  const CounterMap before_a = counters(pair.stack_a().stats());
  const CounterMap before_b = counters(pair.stack_b().stats());
  for (std::uint32_t i = 0; i < 20; ++i) {
    const Bytes request = payload(i, 10 + i * 50);
    auto response = round_trip(request);
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(*response, request);
  }
  EXPECT_EQ(served.size(), 20u);
  EXPECT_EQ(udp_drops_since(before_a, pair.stack_a().stats()), CounterMap{});
  EXPECT_EQ(udp_drops_since(before_b, pair.stack_b().stats()), CounterMap{});
}

TEST_F(UdpTransfer, EverySizeFrom0To65507BothWays) {
  // The edges: one Ethernet frame holds 1472 bytes of UDP data, two fragments 2952; then a
  // seeded spread up to the largest datagram IPv4 carries.
  std::vector<std::size_t> sizes = {0,    1,     2,     7,     8,     100,  1471, 1472,
                                    1473, 1480,  1481,  2952,  2953,  2960, 4000, 8000,
                                    9000, 16384, 32768, 65000, 65506, 65507};
  Rng rng(7);
  for (int i = 0; i < 40; ++i) sizes.push_back(static_cast<std::size_t>(rng.below(65508)));
  std::uint64_t fragmented = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(sizes[i]);
    const Bytes request = pattern(sizes[i], static_cast<std::uint32_t>(i));
    served.clear();
    auto response = round_trip(request);
    ASSERT_TRUE(response);
    EXPECT_EQ(*response, request);  // A -> B -> A
    ASSERT_EQ(served.size(), 1u);
    EXPECT_EQ(served[0], request);  // what B's application saw
    if (sizes[i] > 1472) ++fragmented;
  }
  // Every datagram past one frame was fragmented and reassembled, in both directions.
  EXPECT_EQ(pair.counter_b("ip.reassembled"), fragmented);
  EXPECT_EQ(pair.counter_a("ip.reassembled"), fragmented);
  EXPECT_EQ(pair.stack_a().ipv4().reassembler().datagrams(), 0u);
  EXPECT_EQ(pair.stack_b().ipv4().reassembler().datagrams(), 0u);
}

class UdpTransferSmallMtu : public UdpTransfer {
 protected:
  static ApiPairOptions small_mtu() {
    ApiPairOptions o;
    o.mtu = 576;
    return o;
  }
  UdpTransferSmallMtu() : UdpTransfer(small_mtu()) {}
};

TEST_F(UdpTransferSmallMtu, A576ByteLinkFragmentsEverythingLarger) {
  for (std::size_t size : {0u, 548u, 549u, 1472u, 20000u, 65507u}) {
    SCOPED_TRACE(size);
    const Bytes request = pattern(size, 5);
    auto response = round_trip(request);
    ASSERT_TRUE(response);
    EXPECT_EQ(*response, request);
  }
  EXPECT_EQ(pair.counter_b("ip.reassembled"), 4u);
}

TEST_F(UdpTransfer, ABurstArrivesCompleteAndInOrder) {
  pair.resolve_arp();
  for (std::uint32_t i = 0; i < 200; ++i) {
    ASSERT_EQ(send_to(a, client, payload(i, 300), {kIpB, kEchoPort}), 300);
  }
  Tally tally;
  std::vector<std::uint32_t> order;
  run_until(
      [&] {
        while (auto r = receive(a, client)) {
          auto seq = check(r->data, [](std::uint32_t) { return 300u; });
          if (!seq) {
            ++tally.wrong;
            continue;
          }
          ++tally.got[*seq];
          order.push_back(*seq);
        }
        return order.size() >= 200;
      },
      2s);
  EXPECT_EQ(tally.wrong, 0u);
  ASSERT_EQ(order.size(), 200u);
  for (std::uint32_t i = 0; i < 200; ++i) EXPECT_EQ(order[i], i);
}

// ---------------------------------------------------------------------------------------------
// Through faults

ApiPairOptions with_faults(std::uint64_t seed) {
  ApiPairOptions o;
  o.faults = FaultConfig{};  // none yet: ARP is resolved on a clean link first
  o.faults->seed = seed;
  o.seed = seed;
  return o;
}

class UdpTransferFaults : public UdpTransfer, public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  UdpTransferFaults() : UdpTransfer(with_faults(GetParam())) { pair.resolve_arp(); }

  void set_faults(FaultConfig f) {
    f.seed = GetParam();
    pair.injector().set_config(f);
  }

  // Sends `count` datagrams from A to B's echo server, one every `interval`, and tallies what
  // B's server and A's client received (the echoes cross the link a second time). Keeps running
  // `drain` after the last one.
  template <typename SizeOf>
  void exchange(std::uint32_t count, SizeOf size_of, Duration interval, Tally& at_b, Tally& at_a,
                Duration drain = 500ms) {
    std::size_t seen = 0;
    auto collect = [&] {
      for (; seen < served.size(); ++seen) {
        if (auto seq = check(served[seen], size_of)) {
          ++at_b.got[*seq];
        } else {
          ++at_b.wrong;
        }
      }
      while (auto r = receive(a, client)) {
        if (auto seq = check(r->data, size_of)) {
          ++at_a.got[*seq];
        } else {
          ++at_a.wrong;
        }
      }
    };
    for (std::uint32_t i = 0; i < count; ++i) {
      const Bytes data = payload(i, size_of(i));
      ASSERT_EQ(send_to(a, client, data, {kIpB, kEchoPort}), static_cast<ssize_t>(data.size()));
      for (Duration t{}; t < interval; t += 1ms) {
        step();
        collect();
      }
    }
    for (Duration t{}; t < drain; t += 1ms) {
      step();
      collect();
    }
  }
};

TEST_P(UdpTransferFaults, OneWayLossLosesDatagramsButNeverDuplicatesOrCorrupts) {
  for (double p : {0.1, 0.3}) {
    SCOPED_TRACE(p);
    FaultConfig f;
    f.direction = FaultDirection::tx;  // A -> B only; the echoes come back clean
    f.drop = p;
    set_faults(f);
    const std::uint64_t dropped_before = pair.injector().counters().dropped;
    Tally at_b, at_a;
    exchange(
        300, [](std::uint32_t) { return std::size_t{200}; }, 5ms, at_b, at_a);
    const std::uint64_t dropped = pair.injector().counters().dropped - dropped_before;
    EXPECT_EQ(at_b.wrong, 0u);
    EXPECT_EQ(at_a.wrong, 0u);
    EXPECT_EQ(at_b.duplicates(), 0u);
    EXPECT_EQ(at_a.duplicates(), 0u);
    // Each datagram is one frame: exactly the dropped ones are missing, and most arrive.
    EXPECT_EQ(at_b.got.size() + dropped, 300u);
    EXPECT_GE(at_b.got.size(), static_cast<std::size_t>(300 * (1 - p - 0.1)));
    EXPECT_LT(at_b.got.size(), 300u);
    EXPECT_EQ(at_a.got, at_b.got);  // every echo made it back
    served.clear();
  }
}

TEST_P(UdpTransferFaults, LossAndReorderingBothWays) {
  FaultConfig f;
  f.drop = 0.1;
  f.reorder = 0.2;
  f.reorder_hold = 3ms;
  set_faults(f);
  Tally at_b, at_a;
  exchange(
      300, [](std::uint32_t seq) { return std::size_t{4 + seq % 700}; }, 2ms, at_b, at_a);
  EXPECT_EQ(at_b.wrong, 0u);
  EXPECT_EQ(at_a.wrong, 0u);
  EXPECT_EQ(at_b.duplicates(), 0u);
  EXPECT_EQ(at_a.duplicates(), 0u);
  // About 90% reach B and 81% come back.
  EXPECT_GE(at_b.got.size(), 240u);
  EXPECT_GE(at_a.got.size(), 210u);
  for (const auto& [seq, n] : at_a.got) EXPECT_TRUE(at_b.got.count(seq)) << seq;
  EXPECT_GT(pair.injector().counters().reordered, 20u);
}

TEST_P(UdpTransferFaults, FragmentedDatagramsThroughLossAreWholeOrNothing) {
  FaultConfig f;
  f.drop = 0.1;
  f.reorder = 0.1;
  f.reorder_hold = 3ms;
  set_faults(f);
  auto size_of = [](std::uint32_t seq) { return std::size_t{1473 + (seq * 1999) % 12000}; };
  Tally at_b, at_a;
  exchange(60, size_of, 20ms, at_b, at_a);
  EXPECT_EQ(at_b.wrong, 0u);
  EXPECT_EQ(at_a.wrong, 0u);
  EXPECT_EQ(at_b.duplicates(), 0u);
  EXPECT_EQ(at_a.duplicates(), 0u);
  EXPECT_GE(at_b.got.size(), 10u);
  EXPECT_LT(at_a.got.size(), 60u);
  // The pieces of lost datagrams are freed by the reassembly timeout on both sides.
  pair.run_for(31s, 100ms);
  EXPECT_EQ(pair.stack_a().ipv4().reassembler().datagrams(), 0u);
  EXPECT_EQ(pair.stack_b().ipv4().reassembler().datagrams(), 0u);
  EXPECT_EQ(pair.stack_a().ipv4().reassembler().memory(), 0u);
  EXPECT_EQ(pair.stack_b().ipv4().reassembler().memory(), 0u);
}

TEST_P(UdpTransferFaults, InjectedDuplicatesMayArriveTwiceButIntact) {
  FaultConfig f;
  f.direction = FaultDirection::tx;
  f.duplicate = 0.3;
  set_faults(f);
  Tally at_b, at_a;
  exchange(
      200, [](std::uint32_t seq) { return std::size_t{4 + seq % 1400}; }, 3ms, at_b, at_a);
  EXPECT_EQ(at_b.wrong, 0u);
  EXPECT_EQ(at_b.got.size(), 200u);  // nothing lost
  // A duplicated frame is a duplicated datagram: UDP has no sequence numbers to notice.
  EXPECT_EQ(at_b.duplicates(), pair.injector().counters().duplicated);
  EXPECT_GT(at_b.duplicates(), 20u);
}

TEST_P(UdpTransferFaults, DuplicatedFragmentsMakeOneDatagram) {
  FaultConfig f;
  f.direction = FaultDirection::tx;
  f.duplicate = 0.3;
  set_faults(f);
  Tally at_b, at_a;
  exchange(
      40, [](std::uint32_t seq) { return std::size_t{3000 + seq * 500}; }, 20ms, at_b, at_a);
  EXPECT_EQ(at_b.wrong, 0u);
  EXPECT_EQ(at_b.got.size(), 40u);
  // A duplicate fragment arriving before its datagram is complete is absorbed by reassembly
  // (ip.frag_duplicate); one arriving after it starts a new reassembly that never completes.
  EXPECT_EQ(at_b.duplicates(), 0u);
  EXPECT_GT(pair.counter_b("ip.frag_duplicate"), 0u);
}

TEST_P(UdpTransferFaults, CorruptionIsCaughtByTheChecksums) {
  FaultConfig f;
  f.direction = FaultDirection::tx;
  f.corrupt = 0.3;
  set_faults(f);
  const CounterMap before = counters(pair.stack_b().stats());
  Tally at_b, at_a;
  exchange(
      300, [](std::uint32_t seq) { return std::size_t{4 + seq % 1000}; }, 3ms, at_b, at_a);
  // Not one corrupted byte reached an application.
  EXPECT_EQ(at_b.wrong, 0u);
  EXPECT_EQ(at_a.wrong, 0u);
  EXPECT_EQ(at_b.duplicates(), 0u);
  EXPECT_GE(at_b.got.size(), 150u);
  // The flipped bits were caught somewhere on B's way up: a MAC, EtherType, IP or UDP check.
  const CounterMap drops = udp_drops_since(before, pair.stack_b().stats());
  std::uint64_t total = 0;
  for (const auto& [name, n] : drops) total += n;
  EXPECT_GT(total, 30u);
  EXPECT_GT(drops.count("udp.bad_checksum") ? drops.at("udp.bad_checksum") : 0u, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, UdpTransferFaults, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace ustack::test
