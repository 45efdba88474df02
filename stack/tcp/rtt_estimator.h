// RttEstimator: the retransmission timeout of RFC 6298.
//
//   first sample R:      SRTT = R, RTTVAR = R/2                             (2.2)
//   later samples R':    RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|             (2.3)
//                        SRTT   = 7/8 SRTT   + 1/8 R'
//   RTO = SRTT + max(G, 4 RTTVAR), at least min_rto (RFC 6298 says 1 s; 200 ms as Linux, which
//         the issue asks for), at most max_rto; 1 s (initial_rto) before the first sample.
//   Each expiry doubles the RTO (5.5, "back off the timer"), up to max_rto; a new sample after
//   new data is acknowledged ends the backoff.
//
// Karn's algorithm (RFC 6298 3) is the caller's part: it feeds no sample from a retransmitted
// segment unless timestamps (RFC 7323 4) tell which transmission was acknowledged.
#pragma once

#include <cstdint>

#include "stack/base/time.h"

namespace ustack::tcp {

struct RttConfig {
  Duration initial_rto = 1s;   // RFC 6298 2.1
  Duration min_rto = 200ms;    // Linux TCP_RTO_MIN
  Duration max_rto = 120s;     // Linux TCP_RTO_MAX; RFC 6298 2.5 allows >= 60 s
  Duration granularity = 1ms;  // G: the clock granularity in the formula
};

class RttEstimator {
 public:
  explicit RttEstimator(const RttConfig& config = {}) : config_(config) {}

  // A new round-trip measurement (RFC 6298 2.2 / 2.3). Ends any backoff. A zero or negative
  // sample counts as one granularity (a clock tick can make an RTT look like 0).
  void sample(Duration rtt);
  // The timeout to arm now: the RTO of RFC 6298 2.1-2.4 clamped to [min_rto, max_rto], then
  // doubled once per backoff (5.5) and capped at max_rto.
  Duration rto() const;
  // RFC 6298 5.5: the timer expired; the next rto() is twice as long (up to max_rto).
  void backoff();
  // Forgets the backoff without a sample (e.g. when an ACK for new data arrives but Karn forbids
  // sampling; RFC 6298 5.7 keeps the doubled value then, so callers rarely need this).
  void reset_backoff() { backoffs_ = 0; }

  bool has_sample() const { return has_sample_; }
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  // How many times the timer expired in a row (for the retransmission limits).
  int backoffs() const { return backoffs_; }

 private:
  RttConfig config_;
  bool has_sample_ = false;
  Duration srtt_{0};
  Duration rttvar_{0};
  int backoffs_ = 0;
};

}  // namespace ustack::tcp
