// Ethernet::input against a fake neighbour: frames for our MAC and the broadcast go up, and every
// other frame is a drop counted under exactly one reason, with nothing sent and no state changed.
#include <gtest/gtest.h>

#include "support/neighbour.h"

namespace ustack::test {
namespace {

using wire::ArpOp;
using wire::EtherType;

// An ARP request for the stack's address: the stack answers it, which shows the frame got through.
Bytes who_has_stack() {
  return arp_bytes(arp_packet(ArpOp::request, kPeerMac, kPeerIp, MacAddress{}, kStackIp));
}

class EthernetTest : public ::testing::Test {
 protected:
  // Feeds `frame` and checks that it was dropped under `reason` alone, with no reply and no ARP
  // entry learned.
  void expect_drop(const Bytes& frame, const std::string& reason) {
    const CounterMap before = counters(n.stats());
    const std::size_t arp_entries = n.stack().arp().size();
    n.send(frame);
    EXPECT_EQ(drops_since(before, n.stats()), (CounterMap{{reason, 1}}));
    EXPECT_TRUE(n.sent().empty());
    EXPECT_EQ(n.stack().arp().size(), arp_entries);
    EXPECT_FALSE(n.stack().arp().lookup(n.iface(), kPeerIp));
    EXPECT_EQ(n.stack().ipv4().reassembler().datagrams(), 0u);
  }

  Neighbour n;
};

TEST_F(EthernetTest, FrameForOurMacIsDelivered) {
  n.send(ethernet(kStackMac, kPeerMac, EtherType::arp, who_has_stack()));
  auto replies = n.sent_arp();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].op, ArpOp::reply);
  EXPECT_EQ(n.counter("eth.rx"), 1u);
}

TEST_F(EthernetTest, BroadcastFrameIsDelivered) {
  n.send(ethernet(MacAddress::broadcast(), kPeerMac, EtherType::arp, who_has_stack()));
  EXPECT_EQ(n.sent_arp().size(), 1u);
}

TEST_F(EthernetTest, RuntIsDropped) {
  const Bytes full = ethernet(kStackMac, kPeerMac, EtherType::arp, who_has_stack());
  for (std::size_t size : {0u, 1u, 6u, 12u, 13u}) {
    SCOPED_TRACE(size);
    expect_drop(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(size)), "eth.runt");
  }
}

TEST_F(EthernetTest, HeaderOnlyFrameReachesTheLayerAbove) {
  // 14 bytes is a whole Ethernet header with an empty payload: ARP then finds it short.
  expect_drop(ethernet(kStackMac, kPeerMac, EtherType::arp, {}), "arp.short");
}

TEST_F(EthernetTest, UnknownEtherTypeIsDropped) {
  for (std::uint16_t type :
       std::initializer_list<std::uint16_t>{0x86dd, 0x8100, 0x1234, 0x0000, 0xffff, 0x0805}) {
    SCOPED_TRACE(type);
    expect_drop(ethernet(kStackMac, kPeerMac, type, who_has_stack()), "eth.unknown_type");
  }
}

TEST_F(EthernetTest, OversizeFrameIsDropped) {
  // MTU 1500: a frame of 1514 bytes is the largest accepted, 1515 is one too many.
  Bytes payload = who_has_stack();
  payload.resize(1501);
  expect_drop(ethernet(kStackMac, kPeerMac, EtherType::arp, payload), "eth.oversize");
  payload.resize(65535);
  expect_drop(ethernet(kStackMac, kPeerMac, EtherType::arp, payload), "eth.oversize");

  payload.resize(1500);
  n.send(ethernet(kStackMac, kPeerMac, EtherType::arp, payload));
  EXPECT_EQ(n.counter("eth.oversize"), 2u);
  EXPECT_EQ(n.sent_arp().size(), 1u);  // the 1514-byte frame was answered
}

TEST_F(EthernetTest, FrameForAnotherMacIsDropped) {
  for (MacAddress dst : {MacAddress{0x02, 0, 0, 0, 0, 0x03}, kPeerMac,
                         MacAddress{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},  // IPv4 multicast
                         MacAddress{0x33, 0x33, 0x00, 0x00, 0x00, 0x01},  // IPv6 multicast
                         MacAddress{}}) {
    SCOPED_TRACE(fmt::format("{}", dst));
    expect_drop(ethernet(dst, kPeerMac, EtherType::arp, who_has_stack()), "eth.not_for_us");
  }
}

TEST_F(EthernetTest, GroupSourceAddressIsDropped) {
  for (MacAddress src : {MacAddress::broadcast(), MacAddress{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},
                         MacAddress{0x03, 0, 0, 0, 0, 0x01}}) {
    SCOPED_TRACE(fmt::format("{}", src));
    expect_drop(ethernet(kStackMac, src, EtherType::arp, who_has_stack()), "eth.bad_source");
    expect_drop(ethernet(MacAddress::broadcast(), src, EtherType::arp, who_has_stack()),
                "eth.bad_source");
  }
}

TEST_F(EthernetTest, EveryFrameIsCountedReceived) {
  n.send(ethernet(kStackMac, kPeerMac, EtherType::arp, who_has_stack()));
  n.send(Bytes(5, 0));
  n.send(ethernet(kOtherMac, kPeerMac, EtherType::arp, who_has_stack()));
  EXPECT_EQ(n.counter("dev.rx_frames"), 3u);
  EXPECT_EQ(n.counter("eth.rx"), 3u);
}

TEST_F(EthernetTest, OutputCarriesOurSourceMacAndTheType) {
  const CounterMap before = counters(n.stats());
  n.send(ethernet(kStackMac, kPeerMac, EtherType::arp, who_has_stack()));
  auto frames = n.sent();
  ASSERT_EQ(frames.size(), 1u);
  auto e = decode_ethernet(frames[0].bytes());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->eth.src, kStackMac);
  EXPECT_EQ(e->eth.dst, kPeerMac);
  EXPECT_EQ(e->eth.ethertype, 0x0806);
  const CounterMap changed = changes_since(before, n.stats());
  EXPECT_EQ(changed.at("eth.tx"), 1u);
  EXPECT_EQ(changed.at("dev.tx_frames"), 1u);
}

}  // namespace
}  // namespace ustack::test
