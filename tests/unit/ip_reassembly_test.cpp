// IPv4 reassembly (RFC 791 3.2, RFC 815) against a fake neighbour: any order, duplicates,
// overlaps (whole datagram dropped), the 65535 bound, bad lengths, tiny first fragments,
// inconsistent ends, thousands of incomplete datagrams with bounded memory, and the timeout with
// its ICMP time exceeded — all with fragmented echo requests whose replies prove the result.
#include <gtest/gtest.h>

#include "support/neighbour.h"

namespace ustack::test {
namespace {

constexpr std::uint16_t kEchoId = 0x5151;

Bytes echo_message(std::span<const std::uint8_t> data, std::uint16_t seq = 1) {
  return echo_request(kEchoId, seq, data);
}

Bytes echo_reply_message(std::span<const std::uint8_t> data, std::uint16_t seq = 1) {
  return icmp(0, 0, wire::IcmpHeader::echo_rest(kEchoId, seq), data);
}

wire::Ipv4Header header(std::uint16_t id, std::uint8_t protocol = 1) {
  return ip_header(kPeerIp, kStackIp, protocol, id);
}

class ReassemblyTest : public ::testing::Test {
 protected:
  explicit ReassemblyTest(const NeighbourOptions& options = {}) : n(options) { n.resolve_peer(); }

  void send_all(const std::vector<Bytes>& fragments) {
    for (const Bytes& f : fragments) n.send_ip(f);
  }

  // The stack's answer, reassembled; nothing if it sent nothing.
  std::optional<Bytes> reply() {
    auto out = n.sent_ip();
    if (out.empty()) return std::nullopt;
    if (out.size() == 1 && !out[0].ip.is_fragment()) return out[0].payload;
    return reassemble(out);
  }

  ip::Reassembler& reassembler() { return n.stack().ipv4().reassembler(); }

  Neighbour n;
};

TEST_F(ReassemblyTest, InOrder) {
  const Bytes data = pattern(4000);
  send_all(fragment(header(1), echo_message(data), 1480));
  EXPECT_EQ(reply(), echo_reply_message(data));
  EXPECT_EQ(n.counter("ip.reassembled"), 1u);
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_EQ(reassembler().memory(), 0u);
}

TEST_F(ReassemblyTest, Reversed) {
  const Bytes data = pattern(4000);
  auto fragments = fragment(header(2), echo_message(data), 1000);
  std::reverse(fragments.begin(), fragments.end());
  send_all(fragments);
  EXPECT_EQ(reply(), echo_reply_message(data));
}

TEST_F(ReassemblyTest, RandomOrders) {
  for (std::uint16_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(seed);
    const Bytes data = pattern(3000 + seed * 8u, seed);
    auto fragments = fragment(header(seed), echo_message(data, seed), 256);
    shuffle(fragments, seed);
    send_all(fragments);
    EXPECT_EQ(reply(), echo_reply_message(data, seed));
  }
  EXPECT_EQ(n.counter("ip.reassembled"), 50u);
  EXPECT_EQ(reassembler().datagrams(), 0u);
}

TEST_F(ReassemblyTest, InterleavedDatagramsAreKeptApart) {
  // Same ID from the same source, but different protocols: two datagrams (RFC 791 keys on
  // source, destination, protocol and ID).
  const Bytes data = pattern(2000);
  auto echo = fragment(header(9, 1), echo_message(data), 512);
  auto other = fragment(header(9, 99), pattern(2000, 3), 512);
  for (std::size_t i = 0; i < echo.size(); ++i) {
    n.send_ip(echo[i]);
    n.send_ip(other[i]);
  }
  auto out = n.sent_ip();
  // An echo reply (fragmented) and a protocol unreachable.
  std::vector<IpDatagram> reply_fragments;
  int unreachable = 0;
  for (const IpDatagram& d : out) {
    if (d.ip.is_fragment()) {
      reply_fragments.push_back(d);
    } else {
      EXPECT_EQ(d.payload.at(0), 3);
      ++unreachable;
    }
  }
  EXPECT_EQ(unreachable, 1);
  EXPECT_EQ(reassemble(reply_fragments), echo_reply_message(data));
}

TEST_F(ReassemblyTest, ExactDuplicateIsAcceptedOnce) {
  const Bytes data = pattern(4000);
  auto fragments = fragment(header(3), echo_message(data), 1480);
  n.send_ip(fragments[0]);
  n.send_ip(fragments[1]);
  n.send_ip(fragments[1]);
  n.send_ip(fragments[0]);
  n.send_ip(fragments[2]);
  EXPECT_EQ(reply(), echo_reply_message(data));
  EXPECT_EQ(n.counter("ip.frag_duplicate"), 2u);
  EXPECT_EQ(n.counter("ip.reassembled"), 1u);
}

struct Piece {
  std::size_t offset;
  std::size_t length;
  bool more;
};

class OverlapTest : public ReassemblyTest,
                    public ::testing::WithParamInterface<std::pair<Piece, Piece>> {};

TEST_P(OverlapTest, DropsTheWholeDatagramAndALaterCompleteSetStillWorks) {
  const auto [first, second] = GetParam();
  const Bytes message = echo_message(pattern(56));  // 64 bytes
  auto piece = [&](Piece p) {
    return fragment_at(header(4), p.offset, p.more, std::span(message).subspan(p.offset, p.length));
  };
  const CounterMap before = counters(n.stats());
  n.send_ip(piece(first));
  n.send_ip(piece(second));
  EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{"ip.frag_overlap", 1}}));
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_EQ(reassembler().memory(), 0u);
  EXPECT_TRUE(n.sent().empty());

  send_all(fragment(header(4), message, 16));
  EXPECT_EQ(reply(), echo_reply_message(pattern(56)));
}

INSTANTIATE_TEST_SUITE_P(
    Overlaps, OverlapTest,
    ::testing::Values(std::pair{Piece{0, 16, true}, Piece{8, 16, true}},      // partial, after
                      std::pair{Piece{8, 16, true}, Piece{0, 16, true}},      // partial, before
                      std::pair{Piece{0, 32, true}, Piece{8, 8, true}},       // subset
                      std::pair{Piece{8, 8, true}, Piece{0, 32, true}},       // superset
                      std::pair{Piece{0, 16, true}, Piece{0, 32, true}},      // same start, longer
                      std::pair{Piece{16, 16, true}, Piece{16, 8, true}},     // same start, shorter
                      std::pair{Piece{32, 32, false}, Piece{40, 24, false}},  // two last ones
                      std::pair{Piece{16, 48, false}, Piece{0, 24, true}}));

TEST_F(ReassemblyTest, FragmentPastTheLargestDatagramIsDropped) {
  n.send_ip(fragment_at(header(5), 0, true, pattern(1480)));
  n.send_ip(fragment_at(header(5), 65528, false, pattern(16)));
  EXPECT_EQ(n.counter("ip.frag_bad_offset"), 1u);
  EXPECT_TRUE(n.sent().empty());
  // The largest legal end, 65535 with a 20-byte header, is accepted.
  n.send_ip(fragment_at(header(6), 65496, false, pattern(19)));
  EXPECT_EQ(n.counter("ip.frag_bad_offset"), 1u);
  EXPECT_EQ(reassembler().datagrams(), 2u);
}

TEST_F(ReassemblyTest, OptionsInTheFirstFragmentCannotMakeTheDatagramTooLong) {
  // Each fragment alone fits in 65535 bytes, but the first one's 60-byte header in front of
  // 65515 bytes of payload would not.
  const Bytes message = echo_message(pattern(65507));
  auto fragments = fragment(header(7), message, 1440);
  ASSERT_EQ(fragments.size(), 46u);
  const Bytes options(40, 0x01);  // NOPs
  wire::Ipv4Header h = header(7);
  h.more_fragments = true;
  fragments[0] = ipv4_with_options(h, options, std::span(message).first(1440));
  send_all(fragments);
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(n.counter("ip.frag_bad_offset"), 1u);
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_EQ(reassembler().memory(), 0u);
}

TEST_F(ReassemblyTest, NonFinalFragmentNotAMultipleOfEightIsDropped) {
  for (std::size_t length : {0u, 1u, 7u, 9u, 1479u}) {
    SCOPED_TRACE(length);
    const CounterMap before = counters(n.stats());
    n.send_ip(fragment_at(header(8), 0, true, pattern(length)));
    EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{"ip.frag_bad_length", 1}}));
  }
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(ReassemblyTest, TinyFirstFragmentIsDropped) {
  // A first fragment of TCP too short for the 20-byte TCP header (RFC 1858 3.1).
  for (std::size_t length : {8u, 16u}) {
    SCOPED_TRACE(length);
    const CounterMap before = counters(n.stats());
    n.send_ip(fragment_at(header(10, 6), 0, true, pattern(length)));
    EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{"ip.frag_tiny", 1}}));
  }
  EXPECT_EQ(reassembler().datagrams(), 0u);
  n.send_ip(fragment_at(header(10, 6), 0, true, pattern(24)));
  EXPECT_EQ(reassembler().datagrams(), 1u);
}

TEST_F(ReassemblyTest, InconsistentLastFragmentDropsTheDatagram) {
  // Two last fragments that end in different places.
  n.send_ip(fragment_at(header(11), 32, false, pattern(16)));
  n.send_ip(fragment_at(header(11), 64, false, pattern(16)));
  EXPECT_EQ(n.counter("ip.frag_inconsistent"), 1u);
  EXPECT_EQ(reassembler().datagrams(), 0u);

  // A middle fragment past the known end.
  n.send_ip(fragment_at(header(12), 32, false, pattern(16)));
  n.send_ip(fragment_at(header(12), 48, true, pattern(16)));
  EXPECT_EQ(n.counter("ip.frag_inconsistent"), 2u);
  EXPECT_EQ(reassembler().datagrams(), 0u);

  // A last fragment that ends before data already received.
  n.send_ip(fragment_at(header(13), 64, true, pattern(16)));
  n.send_ip(fragment_at(header(13), 16, false, pattern(16)));
  EXPECT_EQ(n.counter("ip.frag_inconsistent"), 3u);
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_EQ(reassembler().memory(), 0u);
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(ReassemblyTest, TooManyFragmentsDropTheDatagram) {
  // 129 pieces of 8 bytes: one more than max_fragments.
  const Bytes message = echo_message(pattern(129 * 8 - 8));
  send_all(fragment(header(14), message, 8));
  EXPECT_EQ(n.counter("ip.frag_too_many"), 1u);
  EXPECT_TRUE(n.sent().empty());
  // 128 pieces are fine.
  const Bytes fits = echo_message(pattern(128 * 8 - 8));
  send_all(fragment(header(15), fits, 8));
  EXPECT_EQ(reply(), echo_reply_message(pattern(128 * 8 - 8)));
}

TEST_F(ReassemblyTest, PaddedLastFragmentIsTrimmed) {
  const Bytes message = echo_message(pattern(1480));  // 1488 bytes: 1480 + 8
  auto fragments = fragment(header(16), message, 1480);
  ASSERT_EQ(fragments.size(), 2u);
  fragments[1].resize(46, 0xee);  // a 28-byte datagram in a 60-byte frame
  send_all(fragments);
  EXPECT_EQ(reply(), echo_reply_message(pattern(1480)));
}

TEST_F(ReassemblyTest, LargestEchoInFortyFiveFragmentsIsAnsweredExactly) {
  const Bytes data = pattern(65507, 9);
  auto fragments = fragment(header(17), echo_message(data), 1480);
  ASSERT_EQ(fragments.size(), 45u);
  shuffle(fragments, 17);
  send_all(fragments);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 45u);
  for (const IpDatagram& d : out) {
    EXPECT_EQ(d.ip.src, kStackIp);
    EXPECT_EQ(d.ip.dst, kPeerIp);
    EXPECT_LE(d.ip.total_length, 1500);
  }
  EXPECT_EQ(reassemble(out), echo_reply_message(data));
}

// Fragments that never complete: at most max_datagrams held, and within memory_limit.
class ManyIncompleteTest : public ReassemblyTest,
                           public ::testing::WithParamInterface<ip::ReassemblyConfig> {
 protected:
  static NeighbourOptions options(const ip::ReassemblyConfig& config) {
    NeighbourOptions o;  // everything else as test_config()
    o.config.ipv4.reassembly = config;
    return o;
  }
  ManyIncompleteTest() : ReassemblyTest(options(GetParam())) {}
};

TEST_P(ManyIncompleteTest, MemoryAndCountStayBoundedAndTheTimeoutFreesEverything) {
  const ip::ReassemblyConfig config = GetParam();
  const Instant start = n.now();
  for (std::uint32_t i = 0; i < 5000; ++i) {
    // Non-first fragments from many sources, so no time exceeded is due on timeout.
    wire::Ipv4Header h = ip_header(Ipv4Address::from_u32(0x0a000100u + (i % 200)), kStackIp, 1,
                                   static_cast<std::uint16_t>(i));
    n.send_ip(fragment_at(h, 1480, true, pattern(1480, i)));
    ASSERT_LE(reassembler().datagrams(), config.max_datagrams);
    ASSERT_LE(reassembler().memory(), config.memory_limit);
    // Deadlines of discarded datagrams must not pile up either.
    ASSERT_LE(n.stack().timers().size(), config.max_datagrams + 2);
    if (i % 100 == 99) n.advance(100ms);  // 5 s in all
  }
  const std::size_t held = reassembler().datagrams();
  EXPECT_GT(held, 0u);
  EXPECT_EQ(n.counter("ip.frag_evicted"), 5000u - held);
  EXPECT_EQ(n.counter("ip.frag_rx"), 5000u);
  EXPECT_TRUE(n.sent().empty());

  // Everything is gone once the youngest datagram's timeout has passed.
  n.clock().set(start + 5s + config.timeout);
  n.poll();
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_EQ(reassembler().memory(), 0u);
  EXPECT_EQ(n.counter("ip.frag_timeout"), held);
  EXPECT_TRUE(n.sent().empty());
  // ARP's entry for the peer is the only deadline left.
  n.advance(60s);
  EXPECT_EQ(n.stack().next_deadline(), kNever);
}

ip::ReassemblyConfig small_memory() {
  ip::ReassemblyConfig c = test_config().ipv4.reassembly;
  c.memory_limit = 64 * 1024;
  return c;
}

INSTANTIATE_TEST_SUITE_P(Limits, ManyIncompleteTest,
                         ::testing::Values(test_config().ipv4.reassembly, small_memory()));

TEST_F(ReassemblyTest, TimeoutWithTheFirstFragmentSendsTimeExceeded) {
  const Bytes message = echo_message(pattern(4000));
  auto fragments = fragment(header(20), message, 1480);
  const Instant first_arrival = n.now();
  n.send_ip(fragments[0]);
  n.advance(1s);
  n.send_ip(fragments[2]);
  EXPECT_EQ(n.stack().next_deadline(), first_arrival + 30s);
  n.advance(29s - 10ms);
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(reassembler().datagrams(), 1u);
  n.advance(10ms);
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_EQ(reassembler().memory(), 0u);
  EXPECT_EQ(n.counter("ip.frag_timeout"), 1u);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.dst, kPeerIp);
  EXPECT_EQ(out[0].ip.src, kStackIp);
  const Bytes& error = out[0].payload;
  ASSERT_GE(error.size(), 8u + 20u + 8u);
  EXPECT_EQ(error[0], 11);  // time exceeded
  EXPECT_EQ(error[1], 1);   // fragment reassembly time exceeded
  EXPECT_TRUE(wire::IcmpHeader::parse(error));
  // It quotes the first fragment: its header and the start of its data.
  EXPECT_EQ(Bytes(error.begin() + 8, error.begin() + 28),
            Bytes(fragments[0].begin(), fragments[0].begin() + 20));
  EXPECT_EQ(Bytes(error.begin() + 28, error.begin() + 36),
            Bytes(message.begin(), message.begin() + 8));
}

TEST_F(ReassemblyTest, TimeoutWithoutTheFirstFragmentSendsNothing) {
  auto fragments = fragment(header(21), echo_message(pattern(4000)), 1480);
  n.send_ip(fragments[1]);
  n.send_ip(fragments[2]);
  n.run_for(31s, 500ms);
  EXPECT_EQ(n.counter("ip.frag_timeout"), 1u);
  EXPECT_EQ(reassembler().datagrams(), 0u);
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(ReassemblyTest, TimeoutOfAnIcmpErrorSendsNothing) {
  // Never an error about an ICMP error: a fragmented destination unreachable that never
  // completes gets no time exceeded.
  const Bytes inner = ipv4(ip_header(kStackIp, kPeerIp, 17), pattern(1600));
  auto fragments = fragment(header(22), icmp(3, 3, 0, inner), 1480);
  n.send_ip(fragments[0]);
  n.run_for(31s, 500ms);
  EXPECT_EQ(n.counter("ip.frag_timeout"), 1u);
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(ReassemblyTest, TimeoutOfABroadcastDatagramSendsNothing) {
  auto fragments =
      fragment(ip_header(kPeerIp, kSubnetBroadcast, 1, 23), echo_message(pattern(4000)), 1480);
  n.send_ip(fragments[0], MacAddress::broadcast());
  n.run_for(31s, 500ms);
  EXPECT_EQ(n.counter("ip.frag_timeout"), 1u);
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(ReassemblyTest, TimeoutIsCountedFromTheFirstFragmentThatArrived) {
  auto fragments = fragment(header(24), echo_message(pattern(4000)), 1480);
  n.send_ip(fragments[1]);
  n.advance(20s);
  n.send_ip(fragments[2]);  // does not extend the lifetime
  n.advance(10s);
  EXPECT_EQ(reassembler().datagrams(), 0u);
  n.send_ip(fragments[0]);  // starts a new, incomplete datagram
  EXPECT_EQ(reassembler().datagrams(), 1u);
  EXPECT_TRUE(n.sent().empty());
}

}  // namespace
}  // namespace ustack::test
