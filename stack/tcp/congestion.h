// CongestionControl: the congestion window (cwnd) and slow-start threshold (ssthresh) of a
// connection, with NewReno (RFC 5681) or CUBIC (RFC 9438) deciding how cwnd grows and shrinks.
//
// This class only does the window arithmetic. Detecting loss (duplicate ACKs, SACK, the
// retransmission timer), fast retransmit and the recovery episode itself (RFC 6582 NewReno
// partial ACKs, RFC 6675 pipe) belong to the sender, which calls:
//
//   on_ack          new data acknowledged outside recovery: slow start below ssthresh
//                   (RFC 5681 3.1, with appropriate byte counting, RFC 3465, L = 2 SMSS), then
//                   congestion avoidance (NewReno: about one SMSS per RTT; CUBIC: W_cubic(t) and
//                   the Reno-friendly region, RFC 9438 4.2-4.4)
//   on_enter_recovery  fast retransmit: ssthresh = max(FlightSize * beta, 2 SMSS); cwnd =
//                   ssthresh (RFC 5681 3.2 eq. 4 with beta 1/2; RFC 9438 4.6 beta_cubic 0.7,
//                   fast convergence 4.7 updating W_max)
//   on_exit_recovery   the recovery point was acknowledged: cwnd = ssthresh (RFC 6582 3.2
//                   step 3 "full ACK": min(ssthresh, max(FlightSize, SMSS) + SMSS))
//   on_timeout      retransmission timeout: ssthresh as on_enter_recovery (RFC 5681 eq. 4;
//                   CUBIC 4.8), cwnd = 1 SMSS (the loss window)
//   on_idle_restart the connection sent nothing for more than an RTO: cwnd = min(cwnd, initial
//                   window) (RFC 5681 4.1; Linux tcp_slow_start_after_idle)
//
// The initial window is RFC 6928's 10 segments (min(10*SMSS, max(2*SMSS, 14600)) as Linux).
// All windows are in bytes.
#pragma once

#include <cstdint>
#include <string_view>

#include "stack/base/time.h"

namespace ustack::tcp {

enum class CongestionAlgorithm : std::uint8_t { new_reno, cubic };

std::string_view congestion_algorithm_name(CongestionAlgorithm a);

class CongestionControl {
 public:
  CongestionControl(CongestionAlgorithm algorithm, std::uint32_t smss);

  CongestionAlgorithm algorithm() const { return algorithm_; }
  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }
  std::uint32_t smss() const { return smss_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

  // The sender's MSS changed (peer's MSS option, PMTU): cwnd keeps its size in segments.
  void set_smss(std::uint32_t smss);

  // `acked`: bytes newly acknowledged by this ACK. `srtt`: the current smoothed RTT (zero
  // before the first sample). `now`: the time of the ACK (CUBIC's t).
  void on_ack(std::uint32_t acked, Instant now, Duration srtt);
  // `flight_size`: bytes outstanding when loss was detected (RFC 5681 FlightSize).
  void on_enter_recovery(std::uint32_t flight_size, Instant now);
  void on_exit_recovery(std::uint32_t flight_size);
  void on_timeout(std::uint32_t flight_size, Instant now);
  void on_idle_restart();

  // Sets cwnd directly, within [1 SMSS, 2^31) (e.g. NewReno's window inflation during recovery,
  // RFC 6582 3.2 steps 4-5, which the sender does).
  void set_cwnd(std::uint32_t cwnd);

 private:
  std::uint32_t initial_window() const;
  void cubic_on_ack(std::uint32_t acked, Instant now, Duration srtt);
  // RFC 9438 4.6 / 4.7: sets ssthresh, cwnd_prior and W_max and ends the epoch; cwnd is the
  // caller's to set.
  void cubic_on_loss(std::uint32_t flight_size);

  CongestionAlgorithm algorithm_;
  std::uint32_t smss_;
  std::uint32_t cwnd_;
  std::uint32_t ssthresh_ = 0x7fffffff;  // "arbitrarily high" (RFC 5681 3.1)
  std::uint32_t bytes_acked_ = 0;        // congestion avoidance byte counting (RFC 3465)

  // CUBIC state (RFC 9438 4.1), in segments (SMSS units, as the RFC's formulas) and seconds, so
  // that set_smss leaves it alone.
  double w_max_ = 0;       // window just before the last reduction; 0 after a timeout (4.8)
  double w_est_ = 0;       // the Reno-friendly estimate (4.3)
  double k_ = 0;           // seconds from the epoch until W_cubic reaches W_max (eq. 2)
  double cwnd_prior_ = 0;  // cwnd at the last congestion event
  double cwnd_carry_ = 0;  // the fraction of a byte CUBIC's last increase left over, in bytes
  Instant epoch_start_{};  // start of the current congestion-avoidance stage, if epoch_valid_
  bool epoch_valid_ = false;
};

}  // namespace ustack::tcp
