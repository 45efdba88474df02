// TCP header and options (RFC 9293 3.1, 3.2; RFC 7323; RFC 2018) parse/emit on segments a Linux
// kernel sent. The vectors were captured with dumpcap on a veth between two network namespaces,
// with transmit checksum offload turned off so that the kernel filled in every checksum:
//   - a Python client 10.9.0.2:51156 talking to a Python server 10.9.0.1:8080 (SYN, SYN-ACK, the
//     client's "hello\n", the server's FIN);
//   - a raw-socket peer 10.9.0.3:40000 that sent the kernel two out-of-order segments, which the
//     kernel answered with duplicate ACKs carrying one and then two SACK blocks.
// tshark reported every checksum good, and emit() reproduces each segment byte for byte (Linux
// and emit() lay the options out the same way). Malformed option lists are built here with a
// checksum computed by an independent reference sum, so that the option parser is reached.
#include "stack/wire/tcp.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "stack/base/rng.h"
#include "stack/wire/bytes.h"

namespace ustack {
// Counters print by name in assertion failures; Counter::count stands for "parsed".
inline void PrintTo(Counter c, std::ostream* os) {
  *os << (c == Counter::count ? std::string_view("parsed") : counter_name(c));
}
}  // namespace ustack

namespace ustack::tcp {
inline void PrintTo(Seq s, std::ostream* os) {
  *os << "Seq(" << s.raw() << ")";
}
}  // namespace ustack::tcp

namespace ustack::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;
using tcp::Seq;

constexpr Ipv4Address kClient{10, 9, 0, 2};
constexpr Ipv4Address kServer{10, 9, 0, 1};
constexpr Ipv4Address kRawPeer{10, 9, 0, 3};

// 10.9.0.2:51156 > 10.9.0.1:8080 [S] seq 464133743 win 64240
// <mss 1460,sackOK,TS val 2604046059 ecr 0,nop,wscale 10>
const Bytes kSyn = {0xc7, 0xd4, 0x1f, 0x90, 0x1b, 0xaa, 0x1e, 0x6f, 0x00, 0x00,
                    0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0xe5, 0x57, 0x00, 0x00,
                    0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x9b, 0x36,
                    0x96, 0xeb, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a};
// 10.9.0.1:8080 > 10.9.0.2:51156 [S.] seq 860728814 ack 464133744 win 65160
// <mss 1460,sackOK,TS val 710230022 ecr 2604046059,nop,wscale 10>
const Bytes kSynAck = {0x1f, 0x90, 0xc7, 0xd4, 0x33, 0x4d, 0xad, 0xee, 0x1b, 0xaa,
                       0x1e, 0x70, 0xa0, 0x12, 0xfe, 0x88, 0x96, 0x17, 0x00, 0x00,
                       0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x2a, 0x55,
                       0x40, 0x06, 0x9b, 0x36, 0x96, 0xeb, 0x01, 0x03, 0x03, 0x0a};
// 10.9.0.2:51156 > 10.9.0.1:8080 [P.] seq 464133744 ack 860728815 win 63 "hello\n"
// <nop,nop,TS val 2604046059 ecr 710230022>
const Bytes kHello = {0xc7, 0xd4, 0x1f, 0x90, 0x1b, 0xaa, 0x1e, 0x70, 0x33, 0x4d, 0xad, 0xef, 0x80,
                      0x18, 0x00, 0x3f, 0x7f, 0x46, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x9b, 0x36,
                      0x96, 0xeb, 0x2a, 0x55, 0x40, 0x06, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a};
// 10.9.0.1:8080 > 10.9.0.2:51156 [F.] seq 860728821 ack 464133750 win 64
// <nop,nop,TS val 710230022 ecr 2604046059>
const Bytes kFin = {0x1f, 0x90, 0xc7, 0xd4, 0x33, 0x4d, 0xad, 0xf5, 0x1b, 0xaa, 0x1e,
                    0x76, 0x80, 0x11, 0x00, 0x40, 0xc3, 0x22, 0x00, 0x00, 0x01, 0x01,
                    0x08, 0x0a, 0x2a, 0x55, 0x40, 0x06, 0x9b, 0x36, 0x96, 0xeb};
// 10.9.0.1:8080 > 10.9.0.3:40000 [.] seq 2371998978 ack 1001 win 64
// <nop,nop,TS val 3250604738 ecr 2,nop,nop,sack 1 {2001:2101}>
const Bytes kSack1 = {0x1f, 0x90, 0x9c, 0x40, 0x8d, 0x61, 0xd5, 0x02, 0x00, 0x00, 0x03,
                      0xe9, 0xb0, 0x10, 0x00, 0x40, 0xed, 0xa7, 0x00, 0x00, 0x01, 0x01,
                      0x08, 0x0a, 0xc1, 0xc0, 0x4a, 0xc2, 0x00, 0x00, 0x00, 0x02, 0x01,
                      0x01, 0x05, 0x0a, 0x00, 0x00, 0x07, 0xd1, 0x00, 0x00, 0x08, 0x35};
// 10.9.0.1:8080 > 10.9.0.3:40000 [.] seq 2371998978 ack 1001 win 64
// <nop,nop,TS val 3250604738 ecr 2,nop,nop,sack 2 {4001:4201}{2001:2101}>
const Bytes kSack2 = {0x1f, 0x90, 0x9c, 0x40, 0x8d, 0x61, 0xd5, 0x02, 0x00, 0x00, 0x03, 0xe9, 0xd0,
                      0x10, 0x00, 0x40, 0xad, 0x8d, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0xc1, 0xc0,
                      0x4a, 0xc2, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x05, 0x12, 0x00, 0x00, 0x0f,
                      0xa1, 0x00, 0x00, 0x10, 0x69, 0x00, 0x00, 0x07, 0xd1, 0x00, 0x00, 0x08, 0x35};

// An independent RFC 1071 sum over the pseudo-header and the segment: 0xffff when it verifies.
std::uint16_t reference_sum(std::span<const std::uint8_t> segment, Ipv4Address src,
                            Ipv4Address dst) {
  Bytes all(12);
  store_be32(&all[0], src.to_u32());
  store_be32(&all[4], dst.to_u32());
  all[9] = 6;
  store_be16(&all[10], static_cast<std::uint16_t>(segment.size()));
  all.insert(all.end(), segment.begin(), segment.end());
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) {
    sum += (std::uint32_t{all[i]} << 8) | (i + 1 < all.size() ? all[i + 1] : 0u);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// Sets the checksum field so that reference_sum() verifies.
void fix_checksum(Bytes& segment, Ipv4Address src = kClient, Ipv4Address dst = kServer) {
  store_be16(&segment[16], 0);
  store_be16(&segment[16], static_cast<std::uint16_t>(~reference_sum(segment, src, dst)));
}

// A 10.9.0.2:51156 > 10.9.0.1:8080 SYN carrying `options` (padded with zeros, EOL, to a multiple
// of 4) and `payload`, with a correct checksum.
Bytes segment_with(const Bytes& options, const Bytes& payload = {}) {
  Bytes s(kSyn.begin(), kSyn.begin() + 20);
  s.insert(s.end(), options.begin(), options.end());
  while (s.size() % 4 != 0) s.push_back(0);
  s[12] = static_cast<std::uint8_t>((s.size() / 4) << 4);
  s.insert(s.end(), payload.begin(), payload.end());
  fix_checksum(s);
  return s;
}

Counter parse_error(std::span<const std::uint8_t> bytes, Ipv4Address src = kClient,
                    Ipv4Address dst = kServer) {
  auto h = TcpHeader::parse(bytes, src, dst);
  return h ? Counter::count : h.error();
}

TcpOptions parse_options(const Bytes& options) {
  auto h = TcpHeader::parse(segment_with(options), kClient, kServer);
  EXPECT_TRUE(h) << counter_name(h.error());
  return h ? h->options : TcpOptions{};
}

// Emits `h` over a copy of `segment` whose header bytes were scribbled on first.
Bytes emit_over(const TcpHeader& h, const Bytes& segment, Ipv4Address src, Ipv4Address dst) {
  Bytes out = segment;
  std::fill_n(out.begin(), h.emit_size(), std::uint8_t{0xcc});
  EXPECT_EQ(h.emit(out, src, dst), h.emit_size());
  return out;
}

TEST(TcpHeader, RealSyn) {
  auto h = TcpHeader::parse(kSyn, kClient, kServer);
  ASSERT_TRUE(h) << counter_name(h.error());
  EXPECT_EQ(h->src_port, 51156);
  EXPECT_EQ(h->dst_port, 8080);
  EXPECT_EQ(h->seq, Seq(464133743));
  EXPECT_EQ(h->ack, Seq(0));
  EXPECT_EQ(h->header_length, 40);
  EXPECT_EQ(h->flags, tcp_flag::syn);
  EXPECT_TRUE(h->syn());
  EXPECT_FALSE(h->has_ack());
  EXPECT_EQ(h->window, 64240);
  EXPECT_EQ(h->checksum, 0xe557);
  EXPECT_EQ(h->urgent_pointer, 0);
  EXPECT_EQ(h->payload_length, 0);
  EXPECT_EQ(h->segment_length(), 1u);
  EXPECT_EQ(h->options.mss, 1460);
  EXPECT_TRUE(h->options.sack_permitted);
  ASSERT_TRUE(h->options.timestamps);
  EXPECT_EQ(h->options.timestamps->value, 2604046059u);
  EXPECT_EQ(h->options.timestamps->echo_reply, 0u);
  EXPECT_EQ(h->options.window_scale, 10);
  EXPECT_EQ(h->options.sack_count, 0);
  EXPECT_EQ(h->options.ignored, 0);
  EXPECT_EQ(h->emit_size(), 40u);
  EXPECT_EQ(emit_over(*h, kSyn, kClient, kServer), kSyn);
  EXPECT_EQ(fmt::format("{}", *h),
            "tcp 51156 > 8080 [S] seq 464133743 win 64240 len 0 "
            "<mss 1460,sackOK,ts 2604046059 0,wscale 10>");
}

TEST(TcpHeader, RealSynAck) {
  auto h = TcpHeader::parse(kSynAck, kServer, kClient);
  ASSERT_TRUE(h) << counter_name(h.error());
  EXPECT_EQ(h->seq, Seq(860728814));
  EXPECT_EQ(h->ack, Seq(464133744));
  EXPECT_EQ(h->flags, tcp_flag::syn | tcp_flag::ack);
  EXPECT_EQ(h->window, 65160);
  EXPECT_EQ(h->options.mss, 1460);
  EXPECT_EQ(h->options.timestamps, (TcpTimestamps{710230022, 2604046059}));
  EXPECT_EQ(emit_over(*h, kSynAck, kServer, kClient), kSynAck);
  EXPECT_EQ(fmt::format("{}", *h),
            "tcp 8080 > 51156 [S.] seq 860728814 ack 464133744 win 65160 len 0 "
            "<mss 1460,sackOK,ts 710230022 2604046059,wscale 10>");
}

TEST(TcpHeader, RealDataSegment) {
  auto h = TcpHeader::parse(kHello, kClient, kServer);
  ASSERT_TRUE(h) << counter_name(h.error());
  EXPECT_EQ(h->flags, tcp_flag::psh | tcp_flag::ack);
  EXPECT_EQ(h->header_length, 32);
  EXPECT_EQ(h->payload_length, 6);
  EXPECT_EQ(h->segment_length(), 6u);
  EXPECT_EQ(std::string(kHello.begin() + h->header_length, kHello.end()), "hello\n");
  EXPECT_FALSE(h->options.mss);
  EXPECT_FALSE(h->options.sack_permitted);
  EXPECT_FALSE(h->options.window_scale);
  EXPECT_EQ(h->options.timestamps, (TcpTimestamps{2604046059, 710230022}));
  EXPECT_EQ(emit_over(*h, kHello, kClient, kServer), kHello);
  EXPECT_EQ(fmt::format("{}", *h),
            "tcp 51156 > 8080 [P.] seq 464133744 ack 860728815 win 63 len 6 "
            "<ts 2604046059 710230022>");
}

TEST(TcpHeader, RealFin) {
  auto h = TcpHeader::parse(kFin, kServer, kClient);
  ASSERT_TRUE(h) << counter_name(h.error());
  EXPECT_TRUE(h->fin());
  EXPECT_TRUE(h->has_ack());
  EXPECT_EQ(h->seq, Seq(860728821));
  EXPECT_EQ(h->ack, Seq(464133750));
  EXPECT_EQ(h->segment_length(), 1u);
  EXPECT_EQ(emit_over(*h, kFin, kServer, kClient), kFin);
  EXPECT_EQ(fmt::format("{}", *h),
            "tcp 8080 > 51156 [F.] seq 860728821 ack 464133750 win 64 len 0 "
            "<ts 710230022 2604046059>");
}

TEST(TcpHeader, RealSackBlocks) {
  auto one = TcpHeader::parse(kSack1, kServer, kRawPeer);
  ASSERT_TRUE(one) << counter_name(one.error());
  ASSERT_EQ(one->options.sack_count, 1);
  EXPECT_EQ(one->options.sack_blocks[0], (SackBlock{Seq(2001), Seq(2101)}));
  EXPECT_EQ(emit_over(*one, kSack1, kServer, kRawPeer), kSack1);

  auto two = TcpHeader::parse(kSack2, kServer, kRawPeer);
  ASSERT_TRUE(two) << counter_name(two.error());
  ASSERT_EQ(two->options.sacks().size(), 2u);
  EXPECT_EQ(two->options.sacks()[0], (SackBlock{Seq(4001), Seq(4201)}));
  EXPECT_EQ(two->options.sacks()[1], (SackBlock{Seq(2001), Seq(2101)}));
  EXPECT_EQ(two->options.timestamps, (TcpTimestamps{3250604738, 2}));
  EXPECT_EQ(emit_over(*two, kSack2, kServer, kRawPeer), kSack2);
  EXPECT_EQ(fmt::format("{}", *two),
            "tcp 8080 > 40000 [.] seq 2371998978 ack 1001 win 64 len 0 "
            "<ts 3250604738 2,sack 2 {4001:4201}{2001:2101}>");
}

TEST(TcpHeader, EveryFlippedBitIsCaught) {
  // A one-bit change anywhere fails the checksum, except in the data offset (byte 12's high
  // nibble), which is checked first and may fail as tcp.bad_offset.
  for (const Bytes* seg : {&kSyn, &kHello}) {
    for (std::size_t bit = 0; bit < seg->size() * 8; ++bit) {
      SCOPED_TRACE(bit);
      Bytes bad = *seg;
      bad[bit / 8] ^= static_cast<std::uint8_t>(0x80u >> (bit % 8));
      const Counter e = parse_error(bad);
      if (bit / 8 == 12 && bit % 8 < 4) {
        EXPECT_TRUE(e == Counter::tcp_bad_checksum || e == Counter::tcp_bad_offset);
      } else {
        EXPECT_EQ(e, Counter::tcp_bad_checksum);
      }
    }
  }
}

TEST(TcpHeader, ChecksumCoversThePseudoHeader) {
  EXPECT_EQ(parse_error(kSyn, Ipv4Address{10, 9, 0, 9}, kServer), Counter::tcp_bad_checksum);
  EXPECT_EQ(parse_error(kSyn, kClient, Ipv4Address{10, 9, 0, 9}), Counter::tcp_bad_checksum);
  // The TCP length is in the pseudo-header: a segment cut short (an IP total length that lies)
  // or one with a byte appended fails even where the sum of the bytes would not change.
  EXPECT_EQ(parse_error(std::span(kHello).first(kHello.size() - 1)), Counter::tcp_bad_checksum);
  Bytes longer = kHello;
  longer.push_back(0);
  EXPECT_EQ(parse_error(longer), Counter::tcp_bad_checksum);
  // A zero checksum field is not "no checksum" as in UDP: it is checked like any other.
  Bytes zero = kHello;
  store_be16(&zero[16], 0);
  EXPECT_EQ(parse_error(zero), Counter::tcp_bad_checksum);
}

TEST(TcpHeader, ShorterThanAHeader) {
  for (std::size_t n = 0; n < TcpHeader::kMinSize; ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(parse_error(std::span(kSyn).first(n)), Counter::tcp_short);
  }
}

TEST(TcpHeader, DataOffsetBelowFive) {
  for (std::uint8_t offset = 0; offset < 5; ++offset) {
    SCOPED_TRACE(offset);
    Bytes bad = kHello;
    bad[12] = static_cast<std::uint8_t>((offset << 4) | (bad[12] & 0x0f));
    fix_checksum(bad);
    EXPECT_EQ(parse_error(bad), Counter::tcp_bad_offset);
  }
}

TEST(TcpHeader, DataOffsetPastTheSegment) {
  // A 40-byte SYN whose header claims 44..60 bytes, and a bare 20-byte header claiming 24.
  for (std::uint8_t offset = 11; offset <= 15; ++offset) {
    SCOPED_TRACE(offset);
    Bytes bad = kSyn;
    bad[12] = static_cast<std::uint8_t>(offset << 4);
    fix_checksum(bad);
    EXPECT_EQ(parse_error(bad), Counter::tcp_bad_offset);
  }
  Bytes bare = segment_with({});
  ASSERT_EQ(parse_error(bare), Counter::count);
  bare[12] = 0x60;
  fix_checksum(bare);
  EXPECT_EQ(parse_error(bare), Counter::tcp_bad_offset);
  // Exactly the segment is fine: a 60-byte header with no data.
  Bytes full = segment_with(Bytes(40, 1));
  EXPECT_EQ(parse_error(full), Counter::count);
}

TEST(TcpHeader, NoOptionsAndEveryFlag) {
  Bytes s = segment_with({}, {'x', 'y'});
  s[13] = 0xff;
  store_be16(&s[18], 7);
  fix_checksum(s);
  auto h = TcpHeader::parse(s, kClient, kServer);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->options.empty());
  EXPECT_TRUE(h->fin() && h->syn() && h->rst() && h->psh() && h->has_ack() && h->urg() &&
              h->ece() && h->cwr());
  EXPECT_EQ(h->segment_length(), 4u);
  EXPECT_EQ(fmt::format("{}", *h),
            "tcp 51156 > 8080 [FSRP.UEW] seq 464133743 ack 0 win 64240 urg 7 len 2");
  s[13] = 0;
  fix_checksum(s);
  h = TcpHeader::parse(s, kClient, kServer);
  ASSERT_TRUE(h);
  EXPECT_EQ(fmt::format("{}", *h), "tcp 51156 > 8080 [none] seq 464133743 win 64240 len 2");
  EXPECT_EQ(emit_over(*h, s, kClient, kServer), s);
}

// --- Malformed option lists: the whole segment is dropped as tcp.bad_options -------------------

TEST(TcpOptions, LengthZeroOrOneFails) {
  // Known and unknown kinds alike: a length under 2 cannot advance past the option.
  for (std::uint8_t kind : Bytes{2, 3, 4, 5, 8, 30, 254}) {
    for (std::uint8_t length : Bytes{0, 1}) {
      SCOPED_TRACE(fmt::format("kind {} length {}", kind, length));
      EXPECT_EQ(parse_error(segment_with({kind, length, 0, 0})), Counter::tcp_bad_options);
      // Also after good options, and with room to spare behind it.
      EXPECT_EQ(parse_error(segment_with({2, 4, 5, 0xb4, 1, kind, length, 0, 0, 0, 0, 0})),
                Counter::tcp_bad_options);
    }
  }
}

TEST(TcpOptions, LengthPastTheOptionSpaceFails) {
  // Timestamps (10 bytes) with 6 left; MSS with 3 left; an unknown kind claiming 255.
  EXPECT_EQ(parse_error(segment_with({1, 1, 8, 10, 0, 0, 0, 0})), Counter::tcp_bad_options);
  EXPECT_EQ(parse_error(segment_with({1, 2, 4, 5})), Counter::tcp_bad_options);
  EXPECT_EQ(parse_error(segment_with({254, 255, 0, 0})), Counter::tcp_bad_options);
  // The option space ends at the data offset even when payload bytes follow: an option may
  // not reach into the data.
  EXPECT_EQ(parse_error(segment_with({1, 1, 2, 6}, {0, 0, 0, 0})), Counter::tcp_bad_options);
  // One byte short of fitting, and exactly fitting.
  EXPECT_EQ(parse_error(segment_with({254, 5, 0, 0})), Counter::tcp_bad_options);
  EXPECT_EQ(parse_error(segment_with({254, 4, 0, 0})), Counter::count);
}

TEST(TcpOptions, KindWithoutLengthAtTheEndFails) {
  for (std::uint8_t kind : Bytes{2, 3, 4, 5, 8, 254}) {
    SCOPED_TRACE(kind);
    EXPECT_EQ(parse_error(segment_with({1, 1, 1, kind})), Counter::tcp_bad_options);
    // In a full 40-byte option space too.
    Bytes options(39, 1);
    options.push_back(kind);
    EXPECT_EQ(parse_error(segment_with(options)), Counter::tcp_bad_options);
  }
}

TEST(TcpOptions, SackWithFiveBlocksCannotFit) {
  // 2 + 5 * 8 = 42 bytes: more than the 40-byte option space, so the length runs past it.
  Bytes options = {5, 42};
  options.resize(40, 0);
  EXPECT_EQ(parse_error(segment_with(options)), Counter::tcp_bad_options);
}

// --- Known kinds with the wrong length: that option is ignored, the segment is kept -------------

TEST(TcpOptions, WrongLengthsAreIgnored) {
  struct Case {
    const char* name;
    Bytes options;
  };
  const Case cases[] = {
      {"mss len 3", {2, 3, 5, 1}},
      {"mss len 6", {2, 6, 5, 0xb4, 0, 0, 1, 1}},
      {"mss len 2", {2, 2, 1, 1}},
      {"ws len 2", {3, 2, 1, 1}},
      {"ws len 4", {3, 4, 7, 0}},
      {"sack-permitted len 3", {4, 3, 0, 1}},
      {"sack-permitted len 4", {4, 4, 0, 0}},
      {"ts len 8", {8, 8, 0, 0, 0, 1, 0, 0}},
      {"ts len 9", {8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}},
      {"ts len 12", {8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}},
      {"sack len 2 (no blocks)", {1, 1, 5, 2}},
      {"sack len 9", {5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}},
      {"sack len 11", {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1}},
      {"sack len 17", {5, 17, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 1, 1}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // The bad option, then a good MSS to show that parsing went on past it.
    Bytes options = c.options;
    options.insert(options.end(), {2, 4, 0x02, 0x18});
    const TcpOptions o = parse_options(options);
    EXPECT_EQ(o.ignored, 1);
    EXPECT_EQ(o.mss, 536);
    EXPECT_FALSE(o.window_scale);
    EXPECT_FALSE(o.sack_permitted);
    EXPECT_FALSE(o.timestamps);
    EXPECT_EQ(o.sack_count, 0);
  }
}

TEST(TcpOptions, WindowScaleAbove14IsClamped) {
  // RFC 7323 2.3: "If a Window Scale option is received with a shift.cnt value larger than 14,
  // the TCP SHOULD log the error but MUST use 14 instead of the specified value."
  for (std::uint8_t shift : Bytes{0, 7, 13, 14, 15, 16, 100, 255}) {
    SCOPED_TRACE(shift);
    const TcpOptions o = parse_options({1, 3, 3, shift});
    ASSERT_TRUE(o.window_scale);
    EXPECT_EQ(*o.window_scale, std::min<std::uint8_t>(shift, 14));
    EXPECT_EQ(o.ignored, 0);
  }
  // And emit never sends more than 14, even if asked to.
  TcpOptions big;
  big.window_scale = 15;
  std::uint8_t out[TcpOptions::kMaxSize];
  ASSERT_EQ(big.emit(out), 4u);
  EXPECT_EQ(out[3], 14);
}

TEST(TcpOptions, UnknownKindsAreSkipped) {
  // MD5 signature (19, len 18), user timeout (28, len 4), TCP Fast Open cookie (34, len 10),
  // then an option we know.
  const TcpOptions o =
      parse_options({19, 18, 1,    2,  3,  4,  5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                     28, 4,  0x80, 10, 34, 10, 0, 1, 2, 3, 4, 5,  6,  7,  2,  4,  5,  0xb4});
  EXPECT_EQ(o.mss, 1460);
  EXPECT_EQ(o.ignored, 0);
  // The old echo option (6, len 6) and an experiment (254, len 6) around SACK-permitted.
  const TcpOptions e = parse_options({6, 6, 0, 0, 0, 0, 4, 2, 254, 6, 0xf9, 0x89, 0, 0});
  EXPECT_TRUE(e.sack_permitted);
  EXPECT_EQ(e.ignored, 0);
}

TEST(TcpOptions, EndOfListStopsParsing) {
  // After EOL comes padding, which may hold anything (even what would be a malformed option).
  const TcpOptions o = parse_options({2, 4, 5, 0xb4, 0, 2, 0, 0xff});
  EXPECT_EQ(o.mss, 1460);
  EXPECT_FALSE(o.window_scale);
  EXPECT_TRUE(parse_options({0, 1, 1, 1}).empty());
  // Only NOPs: nothing, and no failure.
  EXPECT_TRUE(parse_options(Bytes(40, 1)).empty());
}

TEST(TcpOptions, FourSackBlocksFill36Bytes) {
  Bytes options = {1, 1, 5, 34};
  for (std::uint32_t i = 0; i < 8; ++i) {
    options.insert(options.end(), {0, 0, static_cast<std::uint8_t>(i + 1), 0});
  }
  const TcpOptions o = parse_options(options);
  ASSERT_EQ(o.sack_count, 4);
  for (std::size_t b = 0; b < 4; ++b) {
    EXPECT_EQ(o.sacks()[b].left, Seq(static_cast<std::uint32_t>((2 * b + 1) << 8)));
    EXPECT_EQ(o.sacks()[b].right, Seq(static_cast<std::uint32_t>((2 * b + 2) << 8)));
  }
}

TEST(TcpOptions, ALaterCopyReplacesAnEarlierOne) {
  const TcpOptions o = parse_options({2, 4, 5, 0xb4, 2, 4, 0x02, 0x18});
  EXPECT_EQ(o.mss, 536);
}

// --- Emit -------------------------------------------------------------------------------------

TEST(TcpOptions, EmitLayoutsMatchLinux) {
  std::uint8_t out[TcpOptions::kMaxSize];
  TcpOptions o;
  EXPECT_EQ(o.emit(out), 0u);
  EXPECT_EQ(o.emit_size(), 0u);
  o.sack_permitted = true;  // without timestamps: NOP NOP SACK-permitted
  ASSERT_EQ(o.emit(out), 4u);
  EXPECT_EQ(Bytes(out, out + 4), (Bytes{1, 1, 4, 2}));
  o.mss = 1460;
  o.window_scale = 7;
  ASSERT_EQ(o.emit(out), 12u);
  EXPECT_EQ(Bytes(out, out + 12), (Bytes{2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}));
  EXPECT_EQ(parse_options(Bytes(out, out + 12)), o);
}

TEST(TcpOptions, SackBlocksThatDoNotFitAreLeftOut) {
  TcpOptions o;
  o.sack_count = 4;
  for (std::uint32_t b = 0; b < 4; ++b) o.sack_blocks[b] = {Seq(b * 100), Seq(b * 100 + 50)};
  EXPECT_EQ(o.sacks_that_fit(), 4u);
  EXPECT_EQ(o.emit_size(), 36u);
  o.timestamps = TcpTimestamps{1, 2};  // 12 bytes of timestamps leave room for 3 blocks
  EXPECT_EQ(o.sacks_that_fit(), 3u);
  EXPECT_EQ(o.emit_size(), 40u);
  o.mss = 1000;  // and with MSS as well, 2
  EXPECT_EQ(o.sacks_that_fit(), 2u);
  o.window_scale = 1;
  o.sack_permitted = true;  // MSS, SACK-permitted+TS, WS: 20 bytes, still 2 blocks
  EXPECT_EQ(o.sacks_that_fit(), 2u);
  EXPECT_EQ(o.emit_size(), 40u);
  std::uint8_t out[TcpOptions::kMaxSize];
  ASSERT_EQ(o.emit(out), 40u);
  const TcpOptions back = parse_options(Bytes(out, out + 40));
  ASSERT_EQ(back.sack_count, 2);
  EXPECT_EQ(back.sacks()[0], o.sack_blocks[0]);
  EXPECT_EQ(back.sacks()[1], o.sack_blocks[1]);
  EXPECT_EQ(back.mss, 1000);
  EXPECT_EQ(back.timestamps, o.timestamps);
}

TEST(TcpHeader, EmitThenParseRoundTrips) {
  Rng rng(42);
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(i);
    TcpHeader h;
    h.src_port = static_cast<std::uint16_t>(rng.next_u32());
    h.dst_port = static_cast<std::uint16_t>(rng.next_u32());
    h.seq = Seq(rng.next_u32());
    h.ack = Seq(rng.next_u32());
    h.flags = static_cast<std::uint8_t>(rng.next_u32());
    h.window = static_cast<std::uint16_t>(rng.next_u32());
    h.urgent_pointer = static_cast<std::uint16_t>(rng.next_u32());
    const std::uint32_t which = rng.next_u32();
    if (which & 1) h.options.mss = static_cast<std::uint16_t>(rng.next_u32());
    if (which & 2) h.options.window_scale = static_cast<std::uint8_t>(rng.next_u32() % 15);
    if (which & 4) h.options.sack_permitted = true;
    if (which & 8) h.options.timestamps = TcpTimestamps{rng.next_u32(), rng.next_u32()};
    h.options.sack_count = static_cast<std::uint8_t>((which >> 4) % 5);
    for (auto& b : h.options.sack_blocks) b = {Seq(rng.next_u32()), Seq(rng.next_u32())};
    h.options.sack_count = static_cast<std::uint8_t>(h.options.sacks_that_fit());
    for (std::size_t b = h.options.sack_count; b < TcpOptions::kMaxSackBlocks; ++b) {
      h.options.sack_blocks[b] = {};
    }
    const std::size_t payload = (which >> 8) % 1500 + (i == 0 ? 65535 - 60 - 1500 : 0);
    Bytes s(h.emit_size() + payload);
    for (std::size_t k = h.emit_size(); k < s.size(); ++k) {
      s[k] = static_cast<std::uint8_t>(rng.next_u32());
    }
    ASSERT_EQ(h.emit(s, kClient, kServer), h.emit_size());
    EXPECT_EQ(reference_sum(s, kClient, kServer), 0xffff);
    auto back = TcpHeader::parse(s, kClient, kServer);
    ASSERT_TRUE(back) << counter_name(back.error());
    EXPECT_EQ(back->src_port, h.src_port);
    EXPECT_EQ(back->dst_port, h.dst_port);
    EXPECT_EQ(back->seq, h.seq);
    EXPECT_EQ(back->ack, h.ack);
    EXPECT_EQ(back->flags, h.flags);
    EXPECT_EQ(back->window, h.window);
    EXPECT_EQ(back->urgent_pointer, h.urgent_pointer);
    EXPECT_EQ(back->header_length, h.emit_size());
    EXPECT_EQ(back->payload_length, payload);
    EXPECT_EQ(back->options, h.options);
  }
}

}  // namespace
}  // namespace ustack::wire
