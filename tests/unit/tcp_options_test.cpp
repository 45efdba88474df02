// TCP options as the stack negotiates and survives them: MSS (RFC 9293 3.7.1, MUST-14/15/16),
// window scale (RFC 7323 2), timestamps (RFC 7323 3), SACK-permitted (RFC 2018), each offered
// by both sides or only one; silly MSS values; and malformed option lists (CHECKLISTS "TCP"),
// which must be dropped and counted without a crash or a reply.
#include <gtest/gtest.h>

#include <string>

#include "support/tcp_peer.h"

namespace ustack::test {
namespace {

// The stack sends `n` bytes; the peer takes them all. Returns the segments' data sizes.
std::vector<std::size_t> transfer(TcpPeer& p, Conn& c, std::size_t n, Bytes* got_out = nullptr) {
  const Bytes data = pattern(n, 11);
  std::size_t written = 0;
  Bytes got;
  std::vector<std::size_t> sizes;
  const Instant end = p.now() + 120s;
  for (int i = 0; i < 100000 && got.size() < n && p.now() < end; ++i) {
    if (written < n) {
      const ssize_t w = p.write(c.fd, std::span(data).subspan(written));
      if (w > 0) written += static_cast<std::size_t>(w);
    }
    auto s = p.wait_segment(5s);
    if (!s) continue;
    p.note(c, *s);
    if (!s->data.empty()) sizes.push_back(s->data.size());
    p.take_data(c, *s, &got);
    p.send_ack(c);
  }
  EXPECT_EQ(got, data) << "the transfer did not complete";
  if (got_out) *got_out = got;
  return sizes;
}

// ---------------------------------------------------------------------------------------------
// MSS

TEST(Mss, AbsentMeans536) {
  // MUST-15: without the option the peer's MSS is 536.
  for (Open how : {Open::passive, Open::active}) {
    SCOPED_TRACE(open_name(how));
    TcpPeer p;
    SynOptions o;
    o.mss = std::nullopt;
    Conn c = p.open(TcpState::established, how, o);
    const auto sizes = transfer(p, c, 2000);
    ASSERT_FALSE(sizes.empty());
    for (std::size_t s : sizes) EXPECT_LE(s, 536u);
    EXPECT_EQ(sizes.front(), 536u);
  }
}

TEST(Mss, TimestampsComeOutOfTheMss) {
  // RFC 6691 / RFC 7323: the MSS counts no options; 12 bytes of timestamps leave 1448.
  TcpPeer p;
  SynOptions o;
  o.ts = true;
  Conn c = p.open(TcpState::established, Open::passive, o);
  ASSERT_TRUE(c.ts);
  const auto sizes = transfer(p, c, 5000);
  ASSERT_FALSE(sizes.empty());
  EXPECT_EQ(sizes.front(), 1448u);
  for (std::size_t s : sizes) EXPECT_LE(s, 1448u);
}

TEST(Mss, OursIsTheMtuLess40) {
  // MUST-16 (and MUST-14: the option is sent in the SYN).
  TcpPeerOptions options;
  options.mtu = 1400;
  TcpPeer p(options);
  Conn c = p.open(TcpState::syn_received, Open::passive);
  EXPECT_EQ(c.stack_mss, 1360);
}

class SillyMss : public ::testing::TestWithParam<std::uint16_t> {};

TEST_P(SillyMss, IsClampedAndTheTransferCompletes) {
  const std::uint16_t mss = GetParam();
  for (Open how : {Open::passive, Open::active}) {
    SCOPED_TRACE(open_name(how));
    TcpPeer p;
    SynOptions o;
    o.mss = mss;
    Conn c = p.open(TcpState::established, how, o);
    const auto sizes = transfer(p, c, 3000);
    ASSERT_FALSE(sizes.empty());
    for (std::size_t s : sizes) {
      EXPECT_GT(s, 0u);
      EXPECT_LE(s, 1460u) << "never more than our own MTU allows";
      if (mss >= 64) {
        EXPECT_LE(s, mss) << "never more than the peer asked for";
      }
    }
    if (mss >= 1460) {
      EXPECT_EQ(sizes.front(), 1460u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Values, SillyMss, ::testing::Values(0, 1, 63, 64, 100, 1460, 1461, 65535),
                         [](const ::testing::TestParamInfo<std::uint16_t>& param) {
                           return "mss_" + std::to_string(param.param);
                         });

// ---------------------------------------------------------------------------------------------
// Window scale (RFC 7323 2)

TEST(WindowScale, AboveFourteenIsFourteen) {
  // RFC 7323 2.3: "use 14 instead of the received shift count".
  TcpPeer p;
  p.listener(80);
  wire::TcpHeader h;
  h.src_port = 41000;
  h.dst_port = 80;
  h.seq = Seq{1000};
  h.flags = tf::syn;
  h.window = 65535;
  // MSS 1460, NOP, WS 15 (emit would clamp it, so the bytes are written by hand).
  p.inject_tcp(tcp_bytes_raw_options(h, Bytes{2, 4, 0x05, 0xb4, 1, 3, 3, 15}, {}));
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "S.");
  EXPECT_TRUE(s.h.options.window_scale.has_value());
  Conn c;
  c.local = {kStackAddr, 80};
  c.remote = {kPeerAddr, 41000};
  const tcp::TcpSocket* sock = p.socket_of(c);
  ASSERT_NE(sock, nullptr);
  EXPECT_EQ(sock->tcb.snd_wscale, 14);
}

TEST(WindowScale, AboveFourteenInASynAck) {
  TcpPeer p;
  Conn c = p.syn_sent();
  wire::TcpHeader h = p.header(c, tf::syn | tf::ack);
  h.seq = c.peer_iss;
  h.ack = c.stack_iss + 1;
  p.inject_tcp(tcp_bytes_raw_options(h, Bytes{2, 4, 0x05, 0xb4, 1, 3, 3, 200}, {}));
  EXPECT_EQ(p.take_one().flags(), ".");
  ASSERT_EQ(p.state_of(c), TcpState::established);
  EXPECT_EQ(p.socket_of(c)->tcb.snd_wscale, 14);
}

TEST(WindowScale, OnlyWhenBothOffer) {
  // The peer does not offer it: no WS in the SYN-ACK, and every window is unscaled.
  TcpPeer p;
  SynOptions o;
  o.wscale = std::nullopt;
  Conn c = p.open(TcpState::syn_received, Open::passive, o);
  p.send_ack(c);
  p.send_data(c, pattern(100));
  p.advance(40ms);
  const Seg a = p.take_one();
  // The buffer (256 KiB) is more than 16 bits can say: the field is capped, not scaled.
  EXPECT_EQ(a.h.window, 65535u);
  EXPECT_EQ(p.socket_of(c)->tcb.rcv_wscale, 0);
}

TEST(WindowScale, NotOfferedWhenDisabled) {
  TcpPeerOptions options;
  options.config.tcp.window_scaling = false;
  TcpPeer p(options);
  Conn c = p.open(TcpState::syn_received, Open::passive);  // the peer offers 7
  EXPECT_FALSE(c.ws);
  TcpPeer q(options);
  const int fd = q.tcp_socket();
  const sockaddr_in to = inet(kPeerAddr, 5000);
  q.api().connect(fd, sa(to), sizeof to);
  EXPECT_FALSE(q.take_one().h.options.window_scale.has_value());
}

TEST(WindowScale, PeerWindowIsScaled) {
  // The peer's shift is 7 and its window field 8: 1024 bytes, and the stack sends no more than
  // that before an ACK. (The SYN's field of 8 is not scaled, RFC 7323 2.2.)
  TcpPeer p;
  SynOptions o;
  o.wscale = 7;
  o.window = 8;
  Conn c = p.open(TcpState::established, Open::passive, o);
  ASSERT_EQ(p.socket_of(c)->tcb.snd_wnd, 1024u);
  ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
  ASSERT_EQ(p.write(c.fd, pattern(5000)), 5000);
  std::size_t sent = 0;
  for (const Seg& s : p.take()) sent += s.data.size();
  EXPECT_EQ(sent, 1024u);
}

// ---------------------------------------------------------------------------------------------
// Timestamps (RFC 7323 3) and SACK-permitted (RFC 2018 2)

TEST(Timestamps, BothOfferEverySegmentCarriesThem) {
  for (Open how : {Open::passive, Open::active}) {
    SCOPED_TRACE(open_name(how));
    TcpPeer p;
    SynOptions o;
    o.ts = true;
    Conn c = p.open(TcpState::established, how, o);
    ASSERT_TRUE(c.ts);
    p.advance(5ms);
    p.send_data(c, pattern(10));
    const std::uint32_t sent_tsval = c.ts_val;
    p.advance(40ms);
    const Seg a = p.take_one();
    ASSERT_TRUE(a.h.options.timestamps.has_value());
    EXPECT_EQ(a.h.options.timestamps->echo_reply, sent_tsval) << "TSecr = the peer's TSval";
    const std::uint32_t first = a.h.options.timestamps->value;
    p.advance(1s);
    ASSERT_EQ(p.write(c.fd, pattern(10)), 10);
    const Seg d = p.take_one();
    ASSERT_TRUE(d.h.options.timestamps.has_value());
    EXPECT_GE(d.h.options.timestamps->value - first, 1000u) << "about 1 ms per tick";
  }
}

TEST(Timestamps, OnlyThePeerOffers) {
  TcpPeerOptions options;
  options.config.tcp.timestamps = false;
  TcpPeer p(options);
  SynOptions o;
  o.ts = true;
  Conn c = p.open(TcpState::established, Open::passive, o);
  EXPECT_FALSE(c.ts);
  ASSERT_EQ(p.write(c.fd, pattern(10)), 10);
  EXPECT_FALSE(p.take_one().h.options.timestamps.has_value());
}

TEST(Timestamps, OnlyTheStackOffers) {
  TcpPeer p;
  SynOptions o;
  o.ts = false;
  Conn c = p.open(TcpState::established, Open::active, o);  // the stack's SYN offered TS
  EXPECT_FALSE(c.ts);
  ASSERT_EQ(p.write(c.fd, pattern(10)), 10);
  const Seg d = p.take_one();
  EXPECT_FALSE(d.h.options.timestamps.has_value());
  EXPECT_EQ(d.len(), 10u);
}

TEST(Timestamps, PawsDropsAnOldSegment) {
  // RFC 7323 5.3: a segment whose TSval is older than TS.Recent is a duplicate: ACK and drop.
  TcpPeer p;
  SynOptions o;
  o.ts = true;
  Conn c = p.open(TcpState::established, Open::passive, o);
  wire::TcpHeader h = p.header(c, tf::ack | tf::psh);
  h.options.timestamps->value = c.ts_val - 100;
  p.inject(h, pattern(10));
  const Seg a = p.take_one();
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(p.counter("tcp.paws"), 1u);
  EXPECT_TRUE(p.read(c.fd).data.empty());
  // A RST is not subject to PAWS.
  wire::TcpHeader r = p.header(c, tf::rst);
  r.options.timestamps->value = c.ts_val - 100;
  p.inject(r);
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(Timestamps, TimeWaitReopenNeedsANewerTimestamp) {
  // RFC 6191 2 (which RFC 9293 3.10.7.4 cites for TIME-WAIT): with timestamps, a SYN reopens
  // the four-tuple only if its TSval is newer than the last one seen; otherwise the SYN is
  // dropped and TIME-WAIT stays (Linux: PAWS rejects it in tcp_timewait_state_process).
  TcpPeer p;
  SynOptions o;
  o.ts = true;
  Conn c = p.open(TcpState::time_wait, Open::passive, o);
  wire::TcpHeader h = p.header(c, tf::syn);
  h.seq = c.snd_nxt + 100000;
  h.options.timestamps->value = c.ts_val - 1000;
  h.options.timestamps->echo_reply = 0;
  h.options.mss = 1460;
  p.inject(h);
  for (const Seg& s : p.take()) {
    EXPECT_FALSE(s.has(tf::syn)) << "no new connection from an old SYN: " << fmt::format("{}", s.h);
  }
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
}

TEST(Timestamps, TimeWaitReopenWithANewerTimestamp) {
  TcpPeer p;
  SynOptions o;
  o.ts = true;
  Conn c = p.open(TcpState::time_wait, Open::passive, o);
  wire::TcpHeader h = p.header(c, tf::syn);
  h.seq = c.snd_nxt + 100000;
  h.options.timestamps->echo_reply = 0;
  h.options.mss = 1460;
  p.inject(h);
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "S.");
  EXPECT_EQ(s.ack(), c.snd_nxt + 100001);
  EXPECT_EQ(p.state_of(c), TcpState::syn_received);
  EXPECT_EQ(p.counter("tcp.time_wait_reopen"), 1u);
}

TEST(Timestamps, TimeWaitReopenWithANewerTimestampAndALowerSequenceNumber) {
  // RFC 6191 2: the newer TSval alone tells the incarnations apart, as Linux's TIME-WAIT
  // accepts it; a client reusing the four-tuple (tcp_tw_reuse) need not pick a higher ISN.
  TcpPeer p;
  SynOptions o;
  o.ts = true;
  Conn c = p.open(TcpState::time_wait, Open::passive, o);
  wire::TcpHeader h = p.header(c, tf::syn);
  h.seq = c.snd_nxt - 100000;
  h.options.timestamps->echo_reply = 0;
  h.options.mss = 1460;
  p.inject(h);
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "S.");
  EXPECT_EQ(s.ack(), c.snd_nxt - 99999);
  EXPECT_EQ(p.state_of(c), TcpState::syn_received);
  EXPECT_EQ(p.counter("tcp.time_wait_reopen"), 1u);
}

// A data segment past a hole, so the stack's duplicate ACK shows whether it SACKs.
Seg out_of_order_ack(TcpPeer& p, Conn& c) {
  p.send_seg(c, tf::ack, c.snd_nxt + 100, c.rcv_nxt, pattern(100));
  return p.take_one();
}

TEST(Sack, BothOffer) {
  for (Open how : {Open::passive, Open::active}) {
    SCOPED_TRACE(open_name(how));
    TcpPeer p;
    Conn c = p.open(TcpState::established, how);
    ASSERT_TRUE(c.sack);
    const Seg a = out_of_order_ack(p, c);
    EXPECT_EQ(a.ack(), c.snd_nxt);
    ASSERT_EQ(a.h.options.sack_count, 1u);
    EXPECT_EQ(a.h.options.sack_blocks[0].left, c.snd_nxt + 100);
    EXPECT_EQ(a.h.options.sack_blocks[0].right, c.snd_nxt + 200);
  }
}

TEST(Sack, OnlyThePeerOffers) {
  TcpPeerOptions options;
  options.config.tcp.sack = false;
  TcpPeer p(options);
  Conn c = p.open(TcpState::established, Open::passive);
  EXPECT_FALSE(c.sack);
  EXPECT_EQ(out_of_order_ack(p, c).h.options.sack_count, 0u);
}

TEST(Sack, OnlyTheStackOffers) {
  TcpPeer p;
  SynOptions o;
  o.sack = false;
  Conn c = p.open(TcpState::established, Open::active, o);
  EXPECT_FALSE(c.sack);
  EXPECT_EQ(out_of_order_ack(p, c).h.options.sack_count, 0u);
}

TEST(Sack, FourBlocksWithoutTimestampsThreeWith) {
  for (bool ts : {false, true}) {
    SCOPED_TRACE(ts);
    TcpPeer p;
    SynOptions o;
    o.ts = ts;
    Conn c = p.open(TcpState::established, Open::passive, o);
    // Five separate islands after a hole.
    Seg last;
    for (std::uint32_t i = 0; i < 5; ++i) {
      p.send_seg(c, tf::ack, c.snd_nxt + 100 + i * 200, c.rcv_nxt, pattern(100, i));
      last = p.take_one();
    }
    ASSERT_EQ(last.h.options.sack_count, ts ? 3u : 4u);
    EXPECT_EQ(last.h.options.sack_blocks[0].left, c.snd_nxt + 900) << "the newest first";
    EXPECT_EQ(last.h.options.sack_blocks[1].left, c.snd_nxt + 700);
    EXPECT_LE(last.h.emit_size(), 60u);
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed and unusual option lists

struct BadOptions {
  std::string name;
  Bytes options;
};

std::vector<BadOptions> bad_options() {
  return {
      {"length_0", {2, 0, 0x05, 0xb4}},
      {"length_1", {8, 1, 0, 0}},
      {"past_the_end", {2, 40, 0x05, 0xb4}},
      {"past_the_end_after_nops", {1, 1, 1, 8, 10, 0, 0, 0}},
      {"kind_without_length_at_the_end", {1, 1, 1, 3}},
      {"unknown_kind_length_0", {99, 0, 1, 1}},
      {"sack_length_1", {1, 1, 5, 1}},
      {"length_0_after_valid_mss", {2, 4, 0x05, 0xb4, 4, 0, 1, 1}},
  };
}

class MalformedOptions : public ::testing::TestWithParam<BadOptions> {};

TEST_P(MalformedOptions, SynToAListenerIsDroppedAndCounted) {
  TcpPeer p;
  p.listener(80);
  wire::TcpHeader h;
  h.src_port = 41000;
  h.dst_port = 80;
  h.seq = Seq{1000};
  h.flags = tf::syn;
  h.window = 65535;
  p.inject_tcp(tcp_bytes_raw_options(h, GetParam().options, {}));
  EXPECT_TRUE(p.take().empty()) << "no SYN-ACK for a malformed SYN";
  EXPECT_EQ(p.counter("tcp.bad_options"), 1u);
  EXPECT_EQ(p.stack().tcp().connection_count(), 0u);
  // The listener is unharmed.
  Conn c = p.open(TcpState::established, Open::passive);
  EXPECT_EQ(p.state_of(c), TcpState::established);
}

TEST_P(MalformedOptions, DataSegmentIsDroppedAndCounted) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  wire::TcpHeader h = p.header(c, tf::ack | tf::psh);
  p.inject_tcp(tcp_bytes_raw_options(h, GetParam().options, pattern(50)));
  p.run_for(1s);
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.counter("tcp.bad_options"), 1u);
  EXPECT_TRUE(p.read(c.fd).data.empty());
  EXPECT_EQ(p.state_of(c), TcpState::established);
  // The connection goes on.
  p.send_data(c, pattern(50));
  EXPECT_EQ(p.read(c.fd).data, pattern(50));
}

TEST_P(MalformedOptions, ClosedPortIsDroppedWithoutReply) {
  TcpPeer p;
  wire::TcpHeader h;
  h.src_port = 41000;
  h.dst_port = 9;
  h.seq = Seq{1000};
  h.flags = tf::syn;
  p.inject_tcp(tcp_bytes_raw_options(h, GetParam().options, {}));
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.counter("tcp.bad_options"), 1u);
}

INSTANTIATE_TEST_SUITE_P(Lists, MalformedOptions, ::testing::ValuesIn(bad_options()),
                         [](const ::testing::TestParamInfo<BadOptions>& param) {
                           return param.param.name;
                         });

TEST(Options, WrongLengthsAreIgnored) {
  // MSS of length 3, WS of length 4, SACK-permitted of length 3, TS of length 9 (RFC 9293
  // MUST-6/MUST-68: ignore what cannot be used; each skipped by its length).
  TcpPeer p;
  p.listener(80);
  wire::TcpHeader h;
  h.src_port = 41000;
  h.dst_port = 80;
  h.seq = Seq{1000};
  h.flags = tf::syn;
  h.window = 65535;
  const Bytes opts{2, 3, 5, 3, 4, 7, 0, 4, 3, 1, 8, 9, 0, 0, 0, 1, 0, 0, 0};
  p.inject_tcp(tcp_bytes_raw_options(h, opts, {}));
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "S.");
  EXPECT_FALSE(s.h.options.window_scale.has_value());
  EXPECT_FALSE(s.h.options.sack_permitted);
  EXPECT_FALSE(s.h.options.timestamps.has_value());
  EXPECT_EQ(p.counter("tcp.bad_options"), 0u);
}

TEST(Options, UnknownAndUnalignedOptionsAreSkipped) {
  // MUST-6 and MUST-64: unknown kinds skipped by their length; options at any alignment.
  TcpPeer p;
  p.listener(80);
  wire::TcpHeader h;
  h.src_port = 41000;
  h.dst_port = 80;
  h.seq = Seq{1000};
  h.flags = tf::syn;
  h.window = 65535;
  // NOP, unknown kind 30 (len 5), MSS 1000 at an odd offset, SACK-permitted, WS 2.
  const Bytes opts{1, 30, 5, 1, 2, 3, 2, 4, 0x03, 0xe8, 4, 2, 3, 3, 2};
  p.inject_tcp(tcp_bytes_raw_options(h, opts, {}));
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "S.");
  EXPECT_TRUE(s.h.options.sack_permitted);
  EXPECT_TRUE(s.h.options.window_scale.has_value());
  Conn c;
  c.local = {kStackAddr, 80};
  c.remote = {kPeerAddr, 41000};
  ASSERT_NE(p.socket_of(c), nullptr);
  EXPECT_EQ(p.socket_of(c)->tcb.snd_mss, 1000);
}

TEST(Options, EndOfListStopsParsing) {
  // Kind 0: what follows is padding, even if it looks like garbage.
  TcpPeer p;
  p.listener(80);
  wire::TcpHeader h;
  h.src_port = 41000;
  h.dst_port = 80;
  h.seq = Seq{1000};
  h.flags = tf::syn;
  h.window = 65535;
  p.inject_tcp(tcp_bytes_raw_options(h, Bytes{2, 4, 0x05, 0xb4, 0, 9, 0, 1}, {}));
  EXPECT_EQ(p.take_one().flags(), "S.");
  EXPECT_EQ(p.counter("tcp.bad_options"), 0u);
}

TEST(Options, FortyBytesOfNops) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  wire::TcpHeader h = p.header(c, tf::ack | tf::psh);
  p.inject_tcp(tcp_bytes_raw_options(h, Bytes(40, 1), pattern(20)));
  c.snd_nxt = c.snd_nxt + 20;
  EXPECT_EQ(p.read(c.fd).data, pattern(20));
}

TEST(Options, UrgentPointerPastTheSegmentIsHarmless) {
  // CHECKLISTS: no out-of-bounds access; the data is delivered inline.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  for (std::uint16_t urp : {std::uint16_t{0xffff}, std::uint16_t{500}, std::uint16_t{0}}) {
    wire::TcpHeader h = p.header(c, tf::ack | tf::urg | tf::psh);
    h.urgent_pointer = urp;
    p.inject(h, pattern(10, urp));
    c.snd_nxt = c.snd_nxt + 10;
    EXPECT_EQ(p.read(c.fd).data, pattern(10, urp));
  }
}

}  // namespace
}  // namespace ustack::test
