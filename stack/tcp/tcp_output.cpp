// TCP output: what a connection sends and when.
//
// Call order: Tcp::output (after a user call or an arriving segment) -> send_new_data /
// send_recovery -> send_segment -> Ipv4::output. Timers: Tcp::on_timer -> retransmit_timeout,
// send_probe (zero window, keepalive), send_ack (delayed ACK), finish (TIME-WAIT).
#include <algorithm>
#include <cerrno>

#include "stack/base/log.h"
#include "stack/stack.h"
#include "stack/tcp/tcp.h"

namespace ustack::tcp {

using wire::TcpHeader;
namespace flag = wire::tcp_flag;

std::uint32_t Tcp::tsval(const TcpSocket& s) const {
  // RFC 7323 5.4: a clock of about 1 ms per tick, started at a random value per connection.
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(stack_.now().time_since_epoch());
  return static_cast<std::uint32_t>(ms.count()) + s.tcb.ts_offset;
}

std::uint32_t Tcp::flight_size(const TcpSocket& s) const {
  return seq_offset(s.tcb.snd_una, s.tcb.snd_max);
}

std::uint32_t Tcp::window_to_advertise(TcpSocket& s) {
  Tcb& t = s.tcb;
  const std::uint32_t free = t.receive_buffer.window();
  Seq right = t.rcv_nxt + free;
  // RFC 9293 3.8.6.2.2 (receiver SWS avoidance, MUST-39): move the right edge only by at least
  // min(half the buffer, one MSS); and never move it back (shrinking the window, 3.8.6.2.2
  // "strongly discouraged"), even if the application's buffer shrank.
  const std::uint32_t step = std::min<std::uint32_t>(
      static_cast<std::uint32_t>(t.receive_buffer.capacity() / 2), t.rcv_mss);
  if (right <= t.rcv_adv) {
    right = t.rcv_adv;
  } else if (static_cast<std::uint32_t>(right - t.rcv_adv) < step && t.rcv_adv > t.rcv_nxt) {
    right = t.rcv_adv;
  }
  const std::uint32_t window = seq_offset(t.rcv_nxt, seq_max(right, t.rcv_nxt));
  // RFC 7323 2.3: the field carries window >> shift, rounded down, so the offer never exceeds
  // the buffer. The right edge may then seem to retract by less than 2^shift (RFC 7323 2.4
  // allows it); rcv_adv keeps the furthest edge offered, which input still accepts. Rounding
  // up instead would let each ACK push the edge a little past the buffer, until a full buffer
  // still offered a window and the sender never saw zero.
  const std::uint32_t field = std::min<std::uint32_t>(window >> t.rcv_wscale, 0xffff);
  t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt + (field << t.rcv_wscale));
  return field;
}

void Tcp::send_segment(TcpSocket& s, Seq seq, std::uint32_t length, std::uint8_t flags) {
  Tcb& t = s.tcb;
  TcpHeader h;
  h.src_port = s.local.port;
  h.dst_port = s.remote.port;
  h.seq = seq;
  h.flags = flags;
  const bool syn = (flags & flag::syn) != 0;
  const bool rst = (flags & flag::rst) != 0;
  if (t.state != TcpState::syn_sent && !rst) h.flags |= flag::ack;
  if (h.has_ack()) h.ack = t.rcv_nxt;
  if (syn) {
    // RFC 9293 3.7.1 (MSS), RFC 7323 (window scale, timestamps), RFC 2018 (SACK-permitted).
    // A SYN-ACK offers only what the peer's SYN offered.
    h.options.mss = t.rcv_mss;
    const bool active = t.state == TcpState::syn_sent;
    if (config_.window_scaling && (active || t.rcv_wscale != 0 || t.snd_wscale != 0)) {
      if (active || t.rcv_wscale != 0) h.options.window_scale = t.rcv_wscale;
    }
    if (active ? config_.sack : t.sack_enabled) h.options.sack_permitted = true;
    if (active ? config_.timestamps : t.ts_enabled) {
      h.options.timestamps = wire::TcpTimestamps{tsval(s), t.ts_recent};
    }
    // RFC 7323 2.2: the window of a SYN is never scaled.
    h.window =
        static_cast<std::uint16_t>(std::min<std::uint32_t>(t.receive_buffer.window(), 0xffff));
    t.rcv_adv = t.rcv_nxt + h.window;
  } else if (!rst) {
    h.window = static_cast<std::uint16_t>(window_to_advertise(s));
    if (t.ts_enabled) h.options.timestamps = wire::TcpTimestamps{tsval(s), t.ts_recent};
    // RFC 2018 4: SACK blocks whenever out-of-order data is held, the most recent first.
    if (t.sack_enabled && t.receive_buffer.range_count() > 0) {
      const std::size_t n =
          std::min(t.receive_buffer.range_count(), wire::TcpOptions::kMaxSackBlocks);
      for (std::size_t i = 0; i < n; ++i) {
        auto r = t.receive_buffer.range(i);
        h.options.sack_blocks[i] = wire::SackBlock{t.rcv_nxt + r.begin, t.rcv_nxt + r.end};
      }
      h.options.sack_count = static_cast<std::uint8_t>(n);
      h.options.sack_count = static_cast<std::uint8_t>(h.options.sacks_that_fit());
      // SND.MSS leaves room for the timestamps only (RFC 6691): a full-sized data segment
      // carries no SACK blocks rather than grow past the path MTU.
      const std::size_t full =
          std::size_t{t.snd_mss} + TcpHeader::kMinSize + (t.ts_enabled ? 12 : 0);
      // A TSO segment is cut into pieces of at most snd_mss bytes, each with this header.
      const std::size_t piece = std::min<std::size_t>(length, t.snd_mss);
      while (h.options.sack_count > 0 && h.emit_size() + piece > full) --h.options.sack_count;
    }
  } else if (t.ts_enabled) {
    h.options.timestamps = wire::TcpTimestamps{tsval(s), t.ts_recent};
  }

  Packet p = Packet::allocate(length);
  if (length > 0) {
    const std::uint32_t offset = seq_offset(t.snd_una, seq);
    t.send_buffer.copy_out(offset, {p.put(length), length});
  }
  h.payload_length = static_cast<std::uint16_t>(length);  // for the trace line
  const std::size_t header_size = h.emit_size();
  p.push(header_size);
  // Offloads (DeviceOffloads, PacketOffload): the device finishes the checksum, and cuts a
  // segment longer than the MSS into MSS-sized ones (virtio GSO_TCPV4 with gso_size = MSS).
  h.emit(p.bytes(), s.local.address, s.remote.address, t.checksum_offload);
  p.offload.csum_partial = t.checksum_offload;
  if (length > t.snd_mss) p.offload.gso_size = t.snd_mss;
  log::tcp().trace("tx {} > {} {}", s.local, s.remote, h);

  if (h.has_ack()) {
    t.last_ack_sent = t.rcv_nxt;
    t.ack_now = false;
    t.delayed_ack_at = kNever;
    t.unacked_segments = 0;
  }
  t.last_sent_at = stack_.now();
  Stats& stats = stack_.stats();
  stats.add(Counter::tcp_tx);
  if (length > 0 && seq < t.snd_max) {
    stats.add(Counter::tcp_retransmits);
  }
  ip::Ipv4OutputParams params;
  params.dst = s.remote.address;
  params.src = s.local.address;
  params.protocol = wire::IpProtocol::tcp;
  // Path MTU discovery (RFC 1191): segments never need fragmenting, and an ICMP "fragmentation
  // needed" lowers the MSS (Tcp::icmp_error).
  params.dont_fragment = true;
  stack_.ipv4().output(std::move(p), params);
}

void Tcp::send_syn(TcpSocket& s) {
  Tcb& t = s.tcb;
  const bool active = t.state == TcpState::syn_sent;
  send_segment(s, t.iss, 0, active ? flag::syn : flag::syn | flag::ack);
  t.snd_nxt = t.iss + 1;
  t.snd_max = seq_max(t.snd_max, t.snd_nxt);
  if (t.retransmit_at == kNever) t.retransmit_at = stack_.now() + t.rtt.rto();
}

void Tcp::send_ack(TcpSocket& s) {
  // SND.MAX, not SND.NXT: after a timeout SND.NXT is rewound for the retransmissions, and an
  // ACK carrying that old number is below the peer's window and dropped — both ends stuck in
  // go-back-N would never hear each other's ACKs (BSD tcp_output does the same).
  send_segment(s, s.tcb.snd_max, 0, flag::ack);
}

void Tcp::send_challenge_ack(TcpSocket& s) {
  Tcb& t = s.tcb;
  // RFC 5961 10: at most challenge_ack_limit per second, per connection (a global limit would
  // let an attacker learn about other connections from the missing ACKs).
  const Instant now = stack_.now();
  if (now - t.challenge_window_start >= 1s) {
    t.challenge_window_start = now;
    t.challenge_acks = 0;
  }
  if (t.challenge_acks >= config_.challenge_ack_limit) {
    stack_.stats().add(Counter::tcp_challenge_ack_limited);
    return;
  }
  ++t.challenge_acks;
  stack_.stats().add(Counter::tcp_challenge_ack);
  send_ack(s);
}

void Tcp::send_probe(TcpSocket& s) {
  // A segment the peer must answer with an ACK: one sequence number it has seen already
  // (RFC 9293 3.8.4 keepalive, and Linux's zero-window probe), carrying no data.
  send_segment(s, s.tcb.snd_una - 1, 0, flag::ack);
}

void Tcp::send_reset(const Segment& seg) {
  // RFC 9293 3.10.7.1: never answer a RST with a RST.
  if (seg.h.rst()) return;
  TcpHeader h;
  h.src_port = seg.h.dst_port;
  h.dst_port = seg.h.src_port;
  if (seg.h.has_ack()) {
    // <SEQ=SEG.ACK><CTL=RST>
    h.seq = seg.ack();
    h.flags = flag::rst;
  } else {
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    h.seq = Seq{0};
    h.ack = seg.seq() + seg.length();
    h.flags = flag::rst | flag::ack;
  }
  Packet p = Packet::allocate(0);
  p.push(h.emit_size());
  h.emit(p.bytes(), seg.ip.dst, seg.ip.src);
  log::tcp().trace("tx {} > {} {}", seg.local(), seg.remote(), h);
  stack_.stats().add(Counter::tcp_tx);
  stack_.stats().add(Counter::tcp_tx_reset);
  ip::Ipv4OutputParams params;
  params.dst = seg.ip.src;
  params.src = seg.ip.dst;
  params.protocol = wire::IpProtocol::tcp;
  params.dont_fragment = true;
  stack_.ipv4().output(std::move(p), params);
}

void Tcp::send_synack_cookie(const Segment& seg, Seq cookie, std::uint16_t mss) {
  // RFC 4987 3.6: a SYN-ACK that keeps no state. Only the MSS survives in the cookie, so no
  // other option is offered.
  TcpHeader h;
  h.src_port = seg.h.dst_port;
  h.dst_port = seg.h.src_port;
  h.seq = cookie;
  h.ack = seg.seq() + 1;
  h.flags = flag::syn | flag::ack;
  h.window =
      static_cast<std::uint16_t>(std::min<std::size_t>(config_.default_receive_buffer, 0xffff));
  h.options.mss = mss;
  Packet p = Packet::allocate(0);
  p.push(h.emit_size());
  h.emit(p.bytes(), seg.ip.dst, seg.ip.src);
  stack_.stats().add(Counter::tcp_tx);
  stack_.stats().add(Counter::tcp_syn_cookies_sent);
  ip::Ipv4OutputParams params;
  params.dst = seg.ip.src;
  params.src = seg.ip.dst;
  params.protocol = wire::IpProtocol::tcp;
  params.dont_fragment = true;
  stack_.ipv4().output(std::move(p), params);
}

std::uint32_t Tcp::max_segment(const Tcb& t) {
  // With TSO, as many whole MSS-sized pieces as one IPv4 datagram of tso_max bytes holds next to
  // the largest IP and TCP headers (RFC 791, RFC 9293 3.1: 60 bytes each).
  constexpr std::uint32_t kHeaders = wire::Ipv4Header::kMaxSize + TcpHeader::kMaxSize;
  if (t.tso_max <= kHeaders + t.snd_mss) return t.snd_mss;
  const std::uint32_t room = t.tso_max - kHeaders;
  return room - room % t.snd_mss;
}

bool Tcp::send_new_data(TcpSocket& s) {
  Tcb& t = s.tcb;
  bool sent = false;
  // Bounded: each pass sends at least one byte of the buffer or stops.
  while (true) {
    const std::uint32_t sent_offset = std::min<std::uint32_t>(
        seq_offset(t.snd_una, t.snd_nxt), static_cast<std::uint32_t>(t.send_buffer.size()));
    const std::uint32_t unsent = static_cast<std::uint32_t>(t.send_buffer.size()) - sent_offset;
    const bool fin_due = t.fin_queued && (!t.fin_sent || t.snd_nxt == t.fin_seq);
    if (unsent == 0 && !fin_due) break;

    // The peer's window (RFC 9293 3.8.6.2.1 "usable window") and the congestion window
    // (RFC 5681 2: at most min(cwnd, rwnd) outstanding). During SACK recovery the data in the
    // network is RFC 6675's pipe, not SND.NXT - SND.UNA.
    const Seq window_edge = t.snd_una + t.snd_wnd;
    const std::uint32_t peer_room =
        t.snd_nxt < window_edge ? seq_offset(t.snd_nxt, window_edge) : 0;
    const std::uint32_t in_flight = t.in_recovery && t.sack_enabled
                                        ? t.sack.pipe(t.snd_una, t.snd_max, t.high_rxt, t.snd_mss)
                                        : seq_offset(t.snd_una, t.snd_nxt);
    const std::uint32_t cwnd_room = t.cc.cwnd() > in_flight ? t.cc.cwnd() - in_flight : 0;
    std::uint32_t length = std::min({unsent, max_segment(t), peer_room, cwnd_room});
    // A TSO segment carries whole MSS-sized pieces only: a shorter tail goes on its own below,
    // under the same SWS and Nagle rules as without TSO.
    if (length > t.snd_mss) length -= length % t.snd_mss;

    if (unsent == 0) {
      // Only the FIN is left: it takes no window (Linux sends it regardless, as RFC 9293
      // 3.10.4 "form a FIN segment and send it").
      send_segment(s, t.snd_nxt, 0, flag::fin | flag::ack);
      t.fin_sent = true;
      t.fin_seq = t.snd_nxt;
      t.snd_nxt = t.snd_nxt + 1;
      t.snd_max = seq_max(t.snd_max, t.snd_nxt);
      sent = true;
      break;
    }
    if (length == 0) break;
    // SWS avoidance and Nagle hold back new data only: a retransmission after a timeout must
    // go out whatever the window's size (RFC 6298 5.4; BSD does the same).
    if (length < t.snd_mss && t.snd_nxt == t.snd_max) {
      if (length < unsent) {
        // Held back by a window: sender SWS avoidance (RFC 9293 3.8.6.2.1, MUST-38) sends a
        // short segment only if it is at least half the largest window the peer offered.
        if (length < t.max_snd_wnd / 2) break;
      } else if (t.more_coming && !t.fin_queued) {
        // MSG_MORE: the application has more for this segment (Linux TCP_NAGLE_CORK), such as
        // a server's FIN right after its last response, which then shares the segment.
        break;
      } else if (!s.nodelay && !t.fin_queued && seq_offset(t.snd_una, t.snd_nxt) > 0 &&
                 t.snd_nxt == t.snd_max) {
        // Nagle (RFC 9293 3.7.4, SHLD-7): one short segment in flight at a time, unless
        // TCP_NODELAY (MUST-17) or the connection is closing.
        break;
      }
    }
    std::uint8_t flags = flag::ack;
    const bool last = length == unsent;
    if (last) flags |= flag::psh;  // RFC 9293 MUST-61: PSH on the last segment of the buffer
    const bool with_fin = last && t.fin_queued && (!t.fin_sent || t.fin_seq == t.snd_nxt + length);
    if (with_fin) flags |= flag::fin;
    const bool new_data = t.snd_nxt == t.snd_max;
    if (!new_data && t.rtt_timing) t.rtt_timing = false;  // Karn: never time a retransmission
    send_segment(s, t.snd_nxt, length, flags);
    if (new_data && !t.ts_enabled && !t.rtt_timing) {
      t.rtt_timing = true;
      t.rtt_seq = t.snd_nxt;
      t.rtt_sent_at = stack_.now();
    }
    t.snd_nxt = t.snd_nxt + length;
    if (with_fin) {
      t.fin_sent = true;
      t.fin_seq = t.snd_nxt;
      t.snd_nxt = t.snd_nxt + 1;
    }
    t.snd_max = seq_max(t.snd_max, t.snd_nxt);
    sent = true;
  }
  return sent;
}

bool Tcp::send_recovery(TcpSocket& s) {
  Tcb& t = s.tcb;
  bool sent = false;
  // RFC 6675 5 (step C): while cwnd - pipe >= 1 SMSS, send NextSeg(). Bounded by the
  // scoreboard: every pass moves HighRxt forward or stops.
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t pipe = t.sack.pipe(t.snd_una, t.snd_max, t.high_rxt, t.snd_mss);
    if (t.cc.cwnd() < pipe + t.snd_mss) break;
    Seq start;
    std::uint32_t length = 0;
    // NextSeg rule 1: the first un-SACKed hole IsLost says is gone.
    if (!t.sack.next_lost(seq_max(t.high_rxt, t.snd_una), t.high_rxt, t.snd_mss, &start, &length)) {
      break;  // rule 2 (new data) is send_new_data's part
    }
    std::uint8_t flags = flag::ack;
    const std::uint32_t data_end = static_cast<std::uint32_t>(t.send_buffer.size());
    const std::uint32_t offset = seq_offset(t.snd_una, start);
    if (offset >= data_end) break;
    length = std::min(length, data_end - offset);
    if (t.fin_sent && start + length == t.fin_seq) flags |= flag::fin;
    t.rtt_timing = false;
    send_segment(s, start, length, flags);
    t.high_rxt = start + length;
    sent = true;
  }
  return sent;
}

void Tcp::retransmit_first(TcpSocket& s) {
  Tcb& t = s.tcb;
  const std::uint32_t data = static_cast<std::uint32_t>(t.send_buffer.size());
  const std::uint32_t outstanding = seq_offset(t.snd_una, t.snd_max);
  std::uint32_t length = std::min({std::uint32_t{t.snd_mss}, data, outstanding});
  std::uint8_t flags = flag::ack;
  if (t.fin_sent && t.snd_una + length == t.fin_seq) flags |= flag::fin;
  if (length == 0 && (flags & flag::fin) == 0) return;
  t.rtt_timing = false;  // Karn
  if (length == 0) stack_.stats().add(Counter::tcp_retransmits);
  send_segment(s, t.snd_una, length, flags);
  t.high_rxt = seq_max(t.high_rxt, t.snd_una + length);
}

void Tcp::output(TcpSocket& s) {
  Tcb& t = s.tcb;
  switch (t.state) {
    case TcpState::established:
    case TcpState::fin_wait_1:
    case TcpState::close_wait:
    case TcpState::closing:
    case TcpState::last_ack:
      break;
    case TcpState::fin_wait_2:
    case TcpState::time_wait:
    case TcpState::syn_received:
      if (t.ack_now) send_ack(s);
      update_timer(s);
      return;
    default:
      return;
  }
  // RFC 5681 4.1: after an idle period longer than an RTO, restart from the initial window.
  if (t.snd_una == t.snd_max && stack_.now() - t.last_sent_at > t.rtt.rto()) {
    t.cc.on_idle_restart();
  }
  bool sent = false;
  if (t.in_recovery && t.sack_enabled) sent = send_recovery(s);
  if (!t.persist) sent = send_new_data(s) || sent;
  if (!sent && t.ack_now) send_ack(s);

  // The persist timer: data is waiting and nothing is in flight to bring a window update back.
  // Either the window is closed (the zero-window probe, RFC 9293 3.8.6.1, MUST-35/36) or it is
  // too small for sender SWS avoidance to use: then the timer is RFC 1122 4.2.3.4's override
  // timeout, which sends what fits, so a lost window update cannot stall the connection.
  // Data held for MSG_MORE waits for the application, not for a window.
  const bool waiting =
      t.send_buffer.size() > seq_offset(t.snd_una, t.snd_nxt) || (t.fin_queued && !t.fin_sent);
  if (waiting && t.snd_una == t.snd_max && !t.persist && !t.more_coming) {
    t.persist = true;
    t.retransmit_at = stack_.now() + t.rtt.rto();
  }
  arm_retransmit(s);
  update_timer(s);
}

void Tcp::arm_retransmit(TcpSocket& s) {
  Tcb& t = s.tcb;
  // RFC 6298 5.1: start the timer when data goes out and it is not running.
  if (t.snd_una != t.snd_max && !t.persist && t.retransmit_at == kNever) {
    t.retransmit_at = stack_.now() + t.rtt.rto();
  }
}

void Tcp::update_timer(TcpSocket& s) {
  if (s.timer == kNoTimer) return;
  const Tcb& t = s.tcb;
  const Instant next =
      std::min({t.retransmit_at, t.delayed_ack_at, t.keepalive_at, t.time_wait_until});
  if (stack_.timers().deadline(s.timer) != next) stack_.timers().arm(s.timer, next);
}

void Tcp::retransmit_timeout(TcpSocket& s) {
  Tcb& t = s.tcb;
  t.retransmit_at = kNever;
  ++t.retransmits;
  Stats& stats = stack_.stats();
  if (t.persist) {
    // Probes the peer answers keep a closed window alive forever (MUST-37); only unanswered
    // ones count toward the limit (process_ack resets retransmits).
    if (t.retransmits > config_.data_retries) {
      stats.add(Counter::tcp_timeout);
      return finish(s, s.soft_error != 0 ? s.soft_error : ETIMEDOUT);
    }
    const std::uint32_t buffered = static_cast<std::uint32_t>(t.send_buffer.size());
    const std::uint32_t unsent =
        buffered - std::min<std::uint32_t>(seq_offset(t.snd_una, t.snd_nxt), buffered);
    const std::uint32_t room = std::min({t.snd_wnd, std::uint32_t{t.snd_mss}, unsent});
    if (room > 0 && t.snd_una == t.snd_max) {
      // The window is open but smaller than sender SWS avoidance waits for: the override
      // timeout sends what fits (RFC 1122 4.2.3.4); the retransmission timer takes over.
      t.persist = false;
      t.retransmits = 0;
      stats.add(Counter::tcp_sws_override);
      const auto flags = static_cast<std::uint8_t>(flag::ack | (room == unsent ? flag::psh : 0));
      send_segment(s, t.snd_nxt, room, flags);
      t.snd_nxt = t.snd_nxt + room;
      t.snd_max = seq_max(t.snd_max, t.snd_nxt);
      t.retransmit_at = stack_.now() + t.rtt.rto();
      return;
    }
    stats.add(Counter::tcp_window_probes);
    send_probe(s);
    t.rtt.backoff();  // SHLD-29/30: exponential backoff of the probes
    t.retransmit_at = stack_.now() + t.rtt.rto();
    return;
  }
  switch (t.state) {
    case TcpState::syn_sent:
      if (t.retransmits > config_.syn_retries) {
        stats.add(Counter::tcp_timeout);
        return finish(s, s.soft_error != 0 ? s.soft_error : ETIMEDOUT);
      }
      t.rtt.backoff();
      stats.add(Counter::tcp_retransmits);
      send_syn(s);
      return;
    case TcpState::syn_received:
      if (t.retransmits > config_.synack_retries) {
        stats.add(Counter::tcp_timeout);
        return finish(s, s.soft_error != 0 ? s.soft_error : ETIMEDOUT);
      }
      t.rtt.backoff();
      stats.add(Counter::tcp_retransmits);
      send_syn(s);
      return;
    default:
      break;
  }
  if (t.snd_una == t.snd_max) return;
  if (t.retransmits > config_.data_retries) {
    stats.add(Counter::tcp_timeout);
    return finish(s, s.soft_error != 0 ? s.soft_error : ETIMEDOUT);
  }
  stats.add(Counter::tcp_rto);
  // RFC 5681 3.1 eq. 4 on the first expiry; later ones of the same loss only shrink cwnd.
  if (t.retransmits == 1) {
    t.cc.on_timeout(flight_size(s), stack_.now());
  } else {
    t.cc.set_cwnd(t.snd_mss);
  }
  // RFC 6582 4 / RFC 6675 5.1: leave recovery; duplicate ACKs for data sent before the
  // timeout must not start another fast retransmit.
  t.in_recovery = false;
  t.dup_acks = 0;
  t.recover = t.snd_max;
  t.high_rxt = t.snd_una;
  t.sack.clear();
  t.rtt.backoff();        // RFC 6298 5.5
  t.rtt_timing = false;   // Karn
  t.snd_nxt = t.snd_una;  // go back (RFC 6298 5.4: retransmit the earliest segment)
  send_new_data(s);
  t.retransmit_at = stack_.now() + t.rtt.rto();  // RFC 6298 5.6
}

void Tcp::on_timer(std::uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  std::shared_ptr<TcpSocket> keep = it->second;
  TcpSocket& s = *keep;
  Tcb& t = s.tcb;
  const Instant now = stack_.now();
  if (t.time_wait_until <= now) {
    // TIME-WAIT over (RFC 9293 3.10.8), or an orphan stuck in FIN-WAIT-2.
    return finish(s, 0);
  }
  if (t.retransmit_at <= now) {
    retransmit_timeout(s);
    if (t.state == TcpState::closed) return;
  }
  if (t.delayed_ack_at <= now) {
    t.delayed_ack_at = kNever;
    stack_.stats().add(Counter::tcp_delayed_acks);
    send_ack(s);
  }
  if (t.keepalive_at <= now) {
    t.keepalive_at = kNever;
    const bool idle = t.snd_una == t.snd_max && t.send_buffer.empty();
    const Duration idle_limit =
        s.keepalive_idle != Duration::zero() ? s.keepalive_idle : config_.keepalive_idle;
    const Duration interval = s.keepalive_interval != Duration::zero() ? s.keepalive_interval
                                                                       : config_.keepalive_interval;
    const std::uint32_t count =
        s.keepalive_count != 0 ? s.keepalive_count : config_.keepalive_probes;
    if (s.keepalive && idle &&
        (t.state == TcpState::established || t.state == TcpState::close_wait)) {
      if (now - t.last_received_at >= idle_limit) {
        // RFC 9293 3.8.4: MUST-29, one lost probe is not death; `count` in a row is.
        if (t.keepalive_probes >= count) {
          stack_.stats().add(Counter::tcp_timeout);
          return finish(s, s.soft_error != 0 ? s.soft_error : ETIMEDOUT);
        }
        ++t.keepalive_probes;
        stack_.stats().add(Counter::tcp_keepalive_probes);
        send_probe(s);
        t.keepalive_at = now + interval;
      } else {
        t.keepalive_at = t.last_received_at + idle_limit;
      }
    }
  }
  update_timer(s);
}

}  // namespace ustack::tcp
