// RttEstimator: the RFC 6298 formulas on worked numbers, the [min_rto, max_rto] bounds, backoff
// doubling and its cap (5.5), and how a new sample ends the backoff.
#include "stack/tcp/rtt_estimator.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ustack::tcp {
namespace {

TEST(RttEstimator, InitialRtoIsOneSecondBeforeAnySample) {
  RttEstimator e;
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(e.rto(), 1s);  // RFC 6298 2.1
  EXPECT_EQ(e.backoffs(), 0);
}

TEST(RttEstimator, FirstSampleSetsSrttAndHalfRttvar) {
  RttEstimator e;
  e.sample(100ms);
  EXPECT_TRUE(e.has_sample());
  EXPECT_EQ(e.srtt(), 100ms);   // SRTT = R
  EXPECT_EQ(e.rttvar(), 50ms);  // RTTVAR = R/2
  EXPECT_EQ(e.rto(), 300ms);    // R + max(G, 4 * R/2) = 3R
}

TEST(RttEstimator, FirstSampleBelowMinRtoIsClampedUp) {
  RttEstimator e;
  e.sample(10ms);  // 10 + 4 * 5 = 30 ms
  EXPECT_EQ(e.srtt(), 10ms);
  EXPECT_EQ(e.rttvar(), 5ms);
  EXPECT_EQ(e.rto(), 200ms);
}

TEST(RttEstimator, FirstSampleAboveMaxRtoIsClampedDown) {
  RttEstimator e;
  e.sample(50s);  // 50 + 100 = 150 s
  EXPECT_EQ(e.rto(), 120s);
}

TEST(RttEstimator, RfcMinimumOfOneSecond) {
  RttConfig config;
  config.min_rto = 1s;  // RFC 6298 2.4 as written
  RttEstimator e(config);
  e.sample(100ms);
  EXPECT_EQ(e.rto(), 1s);
  e.sample(100ms);
  EXPECT_EQ(e.rto(), 1s);
}

TEST(RttEstimator, SecondSampleUsesTheOldSrttForRttvar) {
  RttEstimator e;
  e.sample(100ms);
  e.sample(200ms);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms (with the SRTT before this sample)
  EXPECT_EQ(e.rttvar(), 62500us);
  // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms
  EXPECT_EQ(e.srtt(), 112500us);
  EXPECT_EQ(e.rto(), 112500us + 4 * 62500us);
}

TEST(RttEstimator, SampleBelowSrttUsesAbsoluteDifference) {
  RttEstimator e;
  e.sample(200ms);  // SRTT 200, RTTVAR 100
  e.sample(40ms);
  EXPECT_EQ(e.rttvar(), (3 * 100ms + 160ms) / 4);  // 115 ms
  EXPECT_EQ(e.srtt(), (7 * 200ms + 40ms) / 8);     // 180 ms
  EXPECT_EQ(e.rto(), 180ms + 4 * 115ms);
}

TEST(RttEstimator, FollowsASequenceOfSamplesExactly) {
  // Reference computed step by step with the RFC's formulas in integer nanoseconds.
  RttEstimator e;
  Duration srtt{0};
  Duration rttvar{0};
  bool first = true;
  const Duration samples[] = {120ms, 80ms, 95ms, 300ms, 101ms, 99ms, 1ms, 250ms, 130ms, 117ms};
  for (Duration r : samples) {
    e.sample(r);
    if (first) {
      srtt = r;
      rttvar = r / 2;
      first = false;
    } else {
      rttvar = (3 * rttvar + (srtt > r ? srtt - r : r - srtt)) / 4;
      srtt = (7 * srtt + r) / 8;
    }
    EXPECT_EQ(e.srtt(), srtt);
    EXPECT_EQ(e.rttvar(), rttvar);
    EXPECT_EQ(e.rto(), std::max(Duration{200ms}, srtt + std::max(Duration{1ms}, 4 * rttvar)));
  }
}

TEST(RttEstimator, SteadyRttConvergesAndRttvarDecays) {
  RttEstimator e;
  for (int i = 0; i < 200; ++i) e.sample(50ms);
  EXPECT_EQ(e.srtt(), 50ms);
  EXPECT_LT(e.rttvar(), 1ms);
  EXPECT_EQ(e.rto(), 200ms);  // 50 ms + G is below min_rto
}

TEST(RttEstimator, GranularityFloorsTheVarianceTerm) {
  RttConfig config;
  config.min_rto = 0s;
  config.granularity = 100ms;
  RttEstimator e(config);
  for (int i = 0; i < 200; ++i) e.sample(500ms);
  EXPECT_EQ(e.srtt(), 500ms);
  // 4 * RTTVAR has decayed far below G, so RTO = SRTT + G.
  EXPECT_EQ(e.rto(), 600ms);
}

TEST(RttEstimator, ZeroSampleCountsAsOneGranularity) {
  RttEstimator e;
  e.sample(0ns);
  EXPECT_TRUE(e.has_sample());
  EXPECT_EQ(e.srtt(), 1ms);
  EXPECT_EQ(e.rttvar(), 500us);
  EXPECT_EQ(e.rto(), 200ms);
}

TEST(RttEstimator, NegativeSampleCountsAsOneGranularity) {
  RttEstimator e;
  e.sample(-5ms);
  EXPECT_EQ(e.srtt(), 1ms);
  EXPECT_EQ(e.rttvar(), 500us);
}

TEST(RttEstimator, BackoffDoublesFromOneSecond) {
  RttEstimator e;
  const Duration expected[] = {1s, 2s, 4s, 8s, 16s, 32s};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(e.backoffs(), i);
    EXPECT_EQ(e.rto(), expected[i]) << "after " << i << " timeouts";
    if (i < 5) e.backoff();
  }
}

TEST(RttEstimator, BackoffIsCappedAtMaxRto) {
  RttConfig config;
  config.max_rto = 10s;
  RttEstimator e(config);
  const Duration expected[] = {1s, 2s, 4s, 8s, 10s, 10s, 10s};
  for (Duration d : expected) {
    EXPECT_EQ(e.rto(), d);
    e.backoff();
  }
}

TEST(RttEstimator, DefaultMaxRtoReachedAfterSevenBackoffs) {
  RttEstimator e;
  for (int i = 0; i < 7; ++i) e.backoff();
  EXPECT_EQ(e.rto(), 120s);  // 128 s capped
}

TEST(RttEstimator, ManyBackoffsNeitherOverflowNorLoseCount) {
  RttEstimator e;
  for (int i = 0; i < 10000; ++i) e.backoff();
  EXPECT_EQ(e.backoffs(), 10000);
  EXPECT_EQ(e.rto(), 120s);
}

TEST(RttEstimator, BackoffDoublesTheClampedRto) {
  // RFC 6298 5.5 doubles the RTO as bounded by 2.4, not the raw SRTT + 4 RTTVAR.
  RttEstimator e;
  e.sample(10ms);  // raw 30 ms, RTO 200 ms
  e.backoff();
  EXPECT_EQ(e.rto(), 400ms);
  e.backoff();
  EXPECT_EQ(e.rto(), 800ms);
}

TEST(RttEstimator, SampleEndsBackoff) {
  RttEstimator e;
  e.sample(100ms);
  e.backoff();
  e.backoff();
  e.backoff();
  EXPECT_EQ(e.backoffs(), 3);
  EXPECT_EQ(e.rto(), 2400ms);
  e.sample(100ms);
  EXPECT_EQ(e.backoffs(), 0);
  // RTTVAR = 3/4 * 50 = 37.5 ms, SRTT 100 ms
  EXPECT_EQ(e.rto(), 100ms + 4 * 37500us);
}

TEST(RttEstimator, ResetBackoffKeepsTheEstimate) {
  RttEstimator e;
  e.sample(100ms);
  e.backoff();
  EXPECT_EQ(e.rto(), 600ms);
  e.reset_backoff();
  EXPECT_EQ(e.backoffs(), 0);
  EXPECT_EQ(e.rto(), 300ms);
  EXPECT_EQ(e.srtt(), 100ms);
}

TEST(RttEstimator, BackoffBeforeFirstSampleThenSample) {
  // A lost SYN: the initial RTO backs off, then the first sample replaces it.
  RttEstimator e;
  e.backoff();
  EXPECT_EQ(e.rto(), 2s);
  e.sample(40ms);
  EXPECT_EQ(e.backoffs(), 0);
  EXPECT_EQ(e.srtt(), 40ms);
  EXPECT_EQ(e.rto(), 200ms);
}

TEST(RttEstimator, HugeSamplesDoNotOverflow) {
  RttEstimator e;
  e.sample(Duration::max());
  e.sample(Duration::max());
  e.sample(Duration::max());
  EXPECT_GT(e.srtt(), 0ns);
  EXPECT_GE(e.rttvar(), 0ns);
  EXPECT_EQ(e.rto(), 120s);
  e.sample(Duration::min());
  EXPECT_GT(e.srtt(), 0ns);
  EXPECT_EQ(e.rto(), 120s);
}

}  // namespace
}  // namespace ustack::tcp
