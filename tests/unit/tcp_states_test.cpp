// The TCP state machine against hand-built segments (RFC 9293 3.10.7 in order): LISTEN, a closed
// port, SYN-SENT, SYN-RECEIVED, data arriving in every order into ESTABLISHED, and the ways a
// connection closes (graceful both ways, simultaneous, half-close, abortive).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <list>
#include <numeric>
#include <string>

#include "support/tcp_peer.h"

namespace ustack::test {
namespace {

// A segment from the peer to `port` with no connection behind it.
wire::TcpHeader bare(std::uint8_t flags, Seq seq, Seq ack = Seq{0}, std::uint16_t port = 80,
                     std::uint16_t from = 41000) {
  wire::TcpHeader h;
  h.src_port = from;
  h.dst_port = port;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.window = 65535;
  return h;
}

// ---------------------------------------------------------------------------------------------
// LISTEN (RFC 9293 3.10.7.2)

TEST(Listen, RstIsIgnored) {
  TcpPeer p;
  p.listener(80);
  p.inject(bare(tf::rst, Seq{100}));
  p.inject(bare(tf::rst | tf::ack, Seq{100}, Seq{5000}));
  EXPECT_TRUE(p.take().empty()) << "never answer a RST";
  EXPECT_EQ(p.counter("tcp.listen_rst"), 2u);
  EXPECT_EQ(p.stack().tcp().connection_count(), 0u);  // listeners are not connections
}

TEST(Listen, AckIsAnsweredWithRstAtSegAck) {
  TcpPeer p;
  p.listener(80);
  p.inject(bare(tf::ack, Seq{100}, Seq{777777}));
  Seg r = p.take_one();
  EXPECT_EQ(r.flags(), "R");
  EXPECT_EQ(r.seq(), Seq{777777});
  EXPECT_EQ(r.h.dst_port, 41000);
  EXPECT_EQ(r.h.src_port, 80);
  // With data too.
  const Bytes data = pattern(20);
  p.inject(bare(tf::ack | tf::psh, Seq{100}, Seq{123}), data);
  r = p.take_one();
  EXPECT_EQ(r.flags(), "R");
  EXPECT_EQ(r.seq(), Seq{123});
  EXPECT_EQ(p.counter("tcp.listen_ack"), 2u);
}

struct OfferCase {
  std::string name;
  SynOptions offer;
};

class ListenSynOptions : public ::testing::TestWithParam<OfferCase> {};

TEST_P(ListenSynOptions, SynAckReflectsWhatTheSynOffered) {
  const SynOptions& o = GetParam().offer;
  TcpPeer p;
  p.listener(80);
  wire::TcpHeader h = bare(tf::syn, o.iss);
  h.options.mss = o.mss;
  h.options.window_scale = o.wscale;
  h.options.sack_permitted = o.sack;
  if (o.ts) h.options.timestamps = wire::TcpTimestamps{4242, 0};
  p.inject(h);
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "S.");
  EXPECT_EQ(s.ack(), o.iss + 1);
  // MSS always (RFC 9293 3.7.1, MUST-14 only when it differs from 536, but Linux always does):
  // the interface MTU less 40.
  ASSERT_TRUE(s.h.options.mss.has_value());
  EXPECT_EQ(*s.h.options.mss, 1460);
  EXPECT_EQ(s.h.options.window_scale.has_value(), o.wscale.has_value())
      << "RFC 7323 2.2: window scale in a SYN-ACK only if the SYN had it";
  EXPECT_EQ(s.h.options.sack_permitted, o.sack) << "RFC 2018 2";
  EXPECT_EQ(s.h.options.timestamps.has_value(), o.ts) << "RFC 7323 3.2";
  if (o.ts && s.h.options.timestamps) {
    EXPECT_EQ(s.h.options.timestamps->echo_reply, 4242u) << "TSecr echoes the SYN's TSval";
  }
  if (s.h.options.window_scale) {
    EXPECT_LE(*s.h.options.window_scale, 14);
  }
  EXPECT_GT(s.h.window, 0u) << "the SYN-ACK's window is not scaled (RFC 7323 2.2)";
  EXPECT_EQ(s.h.options.sack_count, 0u);
  EXPECT_EQ(p.counter("tcp.passive_opens"), 1u);
}

std::vector<OfferCase> offers() {
  std::vector<OfferCase> out;
  SynOptions none;
  none.mss = std::nullopt;
  none.wscale = std::nullopt;
  none.sack = false;
  none.ts = false;
  out.push_back({"nothing", none});
  SynOptions mss = none;
  mss.mss = 1000;
  out.push_back({"mss_only", mss});
  SynOptions ws = none;
  ws.wscale = 3;
  out.push_back({"window_scale_only", ws});
  SynOptions sack = none;
  sack.sack = true;
  out.push_back({"sack_only", sack});
  SynOptions ts = none;
  ts.ts = true;
  out.push_back({"timestamps_only", ts});
  SynOptions all;
  all.ts = true;
  out.push_back({"everything", all});
  SynOptions all_but_ts;
  out.push_back({"everything_but_timestamps", all_but_ts});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Offers, ListenSynOptions, ::testing::ValuesIn(offers()),
                         [](const ::testing::TestParamInfo<OfferCase>& param) {
                           return param.param.name;
                         });

TEST(Listen, SynFinIsTakenAsASynInRfcOrder) {
  // RFC 9293 3.10.7.2: first RST (no), second ACK (no), third SYN: open; the FIN is not
  // acknowledged by the SYN-ACK.
  TcpPeer p;
  p.listener(80);
  p.inject(bare(tf::syn | tf::fin, Seq{5000}));
  const auto segs = p.take();
  if (!segs.empty()) {
    ASSERT_EQ(segs.size(), 1u);
    EXPECT_EQ(segs[0].flags(), "S.");
    EXPECT_EQ(segs[0].ack(), Seq{5001}) << "the FIN must not be acknowledged by a SYN-ACK";
  }
}

TEST(Listen, SynRstIsIgnored) {
  TcpPeer p;
  p.listener(80);
  p.inject(bare(tf::syn | tf::rst, Seq{5000}));
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.stack().tcp().connection_count(), 0u);
}

TEST(Listen, NoFlagsIsDropped) {
  TcpPeer p;
  p.listener(80);
  p.inject(bare(0, Seq{5000}), pattern(10));
  p.inject(bare(tf::fin, Seq{5000}));
  p.inject(bare(tf::psh | tf::urg, Seq{5000}), pattern(10));
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.counter("tcp.listen_drop"), 3u);
  EXPECT_EQ(p.stack().tcp().connection_count(), 0u);
}

TEST(Listen, AllFlagsIsIgnoredAsARst) {
  TcpPeer p;
  p.listener(80);
  p.inject(bare(0xff, Seq{5000}, Seq{9}), pattern(10));
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.counter("tcp.listen_rst"), 1u);
  EXPECT_EQ(p.stack().tcp().connection_count(), 0u);
}

TEST(Listen, SeveralListenersDoNotInterfere) {
  // RFC 9293 MUST-41/42: passive opens on different ports, and a specific address beside the
  // wildcard, each get their own connections.
  TcpPeer p;
  Conn a = p.open(TcpState::established, Open::passive, {}, 80);
  Conn b = p.open(TcpState::established, Open::passive, {}, 81);
  const Bytes da = pattern(10, 1), db = pattern(20, 2);
  p.send_data(a, da);
  p.send_data(b, db);
  EXPECT_EQ(p.read(a.fd).data, da);
  EXPECT_EQ(p.read(b.fd).data, db);
}

TEST(Listen, BroadcastSynOpensNothing) {
  // RFC 9293 MUST-57: a SYN to a broadcast address is not answered.
  TcpPeer p;
  p.listener(80);
  p.inject_tcp(tcp_bytes(bare(tf::syn, Seq{1}), {}, kPeerAddr, Ipv4Address(10, 1, 0, 255)),
               kPeerAddr, Ipv4Address(10, 1, 0, 255));
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.counter("tcp.not_unicast"), 1u);
}

// ---------------------------------------------------------------------------------------------
// A port nobody listens on (RFC 9293 3.10.7.1)

TEST(ClosedPort, SynGetsRstAck) {
  TcpPeer p;
  p.inject(bare(tf::syn, Seq{1000}, Seq{0}, 9));
  const Seg r = p.take_one();
  EXPECT_EQ(r.flags(), "R.");
  EXPECT_EQ(r.seq(), Seq{0});
  EXPECT_EQ(r.ack(), Seq{1001});
  EXPECT_EQ(p.counter("tcp.no_connection"), 1u);
}

TEST(ClosedPort, SegmentWithoutAckGetsAckOfSeqPlusLen) {
  TcpPeer p;
  p.inject(bare(tf::psh, Seq{1000}, Seq{0}, 9), pattern(10));
  Seg r = p.take_one();
  EXPECT_EQ(r.flags(), "R.");
  EXPECT_EQ(r.ack(), Seq{1010});
  p.inject(bare(tf::fin, Seq{2000}, Seq{0}, 9));
  r = p.take_one();
  EXPECT_EQ(r.ack(), Seq{2001});
  p.inject(bare(tf::syn | tf::fin, Seq{3000}, Seq{0}, 9), pattern(5));
  r = p.take_one();
  EXPECT_EQ(r.ack(), Seq{3007}) << "SEG.LEN counts SYN and FIN";
  // Near the wrap.
  p.inject(bare(tf::psh, Seq{0xfffffffe}, Seq{0}, 9), pattern(4));
  r = p.take_one();
  EXPECT_EQ(r.ack(), Seq{2});
}

TEST(ClosedPort, AckGetsRstAtSegAck) {
  TcpPeer p;
  p.inject(bare(tf::ack, Seq{1000}, Seq{0xdeadbeef}, 9));
  const Seg r = p.take_one();
  EXPECT_EQ(r.flags(), "R");
  EXPECT_EQ(r.seq(), Seq{0xdeadbeef});
}

TEST(ClosedPort, RstIsNeverAnswered) {
  TcpPeer p;
  p.inject(bare(tf::rst, Seq{1000}, Seq{0}, 9));
  p.inject(bare(tf::rst | tf::ack, Seq{1000}, Seq{5}, 9));
  p.inject(bare(0xff, Seq{1000}, Seq{5}, 9));
  EXPECT_TRUE(p.take().empty());
}

TEST(ClosedPort, AfterTheListenerIsClosed) {
  TcpPeer p;
  p.listener(80);
  p.close_listener(80);
  p.inject(bare(tf::syn, Seq{1000}));
  const Seg r = p.take_one();
  EXPECT_EQ(r.flags(), "R.");
  EXPECT_EQ(r.ack(), Seq{1001});
}

// ---------------------------------------------------------------------------------------------
// SYN-SENT (RFC 9293 3.10.7.3)

TEST(SynSent, TheSynOffersEverything) {
  TcpPeer q;
  const int fd = q.tcp_socket();
  const sockaddr_in to = inet(kPeerAddr, 5000);
  ASSERT_EQ(q.api().connect(fd, sa(to), sizeof to), -1);
  const Seg syn = q.take_one();
  EXPECT_EQ(syn.flags(), "S");
  EXPECT_EQ(syn.h.options.mss, std::optional<std::uint16_t>(1460));
  EXPECT_TRUE(syn.h.options.window_scale.has_value());
  EXPECT_TRUE(syn.h.options.sack_permitted);
  ASSERT_TRUE(syn.h.options.timestamps.has_value());
  EXPECT_EQ(syn.h.options.timestamps->echo_reply, 0u);
  EXPECT_GT(syn.h.window, 0u);
}

TEST(SynSent, SynAckEstablishesAndIsAcked) {
  TcpPeer p;
  SynOptions o;
  o.ts = true;
  Conn c = p.established_active(o);  // checks the ACK <SEQ=ISS+1><ACK=IRS+1>
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_EQ(p.so_error(c.fd), 0);
  EXPECT_TRUE(c.ts);
  EXPECT_EQ(p.counter("tcp.established"), 1u);
  // The connection works: data both ways.
  const Bytes up = pattern(100, 1);
  ASSERT_EQ(p.write(c.fd, up), 100);
  EXPECT_EQ(p.receive_all(c, 100, 1s), up);
  const Bytes down = pattern(50, 2);
  p.send_data(c, down);
  EXPECT_EQ(p.read(c.fd).data, down);
}

TEST(SynSent, SynAckWithDataDeliversIt) {
  TcpPeer p;
  Conn c = p.syn_sent();
  wire::TcpHeader h = p.header(c, tf::syn | tf::ack);
  h.seq = c.peer_iss;
  h.ack = c.stack_iss + 1;
  h.options.mss = 1460;
  const Bytes data = pattern(30);
  p.inject(h, data);
  c.snd_nxt = c.peer_iss + 31;
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), ".");
  EXPECT_EQ(s.ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_EQ(p.read(c.fd).data, data);
}

TEST(SynSent, BadAckGetsRstAndTheConnectionWaits) {
  TcpPeer p;
  Conn c = p.syn_sent();
  // SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>.
  for (Seq bad : {c.stack_iss, c.stack_iss - 1000, c.stack_iss + 2, c.stack_iss + 100000}) {
    SCOPED_TRACE(fmt::format("ack {}", bad));
    p.send_seg(c, tf::syn | tf::ack, c.peer_iss, bad, {});
    Seg r = p.take_one();
    EXPECT_EQ(r.flags(), "R");
    EXPECT_EQ(r.seq(), bad);
    p.send_seg(c, tf::ack, c.peer_iss, bad, {});
    r = p.take_one();
    EXPECT_EQ(r.flags(), "R");
    EXPECT_EQ(r.seq(), bad);
  }
  EXPECT_EQ(p.state_of(c), TcpState::syn_sent);
  EXPECT_EQ(p.counter("tcp.bad_ack"), 8u);
  // The genuine SYN-ACK still completes the handshake.
  p.send_seg(c, tf::syn | tf::ack, c.peer_iss, c.stack_iss + 1, {});
  const Seg a = p.take_one();
  EXPECT_EQ(a.flags(), ".");
  EXPECT_EQ(p.state_of(c), TcpState::established);
}

TEST(SynSent, RstWithBadAckIsDropped) {
  TcpPeer p;
  Conn c = p.syn_sent();
  p.send_seg(c, tf::rst | tf::ack, c.peer_iss, c.stack_iss + 5, {});
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), TcpState::syn_sent);
}

TEST(SynSent, RstWithAcceptableAckRefuses) {
  TcpPeer p;
  Conn c = p.syn_sent();
  p.send_seg(c, tf::rst | tf::ack, Seq{0}, c.stack_iss + 1, {});
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_NE(p.poll_events(c.fd) & POLLERR, 0);
  const sockaddr_in to = inet(c.remote.address, c.remote.port);
  EXPECT_EQ(p.api().connect(c.fd, sa(to), sizeof to), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_EQ(p.counter("tcp.rx_reset"), 1u);
}

TEST(SynSent, RstWithoutAckIsIgnored) {
  TcpPeer p;
  Conn c = p.syn_sent();
  p.send_seg(c, tf::rst, c.peer_iss, Seq{0}, {});
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), TcpState::syn_sent);
  EXPECT_EQ(p.counter("tcp.rst_ignored"), 1u);
}

TEST(SynSent, AckWithoutSynIsDropped) {
  TcpPeer p;
  Conn c = p.syn_sent();
  p.send_seg(c, tf::ack, c.peer_iss, c.stack_iss + 1, {});
  p.send_seg(c, tf::psh, c.peer_iss, Seq{0}, pattern(10));
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), TcpState::syn_sent);
  EXPECT_EQ(p.counter("tcp.syn_sent_drop"), 2u);
}

TEST(SynSent, SimultaneousOpen) {
  // RFC 9293 MUST-10, figure 8: the SYNs cross; each side answers with a SYN-ACK.
  TcpPeer p;
  Conn c = p.simultaneous_open();  // checks <SEQ=ISS><ACK=IRS+1><CTL=SYN,ACK>
  EXPECT_EQ(p.state_of(c), TcpState::syn_received);
  EXPECT_EQ(p.poll_events(c.fd, POLLOUT) & POLLOUT, 0) << "not connected yet";
  // The peer's own SYN-ACK (figure 8, line 6).
  p.send_seg(c, tf::syn | tf::ack, c.peer_iss, c.stack_iss + 1, {});
  for (const Seg& s : p.take()) {
    // The RFC's sequence test finds the SYN below RCV.NXT and ACKs it.
    EXPECT_EQ(s.flags(), ".");
    EXPECT_EQ(s.seq(), c.stack_iss + 1);
    EXPECT_EQ(s.ack(), c.peer_iss + 1);
  }
  if (p.state_of(c) != TcpState::established) {
    p.send_ack(c);
    EXPECT_TRUE(p.take().empty());
  }
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_NE(p.poll_events(c.fd, POLLOUT) & POLLOUT, 0) << "connect completed";
  const Bytes data = pattern(10);
  p.send_data(c, data);
  EXPECT_EQ(p.read(c.fd).data, data);
}

TEST(SynSent, CloseSendsNothing) {
  // RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing synchronized, nothing to reset.
  TcpPeer p;
  Conn c = p.syn_sent();
  ASSERT_EQ(p.api().close(c.fd), 0);
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), std::nullopt);
  // A late SYN-ACK finds no connection: RST.
  p.send_seg(c, tf::syn | tf::ack, c.peer_iss, c.stack_iss + 1, {});
  const Seg r = p.take_one();
  EXPECT_EQ(r.flags(), "R");
  EXPECT_EQ(r.seq(), c.stack_iss + 1);
}

// ---------------------------------------------------------------------------------------------
// SYN-RECEIVED (passive)

TEST(SynReceived, AckCompletesTheHandshake) {
  TcpPeer p;
  Conn c = p.syn_received();
  EXPECT_LT(p.accept(c.listen_fd), 0);
  EXPECT_EQ(errno, EAGAIN);
  p.send_ack(c);
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_GE(p.accept(c.listen_fd), 0);
}

TEST(SynReceived, AckWithDataCompletesAndDelivers) {
  TcpPeer p;
  Conn c = p.syn_received();
  const Bytes data = pattern(100);
  p.send_data(c, data);
  EXPECT_EQ(p.state_of(c), TcpState::established);
  c.fd = p.accept(c.listen_fd);
  ASSERT_GE(c.fd, 0);
  EXPECT_EQ(p.read(c.fd).data, data);
}

TEST(SynReceived, UnacceptableAckGetsRst) {
  // "If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>".
  TcpPeer p;
  Conn c = p.syn_received();
  for (Seq bad : {c.stack_iss, c.stack_iss + 2, c.stack_iss - 70000}) {
    SCOPED_TRACE(fmt::format("ack {}", bad));
    p.send_seg(c, tf::ack, c.snd_nxt, bad, {});
    const Seg r = p.take_one();
    EXPECT_EQ(r.flags(), "R");
    EXPECT_EQ(r.seq(), bad);
    EXPECT_EQ(p.state_of(c), TcpState::syn_received);
  }
}

TEST(SynReceived, RetransmittedSynGetsTheSynAckAgain) {
  TcpPeer p;
  Conn c = p.syn_received();
  p.send_seg(c, tf::syn, c.peer_iss, Seq{0}, {});
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "S.");
  EXPECT_EQ(s.seq(), c.stack_iss);
  EXPECT_EQ(s.ack(), c.peer_iss + 1);
  EXPECT_EQ(p.counter("tcp.syn_retransmitted"), 1u);
  EXPECT_EQ(p.stack().tcp().connection_count(), 1u) << "still one connection";
}

TEST(SynReceived, ResetReturnsToListen) {
  TcpPeer p;
  Conn c = p.syn_received();
  p.send_seg(c, tf::rst, c.snd_nxt, Seq{0}, {});
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), std::nullopt);
  // The listener still takes new connections, even from the same port.
  Conn again = p.open(TcpState::established, Open::passive);
  EXPECT_EQ(p.state_of(again), TcpState::established);
}

TEST(SynReceived, FinCompletesAndCloses) {
  // An ACK with a FIN: ESTABLISHED, then the FIN takes it to CLOSE-WAIT.
  TcpPeer p;
  Conn c = p.syn_received();
  p.send_fin(c);
  const Seg a = p.take_one();
  EXPECT_EQ(a.flags(), ".");
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::close_wait);
  c.fd = p.accept(c.listen_fd);
  ASSERT_GE(c.fd, 0);
  EXPECT_TRUE(p.read(c.fd).eof);
}

// ---------------------------------------------------------------------------------------------
// ESTABLISHED: data in every order (RFC 9293 3.10.7.4 "seventh", SHLD-31; RFC 2018 4)

struct OrderCase {
  std::array<int, 5> order;
  bool ts;
  bool sack;
};

std::vector<OrderCase> orders() {
  std::vector<OrderCase> out;
  std::array<int, 5> perm{0, 1, 2, 3, 4};
  do {
    out.push_back({perm, false, true});
    out.push_back({perm, true, true});
  } while (std::next_permutation(perm.begin(), perm.end()));
  // Without SACK, a few orders suffice.
  out.push_back({{4, 3, 2, 1, 0}, false, false});
  out.push_back({{1, 3, 0, 4, 2}, false, false});
  out.push_back({{0, 2, 4, 1, 3}, true, false});
  return out;
}

// The receiver's out-of-order ranges as RFC 2018 4 reports them: most recently changed first.
struct SackModel {
  struct Range {
    std::uint32_t begin, end;  // byte offsets from the first data byte
  };
  std::list<Range> ranges;  // most recent first

  void insert(std::uint32_t b, std::uint32_t e) {
    Range merged{b, e};
    for (auto it = ranges.begin(); it != ranges.end();) {
      if (it->end >= merged.begin && it->begin <= merged.end) {
        merged.begin = std::min(merged.begin, it->begin);
        merged.end = std::max(merged.end, it->end);
        it = ranges.erase(it);
      } else {
        ++it;
      }
    }
    ranges.push_front(merged);
  }
  void advance(std::uint32_t rcv_nxt) {
    ranges.remove_if([&](const Range& r) { return r.begin <= rcv_nxt; });
  }
};

class ArrivalOrder : public ::testing::TestWithParam<OrderCase> {};

TEST_P(ArrivalOrder, CumulativeAckAndSackAfterEachSegment) {
  const OrderCase& oc = GetParam();
  constexpr std::uint32_t kSize = 100;
  TcpPeer p;
  SynOptions o;
  o.ts = oc.ts;
  o.sack = oc.sack;
  Conn c = p.open(TcpState::established, Open::passive, o);
  const Seq base = c.snd_nxt;
  std::array<Bytes, 5> parts;
  Bytes all;
  for (std::uint32_t i = 0; i < 5; ++i) {
    parts[i] = pattern(kSize, i + 1);
    all.insert(all.end(), parts[i].begin(), parts[i].end());
  }
  std::array<bool, 5> have{};
  std::uint32_t next = 0;  // segments in order so far
  SackModel model;
  for (int index : oc.order) {
    const auto i = static_cast<std::uint32_t>(index);
    SCOPED_TRACE(fmt::format("segment {} (bytes {}..{})", i, i * kSize, (i + 1) * kSize));
    const bool had_holes = !model.ranges.empty();
    p.send_seg(c, tf::ack | tf::psh, base + i * kSize, c.rcv_nxt, parts[i]);
    have[i] = true;
    bool immediate = true;
    if (i == next) {
      while (next < 5 && have[next]) ++next;
      model.advance(next * kSize);
      immediate = had_holes;  // filling a hole is ACKed at once; plain in-order data is delayed
    } else {
      model.insert(i * kSize, (i + 1) * kSize);
    }
    std::vector<Seg> segs = p.take();
    if (!immediate) {
      EXPECT_TRUE(segs.empty()) << "in-order data waits for the delayed ACK:" << describe(segs);
      p.advance(40ms);
      segs = p.take();
    }
    ASSERT_EQ(segs.size(), 1u) << describe(segs);
    const Seg& a = segs[0];
    EXPECT_EQ(a.flags(), ".");
    EXPECT_EQ(a.ack(), base + next * kSize);
    if (!oc.sack) {
      EXPECT_EQ(a.h.options.sack_count, 0u) << "no SACK unless both sides agreed";
      continue;
    }
    std::vector<wire::SackBlock> want;
    for (const auto& r : model.ranges) want.push_back({base + r.begin, base + r.end});
    const auto got = a.h.options.sacks();
    EXPECT_EQ(std::vector<wire::SackBlock>(got.begin(), got.end()), want)
        << "SACK blocks, most recent first";
  }
  EXPECT_EQ(next, 5u);
  EXPECT_EQ(p.read(c.fd).data, all);
}

std::string order_name(const OrderCase& oc) {
  std::string s = "order_";
  for (int i : oc.order) s += static_cast<char>('1' + i);
  if (oc.ts) s += "_ts";
  if (!oc.sack) s += "_nosack";
  return s;
}

INSTANTIATE_TEST_SUITE_P(AllOrders, ArrivalOrder, ::testing::ValuesIn(orders()),
                         [](const ::testing::TestParamInfo<OrderCase>& param) {
                           return order_name(param.param);
                         });

TEST(Established, FlagCombinationsInRfcOrder) {
  // At RCV.NXT: "second" RST before "fourth" SYN before "fifth" ACK.
  struct Combo {
    std::uint8_t flags;
    const char* outcome;  // "reset", "challenge", "drop"
  };
  const Combo combos[] = {
      {tf::syn | tf::fin, "challenge"},
      {tf::syn | tf::rst, "reset"},
      {0, "drop"},
      {tf::fin, "drop"},
      {tf::psh | tf::urg, "drop"},
      {0xff, "reset"},
      {tf::rst | tf::fin | tf::ack, "reset"},
      {tf::syn | tf::fin | tf::ack | tf::psh | tf::urg, "challenge"},
  };
  for (const Combo& combo : combos) {
    SCOPED_TRACE(flag_letters(combo.flags));
    TcpPeer p;
    Conn c = p.open(TcpState::established, Open::passive);
    p.send_seg(c, combo.flags, c.snd_nxt, c.rcv_nxt, pattern(5));
    const auto segs = p.take();
    const std::string outcome = combo.outcome;
    if (outcome == "reset") {
      EXPECT_TRUE(segs.empty());
      EXPECT_EQ(p.state_of(c), std::nullopt);
    } else if (outcome == "challenge") {
      ASSERT_EQ(segs.size(), 1u) << describe(segs);
      EXPECT_EQ(segs[0].flags(), ".");
      EXPECT_EQ(segs[0].ack(), c.snd_nxt);
      EXPECT_EQ(p.state_of(c), TcpState::established);
    } else {
      EXPECT_TRUE(segs.empty()) << describe(segs);
      EXPECT_EQ(p.state_of(c), TcpState::established);
    }
    EXPECT_TRUE(p.read(c.fd).data.empty()) << "no data taken from such a segment";
  }
}

TEST(Established, DuplicateSegmentIsAckedAtOnce) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  const Bytes data = pattern(100);
  p.send_data(c, data);
  p.advance(40ms);
  p.take();
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt - 100, c.rcv_nxt, data);
  const Seg a = p.take_one();
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(p.read(c.fd).data, data);
}

TEST(Established, OutOfOrderFinWaitsForTheHole) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  const Seq base = c.snd_nxt;
  const Bytes a = pattern(100, 1), b = pattern(100, 2);
  p.send_seg(c, tf::ack | tf::fin, base + 100, c.rcv_nxt, b);
  Seg s = p.take_one();
  EXPECT_EQ(s.ack(), base);
  EXPECT_EQ(p.state_of(c), TcpState::established);
  p.send_seg(c, tf::ack, base, c.rcv_nxt, a);
  s = p.take_one();
  EXPECT_EQ(s.ack(), base + 201) << "the data and the FIN";
  EXPECT_EQ(p.state_of(c), TcpState::close_wait);
  const auto r = p.read(c.fd);
  EXPECT_EQ(r.data, concat(a, b));
  EXPECT_TRUE(r.eof);
}

TEST(Established, ZeroWindowStillTakesAcksAndRsts) {
  // MUST-66: with a zero window, ACKs (and RSTs) at RCV.NXT are still processed.
  TcpPeerOptions options;
  options.config.tcp.default_receive_buffer = 1000;
  TcpPeer p(options);
  SynOptions o;
  o.wscale = std::nullopt;
  Conn c = p.open(TcpState::established, Open::passive, o);
  p.send_data(c, pattern(1000));
  Seg s = p.wait_segment(200ms).value_or(Seg{});
  ASSERT_EQ(s.ack(), c.snd_nxt);
  ASSERT_EQ(s.h.window, 0u);
  // The app sends; the peer's ACK of it arrives while our window is closed.
  ASSERT_EQ(p.write(c.fd, pattern(10, 7)), 10);
  s = p.take_one();
  EXPECT_EQ(s.len(), 10u);
  p.take_data(c, s);
  p.send_ack(c);
  EXPECT_EQ(p.socket_of(c)->tcb.snd_una, c.rcv_nxt) << "the ACK was taken";
  // More data into the closed window: dropped and ACKed.
  p.send_seg(c, tf::ack, c.snd_nxt, c.rcv_nxt, pattern(10));
  s = p.take_one();
  EXPECT_EQ(s.ack(), c.snd_nxt);
  EXPECT_EQ(s.h.window, 0u);
  EXPECT_EQ(p.counter("tcp.zero_window_drop"), 1u);
  // A RST at RCV.NXT resets.
  p.send_seg(c, tf::rst, c.snd_nxt, Seq{0}, {});
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(Established, WindowOpensAfterTheAppReads) {
  TcpPeerOptions options;
  options.config.tcp.default_receive_buffer = 4000;
  TcpPeer p(options);
  SynOptions o;
  o.wscale = std::nullopt;
  Conn c = p.open(TcpState::established, Open::passive, o);
  p.send_data(c, pattern(1400, 1));
  p.send_data(c, pattern(1400, 2));
  p.send_data(c, pattern(1200, 3));
  p.run_for(100ms);
  auto segs = p.take();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().ack(), c.snd_nxt);
  EXPECT_EQ(segs.back().h.window, 0u);
  EXPECT_EQ(p.read(c.fd).data.size(), 4000u);
  // The window update (receiver SWS avoidance allows it: the whole buffer is free).
  segs = p.take();
  ASSERT_EQ(segs.size(), 1u) << describe(segs);
  EXPECT_EQ(segs[0].ack(), c.snd_nxt);
  EXPECT_EQ(segs[0].h.window, 4000u);
}

TEST(Established, PeerShrinksItsWindow) {
  // MUST-34: a peer may move its right edge left; the sender copes (no underflow, nothing sent
  // beyond the new edge) and carries on once the window opens again.
  TcpPeer p;
  SynOptions o;
  o.wscale = std::nullopt;
  Conn c = p.open(TcpState::established, Open::passive, o);
  ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
  const Bytes data = pattern(30000, 8);
  ASSERT_EQ(p.write(c.fd, data), 30000);
  const auto first = p.take();
  ASSERT_FALSE(first.empty());
  for (const Seg& s : first) p.note(c, s);
  const Seq sent_to = c.stack_nxt;
  // The first segment acknowledged, with a window that ends before what was already sent.
  p.take_data(c, first[0]);
  p.send_ack(c, 100);
  const auto after = p.take();
  for (const Seg& s : after) {
    EXPECT_LE(s.end(), sent_to) << "nothing new beyond the shrunk window: "
                                << fmt::format("{}", s.h);
  }
  EXPECT_EQ(p.state_of(c), TcpState::established);
  // The window opens again: everything arrives.
  c.window = 65535;
  Bytes got(data.begin(), data.begin() + static_cast<long>(first[0].data.size()));
  for (std::size_t i = 1; i < first.size(); ++i) {
    got.insert(got.end(), first[i].data.begin(), first[i].data.end());
    c.rcv_nxt = first[i].end();
  }
  p.send_ack(c);
  const Bytes rest = p.receive_all(c, data.size() - got.size(), 60s);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, data);
}

TEST(SynReceived, HalfOpenSlotsAreGivenBack) {
  // Every way out of SYN-RECEIVED (RST, give-up, completion) frees its place in the listener's
  // half-open queue, so a small queue keeps working.
  TcpPeerOptions options;
  options.config.tcp.max_syn_backlog = 2;
  options.config.tcp.syn_cookies = false;
  TcpPeer p(options);
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(round);
    Conn reset = p.syn_received();
    p.send_seg(reset, tf::rst, reset.snd_nxt, Seq{0}, {});
    ASSERT_EQ(p.state_of(reset), std::nullopt);
    Conn done = p.syn_received();
    p.send_ack(done);
    ASSERT_EQ(p.state_of(done), TcpState::established);
  }
  Conn a = p.syn_received();
  Conn b = p.syn_received();
  p.run_for(600s);  // both give up
  EXPECT_EQ(p.state_of(a), std::nullopt);
  EXPECT_EQ(p.state_of(b), std::nullopt);
  p.take();
  Conn c = p.syn_received();  // a place is free again
  EXPECT_EQ(p.state_of(c), TcpState::syn_received);
  EXPECT_EQ(p.counter("tcp.syn_queue_full"), 0u);
}

// ---------------------------------------------------------------------------------------------
// ICMP errors about a connection (RFC 9293 3.9.2.2, RFC 5927)

TEST(Icmp, SoftErrorsDoNotAbort) {
  // MUST-56: net/host unreachable, source route failed, time exceeded, parameter problem;
  // MUST-55: source quench is ignored.
  const std::vector<std::pair<std::uint8_t, std::uint8_t>> soft = {{3, 0},  {3, 1},  {3, 5},
                                                                   {11, 0}, {12, 0}, {4, 0}};
  for (auto [type, code] : soft) {
    SCOPED_TRACE(fmt::format("type {} code {}", type, code));
    TcpPeer p;
    Conn c = p.open(TcpState::established, Open::active);
    p.inject_ip(icmp_quoting(type, code, 0, c.local, c.remote, c.rcv_nxt));
    EXPECT_EQ(p.state_of(c), TcpState::established);
    ASSERT_EQ(p.write(c.fd, pattern(10)), 10) << std::strerror(errno);
  }
}

TEST(Icmp, HardErrorsAbort) {
  // SHLD-26: protocol and port unreachable are hard errors.
  for (std::uint8_t code : {std::uint8_t{2}, std::uint8_t{3}}) {
    SCOPED_TRACE(code);
    TcpPeer p;
    Conn c = p.open(TcpState::established, Open::active);
    p.inject_ip(icmp_quoting(3, code, 0, c.local, c.remote, c.rcv_nxt));
    EXPECT_EQ(p.state_of(c), std::nullopt);
    EXPECT_EQ(p.read(c.fd).error, ECONNREFUSED);
  }
}

TEST(Icmp, PortUnreachableRefusesAConnect) {
  TcpPeer p;
  Conn c = p.syn_sent();
  p.inject_ip(icmp_quoting(3, 3, 0, c.local, c.remote, c.stack_iss));
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_EQ(p.so_error(c.fd), ECONNREFUSED);
}

TEST(Icmp, UnreachableEndsAConnect) {
  // RFC 5461 4: during connection establishment even the "soft" unreachables end the attempt
  // (as on Linux), each with its own errno.
  const std::vector<std::pair<std::uint8_t, int>> cases = {
      {0, ENETUNREACH}, {1, EHOSTUNREACH}, {5, EHOSTUNREACH}};
  for (auto [code, error] : cases) {
    SCOPED_TRACE(code);
    TcpPeer p;
    Conn c = p.syn_sent();
    p.inject_ip(icmp_quoting(3, code, 0, c.local, c.remote, c.stack_iss));
    EXPECT_EQ(p.state_of(c), std::nullopt);
    EXPECT_EQ(p.so_error(c.fd), error);
  }
}

TEST(Icmp, SoftErrorIsReportedWhenTheConnectTimesOut) {
  // SHLD-28: make soft errors available to the application. Like Linux (sk_err_soft), a
  // connect that times out after a time exceeded reports EHOSTUNREACH, not ETIMEDOUT.
  TcpPeer p;
  Conn c = p.syn_sent();
  p.inject_ip(icmp_quoting(11, 0, 0, c.local, c.remote, c.stack_iss));
  EXPECT_EQ(p.state_of(c), TcpState::syn_sent) << "a soft error does not abort";
  p.run_for(600s);
  ASSERT_EQ(p.state_of(c), std::nullopt);
  EXPECT_EQ(p.so_error(c.fd), EHOSTUNREACH);
}

TEST(Icmp, QuoteOutsideTheWindowIsIgnored) {
  // RFC 5927 4.1.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::active);
  p.inject_ip(icmp_quoting(3, 3, 0, c.local, c.remote, c.rcv_nxt + 100000));
  p.inject_ip(icmp_quoting(3, 3, 0, c.local, c.remote, c.rcv_nxt - 1));
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_EQ(p.counter("tcp.icmp_ignored"), 2u);
}

TEST(Icmp, FragmentationNeededLowersTheMss) {
  // RFC 1191: the next-hop MTU in the error; the data goes again in smaller segments at once.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.write(c.fd, pattern(1460)), 1460);
  const Seg big = p.take_one();
  ASSERT_EQ(big.len(), 1460u);
  p.inject_ip(icmp_quoting(3, 4, 1000, c.local, c.remote, big.seq()));
  const auto segs = p.take();
  ASSERT_FALSE(segs.empty()) << "resent at once";
  EXPECT_EQ(segs[0].seq(), big.seq());
  Bytes got;
  for (const Seg& s : segs) {
    EXPECT_LE(s.len(), 960u);
    p.take_data(c, s, &got);
  }
  p.send_ack(c);
  const Bytes rest = p.receive_all(c, 1460 - got.size(), 10s);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, pattern(1460));
}

TEST(Established, BothSequenceSpacesWrap) {
  // Both ISSs a little below 2^32: data both ways crosses the wrap, then a graceful close.
  TcpPeer p;
  SynOptions o;
  o.iss = Seq{0xffffffffu - 700};
  o.stack_iss = Seq{0xffffffffu - 3000};
  Conn c = p.open(TcpState::established, Open::passive, o);
  ASSERT_EQ(c.stack_iss, Seq{0xffffffffu - 3000});
  const Bytes up = pattern(10000, 1);
  ASSERT_EQ(p.write(c.fd, up), 10000);
  EXPECT_EQ(p.receive_all(c, up.size(), 60s), up);
  EXPECT_LT(c.rcv_nxt.raw(), 10000u) << "the stack's numbers wrapped";
  Bytes down;
  for (std::uint32_t i = 0; i < 4; ++i) {
    const Bytes part = pattern(500, i + 7);
    p.send_data(c, part);
    down.insert(down.end(), part.begin(), part.end());
  }
  EXPECT_LT(c.snd_nxt.raw(), 2000u) << "the peer's numbers wrapped";
  EXPECT_EQ(p.read(c.fd).data, down);
  p.run_for(1s);
  p.take();
  // ACK validation across the wrap: an ACK above SND.NXT is refused ...
  p.send_seg(c, tf::ack, c.snd_nxt, c.rcv_nxt + 1, {});
  EXPECT_EQ(p.take_one().ack(), c.snd_nxt);
  // ... and the close completes.
  Seg fin = p.shutdown_write(c);
  c.rcv_nxt = fin.end();
  p.send_fin(c);
  EXPECT_EQ(p.take_one().ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
}

// ---------------------------------------------------------------------------------------------
// Closing

TEST(Close, CloseWithUnreadDataSendsRst) {
  // RFC 9293 SHLD-3 / RFC 2525 2.17: the peer must learn that data was lost.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_data(c, pattern(100));
  p.advance(40ms);
  p.take();
  ASSERT_EQ(p.api().close(c.fd), 0);
  const Seg r = p.take_one();
  EXPECT_TRUE(r.has(tf::rst)) << fmt::format("{}", r.h);
  EXPECT_FALSE(r.has(tf::fin));
  EXPECT_EQ(r.seq(), c.stack_nxt);
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(Close, LingerZeroSendsRst) {
  for (Open how : {Open::active, Open::passive}) {
    SCOPED_TRACE(open_name(how));
    TcpPeer p;
    Conn c = p.open(TcpState::established, how);
    ASSERT_EQ(p.write(c.fd, pattern(100)), 100);
    const Seg d = p.take_one();
    ASSERT_EQ(d.len(), 100u);
    const ::linger l{1, 0};
    ASSERT_EQ(p.api().setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    ASSERT_EQ(p.api().close(c.fd), 0);
    const Seg r = p.take_one();
    EXPECT_TRUE(r.has(tf::rst));
    EXPECT_EQ(r.seq(), d.end()) << "<SEQ=SND.NXT><CTL=RST>";
    EXPECT_EQ(p.state_of(c), std::nullopt);
  }
}

TEST(Close, ActiveCloseSequence) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::active);
  ASSERT_EQ(p.api().close(c.fd), 0);
  const Seg fin = p.take_one();
  EXPECT_EQ(fin.flags(), "F.");
  EXPECT_EQ(fin.seq(), c.stack_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::fin_wait_1);
  c.rcv_nxt = fin.end();
  p.send_ack(c);
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), TcpState::fin_wait_2);
  p.send_fin(c);
  const Seg a = p.take_one();
  EXPECT_EQ(a.flags(), ".");
  EXPECT_EQ(a.seq(), fin.end());
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
  p.run_for(60s);
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_TRUE(p.take().empty());
}

TEST(Close, PassiveCloseSequence) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_fin(c);
  Seg a = p.take_one();
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::close_wait);
  EXPECT_TRUE(p.read(c.fd).eof);
  // The app may still send in CLOSE-WAIT.
  ASSERT_EQ(p.write(c.fd, pattern(10)), 10);
  const Seg d = p.take_one();
  EXPECT_EQ(d.len(), 10u);
  p.take_data(c, d);
  ASSERT_EQ(p.api().close(c.fd), 0);
  const Seg fin = p.take_one();
  EXPECT_EQ(fin.flags(), "F.");
  EXPECT_EQ(fin.seq(), d.end());
  EXPECT_EQ(p.state_of(c), TcpState::last_ack);
  c.rcv_nxt = fin.end();
  p.send_ack(c);
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), std::nullopt) << "LAST-ACK ends with the ACK of our FIN";
}

TEST(Close, SimultaneousClose) {
  TcpPeer p;
  Conn c = p.open(TcpState::closing, Open::active);
  c.rcv_nxt = *c.stack_fin + 1;
  p.send_ack(c);
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
}

TEST(Close, FinRidesWithTheLastData) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.write(c.fd, pattern(100)), 100);
  const Seg d = p.take_one();
  EXPECT_EQ(d.len(), 100u);
  // Unacknowledged data, then shutdown: the FIN follows the data.
  ASSERT_EQ(p.api().shutdown(c.fd, SHUT_WR), 0);
  const Seg fin = p.take_one();
  EXPECT_TRUE(fin.has(tf::fin));
  EXPECT_EQ(fin.seq(), d.end());
  c.rcv_nxt = fin.end();
  p.send_ack(c);
  EXPECT_EQ(p.state_of(c), TcpState::fin_wait_2);
}

TEST(Close, HalfCloseKeepsReceiving) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.to_fin_wait_2(c);
  // The peer goes on sending; the app goes on reading.
  const Bytes more = pattern(500, 3);
  for (int i = 0; i < 3; ++i) p.send_data(c, more);
  p.advance(40ms);
  auto segs = p.take();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().ack(), c.snd_nxt);
  EXPECT_EQ(segs.back().seq(), c.stack_nxt);
  EXPECT_EQ(p.read(c.fd).data.size(), 1500u);
  // The app can no longer send.
  EXPECT_EQ(p.write(c.fd, pattern(1)), -1);
  EXPECT_EQ(errno, EPIPE);
  p.send_fin(c);
  EXPECT_EQ(p.take_one().ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
  EXPECT_TRUE(p.read(c.fd).eof);
}

TEST(Close, HalfCloseInFinWait1) {
  TcpPeer p;
  Conn c = p.open(TcpState::fin_wait_1, Open::active);
  const Bytes data = pattern(300);
  p.send_data(c, data);  // acknowledges the data before the FIN, not the FIN
  p.advance(40ms);
  const auto segs = p.take();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().ack(), c.snd_nxt);
  EXPECT_EQ(p.read(c.fd).data, data);
  EXPECT_EQ(p.state_of(c), TcpState::fin_wait_1);
}

TEST(Close, OrphanedFinWait1FinishesAlone) {
  // close() with the FIN unacknowledged: the connection finishes without the app.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.api().close(c.fd), 0);
  const Seg fin = p.take_one();
  c.rcv_nxt = fin.end();
  p.send_fin(c);  // FIN+ACK of our FIN
  const Seg a = p.take_one();
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
}

TEST(Close, ResetInCloseWaitReportsBrokenPipe) {
  // Linux (tcp_reset) reports a reset in CLOSE-WAIT as EPIPE: the peer had finished sending.
  TcpPeer p;
  Conn c = p.open(TcpState::close_wait, Open::passive);
  ASSERT_EQ(p.write(c.fd, pattern(100)), 100);
  p.take();
  p.send_seg(c, tf::rst, c.snd_nxt, Seq{0}, {});
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_EQ(p.so_error(c.fd), EPIPE) << "the error, reported once";
  EXPECT_EQ(p.write(c.fd, pattern(1)), -1);
  EXPECT_EQ(errno, EPIPE) << "then EPIPE for every write";
}

TEST(Close, ResetInEstablishedReportsConnectionResetOnce) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_seg(c, tf::rst, c.snd_nxt, Seq{0}, {});
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_EQ(p.write(c.fd, pattern(1)), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(p.write(c.fd, pattern(1)), -1);
  EXPECT_EQ(errno, EPIPE) << "reported once, then EPIPE as Linux";
}

TEST(Close, ListenerCloseResetsUnacceptedConnections) {
  TcpPeer p;
  Conn c = p.syn_received();
  p.send_ack(c);  // ESTABLISHED, in the accept queue
  EXPECT_TRUE(p.take().empty());
  p.close_listener(80);
  const Seg r = p.take_one();
  EXPECT_TRUE(r.has(tf::rst));
  EXPECT_EQ(r.seq(), c.stack_nxt);
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(Close, DataAfterPeerFinIsIgnored) {
  // CLOSE-WAIT: "This should not occur since a FIN has been received ... Ignore the segment
  // text."
  TcpPeer p;
  Conn c = p.open(TcpState::close_wait, Open::passive);
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt, c.rcv_nxt, pattern(10));
  p.run_for(1s);
  p.take();
  EXPECT_EQ(p.counter("tcp.data_after_fin"), 1u);
  const auto r = p.read(c.fd);
  EXPECT_TRUE(r.data.empty());
  EXPECT_TRUE(r.eof);
}

}  // namespace
}  // namespace ustack::test
