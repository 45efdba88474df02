// ICMP (RFC 792) parse/emit on messages a Linux kernel sent: ping's echo request and reply with
// the default 56 data bytes, a fragmented echo, and a port unreachable error.
#include "stack/wire/icmp.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <span>
#include <vector>

#include "stack/base/rng.h"
#include "stack/wire/checksum.h"
#include "stack/wire/ipv4.h"

namespace ustack {
// Counters print by name in assertion failures; Counter::count stands for "parsed".
inline void PrintTo(Counter c, std::ostream* os) {
  *os << (c == Counter::count ? std::string_view("parsed") : counter_name(c));
}
}  // namespace ustack

namespace ustack::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

// `ping -c 1 10.0.0.2`: id 0x10b7, seq 1, a 16-byte struct timeval, then 0x10..0x37.
const Bytes kEchoRequest = {
    0x08, 0x00, 0x72, 0x93, 0x10, 0xb7, 0x00, 0x01, 0xa3, 0x4f, 0x02, 0x6b, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x27, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37};

// The Linux peer's reply: type 0, the same identifier, sequence number and data.
const Bytes kEchoReply = {
    0x00, 0x00, 0x7a, 0x93, 0x10, 0xb7, 0x00, 0x01, 0xa3, 0x4f, 0x02, 0x6b, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x27, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37};

// `ping -s 100` sent in two IPv4 fragments; this is the ICMP message after reassembly (108
// bytes). The first fragment carried bytes 0..79, the second 80..107.
const Bytes kFragmentedEcho = {
    0x08, 0x00, 0xb0, 0xaa, 0x10, 0xe3, 0x00, 0x01, 0xa5, 0x4f, 0x02, 0x6b, 0x00, 0x00, 0x00, 0x00,
    0x29, 0x29, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
    0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
    0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63};

// Linux's port unreachable for a UDP datagram 10.0.0.2:5000 -> 10.0.0.1:9 "ping?\n": type 3
// code 3, then the whole offending datagram (IPv4 header, UDP header, data).
const Bytes kPortUnreachable = {0x03, 0x03, 0x11, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00,
                                0x22, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x14, 0x95, 0x0a, 0x00,
                                0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x13, 0x88, 0x00, 0x09, 0x00,
                                0x0e, 0xba, 0x63, 0x70, 0x69, 0x6e, 0x67, 0x3f, 0x0a};

std::uint16_t reference_checksum(std::span<const std::uint8_t> bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    sum += (std::uint32_t{bytes[i]} << 8) | (i + 1 < bytes.size() ? bytes[i + 1] : 0u);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Counter parse_error(std::span<const std::uint8_t> bytes) {
  auto h = IcmpHeader::parse(bytes);
  return h ? Counter::count : h.error();
}

// Emits h over a copy of `message` whose header bytes were scribbled on first.
Bytes emit_over(const IcmpHeader& h, Bytes message) {
  std::fill_n(message.begin(), 8, std::uint8_t{0xcc});
  h.emit(message);
  return message;
}

TEST(IcmpHeader, RealEchoRequest) {
  auto h = IcmpHeader::parse(kEchoRequest);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, static_cast<std::uint8_t>(IcmpType::echo_request));
  EXPECT_EQ(h->code, 0);
  EXPECT_EQ(h->checksum, 0x7293);
  EXPECT_EQ(h->rest, 0x10b70001u);
  EXPECT_EQ(h->echo_id(), 0x10b7);
  EXPECT_EQ(h->echo_sequence(), 1);
  EXPECT_FALSE(h->is_error());
  EXPECT_EQ(emit_over(*h, kEchoRequest), kEchoRequest);
  EXPECT_EQ(fmt::format("{}", *h), "icmp echo request id 4279 seq 1");
}

TEST(IcmpHeader, RealEchoReply) {
  auto h = IcmpHeader::parse(kEchoReply);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, static_cast<std::uint8_t>(IcmpType::echo_reply));
  EXPECT_EQ(h->code, 0);
  EXPECT_EQ(h->checksum, 0x7a93);
  EXPECT_EQ(h->echo_id(), 0x10b7);
  EXPECT_EQ(h->echo_sequence(), 1);
  EXPECT_FALSE(h->is_error());
  EXPECT_EQ(emit_over(*h, kEchoReply), kEchoReply);
  EXPECT_EQ(fmt::format("{}", *h), "icmp echo reply id 4279 seq 1");
}

TEST(IcmpHeader, AnsweringTheRequestGivesLinuxsReply) {
  // RFC 792/1122: the reply carries the request's identifier, sequence number and data.
  auto request = IcmpHeader::parse(kEchoRequest);
  ASSERT_TRUE(request);
  IcmpHeader reply;
  reply.type = static_cast<std::uint8_t>(IcmpType::echo_reply);
  reply.rest = IcmpHeader::echo_rest(request->echo_id(), request->echo_sequence());
  EXPECT_EQ(emit_over(reply, kEchoRequest), kEchoReply);
  // Only the type word changed, so RFC 1624 gives the same checksum incrementally.
  EXPECT_EQ(checksum_adjust(request->checksum, 0x0800, 0x0000), 0x7a93);
}

TEST(IcmpHeader, RealFragmentedEcho) {
  auto h = IcmpHeader::parse(kFragmentedEcho);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, 8);
  EXPECT_EQ(h->checksum, 0xb0aa);
  EXPECT_EQ(h->echo_id(), 0x10e3);
  EXPECT_EQ(h->echo_sequence(), 1);
  EXPECT_EQ(emit_over(*h, kFragmentedEcho), kFragmentedEcho);
  // The checksum covers the whole message: the first fragment's part alone does not verify.
  EXPECT_EQ(parse_error(std::span(kFragmentedEcho).first(80)), Counter::icmp_bad_checksum);
}

TEST(IcmpHeader, RealPortUnreachable) {
  auto h = IcmpHeader::parse(kPortUnreachable);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, static_cast<std::uint8_t>(IcmpType::destination_unreachable));
  EXPECT_EQ(h->code, static_cast<std::uint8_t>(UnreachableCode::port));
  EXPECT_EQ(h->checksum, 0x111f);
  EXPECT_EQ(h->rest, 0u);
  EXPECT_TRUE(h->is_error());
  EXPECT_EQ(emit_over(*h, kPortUnreachable), kPortUnreachable);
  EXPECT_EQ(fmt::format("{}", *h), "icmp unreachable code 3");

  // The quoted datagram is an intact IPv4 header with the UDP header after it.
  auto inner = Ipv4Header::parse(std::span(kPortUnreachable).subspan(8));
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->src, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(inner->dst, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(inner->protocol, static_cast<std::uint8_t>(IpProtocol::udp));
  EXPECT_EQ(inner->identification, 0x1234);
  EXPECT_EQ(load_be16(kPortUnreachable.data() + 28), 5000);
  EXPECT_EQ(load_be16(kPortUnreachable.data() + 30), 9);
}

TEST(IcmpHeader, Short) {
  for (std::size_t n = 0; n < IcmpHeader::kSize; ++n) {
    EXPECT_EQ(parse_error(std::span(kEchoRequest).first(n)), Counter::icmp_short) << n;
  }
  // Even bytes whose checksum would verify are too short: 8 bytes is the minimum.
  const std::uint8_t verifying[4] = {0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(parse_error(verifying), Counter::icmp_short);
  // Exactly the header, no data.
  IcmpHeader h;
  h.type = 8;
  h.rest = IcmpHeader::echo_rest(1, 2);
  Bytes eight(8);
  h.emit(eight);
  EXPECT_EQ(parse_error(eight), Counter::count);
}

TEST(IcmpHeader, BadChecksumEverySingleBit) {
  for (std::size_t bit = 0; bit < kEchoRequest.size() * 8; ++bit) {
    Bytes b = kEchoRequest;
    b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] ^ (0x80 >> (bit % 8)));
    ASSERT_EQ(parse_error(b), Counter::icmp_bad_checksum) << bit;
  }
  Bytes truncated = kEchoRequest;
  truncated.pop_back();
  EXPECT_EQ(parse_error(truncated), Counter::icmp_bad_checksum);
  Bytes extended = kEchoRequest;
  extended.push_back(0x01);
  EXPECT_EQ(parse_error(extended), Counter::icmp_bad_checksum);
}

TEST(IcmpHeader, AllZeroMessage) {
  // All zeros sums to +0, so it cannot carry a valid checksum; emit writes 0xffff instead.
  Bytes zeros(8, 0);
  EXPECT_EQ(parse_error(zeros), Counter::icmp_bad_checksum);
  IcmpHeader h;  // echo reply, id 0, seq 0
  h.emit(zeros);
  EXPECT_EQ(load_be16(zeros.data() + 2), 0xffff);
  auto back = IcmpHeader::parse(zeros);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->checksum, 0xffff);
}

TEST(IcmpHeader, OddLengthsAndLargeEcho) {
  Rng rng(792);
  for (std::size_t data : {0u, 1u, 2u, 3u, 55u, 56u, 57u, 1472u, 65507u}) {
    Bytes message(8 + data);
    for (std::size_t i = 8; i < message.size(); ++i)
      message[i] = static_cast<std::uint8_t>(rng.next_u32());
    IcmpHeader h;
    h.type = static_cast<std::uint8_t>(IcmpType::echo_request);
    h.rest = IcmpHeader::echo_rest(0xbeef, static_cast<std::uint16_t>(data));
    h.emit(message);
    Bytes zeroed = message;
    zeroed[2] = zeroed[3] = 0;
    EXPECT_EQ(load_be16(message.data() + 2), reference_checksum(zeroed)) << data;
    auto back = IcmpHeader::parse(message);
    ASSERT_TRUE(back) << data;
    EXPECT_EQ(back->echo_id(), 0xbeef);
    EXPECT_EQ(back->echo_sequence(), static_cast<std::uint16_t>(data));
  }
}

TEST(IcmpHeader, EmitTouchesOnlyTheHeader) {
  Bytes message = kEchoRequest;
  IcmpHeader h;
  h.type = 13;
  h.code = 0;
  h.rest = 0xdeadbeef;
  h.emit(message);
  EXPECT_EQ(message[0], 13);
  EXPECT_EQ(message[1], 0);
  EXPECT_EQ(load_be32(message.data() + 4), 0xdeadbeefu);
  EXPECT_TRUE(std::equal(message.begin() + 8, message.end(), kEchoRequest.begin() + 8));
  EXPECT_EQ(reference_checksum(message), 0);
}

TEST(IcmpHeader, RandomRoundTrips) {
  Rng rng(17);
  for (int round = 0; round < 5000; ++round) {
    Bytes message(8 + rng.below(600));
    for (auto& b : message) b = static_cast<std::uint8_t>(rng.next_u32());
    IcmpHeader h;
    h.type = static_cast<std::uint8_t>(rng.next_u32());
    h.code = static_cast<std::uint8_t>(rng.next_u32());
    h.rest = rng.next_u32();
    h.emit(message);
    auto back = IcmpHeader::parse(message);
    ASSERT_TRUE(back) << round;
    EXPECT_EQ(back->type, h.type);
    EXPECT_EQ(back->code, h.code);
    EXPECT_EQ(back->rest, h.rest);
    EXPECT_EQ(back->checksum, load_be16(message.data() + 2));
  }
}

TEST(IcmpHeader, ErrorTypes) {
  // RFC 1122 3.2.2: unreachable, source quench, redirect, time exceeded, parameter problem.
  for (int type = 0; type < 256; ++type) {
    IcmpHeader h;
    h.type = static_cast<std::uint8_t>(type);
    bool expected = type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    EXPECT_EQ(h.is_error(), expected) << type;
  }
}

TEST(IcmpHeader, EchoRestPacking) {
  EXPECT_EQ(IcmpHeader::echo_rest(0x1234, 0x5678), 0x12345678u);
  IcmpHeader h;
  h.rest = IcmpHeader::echo_rest(0xffff, 0x0000);
  EXPECT_EQ(h.echo_id(), 0xffff);
  EXPECT_EQ(h.echo_sequence(), 0);
  h.rest = IcmpHeader::echo_rest(0, 0xffff);
  EXPECT_EQ(h.echo_id(), 0);
  EXPECT_EQ(h.echo_sequence(), 0xffff);
}

TEST(IcmpHeader, Format) {
  IcmpHeader h;
  h.type = 11;
  h.code = 1;
  EXPECT_EQ(fmt::format("{}", h), "icmp time exceeded code 1");
  h.type = 3;
  h.code = 4;
  EXPECT_EQ(fmt::format("{}", h), "icmp unreachable code 4");
  h.type = 12;
  h.code = 0;
  EXPECT_EQ(fmt::format("{}", h), "icmp type 12 code 0");
  h.type = 200;
  h.code = 255;
  EXPECT_EQ(fmt::format("{}", h), "icmp type 200 code 255");
}

}  // namespace
}  // namespace ustack::wire
