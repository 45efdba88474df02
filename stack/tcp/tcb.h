// Tcb: the Transmission Control Block of one connection (RFC 9293 3.3.1), with the RFC's names
// for the sequence variables so that the code reads next to the RFC:
//
//   Send Sequence Space (RFC 9293 figure 3)
//
//        1         2          3          4
//   ----------|----------|----------|----------
//          SND.UNA    SND.NXT    SND.UNA
//                               +SND.WND
//   1 - old sequence numbers that have been acknowledged
//   2 - sequence numbers of unacknowledged data
//   3 - sequence numbers allowed for new data transmission
//   4 - future sequence numbers that are not yet allowed
//
//   Receive Sequence Space (RFC 9293 figure 4)
//
//        1          2          3
//   ----------|----------|----------
//          RCV.NXT    RCV.NXT
//                    +RCV.WND
//
// One addition to the RFC's variables, as in BSD: snd_max, the highest sequence number sent.
// After a retransmission timeout SND.NXT goes back to SND.UNA to resend (go-back-N, RFC 6298
// 5.4), and an ACK is acceptable up to snd_max, not just the rewound SND.NXT.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "stack/base/fmt.h"
#include "stack/base/time.h"
#include "stack/tcp/congestion.h"
#include "stack/tcp/receive_buffer.h"
#include "stack/tcp/rtt_estimator.h"
#include "stack/tcp/sack_scoreboard.h"
#include "stack/tcp/send_buffer.h"
#include "stack/tcp/seq.h"

namespace ustack::tcp {

// RFC 9293 3.3.2.
enum class TcpState : std::uint8_t {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};

std::string_view state_name(TcpState s);

// States in which both sides' ISNs are known (RFC 9293 3.10.7.4 "synchronized states").
constexpr bool is_synchronized(TcpState s) {
  return s >= TcpState::established || s == TcpState::syn_received;
}

struct Tcb {
  TcpState state = TcpState::closed;

  // Send side (RFC 9293 3.3.1).
  Seq iss;                        // initial send sequence number
  Seq snd_una;                    // oldest unacknowledged
  Seq snd_nxt;                    // next to send
  Seq snd_max;                    // highest sent + 1 (see the file comment)
  std::uint32_t snd_wnd = 0;      // peer's window, scaled to bytes
  Seq snd_wl1;                    // SEG.SEQ of the last window update
  Seq snd_wl2;                    // SEG.ACK of the last window update
  std::uint32_t max_snd_wnd = 0;  // largest window the peer offered (RFC 5961 5.2, SWS)
  std::uint8_t snd_wscale = 0;    // the peer's shift (RFC 7323 2.2)
  std::uint16_t snd_mss = 536;    // data bytes per segment we send (options already taken off)
  // The interface's device offloads (DeviceOffloads), read when the connection opens: leave the
  // checksum to the device, and send TSO segments of up to tso_max bytes of IPv4 datagram
  // (0: every segment at most snd_mss).
  bool checksum_offload = false;
  std::uint32_t tso_max = 0;
  bool fin_queued = false;  // the application closed its side: FIN after the data
  bool fin_sent = false;    // FIN occupies fin_seq
  Seq fin_seq;              // our FIN's sequence number, once sent

  // Receive side.
  Seq irs;                         // initial receive sequence number
  Seq rcv_nxt;                     // next expected
  Seq rcv_adv;                     // right edge of the window we last advertised
  std::uint8_t rcv_wscale = 0;     // our shift
  std::uint16_t rcv_mss = 536;     // the MSS we advertised
  bool fin_received = false;       // the peer's FIN was processed (RCV.NXT covers it)
  std::optional<Seq> fin_pending;  // an out-of-order FIN at this sequence number

  // Options agreed in the handshake.
  bool ws_enabled = false;      // RFC 7323 window scaling both ways
  bool ts_enabled = false;      // RFC 7323 timestamps
  bool sack_enabled = false;    // RFC 2018 SACK-permitted both ways
  std::uint32_t ts_recent = 0;  // TS.Recent (RFC 7323 4.3)
  Instant ts_recent_at{};       // when TS.Recent was set (RFC 7323 5.5, 24 days)
  std::uint32_t ts_offset = 0;  // random start of our TSval clock (RFC 7323 5.4)
  Seq last_ack_sent;            // Last.ACK.sent (RFC 7323 4.3)

  SendBuffer send_buffer;
  ReceiveBuffer receive_buffer;
  RttEstimator rtt;
  CongestionControl cc{CongestionAlgorithm::cubic, 536};
  SackScoreboard sack;

  // RTT timing without timestamps (Karn, RFC 6298 3): one segment timed at a time.
  bool rtt_timing = false;
  Seq rtt_seq;
  Instant rtt_sent_at{};

  // Loss recovery (RFC 5681 3.2, RFC 6582, RFC 6675).
  std::uint32_t dup_acks = 0;
  bool in_recovery = false;
  Seq recover;   // snd_max when recovery began (RFC 6582 "recover")
  Seq high_rxt;  // highest retransmitted (RFC 6675 HighRxt)

  // Deadlines (kNever when off). The connection's TimerQueue timer sits at the earliest.
  Instant retransmit_at = kNever;  // RTO, SYN/SYN-ACK retransmission or zero-window probe
  Instant delayed_ack_at = kNever;
  Instant keepalive_at = kNever;
  Instant time_wait_until = kNever;    // TIME-WAIT 2*MSL, or an orphan's FIN-WAIT-2 limit
  bool persist = false;                // retransmit_at is the zero-window probe (RFC 9293 3.8.6.1)
  std::uint32_t retransmits = 0;       // consecutive expiries without progress
  std::uint32_t keepalive_probes = 0;  // unanswered
  Instant last_sent_at{};              // for the idle restart of cwnd
  Instant last_received_at{};          // for keepalive (RFC 9293 3.8.4 "idle")

  // ACK policy (RFC 9293 3.8.6.3, RFC 5681 4.2).
  bool ack_now = false;  // send an ACK at the next output
  // The send() being handled said MSG_MORE: its short tail waits for the next send (or the
  // FIN) to fill a segment, as Linux corks that one push.
  bool more_coming = false;
  std::uint32_t unacked_segments = 0;  // full segments received since the last ACK we sent

  // RFC 5961 10: challenge ACKs, limited per connection.
  Instant challenge_window_start{};
  std::uint32_t challenge_acks = 0;
  // ACKs answering unacceptable bare ACKs, at most one per 500 ms.
  Instant last_invalid_ack_at{};
};

}  // namespace ustack::tcp

template <>
struct fmt::formatter<ustack::tcp::TcpState> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(ustack::tcp::TcpState s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(ustack::tcp::state_name(s), ctx);
  }
};
