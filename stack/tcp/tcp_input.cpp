// TCP input: where every segment arrives (Tcp::input), then the steps of RFC 9293 3.10.7
// ("SEGMENT ARRIVES") in the RFC's order, each cited where it happens:
//
//   Tcp::input            validate, demultiplex to a connection, a listener, or nobody
//   closed_input          3.10.7.1  CLOSED: answer with RST
//   listen_input          3.10.7.2  LISTEN: RST ignored, ACK reset (or a SYN cookie), SYN opens
//   syn_sent_input        3.10.7.3  SYN-SENT: our SYN answered
//   synchronized_input    3.10.7.4  every other state: first check sequence number, second RST,
//                                   third security, fourth SYN, fifth ACK, sixth URG, seventh
//                                   text, eighth FIN
//
// with RFC 7323 (PAWS, TS.Recent), RFC 5961 (challenge ACKs) and RFC 2018/6675 (SACK) folded
// into the steps they refine.
#include <algorithm>
#include <cerrno>

#include "stack/base/log.h"
#include "stack/stack.h"
#include "stack/tcp/tcp.h"

namespace ustack::tcp {

using wire::TcpHeader;
namespace flag = wire::tcp_flag;

namespace {

// RFC 7323 5.5: TS.Recent older than 24 days may be invalid (the peer's clock wrapped).
constexpr Duration kPawsIdle = std::chrono::hours(24 * 24);
// The smallest MSS we send with, whatever the peer says (CHECKLISTS: MSS 0/1 clamped).
constexpr std::uint16_t kMinMss = 64;
// The aligned timestamps option takes this much of every segment (RFC 7323 3, RFC 6691).
constexpr std::uint16_t kTimestampsSize = 12;

}  // namespace

void Tcp::input(Interface& iface, const wire::Ipv4Header& ip, Packet packet) {
  Stats& stats = stack_.stats();
  stats.add(Counter::tcp_rx);
  // A segment the local kernel vouches for (virtio NEEDS_CSUM / DATA_VALID, PacketOffload) is
  // not summed: with NEEDS_CSUM the field holds only the pseudo-header sum and cannot verify.
  auto parsed =
      TcpHeader::parse(packet.bytes(), ip.src, ip.dst, !packet.offload.checksum_trusted());
  if (!parsed) return stats.drop(parsed.error(), "from {}", ip.src);
  // RFC 9293 MUST-57 (RFC 1122 4.2.3.10): a segment to a broadcast or multicast address opens
  // nothing and gets no answer.
  if (packet.link_broadcast || ip.dst.is_broadcast() || ip.dst.is_multicast() ||
      iface.is_subnet_broadcast(ip.dst)) {
    return stats.drop(Counter::tcp_not_unicast, "{} > {} {}", ip.src, ip.dst, *parsed);
  }
  Segment seg{&iface, ip, *parsed, std::move(packet)};
  seg.payload.pull(seg.h.header_length);
  log::tcp().trace("rx {} > {} {}", seg.remote(), seg.local(), seg.h);

  auto it = connections_.find(FourTuple{ip.dst, ip.src, seg.h.dst_port, seg.h.src_port});
  if (it != connections_.end()) {
    std::shared_ptr<TcpSocket> s = it->second->shared_from_this();
    if (s->state() == TcpState::time_wait && seg.h.syn() && !seg.h.has_ack() && !seg.h.rst() &&
        time_wait_reopens(*s, seg) && find_listener(seg.local()) != nullptr) {
      // RFC 9293 3.10.7.4 "fourth" allows (and RFC 6191 describes) a new SYN reopening a
      // connection in TIME-WAIT when the old incarnation's duplicates cannot be mistaken for
      // the new one's. Only when a listener will take it; otherwise the SYN gets the challenge
      // ACK below and TIME-WAIT stays.
      finish(*s, 0);
      stats.add(Counter::tcp_time_wait_reopen);
    } else {
      if (s->state() == TcpState::syn_sent) {
        syn_sent_input(*s, seg);
      } else {
        synchronized_input(*s, seg);
      }
      if (s->state() != TcpState::closed) output(*s);
      return;
    }
  }
  if (auto listener = find_listener(seg.local())) return listen_input(listener, seg);
  closed_input(seg);
}

// RFC 6191 2: with timestamps on the old incarnation and in the SYN, a newer TSval (or the same
// TSval and a higher sequence number) tells the new incarnation apart, whatever its ISN; Linux's
// tcp_timewait_state_process, which clients with tcp_tw_reuse rely on, does the same. Without
// timestamps only a sequence number above the old RCV.NXT does (RFC 9293 3.10.7.4).
bool Tcp::time_wait_reopens(const TcpSocket& s, const Segment& seg) const {
  const Tcb& t = s.tcb;
  const bool higher_seq = t.rcv_nxt < seg.seq();
  if (!t.ts_enabled || !config_.timestamps || !seg.h.options.timestamps) return higher_seq;
  const auto newer = static_cast<std::int32_t>(seg.h.options.timestamps->value - t.ts_recent);
  return newer > 0 || (newer == 0 && higher_seq);
}

// RFC 9293 3.10.7.1: CLOSED (no connection, no listener).
void Tcp::closed_input(const Segment& seg) {
  // "If the state is CLOSED ... all data in the incoming segment is discarded. An incoming
  // segment containing a RST is discarded. An incoming segment not containing a RST causes a
  // RST to be sent in response."
  stack_.stats().drop(Counter::tcp_no_connection, "{} > {} {}", seg.remote(), seg.local(), seg.h);
  send_reset(seg);
}

// RFC 9293 3.10.7.2: LISTEN.
void Tcp::listen_input(const std::shared_ptr<TcpSocket>& listener, Segment& seg) {
  Stats& stats = stack_.stats();
  // "First, check for a RST: an incoming RST should be ignored."
  if (seg.h.rst()) return stats.drop(Counter::tcp_listen_rst, "{} {}", seg.remote(), seg.h);
  // "Second, check for an ACK: any acknowledgment is bad if it arrives on a connection still in
  // the LISTEN state. An acceptable reset segment should be formed for any arriving
  // ACK-bearing segment." Unless it returns a SYN cookie we sent (RFC 4987 3.6).
  if (seg.h.has_ack()) {
    if (config_.syn_cookies && !seg.h.syn() && !seg.h.fin()) {
      if (accept_cookie(listener, seg)) return;
    }
    stats.drop(Counter::tcp_listen_ack, "{} {}", seg.remote(), seg.h);
    return send_reset(seg);
  }
  // "Third, check for a SYN."
  if (!seg.h.syn()) {
    // "Fourth, other data or control: drop the segment and return."
    return stats.drop(Counter::tcp_listen_drop, "{} {}", seg.remote(), seg.h);
  }
  // "Third ... security" has no meaning here (no IPSO/CIPSO labels).
  if (listener->accept_queue.size() > static_cast<std::size_t>(listener->backlog)) {
    // The application does not accept fast enough: like Linux, drop the SYN and let the peer
    // retry rather than grow the queue.
    return stats.drop(Counter::tcp_accept_queue_full, "{} on {}", seg.remote(), listener->local);
  }
  if (listener->half_open >= config_.max_syn_backlog || by_id_.size() >= config_.max_connections) {
    if (!config_.syn_cookies) {
      return stats.drop(Counter::tcp_syn_queue_full, "{} on {}", seg.remote(), listener->local);
    }
    // RFC 4987 3.6: the half-open queue is full (a SYN flood, or a burst): answer without
    // keeping state. The cookie carries the MSS the peer asked for.
    const std::uint16_t peer_mss = seg.h.options.mss.value_or(536);
    const std::uint16_t mss = std::min(peer_mss, mss_for(*seg.iface));
    const Seq cookie =
        cookies_.make(seg.local(), seg.remote(), seg.seq(), std::max(mss, kMinMss), stack_.now());
    return send_synack_cookie(seg, cookie, mss_for(*seg.iface));
  }

  auto child = make_socket();
  child->receive_buffer = listener->receive_buffer;
  child->send_buffer = listener->send_buffer;
  child->nodelay = listener->nodelay;
  child->keepalive = listener->keepalive;
  child->reuse_address = listener->reuse_address;
  child->keepalive_idle = listener->keepalive_idle;
  child->keepalive_interval = listener->keepalive_interval;
  child->keepalive_count = listener->keepalive_count;
  child->linger = listener->linger;
  child->linger_time = listener->linger_time;
  child->user_mss = listener->user_mss;
  child->congestion = listener->congestion;
  child->local = seg.local();
  child->remote = seg.remote();
  child->listener = listener;
  child->bound = true;
  ports_.add(*child);
  init_connection(*child, *seg.iface);
  Tcb& t = child->tcb;
  // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, and any other control or text should be
  // queued for processing later" — data on a SYN is not kept (it is not acknowledged, so the
  // peer sends it again).
  t.irs = seg.seq();
  t.rcv_nxt = seg.seq() + 1;
  t.rcv_adv = t.rcv_nxt;
  t.recover = t.iss;
  apply_syn_options(*child, seg.h.options, static_cast<std::uint16_t>(seg.iface->mtu()));
  // RFC 7323 2.2: the window in a SYN is not scaled.
  t.snd_wnd = seg.h.window;
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = seg.seq();
  t.snd_wl2 = t.iss;
  t.state = TcpState::syn_received;
  ++listener->half_open;
  insert_connection(child);
  stats.add(Counter::tcp_passive_opens);
  log::tcp().debug("{} > {} SYN: SYN-RECEIVED", child->local, child->remote);
  // "<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>"
  send_syn(*child);
  update_timer(*child);
}

std::shared_ptr<TcpSocket> Tcp::accept_cookie(const std::shared_ptr<TcpSocket>& listener,
                                              Segment& seg) {
  Stats& stats = stack_.stats();
  auto mss = cookies_.check(seg.local(), seg.remote(), seg.seq() - 1, seg.ack() - 1, stack_.now());
  if (!mss) return nullptr;
  if (listener->accept_queue.size() > static_cast<std::size_t>(listener->backlog) ||
      by_id_.size() >= config_.max_connections) {
    stats.drop(Counter::tcp_accept_queue_full, "{} on {} (cookie)", seg.remote(), listener->local);
    return listener;  // handled: dropped, no RST (the peer will retry)
  }
  auto child = make_socket();
  child->receive_buffer = listener->receive_buffer;
  child->send_buffer = listener->send_buffer;
  child->nodelay = listener->nodelay;
  child->keepalive = listener->keepalive;
  child->reuse_address = listener->reuse_address;
  child->linger = listener->linger;
  child->linger_time = listener->linger_time;
  child->local = seg.local();
  child->remote = seg.remote();
  child->listener = listener;
  child->bound = true;
  ports_.add(*child);
  init_connection(*child, *seg.iface);
  Tcb& t = child->tcb;
  t.iss = seg.ack() - 1;
  t.snd_una = t.snd_nxt = t.snd_max = seg.ack();
  t.recover = t.iss;
  t.irs = seg.seq() - 1;
  t.rcv_nxt = seg.seq();
  // No window scaling, SACK or timestamps: the cookie could not remember them. The SYN-ACK
  // offered an unscaled window of at most 64 KiB.
  t.rcv_wscale = 0;
  t.rcv_adv = t.rcv_nxt + std::min<std::uint32_t>(t.receive_buffer.window(), 0xffff);
  t.snd_mss = std::max<std::uint16_t>(std::min(*mss, t.rcv_mss), kMinMss);
  t.cc.set_smss(t.snd_mss);
  t.snd_wnd = seg.h.window;
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = seg.seq();
  t.snd_wl2 = seg.ack();
  t.state = TcpState::syn_received;
  ++listener->half_open;
  insert_connection(child);
  stats.add(Counter::tcp_syn_cookies_accepted);
  log::tcp().debug("{} > {} ACK with a valid SYN cookie: ESTABLISHED", child->local, child->remote);
  established(*child);
  // The ACK may carry data already.
  synchronized_input(*child, seg);
  if (child->state() != TcpState::closed) output(*child);
  return child;
}

void Tcp::apply_syn_options(TcpSocket& s, const wire::TcpOptions& peer, std::uint16_t iface_mtu) {
  Tcb& t = s.tcb;
  (void)iface_mtu;
  // RFC 7323 2.2 and 3.2, RFC 2018 2: an option is on only if both SYNs carried it.
  t.ws_enabled = config_.window_scaling && peer.window_scale.has_value();
  if (t.ws_enabled) {
    t.snd_wscale = *peer.window_scale;  // clamped to 14 by the parser (RFC 7323 2.3)
  } else {
    t.snd_wscale = 0;
    t.rcv_wscale = 0;
  }
  t.sack_enabled = config_.sack && peer.sack_permitted;
  t.ts_enabled = config_.timestamps && peer.timestamps.has_value();
  if (t.ts_enabled) {
    t.ts_recent = peer.timestamps->value;
    t.ts_recent_at = stack_.now();
  }
  // RFC 9293 3.7.1: without the option the peer takes 536 (MUST-15); never more than our own
  // MTU allows; and a silly value (0, 1 …) is raised to a floor so the transfer still works.
  std::uint16_t mss = peer.mss.value_or(536);
  mss = std::min(mss, t.rcv_mss);
  mss = std::max(mss, kMinMss);
  // RFC 6691: the MSS counts no options, so the timestamps on every segment come out of it.
  if (t.ts_enabled) mss = static_cast<std::uint16_t>(mss - kTimestampsSize);
  t.snd_mss = mss;
  t.cc.set_smss(mss);
}

void Tcp::established(TcpSocket& s) {
  Tcb& t = s.tcb;
  t.state = TcpState::established;
  t.retransmits = 0;
  t.retransmit_at = kNever;
  t.rtt.reset_backoff();
  if (s.keepalive) {
    const Duration idle =
        s.keepalive_idle != Duration::zero() ? s.keepalive_idle : config_.keepalive_idle;
    t.keepalive_at = stack_.now() + idle;
  }
  // A passive open is news for whoever waits on the listener (accept, poll); nobody holds the
  // child itself until it is accepted.
  auto listener = s.listener.lock();
  if (listener) {
    if (listener->half_open > 0) --listener->half_open;
    listener->accept_queue.push_back(s.shared_from_this());
  }
  stack_.stats().add(Counter::tcp_established);
  log::tcp().debug("{} > {} ESTABLISHED (mss {}, wscale {}/{}, sack {}, ts {})", s.local, s.remote,
                   t.snd_mss, t.snd_wscale, t.rcv_wscale, t.sack_enabled, t.ts_enabled);
  // A shutdown(SHUT_WR) while the handshake ran (RFC 9293 3.10.4 "queue for processing after
  // entering ESTABLISHED state").
  if (t.fin_queued) t.state = TcpState::fin_wait_1;
  wake(listener ? *listener : s);
}

// RFC 9293 3.10.7.3: SYN-SENT.
void Tcp::syn_sent_input(TcpSocket& s, Segment& seg) {
  Tcb& t = s.tcb;
  Stats& stats = stack_.stats();
  // "First, check the ACK bit: if SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless
  // the RST bit is set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST>."
  if (seg.h.has_ack() && !seq_in_open_closed_range(t.iss, seg.ack(), t.snd_max)) {
    stats.drop(Counter::tcp_bad_ack, "{} SYN-SENT ack {} outside {}..{}", s.remote, seg.ack(),
               t.iss, t.snd_max);
    return send_reset(seg);
  }
  // "Second, check the RST bit: if the ACK was acceptable, signal 'error: connection reset',
  // drop the segment, enter CLOSED state ... Otherwise (no ACK), drop the segment." RFC 5961 3
  // needs nothing more here: the ACK already proves the RST answers our SYN.
  if (seg.h.rst()) {
    if (!seg.h.has_ack())
      return stats.drop(Counter::tcp_rst_ignored, "{} SYN-SENT RST without ACK", s.remote);
    stats.add(Counter::tcp_rx_reset);
    return finish(s, ECONNREFUSED);
  }
  // "Third, check the security": nothing to check.
  // "Fourth, check the SYN bit."
  if (!seg.h.syn()) {
    // "Fifth, if neither of the SYN or RST bits is set, then drop the segment and return."
    return stats.drop(Counter::tcp_syn_sent_drop, "{} {}", s.remote, seg.h);
  }
  t.irs = seg.seq();
  t.rcv_nxt = seg.seq() + 1;
  // The window our SYN offered (unscaled, RFC 7323 2.2) now has a left edge: data on the
  // SYN-ACK lands in it.
  t.rcv_adv = t.rcv_nxt + std::min<std::uint32_t>(t.receive_buffer.window(), 0xffff);
  t.recover = t.iss;
  apply_syn_options(s, seg.h.options, static_cast<std::uint16_t>(seg.iface->mtu()));
  // RFC 7323 2.2: the window of a SYN (or SYN-ACK) is never scaled.
  t.snd_wnd = seg.h.window;
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = seg.seq();
  if (seg.h.has_ack()) {
    // "SND.UNA should be advanced to equal SEG.ACK (if there is an ACK), and any segments on
    // the retransmission queue that are thereby acknowledged should be removed."
    const Seq old_una = t.snd_una;
    t.snd_una = seg.ack();
    t.snd_wl2 = seg.ack();
    if (t.ts_enabled || t.retransmits == 0) take_rtt_sample(s, seg, old_una);
    // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to ESTABLISHED,
    // form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
    established(s);
    t.ack_now = true;
    // "If there are other controls or text in the segment, then continue processing at the
    // sixth step below where the URG bit is checked."
    seg.h.seq = seg.seq() + 1;
    seg.h.flags &= static_cast<std::uint8_t>(~flag::syn);
    if (seg.payload.size() > 0 || seg.h.fin()) {
      if (!check_sequence(s, seg)) return;
      process_text(s, seg);
      if (seg.h.fin()) process_fin(s);
    }
    return;
  }
  // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
  // and send it" — simultaneous open (RFC 9293 MUST-10).
  t.snd_wl2 = t.iss;
  t.state = TcpState::syn_received;
  log::tcp().debug("{} > {} simultaneous open: SYN-RECEIVED", s.local, s.remote);
  t.retransmit_at = kNever;
  send_syn(s);
}

void Tcp::send_invalid_ack(TcpSocket& s, const Segment& seg) {
  Tcb& t = s.tcb;
  // Two ends that each find the other's ACKs unacceptable would answer each other at link
  // speed: an ACK answering a bare ACK goes out at most every 500 ms (Linux
  // tcp_invalid_ratelimit; RFC 5961 10 asks to limit such ACKs). Data and FIN always get their
  // duplicate ACK, which the sender's loss recovery needs.
  const Instant now = stack_.now();
  if (seg.length() == 0) {
    if (now - t.last_invalid_ack_at < 500ms)
      return stack_.stats().add(Counter::tcp_invalid_ack_limited);
    t.last_invalid_ack_at = now;
  }
  send_ack(s);
}

// RFC 9293 3.10.7.4 "first, check sequence number" (with RFC 7323's PAWS before it). Returns
// false if the segment was dropped; otherwise trims it to the window.
bool Tcp::check_sequence(TcpSocket& s, Segment& seg) {
  Tcb& t = s.tcb;
  Stats& stats = stack_.stats();
  const std::uint32_t advertised = t.rcv_nxt < t.rcv_adv ? seq_offset(t.rcv_nxt, t.rcv_adv) : 0;
  std::uint32_t length = seg.length();
  if (!segment_acceptable(seg.seq(), length, t.rcv_nxt, advertised)) {
    // MUST-66: with a zero window, "special allowance should be made to accept valid ACKs,
    // URGs, and RSTs": a segment at RCV.NXT is processed without its text and FIN.
    if (advertised == 0 && seg.seq() == t.rcv_nxt && !seg.h.syn()) {
      if (seg.payload.size() > 0) stats.add(Counter::tcp_zero_window_drop);
      seg.payload.trim(0);
      seg.h.payload_length = 0;
      seg.h.flags &= static_cast<std::uint8_t>(~flag::fin);
      t.ack_now = true;
      return true;
    }
    // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
    // (unless the RST bit is set, if so drop the segment and return)."
    stats.drop(Counter::tcp_out_of_window, "{} > {} {} (rcv.nxt {} wnd {})", s.remote, s.local,
               seg.h, t.rcv_nxt, advertised);
    if (!seg.h.rst()) {
      // A retransmitted FIN in TIME-WAIT restarts the 2 MSL wait (RFC 9293 3.10.7.4 "eighth").
      if (t.state == TcpState::time_wait && seg.h.fin()) {
        t.time_wait_until = stack_.now() + 2 * config_.msl;
      }
      send_invalid_ack(s, seg);
    }
    return false;
  }
  // Trim what was already received from the front ...
  if (seg.seq() < t.rcv_nxt) {
    std::uint32_t cut = seq_offset(seg.seq(), t.rcv_nxt);
    if (seg.h.syn()) {
      // The SYN is the first sequence number (only ever dropped below, in "fourth").
      seg.h.flags &= static_cast<std::uint8_t>(~flag::syn);
      --cut;
      seg.h.seq = seg.seq() + 1;
    }
    const std::uint32_t data_cut =
        std::min<std::uint32_t>(cut, static_cast<std::uint32_t>(seg.payload.size()));
    seg.payload.pull(data_cut);
    seg.h.payload_length = static_cast<std::uint16_t>(seg.payload.size());
    seg.h.seq = seg.seq() + data_cut;
    if (cut > data_cut) seg.h.flags &= static_cast<std::uint8_t>(~flag::fin);  // FIN already had
  }
  // ... and what does not fit in the window from the back (RFC 9293 3.10.7.4: "segments with
  // higher beginning sequence numbers ... trimmed to the window"). Bytes the buffer can hold
  // beyond what was advertised are kept.
  const std::uint32_t window = std::max(advertised, t.receive_buffer.window());
  const std::uint32_t offset = seq_offset(t.rcv_nxt, seg.seq());
  if (offset + seg.payload.size() > window) {
    const std::uint32_t keep = window > offset ? window - offset : 0;
    seg.payload.trim(keep);
    seg.h.payload_length = static_cast<std::uint16_t>(seg.payload.size());
    seg.h.flags &= static_cast<std::uint8_t>(~flag::fin);  // the FIN lies beyond the window
    stats.add(Counter::tcp_trimmed);
    t.ack_now = true;
  }
  return true;
}

// RFC 9293 3.10.7.4, SYN-RECEIVED and the synchronized states.
void Tcp::synchronized_input(TcpSocket& s, Segment& seg) {
  Tcb& t = s.tcb;
  Stats& stats = stack_.stats();
  const Instant now = stack_.now();

  // Our SYN-ACK was lost and the peer sends its SYN again: answer with the SYN-ACK (the
  // sequence check below would send a bare ACK, which a peer in SYN-SENT drops).
  if (t.state == TcpState::syn_received && seg.h.syn() && !seg.h.has_ack() && !seg.h.rst() &&
      seg.seq() == t.irs) {
    stats.add(Counter::tcp_syn_retransmitted);
    send_syn(s);
    return;
  }

  // RFC 7323 5.3 (PAWS), before the sequence check: a segment whose timestamp is older than
  // TS.Recent is an old duplicate. R1: "If there is a Timestamps option in the arriving
  // segment, SEG.TSval < TS.Recent, TS.Recent is valid (see 5.5), and if the RST bit is not
  // set, then treat the arriving segment as not acceptable".
  const auto& ts = seg.h.options.timestamps;
  if (t.ts_enabled && ts && !seg.h.rst() &&
      static_cast<std::int32_t>(ts->value - t.ts_recent) < 0 && now - t.ts_recent_at < kPawsIdle) {
    stats.drop(Counter::tcp_paws, "{} tsval {} < ts.recent {}", s.remote, ts->value, t.ts_recent);
    send_invalid_ack(s, seg);
    return;
  }

  const Seq original_seq = seg.seq();
  // "First, check sequence number."
  if (!check_sequence(s, seg)) return;
  t.last_received_at = now;
  t.keepalive_probes = 0;
  // RFC 7323 4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval
  // is copied to TS.Recent".
  if (t.ts_enabled && ts && static_cast<std::int32_t>(ts->value - t.ts_recent) >= 0 &&
      original_seq <= t.last_ack_sent) {
    t.ts_recent = ts->value;
    t.ts_recent_at = now;
  }

  // "Second, check the RST bit" as RFC 5961 3.2 refines it: a RST exactly at RCV.NXT resets;
  // one elsewhere in the window only earns a challenge ACK (a blind attacker must guess the
  // exact number, not just the window).
  if (seg.h.rst()) {
    if (original_seq != t.rcv_nxt) {
      stats.drop(Counter::tcp_rst_challenged, "{} RST seq {} != rcv.nxt {}", s.remote, original_seq,
                 t.rcv_nxt);
      return send_challenge_ack(s);
    }
    stats.add(Counter::tcp_rx_reset);
    switch (t.state) {
      case TcpState::syn_received:
        // "If this connection was initiated with a passive OPEN, then return this connection to
        // the LISTEN state" (the child goes away; the listener never saw it). "If ... active
        // OPEN, then the connection was refused."
        return finish(s, s.listener.expired() ? ECONNREFUSED : 0);
      case TcpState::established:
      case TcpState::fin_wait_1:
      case TcpState::fin_wait_2:
      case TcpState::close_wait:
        // "All segment queues should be flushed ... signal 'connection reset'." Linux says
        // EPIPE in CLOSE-WAIT: the peer had already finished sending.
        s.peer_reset = true;
        t.send_buffer.consume(t.send_buffer.size());
        return finish(s, t.state == TcpState::close_wait ? EPIPE : ECONNRESET);
      default:
        // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state, delete the TCB, and return."
        return finish(s, 0);
    }
  }

  // "Third, check security": no labels in use.

  // "Fourth, check the SYN bit": in any synchronized state a SYN earns a challenge ACK
  // (RFC 5961 4.2; RFC 9293 adopts it), whatever its sequence number.
  if (seg.h.syn()) {
    stats.drop(Counter::tcp_syn_challenged, "{} SYN in {}", s.remote, t.state);
    return send_challenge_ack(s);
  }

  // "Fifth, check the ACK field: if the ACK bit is off, drop the segment and return."
  if (!seg.h.has_ack()) return stats.drop(Counter::tcp_no_ack, "{} {}", s.remote, seg.h);
  if (!check_ack(s, seg)) return;
  bool fin_acked = false;
  process_ack(s, seg, &fin_acked);
  switch (t.state) {
    case TcpState::fin_wait_1:
      // "In addition to the processing for the ESTABLISHED state, if the FIN segment is now
      // acknowledged, then enter FIN-WAIT-2 and continue processing in that state."
      if (fin_acked) {
        t.state = TcpState::fin_wait_2;
        if (s.orphan) t.time_wait_until = now + config_.orphan_fin_wait_2;
      }
      break;
    case TcpState::closing:
      // "If the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore."
      if (fin_acked) enter_time_wait(s);
      return;
    case TcpState::last_ack:
      // "The only thing that can arrive in this state is an acknowledgment of our FIN. If our
      // FIN is now acknowledged, delete the TCB, enter the CLOSED state, and return."
      if (fin_acked) finish(s, 0);
      return;
    default:
      break;
  }

  // "Sixth, check the URG bit": urgent data is delivered inline with the rest (RFC 6093: the
  // pointer's meaning differs between stacks, and no application here uses it); the pointer,
  // even past the segment or 0xffff, is never used as an offset.

  // "Seventh, process the segment text."
  if (seg.payload.size() > 0) {
    switch (t.state) {
      case TcpState::established:
      case TcpState::fin_wait_1:
      case TcpState::fin_wait_2:
        if (s.orphan) {
          // Nobody will read it: the application closed. Tell the peer its data is lost
          // rather than ACK it into a buffer that only fills (RFC 2525 2.17; Linux
          // TCPAbortOnData).
          stats.drop(Counter::tcp_data_after_close, "{} {} bytes", s.remote, seg.payload.size());
          return abort(s, 0);
        }
        process_text(s, seg);
        break;
      default:
        // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has
        // been received from the remote side. Ignore the segment text."
        stats.drop(Counter::tcp_data_after_fin, "{} {} bytes in {}", s.remote, seg.payload.size(),
                   t.state);
        break;
    }
  }

  // "Eighth, check the FIN bit."
  if (seg.h.fin()) {
    const Seq fin_at = seg.seq() + static_cast<std::uint32_t>(seg.payload.size());
    if (t.fin_received) {
      // TIME-WAIT and the rest: a retransmitted FIN is acknowledged (and restarts TIME-WAIT).
      if (t.state == TcpState::time_wait) t.time_wait_until = now + 2 * config_.msl;
      t.ack_now = true;
    } else if (fin_at == t.rcv_nxt) {
      process_fin(s);
    } else {
      // Beyond a hole: processed when the hole fills (process_text).
      t.fin_pending = fin_at;
      t.ack_now = true;
    }
  }
  if (s.keepalive && t.state == TcpState::established) {
    const Duration idle =
        s.keepalive_idle != Duration::zero() ? s.keepalive_idle : config_.keepalive_idle;
    t.keepalive_at = now + idle;
  }
}

// RFC 9293 3.10.7.4 "fifth, check the ACK field", the acceptance part; RFC 5961 5.2.
bool Tcp::check_ack(TcpSocket& s, Segment& seg) {
  Tcb& t = s.tcb;
  Stats& stats = stack_.stats();
  if (t.state == TcpState::syn_received) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue processing
    // ... If the segment acknowledgment is not acceptable, form a reset segment
    // <SEQ=SEG.ACK><CTL=RST> and send it."
    if (!seq_in_open_closed_range(t.snd_una, seg.ack(), t.snd_max)) {
      stats.drop(Counter::tcp_bad_ack, "{} SYN-RECEIVED ack {}", s.remote, seg.ack());
      send_reset(seg);
      return false;
    }
    if (auto l = s.listener.lock();
        l && l->accept_queue.size() > static_cast<std::size_t>(l->backlog)) {
      // Accept queue full: stay in SYN-RECEIVED; our SYN-ACK retransmission or the peer's
      // next segment completes the handshake once the application catches up (as Linux).
      stats.drop(Counter::tcp_accept_queue_full, "{} on {}", s.remote, l->local);
      return false;
    }
    const Seq old_una = t.snd_una;
    t.snd_una = seg.ack();
    t.snd_wnd = std::uint32_t{seg.h.window} << t.snd_wscale;
    t.max_snd_wnd = std::max(t.max_snd_wnd, t.snd_wnd);
    t.snd_wl1 = seg.seq();
    t.snd_wl2 = seg.ack();
    if (t.ts_enabled || t.retransmits == 0) take_rtt_sample(s, seg, old_una);
    established(s);
    return true;
  }
  // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the
  // segment, and return." RFC 5961 5.2 also refuses ACKs older than SND.UNA - MAX.SND.WND.
  if (t.snd_max < seg.ack()) {
    stats.drop(Counter::tcp_ack_too_new, "{} ack {} > snd.max {}", s.remote, seg.ack(), t.snd_max);
    send_invalid_ack(s, seg);
    return false;
  }
  if (seg.ack() < t.snd_una - t.max_snd_wnd) {
    stats.drop(Counter::tcp_ack_too_old, "{} ack {} far below snd.una {}", s.remote, seg.ack(),
               t.snd_una);
    send_challenge_ack(s);
    return false;
  }
  return true;
}

void Tcp::take_rtt_sample(TcpSocket& s, const Segment& seg, Seq old_una) {
  Tcb& t = s.tcb;
  const auto& ts = seg.h.options.timestamps;
  if (t.ts_enabled && ts && ts->echo_reply != 0) {
    // RFC 7323 4.1: the echoed TSval times this ACK's round trip, retransmission or not.
    const std::uint32_t ms = tsval(s) - ts->echo_reply;
    if (ms < (1u << 31)) t.rtt.sample(std::chrono::milliseconds(ms));
    return;
  }
  // RFC 6298 3 (Karn): only a segment sent once; rtt_timing is cleared on any retransmission.
  if (t.rtt_timing && old_una <= t.rtt_seq && t.rtt_seq < seg.ack()) {
    t.rtt.sample(stack_.now() - t.rtt_sent_at);
    t.rtt_timing = false;
  } else if (t.state == TcpState::syn_sent || t.state == TcpState::syn_received) {
    // The handshake: our SYN (sent at last_sent_at, never retransmitted — the callers check).
    t.rtt.sample(stack_.now() - t.last_sent_at);
  }
}

// RFC 9293 3.10.7.4 "fifth", ESTABLISHED processing: advance SND.UNA, update the window,
// detect loss (RFC 5681, RFC 6582, RFC 6675).
void Tcp::process_ack(TcpSocket& s, Segment& seg, bool* fin_acked) {
  Tcb& t = s.tcb;
  Stats& stats = stack_.stats();
  const Instant now = stack_.now();
  const Seq ack = seg.ack();
  const Seq old_una = t.snd_una;
  const bool new_data_acked = seq_in_open_closed_range(t.snd_una, ack, t.snd_max);

  // RFC 2018 / RFC 6675: what the peer holds beyond the cumulative ACK.
  bool sack_news = false;
  if (t.sack_enabled && seg.h.options.sack_count > 0) {
    std::size_t ignored = 0;
    sack_news = t.sack.update(seg.h.options.sacks(), seq_max(ack, t.snd_una), t.snd_max, &ignored);
    if (ignored > 0) stats.add(Counter::tcp_bad_sack, ignored);
  }

  const std::uint32_t window = std::uint32_t{seg.h.window} << t.snd_wscale;
  // RFC 5681 2 "DUPLICATE ACKNOWLEDGMENT": outstanding data, no data or SYN/FIN in the
  // segment, the same ACK and window. RFC 6675 also counts an ACK with new SACK information.
  const bool duplicate =
      !new_data_acked && ack == t.snd_una && t.snd_una != t.snd_max &&
      ((seg.payload.size() == 0 && !seg.h.fin() && window == t.snd_wnd) || sack_news);

  if (new_data_acked) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any segments on the
    // retransmission queue that are thereby entirely acknowledged are removed."
    std::uint32_t acked = seq_offset(t.snd_una, ack);
    if (t.fin_sent && t.fin_seq < ack) {
      *fin_acked = true;
      --acked;  // the FIN is no byte of the buffer
    }
    t.send_buffer.consume(std::min<std::size_t>(acked, t.send_buffer.size()));
    t.snd_una = ack;
    if (t.snd_nxt < t.snd_una) t.snd_nxt = t.snd_una;  // after a go-back-N rewind
    t.sack.advance(t.snd_una);
    t.retransmits = 0;
    take_rtt_sample(s, seg, old_una);
    // RFC 6298 5.2 / 5.3: stop the timer when all is acknowledged, else restart it.
    t.retransmit_at = t.snd_una == t.snd_max ? kNever : now + t.rtt.rto();
    if (t.in_recovery) {
      if (t.recover <= ack) {
        // RFC 6582 3.2 step 3 / RFC 6675 5 (A): the recovery point is acknowledged.
        t.in_recovery = false;
        t.dup_acks = 0;
        t.cc.on_exit_recovery(flight_size(s));
      } else if (!t.sack_enabled) {
        // RFC 6582 3.2 step 5, a partial ACK: retransmit the next hole at once, deflate cwnd
        // by what was acknowledged and add back one SMSS if at least that much was.
        std::uint32_t cwnd = t.cc.cwnd() > acked ? t.cc.cwnd() - acked : 0;
        if (acked >= t.snd_mss) cwnd += t.snd_mss;
        t.cc.set_cwnd(std::max(cwnd, std::uint32_t{t.snd_mss}));
        retransmit_first(s);
      } else {
        t.high_rxt = seq_max(t.high_rxt, t.snd_una);
      }
    } else {
      t.dup_acks = 0;
      t.cc.on_ack(acked, now, t.rtt.srtt());
    }
    if (t.send_buffer.empty()) t.send_buffer.release(&ring_pool_);
    wake(s);  // room in the send buffer, or the FIN acknowledged
  } else if (duplicate) {
    ++t.dup_acks;
    stats.add(Counter::tcp_dup_acks);
    if (t.in_recovery && !t.sack_enabled) {
      // RFC 6582 3.2 step 4: each further duplicate inflates cwnd by one SMSS.
      t.cc.set_cwnd(t.cc.cwnd() + t.snd_mss);
    }
  }

  // Window update: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If
  // (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND,
  // set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK." (MUST-34: a window that shrinks is
  // taken as it is; the sender works from SND.UNA + SND.WND and never underflows.)
  if (t.snd_una <= ack && (t.snd_wl1 < seg.seq() || (t.snd_wl1 == seg.seq() && t.snd_wl2 <= ack))) {
    t.snd_wnd = window;
    t.max_snd_wnd = std::max(t.max_snd_wnd, window);
    t.snd_wl1 = seg.seq();
    t.snd_wl2 = ack;
  }
  if (t.persist) {
    // The peer answered a probe (MUST-37: a window may stay closed forever while it does).
    t.retransmits = 0;
    if (t.snd_wnd > 0) {
      t.persist = false;
      t.retransmit_at = kNever;
      t.rtt.reset_backoff();
    }
  }

  if (!t.in_recovery) {
    // RFC 5681 3.2: the third duplicate ACK; RFC 6675 5 (b): or IsLost(SND.UNA) from SACK.
    // RFC 6582 4: not for duplicates of data sent before the last recovery or timeout.
    const bool lost = t.dup_acks >= SackScoreboard::kDupThresh ||
                      (t.sack_enabled && t.sack.is_lost(t.snd_una, t.snd_mss));
    if (lost && t.snd_una != t.snd_max && t.recover <= t.snd_una) {
      t.in_recovery = true;
      t.recover = t.snd_max;
      t.cc.on_enter_recovery(flight_size(s), now);
      t.high_rxt = t.snd_una;
      stats.add(Counter::tcp_fast_retransmits);
      retransmit_first(s);
      // RFC 5681 3.2 step 3 / RFC 6582: without SACK, cwnd = ssthresh + 3 SMSS.
      if (!t.sack_enabled) t.cc.set_cwnd(t.cc.ssthresh() + 3 * t.snd_mss);
      t.retransmit_at = now + t.rtt.rto();
    }
  }
}

// RFC 9293 3.10.7.4 "seventh, process the segment text".
void Tcp::process_text(TcpSocket& s, Segment& seg) {
  Tcb& t = s.tcb;
  Stats& stats = stack_.stats();
  if (seg.payload.size() == 0) return;
  const std::uint32_t offset = seq_offset(t.rcv_nxt, seg.seq());
  const bool had_holes = t.receive_buffer.range_count() > 0;
  const auto result = t.receive_buffer.insert(offset, seg.payload.bytes(), &ring_pool_);
  if (result.refused) {
    stats.drop(Counter::tcp_ooo_full, "{} {} bytes at +{}", s.remote, seg.payload.size(), offset);
    t.ack_now = true;
    return;
  }
  stats.add(Counter::tcp_rx_bytes, result.stored);
  if (result.advanced > 0) {
    t.rcv_nxt = t.rcv_nxt + result.advanced;
    wake(s);
  }
  if (offset > 0 || result.stored == 0 || had_holes) {
    // RFC 5681 4.2 / RFC 9293 SHLD-31: out of order, a duplicate, or filling a hole: ACK at
    // once, so the sender sees the duplicate ACKs (and SACK blocks) or the progress.
    if (offset > 0) stats.add(Counter::tcp_out_of_order);
    t.ack_now = true;
  } else if (seg.payload.size() >= t.rcv_mss / 2 && ++t.unacked_segments >= 2) {
    // RFC 9293 SHLD-19 / RFC 5681 4.2: an ACK for at least every second full-sized segment.
    t.ack_now = true;
  } else if (t.delayed_ack_at == kNever) {
    // MUST-40: the delay stays well under 0.5 s.
    t.delayed_ack_at = stack_.now() + config_.delayed_ack;
  }
  if (t.fin_pending && *t.fin_pending == t.rcv_nxt) process_fin(s);
}

// RFC 9293 3.10.7.4 "eighth, check the FIN bit", once the FIN is in order.
void Tcp::process_fin(TcpSocket& s) {
  Tcb& t = s.tcb;
  // "Advance RCV.NXT over the FIN, and send an acknowledgment for the FIN ... signal the user
  // 'connection closing' and return any pending RECEIVEs".
  t.rcv_nxt = t.rcv_nxt + 1;
  t.fin_received = true;
  t.fin_pending.reset();
  t.ack_now = true;
  switch (t.state) {
    case TcpState::syn_received:
    case TcpState::established:
      t.state = TcpState::close_wait;
      break;
    case TcpState::fin_wait_1:
      // Our FIN not yet acknowledged (else process_ack moved us to FIN-WAIT-2): both sides
      // closing at once.
      t.state = TcpState::closing;
      break;
    case TcpState::fin_wait_2:
      enter_time_wait(s);
      break;
    default:
      break;
  }
  log::tcp().debug("{} > {} FIN: {}", s.local, s.remote, t.state);
  wake(s);
}

void Tcp::icmp_error(const wire::Ipv4Header& ip, std::span<const std::uint8_t> quoted,
                     std::uint8_t type, std::uint8_t code, std::uint32_t rest) {
  Stats& stats = stack_.stats();
  if (quoted.size() < 8) return stats.drop(Counter::tcp_icmp_ignored, "short quote");
  const Endpoint local{ip.src, wire::load_be16(quoted.data())};
  const Endpoint remote{ip.dst, wire::load_be16(quoted.data() + 2)};
  TcpSocket* found = find(local, remote);
  if (found == nullptr) {
    return stats.drop(Counter::tcp_icmp_ignored, "no connection {} > {}", local, remote);
  }
  auto s = found->shared_from_this();
  Tcb& t = s->tcb;
  const Seq seq{wire::load_be32(quoted.data() + 4)};
  // RFC 5927 4.1: only an error quoting a sequence number in flight can be about us; anything
  // else is a blind attack or very old.
  if (!seq_in_range(t.snd_una, seq, t.snd_max) && !(t.snd_una == t.snd_max && seq == t.snd_una)) {
    return stats.drop(Counter::tcp_icmp_ignored, "{} quoted seq {} outside {}..{}", remote, seq,
                      t.snd_una, t.snd_max);
  }
  stats.add(Counter::tcp_icmp_error);
  constexpr std::uint8_t kUnreachable = 3, kFragNeeded = 4, kProtocol = 2, kPort = 3;
  if (type == kUnreachable && code == kFragNeeded) {
    // RFC 1191: the next-hop MTU is in the low 16 bits of the ICMP header's second word.
    const std::uint16_t mtu = static_cast<std::uint16_t>(rest & 0xffff);
    if (mtu < 68) return;
    std::uint16_t mss = static_cast<std::uint16_t>(mtu - 40);
    if (t.ts_enabled) mss = static_cast<std::uint16_t>(mss - kTimestampsSize);
    mss = std::max(mss, kMinMss);
    if (mss >= t.snd_mss) return;
    log::tcp().debug("{} path MTU {}: mss {} -> {}", remote, mtu, t.snd_mss, mss);
    t.snd_mss = mss;
    t.cc.set_smss(mss);
    // SYN-SENT and SYN-RECEIVED carry no data: the smaller MSS applies from the start.
    if (t.state == TcpState::syn_sent || t.state == TcpState::syn_received) return;
    // Resend what was lost to the smaller path now rather than after a timeout.
    t.snd_nxt = t.snd_una;
    t.rtt_timing = false;
    output(*s);
    return;
  }
  const bool hard = type == kUnreachable && (code == kProtocol || code == kPort);
  int error = EHOSTUNREACH;
  if (hard)
    error = ECONNREFUSED;
  else if (type == kUnreachable && code == 0)
    error = ENETUNREACH;
  if (t.state == TcpState::syn_sent && type == kUnreachable) {
    // RFC 5461 4: while the connection is being set up, a "soft" unreachable is as final as a
    // hard one — waiting out the SYN retries only delays the answer (Linux does the same). This
    // is also how a next hop that never answers ARP ends a connect (Icmp::link_failure).
    return finish(*s, error);
  }
  if (hard) {
    // RFC 1122 4.2.3.9: protocol or port unreachable are hard errors; abort.
    return finish(*s, ECONNREFUSED);
  }
  // RFC 9293 MUST-56: net/host unreachable, time exceeded and parameter problem never abort a
  // connection; they are reported if it later times out (Linux sk_err_soft).
  s->soft_error = error;
}

}  // namespace ustack::tcp
