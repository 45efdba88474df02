// Tracer: describe_frame on hand-built ARP, ICMP, UDP and malformed frames, and the decorator's
// log lines for frames in and out.
#include "netdev/tracer.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <sstream>
#include <vector>

#include "stack/base/log.h"
#include "stack/wire/arp.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/icmp.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/udp.h"

#include "support/fake_device.h"

namespace ustack {
namespace {

constexpr MacAddress kMacA(0x02, 0, 0, 0, 0, 0x01);
constexpr MacAddress kMacB(0x02, 0, 0, 0, 0, 0x02);
constexpr Ipv4Address kIpA(10, 0, 0, 1);
constexpr Ipv4Address kIpB(10, 0, 0, 2);

std::vector<std::uint8_t> ethernet(MacAddress src, MacAddress dst, wire::EtherType type,
                                   std::size_t payload_size) {
  std::vector<std::uint8_t> frame(wire::EthernetHeader::kSize + payload_size);
  wire::EthernetHeader eth;
  eth.src = src;
  eth.dst = dst;
  eth.ethertype = static_cast<std::uint16_t>(type);
  eth.emit(frame.data());
  return frame;
}

std::vector<std::uint8_t> arp_frame(wire::ArpOp op) {
  auto frame = ethernet(kMacA, op == wire::ArpOp::request ? MacAddress::broadcast() : kMacB,
                        wire::EtherType::arp, wire::ArpPacket::kSize);
  wire::ArpPacket arp;
  arp.op = op;
  arp.sender_mac = kMacA;
  arp.sender_ip = kIpA;
  arp.target_mac = op == wire::ArpOp::request ? MacAddress{} : kMacB;
  arp.target_ip = kIpB;
  arp.emit(frame.data() + wire::EthernetHeader::kSize);
  return frame;
}

// An IPv4 datagram from B to A carrying `payload_size` bytes of protocol `protocol`.
std::vector<std::uint8_t> ipv4_frame(std::uint8_t protocol, std::size_t payload_size) {
  auto frame =
      ethernet(kMacB, kMacA, wire::EtherType::ipv4, wire::Ipv4Header::kMinSize + payload_size);
  wire::Ipv4Header ip;
  ip.total_length = static_cast<std::uint16_t>(wire::Ipv4Header::kMinSize + payload_size);
  ip.identification = 5;
  ip.ttl = 64;
  ip.protocol = protocol;
  ip.src = kIpB;
  ip.dst = kIpA;
  ip.emit(frame.data() + wire::EthernetHeader::kSize);
  return frame;
}

std::vector<std::uint8_t> echo_reply_frame() {
  auto frame = ipv4_frame(1, 64);  // 8-byte ICMP header + 56 data bytes, as ping sends
  std::span<std::uint8_t> icmp(frame.data() + 34, 64);
  for (std::size_t i = 8; i < icmp.size(); ++i) icmp[i] = static_cast<std::uint8_t>(i);
  wire::IcmpHeader h;
  h.type = static_cast<std::uint8_t>(wire::IcmpType::echo_reply);
  h.rest = wire::IcmpHeader::echo_rest(7, 1);
  h.emit(icmp);
  return frame;
}

TEST(DescribeFrame, ArpRequest) {
  EXPECT_EQ(describe_frame(arp_frame(wire::ArpOp::request)),
            "eth 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff arp who-has 10.0.0.2 tell 10.0.0.1 "
            "(02:00:00:00:00:01)");
}

TEST(DescribeFrame, ArpReplyWithEthernetPadding) {
  auto frame = arp_frame(wire::ArpOp::reply);
  frame.resize(wire::EthernetHeader::kMinFrame, 0);
  EXPECT_EQ(describe_frame(frame),
            "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 arp reply 10.0.0.1 is-at "
            "02:00:00:00:00:01 (to 10.0.0.2 02:00:00:00:00:02)");
}

TEST(DescribeFrame, IcmpEchoReply) {
  EXPECT_EQ(describe_frame(echo_reply_frame()),
            "eth 02:00:00:00:00:02 > 02:00:00:00:00:01 ip 10.0.0.2 > 10.0.0.1 proto 1 len 84 "
            "id 5 ttl 64 icmp echo reply id 7 seq 1");
}

TEST(DescribeFrame, UdpDatagram) {
  auto frame = ipv4_frame(17, 12);
  std::span<std::uint8_t> udp(frame.data() + 34, 12);
  wire::UdpHeader::emit(udp, 4000, 7, kIpB, kIpA);
  EXPECT_EQ(describe_frame(frame),
            "eth 02:00:00:00:00:02 > 02:00:00:00:00:01 ip 10.0.0.2 > 10.0.0.1 proto 17 len 32 "
            "id 5 ttl 64 udp 4000 > 7 len 12");
}

TEST(DescribeFrame, UdpWithABadLengthNamesTheCounter) {
  EXPECT_EQ(describe_frame(ipv4_frame(17, 12)),
            "eth 02:00:00:00:00:02 > 02:00:00:00:00:01 ip 10.0.0.2 > 10.0.0.1 proto 17 len 32 "
            "id 5 ttl 64 bad udp.bad_length len 12");
}

TEST(DescribeFrame, UnknownEtherType) {
  auto frame = ethernet(kMacA, kMacB, wire::EtherType::ipv6, 40);
  EXPECT_EQ(describe_frame(frame), "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 type 0x86dd len 54");
}

TEST(DescribeFrame, RuntFrame) {
  std::vector<std::uint8_t> frame(10, 0xff);
  EXPECT_EQ(describe_frame(frame), "bad eth.runt len 10");
  EXPECT_EQ(describe_frame({}), "bad eth.runt len 0");
}

TEST(DescribeFrame, ShortArp) {
  auto frame = arp_frame(wire::ArpOp::request);
  frame.resize(30);
  EXPECT_EQ(describe_frame(frame),
            "eth 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff bad arp.short len 16");
}

TEST(DescribeFrame, BadIpChecksum) {
  auto frame = echo_reply_frame();
  frame[14 + 10] ^= 0x01;
  EXPECT_EQ(describe_frame(frame),
            "eth 02:00:00:00:00:02 > 02:00:00:00:00:01 bad ip.bad_checksum len 84");
}

TEST(DescribeFrame, TruncatedIp) {
  auto frame = echo_reply_frame();
  frame.resize(60);
  EXPECT_EQ(describe_frame(frame),
            "eth 02:00:00:00:00:02 > 02:00:00:00:00:01 bad ip.truncated len 46");
}

TEST(DescribeFrame, BadIcmpChecksum) {
  auto frame = echo_reply_frame();
  frame.back() ^= 0x80;
  EXPECT_EQ(describe_frame(frame),
            "eth 02:00:00:00:00:02 > 02:00:00:00:00:01 ip 10.0.0.2 > 10.0.0.1 proto 1 len 84 "
            "id 5 ttl 64 bad icmp.bad_checksum len 64");
}

using test::FakeDevice;

// Adds a sink that collects the "dev" logger's lines for the duration of a test.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_)) {
    sink_->set_pattern("%v");
    log::dev().sinks().push_back(sink_);
    saved_level_ = log::dev().level();
    log::dev().set_level(spdlog::level::info);
  }
  ~CapturedLog() {
    auto& sinks = log::dev().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    log::dev().set_level(saved_level_);
  }
  std::string text() const { return lines_.str(); }

 private:
  std::ostringstream lines_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::level::level_enum saved_level_;
};

TEST(Tracer, LogsEveryFrameInAndOutAndPassesThemOn) {
  CapturedLog captured;
  FakeDevice inner;
  Tracer tracer(inner);
  auto request = arp_frame(wire::ArpOp::request);
  inner.incoming.push_back(Packet::copy_of(request));
  std::vector<Packet> got;
  ASSERT_EQ(tracer.receive(got, 8), 1u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::equal(request.begin(), request.end(), got[0].bytes().begin()));

  auto reply = echo_reply_frame();
  ASSERT_TRUE(tracer.transmit(Packet::copy_of(reply)));
  ASSERT_EQ(inner.sent.size(), 1u);
  inner.refuse = true;
  EXPECT_FALSE(tracer.transmit(Packet::copy_of(reply)));

  EXPECT_EQ(captured.text(),
            "fake0 rx " + describe_frame(request) + "\n" +  //
                "fake0 tx " + describe_frame(reply) + "\n" + "fake0 tx " + describe_frame(reply) +
                " (refused by the device)\n");
}

TEST(Tracer, SilentWhenInfoIsOff) {
  CapturedLog captured;
  log::dev().set_level(spdlog::level::warn);
  FakeDevice inner;
  Tracer tracer(inner);
  ASSERT_TRUE(tracer.transmit(Packet::copy_of(echo_reply_frame())));
  EXPECT_EQ(inner.sent.size(), 1u);
  EXPECT_EQ(captured.text(), "");
}

TEST(Tracer, DelegatesToTheInnerDevice) {
  FakeDevice inner;
  Tracer tracer(inner);
  EXPECT_EQ(tracer.name(), "fake0");
  EXPECT_EQ(tracer.mtu(), 1500u);
  EXPECT_EQ(tracer.fd(), -1);
  EXPECT_EQ(tracer.next_deadline(), kNever);
}

}  // namespace
}  // namespace ustack
