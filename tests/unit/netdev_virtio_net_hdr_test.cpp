// The TAP offloads' pure parts: the virtio-net header (stack/wire/virtio_net.h) parsed and
// emitted on known bytes, every field, every refusal with its counter; partial checksums
// finished to the same value a full emit gives; the software GSO cutter (stack/wire/offload.h)
// producing valid frames; and the offload marks surviving a Packet's moves and clones.
#include <gtest/gtest.h>

#include "stack/wire/checksum.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/offload.h"
#include "stack/wire/tcp.h"
#include "stack/wire/udp.h"
#include "stack/wire/virtio_net.h"
#include "support/frames.h"

namespace ustack::test {
namespace {

using wire::VirtioNetHeader;

constexpr Ipv4Address kSrc{10, 9, 0, 1};
constexpr Ipv4Address kDst{10, 9, 0, 2};
constexpr MacAddress kMac1{0x02, 0, 0, 0, 0, 1};
constexpr MacAddress kMac2{0x02, 0, 0, 0, 0, 2};

// An Ethernet frame with a TCP/IPv4 segment carrying `data`; the checksum is partial or full.
Bytes tcp_frame(std::span<const std::uint8_t> data, std::uint8_t flags, bool partial,
                std::uint32_t seq = 1000, std::uint16_t id = 0x4242) {
  wire::TcpHeader h;
  h.src_port = 40000;
  h.dst_port = 9;
  h.seq = tcp::Seq(seq);
  h.ack = tcp::Seq(77);
  h.flags = flags;
  h.window = 5000;
  h.options.timestamps = wire::TcpTimestamps{11, 22};
  Bytes segment(h.emit_size());
  segment.insert(segment.end(), data.begin(), data.end());
  h.emit(segment, kSrc, kDst, partial);
  wire::Ipv4Header ip = ip_header(kSrc, kDst, 6, id);
  ip.dont_fragment = true;
  return ethernet(kMac2, kMac1, wire::EtherType::ipv4, ipv4(ip, segment));
}

TEST(VirtioNetHeader, ParsesEveryFieldLittleEndian) {
  const Bytes bytes = {0x01, 0x01, 0x36, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x01, 0x00};
  auto h = VirtioNetHeader::parse(bytes);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->flags, VirtioNetHeader::kNeedsCsum);
  EXPECT_EQ(h->gso_type, VirtioNetHeader::kGsoTcpV4);
  EXPECT_EQ(h->hdr_len, 54);
  EXPECT_EQ(h->gso_size, 1448);
  EXPECT_EQ(h->csum_start, 34);
  EXPECT_EQ(h->csum_offset, 16);
  EXPECT_EQ(h->num_buffers, 1);
  Bytes out(VirtioNetHeader::kSize);
  h->emit(out.data());
  EXPECT_EQ(out, bytes);
}

TEST(VirtioNetHeader, ShortIsABadHeader) {
  const Bytes bytes(11, 0);
  auto h = VirtioNetHeader::parse(bytes);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), Counter::dev_bad_vnet_header);
}

TEST(VirtioNetHeader, PlainFrameHasNoMarks) {
  const Bytes frame = tcp_frame(pattern(100), wire::tcp_flag::ack, false);
  auto o = VirtioNetHeader{}.to_offload(frame);
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->csum_partial);
  EXPECT_FALSE(o->csum_valid);
  EXPECT_EQ(o->gso_size, 0);
  EXPECT_FALSE(o->checksum_trusted());
}

TEST(VirtioNetHeader, GsoWithPartialChecksumIsTaken) {
  const Bytes frame = tcp_frame(pattern(3000), wire::tcp_flag::ack, true);
  VirtioNetHeader h{.flags = VirtioNetHeader::kNeedsCsum,
                    .gso_type = VirtioNetHeader::kGsoTcpV4,
                    .hdr_len = 66,
                    .gso_size = 1448,
                    .csum_start = 34,
                    .csum_offset = 16};
  auto o = h.to_offload(frame);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->csum_partial);
  EXPECT_EQ(o->gso_size, 1448);
  EXPECT_TRUE(o->checksum_trusted());
  h.flags = VirtioNetHeader::kDataValid;
  o = h.to_offload(frame);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->csum_valid);
  EXPECT_FALSE(o->csum_partial);
}

TEST(VirtioNetHeader, RefusesWhatWasNotOffered) {
  const Bytes frame = tcp_frame(pattern(100), wire::tcp_flag::ack, true);
  struct Bad {
    VirtioNetHeader h;
    Counter expected;
  };
  const Bad cases[] = {
      {{.flags = 4}, Counter::dev_bad_vnet_header},  // RSC_INFO: never negotiated
      {{.hdr_len = static_cast<std::uint16_t>(frame.size() + 1)}, Counter::dev_bad_vnet_header},
      {{.gso_type = VirtioNetHeader::kGsoUdp, .gso_size = 1400}, Counter::dev_bad_gso},
      {{.gso_type = VirtioNetHeader::kGsoTcpV6, .gso_size = 1400}, Counter::dev_bad_gso},
      {{.gso_type = VirtioNetHeader::kGsoTcpV4 | VirtioNetHeader::kGsoEcn, .gso_size = 1400},
       Counter::dev_bad_gso},
      {{.gso_type = 5, .gso_size = 1400}, Counter::dev_bad_gso},
      {{.gso_type = VirtioNetHeader::kGsoTcpV4, .gso_size = 0}, Counter::dev_bad_gso},
      {{.flags = VirtioNetHeader::kNeedsCsum,
        .csum_start = static_cast<std::uint16_t>(frame.size() - 1),
        .csum_offset = 0},
       Counter::dev_bad_csum_offset},
      {{.flags = VirtioNetHeader::kNeedsCsum, .csum_start = 34, .csum_offset = 0xffff},
       Counter::dev_bad_csum_offset},
  };
  for (const Bad& c : cases) {
    auto o = c.h.to_offload(frame);
    ASSERT_FALSE(o) << fmt::format("{}", c.h);
    EXPECT_EQ(o.error(), c.expected) << fmt::format("{}", c.h);
  }
}

TEST(VirtioNetHeader, ForFrameDescribesTheTcpHeaders) {
  const Bytes frame = tcp_frame(pattern(4000), wire::tcp_flag::ack, true);
  PacketOffload o;
  o.csum_partial = true;
  o.gso_size = 1448;
  const VirtioNetHeader h = VirtioNetHeader::for_frame(o, frame);
  EXPECT_EQ(h.flags, VirtioNetHeader::kNeedsCsum);
  EXPECT_EQ(h.gso_type, VirtioNetHeader::kGsoTcpV4);
  EXPECT_EQ(h.gso_size, 1448);
  EXPECT_EQ(h.csum_start, 14 + 20);
  EXPECT_EQ(h.csum_offset, 16);
  EXPECT_EQ(h.hdr_len, 14 + 20 + 32);  // TCP with the 12-byte timestamps option
  // And it reads back as the same marks.
  auto back = h.to_offload(frame);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->csum_partial);
  EXPECT_EQ(back->gso_size, 1448);
  // No marks: an all-zero header.
  EXPECT_EQ(VirtioNetHeader::for_frame(PacketOffload{}, frame), VirtioNetHeader{});
}

TEST(PartialChecksum, FinishedEqualsTheFullChecksum) {
  for (std::size_t n : {0u, 1u, 2u, 3u, 999u, 1448u, 60000u}) {
    const Bytes data = pattern(n, static_cast<std::uint32_t>(n));
    const Bytes full = tcp_frame(data, wire::tcp_flag::ack | wire::tcp_flag::psh, false);
    Bytes partial = tcp_frame(data, wire::tcp_flag::ack | wire::tcp_flag::psh, true);
    EXPECT_NE(partial, full) << n;
    ASSERT_TRUE(wire::complete_partial_checksum(partial)) << n;
    EXPECT_EQ(partial, full) << n;
  }
}

TEST(PartialChecksum, UdpToo) {
  Bytes udp(wire::UdpHeader::kSize + 33);
  for (std::size_t i = 8; i < udp.size(); ++i) udp[i] = static_cast<std::uint8_t>(i * 7);
  wire::UdpHeader::emit(udp, 5000, 53, kSrc, kDst);
  const Bytes full =
      ethernet(kMac2, kMac1, wire::EtherType::ipv4, ipv4(ip_header(kSrc, kDst, 17), udp));
  wire::store_be16(
      &udp[6], wire::pseudo_header_partial(kSrc, kDst, 17, static_cast<std::uint16_t>(udp.size())));
  Bytes partial =
      ethernet(kMac2, kMac1, wire::EtherType::ipv4, ipv4(ip_header(kSrc, kDst, 17), udp));
  ASSERT_TRUE(wire::complete_partial_checksum(partial));
  EXPECT_EQ(partial, full);
}

TEST(PartialChecksum, OnlyTcpAndUdpOverIpv4) {
  Bytes icmp_frame = ethernet(kMac2, kMac1, wire::EtherType::ipv4,
                              ipv4(ip_header(kSrc, kDst), echo_request(1, 1, pattern(8))));
  EXPECT_FALSE(wire::complete_partial_checksum(icmp_frame));
  Bytes arp_frame = ethernet(kMac2, kMac1, wire::EtherType::arp, pattern(28));
  EXPECT_FALSE(wire::complete_partial_checksum(arp_frame));
}

// Parses a cut frame as the stack would, checksums verified.
struct Piece {
  wire::Ipv4Header ip;
  wire::TcpHeader tcp;
  Bytes data;
};
Piece parse_piece(const Packet& p) {
  auto ip = wire::Ipv4Header::parse(p.bytes().subspan(wire::EthernetHeader::kSize));
  EXPECT_TRUE(ip);
  const auto segment = p.bytes().subspan(wire::EthernetHeader::kSize + ip->header_length);
  auto tcp = wire::TcpHeader::parse(segment, ip->src, ip->dst);
  EXPECT_TRUE(tcp) << "TCP checksum or header";
  const auto data = segment.subspan(tcp->header_length);
  return {*ip, *tcp, Bytes(data.begin(), data.end())};
}

TEST(SegmentGso, CutsIntoValidFramesThatAddUpToTheWhole) {
  namespace f = wire::tcp_flag;
  const Bytes data = pattern(5000, 3);
  Packet frame =
      Packet::copy_of(tcp_frame(data, f::ack | f::psh | f::fin | f::cwr, true, 0xfffff000, 0xfffe));
  frame.offload.csum_partial = true;
  frame.offload.gso_size = 1448;
  const std::vector<Packet> pieces = wire::segment_gso(frame);
  ASSERT_EQ(pieces.size(), 4u);  // 1448 * 3 + 656
  Bytes joined;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    SCOPED_TRACE(i);
    const Packet& p = pieces[i];
    EXPECT_FALSE(p.offload.csum_partial);
    EXPECT_EQ(p.offload.gso_size, 0);
    EXPECT_LE(p.size(), 14u + 1500u);
    const Piece piece = parse_piece(p);
    const bool last = i + 1 == pieces.size();
    EXPECT_EQ(piece.data.size(), last ? 5000u - 3 * 1448 : 1448u);
    EXPECT_EQ(piece.ip.total_length, 20 + 32 + piece.data.size());
    EXPECT_EQ(piece.ip.identification, static_cast<std::uint16_t>(0xfffe + i));  // wraps
    EXPECT_TRUE(piece.ip.dont_fragment);
    EXPECT_EQ(piece.tcp.seq, tcp::Seq(0xfffff000) + static_cast<std::uint32_t>(i * 1448));
    EXPECT_EQ(piece.tcp.ack, tcp::Seq(77));
    EXPECT_EQ(piece.tcp.fin(), last);
    EXPECT_EQ(piece.tcp.psh(), last);
    EXPECT_EQ(piece.tcp.cwr(), i == 0);
    EXPECT_TRUE(piece.tcp.has_ack());
    EXPECT_EQ(piece.tcp.options.timestamps, (wire::TcpTimestamps{11, 22}));
    joined.insert(joined.end(), piece.data.begin(), piece.data.end());
  }
  EXPECT_EQ(joined, data);
}

TEST(SegmentGso, ExactMultipleAndPlainFrames) {
  Packet frame = Packet::copy_of(tcp_frame(pattern(2 * 1000), wire::tcp_flag::ack, true));
  frame.offload.csum_partial = true;
  frame.offload.gso_size = 1000;
  EXPECT_EQ(wire::segment_gso(frame).size(), 2u);
  // Without GSO: one copy, checksum finished.
  frame.offload.gso_size = 0;
  auto one = wire::segment_gso(frame);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(parse_piece(one[0]).data, pattern(2000));
}

TEST(SegmentGso, RefusesWhatIsNotTcpOverIpv4) {
  Packet udp = Packet::copy_of(ethernet(kMac2, kMac1, wire::EtherType::ipv4,
                                        ipv4(ip_header(kSrc, kDst, 17), pattern(3000))));
  udp.offload.gso_size = 1000;
  EXPECT_TRUE(wire::segment_gso(udp).empty());
  Packet truncated = Packet::copy_of(tcp_frame(pattern(3000), wire::tcp_flag::ack, true));
  truncated.trim(truncated.size() - 1);  // IP total length now past the bytes
  truncated.offload.gso_size = 1000;
  EXPECT_TRUE(wire::segment_gso(truncated).empty());
}

TEST(PacketOffload, SurvivesMovesClonesAndGrowth) {
  Packet p = Packet::copy_of(pattern(10));
  p.offload.csum_partial = true;
  p.offload.csum_valid = true;
  p.offload.gso_size = 1448;
  Packet q = p.clone();
  EXPECT_EQ(q.offload.gso_size, 1448);
  EXPECT_TRUE(q.offload.csum_partial && q.offload.csum_valid);
  Packet r = std::move(q);
  EXPECT_EQ(r.offload.gso_size, 1448);
  EXPECT_EQ(q.offload.gso_size, 0);  // NOLINT: a moved-from Packet is empty, marks included
  r.push(r.headroom() + 1);          // forces a reallocation
  EXPECT_EQ(r.offload.gso_size, 1448);
  EXPECT_TRUE(r.offload.csum_partial);
}

}  // namespace
}  // namespace ustack::test
