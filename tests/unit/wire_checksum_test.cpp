// The Internet checksum (RFC 1071), the pseudo-header sum and RFC 1624 incremental updates,
// checked against a slow byte-at-a-time reference and against bytes a Linux kernel produced.
#include "stack/wire/checksum.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "stack/base/rng.h"

namespace ustack::wire {
namespace {

// The textbook algorithm: big-endian 16-bit words, an odd byte padded with zero, a 32-bit sum
// folded until it fits, complemented.
std::uint16_t reference_sum(std::span<const std::uint8_t> bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    std::uint32_t word = std::uint32_t{bytes[i]} << 8;
    if (i + 1 < bytes.size()) word |= bytes[i + 1];
    sum += word;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t reference_checksum(std::span<const std::uint8_t> bytes) {
  return static_cast<std::uint16_t>(~reference_sum(bytes));
}

std::vector<std::uint8_t> random_bytes(Rng& rng, std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng.next_u32());
  return v;
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, so the checksum is 220d.
  const std::array<std::uint8_t, 8> bytes = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(reference_sum(bytes), 0xddf2);
  EXPECT_EQ(checksum(bytes), 0x220d);

  // With the checksum appended the whole verifies to zero.
  std::array<std::uint8_t, 10> with_sum{};
  std::copy(bytes.begin(), bytes.end(), with_sum.begin());
  store_be16(with_sum.data() + 8, 0x220d);
  EXPECT_EQ(checksum(with_sum), 0);
}

TEST(Checksum, EmptyAndSmall) {
  EXPECT_EQ(checksum({}), 0xffff);
  EXPECT_EQ(checksum(std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(nullptr), 0)),
            0xffff);
  const std::uint8_t one[] = {0xab};
  EXPECT_EQ(checksum(one), 0x54ff);  // ~0xab00
  const std::uint8_t two[] = {0xab, 0xcd};
  EXPECT_EQ(checksum(two), 0x5432);  // ~0xabcd
  const std::uint8_t three[] = {0x01, 0x02, 0x03};
  EXPECT_EQ(checksum(three), 0xfbfd);  // ~(0x0102 + 0x0300)
  const std::uint8_t zeros[4] = {};
  EXPECT_EQ(checksum(zeros), 0xffff);
  const std::uint8_t ones[4] = {0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(checksum(ones), 0x0000);
}

TEST(Checksum, OddLengthPadsWithZero) {
  // An odd trailing byte counts as the high byte of a word whose low byte is zero.
  const std::uint8_t odd[] = {0x12, 0x34, 0x56};
  const std::uint8_t padded[] = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(checksum(odd), checksum(padded));
  EXPECT_EQ(checksum(odd), reference_checksum(odd));
}

TEST(Checksum, EveryLengthTo200MatchesReference) {
  Rng rng(1071);
  std::vector<std::uint8_t> pattern(200);
  for (std::size_t i = 0; i < pattern.size(); ++i)
    pattern[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const std::vector<std::uint8_t> all_ff(200, 0xff);
  const std::vector<std::uint8_t> all_00(200, 0x00);
  const std::vector<std::uint8_t> random = random_bytes(rng, 200);
  for (std::size_t n = 0; n <= 200; ++n) {
    const std::vector<std::uint8_t>* buffers[] = {&pattern, &all_ff, &all_00, &random};
    for (const auto* v : buffers) {
      std::span<const std::uint8_t> s(v->data(), n);
      ASSERT_EQ(checksum(s), reference_checksum(s)) << "length " << n;
    }
  }
}

TEST(Checksum, RandomBuffersMatchReference) {
  Rng rng(42);
  for (int round = 0; round < 2000; ++round) {
    auto v = random_bytes(rng, rng.below(3000));
    ASSERT_EQ(checksum(v), reference_checksum(v)) << "round " << round << " size " << v.size();
  }
}

TEST(Checksum, CarryHeavyBuffers) {
  // Mostly 0xff with a few other bytes: every 64-bit addition carries.
  Rng rng(7);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::uint8_t> v(rng.below(600), 0xff);
    for (auto& b : v) {
      if (rng.chance(0.05)) b = static_cast<std::uint8_t>(rng.next_u32());
    }
    ASSERT_EQ(checksum(v), reference_checksum(v)) << "round " << round;
  }
}

TEST(Checksum, MisalignedSpans) {
  Rng rng(99);
  auto v = random_bytes(rng, 1500);
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 31u, 32u, 33u, 63u, 64u, 65u, 1400u}) {
      std::span<const std::uint8_t> s(v.data() + offset, n);
      ASSERT_EQ(checksum(s), reference_checksum(s)) << "offset " << offset << " n " << n;
    }
  }
}

TEST(Checksum, EveryLengthTo300AtEveryAlignment) {
  // The sum reads 64-byte blocks, then 8-byte words, then a 4/2/1-byte tail: every length up to
  // 300 at every start offset within a word crosses each boundary between those paths, including
  // odd lengths (a zero-padded last byte) and all-0xff data (a carry out of every addition).
  Rng rng(300);
  const std::vector<std::uint8_t> random = random_bytes(rng, 308);
  const std::vector<std::uint8_t> all_ff(308, 0xff);
  std::vector<std::uint8_t> high_bytes(308);
  for (std::size_t i = 0; i < high_bytes.size(); ++i) {
    high_bytes[i] = static_cast<std::uint8_t>(0x80 | (i * 13));
  }
  const std::vector<std::uint8_t>* buffers[] = {&random, &all_ff, &high_bytes};
  for (const auto* v : buffers) {
    for (std::size_t offset = 0; offset < 8; ++offset) {
      for (std::size_t n = 0; n <= 300; ++n) {
        std::span<const std::uint8_t> s(v->data() + offset, n);
        ASSERT_EQ(checksum(s), reference_checksum(s)) << "offset " << offset << " n " << n;
      }
    }
  }
}

TEST(Checksum, StoredChecksumVerifiesToZero) {
  Rng rng(5);
  for (int round = 0; round < 500; ++round) {
    // An even-length buffer with a zeroed checksum field at an even offset.
    std::size_t words = 2 + rng.below(400);
    auto v = random_bytes(rng, words * 2);
    std::size_t at = 2 * rng.below(words);
    store_be16(v.data() + at, 0);
    store_be16(v.data() + at, checksum(v));
    ASSERT_EQ(checksum(v), 0) << "round " << round;
  }
}

TEST(ChecksumAccumulator, ChunksAtEvenOffsetsEqualWhole) {
  Rng rng(11);
  for (int round = 0; round < 500; ++round) {
    auto v = random_bytes(rng, rng.below(2000));
    ChecksumAccumulator acc;
    std::size_t at = 0;
    while (at < v.size()) {
      std::size_t n = std::min<std::size_t>(v.size() - at, 2 * rng.below(100));
      if (n == 0) n = v.size() - at;  // the last chunk may be odd
      acc.add(std::span<const std::uint8_t>(v).subspan(at, n));
      at += n;
    }
    ASSERT_EQ(acc.finish(), reference_checksum(v)) << "round " << round;
  }
}

TEST(ChecksumAccumulator, WordsAndBytesAgree) {
  const std::uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef, 0x12, 0x34};
  ChecksumAccumulator a;
  a.add(bytes);
  ChecksumAccumulator b;
  b.add_u32(0xdeadbeef);
  b.add_u16(0x1234);
  EXPECT_EQ(a.finish(), b.finish());
  EXPECT_EQ(a.finish(), reference_checksum(bytes));

  // Many additions without folding in between stay exact.
  ChecksumAccumulator many;
  std::vector<std::uint8_t> ff(2 * 100000, 0xff);
  for (int i = 0; i < 100000; ++i) many.add_u16(0xffff);
  EXPECT_EQ(many.finish(), reference_checksum(ff));
  EXPECT_EQ(ChecksumAccumulator{}.finish(), 0xffff);
}

// A UDP datagram that a Linux kernel sent from a TAP without checksum offload:
// 10.0.0.1:40000 -> 10.0.0.2:7, "hello\n".
constexpr std::array<std::uint8_t, 34> kRealIpUdp = {
    // IPv4 header
    0x45, 0x00, 0x00, 0x22, 0xe9, 0x64, 0x40, 0x00, 0x40, 0x11, 0x3d, 0x64, 0x0a, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x02,
    // UDP header and payload
    0x9c, 0x40, 0x00, 0x07, 0x00, 0x0e, 0x0b, 0xac, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a};

TEST(PseudoHeader, RealUdpDatagram) {
  const Ipv4Address src(10, 0, 0, 1);
  const Ipv4Address dst(10, 0, 0, 2);
  std::span<const std::uint8_t> udp(kRealIpUdp.data() + 20, 14);

  // Verifying: pseudo-header plus the segment with its checksum sums to all ones.
  ChecksumAccumulator verify;
  add_pseudo_header(verify, src, dst, 17, 14);
  verify.add(udp);
  EXPECT_EQ(verify.finish(), 0);

  // Computing: with the checksum field zeroed, the result is what the kernel wrote.
  std::array<std::uint8_t, 14> zeroed{};
  std::copy(udp.begin(), udp.end(), zeroed.begin());
  store_be16(zeroed.data() + 6, 0);
  ChecksumAccumulator compute;
  add_pseudo_header(compute, src, dst, 17, 14);
  compute.add(zeroed);
  EXPECT_EQ(compute.finish(), 0x0bac);

  // The pseudo-header is the 12 bytes src, dst, zero, protocol, length.
  std::vector<std::uint8_t> flat = {0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
                                    0x00, 0x02, 0x00, 0x11, 0x00, 0x0e};
  flat.insert(flat.end(), zeroed.begin(), zeroed.end());
  EXPECT_EQ(reference_checksum(flat), 0x0bac);

  // The IPv4 header of the same datagram verifies too.
  EXPECT_EQ(checksum(std::span(kRealIpUdp).first(20)), 0);
}

TEST(PseudoHeader, MatchesFlatLayoutForRandomValues) {
  Rng rng(768);
  for (int round = 0; round < 1000; ++round) {
    auto src = Ipv4Address::from_u32(rng.next_u32());
    auto dst = Ipv4Address::from_u32(rng.next_u32());
    auto protocol = static_cast<std::uint8_t>(rng.next_u32());
    auto segment = random_bytes(rng, rng.below(1500));
    auto length = static_cast<std::uint16_t>(segment.size());

    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, protocol, length);
    acc.add(segment);

    std::vector<std::uint8_t> flat(12);
    src.store(flat.data());
    dst.store(flat.data() + 4);
    flat[8] = 0;
    flat[9] = protocol;
    store_be16(flat.data() + 10, length);
    flat.insert(flat.end(), segment.begin(), segment.end());
    ASSERT_EQ(acc.finish(), reference_checksum(flat)) << "round " << round;
  }
}

TEST(ChecksumAdjust, Rfc1624Example) {
  // RFC 1624 section 4: HC = 0xDD2F, a field changes from 0x5555 to 0x3285; the other octets
  // sum to 0xCD7A. The correct new checksum is 0x0000 (eqn. 2 of RFC 1141 wrongly gives 0xFFFF).
  EXPECT_EQ(checksum_adjust(0xdd2f, 0x5555, 0x3285), 0x0000);

  // The same through full sums: other octets 0xCD7A plus the field.
  const std::uint8_t before[] = {0xcd, 0x7a, 0x55, 0x55};
  const std::uint8_t after[] = {0xcd, 0x7a, 0x32, 0x85};
  EXPECT_EQ(checksum(before), 0xdd2f);
  EXPECT_EQ(checksum(after), 0x0000);
}

TEST(ChecksumAdjust, UnchangedFieldKeepsChecksum) {
  for (std::uint32_t hc : {0x0000u, 0x0001u, 0x1234u, 0xfffeu}) {
    for (std::uint32_t m : {0x0000u, 0x0001u, 0x8000u, 0xfffeu, 0xffffu}) {
      EXPECT_EQ(checksum_adjust(static_cast<std::uint16_t>(hc), static_cast<std::uint16_t>(m),
                                static_cast<std::uint16_t>(m)),
                hc)
          << hc << " " << m;
    }
  }
}

TEST(ChecksumAdjust, CornerCasesAroundZero) {
  // Two words: 0x1234 and an edited one. Editing 0x0000 -> 0xedcb makes the sum 0xffff, so the
  // checksum becomes 0x0000; and back.
  std::uint8_t buf[] = {0x12, 0x34, 0x00, 0x00};
  std::uint16_t hc = checksum(buf);
  EXPECT_EQ(hc, 0xedcb);
  std::uint16_t adjusted = checksum_adjust(hc, 0x0000, 0xedcb);
  store_be16(buf + 2, 0xedcb);
  EXPECT_EQ(checksum(buf), 0x0000);
  EXPECT_EQ(adjusted, 0x0000);
  EXPECT_EQ(checksum_adjust(adjusted, 0xedcb, 0x0000), 0xedcb);

  // A field going to and from 0xffff (negative zero in one's complement).
  std::uint8_t buf2[] = {0x12, 0x34, 0x00, 0x00};
  hc = checksum(buf2);
  store_be16(buf2 + 2, 0xffff);
  EXPECT_EQ(checksum_adjust(hc, 0x0000, 0xffff), checksum(buf2));
  EXPECT_EQ(checksum_adjust(checksum(buf2), 0xffff, 0x0000), hc);
}

// RFC 1624 assumes the checksummed data is never all zero (an IPv4 header always has its
// version). With that, eqn. 3 must equal a full recompute for any edit of any 16-bit word.
TEST(ChecksumAdjust, EqualsFullRecomputeForRandomEdits) {
  Rng rng(1624);
  for (int round = 0; round < 20000; ++round) {
    std::size_t words = 2 + rng.below(30);
    std::vector<std::uint8_t> v(words * 2);
    // Small values in some rounds so that sums hit 0x0000 and 0xffff often.
    bool sparse = rng.chance(0.5);
    for (auto& b : v)
      b = sparse ? static_cast<std::uint8_t>(rng.below(2))
                 : static_cast<std::uint8_t>(rng.next_u32());
    v[0] |= 0x40;  // a word that is never edited and never zero, like IPv4's version
    std::uint16_t hc = checksum(v);

    std::size_t at = 2 * (1 + rng.below(words - 1));
    std::uint16_t old_field = load_be16(v.data() + at);
    std::uint16_t new_field;
    switch (rng.below(4)) {
      case 0:
        new_field = 0x0000;
        break;
      case 1:
        new_field = 0xffff;
        break;
      case 2:
        new_field = static_cast<std::uint16_t>(old_field - 1);
        break;
      default:
        new_field = static_cast<std::uint16_t>(rng.next_u32());
        break;
    }
    store_be16(v.data() + at, new_field);
    ASSERT_EQ(checksum_adjust(hc, old_field, new_field), checksum(v))
        << "round " << round << " hc " << hc << " " << old_field << " -> " << new_field;
  }
}

TEST(ChecksumAdjust, EveryPossibleOldAndNewOnAFixedHeader) {
  // All 2^16 new values of one field, from several old values, on the real UDP datagram's IP
  // header: adjusting and recomputing agree and the result always verifies.
  std::array<std::uint8_t, 20> header{};
  std::copy_n(kRealIpUdp.begin(), 20, header.begin());
  for (std::uint16_t old_id : {std::uint16_t{0xe964}, std::uint16_t{0}, std::uint16_t{0xffff}}) {
    store_be16(header.data() + 4, old_id);
    store_be16(header.data() + 10, 0);
    std::uint16_t hc = checksum(header);
    store_be16(header.data() + 10, hc);
    for (std::uint32_t id = 0; id <= 0xffff; ++id) {
      auto new_id = static_cast<std::uint16_t>(id);
      std::uint16_t adjusted = checksum_adjust(hc, old_id, new_id);
      store_be16(header.data() + 4, new_id);
      store_be16(header.data() + 10, adjusted);
      ASSERT_EQ(checksum(header), 0) << old_id << " -> " << new_id;
    }
  }
}

TEST(ChecksumAdjust, TtlDecrementOnRealHeader) {
  // A router's TTL decrement (RFC 1141/1624): the TTL shares a word with the protocol.
  std::array<std::uint8_t, 20> header{};
  std::copy_n(kRealIpUdp.begin(), 20, header.begin());
  std::uint16_t hc = load_be16(header.data() + 10);
  std::uint16_t old_word = load_be16(header.data() + 8);  // ttl 64, protocol 17
  EXPECT_EQ(old_word, 0x4011);
  header[8] = 63;
  std::uint16_t new_word = load_be16(header.data() + 8);
  std::uint16_t adjusted = checksum_adjust(hc, old_word, new_word);
  EXPECT_EQ(adjusted, 0x3e64);  // 0x3d64 + 0x0100
  store_be16(header.data() + 10, 0);
  EXPECT_EQ(checksum(header), adjusted);
}

}  // namespace
}  // namespace ustack::wire
