// TCP over a link that offers TAP-style offloads (DeviceOffloads, PacketOffload): two Stacks on
// a MemoryLink whose ends take partial checksums and TSO segments, each end behind a
// SoftwareGso (support/software_gso.h) that records what the stack sent. Checks that TCP makes
// TSO segments of whole MSS-sized pieces, never larger than the peer's window or the
// congestion window allow; that data arrives intact whether the TSO frames cross whole (the
// receiver takes GSO frames as one segment) or cut in software into MTU-sized frames with
// finished checksums; and that loss of whole TSO frames is repaired by retransmission.
#include <gtest/gtest.h>

#include "support/tcp_transfer.h"

namespace ustack::test {
namespace {

constexpr std::uint64_t kBytes = 8ull * 1000 * 1000;
constexpr DeviceOffloads kTapLike{true, 65535};

struct Result {
  bool intact = false;
  std::vector<SoftwareGso::Sent> sent_a;
  std::vector<SoftwareGso::Sent> sent_b;
  std::uint64_t split_a = 0;
};

// One connection A -> B:80 moving `a_to_b` and `b_to_a` bytes at once; `check` sees the pair
// once the transfer is over.
Result transfer(const ApiPairOptions& options, std::uint64_t a_to_b, std::uint64_t b_to_a,
                const std::function<void(ApiPair&)>& check = nullptr) {
  Result r;
  ApiPair pair(options);
  const Connection c = open_connection(pair, 80);
  EXPECT_GE(c.server, 0);
  if (c.server < 0) return r;
  Side a("A", pair.a(), c.client,
         {.send_bytes = a_to_b, .send_seed = 1, .expect_bytes = b_to_a, .expect_seed = 2});
  Side b("B", pair.b(), c.server,
         {.send_bytes = b_to_a, .send_seed = 2, .expect_bytes = a_to_b, .expect_seed = 1});
  const RunResult run = run_sides(pair, {&a, &b}, 600s);
  EXPECT_TRUE(run.finished) << a.describe() << "\n" << b.describe();
  EXPECT_TRUE(a.intact()) << a.describe();
  EXPECT_TRUE(b.intact()) << b.describe();
  r.intact = a.intact() && b.intact();
  EXPECT_EQ(pair.counter_a("tcp.bad_checksum"), 0u);
  EXPECT_EQ(pair.counter_b("tcp.bad_checksum"), 0u);
  EXPECT_EQ(pair.counter_a("eth.oversize"), 0u);
  EXPECT_EQ(pair.counter_b("eth.oversize"), 0u);
  if (check) check(pair);
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair));
  r.sent_a = pair.gso_a().sent;
  r.sent_b = pair.gso_b().sent;
  r.split_a = pair.gso_a().split_frames;
  return r;
}

// Every segment: checksum left to the device; a TSO segment is whole MSS-sized pieces, more
// than one, and fits one IPv4 datagram.
void expect_well_formed(const std::vector<SoftwareGso::Sent>& sent) {
  std::size_t tso = 0;
  for (const auto& s : sent) {
    EXPECT_TRUE(s.csum_partial);
    if (s.gso_size == 0) continue;
    ++tso;
    EXPECT_GT(s.data, s.gso_size);
    EXPECT_EQ(s.data % s.gso_size, 0u) << s.data << " / " << s.gso_size;
    EXPECT_LE(s.data + 20 + 60, 65535u);
  }
  EXPECT_GT(tso, 0u) << "no TSO segment was sent";
}

TEST(TcpTso, WholeGsoFramesBothWays) {
  ApiPairOptions o;
  o.offloads = kTapLike;
  const Result r = transfer(o, kBytes, kBytes, [](ApiPair& pair) {
    EXPECT_GT(pair.counter_a("dev.tx_gso"), 0u);
    EXPECT_GT(pair.counter_a("dev.rx_gso"), 0u);
    EXPECT_GT(pair.counter_b("dev.tx_gso"), 0u);
    EXPECT_GT(pair.counter_b("dev.rx_gso"), 0u);
  });
  EXPECT_TRUE(r.intact);
  expect_well_formed(r.sent_a);
  expect_well_formed(r.sent_b);
}

TEST(TcpTso, CutInSoftwareGivesTheSameBytes) {
  // The same streams as above, every TSO frame cut into MTU-sized frames with full checksums
  // before the link: the receivers see ordinary segments and verify each checksum.
  ApiPairOptions o;
  o.offloads = kTapLike;
  o.split_gso = true;
  const Result r = transfer(o, kBytes, kBytes, [](ApiPair& pair) {
    EXPECT_EQ(pair.counter_a("dev.rx_gso"), 0u);
    EXPECT_EQ(pair.counter_b("dev.rx_gso"), 0u);
  });
  EXPECT_TRUE(r.intact);
  EXPECT_GT(r.split_a, 0u);
  expect_well_formed(r.sent_a);
}

TEST(TcpTso, NeverBeyondTheWindow) {
  ApiPairOptions o;
  o.offloads = kTapLike;
  o.config.tcp.default_receive_buffer = 16384;
  const Result r = transfer(o, kBytes, 0);
  EXPECT_TRUE(r.intact);
  for (const auto& s : r.sent_a) EXPECT_LE(s.data, 16384u);
  expect_well_formed(r.sent_a);
}

TEST(TcpTso, FirstFlightWithinTheInitialWindow) {
  ApiPairOptions o;
  o.offloads = kTapLike;
  const Result r = transfer(o, kBytes, 0);
  EXPECT_TRUE(r.intact);
  // RFC 6928: the initial window is at most 10 segments (14600 bytes), however large TSO allows.
  std::size_t first_flight = 0;
  for (const auto& s : r.sent_a) {
    if (s.data == 0) continue;
    first_flight = s.data;
    break;
  }
  EXPECT_GT(first_flight, 1460u);
  EXPECT_LE(first_flight, 14600u);
  std::size_t largest = 0;
  for (const auto& s : r.sent_a) largest = std::max(largest, s.data);
  EXPECT_GT(largest, 14600u) << "the window grew, so should the segments";
}

TEST(TcpTso, LossOfWholeTsoFramesIsRepaired) {
  ApiPairOptions o;
  o.offloads = kTapLike;
  FaultConfig f;
  f.seed = 61;
  f.drop = 0.02;
  o.faults = f;
  const Result r = transfer(o, kBytes / 2, kBytes / 2, [](ApiPair& pair) {
    EXPECT_GT(pair.counter_a("tcp.retransmits") + pair.counter_b("tcp.retransmits"), 0u);
    EXPECT_GT(pair.injector().counters().dropped, 0u);
  });
  EXPECT_TRUE(r.intact);
  expect_well_formed(r.sent_a);
}

}  // namespace
}  // namespace ustack::test
