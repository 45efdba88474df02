// ARP (RFC 826, RFC 1122 2.3.2) against a fake neighbour: answering, learning only what may be
// learned, resolving with a bounded queue, one request per second, giving up, expiry, refresh,
// the cache bound, conflicts and the announcement at start — all in ManualClock time.
#include <gtest/gtest.h>

#include <map>

#include "support/neighbour.h"

namespace ustack::test {
namespace {

using wire::ArpOp;
using wire::ArpPacket;
using wire::EthernetHeader;
using wire::EtherType;

ArpPacket request_from_peer(Ipv4Address target, MacAddress mac = kPeerMac,
                            Ipv4Address ip = kPeerIp) {
  return arp_packet(ArpOp::request, mac, ip, MacAddress{}, target);
}

ArpPacket reply_from_peer(MacAddress mac = kPeerMac, Ipv4Address ip = kPeerIp) {
  return arp_packet(ArpOp::reply, mac, ip, kStackMac, kStackIp);
}

// The echo sequence number of an ICMP echo request the stack sent.
std::uint16_t echo_seq(const IpDatagram& d) {
  return static_cast<std::uint16_t>((d.payload.at(6) << 8) | d.payload.at(7));
}

class ArpTest : public ::testing::Test {
 protected:
  explicit ArpTest(NeighbourOptions options = {}) : n(options) {}

  void ping_peer(std::uint16_t seq, Ipv4Address to = kPeerIp) {
    ASSERT_EQ(n.stack().icmp().send_echo_request(to, 7, seq, pattern(8, seq)), 0);
  }

  void expect_drop(const ArpPacket& arp, const std::string& reason) {
    expect_drop_bytes(arp_bytes(arp), reason);
  }
  void expect_drop_bytes(const Bytes& payload, const std::string& reason) {
    const CounterMap before = counters(n.stats());
    const std::size_t entries = n.stack().arp().size();
    n.send(ethernet(MacAddress::broadcast(), kPeerMac, EtherType::arp, payload));
    EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{reason, 1}}));
    EXPECT_TRUE(n.sent().empty());
    EXPECT_EQ(n.stack().arp().size(), entries);
  }

  std::optional<MacAddress> lookup(Ipv4Address ip) { return n.stack().arp().lookup(n.iface(), ip); }

  Neighbour n;
};

TEST_F(ArpTest, AnswersARequestForOurAddress) {
  n.send_arp(request_from_peer(kStackIp));
  std::vector<EthernetHeader> eth;
  auto replies = n.sent_arp(&eth);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(eth[0].dst, kPeerMac);
  EXPECT_EQ(eth[0].src, kStackMac);
  EXPECT_EQ(replies[0].op, ArpOp::reply);
  EXPECT_EQ(replies[0].sender_mac, kStackMac);
  EXPECT_EQ(replies[0].sender_ip, kStackIp);
  EXPECT_EQ(replies[0].target_mac, kPeerMac);
  EXPECT_EQ(replies[0].target_ip, kPeerIp);
  EXPECT_EQ(n.counter("arp.tx_reply"), 1u);
}

TEST_F(ArpTest, ReplyIsByteExact) {
  n.send_arp(request_from_peer(kStackIp));
  auto frames = n.sent();
  ASSERT_EQ(frames.size(), 1u);
  const Bytes expected = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
                          0x00, 0x02, 0x08, 0x06,                                    // eth
                          0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,            // reply
                          0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10,   0,    0,    2,   // us
                          0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10,   0,    0,    1};  // peer
  EXPECT_EQ(Bytes(frames[0].bytes().begin(), frames[0].bytes().end()), expected);
}

TEST_F(ArpTest, AcceptsEthernetPadding) {
  Bytes payload = arp_bytes(request_from_peer(kStackIp));
  payload.resize(46, 0);  // a 60-byte frame
  n.send(ethernet(MacAddress::broadcast(), kPeerMac, EtherType::arp, payload));
  EXPECT_EQ(n.sent_arp().size(), 1u);
}

TEST_F(ArpTest, LearnsFromARequestAimedAtUs) {
  n.send_arp(request_from_peer(kStackIp));
  n.sent();
  EXPECT_EQ(lookup(kPeerIp), kPeerMac);
  // So talking back needs no request of our own.
  ping_peer(1);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].eth_dst, kPeerMac);
  EXPECT_EQ(n.counter("arp.tx_request"), 1u);  // the announcement only
}

TEST_F(ArpTest, DoesNotLearnFromARequestForAnotherAddress) {
  expect_drop(request_from_peer(Ipv4Address(10, 0, 0, 9)), "arp.not_for_us");
  EXPECT_FALSE(lookup(kPeerIp));
  EXPECT_EQ(n.stack().arp().size(), 0u);
}

TEST_F(ArpTest, UnsolicitedReplyCreatesNoEntry) {
  n.send_arp(reply_from_peer(), kStackMac);
  EXPECT_TRUE(n.sent().empty());
  EXPECT_FALSE(lookup(kPeerIp));
  EXPECT_EQ(n.stack().arp().size(), 0u);
  // Nor a gratuitous reply to everyone.
  n.send_arp(arp_packet(ArpOp::reply, kPeerMac, kPeerIp, MacAddress::broadcast(), kPeerIp));
  EXPECT_EQ(n.stack().arp().size(), 0u);
}

TEST_F(ArpTest, ReplyToOurRequestResolvesAndFlushesThePendingQueueInOrder) {
  ping_peer(1);
  ping_peer(2);
  ping_peer(3);
  std::vector<EthernetHeader> eth;
  auto requests = n.sent_arp(&eth);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(eth[0].dst, MacAddress::broadcast());
  EXPECT_EQ(requests[0].op, ArpOp::request);
  EXPECT_EQ(requests[0].sender_mac, kStackMac);
  EXPECT_EQ(requests[0].sender_ip, kStackIp);
  EXPECT_EQ(requests[0].target_mac, MacAddress{});
  EXPECT_EQ(requests[0].target_ip, kPeerIp);
  EXPECT_FALSE(lookup(kPeerIp));

  n.send_arp(reply_from_peer(), kStackMac);
  EXPECT_EQ(lookup(kPeerIp), kPeerMac);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 3u);
  for (std::uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].eth_dst, kPeerMac);
    EXPECT_EQ(echo_seq(out[i]), i + 1);
  }
}

TEST_F(ArpTest, ShortPacketIsDropped) {
  Bytes arp = arp_bytes(request_from_peer(kStackIp));
  for (std::size_t size : {0u, 1u, 8u, 27u}) {
    SCOPED_TRACE(size);
    expect_drop_bytes(Bytes(arp.begin(), arp.begin() + static_cast<std::ptrdiff_t>(size)),
                      "arp.short");
  }
}

TEST_F(ArpTest, BadFormatIsDropped) {
  const Bytes good = arp_bytes(request_from_peer(kStackIp));
  struct Case {
    std::size_t at;
    std::uint8_t value;
  };
  for (Case c : {Case{1, 6},                  // htype 6 (IEEE 802)
                 Case{0, 1},                  // htype 0x0101
                 Case{2, 0x86},               // ptype 0x8600
                 Case{3, 0x06},               // ptype 0x0806
                 Case{4, 8}, Case{4, 0},      // hlen
                 Case{5, 16}, Case{5, 0}}) {  // plen
    SCOPED_TRACE(c.at);
    Bytes bad = good;
    bad[c.at] = c.value;
    expect_drop_bytes(bad, "arp.bad_format");
  }
}

TEST_F(ArpTest, BadOperationIsDropped) {
  Bytes bad = arp_bytes(request_from_peer(kStackIp));
  for (std::uint16_t op : std::initializer_list<std::uint16_t>{0, 3, 4, 0x0101, 0xffff}) {
    SCOPED_TRACE(op);
    wire::store_be16(&bad[6], op);
    expect_drop_bytes(bad, "arp.bad_op");
  }
}

TEST_F(ArpTest, GroupOrBroadcastSenderIsNeverLearned) {
  expect_drop(request_from_peer(kStackIp, MacAddress::broadcast()), "arp.bad_sender");
  expect_drop(request_from_peer(kStackIp, MacAddress{0x01, 0x00, 0x5e, 0, 0, 1}), "arp.bad_sender");
  expect_drop(request_from_peer(kStackIp, MacAddress{}), "arp.bad_sender");
  expect_drop(request_from_peer(kStackIp, kPeerMac, Ipv4Address::broadcast()), "arp.bad_sender");
  expect_drop(request_from_peer(kStackIp, kPeerMac, Ipv4Address(224, 0, 0, 1)), "arp.bad_sender");
}

TEST_F(ArpTest, ProbeIsAnsweredButNotLearned) {
  // RFC 5227 probe: sender IP 0.0.0.0.
  n.send_arp(request_from_peer(kStackIp, kPeerMac, Ipv4Address::any()));
  std::vector<EthernetHeader> eth;
  auto replies = n.sent_arp(&eth);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(eth[0].dst, kPeerMac);
  EXPECT_EQ(replies[0].sender_ip, kStackIp);
  EXPECT_EQ(n.stack().arp().size(), 0u);
}

TEST_F(ArpTest, KnownSenderIsUpdatedEvenWhenNotTheTarget) {
  // RFC 826 "merge": a sender already in the table is updated by any packet it sends.
  n.resolve_peer();
  n.send_arp(request_from_peer(Ipv4Address(10, 0, 0, 9), kOtherMac));
  EXPECT_EQ(lookup(kPeerIp), kOtherMac);
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(ArpTest, AddressConflictIsCountedAndNotLearned) {
  n.send_arp(arp_packet(ArpOp::request, kOtherMac, kStackIp, MacAddress{}, kStackIp));
  n.send_arp(arp_packet(ArpOp::reply, kOtherMac, kStackIp, kStackMac, kStackIp), kStackMac,
             kOtherMac);
  EXPECT_EQ(n.counter("arp.address_conflict"), 2u);
  EXPECT_FALSE(lookup(kStackIp));
  EXPECT_EQ(n.stack().arp().size(), 0u);
  EXPECT_TRUE(n.sent().empty());
  // We keep our address: a request for it is still answered with our MAC.
  n.send_arp(request_from_peer(kStackIp));
  auto replies = n.sent_arp();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].sender_mac, kStackMac);
}

TEST_F(ArpTest, OurOwnAnnouncementHeardBackIsIgnored) {
  const CounterMap before = counters(n.stats());
  n.send_arp(arp_packet(ArpOp::request, kStackMac, kStackIp, MacAddress{}, kStackIp),
             MacAddress::broadcast(), kStackMac);
  EXPECT_EQ(drops_since(before, n.stats()), CounterMap{});
  EXPECT_TRUE(n.sent().empty());
  EXPECT_EQ(n.stack().arp().size(), 0u);
}

TEST_F(ArpTest, GratuitousAnnouncementAtAddInterface) {
  auto& frames = n.startup_frames();
  ASSERT_EQ(frames.size(), 1u);
  EthernetHeader eth;
  auto arp = decode_arp(frames[0].bytes(), &eth);
  ASSERT_TRUE(arp);
  EXPECT_EQ(eth.dst, MacAddress::broadcast());
  EXPECT_EQ(eth.src, kStackMac);
  EXPECT_EQ(arp->op, ArpOp::request);
  EXPECT_EQ(arp->sender_mac, kStackMac);
  EXPECT_EQ(arp->sender_ip, kStackIp);
  EXPECT_EQ(arp->target_ip, kStackIp);
  EXPECT_EQ(arp->target_mac, MacAddress{});
}

// A flood of datagrams to an address nobody answers for: one broadcast request per second, a
// bounded queue that keeps the latest, and after max_requests the waiting datagrams are dropped.
TEST_F(ArpTest, FloodToAnUnresolvedAddressSendsOneRequestPerSecondThenGivesUp) {
  const Instant start = n.now();
  std::vector<Duration> request_times;
  auto collect = [&] {
    for (const Packet& p : n.sent()) {
      EthernetHeader eth;
      auto arp = decode_arp(p.bytes(), &eth);
      ASSERT_TRUE(arp) << "only ARP may leave while the address is unresolved";
      EXPECT_EQ(arp->target_ip, kPeerIp);
      EXPECT_EQ(eth.dst, MacAddress::broadcast());
      request_times.push_back(n.now() - start);
    }
  };
  for (int step = 0; step < 300; ++step) {  // 10 ms steps, a datagram every 30 ms
    if (step % 3 == 0) ping_peer(static_cast<std::uint16_t>(step / 3));
    collect();
    n.advance(10ms);
    collect();
  }
  // 100 datagrams took 3 s; the queue holds 16 of them.
  EXPECT_EQ(n.counter("arp.queue_overflow"), 84u);
  EXPECT_EQ(n.counter("arp.unresolved"), 16u);
  EXPECT_EQ(request_times, (std::vector<Duration>{0s, 1s, 2s}));
  EXPECT_FALSE(lookup(kPeerIp));
  EXPECT_EQ(n.stack().arp().size(), 0u);

  // Nothing more happens on its own.
  n.run_for(10s, 100ms);
  collect();
  EXPECT_EQ(request_times.size(), 3u);
  EXPECT_EQ(n.stack().next_deadline(), kNever);
}

TEST_F(ArpTest, PendingQueueKeepsTheLatestDatagrams) {
  for (std::uint16_t i = 0; i < 100; ++i) ping_peer(i);
  EXPECT_EQ(n.sent_arp().size(), 1u);
  EXPECT_EQ(n.counter("arp.queue_overflow"), 84u);
  n.send_arp(reply_from_peer(), kStackMac);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 16u);
  for (std::uint16_t i = 0; i < 16; ++i) EXPECT_EQ(echo_seq(out[i]), 84 + i);
}

TEST_F(ArpTest, ResolutionStartsAgainAfterGivingUp) {
  ping_peer(1);
  n.run_for(3s);
  EXPECT_EQ(n.sent_arp().size(), 3u);
  EXPECT_EQ(n.counter("arp.unresolved"), 1u);
  ping_peer(2);
  EXPECT_EQ(n.sent_arp().size(), 1u);
  n.send_arp(reply_from_peer(), kStackMac);
  auto out = n.sent_ip();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(echo_seq(out[0]), 2);
}

TEST_F(ArpTest, LateReplyAfterGivingUpCreatesNoEntry) {
  ping_peer(1);
  n.run_for(3s);
  n.sent();
  n.send_arp(reply_from_peer(), kStackMac);
  EXPECT_FALSE(lookup(kPeerIp));
  EXPECT_TRUE(n.sent().empty());
}

TEST_F(ArpTest, EntryExpiresAfterReachableTime) {
  n.resolve_peer();
  n.advance(60s - 10ms);
  EXPECT_EQ(lookup(kPeerIp), kPeerMac);
  n.advance(10ms);
  EXPECT_FALSE(lookup(kPeerIp));
  EXPECT_EQ(n.counter("arp.expired"), 1u);
  EXPECT_EQ(n.stack().arp().size(), 0u);
  EXPECT_EQ(n.stack().next_deadline(), kNever);
  // The next datagram resolves again with a broadcast request.
  ping_peer(1);
  std::vector<EthernetHeader> eth;
  auto requests = n.sent_arp(&eth);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(eth[0].dst, MacAddress::broadcast());
}

TEST_F(ArpTest, EntryInUseNearExpiryIsRefreshedWithAUnicastRequest) {
  n.resolve_peer();  // learned at t0, trusted until t0 + 60 s
  n.advance(49s);
  ping_peer(1);
  EXPECT_EQ(n.sent_ip().size(), 1u);  // no request yet

  n.advance(2s);  // t0 + 51 s: inside the 10 s refresh window
  ping_peer(2);
  auto frames = n.sent();
  ASSERT_EQ(frames.size(), 2u);
  EthernetHeader eth;
  auto request = decode_arp(frames[0].bytes(), &eth);
  ASSERT_TRUE(request);
  EXPECT_EQ(eth.dst, kPeerMac);  // unicast poll (RFC 1122 2.3.2.1)
  EXPECT_EQ(request->op, ArpOp::request);
  EXPECT_EQ(request->target_ip, kPeerIp);
  auto datagram = decode_ipv4(frames[1].bytes());
  ASSERT_TRUE(datagram);  // the datagram did not wait
  EXPECT_EQ(datagram->eth_dst, kPeerMac);

  n.advance(500ms);
  ping_peer(3);
  EXPECT_EQ(n.sent().size(), 1u);  // at most one request per second

  n.send_arp(reply_from_peer(), kStackMac);  // confirmed at t0 + 51.5 s
  n.advance(10s);                            // t0 + 61.5 s
  EXPECT_EQ(lookup(kPeerIp), kPeerMac);
  EXPECT_EQ(n.counter("arp.expired"), 0u);
  n.run_for(50s, 1s);  // t0 + 111.5 s
  EXPECT_FALSE(lookup(kPeerIp));
  EXPECT_EQ(n.counter("arp.expired"), 1u);
}

TEST_F(ArpTest, UnansweredRefreshStopsAfterMaxRequestsAndTheEntryExpires) {
  n.resolve_peer();
  n.advance(51s);
  int requests = 0;
  for (int i = 0; i < 8; ++i) {  // t0 + 51 ... 58 s, one datagram a second
    ping_peer(static_cast<std::uint16_t>(i));
    for (const Packet& p : n.sent()) requests += decode_arp(p.bytes()) ? 1 : 0;
    n.advance(1s);
  }
  EXPECT_EQ(requests, 3);
  n.run_for(2s, 100ms);
  EXPECT_FALSE(lookup(kPeerIp));
  EXPECT_EQ(n.counter("arp.expired"), 1u);
}

TEST_F(ArpTest, FloodFromEverNewSendersKeepsTheCacheAndItsDeadlinesBounded) {
  for (std::uint32_t i = 0; i < 5000; ++i) {
    const MacAddress mac{
        0x02, 0x10, 0, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
    n.send_arp(request_from_peer(kStackIp, mac, Ipv4Address::from_u32(0x0b000000u + i)),
               MacAddress::broadcast(), mac);
    if (i % 10 == 0) n.advance(1ms);
    ASSERT_LE(n.stack().arp().size(), 256u);
    // Evicted entries leave no deadlines behind in the TimerQueue.
    ASSERT_LE(n.stack().timers().size(), 4u);
  }
  EXPECT_EQ(n.sent_arp().size(), 5000u);
  // Everything learned expires in time, and then nothing is left pending.
  n.run_for(61s, 1s);
  EXPECT_EQ(n.stack().arp().size(), 0u);
  EXPECT_EQ(n.stack().next_deadline(), kNever);
}

TEST_F(ArpTest, ManyAddressesResolvingAtOnceEachRetryOnTime) {
  // Five addresses, resolution started 300 ms apart: each is asked at its own 0, 1 and 2 s.
  const Instant start = n.now();
  std::map<Ipv4Address, std::vector<Duration>> asked;
  for (int step = 0; step < 600; ++step) {  // 6 s in 10 ms steps
    if (step % 30 == 0 && step < 150) {
      ping_peer(1, Ipv4Address(10, 0, 0, static_cast<std::uint8_t>(20 + step / 30)));
    }
    for (const ArpPacket& a : n.sent_arp()) asked[a.target_ip].push_back(n.now() - start);
    n.advance(10ms);
  }
  ASSERT_EQ(asked.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const Duration t0 = i * 300ms;
    EXPECT_EQ(asked[Ipv4Address(10, 0, 0, static_cast<std::uint8_t>(20 + i))],
              (std::vector<Duration>{t0, t0 + 1s, t0 + 2s}));
  }
  EXPECT_EQ(n.counter("arp.unresolved"), 5u);
  EXPECT_EQ(n.stack().arp().size(), 0u);
}

class SmallArpCacheTest : public ArpTest {
 protected:
  static NeighbourOptions options() {
    NeighbourOptions o;
    o.config.arp.cache_size = 8;
    return o;
  }
  SmallArpCacheTest() : ArpTest(options()) {}
};

TEST_F(SmallArpCacheTest, CacheSizeIsBounded) {
  for (std::uint8_t i = 0; i < 20; ++i) {
    const MacAddress mac{0x02, 0, 0, 0, 1, i};
    n.send_arp(request_from_peer(kStackIp, mac, Ipv4Address(10, 0, 0, std::uint8_t(10 + i))),
               MacAddress::broadcast(), mac);
    EXPECT_LE(n.stack().arp().size(), 8u);
    n.advance(1ms);
  }
  EXPECT_EQ(n.sent_arp().size(), 20u);  // every one answered
  EXPECT_EQ(n.stack().arp().size(), 8u);
  // The oldest were evicted, the newest kept.
  EXPECT_FALSE(lookup(Ipv4Address(10, 0, 0, 10)));
  EXPECT_EQ(lookup(Ipv4Address(10, 0, 0, 29)), (MacAddress{0x02, 0, 0, 0, 1, 19}));
}

TEST_F(SmallArpCacheTest, ResolvingEntriesAreNotEvictedAndTheOverflowIsCounted) {
  for (std::uint8_t i = 0; i < 9; ++i) ping_peer(1, Ipv4Address(10, 0, 0, std::uint8_t(10 + i)));
  EXPECT_EQ(n.stack().arp().size(), 8u);
  EXPECT_EQ(n.counter("arp.cache_full"), 1u);
  EXPECT_EQ(n.sent_arp().size(), 8u);
}

}  // namespace
}  // namespace ustack::test
