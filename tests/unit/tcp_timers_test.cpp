// TCP timers under a ManualClock, each checked to the tick: retransmission (RFC 6298 backoff,
// Karn, the give-up limits of RFC 9293 MUST-23 and SHLD-11), the zero-window probe (MUST-35/36/37,
// SHLD-29/30), keepalive (3.8.4, MUST-25..29), TIME-WAIT (MUST-13), the delayed ACK (MUST-40,
// SHLD-19), Nagle (SHLD-7, MUST-17) and PSH (MUST-61).
#include <gtest/gtest.h>

#include <vector>

#include "support/tcp_peer.h"

namespace ustack::test {
namespace {

// Runs the timers until the connection has gone (or `limit` passed); returns when it went.
std::optional<Instant> run_until_gone(TcpPeer& p, const Conn& c, Duration limit) {
  const Instant end = p.now() + limit;
  for (int i = 0; i < 100000; ++i) {
    if (!p.state_of(c)) return p.now();
    if (!p.run_to_next_event(end)) return p.state_of(c) ? std::nullopt : std::optional(p.now());
  }
  return std::nullopt;
}

Duration rto_after(int backoffs, Duration base, Duration cap = 120s) {
  Duration d = base;
  for (int i = 0; i < backoffs; ++i) d = std::min(d * 2, cap);
  return std::min(d, cap);
}

// ---------------------------------------------------------------------------------------------
// Retransmission

TEST(Retransmission, BackoffFromTheInitialRto) {
  // No RTT sample yet: 1 s, doubling (RFC 6298 2.1, 5.5). The SYN-ACK was retransmitted, so
  // Karn's algorithm takes no sample from the handshake.
  TcpPeer p;
  Conn c = p.syn_received();
  const Instant t0 = p.now();
  const auto again = p.wait_segment(5s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->flags(), "S.");
  EXPECT_EQ(again->at - t0, 1s);
  p.send_ack(c);
  c.fd = p.accept(c.listen_fd);
  ASSERT_GE(c.fd, 0);

  ASSERT_EQ(p.write(c.fd, pattern(100)), 100);
  const Seg first = p.take_one();
  Instant last = first.at;
  for (int k = 0; k < 5; ++k) {
    SCOPED_TRACE(k);
    const auto r = p.wait_segment(100s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->seq(), first.seq());
    EXPECT_EQ(r->len(), 100u);
    EXPECT_EQ(r->data, first.data);
    EXPECT_EQ(r->at - last, Duration(1s) * (1 << k)) << "1 s, 2 s, 4 s, 8 s, 16 s";
    last = r->at;
  }
  EXPECT_EQ(p.counter("tcp.rto"), 5u);
  // The ACK ends it: no more retransmissions.
  p.take_data(c, first);
  p.send_ack(c);
  EXPECT_FALSE(p.wait_segment(300s).has_value());
  EXPECT_EQ(p.state_of(c), TcpState::established);
}

struct RttCase {
  Duration rtt;
  Duration rto;  // RFC 6298 2.2: SRTT + max(G, 4 RTTVAR) = 3 RTT for the first sample; >= 200 ms
};

class RetransmissionFromRtt : public ::testing::TestWithParam<RttCase> {};

TEST_P(RetransmissionFromRtt, BackoffFromTheMeasuredRto) {
  const RttCase& rc = GetParam();
  TcpPeer p;
  Conn c = p.syn_received();
  p.advance(rc.rtt);  // the ACK of the SYN-ACK after one RTT
  p.send_ack(c);
  c.fd = p.accept(c.listen_fd);
  ASSERT_GE(c.fd, 0);
  ASSERT_EQ(p.write(c.fd, pattern(100)), 100);
  const Seg first = p.take_one();
  Instant last = first.at;
  for (int k = 0; k < 5; ++k) {
    SCOPED_TRACE(k);
    const auto r = p.wait_segment(100s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->seq(), first.seq());
    EXPECT_EQ(r->at - last, rc.rto * (1 << k));
    last = r->at;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rtts, RetransmissionFromRtt,
    ::testing::Values(RttCase{10ms, 200ms}, RttCase{100ms, 300ms}, RttCase{500ms, 1500ms}),
    [](const ::testing::TestParamInfo<RttCase>& param) {
      return fmt::format(
          "rtt_{}ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(param.param.rtt).count());
    });

TEST(Retransmission, GivesUpWithEtimedout) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.write(c.fd, pattern(100)), 100);
  const Seg first = p.take_one();
  const std::uint32_t limit = p.stack().tcp().config().data_retries;
  std::uint32_t retransmits = 0;
  for (std::uint32_t i = 0; i < limit + 5; ++i) {
    const auto r = p.wait_segment(1000s);
    if (!r) break;
    EXPECT_EQ(r->seq(), first.seq());
    EXPECT_FALSE(r->has(tf::rst));
    ++retransmits;
  }
  EXPECT_EQ(retransmits, limit);
  EXPECT_GE(retransmits, 3u) << "R1: at least 3 retransmissions";
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_GE(p.now() - first.at, 100s) << "R2 (SHLD-11): at least 100 s";
  EXPECT_EQ(p.read(c.fd).error, ETIMEDOUT);
  EXPECT_EQ(p.counter("tcp.timeout"), 1u);
}

TEST(Retransmission, AfterATimeoutEverythingIsSentAgainWithTheFin) {
  // Go-back-N (RFC 6298 5.4 and on): the whole first flight and the FIN are lost; the data
  // and then the FIN arrive again, in order.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
  const Bytes data = pattern(6000, 2);
  ASSERT_EQ(p.write(c.fd, data), 6000);
  ASSERT_EQ(p.api().shutdown(c.fd, SHUT_WR), 0);
  const auto lost = p.take();
  ASSERT_FALSE(lost.empty());
  EXPECT_TRUE(lost.back().has(tf::fin));
  EXPECT_EQ(p.receive_all(c, data.size(), 120s), data);
  // The FIN came again too (on the last data segment or after it).
  if (!c.stack_fin || c.rcv_nxt != *c.stack_fin + 1) {
    const auto fin = p.wait_segment(60s);
    ASSERT_TRUE(fin.has_value());
    EXPECT_TRUE(fin->has(tf::fin));
    p.note(c, *fin);
    c.rcv_nxt = fin->end();
    p.send_ack(c);
  }
  ASSERT_TRUE(c.stack_fin.has_value());
  EXPECT_EQ(*c.stack_fin, lost.back().seq() + static_cast<std::uint32_t>(lost.back().data.size()));
  EXPECT_EQ(p.state_of(c), TcpState::fin_wait_2);
}

TEST(Retransmission, FinIsRetransmitted) {
  for (TcpState st : {TcpState::fin_wait_1, TcpState::last_ack, TcpState::closing}) {
    SCOPED_TRACE(tcp::state_name(st));
    TcpPeer p;
    Conn c = p.open(st, Open::active);
    const Seq fin = *c.stack_fin;
    const auto r = p.wait_segment(10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->has(tf::fin));
    EXPECT_EQ(r->seq(), fin);
    EXPECT_EQ(p.state_of(c), st);
  }
}

TEST(Retransmission, SynScheduleAndTimeout) {
  // RFC 9293 MUST-23: at least 3 minutes of SYN retransmissions; then ETIMEDOUT.
  TcpPeer p;
  Conn c = p.syn_sent();
  const Instant t0 = p.now();
  const std::uint32_t retries = p.stack().tcp().config().syn_retries;
  Instant last = t0;
  for (std::uint32_t k = 0; k < retries; ++k) {
    SCOPED_TRACE(k);
    const auto r = p.wait_segment(300s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->flags(), "S");
    EXPECT_EQ(r->seq(), c.stack_iss);
    EXPECT_EQ(r->at - last, rto_after(static_cast<int>(k), 1s));
    last = r->at;
  }
  const auto gone = run_until_gone(p, c, 600s);
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(*gone - last, rto_after(static_cast<int>(retries), 1s));
  EXPECT_GE(*gone - t0, 180s);
  EXPECT_TRUE(p.take().empty());
  const sockaddr_in to = inet(c.remote.address, c.remote.port);
  EXPECT_EQ(p.api().connect(c.fd, sa(to), sizeof to), -1);
  EXPECT_EQ(errno, ETIMEDOUT);
}

TEST(Retransmission, SynAckScheduleAndGiveUp) {
  TcpPeer p;
  Conn c = p.syn_received();
  const Instant t0 = p.now();
  const std::uint32_t retries = p.stack().tcp().config().synack_retries;
  Instant last = t0;
  for (std::uint32_t k = 0; k < retries; ++k) {
    SCOPED_TRACE(k);
    const auto r = p.wait_segment(300s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->flags(), "S.");
    EXPECT_EQ(r->seq(), c.stack_iss);
    EXPECT_EQ(r->at - last, rto_after(static_cast<int>(k), 1s));
    last = r->at;
  }
  const auto gone = run_until_gone(p, c, 600s);
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(*gone - last, rto_after(static_cast<int>(retries), 1s));
  EXPECT_TRUE(p.take().empty());
  // The listener is unaffected.
  Conn again = p.open(TcpState::established, Open::passive);
  EXPECT_EQ(p.state_of(again), TcpState::established);
}

TEST(Retransmission, AckOfPartOfTheDataRestartsTheTimer) {
  // RFC 6298 5.3: an ACK of new data restarts the timer for what is left.
  TcpPeer p;
  SynOptions o;
  o.mss = 1000;
  Conn c = p.open(TcpState::established, Open::passive, o);
  ASSERT_EQ(p.write(c.fd, pattern(2000)), 2000);
  auto segs = p.take();
  ASSERT_EQ(segs.size(), 2u);
  const Duration rto = 200ms;  // RTT 0 in the handshake: the minimum
  p.advance(150ms);
  p.take_data(c, segs[0]);
  p.send_ack(c);
  const auto r = p.wait_segment(10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->seq(), segs[1].seq());
  EXPECT_EQ(r->at - segs[0].at, 150ms + rto);
}

TEST(SenderSws, WindowBelowHalfTheLargestStillMakesProgress) {
  // MUST-38, RFC 9293 3.8.6.2.1: a short segment is sent when "the override timeout occurs"
  // (0.1-1 s). The peer once offered 65535 bytes and now offers 1000 (not zero, so no
  // zero-window probe either): the data must still flow.
  TcpPeer p;
  SynOptions o;
  o.wscale = std::nullopt;
  Conn c = p.open(TcpState::established, Open::passive, o);
  c.window = 1000;
  p.send_ack(c);
  ASSERT_EQ(p.write(c.fd, pattern(5000, 3)), 5000);
  EXPECT_EQ(p.receive_all(c, 5000, 60s), pattern(5000, 3)) << "the sender stalled";
}

// ---------------------------------------------------------------------------------------------
// Zero-window probes (RFC 9293 3.8.6.1)

bool is_probe(const Seg& s, Seq una) {
  // Either one byte of new data at SND.UNA (the RFC's probe) or an empty segment at SND.UNA-1
  // (Linux's): both make the peer answer with an ACK.
  return s.has(tf::ack) && !s.has(tf::syn) && !s.has(tf::fin) && !s.has(tf::rst) &&
         ((s.seq() == una && s.data.size() == 1) || (s.seq() == una - 1 && s.data.empty()));
}

struct ZeroWindow {
  TcpPeer p;
  Conn c;
  Bytes waiting = pattern(200, 5);

  ZeroWindow() {
    SynOptions o;
    o.wscale = std::nullopt;
    c = p.open(TcpState::established, Open::passive, o);
    EXPECT_EQ(p.write(c.fd, pattern(100)), 100);
    const Seg d = p.take_one();
    p.take_data(c, d);
    p.note(c, d);
    p.send_ack(c, 0);  // everything acknowledged, window closed
    EXPECT_EQ(p.write(c.fd, waiting), 200);
    EXPECT_TRUE(p.take().empty()) << "nothing may go into a closed window";
  }
};

TEST(ZeroWindowProbe, ProbesBackOffAndAnsweredProbesKeepTheConnectionForever) {
  ZeroWindow z;
  TcpPeer& p = z.p;
  Conn& c = z.c;
  Instant last = p.now();
  Duration previous{0};
  // 40 probes, all answered with a zero window: hours pass, the connection lives (MUST-37).
  for (int k = 0; k < 40; ++k) {
    SCOPED_TRACE(k);
    const auto probe = p.wait_segment(1000s);
    ASSERT_TRUE(probe.has_value());
    EXPECT_TRUE(is_probe(*probe, c.rcv_nxt)) << fmt::format("{}", probe->h);
    const Duration interval = probe->at - last;
    if (k == 0) {
      EXPECT_GE(interval, 200ms) << "the first probe after an RTO (SHLD-29)";
    } else {
      EXPECT_EQ(interval, std::min<Duration>(previous * 2, 120s)) << "backing off (SHLD-30)";
    }
    previous = interval;
    last = probe->at;
    p.send_ack(c, 0);
    EXPECT_TRUE(p.take().empty());
  }
  EXPECT_GE(previous, 120s) << "the backoff reached its cap";
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_GE(p.counter("tcp.window_probes"), 40u);
  // The window opens: the data goes at once.
  p.send_ack(c, 65535);
  const Seg d = p.take_one();
  EXPECT_EQ(d.seq(), c.rcv_nxt);
  EXPECT_EQ(d.data, z.waiting);
}

TEST(ZeroWindowProbe, WindowOpeningInTheProbeAnswerResumesData) {
  ZeroWindow z;
  const auto probe = z.p.wait_segment(10s);
  ASSERT_TRUE(probe.has_value());
  // The probe's answer carries the open window.
  z.p.send_ack(z.c, 1000);
  Bytes got;
  for (const Seg& s : z.p.take()) got.insert(got.end(), s.data.begin(), s.data.end());
  // A 1-byte probe may already have carried the first byte.
  if (probe->data.size() == 1) got.insert(got.begin(), probe->data.begin(), probe->data.end());
  EXPECT_EQ(got, z.waiting);
}

TEST(ZeroWindowProbe, ZeroWindowInTheSynAck) {
  // The peer's SYN-ACK offers no window at all: nothing may be sent but probes.
  TcpPeer p;
  SynOptions o;
  o.window = 0;
  Conn c = p.open(TcpState::established, Open::active, o);
  ASSERT_EQ(p.write(c.fd, pattern(100)), 100);
  EXPECT_TRUE(p.take().empty());
  const auto probe = p.wait_segment(10s);
  ASSERT_TRUE(probe.has_value());
  EXPECT_TRUE(is_probe(*probe, c.rcv_nxt)) << fmt::format("{}", probe->h);
  c.window = 65535;
  p.send_ack(c);
  Bytes got;
  if (probe->data.size() == 1) got = probe->data;
  for (const Seg& s : p.take()) got.insert(got.end(), s.data.begin(), s.data.end());
  EXPECT_EQ(got, pattern(100));
}

TEST(ZeroWindowProbe, UnansweredProbesTimeOut) {
  ZeroWindow z;
  const std::uint32_t limit = z.p.stack().tcp().config().data_retries;
  std::uint32_t probes = 0;
  for (std::uint32_t i = 0; i < limit + 5; ++i) {
    if (!z.p.wait_segment(1000s)) break;
    ++probes;
  }
  EXPECT_EQ(probes, limit);
  EXPECT_EQ(z.p.state_of(z.c), std::nullopt);
  EXPECT_EQ(z.p.write(z.c.fd, pattern(1)), -1);
  EXPECT_EQ(errno, ETIMEDOUT);
}

// ---------------------------------------------------------------------------------------------
// Keepalive (RFC 9293 3.8.4)

bool is_keepalive(const Seg& s, Seq una) {
  return s.flags() == "." && s.seq() == una - 1 && s.data.size() <= 1;
}

TEST(Keepalive, OffByDefault) {
  // MUST-25.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  EXPECT_FALSE(p.wait_segment(std::chrono::hours(5)).has_value());
  EXPECT_EQ(p.state_of(c), TcpState::established);
  int v = -1;
  socklen_t len = sizeof v;
  ASSERT_EQ(p.api().getsockopt(c.fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
  EXPECT_EQ(v, 0);
}

TEST(Keepalive, DefaultIdleIsTwoHours) {
  // MUST-28: the default interval is no less than two hours.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  const Instant t0 = p.now();
  ASSERT_EQ(p.set_int(c.fd, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
  const auto probe = p.wait_segment(std::chrono::hours(3));
  ASSERT_TRUE(probe.has_value());
  EXPECT_TRUE(is_keepalive(*probe, c.rcv_nxt)) << fmt::format("{}", probe->h);
  EXPECT_EQ(probe->at - t0, std::chrono::hours(2));
}

struct KeepaliveTuned : public ::testing::Test {
  TcpPeer p;
  Conn c;
  Instant t0;
  void SetUp() override {
    c = p.open(TcpState::established, Open::active);
    t0 = p.now();
    ASSERT_EQ(p.set_int(c.fd, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
    ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_KEEPIDLE, 10), 0);
    ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_KEEPINTVL, 5), 0);
    ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_KEEPCNT, 3), 0);
  }
};

TEST_F(KeepaliveTuned, AnsweredProbesKeepItAlive) {
  Instant last_answer = t0;
  for (int k = 0; k < 5; ++k) {
    SCOPED_TRACE(k);
    const auto probe = p.wait_segment(60s);
    ASSERT_TRUE(probe.has_value());
    EXPECT_TRUE(is_keepalive(*probe, c.rcv_nxt)) << fmt::format("{}", probe->h);
    EXPECT_EQ(probe->at - last_answer, 10s) << "idle time after the last segment received";
    p.advance(1s);
    p.send_ack(c);
    last_answer = p.now();
  }
  EXPECT_EQ(p.state_of(c), TcpState::established);
  EXPECT_EQ(p.counter("tcp.keepalive_probes"), 5u);
}

TEST_F(KeepaliveTuned, UnansweredProbesTimeOut) {
  std::vector<Instant> at;
  for (int k = 0; k < 10; ++k) {
    const auto probe = p.wait_segment(60s);
    if (!probe) break;
    EXPECT_TRUE(is_keepalive(*probe, c.rcv_nxt));
    at.push_back(probe->at);
  }
  ASSERT_EQ(at.size(), 3u) << "TCP_KEEPCNT probes";
  EXPECT_EQ(at[0] - t0, 10s);
  EXPECT_EQ(at[1] - at[0], 5s);
  EXPECT_EQ(at[2] - at[1], 5s);
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_EQ(p.read(c.fd).error, ETIMEDOUT);
}

TEST_F(KeepaliveTuned, OneLostProbeIsNotDeath) {
  // MUST-29: the second probe is answered; the count starts again.
  ASSERT_TRUE(p.wait_segment(60s).has_value());
  ASSERT_TRUE(p.wait_segment(60s).has_value());
  p.send_ack(c);
  const Instant answered = p.now();
  const auto next = p.wait_segment(60s);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->at - answered, 10s);
  EXPECT_EQ(p.state_of(c), TcpState::established);
}

TEST_F(KeepaliveTuned, TrafficDefersTheProbe) {
  // MUST-26: only when idle.
  p.advance(8s);
  p.send_data(c, pattern(10));
  const Instant data_at = p.now();
  auto s = p.wait_segment(60s);
  ASSERT_TRUE(s.has_value());
  if (s->ack() == c.snd_nxt && s->seq() == c.rcv_nxt) s = p.wait_segment(60s);  // the ACK
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(is_keepalive(*s, c.rcv_nxt)) << fmt::format("{}", s->h);
  EXPECT_EQ(s->at - data_at, 10s);
}

// ---------------------------------------------------------------------------------------------
// TIME-WAIT (MUST-13) and FIN-WAIT-2

TEST(TimeWait, LastsExactlyTwoMsl) {
  TcpPeer p;
  Conn c = p.open(TcpState::time_wait, Open::active);
  const Duration two_msl = 2 * p.stack().tcp().config().msl;
  p.advance(two_msl - 1ms);
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
  p.advance(1ms);
  EXPECT_EQ(p.state_of(c), std::nullopt);
  EXPECT_TRUE(p.take().empty()) << "TIME-WAIT ends silently";
}

TEST(TimeWait, ConfiguredMsl) {
  TcpPeerOptions options;
  options.config.tcp.msl = 1s;
  TcpPeer p(options);
  Conn c = p.open(TcpState::time_wait, Open::passive);
  p.advance(1999ms);
  EXPECT_EQ(p.state_of(c), TcpState::time_wait);
  p.advance(1ms);
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(TimeWait, RetransmittedFinRestartsIt) {
  TcpPeer p;
  Conn c = p.open(TcpState::time_wait, Open::active);
  const Duration two_msl = 2 * p.stack().tcp().config().msl;
  p.advance(two_msl / 2);
  // The peer lost our ACK and sends its FIN again.
  p.send_seg(c, tf::fin | tf::ack, *c.peer_fin, c.rcv_nxt, {});
  const Seg a = p.take_one();
  EXPECT_EQ(a.flags(), ".");
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(a.seq(), c.stack_nxt);
  p.advance(two_msl - 1ms);
  EXPECT_EQ(p.state_of(c), TcpState::time_wait) << "2 MSL from the retransmitted FIN";
  p.advance(1ms);
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(TimeWait, StraySegmentsAreAckedAndDoNotExtendIt) {
  TcpPeer p;
  Conn c = p.open(TcpState::time_wait, Open::passive);
  const Duration two_msl = 2 * p.stack().tcp().config().msl;
  p.advance(10s);
  p.send_ack(c);  // an ACK at RCV.NXT: nothing to do
  p.take();
  p.advance(two_msl - 10s);
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(FinWait2, OrphanTimesOut) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.api().close(c.fd), 0);
  const Seg fin = p.take_one();
  c.rcv_nxt = fin.end();
  p.send_ack(c);
  ASSERT_EQ(p.state_of(c), TcpState::fin_wait_2);
  const Duration limit = p.stack().tcp().config().orphan_fin_wait_2;
  p.advance(limit - 1ms);
  EXPECT_EQ(p.state_of(c), TcpState::fin_wait_2);
  p.advance(1ms);
  EXPECT_EQ(p.state_of(c), std::nullopt);
}

TEST(FinWait2, HalfClosedSocketWaitsForThePeer) {
  // With the socket still open (shutdown, not close), FIN-WAIT-2 has no limit.
  TcpPeer p;
  Conn c = p.open(TcpState::fin_wait_2, Open::passive);
  EXPECT_FALSE(p.wait_segment(std::chrono::hours(1)).has_value());
  EXPECT_EQ(p.state_of(c), TcpState::fin_wait_2);
}

// ---------------------------------------------------------------------------------------------
// Delayed ACK (RFC 9293 3.8.6.3)

TEST(DelayedAck, SmallSegmentIsAckedAfter40ms) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_data(c, pattern(100));
  EXPECT_TRUE(p.take().empty());
  p.advance(39ms);
  EXPECT_TRUE(p.take().empty());
  p.advance(1ms);
  const Seg a = p.take_one();
  EXPECT_EQ(a.flags(), ".");
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_LT(a.at - (p.now() - 1ms - 39ms), 500ms) << "MUST-40";
  EXPECT_EQ(p.counter("tcp.delayed_acks"), 1u);
}

TEST(DelayedAck, EverySecondFullSegmentIsAckedAtOnce) {
  // SHLD-19.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_data(c, pattern(1460, 1));
  EXPECT_TRUE(p.take().empty());
  p.send_data(c, pattern(1460, 2));
  Seg a = p.take_one();
  EXPECT_EQ(a.ack(), c.snd_nxt);
  p.send_data(c, pattern(1460, 3));
  EXPECT_TRUE(p.take().empty());
  p.send_data(c, pattern(1460, 4));
  a = p.take_one();
  EXPECT_EQ(a.ack(), c.snd_nxt);
  EXPECT_EQ(p.read(c.fd).data.size(), 4 * 1460u);
}

TEST(DelayedAck, DataFromTheAppCarriesThePendingAck) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  p.send_data(c, pattern(100));
  EXPECT_TRUE(p.take().empty());
  ASSERT_EQ(p.write(c.fd, pattern(50)), 50);
  const Seg d = p.take_one();
  EXPECT_EQ(d.len(), 50u);
  EXPECT_EQ(d.ack(), c.snd_nxt) << "the ACK rides on the data";
  p.advance(100ms);
  EXPECT_TRUE(p.take().empty()) << "and the delayed ACK is off";
}

// ---------------------------------------------------------------------------------------------
// Nagle (RFC 9293 3.7.4) and PSH

TEST(Nagle, SecondSmallSegmentWaitsForTheAck) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.write(c.fd, pattern(100, 1)), 100);
  const Seg a = p.take_one();
  EXPECT_EQ(a.len(), 100u);
  ASSERT_EQ(p.write(c.fd, pattern(100, 2)), 100);
  ASSERT_EQ(p.write(c.fd, pattern(100, 3)), 100);
  EXPECT_TRUE(p.take().empty()) << "held while a small segment is unacknowledged";
  p.take_data(c, a);
  p.send_ack(c);
  const Seg b = p.take_one();
  EXPECT_EQ(b.seq(), a.end());
  EXPECT_EQ(b.data, concat(pattern(100, 2), pattern(100, 3)));
}

TEST(Nagle, NodelaySendsAtOnce) {
  // MUST-17: Nagle can be switched off.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
  for (std::uint32_t i = 0; i < 3; ++i) {
    ASSERT_EQ(p.write(c.fd, pattern(100, i)), 100);
    const Seg s = p.take_one();
    EXPECT_EQ(s.data, pattern(100, i));
  }
}

TEST(Nagle, NodelayPushesWhatWasHeld) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.write(c.fd, pattern(100, 1)), 100);
  p.take();
  ASSERT_EQ(p.write(c.fd, pattern(100, 2)), 100);
  EXPECT_TRUE(p.take().empty());
  ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
  const Seg s = p.take_one();
  EXPECT_EQ(s.data, pattern(100, 2));
}

TEST(Push, OnlyTheLastSegmentOfAWriteCarriesPsh) {
  // MUST-61.
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::passive);
  ASSERT_EQ(p.set_int(c.fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
  ASSERT_EQ(p.write(c.fd, pattern(3000)), 3000);
  const auto segs = p.take();
  ASSERT_EQ(segs.size(), 3u) << describe(segs);
  EXPECT_EQ(segs[0].len(), 1460u);
  EXPECT_EQ(segs[1].len(), 1460u);
  EXPECT_EQ(segs[2].len(), 80u);
  EXPECT_FALSE(segs[0].has(tf::psh));
  EXPECT_FALSE(segs[1].has(tf::psh));
  EXPECT_TRUE(segs[2].has(tf::psh));
}

TEST(Push, SmallWriteCarriesPsh) {
  TcpPeer p;
  Conn c = p.open(TcpState::established, Open::active);
  ASSERT_EQ(p.write(c.fd, pattern(10)), 10);
  const Seg s = p.take_one();
  EXPECT_EQ(s.flags(), "P.");
}

}  // namespace
}  // namespace ustack::test
