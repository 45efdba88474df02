// IPv4 (RFC 791, RFC 1122 3.2) against a fake neighbour: every malformed header is a counted drop
// with no reply; padding is trimmed; source and destination rules; unknown protocols answered
// with protocol unreachable only when allowed; output routing, fragmentation, IDs and TTL.
#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "support/neighbour.h"

namespace ustack::test {
namespace {

using wire::IcmpType;
using wire::Ipv4Header;

constexpr std::uint16_t kId = 0x4242;
constexpr std::uint16_t kSeq = 7;

Bytes echo_datagram(std::span<const std::uint8_t> data, Ipv4Address dst = kStackIp,
                    Ipv4Address src = kPeerIp) {
  return ipv4(ip_header(src, dst), echo_request(kId, kSeq, data));
}

// Checks that `d` is the echo reply to echo_datagram(data) sent to `request_dst`.
void expect_echo_reply(const IpDatagram& d, std::span<const std::uint8_t> data,
                       Ipv4Address reply_src = kStackIp) {
  EXPECT_EQ(d.eth_dst, kPeerMac);
  EXPECT_EQ(d.ip.src, reply_src);
  EXPECT_EQ(d.ip.dst, kPeerIp);
  EXPECT_EQ(d.ip.protocol, 1);
  EXPECT_NE(d.ip.ttl, 0);
  EXPECT_EQ(d.ip.header_length, 20);
  EXPECT_EQ(d.ip.total_length, 20 + 8 + data.size());
  Bytes expected = icmp(0, 0, wire::IcmpHeader::echo_rest(kId, kSeq), data);
  EXPECT_EQ(d.payload, expected);
}

class Ipv4Test : public ::testing::Test {
 protected:
  explicit Ipv4Test(const NeighbourOptions& options = {}) : n(options) { n.resolve_peer(); }

  // Sends `datagram` and checks it was dropped for `reason` alone, with nothing sent back and no
  // state kept.
  void expect_drop(const Bytes& datagram, const std::string& reason, MacAddress dst = kStackMac) {
    const CounterMap before = counters(n.stats());
    n.send_ip(datagram, dst);
    EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{reason, 1}}));
    EXPECT_TRUE(n.sent().empty());
    EXPECT_EQ(n.stack().ipv4().reassembler().datagrams(), 0u);
    EXPECT_EQ(n.stack().arp().size(), 1u);
  }

  // Sends `datagram` and returns the one datagram sent back.
  std::optional<IpDatagram> exchange(const Bytes& datagram, MacAddress dst = kStackMac) {
    n.send_ip(datagram, dst);
    auto out = n.sent_ip();
    EXPECT_EQ(out.size(), 1u);
    if (out.size() != 1) return std::nullopt;
    return out[0];
  }

  Neighbour n;
};

// ---------------------------------------------------------------------------------------------
// Malformed headers

TEST_F(Ipv4Test, ValidEchoIsAnswered) {
  auto reply = exchange(echo_datagram(pattern(56)));
  ASSERT_TRUE(reply);
  expect_echo_reply(*reply, pattern(56));
}

TEST_F(Ipv4Test, ShorterThanAHeaderIsDropped) {
  const Bytes d = echo_datagram(pattern(8));
  for (std::size_t size : {0u, 1u, 19u}) {
    SCOPED_TRACE(size);
    expect_drop(Bytes(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(size)), "ip.short");
  }
}

TEST_F(Ipv4Test, BadVersionIsDropped) {
  for (std::uint8_t version : std::initializer_list<std::uint8_t>{0, 5, 6, 15}) {
    SCOPED_TRACE(version);
    Bytes d = echo_datagram(pattern(8));
    d[0] = static_cast<std::uint8_t>((version << 4) | 5);
    fix_ip_checksum(d);
    expect_drop(d, "ip.bad_version");
  }
}

TEST_F(Ipv4Test, HeaderLengthBelowFiveIsDropped) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    SCOPED_TRACE(ihl);
    Bytes d = echo_datagram(pattern(8));
    d[0] = static_cast<std::uint8_t>(0x40 | ihl);
    fix_ip_checksum(d);
    expect_drop(d, "ip.bad_header_length");
  }
}

TEST_F(Ipv4Test, HeaderLengthPastTheFrameIsDropped) {
  Bytes d = echo_datagram({});  // 28 bytes
  d[0] = 0x4f;                  // claims 60
  fix_ip_checksum(d);
  expect_drop(d, "ip.bad_header_length");
}

TEST_F(Ipv4Test, TotalLengthShorterThanTheHeaderIsDropped) {
  for (std::uint16_t total : std::initializer_list<std::uint16_t>{0, 1, 19}) {
    SCOPED_TRACE(total);
    Bytes d = echo_datagram(pattern(8));
    wire::store_be16(&d[2], total);
    fix_ip_checksum(d);
    expect_drop(d, "ip.bad_total_length");
  }
  // With options: 24-byte header, total length 23.
  Bytes d = ipv4_with_options(ip_header(kPeerIp, kStackIp), Bytes{1, 1, 1, 0},
                              echo_request(kId, kSeq, {}));
  wire::store_be16(&d[2], 23);
  fix_ip_checksum(d);
  expect_drop(d, "ip.bad_total_length");
}

TEST_F(Ipv4Test, TotalLengthPastTheFrameIsDropped) {
  for (std::uint16_t extra : std::initializer_list<std::uint16_t>{1, 100, 0xffff - 36}) {
    SCOPED_TRACE(extra);
    Bytes d = echo_datagram(pattern(8));  // 36 bytes
    wire::store_be16(&d[2], static_cast<std::uint16_t>(36 + extra));
    fix_ip_checksum(d);
    expect_drop(d, "ip.truncated");
  }
}

TEST_F(Ipv4Test, BadHeaderChecksumIsDropped) {
  Bytes d = echo_datagram(pattern(8));
  d[10] ^= 0x01;
  expect_drop(d, "ip.bad_checksum");
  d = echo_datagram(pattern(8));
  d[8] = 1;  // TTL changed, checksum not
  expect_drop(d, "ip.bad_checksum");
}

TEST_F(Ipv4Test, MalformedOptionsAreDroppedWithoutLooping) {
  const std::vector<Bytes> options = {
      {0x07, 0x00, 0x00, 0x00},  // length 0 (would loop forever)
      {0x07, 0x01, 0x00, 0x00},  // length 1 (would loop forever)
      {0x07, 0x08, 0x00, 0x00},  // length past the header
      {0x01, 0x01, 0x01, 0x07},  // a kind with no room for its length byte
      {0x44, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
  };
  for (const Bytes& o : options) {
    SCOPED_TRACE(fmt::format("{:#04x} {:#04x}", o[0], o[1]));
    expect_drop(ipv4_with_options(ip_header(kPeerIp, kStackIp), o, echo_request(kId, kSeq, {})),
                "ip.bad_options");
  }
}

TEST_F(Ipv4Test, WellFormedOptionsAreSkipped) {
  const std::vector<Bytes> options = {
      {0x01, 0x01, 0x01, 0x00},                          // NOPs and end of list
      {0x94, 0x04, 0x00, 0x00},                          // router alert
      {0x07, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00},  // record route, one slot
      {0x00, 0x07, 0x00, 0x00},                          // end of list, then junk
      {0x99, 0x02, 0x01, 0x00},                          // unknown kind, length 2
  };
  for (const Bytes& o : options) {
    SCOPED_TRACE(fmt::format("{:#04x} {:#04x}", o[0], o[1]));
    auto reply = exchange(
        ipv4_with_options(ip_header(kPeerIp, kStackIp), o, echo_request(kId, kSeq, pattern(20))));
    ASSERT_TRUE(reply);
    expect_echo_reply(*reply, pattern(20));  // the reply carries no options
  }
}

TEST_F(Ipv4Test, FragmentPastTheLargestDatagramIsDropped) {
  // Offset 65528 + 20 header bytes + 16 data bytes > 65535: the ping of death.
  expect_drop(fragment_at(ip_header(kPeerIp, kStackIp), 65528, false, pattern(16)),
              "ip.frag_bad_offset");
  expect_drop(fragment_at(ip_header(kPeerIp, kStackIp), 65512, true, pattern(16)),
              "ip.frag_bad_offset");
}

// ---------------------------------------------------------------------------------------------
// Padding, sources, destinations, TTL

TEST_F(Ipv4Test, EthernetPaddingIsTrimmed) {
  Bytes d = echo_datagram({});  // 28 bytes: the frame is 42, padded to 60
  Bytes padded = d;
  padded.resize(46, 0xaa);
  auto reply = exchange(padded);
  ASSERT_TRUE(reply);
  expect_echo_reply(*reply, {});
  EXPECT_EQ(reply->ip.total_length, 28);

  // 10 data bytes, padding of junk.
  d = echo_datagram(pattern(10));
  padded = d;
  padded.resize(46, 0x55);
  reply = exchange(padded);
  ASSERT_TRUE(reply);
  expect_echo_reply(*reply, pattern(10));
}

TEST_F(Ipv4Test, InvalidSourceIsDropped) {
  for (Ipv4Address src :
       {Ipv4Address::broadcast(), Ipv4Address(224, 0, 0, 1), Ipv4Address(239, 255, 255, 250),
        Ipv4Address::any(), Ipv4Address(127, 0, 0, 1), Ipv4Address(127, 255, 255, 254), kStackIp,
        kSubnetBroadcast, Ipv4Address(240, 0, 0, 1)}) {
    SCOPED_TRACE(fmt::format("{}", src));
    expect_drop(echo_datagram(pattern(8), kStackIp, src), "ip.bad_source");
  }
}

TEST_F(Ipv4Test, DestinationNotOursIsDropped) {
  for (Ipv4Address dst :
       {Ipv4Address(10, 0, 0, 3), Ipv4Address(10, 0, 1, 2), Ipv4Address(8, 8, 8, 8),
        Ipv4Address(224, 0, 0, 1), Ipv4Address::any(), Ipv4Address(10, 0, 0, 0)}) {
    SCOPED_TRACE(fmt::format("{}", dst));
    expect_drop(echo_datagram(pattern(8), dst), "ip.not_for_us");
  }
}

TEST_F(Ipv4Test, BroadcastDestinationsReachIcmp) {
  for (Ipv4Address dst : {Ipv4Address::broadcast(), kSubnetBroadcast}) {
    SCOPED_TRACE(fmt::format("{}", dst));
    // Accepted by IP and handed to ICMP, which ignores broadcast echoes by default.
    expect_drop(echo_datagram(pattern(8), dst), "icmp.broadcast_echo", MacAddress::broadcast());
  }
}

class BroadcastEchoIpv4Test : public Ipv4Test {
 protected:
  static NeighbourOptions options() {
    NeighbourOptions o;
    o.config.icmp.answer_broadcast_echo = true;
    return o;
  }
  BroadcastEchoIpv4Test() : Ipv4Test(options()) {}
};

TEST_F(BroadcastEchoIpv4Test, SubnetAndLimitedBroadcastAreAccepted) {
  for (Ipv4Address dst : {Ipv4Address::broadcast(), kSubnetBroadcast}) {
    SCOPED_TRACE(fmt::format("{}", dst));
    auto reply = exchange(echo_datagram(pattern(8), dst), MacAddress::broadcast());
    ASSERT_TRUE(reply);
    expect_echo_reply(*reply, pattern(8));  // from our own address, never a broadcast
  }
}

TEST_F(Ipv4Test, TtlZeroAndOneToUsAreAccepted) {
  for (std::uint8_t ttl : std::initializer_list<std::uint8_t>{0, 1}) {
    SCOPED_TRACE(ttl);
    wire::Ipv4Header h = ip_header(kPeerIp, kStackIp);
    h.ttl = ttl;
    auto reply = exchange(ipv4(h, echo_request(kId, kSeq, pattern(8))));
    ASSERT_TRUE(reply);
    expect_echo_reply(*reply, pattern(8));
    EXPECT_EQ(reply->ip.ttl, 64);
  }
}

// ---------------------------------------------------------------------------------------------
// Unknown protocols

TEST_F(Ipv4Test, UnknownProtocolGetsProtocolUnreachable) {
  const Bytes datagram = ipv4(ip_header(kPeerIp, kStackIp, 99), pattern(12));
  const CounterMap before = counters(n.stats());
  auto error = exchange(datagram);
  ASSERT_TRUE(error);
  EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{"ip.unknown_protocol", 1}}));
  EXPECT_EQ(error->ip.src, kStackIp);
  EXPECT_EQ(error->ip.dst, kPeerIp);
  EXPECT_EQ(error->ip.protocol, 1);
  // Type 3 code 2, unused word, then the whole offending datagram (header + payload).
  EXPECT_EQ(error->payload, icmp(3, 2, 0, datagram));
  EXPECT_EQ(n.counter("icmp.error_tx"), 1u);
}

TEST_F(Ipv4Test, ProtocolUnreachableQuotesAtMost576Bytes) {
  const Bytes datagram = ipv4(ip_header(kPeerIp, kStackIp, 99), pattern(1000));
  auto error = exchange(datagram);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->ip.total_length, 576);
  EXPECT_EQ(error->payload, icmp(3, 2, 0, std::span(datagram).first(576 - 28)));
}

TEST_F(Ipv4Test, UnknownProtocolToABroadcastGetsNoError) {
  for (Ipv4Address dst : {Ipv4Address::broadcast(), kSubnetBroadcast}) {
    expect_drop(ipv4(ip_header(kPeerIp, dst, 99), pattern(12)), "ip.unknown_protocol",
                MacAddress::broadcast());
  }
  // Our own address in a link-layer broadcast.
  expect_drop(ipv4(ip_header(kPeerIp, kStackIp, 99), pattern(12)), "ip.unknown_protocol",
              MacAddress::broadcast());
}

TEST_F(Ipv4Test, NonFirstFragmentOfAnUnknownProtocolGetsNoError) {
  n.send_ip(fragment_at(ip_header(kPeerIp, kStackIp, 99), 1480, true, pattern(16)));
  n.send_ip(fragment_at(ip_header(kPeerIp, kStackIp, 99), 1496, false, pattern(16)));
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(n.counter("ip.unknown_protocol"), 0u);
  n.run_for(31s, 1s);  // and none when reassembly times out without the first fragment
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(n.counter("ip.frag_timeout"), 1u);
}

TEST_F(Ipv4Test, ReassembledUnknownProtocolQuotesTheWholeDatagramHeader) {
  const Bytes payload = pattern(64);
  auto fragments = fragment(ip_header(kPeerIp, kStackIp, 99), payload, 32);
  for (const Bytes& f : fragments) n.send_ip(f);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& error = out[0].payload;
  ASSERT_GE(error.size(), 8u + 20u);
  EXPECT_EQ(error[0], 3);
  EXPECT_EQ(error[1], 2);
  auto quoted = Ipv4Header::parse(std::span(error).subspan(8));
  ASSERT_TRUE(quoted);
  EXPECT_FALSE(quoted->is_fragment());
  EXPECT_EQ(quoted->total_length, 20 + 64);
  EXPECT_EQ(Bytes(error.begin() + 28, error.end()), payload);
}

// ---------------------------------------------------------------------------------------------
// Output: routing, fragmentation, IDs, TTL

TEST_F(Ipv4Test, LargeDatagramIsFragmentedByTheMtu) {
  const Bytes data = pattern(4000);
  ASSERT_EQ(n.stack().icmp().send_echo_request(kPeerIp, kId, kSeq, data), 0);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 3u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_LE(out[i].ip.total_length, 1500);
    EXPECT_EQ(out[i].ip.fragment_offset % 8, 0);
    EXPECT_EQ(out[i].ip.more_fragments, i + 1 < out.size());
    EXPECT_FALSE(out[i].ip.dont_fragment);
    EXPECT_EQ(out[i].ip.identification, out[0].ip.identification);
    EXPECT_EQ(out[i].ip.src, kStackIp);
    EXPECT_EQ(out[i].ip.dst, kPeerIp);
    EXPECT_EQ(out[i].ip.protocol, 1);
    EXPECT_EQ(out[i].eth_dst, kPeerMac);
  }
  EXPECT_EQ(out[0].ip.total_length, 1500);
  EXPECT_EQ(out[1].ip.fragment_offset, 1480);
  auto whole = reassemble(out);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, echo_request(kId, kSeq, data));
  EXPECT_EQ(n.counter("ip.frag_tx"), 3u);
}

TEST_F(Ipv4Test, LargestDatagramIsFragmentedAndReassemblesToTheOriginal) {
  const Bytes data = pattern(65507);
  ASSERT_EQ(n.stack().icmp().send_echo_request(kPeerIp, kId, kSeq, data), 0);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 45u);
  auto whole = reassemble(out);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, echo_request(kId, kSeq, data));
}

class SmallMtuTest : public Ipv4Test, public ::testing::WithParamInterface<std::size_t> {
 protected:
  static NeighbourOptions options(std::size_t mtu) {
    NeighbourOptions o;
    o.mtu = mtu;
    return o;
  }
  SmallMtuTest() : Ipv4Test(options(GetParam())) {}
};

TEST_P(SmallMtuTest, FragmentsFitTheMtuAndReassemble) {
  const std::size_t mtu = GetParam();
  for (std::size_t size : {0u, 1u, 100u, 1000u, 5000u}) {
    SCOPED_TRACE(size);
    const Bytes data = pattern(size, static_cast<std::uint32_t>(size));
    ASSERT_EQ(n.stack().icmp().send_echo_request(kPeerIp, kId, kSeq, data), 0);
    auto out = n.sent_ip();
    ASSERT_FALSE(out.empty());
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_LE(out[i].ip.total_length, mtu);
      if (i + 1 < out.size()) {
        EXPECT_EQ(out[i].payload.size() % 8, 0u);
      }
    }
    if (out.size() > 1) {
      auto whole = reassemble(out);
      ASSERT_TRUE(whole);
      EXPECT_EQ(*whole, echo_request(kId, kSeq, data));
    } else {
      EXPECT_EQ(out[0].payload, echo_request(kId, kSeq, data));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Mtus, SmallMtuTest, ::testing::Values(68, 576, 1000, 1006, 9000));

TEST_F(Ipv4Test, DontFragmentAndTooBigIsRefused) {
  ip::Ipv4OutputParams params;
  params.dst = kPeerIp;
  params.dont_fragment = true;
  Packet too_big = Packet::copy_of(pattern(1481));
  EXPECT_EQ(n.stack().ipv4().output(std::move(too_big), params), EMSGSIZE);
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(n.counter("ip.too_big"), 1u);

  Packet fits = Packet::copy_of(pattern(1480));
  EXPECT_EQ(n.stack().ipv4().output(std::move(fits), params), 0);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ip.dont_fragment);
  EXPECT_EQ(out[0].ip.total_length, 1500);
}

TEST_F(Ipv4Test, DatagramOverTheLargestSizeIsRefused) {
  ip::Ipv4OutputParams params;
  params.dst = kPeerIp;
  EXPECT_EQ(n.stack().ipv4().output(Packet::copy_of(pattern(65516)), params), EMSGSIZE);
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(n.stack().ipv4().output(Packet::copy_of(pattern(65515)), params), 0);
  EXPECT_EQ(n.sent().size(), 45u);
}

TEST_F(Ipv4Test, NoRouteIsRefused) {
  EXPECT_EQ(n.stack().icmp().send_echo_request(Ipv4Address(192, 168, 1, 1), kId, kSeq, {}),
            ENETUNREACH);
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(n.counter("ip.no_route"), 1u);
}

class GatewayTest : public Ipv4Test {
 protected:
  static NeighbourOptions options() {
    NeighbourOptions o;
    o.gateway = Ipv4Address(10, 0, 0, 254);
    return o;
  }
  GatewayTest() : Ipv4Test(options()) {}
};

TEST_F(GatewayTest, OffLinkDestinationGoesThroughTheGateway) {
  const Ipv4Address far(192, 168, 1, 1);
  ASSERT_EQ(n.stack().icmp().send_echo_request(far, kId, kSeq, pattern(8)), 0);
  auto requests = n.sent_arp();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target_ip, Ipv4Address(10, 0, 0, 254));
  n.send_arp(
      arp_packet(wire::ArpOp::reply, kOtherMac, Ipv4Address(10, 0, 0, 254), kStackMac, kStackIp),
      kStackMac, kOtherMac);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].eth_dst, kOtherMac);
  EXPECT_EQ(out[0].ip.dst, far);
  // On-link destinations still go direct.
  ASSERT_EQ(n.stack().icmp().send_echo_request(kPeerIp, kId, kSeq, pattern(8)), 0);
  out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].eth_dst, kPeerMac);
}

TEST_F(GatewayTest, OffLinkSourceIsAnsweredThroughTheGateway) {
  n.send_arp(arp_packet(wire::ArpOp::request, kOtherMac, Ipv4Address(10, 0, 0, 254), {}, kStackIp),
             MacAddress::broadcast(), kOtherMac);
  n.sent();
  auto reply = exchange(echo_datagram(pattern(8), kStackIp, Ipv4Address(8, 8, 8, 8)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->eth_dst, kOtherMac);
  EXPECT_EQ(reply->ip.dst, Ipv4Address(8, 8, 8, 8));
}

TEST_F(Ipv4Test, IdentificationsDifferBetweenDatagrams) {
  std::set<std::uint16_t> ids;
  for (std::uint16_t i = 0; i < 100; ++i) {
    ASSERT_EQ(n.stack().icmp().send_echo_request(kPeerIp, kId, i, pattern(8)), 0);
  }
  for (const IpDatagram& d : n.sent_ip()) ids.insert(d.ip.identification);
  EXPECT_EQ(ids.size(), 100u);
}

TEST_F(Ipv4Test, TtlIsTheDefaultOrTheOneAskedFor) {
  ip::Ipv4OutputParams params;
  params.dst = kPeerIp;
  ASSERT_EQ(n.stack().ipv4().output(Packet::copy_of(pattern(8)), params), 0);
  params.ttl = 1;
  ASSERT_EQ(n.stack().ipv4().output(Packet::copy_of(pattern(8)), params), 0);
  params.ttl = 255;
  ASSERT_EQ(n.stack().ipv4().output(Packet::copy_of(pattern(8)), params), 0);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].ip.ttl, 64);
  EXPECT_EQ(out[1].ip.ttl, 1);
  EXPECT_EQ(out[2].ip.ttl, 255);
}

class ZeroTtlConfigTest : public Ipv4Test {
 protected:
  static NeighbourOptions options() {
    NeighbourOptions o;
    o.config.ipv4.default_ttl = 0;
    return o;
  }
  ZeroTtlConfigTest() : Ipv4Test(options()) {}
};

TEST_F(ZeroTtlConfigTest, NeverSendsTtlZero) {
  ASSERT_EQ(n.stack().icmp().send_echo_request(kPeerIp, kId, kSeq, pattern(3000)), 0);
  n.send_ip(echo_datagram(pattern(8)));
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 4u);
  for (const IpDatagram& d : out) EXPECT_NE(d.ip.ttl, 0);
}

class TinyMtuTest : public Ipv4Test, public ::testing::WithParamInterface<std::size_t> {
 protected:
  static NeighbourOptions options(std::size_t mtu) {
    NeighbourOptions o;
    o.mtu = mtu;
    return o;
  }
  TinyMtuTest() : Ipv4Test(options(GetParam())) {}
};

// A link whose MTU cannot carry 8 bytes of payload per fragment: refused, never a hang.
TEST_P(TinyMtuTest, DatagramsThatCannotBeFragmentedAreRefused) {
  EXPECT_EQ(n.stack().icmp().send_echo_request(kPeerIp, kId, kSeq, pattern(100)), EMSGSIZE);
  EXPECT_TRUE(n.sent().empty());
}

INSTANTIATE_TEST_SUITE_P(Mtus, TinyMtuTest, ::testing::Values(0, 1, 20, 27));

TEST_F(Ipv4Test, DatagramToOurselvesIsLoopedBackWithoutTheWire) {
  ASSERT_EQ(n.stack().icmp().send_echo_request(kStackIp, kId, kSeq, pattern(3000)), 0);
  for (int i = 0; i < 3; ++i) n.poll();
  EXPECT_TRUE(n.sent().empty());
  auto reply = n.stack().icmp().take_echo_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->from, kStackIp);
  EXPECT_EQ(reply->id, kId);
  EXPECT_EQ(reply->sequence, kSeq);
  EXPECT_EQ(reply->data, pattern(3000));
}

}  // namespace
}  // namespace ustack::test
