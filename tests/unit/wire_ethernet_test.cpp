// Ethernet II header parse/emit on frames captured from Linux (veth in a network namespace).
#include "stack/wire/ethernet.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ustack::wire {
namespace {

// ARP request from 10.0.0.1 (02:00:00:00:00:01) to the broadcast address: 42 bytes.
constexpr std::array<std::uint8_t, 42> kArpRequestFrame = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02};

// IGMPv3 report (IPv4 with Router Alert) to 224.0.0.22, so to the multicast MAC 01:00:5e:00:00:16.
constexpr std::array<std::uint8_t, 54> kIgmpFrame = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x16, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
    0x46, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xf9, 0xf8, 0x0a, 0x00,
    0x00, 0x01, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00, 0x22, 0x00, 0xe8, 0xf9,
    0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xef, 0x01, 0x02, 0x03};

// The first 14 bytes of the ping reply from 10.0.0.2 to 10.0.0.1.
constexpr std::array<std::uint8_t, 14> kEchoReplyEthernet = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00};

void expect_round_trip(std::span<const std::uint8_t> frame) {
  auto h = EthernetHeader::parse(frame);
  ASSERT_TRUE(h);
  std::array<std::uint8_t, EthernetHeader::kSize> out{};
  h->emit(out.data());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), frame.begin()));
}

TEST(EthernetHeader, ParsesRealArpRequest) {
  auto h = EthernetHeader::parse(kArpRequestFrame);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->dst, MacAddress::broadcast());
  EXPECT_EQ(h->src, MacAddress(0x02, 0, 0, 0, 0, 0x01));
  EXPECT_EQ(h->ethertype, static_cast<std::uint16_t>(EtherType::arp));
  EXPECT_EQ(fmt::format("{}", *h), "eth 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff type 0x0806");
  expect_round_trip(kArpRequestFrame);
}

TEST(EthernetHeader, ParsesRealMulticastIpv4) {
  auto h = EthernetHeader::parse(kIgmpFrame);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->dst, MacAddress(0x01, 0x00, 0x5e, 0x00, 0x00, 0x16));
  EXPECT_TRUE(h->dst.is_multicast());
  EXPECT_EQ(h->src, MacAddress(0x02, 0, 0, 0, 0, 0x01));
  EXPECT_EQ(h->ethertype, static_cast<std::uint16_t>(EtherType::ipv4));
  expect_round_trip(kIgmpFrame);
}

TEST(EthernetHeader, HeaderOnlyFrameIsEnough) {
  auto h = EthernetHeader::parse(kEchoReplyEthernet);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->dst, MacAddress(0x02, 0, 0, 0, 0, 0x01));
  EXPECT_EQ(h->src, MacAddress(0x02, 0, 0, 0, 0, 0x02));
  EXPECT_EQ(h->ethertype, 0x0800);
  EXPECT_EQ(fmt::format("{}", *h), "eth 02:00:00:00:00:02 > 02:00:00:00:00:01 type 0x0800");
  expect_round_trip(kEchoReplyEthernet);
}

TEST(EthernetHeader, RuntFrames) {
  for (std::size_t n = 0; n < EthernetHeader::kSize; ++n) {
    auto h = EthernetHeader::parse(std::span(kArpRequestFrame).first(n));
    ASSERT_FALSE(h) << n;
    EXPECT_EQ(h.error(), Counter::eth_runt) << n;
  }
  EXPECT_FALSE(EthernetHeader::parse({}));
  EXPECT_EQ(EthernetHeader::parse({}).error(), Counter::eth_runt);
}

TEST(EthernetHeader, EmitWritesExactly14Bytes) {
  EthernetHeader h;
  h.dst = MacAddress(0x01, 0x02, 0x03, 0x04, 0x05, 0x06);
  h.src = MacAddress(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f);
  h.ethertype = static_cast<std::uint16_t>(EtherType::ipv6);
  std::vector<std::uint8_t> out(20, 0xee);
  h.emit(out.data() + 2);
  const std::vector<std::uint8_t> expected = {0xee, 0xee, 0x01, 0x02, 0x03, 0x04, 0x05,
                                              0x06, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
                                              0x86, 0xdd, 0xee, 0xee, 0xee, 0xee};
  EXPECT_EQ(out, expected);
  auto back = EthernetHeader::parse(std::span(out).subspan(2));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->dst, h.dst);
  EXPECT_EQ(back->src, h.src);
  EXPECT_EQ(back->ethertype, 0x86dd);
}

TEST(EthernetHeader, AnyEtherTypeParses) {
  // The header view does not judge the EtherType; Ethernet::input counts eth.unknown_type.
  std::array<std::uint8_t, 14> frame{};
  for (std::uint32_t type : {0x0000u, 0x05dcu, 0x8100u, 0x88ccu, 0xffffu}) {
    frame[12] = static_cast<std::uint8_t>(type >> 8);
    frame[13] = static_cast<std::uint8_t>(type);
    auto h = EthernetHeader::parse(frame);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->ethertype, type);
  }
}

}  // namespace
}  // namespace ustack::wire
