// UDP header (RFC 768) parse/emit on datagrams a Linux kernel accepted: each vector below was
// written into a veth by an AF_PACKET socket (10.1.0.2 -> 10.1.0.1) and received intact by a
// kernel UDP socket, and the "hello" one with a bit flipped was counted in Udp InCsumErrors —
// so the bytes and their checksums are the kernel's idea of right, not just ours.
#include "stack/wire/udp.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <span>
#include <vector>

#include "stack/base/rng.h"
#include "stack/wire/bytes.h"

namespace ustack {
// Counters print by name in assertion failures; Counter::count stands for "parsed".
inline void PrintTo(Counter c, std::ostream* os) {
  *os << (c == Counter::count ? std::string_view("parsed") : counter_name(c));
}
}  // namespace ustack

namespace ustack::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr Ipv4Address kSrc{10, 1, 0, 2};
constexpr Ipv4Address kDst{10, 1, 0, 1};

// 10.1.0.2:40000 -> 10.1.0.1:7 "hello\n".
const Bytes kHello = {0x9c, 0x40, 0x00, 0x07, 0x00, 0x0e, 0x0b,
                      0xaa, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a};
// 10.1.0.2:53 -> 10.1.0.1:33333 "abc": an odd length, so the checksum pads a zero byte.
const Bytes kOdd = {0x00, 0x35, 0x82, 0x35, 0x00, 0x0b, 0xa5, 0x06, 0x61, 0x62, 0x63};
// 10.1.0.2:40001 -> 10.1.0.1:9, no data.
const Bytes kEmpty = {0x9c, 0x41, 0x00, 0x09, 0x00, 0x08, 0x4f, 0x8f};
// 10.1.0.2:40002 -> 10.1.0.1:7 "zero!?Al": the last two bytes were chosen so that the checksum
// computes to 0x0000, which RFC 768 sends as 0xffff (0 would mean "no checksum").
const Bytes kComputedZero = {0x9c, 0x42, 0x00, 0x07, 0x00, 0x10, 0xff, 0xff,
                             0x7a, 0x65, 0x72, 0x6f, 0x21, 0x3f, 0x41, 0x6c};
// 10.1.0.2:40003 -> 10.1.0.1:7 "no checksum" with the checksum field 0: the sender computed none.
const Bytes kNoChecksum = {0x9c, 0x43, 0x00, 0x07, 0x00, 0x13, 0x00, 0x00, 0x6e, 0x6f,
                           0x20, 0x63, 0x68, 0x65, 0x63, 0x6b, 0x73, 0x75, 0x6d};

Counter parse_error(std::span<const std::uint8_t> bytes, Ipv4Address src = kSrc,
                    Ipv4Address dst = kDst) {
  auto h = UdpHeader::parse(bytes, src, dst);
  return h ? Counter::count : h.error();
}

// Emits a header over a copy of `datagram` whose header bytes were scribbled on first.
Bytes emit_over(const Bytes& datagram, std::uint16_t src_port, std::uint16_t dst_port,
                Ipv4Address src = kSrc, Ipv4Address dst = kDst) {
  Bytes out = datagram;
  std::fill_n(out.begin(), UdpHeader::kSize, std::uint8_t{0xcc});
  UdpHeader::emit(out, src_port, dst_port, src, dst);
  return out;
}

// An independent RFC 1071 sum over the pseudo-header and the datagram: 0xffff when it verifies.
std::uint16_t reference_sum(std::span<const std::uint8_t> datagram, Ipv4Address src,
                            Ipv4Address dst) {
  Bytes all(12);
  store_be32(&all[0], src.to_u32());
  store_be32(&all[4], dst.to_u32());
  all[9] = 17;
  store_be16(&all[10], static_cast<std::uint16_t>(datagram.size()));
  all.insert(all.end(), datagram.begin(), datagram.end());
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) {
    sum += (std::uint32_t{all[i]} << 8) | (i + 1 < all.size() ? all[i + 1] : 0u);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

TEST(UdpHeader, RealDatagram) {
  auto h = UdpHeader::parse(kHello, kSrc, kDst);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->src_port, 40000);
  EXPECT_EQ(h->dst_port, 7);
  EXPECT_EQ(h->length, 14);
  EXPECT_EQ(h->checksum, 0x0baa);
  EXPECT_EQ(emit_over(kHello, 40000, 7), kHello);
  EXPECT_EQ(fmt::format("{}", *h), "udp 40000 > 7 len 14");
}

TEST(UdpHeader, RealOddLengthDatagram) {
  auto h = UdpHeader::parse(kOdd, kSrc, kDst);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->src_port, 53);
  EXPECT_EQ(h->dst_port, 33333);
  EXPECT_EQ(h->length, 11);
  EXPECT_EQ(h->checksum, 0xa506);
  EXPECT_EQ(emit_over(kOdd, 53, 33333), kOdd);
}

TEST(UdpHeader, RealEmptyDatagram) {
  auto h = UdpHeader::parse(kEmpty, kSrc, kDst);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->length, 8);
  EXPECT_EQ(h->checksum, 0x4f8f);
  EXPECT_EQ(emit_over(kEmpty, 40001, 9), kEmpty);
}

TEST(UdpHeader, ComputedZeroChecksumIsSentAsFfff) {
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones".
  EXPECT_EQ(emit_over(kComputedZero, 40002, 7), kComputedZero);
  auto h = UdpHeader::parse(kComputedZero, kSrc, kDst);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->checksum, 0xffff);
}

TEST(UdpHeader, ZeroChecksumMeansNoneAndIsAccepted) {
  // RFC 1122 4.1.3.4: verify the checksum only when the sender computed one.
  auto h = UdpHeader::parse(kNoChecksum, kSrc, kDst);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->checksum, 0);
  EXPECT_EQ(h->length, 19);
  // Nothing is checked, so even changed data or other addresses pass.
  Bytes changed = kNoChecksum;
  changed[10] ^= 0x20;
  EXPECT_EQ(parse_error(changed), Counter::count);
  EXPECT_EQ(parse_error(kNoChecksum, Ipv4Address{1, 2, 3, 4}, kDst), Counter::count);
  // We never send a zero checksum: emitting computes one.
  const Bytes emitted = emit_over(kNoChecksum, 40003, 7);
  EXPECT_NE(load_be16(&emitted[6]), 0);
  EXPECT_EQ(reference_sum(emitted, kSrc, kDst), 0xffff);
}

TEST(UdpHeader, EveryFlippedBitIsCaught) {
  // A one-bit change anywhere in the datagram fails the checksum (or, in the length field, may
  // fail the length check first); the ones' complement sum catches every single-bit error.
  for (std::size_t bit = 0; bit < kHello.size() * 8; ++bit) {
    SCOPED_TRACE(bit);
    Bytes bad = kHello;
    bad[bit / 8] ^= static_cast<std::uint8_t>(0x80u >> (bit % 8));
    const Counter e = parse_error(bad);
    if (bit / 8 == 4 || bit / 8 == 5) {
      EXPECT_TRUE(e == Counter::udp_bad_checksum || e == Counter::udp_bad_length);
    } else {
      EXPECT_EQ(e, Counter::udp_bad_checksum);
    }
  }
}

TEST(UdpHeader, ChecksumCoversThePseudoHeader) {
  EXPECT_EQ(parse_error(kHello, Ipv4Address{10, 1, 0, 3}, kDst), Counter::udp_bad_checksum);
  EXPECT_EQ(parse_error(kHello, kSrc, Ipv4Address{10, 1, 0, 9}), Counter::udp_bad_checksum);
  // Swapping source and destination leaves the sum the same (it is commutative) — which is why
  // the ports and addresses are checked by demux, not by the checksum.
  EXPECT_EQ(parse_error(kHello, kDst, kSrc), Counter::count);
}

TEST(UdpHeader, ShorterThanAHeader) {
  for (std::size_t n = 0; n < UdpHeader::kSize; ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(parse_error(std::span(kHello).first(n)), Counter::udp_short);
  }
}

TEST(UdpHeader, LengthFieldBelowEight) {
  for (int length : {0, 1, 7}) {
    SCOPED_TRACE(length);
    Bytes bad = kHello;
    store_be16(&bad[4], static_cast<std::uint16_t>(length));
    EXPECT_EQ(parse_error(bad), Counter::udp_bad_length);
  }
}

TEST(UdpHeader, LengthFieldPastTheIpPayload) {
  // The IP payload ends before the length says the datagram does (truncated).
  EXPECT_EQ(parse_error(std::span(kHello).first(13)), Counter::udp_bad_length);
  Bytes bad = kHello;
  store_be16(&bad[4], 15);
  EXPECT_EQ(parse_error(bad), Counter::udp_bad_length);
  store_be16(&bad[4], 0xffff);
  EXPECT_EQ(parse_error(bad), Counter::udp_bad_length);
}

TEST(UdpHeader, BytesAfterTheLengthAreNotPartOfTheDatagram) {
  // An IP payload longer than the UDP length (padding): the header parses with its own length,
  // and the checksum covers only `length` bytes.
  Bytes padded = kHello;
  padded.insert(padded.end(), {0xde, 0xad, 0xbe, 0xef});
  auto h = UdpHeader::parse(padded, kSrc, kDst);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->length, 14);
  // A shorter length than the data that still has the right checksum for those bytes.
  Bytes shorter = kHello;
  store_be16(&shorter[4], 8);
  UdpHeader::emit(std::span(shorter).first(8), 40000, 7, kSrc, kDst);
  auto s = UdpHeader::parse(shorter, kSrc, kDst);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->length, 8);
}

TEST(UdpHeader, EmitThenParseRoundTripsAtEverySize) {
  Rng rng(42);
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n < 64; ++n) sizes.push_back(n);
  for (std::size_t n : {1472u, 1473u, 8000u, 65507u}) sizes.push_back(n);
  for (std::size_t n : sizes) {
    SCOPED_TRACE(n);
    Bytes d(UdpHeader::kSize + n);
    for (std::size_t i = UdpHeader::kSize; i < d.size(); ++i) {
      d[i] = static_cast<std::uint8_t>(rng.next_u32());
    }
    const auto sport = static_cast<std::uint16_t>(rng.next_u32());
    const auto dport = static_cast<std::uint16_t>(rng.next_u32());
    UdpHeader::emit(d, sport, dport, kDst, kSrc);
    EXPECT_EQ(reference_sum(d, kDst, kSrc), 0xffff);
    auto h = UdpHeader::parse(d, kDst, kSrc);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->src_port, sport);
    EXPECT_EQ(h->dst_port, dport);
    EXPECT_EQ(h->length, d.size());
    EXPECT_NE(h->checksum, 0);
  }
}

}  // namespace
}  // namespace ustack::wire
