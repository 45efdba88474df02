#include "stack/tcp/rtt_estimator.h"

#include <algorithm>
#include <limits>

namespace ustack::tcp {

namespace {

// No real round trip lasts an hour; capping samples there keeps 7 * SRTT and 4 * RTTVAR far from
// the int64 nanosecond limit (about 292 years) whatever a broken timestamp echo reports.
constexpr Duration kMaxSample = std::chrono::hours{1};

}  // namespace

void RttEstimator::sample(Duration rtt) {
  // A sample of zero means the round trip took less than one clock tick; count it as one tick.
  const Duration r =
      std::min(std::max(rtt, std::max(config_.granularity, Duration{1})), kMaxSample);
  if (!has_sample_) {
    // RFC 6298 2.2.
    srtt_ = r;
    rttvar_ = r / 2;
    has_sample_ = true;
  } else {
    // RFC 6298 2.3, with beta = 1/4 and alpha = 1/8. RTTVAR is updated first because it uses the
    // SRTT from before this sample.
    const Duration err = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (3 * rttvar_ + err) / 4;
    srtt_ = (7 * srtt_ + r) / 8;
  }
  // RFC 6298 5.7 keeps a backed-off RTO until a new sample; this is that sample.
  backoffs_ = 0;
}

Duration RttEstimator::rto() const {
  // RFC 6298 2.1 before any sample, 2.2 / 2.3 after; 2.4 and 2.5 bound the result. std::min and
  // std::max rather than std::clamp: a configuration with min_rto > max_rto must not be UB.
  Duration base =
      has_sample_ ? srtt_ + std::max(config_.granularity, 4 * rttvar_) : config_.initial_rto;
  base = std::min(std::max(base, config_.min_rto), config_.max_rto);
  // RFC 6298 5.5 doubles the bounded RTO, not the raw estimate (as Linux: rto << 1, then capped).
  // Doubling stops at max_rto, so any number of backoffs is safe.
  for (int i = 0; i < backoffs_ && base > Duration::zero() && base < config_.max_rto; ++i) {
    base = base > config_.max_rto / 2 ? config_.max_rto : 2 * base;
  }
  return base;
}

void RttEstimator::backoff() {
  if (backoffs_ < std::numeric_limits<int>::max()) ++backoffs_;
}

}  // namespace ustack::tcp
