// CongestionControl: the initial window (RFC 6928), slow start with byte counting (RFC 5681 3.1,
// RFC 3465), NewReno congestion avoidance, the loss responses (RFC 5681 eq. 4, RFC 6582 full
// ACK, RFC 9438 4.6-4.8), and CUBIC's window curve over simulated time (RFC 9438 4.2-4.5):
// concave up to W_max, reaching it at t = K, convex beyond, the Reno-friendly region at low RTT,
// fast convergence, and the 1.5x-per-RTT bound. Time is plain Instants; no clock is involved.
#include "stack/tcp/congestion.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ustack::tcp {
namespace {

constexpr std::uint32_t kMss = 1460;
constexpr std::uint32_t kMaxWindow = 0x7fffffff;
constexpr std::uint32_t kU32Max = std::numeric_limits<std::uint32_t>::max();
constexpr Instant kStart = Instant{} + 5s;

constexpr std::uint32_t segs(std::uint32_t n) {
  return n * kMss;
}

double in_segments(const CongestionControl& cc) {
  return static_cast<double>(cc.cwnd()) / static_cast<double>(cc.smss());
}

// One RTT of a bulk transfer: the window at the start of the round comes back as SMSS-sized ACKs
// spread evenly over `rtt`, each reporting srtt = rtt. Leaves `now` one RTT later.
void ack_one_round(CongestionControl& cc, Instant& now, Duration rtt) {
  const Instant start = now;
  const std::uint32_t window = cc.cwnd();
  const std::uint32_t mss = cc.smss();
  const std::uint32_t acks = (window + mss - 1) / mss;
  std::uint32_t left = window;
  for (std::uint32_t i = 1; i <= acks; ++i) {
    const std::uint32_t chunk = std::min(left, mss);
    left -= chunk;
    now = start + rtt * i / acks;
    cc.on_ack(chunk, now, rtt);
  }
  now = start + rtt;
}

// Runs `rounds` RTTs and returns cwnd in segments after each (index 0: before the first).
std::vector<double> run_rounds(CongestionControl& cc, Instant& now, Duration rtt, int rounds) {
  std::vector<double> w{in_segments(cc)};
  for (int r = 0; r < rounds; ++r) {
    ack_one_round(cc, now, rtt);
    w.push_back(in_segments(cc));
  }
  return w;
}

// A connection that detected a loss with `w` segments in flight and has just completed recovery:
// cwnd = ssthresh = beta * w, in congestion avoidance.
CongestionControl after_loss(CongestionAlgorithm a, std::uint32_t w, Instant now) {
  CongestionControl cc(a, kMss);
  cc.set_cwnd(segs(w));
  cc.on_enter_recovery(segs(w), now);
  cc.on_exit_recovery(cc.cwnd());
  return cc;
}

// W_cubic(t) of RFC 9438 eq. 1, in segments, as a reference.
double w_cubic(double t, double w_max, double cwnd_epoch) {
  const double k = std::cbrt((w_max - cwnd_epoch) / 0.4);
  return 0.4 * std::pow(t - k, 3) + w_max;
}

// ---- Both algorithms --------------------------------------------------------------------------

class BothAlgorithms : public ::testing::TestWithParam<CongestionAlgorithm> {};

INSTANTIATE_TEST_SUITE_P(Algorithms, BothAlgorithms,
                         ::testing::Values(CongestionAlgorithm::new_reno,
                                           CongestionAlgorithm::cubic),
                         [](const ::testing::TestParamInfo<CongestionAlgorithm>& param) {
                           return std::string(congestion_algorithm_name(param.param));
                         });

TEST(Congestion, AlgorithmNames) {
  EXPECT_EQ(congestion_algorithm_name(CongestionAlgorithm::new_reno), "newreno");
  EXPECT_EQ(congestion_algorithm_name(CongestionAlgorithm::cubic), "cubic");
}

TEST_P(BothAlgorithms, InitialWindowPerRfc6928) {
  // min(10 SMSS, max(2 SMSS, 14600))
  struct Case {
    std::uint32_t smss, iw;
  };
  for (Case c : {Case{536, 5360}, Case{1000, 10000}, Case{1460, 14600}, Case{4000, 14600},
                 Case{8960, 17920}, Case{65535, 131070}}) {
    CongestionControl cc(GetParam(), c.smss);
    EXPECT_EQ(cc.algorithm(), GetParam());
    EXPECT_EQ(cc.smss(), c.smss);
    EXPECT_EQ(cc.cwnd(), c.iw) << "smss " << c.smss;
    EXPECT_EQ(cc.ssthresh(), kMaxWindow);
    EXPECT_TRUE(cc.in_slow_start());
  }
}

TEST_P(BothAlgorithms, ZeroSmssIsTreatedAsOneByte) {
  CongestionControl cc(GetParam(), 0);
  EXPECT_EQ(cc.smss(), 1u);
  EXPECT_EQ(cc.cwnd(), 10u);
  cc.on_ack(100, kStart, 10ms);
  EXPECT_EQ(cc.cwnd(), 12u);  // ABC: at most 2 SMSS
  cc.set_smss(0);
  EXPECT_EQ(cc.smss(), 1u);
}

TEST_P(BothAlgorithms, SlowStartDoublesEachRtt) {
  CongestionControl cc(GetParam(), kMss);
  Instant now = kStart;
  const std::vector<double> w = run_rounds(cc, now, 100ms, 5);
  const std::vector<double> expected{10, 20, 40, 80, 160, 320};
  EXPECT_EQ(w, expected);
  EXPECT_TRUE(cc.in_slow_start());
}

TEST_P(BothAlgorithms, SlowStartWithDelayedAcksStillDoubles) {
  // One ACK per two segments: ABC's L = 2 SMSS lets each ACK count both (RFC 3465 2.3).
  CongestionControl cc(GetParam(), kMss);
  for (int round = 0; round < 3; ++round) {
    const std::uint32_t acks = cc.cwnd() / (2 * kMss);
    for (std::uint32_t i = 0; i < acks; ++i) cc.on_ack(2 * kMss, kStart, 100ms);
  }
  EXPECT_EQ(cc.cwnd(), segs(80));
}

TEST_P(BothAlgorithms, SlowStartGrowthPerAckIsLimitedToTwoSmss) {
  CongestionControl cc(GetParam(), kMss);
  cc.on_ack(segs(10), kStart, 100ms);  // a stretch ACK for the whole initial window
  EXPECT_EQ(cc.cwnd(), segs(12));
  cc.on_ack(3 * kMss - 1, kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(14));
}

TEST_P(BothAlgorithms, SlowStartCountsBytesNotAcks) {
  CongestionControl cc(GetParam(), kMss);
  cc.on_ack(100, kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(10) + 100);
  cc.on_ack(0, kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(10) + 100);
}

TEST_P(BothAlgorithms, SlowStartStopsAtSsthresh) {
  CongestionControl cc(GetParam(), kMss);
  cc.set_cwnd(segs(40));
  cc.on_timeout(segs(40), kStart);
  EXPECT_EQ(cc.cwnd(), kMss);
  const std::uint32_t ssthresh = cc.ssthresh();
  Instant now = kStart;
  std::vector<double> w = run_rounds(cc, now, 100ms, 4);
  EXPECT_EQ(w, (std::vector<double>{1, 2, 4, 8, 16}));
  EXPECT_TRUE(cc.in_slow_start());
  ack_one_round(cc, now, 100ms);
  // 16 segments acknowledged: slow start fills up to ssthresh and the rest only counts toward
  // congestion avoidance, which adds at most one segment.
  EXPECT_FALSE(cc.in_slow_start());
  EXPECT_GE(cc.cwnd(), ssthresh);
  EXPECT_LE(cc.cwnd(), ssthresh + kMss);
}

TEST_P(BothAlgorithms, ExitRecoveryPerRfc6582FullAck) {
  // ssthresh = 50 segments for NewReno and 70 for CUBIC after a loss at 100 in flight.
  CongestionControl cc(GetParam(), kMss);
  cc.set_cwnd(segs(100));
  cc.on_enter_recovery(segs(100), kStart);
  const std::uint32_t ssthresh = cc.ssthresh();
  cc.set_cwnd(ssthresh + 3 * kMss);  // the sender's RFC 6582 inflation
  cc.on_exit_recovery(segs(100));    // much still in flight: cwnd = ssthresh
  EXPECT_EQ(cc.cwnd(), ssthresh);
  cc.on_exit_recovery(segs(10));  // little in flight: FlightSize + SMSS, no burst
  EXPECT_EQ(cc.cwnd(), segs(11));
  cc.on_exit_recovery(100);  // max(FlightSize, SMSS) + SMSS
  EXPECT_EQ(cc.cwnd(), segs(2));
  cc.on_exit_recovery(0);
  EXPECT_EQ(cc.cwnd(), segs(2));
  EXPECT_EQ(cc.ssthresh(), ssthresh);
}

TEST_P(BothAlgorithms, TimeoutDropsToOneSegment) {
  CongestionControl cc(GetParam(), kMss);
  cc.set_cwnd(segs(100));
  cc.on_timeout(segs(100), kStart);
  EXPECT_EQ(cc.cwnd(), kMss);
  const std::uint32_t expected = GetParam() == CongestionAlgorithm::cubic ? segs(70) : segs(50);
  EXPECT_EQ(cc.ssthresh(), expected);
  EXPECT_TRUE(cc.in_slow_start());
  // A second timeout with only the one retransmitted segment in flight: ssthresh at least 2 SMSS.
  cc.on_timeout(kMss, kStart + 1s);
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_EQ(cc.ssthresh(), segs(2));
}

TEST_P(BothAlgorithms, SetSmssKeepsTheWindowInSegments) {
  CongestionControl cc(GetParam(), kMss);
  cc.set_smss(536);
  EXPECT_EQ(cc.smss(), 536u);
  EXPECT_EQ(cc.cwnd(), 5360u);
  EXPECT_EQ(cc.ssthresh(), kMaxWindow);  // "infinite" stays infinite

  cc.set_smss(kMss);
  EXPECT_EQ(cc.cwnd(), segs(10));
  cc.set_cwnd(segs(100));
  cc.on_enter_recovery(segs(100), kStart);
  const std::uint32_t ss = cc.ssthresh() / kMss;
  cc.set_smss(8960);
  EXPECT_EQ(cc.cwnd(), ss * 8960);
  EXPECT_EQ(cc.ssthresh(), ss * 8960);
  cc.set_smss(8960);  // no change
  EXPECT_EQ(cc.cwnd(), ss * 8960);
}

TEST_P(BothAlgorithms, SetSmssKeepsSsthreshAtLeastTwoSegments) {
  CongestionControl cc(GetParam(), 536);
  cc.on_timeout(0, kStart);
  EXPECT_EQ(cc.ssthresh(), 1072u);
  EXPECT_EQ(cc.cwnd(), 536u);
  cc.set_smss(1460);
  EXPECT_EQ(cc.ssthresh(), 2920u);
  EXPECT_EQ(cc.cwnd(), 1460u);
  cc.set_smss(100);  // cwnd never below one SMSS of the new size
  EXPECT_EQ(cc.cwnd(), 100u);
  EXPECT_EQ(cc.ssthresh(), 200u);
}

TEST_P(BothAlgorithms, IdleRestartCapsAtInitialWindow) {
  CongestionControl cc(GetParam(), kMss);
  Instant now = kStart;
  run_rounds(cc, now, 100ms, 2);
  EXPECT_EQ(cc.cwnd(), segs(40));
  cc.on_idle_restart();
  EXPECT_EQ(cc.cwnd(), segs(10));
  EXPECT_EQ(cc.ssthresh(), kMaxWindow);

  cc.on_timeout(segs(10), now);
  cc.on_idle_restart();  // a window already below IW stays
  EXPECT_EQ(cc.cwnd(), kMss);
}

TEST_P(BothAlgorithms, SetCwndClamps) {
  CongestionControl cc(GetParam(), kMss);
  cc.set_cwnd(0);
  EXPECT_EQ(cc.cwnd(), kMss);
  cc.set_cwnd(kU32Max);
  EXPECT_EQ(cc.cwnd(), kMaxWindow);
  cc.set_cwnd(12345);
  EXPECT_EQ(cc.cwnd(), 12345u);
}

TEST_P(BothAlgorithms, HugeAcksAndWindowsDoNotOverflow) {
  // Slow start at the top of the range.
  CongestionControl cc(GetParam(), kMss);
  cc.set_cwnd(kMaxWindow - 1);
  cc.on_ack(kU32Max, kStart, 100ms);
  EXPECT_LE(cc.cwnd(), kMaxWindow);
  EXPECT_GE(cc.cwnd(), kMaxWindow - 1);

  // A loss with everything in flight: ssthresh stays representable.
  cc.on_enter_recovery(kU32Max, kStart);
  EXPECT_LE(cc.ssthresh(), kMaxWindow);
  EXPECT_GE(cc.ssthresh(), segs(2));
  EXPECT_EQ(cc.cwnd(), cc.ssthresh());
  cc.on_exit_recovery(kU32Max);
  EXPECT_EQ(cc.cwnd(), cc.ssthresh());

  // Congestion avoidance with absurd ACKs, times and RTTs.
  for (int i = 0; i < 100; ++i) {
    const Instant now = kStart + std::chrono::hours{24 * 365} * i;
    cc.on_ack(kU32Max, now, std::chrono::hours{1});
    EXPECT_LE(cc.cwnd(), kMaxWindow);
    EXPECT_GE(cc.cwnd(), kMss);
  }
  EXPECT_EQ(cc.cwnd(), kMaxWindow);
  cc.on_ack(kU32Max, Instant::max(), Duration::max());
  EXPECT_EQ(cc.cwnd(), kMaxWindow);
  // Time running backwards is ignored rather than producing a negative t.
  cc.on_ack(kMss, Instant{}, 0ns);
  EXPECT_EQ(cc.cwnd(), kMaxWindow);

  cc.on_timeout(kU32Max, kStart);
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_LE(cc.ssthresh(), kMaxWindow);
}

TEST_P(BothAlgorithms, OneByteSmssAtMaximumWindow) {
  CongestionControl cc(GetParam(), 1);
  cc.set_cwnd(kMaxWindow);
  cc.on_enter_recovery(kMaxWindow, kStart);
  cc.on_exit_recovery(kMaxWindow);
  for (int i = 0; i < 10; ++i) {
    cc.on_ack(kU32Max, kStart + std::chrono::hours{1000} * i, 1s);
    EXPECT_LE(cc.cwnd(), kMaxWindow);
    EXPECT_GE(cc.cwnd(), 1u);
  }
  cc.set_smss(65535);
  EXPECT_EQ(cc.cwnd(), kMaxWindow);
  cc.on_ack(kU32Max, kStart + std::chrono::hours{20000}, 1s);
  EXPECT_EQ(cc.cwnd(), kMaxWindow);
}

TEST_P(BothAlgorithms, ZeroSrttBeforeFirstSampleIsHarmless) {
  CongestionControl cc = after_loss(GetParam(), 100, kStart);
  const std::uint32_t before = cc.cwnd();
  Instant now = kStart;
  for (int r = 0; r < 10; ++r) {
    const std::uint32_t acks = cc.cwnd() / kMss;
    for (std::uint32_t i = 0; i < acks; ++i) {
      now += 1ms;
      cc.on_ack(kMss, now, 0ns);
    }
  }
  EXPECT_GT(cc.cwnd(), before);
  EXPECT_LT(cc.cwnd(), before + segs(20));
}

// ---- NewReno -----------------------------------------------------------------------------------

TEST(NewReno, EnterRecoveryHalvesFlightSize) {
  CongestionControl cc(CongestionAlgorithm::new_reno, kMss);
  cc.set_cwnd(segs(100));
  cc.on_enter_recovery(segs(100), kStart);
  EXPECT_EQ(cc.ssthresh(), segs(50));
  EXPECT_EQ(cc.cwnd(), segs(50));
  EXPECT_FALSE(cc.in_slow_start());

  // RFC 5681 eq. 4 uses FlightSize, not cwnd.
  cc.set_cwnd(segs(100));
  cc.on_enter_recovery(segs(61), kStart);
  EXPECT_EQ(cc.ssthresh(), segs(61) / 2);
  EXPECT_EQ(cc.cwnd(), segs(61) / 2);

  cc.on_enter_recovery(segs(3), kStart);  // never below 2 SMSS
  EXPECT_EQ(cc.ssthresh(), segs(2));
  EXPECT_EQ(cc.cwnd(), segs(2));
}

TEST(NewReno, CongestionAvoidanceAddsOneSegmentPerRtt) {
  CongestionControl cc = after_loss(CongestionAlgorithm::new_reno, 100, kStart);
  EXPECT_EQ(cc.cwnd(), segs(50));
  Instant now = kStart;
  const std::vector<double> w = run_rounds(cc, now, 100ms, 10);
  for (std::size_t r = 0; r < w.size(); ++r) EXPECT_EQ(w[r], 50.0 + static_cast<double>(r));
}

TEST(NewReno, CongestionAvoidanceCountsBytesAcrossAcks) {
  CongestionControl cc = after_loss(CongestionAlgorithm::new_reno, 20, kStart);
  ASSERT_EQ(cc.cwnd(), segs(10));
  // Odd-sized ACKs: the increase happens exactly when a cwnd's worth of bytes is reached.
  std::uint32_t total = 0;
  while (total + 1000 < segs(10)) {
    cc.on_ack(1000, kStart, 100ms);
    total += 1000;
    ASSERT_EQ(cc.cwnd(), segs(10));
  }
  cc.on_ack(segs(10) - total, kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(11));
  // Nothing carried over: the next increase needs a full 11 segments.
  cc.on_ack(segs(11) - 1, kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(11));
  cc.on_ack(1, kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(12));
}

TEST(NewReno, StretchAckGrowsAtMostOneSegment) {
  CongestionControl cc = after_loss(CongestionAlgorithm::new_reno, 20, kStart);
  cc.on_ack(segs(1000), kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(11));
  cc.on_ack(kU32Max, kStart, 100ms);
  EXPECT_EQ(cc.cwnd(), segs(12));
}

TEST(NewReno, DelayedAcksInCongestionAvoidance) {
  CongestionControl cc = after_loss(CongestionAlgorithm::new_reno, 40, kStart);
  for (int round = 0; round < 5; ++round) {
    const std::uint32_t acks = cc.cwnd() / (2 * kMss);
    for (std::uint32_t i = 0; i < acks; ++i) cc.on_ack(2 * kMss, kStart, 100ms);
  }
  // Byte counting (RFC 3465) keeps one segment per RTT despite half as many ACKs. Each round
  // acks an even number of segments, slightly less than cwnd when cwnd is odd; the remainder is
  // carried, so the total is within one segment of 5.
  EXPECT_GE(cc.cwnd(), segs(24));
  EXPECT_LE(cc.cwnd(), segs(25));
}

TEST(NewReno, SawtoothAfterRepeatedLosses) {
  CongestionControl cc(CongestionAlgorithm::new_reno, kMss);
  Instant now = kStart;
  // Slow start until 100 segments, then a loss whenever cwnd reaches 100.
  int losses = 0;
  for (int r = 0; r < 300; ++r) {
    if (cc.cwnd() >= segs(100)) {
      const bool from_slow_start = cc.in_slow_start();
      cc.on_enter_recovery(cc.cwnd(), now);
      cc.on_exit_recovery(cc.cwnd());
      ++losses;
      // The first loss ends slow start (at 160 segments); later ones happen at 100.
      if (!from_slow_start) {
        EXPECT_NEAR(in_segments(cc), 50.0, 1.0);
      }
    }
    ack_one_round(cc, now, 100ms);
  }
  // Each cycle takes about 50 RTTs in congestion avoidance.
  EXPECT_GE(losses, 5);
  EXPECT_LE(losses, 7);
}

// ---- CUBIC -------------------------------------------------------------------------------------

TEST(Cubic, EnterRecoveryUsesBetaCubic) {
  CongestionControl cc(CongestionAlgorithm::cubic, kMss);
  cc.set_cwnd(segs(100));
  cc.on_enter_recovery(segs(100), kStart);
  EXPECT_EQ(cc.ssthresh(), segs(70));
  EXPECT_EQ(cc.cwnd(), segs(70));
  EXPECT_FALSE(cc.in_slow_start());

  cc.set_cwnd(segs(100));
  cc.on_enter_recovery(segs(80), kStart);  // FlightSize * 0.7
  EXPECT_EQ(cc.ssthresh(), segs(56));
  EXPECT_EQ(cc.cwnd(), segs(56));

  cc.on_enter_recovery(segs(2), kStart);
  EXPECT_EQ(cc.ssthresh(), segs(2));
  EXPECT_EQ(cc.cwnd(), segs(2));
}

TEST(Cubic, ConcaveUpToWmaxThenConvex) {
  // A loss at W_max = 1000 segments, 100 ms RTT: cwnd restarts at 700 and
  // K = cbrt(1000 * 0.3 / 0.4) = 9.09 s, i.e. about round 91. The window is large enough that
  // the Reno-friendly estimate (about 0.53 segments per RTT) stays out of the way.
  const double k = std::cbrt(1000 * 0.3 / 0.4);
  CongestionControl cc = after_loss(CongestionAlgorithm::cubic, 1000, kStart);
  EXPECT_EQ(cc.cwnd(), segs(700));
  Instant now = kStart;
  const std::vector<double> w = run_rounds(cc, now, 100ms, 160);
  auto growth = [&](int from, int to) {
    return w[static_cast<std::size_t>(to)] - w[static_cast<std::size_t>(from)];
  };

  // Never shrinks, never more than 1.5x per RTT.
  for (std::size_t r = 1; r < w.size(); ++r) {
    EXPECT_GE(w[r], w[r - 1]);
    EXPECT_LE(w[r], 1.5 * w[r - 1]);
  }
  // Concave: fast at first, slower and slower toward W_max.
  EXPECT_GT(growth(0, 20), growth(20, 40));
  EXPECT_GT(growth(20, 40), growth(40, 60));
  EXPECT_GT(growth(40, 60), growth(60, 80));
  EXPECT_GT(growth(0, 20), 100.0);
  // The plateau around W_max.
  EXPECT_LT(growth(80, 100), 5.0);
  // Convex: faster and faster beyond W_max.
  EXPECT_LT(growth(100, 120), growth(120, 140));
  EXPECT_LT(growth(120, 140), growth(140, 160));
  EXPECT_GT(w[160], 1050.0);

  // The window follows W_cubic one RTT ahead (the target of RFC 9438 4.2).
  for (int r : {10, 30, 60, 120, 150}) {
    const double expected = w_cubic(0.1 * r, 1000, 700);
    EXPECT_NEAR(w[static_cast<std::size_t>(r)], expected, 0.02 * expected) << "round " << r;
  }
  // Back at W_max around t = K, and below it well before.
  const auto at_k = static_cast<std::size_t>(std::lround(k * 10));
  EXPECT_NEAR(w[at_k], 1000.0, 5.0);
  EXPECT_LT(w[at_k - 30], 995.0);
}

TEST(Cubic, ReachesWmaxAtKForASmallerWindow) {
  // W_max = 200, RTT 200 ms: K = cbrt(150) = 5.31 s, round 26.6.
  const double k = std::cbrt(200 * 0.3 / 0.4);
  CongestionControl cc = after_loss(CongestionAlgorithm::cubic, 200, kStart);
  Instant now = kStart;
  const std::vector<double> w = run_rounds(cc, now, 200ms, 40);
  const auto at_k = static_cast<std::size_t>(std::lround(k / 0.2));
  EXPECT_NEAR(w[at_k], 200.0, 4.0);
  EXPECT_LT(w[at_k / 2], 195.0);
  EXPECT_GT(w[at_k / 2], 170.0);
}

TEST(Cubic, FastConvergenceLowersWmax) {
  // First loss at 1000 segments; a second loss at 900, before the window got back to 1000,
  // makes W_max = 900 * (1 + 0.7) / 2 = 765 (RFC 9438 4.7). A flow whose only loss was at the
  // same 900 aims for 900 instead.
  CongestionControl cc = after_loss(CongestionAlgorithm::cubic, 1000, kStart);
  Instant now = kStart;
  while (cc.cwnd() < segs(900)) ack_one_round(cc, now, 100ms);
  ASSERT_LT(cc.cwnd(), segs(950));
  const std::uint32_t at_loss = cc.cwnd();
  cc.on_enter_recovery(at_loss, now);
  cc.on_exit_recovery(cc.cwnd());

  CongestionControl control(CongestionAlgorithm::cubic, kMss);
  control.set_cwnd(at_loss);
  control.on_enter_recovery(at_loss, now);
  control.on_exit_recovery(control.cwnd());
  ASSERT_EQ(control.cwnd(), cc.cwnd());
  ASSERT_EQ(control.ssthresh(), cc.ssthresh());

  const double w_loss = static_cast<double>(at_loss) / kMss;
  const double w_max_fast = w_loss * 0.85;
  const double k_fast = std::cbrt((w_max_fast - 0.7 * w_loss) / 0.4);
  const double k_control = std::cbrt(0.3 * w_loss / 0.4);
  Instant now_control = now;
  const int rounds = static_cast<int>(k_fast * 10);
  const std::vector<double> fast = run_rounds(cc, now, 100ms, rounds);
  const std::vector<double> slow = run_rounds(control, now_control, 100ms, rounds);
  for (int r = 1; r <= rounds; ++r) {
    EXPECT_LE(fast[static_cast<std::size_t>(r)], slow[static_cast<std::size_t>(r)]);
  }
  // At its K the fast-converging flow is at the lowered W_max; the other one is still climbing
  // toward 900 (its K is later).
  EXPECT_LT(k_fast, k_control);
  EXPECT_NEAR(fast.back(), w_max_fast, 0.01 * w_max_fast);
  EXPECT_GT(slow.back(), fast.back() + 100.0);
  EXPECT_LT(slow.back(), w_loss);
}

TEST(Cubic, RenoFriendlyRegionAtLowRtt) {
  // 1 ms RTT and a small window: W_cubic barely moves within a few hundred RTTs, so the
  // Reno-friendly estimate drives cwnd: alpha_cubic = 0.53 segments per RTT until it regains
  // cwnd_prior (100), then Reno's 1 segment per RTT (RFC 9438 4.3).
  const double alpha = 3 * 0.3 / 1.7;
  CongestionControl cc = after_loss(CongestionAlgorithm::cubic, 100, kStart);
  Instant now = kStart;
  const std::vector<double> w = run_rounds(cc, now, 1ms, 200);
  EXPECT_NEAR(w[40], 70 + alpha * 40, 1.5);
  EXPECT_GT(w[40], w_cubic(0.041, 100, 70) + 15);
  const int regained = static_cast<int>(std::ceil(30 / alpha));  // 57 rounds
  EXPECT_LT(w[static_cast<std::size_t>(regained - 3)], 100.0);
  EXPECT_NEAR(w[static_cast<std::size_t>(regained + 3)], 103.0, 1.5);
  EXPECT_NEAR(w[200] - w[100], 100.0, 2.0);
}

TEST(Cubic, AtLeastAsAggressiveAsRenoAtLowRtt) {
  // A path that drops when the window reaches 100 segments, 1 ms RTT: over many sawtooth
  // cycles CUBIC's average window is at least NewReno's (RFC 9438 4.3, 5.1).
  auto average_window = [](CongestionAlgorithm a) {
    CongestionControl cc(a, kMss);
    Instant now = kStart;
    double sum = 0;
    int rounds = 0;
    for (int r = 0; r < 3000; ++r) {
      if (cc.cwnd() >= segs(100)) {
        cc.on_enter_recovery(cc.cwnd(), now);
        cc.on_exit_recovery(cc.cwnd());
      }
      ack_one_round(cc, now, 1ms);
      if (r >= 500) {
        sum += in_segments(cc);
        ++rounds;
      }
    }
    return sum / rounds;
  };
  const double reno = average_window(CongestionAlgorithm::new_reno);
  const double cubic = average_window(CongestionAlgorithm::cubic);
  EXPECT_NEAR(reno, 75.0, 2.0);
  EXPECT_GE(cubic, reno);
}

TEST(Cubic, AtHighRttMoreAggressiveThanReno) {
  // The reason CUBIC exists: on a long path it regains a large window far faster than Reno.
  CongestionControl cubic = after_loss(CongestionAlgorithm::cubic, 1000, kStart);
  CongestionControl reno = after_loss(CongestionAlgorithm::new_reno, 1000, kStart);
  Instant now_cubic = kStart;
  Instant now_reno = kStart;
  run_rounds(cubic, now_cubic, 100ms, 50);
  run_rounds(reno, now_reno, 100ms, 50);
  EXPECT_NEAR(in_segments(reno), 550.0, 1.0);
  EXPECT_GT(in_segments(cubic), 950.0);
}

TEST(Cubic, TimeoutRestartsWithConvexGrowth) {
  // RFC 9438 4.8: after a timeout the first congestion-avoidance stage uses K = 0 and
  // W_max = cwnd_epoch, so growth is convex from ssthresh on, rather than concave toward the
  // W_max before the timeout (which would put cwnd near 790 segments 1 s into the stage).
  CongestionControl cc(CongestionAlgorithm::cubic, kMss);
  cc.set_cwnd(segs(1000));
  cc.on_timeout(segs(1000), kStart);
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_EQ(cc.ssthresh(), segs(700));
  Instant now = kStart;
  int rounds = 0;
  while (cc.in_slow_start()) {
    ack_one_round(cc, now, 100ms);
    ASSERT_LT(++rounds, 20);
  }
  const double epoch = in_segments(cc);
  EXPECT_NEAR(epoch, 700.0, 1.0);
  const std::vector<double> w = run_rounds(cc, now, 100ms, 120);
  EXPECT_LT(w[10], 720.0);
  auto growth = [&](int from, int to) {
    return w[static_cast<std::size_t>(to)] - w[static_cast<std::size_t>(from)];
  };
  EXPECT_LT(growth(60, 80), growth(80, 100));
  EXPECT_LT(growth(80, 100), growth(100, 120));
  // No plateau at the old W_max of 1000: t = 12 s puts W_cubic at 700 + 0.4 * 12^3 = 1391.
  EXPECT_GT(w[120], 1300.0);
}

TEST(Cubic, NeverMoreThanHalfAgainPerRtt) {
  // Long after K, W_cubic(t) is enormous; the target clamp (RFC 9438 4.2) still limits each RTT
  // to 1.5x, slower than slow start.
  CongestionControl cc = after_loss(CongestionAlgorithm::cubic, 100, kStart);
  Instant now = kStart;
  ack_one_round(cc, now, 100ms);  // starts the epoch
  now += 1000s;
  for (int r = 0; r < 5; ++r) {
    const std::uint32_t before = cc.cwnd();
    ack_one_round(cc, now, 100ms);
    EXPECT_LE(cc.cwnd(), before + before / 2 + 1);
    EXPECT_GE(cc.cwnd(), before + before / 2 - kMss);
  }
}

TEST(Cubic, StretchAckBoundedByTarget) {
  CongestionControl cc = after_loss(CongestionAlgorithm::cubic, 100, kStart);
  cc.on_ack(kMss, kStart, 100ms);  // starts the epoch
  const std::uint32_t before = cc.cwnd();
  cc.on_ack(kU32Max, kStart + 1000s, 100ms);
  EXPECT_LE(cc.cwnd(), before + before / 2 + 1);
}

TEST(Cubic, SetSmssMidEpochKeepsTheCurveInSegments) {
  // Two identical flows; one switches to half the MSS mid-stage. In segments they stay together.
  CongestionControl a = after_loss(CongestionAlgorithm::cubic, 1000, kStart);
  CongestionControl b = after_loss(CongestionAlgorithm::cubic, 1000, kStart);
  Instant now_a = kStart;
  Instant now_b = kStart;
  run_rounds(a, now_a, 100ms, 20);
  run_rounds(b, now_b, 100ms, 20);
  b.set_smss(kMss / 2);
  EXPECT_NEAR(in_segments(b), in_segments(a), 0.01);
  run_rounds(a, now_a, 100ms, 60);
  run_rounds(b, now_b, 100ms, 60);
  EXPECT_NEAR(in_segments(b), in_segments(a), 0.005 * in_segments(a));
}

TEST(Cubic, IdleRestartStartsANewEpoch) {
  // After idling, t must not include the idle time (RFC 9438 5.8): the first round after
  // returning to congestion avoidance grows like the start of an epoch, not like t = idle.
  CongestionControl cc = after_loss(CongestionAlgorithm::cubic, 1000, kStart);
  Instant now = kStart;
  run_rounds(cc, now, 100ms, 30);
  const std::uint32_t ssthresh = cc.ssthresh();
  now += 60s;
  cc.on_idle_restart();
  EXPECT_EQ(cc.cwnd(), segs(10));
  EXPECT_EQ(cc.ssthresh(), ssthresh);
  while (cc.in_slow_start()) ack_one_round(cc, now, 100ms);
  const double w0 = in_segments(cc);
  ack_one_round(cc, now, 100ms);
  // A new epoch with cwnd_epoch = 700 and W_max 1000 gains about W_cubic(0.2) - 700 = 10
  // segments in its first RTT; with t = 60 s it would gain 50%.
  EXPECT_LT(in_segments(cc) - w0, 30.0);
}

}  // namespace
}  // namespace ustack::tcp
