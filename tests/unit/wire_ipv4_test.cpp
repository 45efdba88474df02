// IPv4 header parse/emit (RFC 791) on datagrams captured from Linux, and every malformed case of
// CHECKLISTS.md: short, version, IHL, total length, truncation, checksum, options, fragments.
#include "stack/wire/ipv4.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <span>
#include <vector>

#include "stack/base/rng.h"

namespace ustack {
// Counters print by name in assertion failures; Counter::count stands for "parsed".
inline void PrintTo(Counter c, std::ostream* os) {
  *os << (c == Counter::count ? std::string_view("parsed") : counter_name(c));
}
}  // namespace ustack

namespace ustack::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

// `ping -c 1 10.0.0.2` from Linux: IPv4 header, ICMP echo request, 56 data bytes.
const Bytes kEchoRequest = {0x45, 0x00, 0x00, 0x54, 0x1d, 0x22, 0x40, 0x00, 0x40, 0x01, 0x09, 0x85,
                            0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x72, 0x93,
                            0x10, 0xb7, 0x00, 0x01, 0xa3, 0x4f, 0x02, 0x6b, 0x00, 0x00, 0x00, 0x00,
                            0x08, 0x27, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13,
                            0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
                            0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
                            0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37};

// The reply header from the other Linux namespace (no DF, its own ID).
const Bytes kEchoReplyHeader = {0x45, 0x00, 0x00, 0x54, 0x47, 0xbd, 0x00, 0x00, 0x40, 0x01,
                                0x1e, 0xea, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01};

// An IGMPv3 membership report: IHL 6 with the Router Alert option (RFC 2113) 94 04 00 00,
// TOS 0xc0, TTL 1, DF, to 224.0.0.22.
const Bytes kIgmpReport = {0x46, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02,
                           0xf9, 0xf8, 0x0a, 0x00, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x16,
                           0x94, 0x04, 0x00, 0x00, 0x22, 0x00, 0xe8, 0xf9, 0x00, 0x00,
                           0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xef, 0x01, 0x02, 0x03};

// `ping -s 100` over a 100-byte MTU: Linux sent the 128-byte datagram as two fragments.
const Bytes kFirstFragment = {
    0x45, 0x00, 0x00, 0x64, 0x1d, 0xab, 0x20, 0x00, 0x40, 0x01, 0x28, 0xec, 0x0a, 0x00, 0x00,
    0x01, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0xb0, 0xaa, 0x10, 0xe3, 0x00, 0x01, 0xa5, 0x4f,
    0x02, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x29, 0x29, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e,
    0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d,
    0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
const Bytes kLastFragment = {
    0x45, 0x00, 0x00, 0x30, 0x1d, 0xab, 0x00, 0x0a, 0x40, 0x01, 0x49, 0x16, 0x0a, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x02, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53,
    0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63};

// Independent checksum for building test headers (not the code under test).
std::uint16_t reference_checksum(std::span<const std::uint8_t> bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    sum += (std::uint32_t{bytes[i]} << 8) | (i + 1 < bytes.size() ? bytes[i + 1] : 0u);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Recomputes the header checksum over `header_length` bytes.
void fix_checksum(Bytes& b, std::size_t header_length) {
  b[10] = b[11] = 0;
  std::uint16_t c = reference_checksum(std::span(b).first(header_length));
  b[10] = static_cast<std::uint8_t>(c >> 8);
  b[11] = static_cast<std::uint8_t>(c);
}

Counter parse_error(std::span<const std::uint8_t> bytes) {
  auto h = Ipv4Header::parse(bytes);
  return h ? Counter::count : h.error();
}

Bytes emit(const Ipv4Header& h) {
  Bytes out(Ipv4Header::kMinSize);
  h.emit(out.data());
  return out;
}

Bytes first(const Bytes& b, std::size_t n) {
  return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
}

TEST(Ipv4Header, RealEchoRequest) {
  auto h = Ipv4Header::parse(kEchoRequest);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header_length, 20);
  EXPECT_EQ(h->tos, 0);
  EXPECT_EQ(h->total_length, 84);
  EXPECT_EQ(h->identification, 0x1d22);
  EXPECT_TRUE(h->dont_fragment);
  EXPECT_FALSE(h->more_fragments);
  EXPECT_EQ(h->fragment_offset, 0);
  EXPECT_FALSE(h->is_fragment());
  EXPECT_EQ(h->ttl, 64);
  EXPECT_EQ(h->protocol, static_cast<std::uint8_t>(IpProtocol::icmp));
  EXPECT_EQ(h->checksum, 0x0985);
  EXPECT_EQ(h->src, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(h->dst, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(h->payload_length(), 64);
  EXPECT_EQ(emit(*h), first(kEchoRequest, 20));
  EXPECT_EQ(fmt::format("{}", *h), "ip 10.0.0.1 > 10.0.0.2 proto 1 len 84 id 7458 ttl 64 DF");
}

TEST(Ipv4Header, RealEchoReplyHeader) {
  Bytes datagram = kEchoReplyHeader;
  datagram.resize(84, 0x00);  // the checksum covers the header only, so any payload will do
  auto h = Ipv4Header::parse(datagram);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->total_length, 84);
  EXPECT_EQ(h->identification, 0x47bd);
  EXPECT_FALSE(h->dont_fragment);
  EXPECT_FALSE(h->more_fragments);
  EXPECT_EQ(h->ttl, 64);
  EXPECT_EQ(h->checksum, 0x1eea);
  EXPECT_EQ(h->src, Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(h->dst, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(emit(*h), kEchoReplyHeader);
  EXPECT_EQ(fmt::format("{}", *h), "ip 10.0.0.2 > 10.0.0.1 proto 1 len 84 id 18365 ttl 64");
}

TEST(Ipv4Header, BuildsTheHeaderLinuxSent) {
  Ipv4Header h;
  h.total_length = 84;
  h.identification = 0x47bd;
  h.ttl = 64;
  h.protocol = static_cast<std::uint8_t>(IpProtocol::icmp);
  h.src = Ipv4Address(10, 0, 0, 2);
  h.dst = Ipv4Address(10, 0, 0, 1);
  h.checksum = 0x1234;  // ignored: emit computes its own
  EXPECT_EQ(emit(h), kEchoReplyHeader);
}

TEST(Ipv4Header, RealRouterAlertOption) {
  auto h = Ipv4Header::parse(kIgmpReport);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header_length, 24);
  EXPECT_EQ(h->tos, 0xc0);
  EXPECT_EQ(h->total_length, 40);
  EXPECT_EQ(h->identification, 0);
  EXPECT_TRUE(h->dont_fragment);
  EXPECT_FALSE(h->more_fragments);
  EXPECT_EQ(h->fragment_offset, 0);
  EXPECT_EQ(h->ttl, 1);
  EXPECT_EQ(h->protocol, 2);  // IGMP
  EXPECT_EQ(h->checksum, 0xf9f8);
  EXPECT_EQ(h->src, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(h->dst, Ipv4Address(224, 0, 0, 22));
  EXPECT_EQ(h->payload_length(), 16);

  // emit() writes option-less headers: the same datagram without its option. The expected
  // checksum (0x8f01) was computed independently, in Python.
  Ipv4Header stripped = *h;
  stripped.header_length = 20;
  stripped.total_length = 36;
  const Bytes expected = {0x45, 0xc0, 0x00, 0x24, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02,
                          0x8f, 0x01, 0x0a, 0x00, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x16};
  EXPECT_EQ(emit(stripped), expected);

  // And those bytes plus the 16-byte IGMP payload parse back to the same fields.
  Bytes datagram = expected;
  datagram.insert(datagram.end(), kIgmpReport.begin() + 24, kIgmpReport.end());
  auto back = Ipv4Header::parse(datagram);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tos, 0xc0);
  EXPECT_EQ(back->ttl, 1);
  EXPECT_EQ(back->payload_length(), 16);
}

TEST(Ipv4Header, RealFirstFragment) {
  auto h = Ipv4Header::parse(kFirstFragment);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->total_length, 100);
  EXPECT_EQ(h->identification, 0x1dab);
  EXPECT_FALSE(h->dont_fragment);
  EXPECT_TRUE(h->more_fragments);
  EXPECT_EQ(h->fragment_offset, 0);
  EXPECT_TRUE(h->is_fragment());
  EXPECT_EQ(h->checksum, 0x28ec);
  EXPECT_EQ(h->payload_length(), 80);
  EXPECT_EQ(emit(*h), first(kFirstFragment, 20));
  EXPECT_EQ(fmt::format("{}", *h), "ip 10.0.0.1 > 10.0.0.2 proto 1 len 100 id 7595 ttl 64 frag 0+");
}

TEST(Ipv4Header, RealLastFragment) {
  auto h = Ipv4Header::parse(kLastFragment);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->total_length, 48);
  EXPECT_EQ(h->identification, 0x1dab);
  EXPECT_FALSE(h->dont_fragment);
  EXPECT_FALSE(h->more_fragments);
  EXPECT_EQ(h->fragment_offset, 80);  // 10 units of 8 bytes
  EXPECT_TRUE(h->is_fragment());
  EXPECT_EQ(h->checksum, 0x4916);
  EXPECT_EQ(h->payload_length(), 28);
  EXPECT_EQ(emit(*h), first(kLastFragment, 20));
  EXPECT_EQ(fmt::format("{}", *h), "ip 10.0.0.1 > 10.0.0.2 proto 1 len 48 id 7595 ttl 64 frag 80");
}

TEST(Ipv4Header, PaddingAfterTotalLengthIsAccepted) {
  // The last fragment is 62 bytes with Ethernet; a sender pads short frames to 60 bytes of
  // header+payload, and some pad with garbage.
  for (std::uint8_t pad : {std::uint8_t{0x00}, std::uint8_t{0xa5}}) {
    Bytes padded = kLastFragment;
    padded.resize(padded.size() + 12, pad);
    auto h = Ipv4Header::parse(padded);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->total_length, 48);
    EXPECT_EQ(h->payload_length(), 28);
  }
  Bytes igmp = kIgmpReport;
  igmp.resize(46, 0);  // 60-byte Ethernet minimum
  EXPECT_TRUE(Ipv4Header::parse(igmp));
}

TEST(Ipv4Header, EveryTruncationOfRealDatagrams) {
  for (std::size_t n = 0; n < kEchoRequest.size(); ++n) {
    Counter expected = n < 20 ? Counter::ip_short : Counter::ip_truncated;
    ASSERT_EQ(parse_error(std::span(kEchoRequest).first(n)), expected) << n;
  }
  for (std::size_t n = 0; n < kIgmpReport.size(); ++n) {
    Counter expected = n < 20   ? Counter::ip_short
                       : n < 24 ? Counter::ip_bad_header_length
                                : Counter::ip_truncated;
    ASSERT_EQ(parse_error(std::span(kIgmpReport).first(n)), expected) << n;
  }
}

TEST(Ipv4Header, Short) {
  EXPECT_EQ(parse_error({}), Counter::ip_short);
  EXPECT_EQ(parse_error(std::span(kEchoRequest).first(19)), Counter::ip_short);
}

TEST(Ipv4Header, BadVersion) {
  for (int version : {0, 1, 5, 6, 15}) {
    Bytes b = kEchoRequest;
    b[0] = static_cast<std::uint8_t>(version << 4 | 5);
    fix_checksum(b, 20);
    EXPECT_EQ(parse_error(b), Counter::ip_bad_version) << version;
  }
  // An IPv6 header that happens to be here.
  Bytes v6(40, 0);
  v6[0] = 0x60;
  EXPECT_EQ(parse_error(v6), Counter::ip_bad_version);
}

TEST(Ipv4Header, IhlBelowFive) {
  for (int ihl = 0; ihl < 5; ++ihl) {
    Bytes b = kEchoRequest;
    b[0] = static_cast<std::uint8_t>(0x40 | ihl);
    EXPECT_EQ(parse_error(b), Counter::ip_bad_header_length) << ihl;
  }
}

TEST(Ipv4Header, IhlPastTheBytes) {
  // 24 bytes available, IHL says 28..60.
  for (int ihl = 7; ihl <= 15; ++ihl) {
    Bytes b = first(kEchoRequest, 24);
    b[0] = static_cast<std::uint8_t>(0x40 | ihl);
    b[2] = 0;
    b[3] = 24;
    EXPECT_EQ(parse_error(b), Counter::ip_bad_header_length) << ihl;
  }
}

TEST(Ipv4Header, TotalLengthShorterThanHeader) {
  for (int total : {0, 1, 19}) {
    Bytes b = kEchoRequest;
    b[2] = 0;
    b[3] = static_cast<std::uint8_t>(total);
    fix_checksum(b, 20);
    EXPECT_EQ(parse_error(b), Counter::ip_bad_total_length) << total;
  }
  for (int total : {20, 21, 22, 23}) {
    Bytes b = kIgmpReport;
    b[2] = 0;
    b[3] = static_cast<std::uint8_t>(total);
    fix_checksum(b, 24);
    EXPECT_EQ(parse_error(b), Counter::ip_bad_total_length) << total;
  }
  // Exactly the header, no payload: fine.
  Bytes b = first(kIgmpReport, 24);
  b[3] = 24;
  fix_checksum(b, 24);
  auto h = Ipv4Header::parse(b);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->payload_length(), 0);
}

TEST(Ipv4Header, TotalLengthPastTheBytes) {
  for (std::uint32_t total : {85u, 100u, 1500u, 65535u}) {
    Bytes b = kEchoRequest;
    b[2] = static_cast<std::uint8_t>(total >> 8);
    b[3] = static_cast<std::uint8_t>(total);
    fix_checksum(b, 20);
    EXPECT_EQ(parse_error(b), Counter::ip_truncated) << total;
  }
}

TEST(Ipv4Header, BadChecksum) {
  // Every single-bit error in the header is caught.
  for (std::size_t bit = 0; bit < 20 * 8; ++bit) {
    Bytes b = kEchoRequest;
    b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] ^ (0x80 >> (bit % 8)));
    Counter e = parse_error(b);
    // Flipping bits in version, IHL or total length is caught by those checks first.
    if (bit < 8 || (bit >= 16 && bit < 32)) {
      EXPECT_NE(e, Counter::count) << bit;
    } else {
      EXPECT_EQ(e, Counter::ip_bad_checksum) << bit;
    }
  }
  // A zeroed checksum field (as if the sender skipped it) is wrong.
  Bytes b = kEchoRequest;
  b[10] = b[11] = 0;
  EXPECT_EQ(parse_error(b), Counter::ip_bad_checksum);
  // Corruption in the options is covered by the checksum too.
  Bytes igmp = kIgmpReport;
  igmp[21] = 0x05;
  EXPECT_EQ(parse_error(igmp), Counter::ip_bad_checksum);
  // The payload is not.
  Bytes payload_changed = kEchoRequest;
  payload_changed[60] ^= 0xff;
  EXPECT_TRUE(Ipv4Header::parse(payload_changed));
}

// A datagram with the given options (a multiple of 4 bytes) and 8 bytes of payload.
Bytes with_options(const Bytes& options) {
  EXPECT_EQ(options.size() % 4, 0u);
  EXPECT_LE(options.size(), 40u);
  std::size_t header_length = 20 + options.size();
  Bytes b = first(kEchoRequest, 20);
  b[0] = static_cast<std::uint8_t>(0x40 | header_length / 4);
  b.insert(b.end(), options.begin(), options.end());
  b.insert(b.end(), 8, 0x5a);
  b[2] = 0;
  b[3] = static_cast<std::uint8_t>(b.size());
  fix_checksum(b, header_length);
  return b;
}

TEST(Ipv4Header, AcceptedOptions) {
  const std::vector<Bytes> good = {
      {0x94, 0x04, 0x00, 0x00},  // Router Alert
      {0x01, 0x01, 0x01, 0x01},  // NOPs
      {0x00, 0x00, 0x00, 0x00},  // EOL
      {0x00, 0xff, 0x00, 0x01},  // EOL, then anything
      {0x01, 0x00, 0x99, 0x00},  // NOP, EOL, then anything
      {0x99, 0x04, 0xaa, 0xbb},  // unknown kind, skipped
      {0x99, 0x02, 0x98, 0x02},  // two minimal unknown options
      {0x01, 0x99, 0x03, 0x00},  // NOP, 3-byte option, EOL
      {0x01, 0x01, 0x99, 0x02},  // an option ending exactly at the end of the header
      {0x82, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // security + pad
  };
  for (const Bytes& options : good) {
    Bytes b = with_options(options);
    auto h = Ipv4Header::parse(b);
    ASSERT_TRUE(h) << fmt::format("{:02x}", fmt::join(options, " ")) << " "
                   << counter_name(h.error());
    EXPECT_EQ(std::size_t{h->header_length}, 20 + options.size());
    EXPECT_EQ(h->payload_length(), 8);
  }

  // 40 bytes of options: a full Record Route (7, length 39, pointer 4, 9 empty slots) and EOL.
  Bytes rr = {0x07, 39, 0x04};
  rr.resize(39, 0);
  rr.push_back(0x00);
  EXPECT_TRUE(Ipv4Header::parse(with_options(rr)));
  // One option spanning all 40 bytes.
  Bytes whole = {0x99, 40};
  whole.resize(40, 0xee);
  EXPECT_TRUE(Ipv4Header::parse(with_options(whole)));
  // 40 NOPs.
  EXPECT_TRUE(Ipv4Header::parse(with_options(Bytes(40, 0x01))));
}

TEST(Ipv4Header, MalformedOptions) {
  const std::vector<Bytes> bad = {
      {0x94, 0x00, 0x00, 0x00},  // length 0: would never advance
      {0x94, 0x01, 0x00, 0x00},  // length 1: shorter than its own kind and length
      {0x94, 0x05, 0x00, 0x00},  // past the header
      {0x94, 0xff, 0x00, 0x00},  // far past the header
      {0x01, 0x01, 0x94, 0x04},  // past the header after NOPs
      {0x01, 0x01, 0x01, 0x94},  // a kind at the end without its length byte
      {0x99, 0x02, 0x99, 0x00},  // a good option, then length 0
      {0x99, 0x02, 0x01, 0x07},  // ..., NOP, then a kind without a length
      {0x07, 0x03, 0x04, 0x01, 0x01, 0x01, 0x01, 0x44},
  };
  for (const Bytes& options : bad) {
    EXPECT_EQ(parse_error(with_options(options)), Counter::ip_bad_options)
        << fmt::format("{:02x}", fmt::join(options, " "));
  }
  Bytes too_long = {0x99, 41};
  too_long.resize(40, 0);
  EXPECT_EQ(parse_error(with_options(too_long)), Counter::ip_bad_options);

  // The checksum is checked first: a damaged header is a checksum failure, not an options one.
  Bytes b = with_options({0x94, 0x00, 0x00, 0x00});
  b[11] ^= 1;
  EXPECT_EQ(parse_error(b), Counter::ip_bad_checksum);
}

// The RFC 791 walk, written out independently: true when every option fits.
bool reference_options_ok(std::span<const std::uint8_t> o) {
  std::size_t i = 0;
  while (i < o.size()) {
    if (o[i] == 0) break;
    if (o[i] == 1) {
      i += 1;
      continue;
    }
    if (o.size() - i < 2) return false;
    std::size_t length = o[i + 1];
    if (length < 2 || length > o.size() - i) return false;
    i += length;
  }
  return true;
}

TEST(Ipv4Header, RandomOptionsTerminateAndAgreeWithReference) {
  Rng rng(791);
  int accepted = 0;
  for (int round = 0; round < 100000; ++round) {
    Bytes options(4 * (1 + rng.below(10)));
    for (auto& o : options) {
      // Mostly small kinds and lengths, so that lengths 0 and 1 and near-misses are common.
      switch (rng.below(4)) {
        case 0:
          o = static_cast<std::uint8_t>(rng.below(3));
          break;
        case 1:
          o = static_cast<std::uint8_t>(rng.below(12));
          break;
        case 2:
          o = 0x94;
          break;
        default:
          o = static_cast<std::uint8_t>(rng.next_u32());
          break;
      }
    }
    Counter e = parse_error(with_options(options));
    bool ok = reference_options_ok(options);
    ASSERT_EQ(e, ok ? Counter::count : Counter::ip_bad_options)
        << fmt::format("{:02x}", fmt::join(options, " "));
    accepted += ok;
  }
  // Both outcomes were exercised.
  EXPECT_GT(accepted, 1000);
  EXPECT_LT(accepted, 99000);
}

// A fragment with the given offset field (8-byte units) and payload length.
Bytes fragment(std::uint16_t offset_units, std::size_t payload, bool more) {
  Bytes b = first(kLastFragment, 20);
  b.resize(20 + payload, 0x77);
  std::uint16_t flags_offset = static_cast<std::uint16_t>(offset_units | (more ? 0x2000 : 0));
  b[6] = static_cast<std::uint8_t>(flags_offset >> 8);
  b[7] = static_cast<std::uint8_t>(flags_offset);
  b[2] = static_cast<std::uint8_t>(b.size() >> 8);
  b[3] = static_cast<std::uint8_t>(b.size());
  fix_checksum(b, 20);
  return b;
}

TEST(Ipv4Header, FragmentPastLargestDatagram) {
  // The reassembled datagram, header included, must fit in 65535 bytes: offset * 8 plus this
  // fragment's total length (its 20-byte header and payload) must stay <= 65535.
  EXPECT_EQ(parse_error(fragment(8188, 11, false)), Counter::count);  // 65504 + 20 + 11
  EXPECT_EQ(parse_error(fragment(8188, 12, false)), Counter::ip_frag_bad_offset);
  EXPECT_EQ(parse_error(fragment(8188, 12, true)), Counter::ip_frag_bad_offset);
  EXPECT_EQ(parse_error(fragment(8186, 27, false)), Counter::count);  // 65488 + 20 + 27
  EXPECT_EQ(parse_error(fragment(8186, 28, true)), Counter::ip_frag_bad_offset);
  EXPECT_EQ(parse_error(fragment(8100, 1480, true)), Counter::ip_frag_bad_offset);
  EXPECT_EQ(parse_error(fragment(8000, 1480, true)), Counter::count);  // 64000 + 1500
  // The largest offset leaves no room even for an empty fragment.
  EXPECT_EQ(parse_error(fragment(8191, 0, false)), Counter::ip_frag_bad_offset);
  EXPECT_EQ(parse_error(fragment(8191, 7, false)), Counter::ip_frag_bad_offset);
  // The ping of death: 65528 + 20 + 1480.
  EXPECT_EQ(parse_error(fragment(8191, 1480, false)), Counter::ip_frag_bad_offset);

  auto h = Ipv4Header::parse(fragment(8188, 11, false));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->fragment_offset, 65504);
  EXPECT_TRUE(h->is_fragment());
  EXPECT_EQ(emit(*h), first(fragment(8188, 11, false), 20));
}

TEST(Ipv4Header, EmitWritesExactly20Bytes) {
  auto h = Ipv4Header::parse(kEchoRequest);
  ASSERT_TRUE(h);
  Bytes out(24, 0xee);
  h->emit(out.data() + 2);
  EXPECT_EQ(out[0], 0xee);
  EXPECT_EQ(out[1], 0xee);
  EXPECT_EQ(out[22], 0xee);
  EXPECT_EQ(out[23], 0xee);
  EXPECT_TRUE(std::equal(out.begin() + 2, out.begin() + 22, kEchoRequest.begin()));
}

TEST(Ipv4Header, RandomHeadersRoundTrip) {
  Rng rng(4242);
  for (int round = 0; round < 5000; ++round) {
    Ipv4Header h;
    h.tos = static_cast<std::uint8_t>(rng.next_u32());
    h.total_length = static_cast<std::uint16_t>(20 + rng.below(1481));
    h.identification = static_cast<std::uint16_t>(rng.next_u32());
    h.dont_fragment = rng.chance(0.5);
    h.more_fragments = rng.chance(0.5);
    std::size_t max_units = (65535 - h.total_length) / 8;
    h.fragment_offset = static_cast<std::uint16_t>(8 * rng.below(max_units + 1));
    h.ttl = static_cast<std::uint8_t>(rng.next_u32());
    h.protocol = static_cast<std::uint8_t>(rng.next_u32());
    h.src = Ipv4Address::from_u32(rng.next_u32());
    h.dst = Ipv4Address::from_u32(rng.next_u32());

    Bytes b(h.total_length, 0);
    h.emit(b.data());
    ASSERT_EQ(reference_checksum(std::span(b).first(20)), 0);
    auto back = Ipv4Header::parse(b);
    ASSERT_TRUE(back) << round << " " << counter_name(back.error());
    EXPECT_EQ(back->header_length, 20);
    EXPECT_EQ(back->tos, h.tos);
    EXPECT_EQ(back->total_length, h.total_length);
    EXPECT_EQ(back->identification, h.identification);
    EXPECT_EQ(back->dont_fragment, h.dont_fragment);
    EXPECT_EQ(back->more_fragments, h.more_fragments);
    EXPECT_EQ(back->fragment_offset, h.fragment_offset);
    EXPECT_EQ(back->ttl, h.ttl);
    EXPECT_EQ(back->protocol, h.protocol);
    EXPECT_EQ(back->src, h.src);
    EXPECT_EQ(back->dst, h.dst);
    EXPECT_EQ(back->checksum, load_be16(b.data() + 10));
  }
}

TEST(Ipv4Header, RandomBytesNeverCrash) {
  // Random junk, often with a plausible first byte: parse returns a value or a reason.
  Rng rng(1);
  int parsed = 0;
  for (int round = 0; round < 100000; ++round) {
    Bytes b(rng.below(80));
    for (auto& x : b) x = static_cast<std::uint8_t>(rng.next_u32());
    if (!b.empty() && rng.chance(0.9)) b[0] = static_cast<std::uint8_t>(0x40 | rng.below(16));
    if (b.size() >= 20 && rng.chance(0.5)) {
      b[2] = 0;
      b[3] = static_cast<std::uint8_t>(rng.below(b.size() + 1));
    }
    if (b.size() >= 20 && rng.chance(0.5))
      fix_checksum(b, std::min<std::size_t>(b.size(), (b[0] & 0xf) * 4u));
    auto h = Ipv4Header::parse(b);
    if (h) {
      ++parsed;
      ASSERT_GE(h->header_length, 20);
      ASSERT_LE(h->header_length, h->total_length);
      ASSERT_LE(h->total_length, b.size());
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace ustack::wire
