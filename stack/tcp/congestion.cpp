#include "stack/tcp/congestion.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace ustack::tcp {

namespace {

// Windows stay below 2^31 so that snd_una + cwnd is always "after" snd_una in sequence space
// (seq.h). The same value is ssthresh's "arbitrarily high" start (RFC 5681 3.1).
constexpr std::uint32_t kMaxWindow = 0x7fffffff;
// An IPv4 datagram carries at most 65535 bytes, so no segment is larger.
constexpr std::uint32_t kMaxSmss = 0xffff;

// RFC 3465 2.2: slow start grows cwnd by at most L = 2 SMSS per ACK.
constexpr std::uint64_t kAbcLimitSegments = 2;

constexpr double kCubicC = 0.4;     // RFC 9438 4.2, 5.1 (segments / s^3)
constexpr double kBetaCubic = 0.7;  // RFC 9438 4.6
// RFC 9438 4.3: the additive increase that gives CUBIC Reno's average throughput with
// beta_cubic, about 0.53 segments per RTT.
constexpr double kAlphaCubic = 3.0 * (1.0 - kBetaCubic) / (1.0 + kBetaCubic);
// RFC 9438 4.2: the target never exceeds 1.5 cwnd, so cwnd grows by at most half per RTT.
constexpr double kMaxTargetGrowth = 1.5;

std::uint32_t clamp_window(std::uint64_t bytes, std::uint32_t smss) {
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(bytes, smss, kMaxWindow));
}

// max(flight_size * num / den, 2 SMSS): RFC 5681 eq. 4 (1/2), RFC 9438 4.6 (7/10).
std::uint32_t reduced_ssthresh(std::uint32_t flight_size, std::uint64_t num, std::uint64_t den,
                               std::uint32_t smss) {
  const std::uint64_t reduced = std::uint64_t{flight_size} * num / den;
  return clamp_window(std::max(reduced, 2 * std::uint64_t{smss}), smss);
}

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

std::string_view congestion_algorithm_name(CongestionAlgorithm a) {
  switch (a) {
    case CongestionAlgorithm::new_reno:
      return "newreno";
    case CongestionAlgorithm::cubic:
      return "cubic";
  }
  return "unknown";
}

CongestionControl::CongestionControl(CongestionAlgorithm algorithm, std::uint32_t smss)
    : algorithm_(algorithm), smss_(std::clamp<std::uint32_t>(smss, 1, kMaxSmss)), cwnd_(0) {
  cwnd_ = initial_window();
}

std::uint32_t CongestionControl::initial_window() const {
  // RFC 6928 2.
  const std::uint64_t smss = smss_;
  return clamp_window(std::min(10 * smss, std::max<std::uint64_t>(2 * smss, 14600)), smss_);
}

void CongestionControl::set_smss(std::uint32_t smss) {
  const std::uint32_t new_smss = std::clamp<std::uint32_t>(smss, 1, kMaxSmss);
  if (new_smss == smss_) return;
  const std::uint64_t old_smss = smss_;
  cwnd_ = clamp_window(std::uint64_t{cwnd_} * new_smss / old_smss, new_smss);
  if (ssthresh_ != kMaxWindow) {
    const std::uint64_t scaled = std::uint64_t{ssthresh_} * new_smss / old_smss;
    ssthresh_ = clamp_window(std::max(scaled, 2 * std::uint64_t{new_smss}), new_smss);
  }
  bytes_acked_ = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(std::uint64_t{bytes_acked_} * new_smss / old_smss, kMaxWindow));
  cwnd_carry_ = 0;
  smss_ = new_smss;
}

void CongestionControl::on_ack(std::uint32_t acked, Instant now, Duration srtt) {
  if (acked == 0) return;
  if (cwnd_ < ssthresh_) {
    // RFC 5681 3.1 slow start, counting bytes with RFC 3465's limit L = 2 SMSS per ACK.
    const std::uint64_t increase = std::min<std::uint64_t>(acked, kAbcLimitSegments * smss_);
    const std::uint64_t room = ssthresh_ - cwnd_;
    if (increase < room) {
      cwnd_ = clamp_window(cwnd_ + increase, smss_);
      return;
    }
    // Slow start ends at ssthresh; what this ACK covered beyond that counts toward congestion
    // avoidance (as Linux tcp_slow_start).
    cwnd_ = ssthresh_;
    acked = static_cast<std::uint32_t>(acked - room);
    if (acked == 0) return;
  }
  if (algorithm_ == CongestionAlgorithm::cubic) {
    cubic_on_ack(acked, now, srtt);
    return;
  }
  // RFC 5681 3.1 congestion avoidance by byte counting (RFC 3465 2.1): one SMSS each time a
  // cwnd's worth of bytes has been acknowledged. An ACK counts for at most one cwnd, as it can
  // only cover what cwnd let into flight; so a stretch ACK grows cwnd by at most one SMSS.
  std::uint64_t counted = std::uint64_t{bytes_acked_} + std::min(acked, cwnd_);
  if (counted >= cwnd_) {
    counted -= cwnd_;
    cwnd_ = clamp_window(std::uint64_t{cwnd_} + smss_, smss_);
  }
  bytes_acked_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(counted, kMaxWindow));
}

void CongestionControl::cubic_on_ack(std::uint32_t acked, Instant now, Duration srtt) {
  const double smss = smss_;
  const double cwnd = (cwnd_ + cwnd_carry_) / smss;
  if (!epoch_valid_) {
    // RFC 9438 4.2: a congestion-avoidance stage begins; t counts from here and K (eq. 2) is the
    // time W_cubic needs from cwnd_epoch back to W_max. A W_max at or below cwnd (no loss yet, or
    // the first stage after a timeout, 4.8) means K = 0 and W_max = cwnd_epoch: growth is
    // convex from the start.
    epoch_valid_ = true;
    epoch_start_ = now;
    if (w_max_ <= cwnd) {
      w_max_ = cwnd;
      k_ = 0;
    } else {
      k_ = std::cbrt((w_max_ - cwnd) / kCubicC);
    }
    w_est_ = cwnd;  // RFC 9438 4.3
  }
  const auto w_cubic = [this](double t) {
    const double d = t - k_;
    return kCubicC * d * d * d + w_max_;  // RFC 9438 eq. 1
  };
  const double t = now > epoch_start_ ? seconds(now - epoch_start_) : 0.0;
  const double rtt = srtt > Duration::zero() ? seconds(srtt) : 0.0;
  // An ACK covers at most the cwnd that let its bytes into flight; this bounds a stretch ACK's
  // effect to one RTT of growth.
  const double segments_acked = std::min(acked / smss, cwnd);

  // RFC 9438 4.3: the Reno-friendly estimate grows alpha_cubic segments per RTT, and as fast as
  // Reno (alpha 1) once it has regained the window of the last congestion event.
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlphaCubic;
  w_est_ += alpha * segments_acked / cwnd;

  double next;
  if (w_cubic(t) < w_est_) {
    // Reno-friendly region: cwnd = W_est. Never below the current cwnd, though: W_est can lag
    // a cwnd that W_cubic(t + RTT) pulled ahead (Linux also only grows cwnd on an ACK).
    next = std::max(cwnd, w_est_);
  } else {
    // Concave (4.4) and convex (4.5) regions: (target - cwnd) / cwnd per acknowledged segment,
    // so cwnd reaches the target in about one RTT. The target lies in [cwnd, 1.5 cwnd] (4.2).
    const double target = std::clamp(w_cubic(t + rtt), cwnd, kMaxTargetGrowth * cwnd);
    next = cwnd + (target - cwnd) / cwnd * segments_acked;
  }

  // next >= cwnd >= 1 segment, so only the upper bound needs checking.
  const double bytes = next * smss;
  if (!(bytes < static_cast<double>(kMaxWindow))) {
    cwnd_ = kMaxWindow;
    cwnd_carry_ = 0;
    return;
  }
  const double whole = std::floor(bytes);
  cwnd_ = clamp_window(static_cast<std::uint64_t>(whole), smss_);
  cwnd_carry_ = bytes - whole;
}

void CongestionControl::cubic_on_loss(std::uint32_t flight_size) {
  const double cwnd = (cwnd_ + cwnd_carry_) / smss_;
  // RFC 9438 4.7 fast convergence: a loss below the previous W_max means a new flow is taking
  // bandwidth, so release some by aiming lower than where this loss happened.
  w_max_ = cwnd < w_max_ ? cwnd * (1.0 + kBetaCubic) / 2.0 : cwnd;
  cwnd_prior_ = cwnd;                                       // RFC 9438 4.6
  ssthresh_ = reduced_ssthresh(flight_size, 7, 10, smss_);  // flight_size * beta_cubic
  epoch_valid_ = false;
}

void CongestionControl::on_enter_recovery(std::uint32_t flight_size, Instant /*now*/) {
  // The new congestion-avoidance stage (and CUBIC's epoch) begins with the first ACK after
  // recovery, not at the loss (RFC 9438 4.2 t_epoch), so the time is not needed here.
  if (algorithm_ == CongestionAlgorithm::cubic) {
    cubic_on_loss(flight_size);
  } else {
    ssthresh_ = reduced_ssthresh(flight_size, 1, 2, smss_);  // RFC 5681 eq. 4
  }
  cwnd_ = ssthresh_;  // RFC 5681 3.2 step 4 without the 3 SMSS inflation (the sender's part)
  cwnd_carry_ = 0;
  bytes_acked_ = 0;
}

void CongestionControl::on_exit_recovery(std::uint32_t flight_size) {
  // RFC 6582 3.2 step 3 (full ACK), option (1): deflate to ssthresh, but never to more than one
  // SMSS beyond what is still in flight, to avoid a burst.
  const std::uint64_t limit = std::max(flight_size, smss_) + std::uint64_t{smss_};
  cwnd_ = clamp_window(std::min<std::uint64_t>(ssthresh_, limit), smss_);
  cwnd_carry_ = 0;
  bytes_acked_ = 0;
}

void CongestionControl::on_timeout(std::uint32_t flight_size, Instant /*now*/) {
  if (algorithm_ == CongestionAlgorithm::cubic) {
    cubic_on_loss(flight_size);
    // RFC 9438 4.8: the first stage after a timeout starts with K = 0 and W_max = cwnd_epoch;
    // a zero W_max makes the next epoch do exactly that.
    w_max_ = 0;
  } else {
    ssthresh_ = reduced_ssthresh(flight_size, 1, 2, smss_);  // RFC 5681 eq. 4
  }
  cwnd_ = smss_;  // RFC 5681 3.1: the loss window, 1 SMSS
  cwnd_carry_ = 0;
  bytes_acked_ = 0;
}

void CongestionControl::on_idle_restart() {
  // RFC 5681 4.1: the restart window is min(IW, cwnd). CUBIC's t must not include the idle
  // time, or W_cubic would jump (RFC 9438 5.8); a new epoch starts with the next ACK.
  cwnd_ = std::min(cwnd_, initial_window());
  cwnd_carry_ = 0;
  bytes_acked_ = 0;
  epoch_valid_ = false;
}

void CongestionControl::set_cwnd(std::uint32_t cwnd) {
  cwnd_ = clamp_window(cwnd, smss_);
  cwnd_carry_ = 0;
}

}  // namespace ustack::tcp
