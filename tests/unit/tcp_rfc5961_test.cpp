// RFC 5961 (blind in-window attacks) as RFC 9293 3.10.7.4 adopts it, table-driven: a RST and a
// SYN at each of the four sequence positions RCV.NXT-1, RCV.NXT, RCV.NXT+WND-1 and RCV.NXT+WND,
// in every synchronized state, for connections the stack opened actively and passively, with
// and without timestamps, and with the peer's sequence numbers far from and right at the 2^32
// wrap. Then the challenge-ACK rate limit (per connection, never global) and the acceptance
// tests of RFC 5961 5.2 and RFC 9293 3.10.7.4 "first" and "fifth" for data and ACKs.
//
//   RST at RCV.NXT                      the connection is reset (the app sees ECONNRESET)
//   RST elsewhere in the window         challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
//   RST outside the window              silently dropped
//   SYN anywhere                        challenge ACK (outside the window: the same ACK)
//
// with the refinements of the states that have them: SYN-RECEIVED answers the peer's SYN again
// (a retransmission of the SYN it holds) with its SYN-ACK; TIME-WAIT takes a new SYN above
// RCV.NXT as a new connection when a listener wants it (RFC 9293 3.10.7.4 "fourth", RFC 6191).
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "support/tcp_peer.h"

namespace ustack::test {
namespace {

enum class Pos { before, at_nxt, last_in_window, after_window };
enum class Kind { rst, syn };

const char* pos_name(Pos p) {
  switch (p) {
    case Pos::before:
      return "rcv_nxt_minus_1";
    case Pos::at_nxt:
      return "rcv_nxt";
    case Pos::last_in_window:
      return "rcv_nxt_plus_wnd_minus_1";
    case Pos::after_window:
      return "rcv_nxt_plus_wnd";
  }
  return "?";
}

struct TableCase {
  TcpState state;
  Open how;
  Pos pos;
  Kind kind;
  bool ts;
  bool wrap;  // both ISSs just below 2^32 (the stack's for passive opens): numbers wrap
};

std::string case_name(const TableCase& c) {
  std::string s = fmt::format("{}_{}_{}_at_{}{}{}", tcp::state_name(c.state), open_name(c.how),
                              c.kind == Kind::rst ? "rst" : "syn", pos_name(c.pos),
                              c.ts ? "_ts" : "", c.wrap ? "_wrap" : "");
  for (char& ch : s) {
    if (ch == '-') ch = '_';
  }
  return s;
}

enum class Outcome {
  reset,           // the connection is gone, no reply
  challenge_ack,   // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, state unchanged
  dropped,         // no reply, state unchanged
  synack_again,    // SYN-RECEIVED: the SYN-ACK again
  new_connection,  // TIME-WAIT with a listener: the SYN opens a new connection
};

Outcome expected(const TableCase& c) {
  if (c.kind == Kind::rst) {
    switch (c.pos) {
      case Pos::at_nxt:
        return Outcome::reset;
      case Pos::last_in_window:
        return Outcome::challenge_ack;
      default:
        return Outcome::dropped;
    }
  }
  if (c.state == TcpState::syn_received && c.pos == Pos::before) return Outcome::synack_again;
  if (c.state == TcpState::time_wait &&
      (c.pos == Pos::last_in_window || c.pos == Pos::after_window || c.ts)) {
    // RFC 6191: a SYN above RCV.NXT may reopen the four-tuple, and with timestamps so may one
    // whose TSval is newer (the peer's clock moved on), wherever its sequence number, as in
    // Linux's tcp_timewait_state_process — if someone listens. With no
    // listener (the stack's end was an active open) TIME-WAIT stays and the SYN gets the
    // challenge ACK of RFC 9293 3.10.7.4 "fourth", as Linux does (tcp_timewait_state_process
    // -> TCP_TW_SYN without a listener -> TCP_TW_ACK).
    return c.how == Open::passive ? Outcome::new_connection : Outcome::challenge_ack;
  }
  return Outcome::challenge_ack;
}

class Rfc5961Table : public ::testing::TestWithParam<TableCase> {};

TEST_P(Rfc5961Table, RstAndSynAtEachSequencePosition) {
  const TableCase& tc = GetParam();
  TcpPeer p;
  SynOptions o;
  o.ts = tc.ts;
  if (tc.wrap) {
    o.iss = Seq{0xffffffffu - 20};
    if (tc.how == Open::passive) o.stack_iss = Seq{0xffffffffu - 10};
  }
  Conn c = p.open(tc.state, tc.how, o);
  ASSERT_EQ(p.state_of(c), tc.state);
  ASSERT_TRUE(p.take().empty());
  if (o.stack_iss) {
    ASSERT_EQ(c.stack_iss, *o.stack_iss);
  }

  tcp::TcpSocket* s = p.socket_of(c);
  ASSERT_NE(s, nullptr);
  const Seq rcv_nxt = c.snd_nxt;
  ASSERT_EQ(s->tcb.rcv_nxt, rcv_nxt) << "the harness and the stack disagree on RCV.NXT";
  const std::uint32_t wnd = p.rcv_wnd(c);
  ASSERT_GT(wnd, 1u);
  const Seq snd_nxt = c.stack_nxt;
  ASSERT_EQ(s->tcb.snd_nxt, snd_nxt) << "the harness and the stack disagree on SND.NXT";
  const Seq iss = c.stack_iss;

  Seq seq;
  switch (tc.pos) {
    case Pos::before:
      seq = rcv_nxt - 1;
      break;
    case Pos::at_nxt:
      seq = rcv_nxt;
      break;
    case Pos::last_in_window:
      seq = rcv_nxt + (wnd - 1);
      break;
    case Pos::after_window:
      seq = rcv_nxt + wnd;
      break;
  }
  const CounterMap before = p.counters_now();
  p.send_seg(c, tc.kind == Kind::rst ? tf::rst : tf::syn, seq, Seq{0}, {});
  const std::vector<Seg> segs = p.take();
  const CounterMap changed = changes_since(before, p.stack().stats());
  SCOPED_TRACE(fmt::format("seq {} rcv.nxt {} wnd {}; the stack sent:{}", seq, rcv_nxt, wnd,
                           describe(segs)));

  switch (expected(tc)) {
    case Outcome::reset: {
      EXPECT_TRUE(segs.empty()) << "never answer a RST";
      EXPECT_EQ(p.state_of(c), std::nullopt) << "the connection should be gone";
      EXPECT_EQ(changed.count("tcp.rx_reset"), 1u);
      switch (tc.state) {
        case TcpState::established:
        case TcpState::fin_wait_1:
        case TcpState::fin_wait_2: {
          // RFC 9293 3.10.7.4 "second": "signal 'connection reset'" (MUST-12).
          const auto r = p.read(c.fd);
          EXPECT_EQ(r.error, ECONNRESET) << std::strerror(r.error);
          break;
        }
        case TcpState::close_wait: {
          // Linux (tcp_reset) signals the reset as EPIPE once the peer had closed.
          const auto r = p.read(c.fd);
          EXPECT_EQ(r.error, EPIPE) << std::strerror(r.error);
          break;
        }
        case TcpState::syn_received:
          if (tc.how == Open::active) {
            // "If this connection was initiated with an active OPEN ... connection refused."
            EXPECT_EQ(p.so_error(c.fd), ECONNREFUSED);
          } else {
            // "... return this connection to LISTEN": nothing to accept, the listener lives.
            EXPECT_LT(p.accept(c.listen_fd), 0);
            EXPECT_EQ(errno, EAGAIN);
            EXPECT_TRUE(p.stack().tcp().find(c.local, c.remote) == nullptr);
          }
          break;
        default:
          break;
      }
      break;
    }
    case Outcome::challenge_ack:
      ASSERT_EQ(segs.size(), 1u);
      EXPECT_EQ(segs[0].flags(), ".");
      EXPECT_EQ(segs[0].seq(), snd_nxt);
      EXPECT_EQ(segs[0].ack(), rcv_nxt);
      EXPECT_TRUE(segs[0].data.empty());
      EXPECT_EQ(p.state_of(c), tc.state);
      if (tc.pos == Pos::at_nxt || tc.pos == Pos::last_in_window) {
        EXPECT_EQ(changed.count("tcp.challenge_ack"), 1u) << "an in-window RST or SYN";
      }
      break;
    case Outcome::dropped:
      EXPECT_TRUE(segs.empty()) << "a RST outside the window is dropped silently";
      EXPECT_EQ(p.state_of(c), tc.state);
      break;
    case Outcome::synack_again:
      ASSERT_EQ(segs.size(), 1u);
      EXPECT_EQ(segs[0].flags(), "S.");
      EXPECT_EQ(segs[0].seq(), iss);
      EXPECT_EQ(segs[0].ack(), rcv_nxt);
      EXPECT_EQ(p.state_of(c), tc.state);
      break;
    case Outcome::new_connection:
      ASSERT_EQ(segs.size(), 1u);
      EXPECT_EQ(segs[0].flags(), "S.");
      EXPECT_EQ(segs[0].ack(), seq + 1);
      EXPECT_EQ(p.state_of(c), TcpState::syn_received) << "a new incarnation";
      break;
  }
}

std::vector<TableCase> table() {
  std::vector<TableCase> out;
  for (TcpState st :
       {TcpState::syn_received, TcpState::established, TcpState::fin_wait_1, TcpState::fin_wait_2,
        TcpState::close_wait, TcpState::closing, TcpState::last_ack, TcpState::time_wait}) {
    for (Open how : {Open::active, Open::passive}) {
      for (Kind k : {Kind::rst, Kind::syn}) {
        for (Pos pos : {Pos::before, Pos::at_nxt, Pos::last_in_window, Pos::after_window}) {
          for (bool ts : {false, true}) {
            for (bool wrap : {false, true}) out.push_back(TableCase{st, how, pos, k, ts, wrap});
          }
        }
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllStates, Rfc5961Table, ::testing::ValuesIn(table()),
                         [](const ::testing::TestParamInfo<TableCase>& param) {
                           return case_name(param.param);
                         });

// ---------------------------------------------------------------------------------------------
// Challenge ACK rate limit (RFC 5961 7; per connection, CHECKLISTS "never by one global counter")

TEST(ChallengeAck, RateLimitedPerConnectionPerSecond) {
  TcpPeer p;
  const std::uint32_t limit = p.stack().tcp().config().challenge_ack_limit;
  ASSERT_GT(limit, 0u);
  Conn a = p.open(TcpState::established, Open::passive);
  Conn b = p.open(TcpState::established, Open::passive);

  // limit + 3 in-window RSTs within one second: exactly `limit` challenge ACKs.
  std::size_t acks = 0;
  for (std::uint32_t i = 0; i < limit + 3; ++i) {
    p.send_seg(a, tf::rst, a.snd_nxt + 1 + i, Seq{0}, {});
    for (const Seg& s : p.take()) {
      EXPECT_EQ(s.flags(), ".");
      EXPECT_EQ(s.ack(), a.snd_nxt);
      ++acks;
    }
  }
  EXPECT_EQ(acks, limit);
  EXPECT_EQ(p.counter("tcp.challenge_ack_limited"), 3u);
  EXPECT_EQ(p.state_of(a), TcpState::established);

  // The other connection's budget is its own.
  p.send_seg(b, tf::syn, b.snd_nxt, Seq{0}, {});
  const Seg cb = p.take_one();
  EXPECT_EQ(cb.flags(), ".");
  EXPECT_EQ(cb.ack(), b.snd_nxt);
  EXPECT_EQ(cb.h.dst_port, b.remote.port);

  // A SYN on the exhausted connection gets nothing in the same second ...
  p.send_seg(a, tf::syn, a.snd_nxt, Seq{0}, {});
  EXPECT_TRUE(p.take().empty());
  // ... and a challenge ACK again a second later.
  p.advance(1s);
  p.send_seg(a, tf::syn, a.snd_nxt, Seq{0}, {});
  const Seg ca = p.take_one();
  EXPECT_EQ(ca.flags(), ".");
  EXPECT_EQ(ca.ack(), a.snd_nxt);
  // Nothing of this touched the connections.
  EXPECT_EQ(p.state_of(a), TcpState::established);
  EXPECT_EQ(p.state_of(b), TcpState::established);
}

TEST(ChallengeAck, LimitIsAConfigurationValue) {
  TcpPeerOptions options;
  options.config.tcp.challenge_ack_limit = 2;
  TcpPeer p(options);
  Conn a = p.open(TcpState::established, Open::active);
  std::size_t acks = 0;
  for (int i = 0; i < 5; ++i) {
    p.send_seg(a, tf::syn, a.snd_nxt + 7, Seq{0}, {});
    acks += p.take().size();
  }
  EXPECT_EQ(acks, 2u);
}

TEST(ChallengeAck, InWindowRstWithDataAndAckIsChallengedToo) {
  // RFC 5961 3.2 looks only at the sequence number: RST+ACK with data is no different.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_seg(c, tf::rst | tf::ack, c.snd_nxt + 100, c.rcv_nxt, pattern(10));
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), ".");
  EXPECT_EQ(s.ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_TRUE(p.read(c.fd).data.empty());
}

TEST(ChallengeAck, RstAtRcvNxtResetsWhateverItsAck) {
  // The RST check ("second") comes before the ACK check ("fifth"): a RST+ACK at RCV.NXT with
  // an ACK of nothing sent still resets.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_seg(c, tf::rst | tf::ack, c.snd_nxt, c.stack_nxt + 5000, {});
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_EQ(p.read(c.fd).error, ECONNRESET);
}

TEST(ChallengeAck, SynAckInEstablishedIsChallenged) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::active);
  p.send_seg(c, tf::syn | tf::ack, c.peer_iss, c.rcv_nxt, {});
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), ".");
  EXPECT_EQ(s.seq(), c.stack_nxt);
  EXPECT_EQ(s.ack(), c.snd_nxt);
  EXPECT_EQ(p.state_of(c), TcpState::established);
}

TEST(ChallengeAck, ResetAtRcvNxtAfterChallengeResetsTheConnection) {
  // The exchange RFC 5961 3.2 expects from a genuine peer: its RST was off, the challenge
  // ACK tells it RCV.NXT, and its RST at exactly RCV.NXT then resets.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_seg(c, tf::rst, c.snd_nxt + 5, Seq{0}, {});
  const Seg challenge = p.take_one();
  p.send_seg(c, tf::rst, challenge.ack(), Seq{0}, {});
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_EQ(p.read(c.fd).error, ECONNRESET);
}

// ---------------------------------------------------------------------------------------------
// RFC 9293 3.10.7.4 "first": unacceptable segments are ACKed and dropped; "fifth": ACKs of
// data never sent and (RFC 5961 5.2) ACKs older than SND.UNA - MAX.SND.WND are ACKed and dropped.

TEST(Acceptance, DataAtTheRightEdgeIsAckedAndDropped) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  const std::uint32_t wnd = p.rcv_wnd(c);
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt + wnd, c.rcv_nxt, pattern(100));
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), ".");
  EXPECT_EQ(s.seq(), c.stack_nxt);
  EXPECT_EQ(s.ack(), c.snd_nxt);
  EXPECT_EQ(p.counter("tcp.out_of_window"), 1u);
  // Nothing kept for later either: the hole filled, the app sees only what was sent in order.
  const Bytes data = pattern(wnd > 1000 ? 1000 : wnd - 1);
  p.send_data(c, data);
  p.advance(1s);
  EXPECT_EQ(p.read(c.fd).data, data);
}

TEST(Acceptance, OldDuplicateDataIsAckedAndDropped) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  const Bytes first = pattern(300, 1);
  p.send_data(c, first);
  p.advance(1s);
  EXPECT_EQ(p.read(c.fd).data, first);
  p.take();
  // All of it again: entirely below RCV.NXT.
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt - 300, c.rcv_nxt, first);
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), ".");
  EXPECT_EQ(s.ack(), c.snd_nxt);
  EXPECT_TRUE(p.read(c.fd).data.empty());
}

TEST(Acceptance, OverlapOnTheLeftIsTrimmed) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::active);
  const Bytes all = pattern(200, 3);
  p.send_data(c, std::span(all).first(100));
  // 50 old bytes and 100 new ones.
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt - 50, c.rcv_nxt, std::span(all).subspan(50, 150));
  c.snd_nxt = c.snd_nxt + 100;
  p.run_for(1s);
  const auto segs = p.take();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().ack(), c.snd_nxt);
  EXPECT_EQ(p.read(c.fd).data, all);
}

TEST(Acceptance, DataBeyondTheWindowIsTrimmedAndAcked) {
  TcpPeerOptions options;
  options.config.tcp.default_receive_buffer = 1000;
  TcpPeer p(options);
  SynOptions o;
  o.wscale = std::nullopt;  // the window in bytes, unscaled
  Conn c = p.open(TcpState::established, Open::passive, o);
  ASSERT_EQ(p.rcv_wnd(c), 1000u);
  const Bytes data = pattern(1400, 4);
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt, c.rcv_nxt, data);
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), ".");
  EXPECT_EQ(s.ack(), c.snd_nxt + 1000) << "only the window's worth is taken";
  EXPECT_EQ(s.h.window, 0u) << "and the window is full";
  EXPECT_EQ(p.counter("tcp.trimmed"), 1u);
  EXPECT_EQ(p.read(c.fd).data, Bytes(data.begin(), data.begin() + 1000));
}

TEST(Acceptance, FinBeyondTheWindowIsNotProcessed) {
  TcpPeerOptions options;
  options.config.tcp.default_receive_buffer = 1000;
  TcpPeer p(options);
  SynOptions o;
  o.wscale = std::nullopt;
  Conn c = p.open(TcpState::established, Open::passive, o);
  p.send_seg(c, tf::ack | tf::fin, c.snd_nxt, c.rcv_nxt, pattern(1200));
  const Seg s = p.take_one();
  EXPECT_EQ(s.ack(), c.snd_nxt + 1000);
  EXPECT_EQ(p.state_of(c), TcpState::established) << "the FIN lay beyond the window";
}

TEST(Acceptance, AckOfDataNeverSentIsAckedAndDropped) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  // Data with an ACK one above SND.NXT: "send an ACK, drop the segment, and return".
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt, c.stack_nxt + 1, pattern(100));
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), ".");
  EXPECT_EQ(s.seq(), c.stack_nxt);
  EXPECT_EQ(s.ack(), c.snd_nxt) << "the data was dropped";
  EXPECT_EQ(p.counter("tcp.ack_too_new"), 1u);
  EXPECT_TRUE(p.read(c.fd).data.empty());
  EXPECT_EQ(p.state_of(c), TcpState::established);
}

TEST(Acceptance, AckFarAboveSndNxtInEveryState) {
  for (TcpState st : {TcpState::established, TcpState::fin_wait_1, TcpState::close_wait,
                      TcpState::closing, TcpState::last_ack}) {
    SCOPED_TRACE(tcp::state_name(st));
    TcpPeer p;
    Conn c = p.open(st, Open::passive);
    p.send_seg(c, tf::ack, c.snd_nxt, c.stack_nxt + 100000, {});
    const Seg s = p.take_one();
    EXPECT_EQ(s.flags(), ".");
    EXPECT_EQ(s.ack(), c.snd_nxt);
    EXPECT_EQ(p.state_of(c), st) << "an ACK of what was never sent moves nothing";
  }
}

// The stack sends `n` bytes to the peer, which acknowledges them all.
void send_and_ack(TcpPeer& p, Conn& c, std::size_t n) {
  const Bytes data = pattern(n, 9);
  std::size_t written = 0;
  Bytes got;
  for (int i = 0; i < 1000 && got.size() < n; ++i) {
    if (written < n) {
      const ssize_t w = p.write(c.fd, std::span(data).subspan(written));
      if (w > 0) written += static_cast<std::size_t>(w);
    }
    auto more = p.receive_all(c, std::min<std::size_t>(n - got.size(), 1 << 16), 5s);
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got, data);
  p.run_for(1s);
  p.take();
}

TEST(Acceptance, AckBelowSndUnaMinusMaxSndWndIsDroppedWithAnAck) {
  // RFC 5961 5.2: acceptable only if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT. A peer window
  // of 100000 bytes (50000 << 1); the stack sends more than that.
  TcpPeer p;
  SynOptions o;
  o.wscale = 1;
  o.window = 50000;
  Conn c = p.open(TcpState::established, Open::passive, o);
  send_and_ack(p, c, 150000);
  const tcp::TcpSocket* s = p.socket_of(c);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->tcb.max_snd_wnd, 100000u);
  const Seq una = s->tcb.snd_una;
  ASSERT_EQ(una, c.rcv_nxt);

  // At the limit: an old duplicate ACK, acceptable; its data is taken.
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt, una - 100000, pattern(10, 1));
  c.snd_nxt = c.snd_nxt + 10;
  EXPECT_EQ(p.read(c.fd).data, pattern(10, 1));
  p.run_for(1s);
  p.take();
  EXPECT_EQ(p.counter("tcp.ack_too_old"), 0u);

  // One below: dropped, data and all, with an ACK.
  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt, una - 100001, pattern(10, 2));
  const Seg reply = p.take_one();
  EXPECT_EQ(reply.flags(), ".");
  EXPECT_EQ(reply.seq(), c.stack_nxt);
  EXPECT_EQ(reply.ack(), c.snd_nxt);
  EXPECT_EQ(p.counter("tcp.ack_too_old"), 1u);
  EXPECT_TRUE(p.read(c.fd).data.empty());
}

TEST(Acceptance, AckBelowSndUnaMinusMaxSndWndWithASmallWindow) {
  // The same rule with a peer window of 1000 bytes: MAX.SND.WND is 1000, not some floor.
  TcpPeer p;
  SynOptions o;
  o.wscale = std::nullopt;
  o.window = 1000;
  Conn c = p.open(TcpState::established, Open::passive, o);
  send_and_ack(p, c, 5000);
  const tcp::TcpSocket* s = p.socket_of(c);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->tcb.max_snd_wnd, 1000u);
  const Seq una = s->tcb.snd_una;

  p.send_seg(c, tf::ack | tf::psh, c.snd_nxt, una - 1001, pattern(10, 2));
  const auto segs = p.take();
  ASSERT_EQ(segs.size(), 1u) << "an ACK older than SND.UNA - MAX.SND.WND earns an ACK:"
                             << describe(segs);
  EXPECT_EQ(segs[0].ack(), c.snd_nxt) << "and its data is dropped";
  EXPECT_EQ(p.counter("tcp.ack_too_old"), 1u);
  EXPECT_TRUE(p.read(c.fd).data.empty());
}

TEST(Acceptance, SegmentWithoutAckIsDropped) {
  // "fifth, check the ACK field: if the ACK bit is off, drop the segment and return".
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_seg(c, tf::psh, c.snd_nxt, Seq{0}, pattern(50));
  p.run_for(1s);
  EXPECT_TRUE(p.take().empty());
  EXPECT_EQ(p.counter("tcp.no_ack"), 1u);
  EXPECT_TRUE(p.read(c.fd).data.empty());
}

TEST(Acceptance, SegmentsAcrossTheSequenceWrap) {
  // The peer's sequence numbers cross 2^32 in the middle of the data.
  TcpPeer p;
  SynOptions o;
  o.iss = Seq{0xffffffffu - 150};
  Conn c = p.open(TcpState::established, Open::passive, o);
  Bytes all;
  for (std::uint32_t i = 0; i < 4; ++i) {
    const Bytes part = pattern(100, i);
    p.send_data(c, part);
    all.insert(all.end(), part.begin(), part.end());
  }
  p.run_for(1s);
  const auto segs = p.take();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().ack(), c.snd_nxt);
  EXPECT_LT(c.snd_nxt.raw(), 1000u) << "the data crossed the wrap";
  EXPECT_EQ(p.read(c.fd).data, all);
}

}  // namespace
}  // namespace ustack::test
