// ICMP (RFC 792, RFC 1122 3.2.2) against a fake neighbour: echo answered byte-exact for any size,
// broadcast echo ignored, malformed messages counted, errors received checked, and errors sent
// only when allowed and rate-limited by a token bucket in ManualClock time.
#include <gtest/gtest.h>

#include "support/neighbour.h"

namespace ustack::test {
namespace {

using wire::IcmpType;
using wire::Ipv4Header;

Bytes echo_from_peer(std::uint16_t id, std::uint16_t seq, std::span<const std::uint8_t> data,
                     Ipv4Address dst = kStackIp) {
  return ipv4(ip_header(kPeerIp, dst), echo_request(id, seq, data));
}

Bytes echo_reply_message(std::uint16_t id, std::uint16_t seq, std::span<const std::uint8_t> data) {
  return icmp(0, 0, wire::IcmpHeader::echo_rest(id, seq), data);
}

// A datagram of a protocol nobody handles: each one earns a protocol unreachable.
Bytes unknown_protocol(std::uint16_t id = 1) {
  return ipv4(ip_header(kPeerIp, kStackIp, 99, id), pattern(16));
}

class IcmpTest : public ::testing::Test {
 protected:
  explicit IcmpTest(const NeighbourOptions& options = {}) : n(options) { n.resolve_peer(); }

  void expect_drop(const Bytes& datagram, const std::string& reason, MacAddress dst = kStackMac) {
    const CounterMap before = counters(n.stats());
    n.send_ip(datagram, dst);
    EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{reason, 1}}));
    EXPECT_TRUE(n.sent().empty());
  }

  // Sends `datagram` and checks it was taken without a drop and without an answer.
  void expect_silently_accepted(const Bytes& datagram) {
    const CounterMap before = counters(n.stats());
    n.send_ip(datagram);
    EXPECT_EQ(drops_since(before, n.stats()), CounterMap{});
    EXPECT_TRUE(n.sent().empty());
  }

  // Asks the ICMP layer directly for an error about `datagram`; returns what was sent.
  std::vector<IpDatagram> error_about(const Bytes& datagram, bool link_broadcast = false) {
    Packet p = Packet::copy_of(datagram);
    auto h = Ipv4Header::parse(p.bytes());
    EXPECT_TRUE(h);
    p.pull(h->header_length);
    p.link_broadcast = link_broadcast;
    n.stack().icmp().send_error(n.iface(), IcmpType::destination_unreachable, 3, *h, p);
    return n.sent_ip();
  }

  // Sends `count` datagrams of an unknown protocol at the current time; returns the number of
  // protocol unreachables that came back.
  std::size_t errors_for(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      n.send_ip(unknown_protocol(static_cast<std::uint16_t>(i)));
    }
    return n.sent_ip().size();
  }

  Neighbour n;
};

// ---------------------------------------------------------------------------------------------
// Echo

TEST_F(IcmpTest, EchoWithNoDataIsAnsweredByteExact) {
  for (auto [id, seq] : {std::pair<std::uint16_t, std::uint16_t>{0x1234, 1},
                         {0, 0},
                         {0xffff, 0xffff},
                         {0, 0xf7ff}}) {
    SCOPED_TRACE(fmt::format("id {} seq {}", id, seq));
    n.send_ip(echo_from_peer(id, seq, {}));
    auto out = n.sent_ip();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ip.src, kStackIp);
    EXPECT_EQ(out[0].ip.dst, kPeerIp);
    EXPECT_EQ(out[0].ip.total_length, 28);
    EXPECT_TRUE(wire::IcmpHeader::parse(out[0].payload)) << "the reply's checksum must verify";
    EXPECT_EQ(out[0].payload, echo_reply_message(id, seq, {}));
  }
}

TEST_F(IcmpTest, EchoWithAllZeroContentGetsAVerifiableChecksum) {
  // The one reply whose every byte but the checksum is zero: its checksum must be 0xffff, the
  // only value that verifies (RFC 1624 section 3 discusses the incremental update's corner).
  for (std::size_t size : {0u, 1u, 2u, 56u}) {
    SCOPED_TRACE(size);
    const Bytes zeros(size, 0);
    n.send_ip(echo_from_peer(0, 0, zeros));
    auto out = n.sent_ip();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(wire::IcmpHeader::parse(out[0].payload));
    EXPECT_EQ(out[0].payload, echo_reply_message(0, 0, zeros));
  }
}

TEST_F(IcmpTest, EchoRepliesOfManySizesAreByteExact) {
  for (std::size_t size : {1u, 2u, 3u, 55u, 56u, 57u, 1471u, 1472u}) {
    SCOPED_TRACE(size);
    const Bytes data = pattern(size, static_cast<std::uint32_t>(size));
    n.send_ip(echo_from_peer(0x0a0b, static_cast<std::uint16_t>(size), data));
    auto out = n.sent_ip();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, echo_reply_message(0x0a0b, static_cast<std::uint16_t>(size), data));
  }
}

TEST_F(IcmpTest, LargestEchoIsAnsweredByteExact) {
  const Bytes data = pattern(65507, 5);
  for (const Bytes& f :
       fragment(ip_header(kPeerIp, kStackIp, 1, 77), echo_request(0xbeef, 0x0102, data), 1480)) {
    n.send_ip(f);
  }
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 45u);
  for (const IpDatagram& d : out) {
    EXPECT_EQ(d.ip.src, kStackIp);
    EXPECT_EQ(d.ip.dst, kPeerIp);
  }
  auto whole = reassemble(out);
  ASSERT_TRUE(whole);
  EXPECT_TRUE(wire::IcmpHeader::parse(*whole));
  EXPECT_EQ(*whole, echo_reply_message(0xbeef, 0x0102, data));
}

TEST_F(IcmpTest, ReplyKeepsTheTypeOfService) {
  wire::Ipv4Header h = ip_header(kPeerIp, kStackIp);
  h.tos = 0x10;
  n.send_ip(ipv4(h, echo_request(1, 1, pattern(8))));
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.tos, 0x10);
}

TEST_F(IcmpTest, BroadcastEchoIsIgnored) {
  expect_drop(echo_from_peer(1, 1, pattern(8), Ipv4Address::broadcast()), "icmp.broadcast_echo",
              MacAddress::broadcast());
  expect_drop(echo_from_peer(1, 1, pattern(8), kSubnetBroadcast), "icmp.broadcast_echo",
              MacAddress::broadcast());
  // Our unicast address inside a link-layer broadcast (a smurf relay) is a broadcast too.
  expect_drop(echo_from_peer(1, 1, pattern(8)), "icmp.broadcast_echo", MacAddress::broadcast());
  // A directed broadcast sent to our MAC.
  expect_drop(echo_from_peer(1, 1, pattern(8), kSubnetBroadcast), "icmp.broadcast_echo");
}

TEST_F(IcmpTest, EchoReplyToOurRequestIsQueuedForTheCaller) {
  ASSERT_EQ(n.stack().icmp().send_echo_request(kPeerIp, 0x77, 3, pattern(20)), 0);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, echo_request(0x77, 3, pattern(20)));
  EXPECT_FALSE(n.stack().icmp().take_echo_reply());

  n.advance(5ms);
  wire::Ipv4Header h = ip_header(kPeerIp, kStackIp);
  h.ttl = 42;
  n.send_ip(ipv4(h, echo_reply_message(0x77, 3, pattern(20))));
  EXPECT_TRUE(n.sent().empty());
  auto reply = n.stack().icmp().take_echo_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->from, kPeerIp);
  EXPECT_EQ(reply->id, 0x77);
  EXPECT_EQ(reply->sequence, 3);
  EXPECT_EQ(reply->ttl, 42);
  EXPECT_EQ(reply->received_at, n.now());
  EXPECT_EQ(reply->data, pattern(20));
  EXPECT_FALSE(n.stack().icmp().take_echo_reply());
}

TEST_F(IcmpTest, EchoReplyQueueIsBounded) {
  for (std::uint16_t i = 0; i < 64; ++i) {
    n.send_ip(ipv4(ip_header(kPeerIp, kStackIp), echo_reply_message(1, i, pattern(8))));
  }
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp), echo_reply_message(1, 64, pattern(8))),
              "icmp.reply_queue_full");
  for (std::uint16_t i = 0; i < 64; ++i) {
    auto reply = n.stack().icmp().take_echo_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->sequence, i);  // the oldest first
  }
  EXPECT_FALSE(n.stack().icmp().take_echo_reply());
}

// ---------------------------------------------------------------------------------------------
// Malformed and ignored messages

TEST_F(IcmpTest, ShortMessageIsDropped) {
  const Bytes message = echo_request(1, 1, {});
  for (std::size_t size : {0u, 1u, 4u, 7u}) {
    SCOPED_TRACE(size);
    expect_drop(ipv4(ip_header(kPeerIp, kStackIp), std::span(message).first(size)), "icmp.short");
  }
}

TEST_F(IcmpTest, BadChecksumIsDropped) {
  Bytes message = echo_request(1, 1, pattern(56));
  message[2] ^= 0x80;
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp), message), "icmp.bad_checksum");
  message = echo_request(1, 1, pattern(56));
  message.back() ^= 0x01;  // one data bit
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp), message), "icmp.bad_checksum");
  message = echo_request(1, 1, pattern(56));
  message[0] = 0;  // a request turned into a reply without fixing the checksum
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp), message), "icmp.bad_checksum");
}

TEST_F(IcmpTest, SourceQuenchIsDiscarded) {
  const Bytes quoted = ipv4(ip_header(kStackIp, kPeerIp, 6), pattern(8));
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp), icmp(4, 0, 0, quoted)), "icmp.source_quench");
}

TEST_F(IcmpTest, UnknownAndIgnoredTypesAreDropped) {
  const Bytes quoted = ipv4(ip_header(kStackIp, kPeerIp, 6), pattern(8));
  for (std::uint8_t type : std::initializer_list<std::uint8_t>{5, 13, 14, 15, 42, 255}) {
    SCOPED_TRACE(type);
    expect_drop(ipv4(ip_header(kPeerIp, kStackIp), icmp(type, 0, 0x0a000001, quoted)),
                "icmp.unknown_type");
  }
}

TEST_F(IcmpTest, ErrorQuotingATruncatedHeaderIsIgnored) {
  const Bytes inner = ipv4(ip_header(kStackIp, kPeerIp, 6), pattern(8));  // 28 bytes
  Bytes ihl6 = ipv4_with_options(ip_header(kStackIp, kPeerIp, 6), Bytes{1, 1, 1, 0}, pattern(8));
  Bytes version6 = inner;
  version6[0] = 0x65;
  Bytes ihl4 = inner;
  ihl4[0] = 0x44;
  const std::vector<Bytes> quotes = {
      {},
      Bytes(inner.begin(), inner.begin() + 19),    // not even an IP header
      Bytes(inner.begin(), inner.begin() + 20),    // no transport bytes
      Bytes(inner.begin(), inner.begin() + 27),    // 7 of the 8 transport bytes
      Bytes(ihl6.begin(), ihl6.begin() + 24 + 7),  // options, then 7 bytes
      version6,
      ihl4,
  };
  for (std::uint8_t type : std::initializer_list<std::uint8_t>{3, 11, 12}) {
    for (std::size_t i = 0; i < quotes.size(); ++i) {
      SCOPED_TRACE(fmt::format("type {} quote {}", type, i));
      expect_drop(ipv4(ip_header(kPeerIp, kStackIp), icmp(type, 0, 0, quotes[i])),
                  "icmp.bad_error");
    }
  }
}

TEST_F(IcmpTest, WellFormedErrorIsReceived) {
  // About an echo request of ours: no transport to tell, nothing to drop.
  const Bytes inner = ipv4(ip_header(kStackIp, kPeerIp, 1), echo_request(1, 1, {}));
  for (std::uint8_t type : std::initializer_list<std::uint8_t>{3, 11, 12}) {
    expect_silently_accepted(ipv4(ip_header(kPeerIp, kStackIp), icmp(type, 1, 0, inner)));
  }
  EXPECT_EQ(n.counter("icmp.error_rx"), 3u);
}

TEST_F(IcmpTest, NeverAnErrorAboutAnError) {
  EXPECT_EQ(n.counter("icmp.error_tx"), 0u);
  // An ICMP error that we could not deliver is not answered with another error, whatever the
  // reason.
  const Bytes inner = ipv4(ip_header(kStackIp, kPeerIp, 6), pattern(8));
  for (std::uint8_t type : std::initializer_list<std::uint8_t>{3, 4, 5, 11, 12}) {
    SCOPED_TRACE(type);
    EXPECT_TRUE(error_about(ipv4(ip_header(kPeerIp, kStackIp), icmp(type, 0, 0, inner))).empty());
  }
  // Informational ICMP is not an error: an error about it is allowed.
  EXPECT_EQ(error_about(ipv4(ip_header(kPeerIp, kStackIp), echo_request(1, 1, {}))).size(), 1u);
}

TEST_F(IcmpTest, NeverAnErrorAboutABroadcastOrMulticast) {
  EXPECT_TRUE(
      error_about(ipv4(ip_header(kPeerIp, Ipv4Address::broadcast(), 17), pattern(8))).empty());
  EXPECT_TRUE(error_about(ipv4(ip_header(kPeerIp, kSubnetBroadcast, 17), pattern(8))).empty());
  EXPECT_TRUE(
      error_about(ipv4(ip_header(kPeerIp, Ipv4Address(224, 0, 0, 251), 17), pattern(8))).empty());
  EXPECT_TRUE(error_about(ipv4(ip_header(kPeerIp, kStackIp, 17), pattern(8)), true).empty());
  EXPECT_EQ(error_about(ipv4(ip_header(kPeerIp, kStackIp, 17), pattern(8))).size(), 1u);
}

TEST_F(IcmpTest, NeverAnErrorAboutANonFirstFragment) {
  EXPECT_TRUE(
      error_about(fragment_at(ip_header(kPeerIp, kStackIp, 17), 8, true, pattern(8))).empty());
  EXPECT_TRUE(
      error_about(fragment_at(ip_header(kPeerIp, kStackIp, 17), 1480, false, pattern(8))).empty());
  EXPECT_EQ(error_about(fragment_at(ip_header(kPeerIp, kStackIp, 17), 0, true, pattern(8))).size(),
            1u);
}

TEST_F(IcmpTest, NeverAnErrorToASourceThatIsNotOneHost) {
  for (Ipv4Address src : {Ipv4Address::any(), Ipv4Address::broadcast(), Ipv4Address(224, 0, 0, 1),
                          Ipv4Address(127, 0, 0, 1), kSubnetBroadcast, Ipv4Address(240, 0, 0, 1)}) {
    SCOPED_TRACE(fmt::format("{}", src));
    EXPECT_TRUE(error_about(ipv4(ip_header(src, kStackIp, 17), pattern(8))).empty());
  }
}

TEST_F(IcmpTest, ErrorsAreRateLimitedByATokenBucket) {
  // A burst of 20 at once ...
  EXPECT_EQ(errors_for(50), 20u);
  EXPECT_EQ(n.counter("icmp.rate_limited"), 30u);
  // ... then 100 a second: one every 10 ms, however the time is sliced.
  std::size_t sent = 0;
  for (int ms = 0; ms < 1000; ++ms) {
    n.advance(1ms);
    sent += errors_for(3);
  }
  EXPECT_EQ(sent, 100u);
  // Idle, the bucket fills up to the burst again, and no further.
  n.advance(10s);
  EXPECT_EQ(errors_for(50), 20u);
}

TEST_F(IcmpTest, RateLimitRefillsAtTheConfiguredRate) {
  EXPECT_EQ(errors_for(20), 20u);
  EXPECT_EQ(errors_for(1), 0u);
  n.advance(9ms);
  EXPECT_EQ(errors_for(1), 0u);
  n.advance(1ms);
  EXPECT_EQ(errors_for(2), 1u);
  n.advance(50ms);
  EXPECT_EQ(errors_for(10), 5u);
  // Steps of 3 ms: 10 errors in 100 ms, 1000 in 10 s.
  std::size_t sent = 0;
  for (int i = 0; i < 3334; ++i) {
    n.advance(3ms);
    sent += errors_for(1);
  }
  EXPECT_EQ(sent, 1000u);
}

}  // namespace
}  // namespace ustack::test

namespace ustack::test {
namespace {

NeighbourOptions rate(double per_second, double burst) {
  NeighbourOptions o;
  o.config.icmp.errors_per_second = per_second;
  o.config.icmp.error_burst = burst;
  return o;
}

class ConfiguredRateTest : public IcmpTest {
 protected:
  explicit ConfiguredRateTest(const NeighbourOptions& options) : IcmpTest(options) {}
};

class FastRateTest : public ConfiguredRateTest {
 protected:
  FastRateTest() : ConfiguredRateTest(rate(1000, 5)) {}
};

TEST_F(FastRateTest, BurstAndRateFollowTheConfiguration) {
  EXPECT_EQ(errors_for(10), 5u);
  n.advance(1ms);
  EXPECT_EQ(errors_for(10), 1u);
  n.advance(3ms);
  EXPECT_EQ(errors_for(10), 3u);
  n.advance(1s);
  EXPECT_EQ(errors_for(10), 5u);
}

class ZeroRateTest : public ConfiguredRateTest {
 protected:
  ZeroRateTest() : ConfiguredRateTest(rate(0, 20)) {}
};

TEST_F(ZeroRateTest, RateZeroSendsNoErrors) {
  EXPECT_EQ(errors_for(5), 0u);
  n.advance(20s);
  EXPECT_EQ(errors_for(5), 0u);
  EXPECT_EQ(n.counter("icmp.rate_limited"), 10u);
  // Echo is not an error and is not limited.
  n.send_ip(echo_from_peer(1, 1, pattern(8)));
  EXPECT_EQ(n.sent_ip().size(), 1u);
}

}  // namespace
}  // namespace ustack::test
