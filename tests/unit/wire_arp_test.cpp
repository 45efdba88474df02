// ARP (RFC 826) parse/emit on a request and reply captured from Linux, and every malformed case.
#include "stack/wire/arp.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <span>
#include <vector>

namespace ustack {
// Counters print by name in assertion failures; Counter::count stands for "parsed".
inline void PrintTo(Counter c, std::ostream* os) {
  *os << (c == Counter::count ? std::string_view("parsed") : counter_name(c));
}
}  // namespace ustack

namespace ustack::wire {
namespace {

// The ARP payloads (after the 14-byte Ethernet header) of a real exchange between two Linux
// network namespaces: 10.0.0.1 (02:00:00:00:00:01) asks for 10.0.0.2, which answers.
constexpr std::array<std::uint8_t, 28> kRealRequest = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02};
constexpr std::array<std::uint8_t, 28> kRealReply = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x0a, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01};

std::array<std::uint8_t, ArpPacket::kSize> emit(const ArpPacket& a) {
  std::array<std::uint8_t, ArpPacket::kSize> out{};
  out.fill(0xcc);
  a.emit(out.data());
  return out;
}

TEST(ArpPacket, RealRequest) {
  auto a = ArpPacket::parse(kRealRequest);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->op, ArpOp::request);
  EXPECT_EQ(a->sender_mac, MacAddress(0x02, 0, 0, 0, 0, 0x01));
  EXPECT_EQ(a->sender_ip, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(a->target_mac, MacAddress{});
  EXPECT_EQ(a->target_ip, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(emit(*a), kRealRequest);
  EXPECT_EQ(fmt::format("{}", *a), "arp who-has 10.0.0.2 tell 10.0.0.1 (02:00:00:00:00:01)");
}

TEST(ArpPacket, RealReply) {
  auto a = ArpPacket::parse(kRealReply);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->op, ArpOp::reply);
  EXPECT_EQ(a->sender_mac, MacAddress(0x02, 0, 0, 0, 0, 0x02));
  EXPECT_EQ(a->sender_ip, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(a->target_mac, MacAddress(0x02, 0, 0, 0, 0, 0x01));
  EXPECT_EQ(a->target_ip, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(emit(*a), kRealReply);
  EXPECT_EQ(fmt::format("{}", *a),
            "arp reply 10.0.0.2 is-at 02:00:00:00:00:02 (to 10.0.0.1 02:00:00:00:00:01)");
}

TEST(ArpPacket, BuildsTheReplyLinuxSent) {
  // Answering the request as RFC 826 says (swap, fill in our MAC, op reply) gives Linux's bytes.
  auto request = ArpPacket::parse(kRealRequest);
  ASSERT_TRUE(request);
  ArpPacket reply;
  reply.op = ArpOp::reply;
  reply.sender_mac = MacAddress(0x02, 0, 0, 0, 0, 0x02);
  reply.sender_ip = request->target_ip;
  reply.target_mac = request->sender_mac;
  reply.target_ip = request->sender_ip;
  EXPECT_EQ(emit(reply), kRealReply);
}

TEST(ArpPacket, EthernetPaddingIsIgnored) {
  // On the wire a 42-byte ARP frame is padded to 60 bytes: 18 trailing bytes after the packet.
  std::vector<std::uint8_t> padded(kRealRequest.begin(), kRealRequest.end());
  padded.resize(46, 0xa5);
  auto a = ArpPacket::parse(padded);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->target_ip, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(emit(*a), kRealRequest);
}

TEST(ArpPacket, Short) {
  for (std::size_t n = 0; n < ArpPacket::kSize; ++n) {
    auto a = ArpPacket::parse(std::span(kRealRequest).first(n));
    ASSERT_FALSE(a) << n;
    EXPECT_EQ(a.error(), Counter::arp_short) << n;
  }
}

Counter parse_with(std::size_t at, std::uint8_t value) {
  auto bytes = kRealRequest;
  bytes[at] = value;
  auto a = ArpPacket::parse(bytes);
  return a ? Counter::count : a.error();
}

TEST(ArpPacket, BadFormat) {
  // Hardware type must be 1 (Ethernet): 0x0000, 0x0006 (IEEE 802), 0x0101.
  EXPECT_EQ(parse_with(1, 0x00), Counter::arp_bad_format);
  EXPECT_EQ(parse_with(1, 0x06), Counter::arp_bad_format);
  EXPECT_EQ(parse_with(0, 0x01), Counter::arp_bad_format);
  // Protocol type must be 0x0800: 0x86dd, 0x0806, 0x0000, 0x0801.
  EXPECT_EQ(parse_with(2, 0x86), Counter::arp_bad_format);
  EXPECT_EQ(parse_with(3, 0x06), Counter::arp_bad_format);
  EXPECT_EQ(parse_with(2, 0x00), Counter::arp_bad_format);
  EXPECT_EQ(parse_with(3, 0x01), Counter::arp_bad_format);
  // Hardware length 6, protocol length 4.
  for (int hlen : {0, 1, 4, 5, 7, 8, 16, 255}) {
    EXPECT_EQ(parse_with(4, static_cast<std::uint8_t>(hlen)), Counter::arp_bad_format) << hlen;
  }
  for (int plen : {0, 1, 3, 5, 6, 16, 255}) {
    EXPECT_EQ(parse_with(5, static_cast<std::uint8_t>(plen)), Counter::arp_bad_format) << plen;
  }
}

TEST(ArpPacket, BadOp) {
  for (std::uint32_t op : {0u, 3u, 4u, 8u, 9u, 0x0101u, 0x0201u, 0xffffu}) {
    auto bytes = kRealRequest;
    bytes[6] = static_cast<std::uint8_t>(op >> 8);
    bytes[7] = static_cast<std::uint8_t>(op);
    auto a = ArpPacket::parse(bytes);
    ASSERT_FALSE(a) << op;
    EXPECT_EQ(a.error(), Counter::arp_bad_op) << op;
  }
}

TEST(ArpPacket, FormatIsCheckedBeforeOp) {
  auto bytes = kRealRequest;
  bytes[4] = 8;  // bad hlen
  bytes[7] = 0;  // and bad op
  EXPECT_EQ(ArpPacket::parse(bytes).error(), Counter::arp_bad_format);
  EXPECT_EQ(ArpPacket::parse(std::span(bytes).first(27)).error(), Counter::arp_short);
}

TEST(ArpPacket, EmitWritesExactly28Bytes) {
  ArpPacket a;
  a.op = ArpOp::request;
  a.sender_mac = MacAddress(0x02, 0, 0, 0, 0, 0x05);
  a.sender_ip = Ipv4Address(192, 168, 7, 5);
  a.target_ip = Ipv4Address(192, 168, 7, 1);
  std::vector<std::uint8_t> out(32, 0xee);
  a.emit(out.data() + 2);
  EXPECT_EQ(out[0], 0xee);
  EXPECT_EQ(out[1], 0xee);
  EXPECT_EQ(out[30], 0xee);
  EXPECT_EQ(out[31], 0xee);
  auto back = ArpPacket::parse(std::span(out).subspan(2, 28));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->op, a.op);
  EXPECT_EQ(back->sender_mac, a.sender_mac);
  EXPECT_EQ(back->sender_ip, a.sender_ip);
  EXPECT_EQ(back->target_mac, MacAddress{});
  EXPECT_EQ(back->target_ip, a.target_ip);
}

}  // namespace
}  // namespace ustack::wire
