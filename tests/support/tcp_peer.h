// Test support for the TCP engine tests: one Stack — the stack under test, 10.1.0.2 — and a fake
// neighbour, 10.1.0.1, played by the test itself. The test builds TCP segments with whatever
// flags, sequence numbers, window, options and payload it wants (wire::TcpHeader::emit inside
// IPv4 and Ethernet), feeds them to the stack, and reads back every TCP segment the stack sent,
// parsed (its checksum verified), to assert on flags, seq, ack, window and options.
//
// The application side is the SocketApi of a Runtime over the same Stack, with non-blocking
// sockets and a ManualClock: nothing runs unless the test polls or moves the clock, so timers
// fire exactly when the test says.
//
// ARP is out of the way: the stack learns the peer's MAC at start-up, entries live for ever,
// and any ARP request for the peer is answered at once.
//
//   TcpPeer p;
//   Conn c = p.open(TcpState::established, Open::passive);   // the stack accepted
//   p.send_data(c, pattern(100));                             // the peer sends 100 bytes
//   Seg ack = p.wait_segment(1s).value();                     // the (delayed) ACK
//   EXPECT_EQ(ack.ack(), c.snd_nxt);
//
// Conn holds the peer's view of one connection: what it sends next (snd_nxt), what it expects
// from the stack next (rcv_nxt), and the options the handshake agreed.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "netdev/memory_link.h"
#include "stack/runtime.h"
#include "stack/stack.h"
#include "stack/tcp/tcp.h"
#include "stack/wire/checksum.h"
#include "stack/wire/tcp.h"
#include "support/frames.h"
#include "support/socket_pair.h"  // inet, sa, endpoint, kIpA/kIpB, kMacA/kMacB
#include "support/test_config.h"

namespace ustack::tcp {
inline void PrintTo(Seq s, std::ostream* os) {
  *os << s.raw();
}
inline void PrintTo(TcpState s, std::ostream* os) {
  *os << state_name(s);
}
}  // namespace ustack::tcp

namespace ustack::wire {
inline void PrintTo(const SackBlock& b, std::ostream* os) {
  *os << "{" << b.left.raw() << ":" << b.right.raw() << "}";
}
}  // namespace ustack::wire

namespace ustack::test {

using tcp::Seq;
using tcp::TcpState;
namespace tf = wire::tcp_flag;

// The stack under test and the fake peer.
inline constexpr Ipv4Address kStackAddr = kIpB;  // 10.1.0.2
inline constexpr Ipv4Address kPeerAddr = kIpA;   // 10.1.0.1
inline constexpr MacAddress kStackMacAddr = kMacB;
inline constexpr MacAddress kPeerMacAddr = kMacA;

// The flags in tcpdump's letters ("S.", "R", "FP." …), for readable assertions.
inline std::string flag_letters(std::uint8_t flags) {
  constexpr std::pair<std::uint8_t, char> kLetters[] = {
      {tf::fin, 'F'}, {tf::syn, 'S'}, {tf::rst, 'R'}, {tf::psh, 'P'},
      {tf::ack, '.'}, {tf::urg, 'U'}, {tf::ece, 'E'}, {tf::cwr, 'W'}};
  std::string out;
  for (auto [bit, letter] : kLetters) {
    if ((flags & bit) != 0) out += letter;
  }
  return out.empty() ? std::string("none") : out;
}

// One segment the stack sent, parsed.
struct Seg {
  wire::Ipv4Header ip;
  wire::TcpHeader h;
  Bytes data;
  Instant at{};  // when the stack sent it (the clock at the poll that produced it)

  Seq seq() const { return h.seq; }
  Seq ack() const { return h.ack; }
  std::uint32_t len() const { return h.segment_length(); }
  Seq end() const { return h.seq + h.segment_length(); }
  std::string flags() const { return flag_letters(h.flags); }
  bool has(std::uint8_t flag) const { return (h.flags & flag) != 0; }
};

inline void PrintTo(const Seg& s, std::ostream* os) {
  *os << fmt::format("{} > {} {}", s.ip.src, s.ip.dst, s.h);
}

inline std::string describe(const std::vector<Seg>& segs) {
  std::string out;
  for (const Seg& s : segs) out += fmt::format("\n  {} {}", s.at, s.h);
  return out.empty() ? std::string(" (none)") : out;
}

// What the peer's SYN (or SYN-ACK) offers.
struct SynOptions {
  std::optional<std::uint16_t> mss = 1460;
  std::optional<std::uint8_t> wscale = 7;  // nullopt: no window scale option
  bool sack = true;
  bool ts = false;
  std::uint16_t window = 65535;  // the window field of every segment the peer sends
  Seq iss{1000000};              // the peer's initial sequence number
  // Passive opens only: make the stack choose this ISS. The ISS is RFC 6528's clock (one tick
  // per 4 us of the stack's time) plus a hash of the four-tuple, so the harness learns the hash
  // from a first SYN (reset at once) and moves the clock until the ISS comes out as asked.
  std::optional<Seq> stack_iss;
};

enum class Open { active, passive };

inline std::string open_name(Open o) {
  return o == Open::active ? "active" : "passive";
}

// The peer's view of one connection.
struct Conn {
  Endpoint local;   // the stack's end
  Endpoint remote;  // the peer's end
  Open how = Open::passive;
  int fd = -1;         // the application's socket (-1 while it has none)
  int listen_fd = -1;  // passive: the listener

  Seq peer_iss;
  Seq snd_nxt;  // the peer sends this next (the stack's RCV.NXT once it has everything)
  Seq stack_iss;
  Seq rcv_nxt;                   // what the peer acknowledges (the stack's data it has taken)
  Seq stack_nxt;                 // one past the highest sequence number the stack has sent
  std::optional<Seq> stack_fin;  // the stack's FIN, once sent
  std::optional<Seq> peer_fin;   // the peer's FIN, once sent

  bool ws = false, sack = false, ts = false;
  std::uint8_t peer_wscale = 0;   // the shift the peer announced (the stack scales our window)
  std::uint8_t stack_wscale = 0;  // the shift the stack announced
  std::uint16_t stack_mss = 0;    // the MSS the stack announced
  std::uint16_t window = 65535;   // the window field the peer sends
  std::uint32_t ts_val = 5000;    // the peer's TSval clock (one tick per segment sent)
};

struct TcpPeerOptions {
  StackConfig config = tcp_test_stack_config();
  std::size_t mtu = 1500;
  std::uint64_t seed = 1;

  static StackConfig tcp_test_stack_config() {
    StackConfig c = test_config();
    // Long enough for the longest timer test: no ARP refresh traffic among the segments.
    c.arp.reachable_time = std::chrono::hours(24 * 365);
    return c;
  }
};

// Builds one TCP segment (header, options, payload) with its checksum.
inline Bytes tcp_bytes(const wire::TcpHeader& h, std::span<const std::uint8_t> payload,
                       Ipv4Address src = kPeerAddr, Ipv4Address dst = kStackAddr) {
  Bytes out(h.emit_size() + payload.size());
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<long>(h.emit_size()));
  h.emit(out, src, dst);
  return out;
}

// An ICMP error from the peer about a segment the stack sent from `local` to `remote` with
// sequence number `seq` (the quoted IP header and first 8 bytes of TCP); `rest` is the ICMP
// header's second word (the next-hop MTU of "fragmentation needed").
inline Bytes icmp_quoting(std::uint8_t type, std::uint8_t code, std::uint32_t rest, Endpoint local,
                          Endpoint remote, Seq seq) {
  Bytes quoted = ipv4(ip_header(local.address, remote.address, 6), Bytes(8, 0));
  wire::store_be16(&quoted[20], local.port);
  wire::store_be16(&quoted[22], remote.port);
  wire::store_be32(&quoted[24], seq.raw());
  return ipv4(ip_header(kPeerAddr, kStackAddr, 1), icmp(type, code, rest, quoted));
}

// Recomputes the checksum of a hand-edited TCP segment.
inline void fix_tcp_checksum(Bytes& segment, Ipv4Address src = kPeerAddr,
                             Ipv4Address dst = kStackAddr) {
  wire::store_be16(&segment[16], 0);
  wire::ChecksumAccumulator acc;
  wire::add_pseudo_header(acc, src, dst, 6, static_cast<std::uint16_t>(segment.size()));
  acc.add(segment);
  wire::store_be16(&segment[16], acc.finish());
}

// A segment with hand-written option bytes (padded with zeros — end of list — to a multiple of
// 4), for malformed and unusual option lists. `h.options` is ignored.
inline Bytes tcp_bytes_raw_options(wire::TcpHeader h, Bytes options,
                                   std::span<const std::uint8_t> payload,
                                   Ipv4Address src = kPeerAddr, Ipv4Address dst = kStackAddr) {
  while (options.size() % 4 != 0) options.push_back(0);
  h.options = {};
  Bytes out(wire::TcpHeader::kMinSize + options.size() + payload.size());
  std::copy(options.begin(), options.end(), out.begin() + wire::TcpHeader::kMinSize);
  std::copy(payload.begin(), payload.end(),
            out.begin() + static_cast<long>(wire::TcpHeader::kMinSize + options.size()));
  // Emit the 20-byte header over the front, then fix the data offset and the checksum.
  h.emit(out, src, dst);
  out[12] = static_cast<std::uint8_t>(((wire::TcpHeader::kMinSize + options.size()) / 4) << 4);
  fix_tcp_checksum(out, src, dst);
  return out;
}

class TcpPeer {
 public:
  explicit TcpPeer(const TcpPeerOptions& options = {})
      : link_(options.mtu, 1 << 16),
        stack_(Rng(options.seed), options.config),
        runtime_(stack_, clock_) {
    quiet_logs();
    stack_.set_now(clock_.now());
    InterfaceConfig c;
    c.mac = kStackMacAddr;
    c.address = {kStackAddr, 24};
    iface_ = &stack_.add_interface(link_.a(), c);
    runtime_.poll_now();
    // The peer asks for the stack's MAC; the stack learns the peer's from the request.
    inject_frame(ethernet(MacAddress::broadcast(), kPeerMacAddr, wire::EtherType::arp,
                          arp_bytes(arp_packet(wire::ArpOp::request, kPeerMacAddr, kPeerAddr,
                                               MacAddress{}, kStackAddr))));
    pump();
    segments_.clear();
    others_.clear();
  }
  TcpPeer(const TcpPeer&) = delete;
  TcpPeer& operator=(const TcpPeer&) = delete;

  Stack& stack() { return stack_; }
  tcp::Tcp& tcp() { return stack_.tcp(); }
  SocketApi& api() { return runtime_.api(); }
  Runtime& runtime() { return runtime_; }
  ManualClock& clock() { return clock_; }
  Instant now() const { return clock_.now(); }
  std::uint64_t counter(std::string_view name) const { return stack_.stats().get(name); }
  CounterMap counters_now() const { return counters(stack_.stats()); }

  // ------------------------------------------------------------------------------------------
  // Time

  void poll() {
    runtime_.poll_now();
    pump();
  }
  void advance(Duration d) {
    clock_.advance(d);
    poll();
  }
  void advance_to(Instant t) {
    if (t > clock_.now()) clock_.set(t);
    poll();
  }
  // Moves the clock to the stack's next deadline if it is no later than `limit` (true), else
  // to `limit` (false), and polls.
  bool run_to_next_event(Instant limit) {
    const Instant next = stack_.next_deadline();
    if (next > limit) {
      advance_to(limit);
      return false;
    }
    advance_to(std::max(next, clock_.now()));
    return true;
  }
  // Runs the timers for `d` of virtual time, polling exactly at every deadline.
  void run_for(Duration d) {
    const Instant end = clock_.now() + d;
    for (int i = 0; i < 100000 && run_to_next_event(end); ++i) {
    }
  }
  // The next segment the stack sends within `limit` of virtual time (timers run as they come
  // due); nothing if none.
  std::optional<Seg> wait_segment(Duration limit) {
    const Instant end = clock_.now() + limit;
    for (int i = 0; i < 100000; ++i) {
      pump();
      if (!segments_.empty()) {
        Seg s = std::move(segments_.front());
        segments_.pop_front();
        return s;
      }
      if (!run_to_next_event(end)) {
        pump();
        if (segments_.empty()) return std::nullopt;
      }
    }
    ADD_FAILURE() << "wait_segment: too many events";
    return std::nullopt;
  }

  // ------------------------------------------------------------------------------------------
  // What the stack sent

  // Every TCP segment the stack sent since the last call.
  std::vector<Seg> take() {
    poll();
    std::vector<Seg> out(std::make_move_iterator(segments_.begin()),
                         std::make_move_iterator(segments_.end()));
    segments_.clear();
    return out;
  }
  // Exactly one segment (a failed expectation otherwise; an empty Seg if there was none).
  Seg take_one() {
    auto segs = take();
    EXPECT_EQ(segs.size(), 1u) << "segments:" << describe(segs);
    if (segs.empty()) return Seg{};
    return segs.front();
  }
  // IPv4 datagrams that were not TCP (ICMP errors …).
  std::vector<IpDatagram> take_others() { return std::exchange(others_, {}); }

  // ------------------------------------------------------------------------------------------
  // Sending as the peer

  // Wraps a TCP segment (bytes, checksum done) in IPv4 and Ethernet and feeds it to the stack.
  void inject_tcp(std::span<const std::uint8_t> segment, Ipv4Address src = kPeerAddr,
                  Ipv4Address dst = kStackAddr) {
    inject_frame(ethernet(kStackMacAddr, kPeerMacAddr, wire::EtherType::ipv4,
                          ipv4(ip_header(src, dst, 6, ip_id_++), segment)));
    pump();
  }
  // Any IPv4 datagram from the peer (ICMP errors …).
  void inject_ip(const Bytes& datagram) {
    inject_frame(ethernet(kStackMacAddr, kPeerMacAddr, wire::EtherType::ipv4, datagram));
    pump();
  }
  void inject(const wire::TcpHeader& h, std::span<const std::uint8_t> payload = {}) {
    inject_tcp(tcp_bytes(h, payload));
  }

  // A header for `c` with the given flags: seq = c.snd_nxt, ack = c.rcv_nxt (with ACK), the
  // peer's window, and timestamps when they were agreed.
  wire::TcpHeader header(Conn& c, std::uint8_t flags) {
    wire::TcpHeader h;
    h.src_port = c.remote.port;
    h.dst_port = c.local.port;
    h.seq = c.snd_nxt;
    h.flags = flags;
    if ((flags & tf::ack) != 0) h.ack = c.rcv_nxt;
    h.window = c.window;
    if (c.ts) h.options.timestamps = wire::TcpTimestamps{++c.ts_val, ts_recent(c)};
    return h;
  }
  // Sends a segment of `c` with every field given.
  void send_seg(Conn& c, std::uint8_t flags, Seq seq, Seq ack, std::span<const std::uint8_t> data,
                std::optional<std::uint16_t> window = std::nullopt) {
    wire::TcpHeader h = header(c, flags);
    h.seq = seq;
    h.ack = (flags & tf::ack) != 0 ? ack : Seq{0};
    if (window) h.window = *window;
    inject(h, data);
  }
  // In-order data from the peer (ACK, PSH), acknowledging what the peer has taken.
  void send_data(Conn& c, std::span<const std::uint8_t> data,
                 std::uint8_t flags = tf::ack | tf::psh) {
    wire::TcpHeader h = header(c, flags);
    c.snd_nxt = c.snd_nxt + static_cast<std::uint32_t>(data.size());
    if ((flags & tf::fin) != 0) {
      c.peer_fin = c.snd_nxt;
      c.snd_nxt = c.snd_nxt + 1;
    }
    inject(h, data);
  }
  // A pure ACK of c.rcv_nxt.
  void send_ack(Conn& c, std::optional<std::uint16_t> window = std::nullopt) {
    wire::TcpHeader h = header(c, tf::ack);
    if (window) h.window = *window;
    inject(h);
  }
  void send_fin(Conn& c) { send_data(c, {}, tf::fin | tf::ack); }
  // Takes the stack's data in `s` if it is the next in order (the peer's rcv_nxt moves).
  void take_data(Conn& c, const Seg& s, Bytes* into = nullptr) {
    if (s.seq() == c.rcv_nxt && s.len() > 0) {
      c.rcv_nxt = s.end();
      if (into) into->insert(into->end(), s.data.begin(), s.data.end());
    }
  }

  // ------------------------------------------------------------------------------------------
  // The application

  int tcp_socket() {
    const int fd = api().socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    return fd;
  }
  // A listener on kStackAddr:port (one per port, made on first use).
  int listener(std::uint16_t port, int backlog = 64) {
    auto it = listeners_.find(port);
    if (it != listeners_.end()) return it->second;
    const int fd = tcp_socket();
    const int one = 1;
    api().setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in a = inet(kStackAddr, port);
    EXPECT_EQ(api().bind(fd, sa(a), sizeof a), 0) << std::strerror(errno);
    EXPECT_EQ(api().listen(fd, backlog), 0) << std::strerror(errno);
    listeners_[port] = fd;
    return fd;
  }
  void close_listener(std::uint16_t port) {
    auto it = listeners_.find(port);
    if (it == listeners_.end()) return;
    api().close(it->second);
    listeners_.erase(it);
    pump();
  }
  int accept(int listen_fd) {
    const int fd = api().accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK);
    pump();
    return fd;
  }
  // Everything readable now (non-blocking): the bytes, then the error or end of stream that
  // stopped the read (error = errno of the last call, 0 with eof = true at end of stream).
  struct ReadResult {
    Bytes data;
    int error = 0;
    bool eof = false;
  };
  ReadResult read(int fd, std::size_t max = 1 << 22) {
    ReadResult r;
    Bytes buf(65536);
    for (int i = 0; i < 10000 && r.data.size() < max; ++i) {
      const ssize_t n =
          api().recv(fd, buf.data(), std::min(buf.size(), max - r.data.size()), MSG_DONTWAIT);
      if (n > 0) {
        r.data.insert(r.data.end(), buf.begin(), buf.begin() + n);
        continue;
      }
      if (n == 0) {
        r.eof = true;
      } else {
        r.error = errno;
      }
      break;
    }
    pump();
    return r;
  }
  ssize_t write(int fd, std::span<const std::uint8_t> data) {
    const ssize_t n = api().send(fd, data.data(), data.size(), MSG_DONTWAIT);
    pump();
    return n;
  }
  int so_error(int fd) {
    int v = 0;
    socklen_t len = sizeof v;
    EXPECT_EQ(api().getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
    return v;
  }
  short poll_events(int fd, short events = POLLIN | POLLOUT) {
    pollfd p{fd, events, 0};
    api().poll(&p, 1, 0);
    return p.revents;
  }
  int set_int(int fd, int level, int name, int value) {
    const int r = api().setsockopt(fd, level, name, &value, sizeof value);
    pump();
    return r;
  }

  // The connection's TCB in the stack (null once it has gone).
  tcp::TcpSocket* socket_of(const Conn& c) { return stack_.tcp().find(c.local, c.remote); }
  std::optional<TcpState> state_of(const Conn& c) {
    const tcp::TcpSocket* s = socket_of(c);
    if (s == nullptr) return std::nullopt;
    return s->state();
  }
  // The window the stack advertises, in bytes: RCV.WND as the stack's TCB has it.
  std::uint32_t rcv_wnd(const Conn& c) {
    const tcp::TcpSocket* s = socket_of(c);
    if (s == nullptr) return 0;
    return s->tcb.rcv_adv > s->tcb.rcv_nxt
               ? static_cast<std::uint32_t>(s->tcb.rcv_adv - s->tcb.rcv_nxt)
               : 0;
  }

  // ------------------------------------------------------------------------------------------
  // Opening connections and driving them into each state

  // A new connection: the stack connects to the peer (active) or accepts the peer's SYN
  // (passive), then the helpers below take it to `state`. The stack's port for passive opens is
  // `port`; the peer's ports count up from 40000.
  Conn open(TcpState state, Open how, const SynOptions& o = {}, std::uint16_t port = 80) {
    Conn c;
    c.how = how;
    switch (state) {
      case TcpState::syn_sent:
        EXPECT_EQ(how, Open::active);
        return syn_sent(o);
      case TcpState::syn_received:
        return how == Open::active ? simultaneous_open(o) : syn_received(o, port);
      default:
        break;
    }
    c = established(how, o, port);
    switch (state) {
      case TcpState::established:
        break;
      case TcpState::fin_wait_1:
        to_fin_wait_1(c);
        break;
      case TcpState::fin_wait_2:
        to_fin_wait_2(c);
        break;
      case TcpState::close_wait:
        to_close_wait(c);
        break;
      case TcpState::closing:
        to_closing(c);
        break;
      case TcpState::last_ack:
        to_last_ack(c);
        break;
      case TcpState::time_wait:
        to_time_wait(c);
        break;
      default:
        ADD_FAILURE() << "open: no way to " << tcp::state_name(state);
    }
    EXPECT_EQ(state_of(c), state) << "open: the connection did not reach "
                                  << tcp::state_name(state);
    return c;
  }

  // connect() to the peer: the SYN is out, nothing answered.
  Conn syn_sent(const SynOptions& o = {}, std::uint16_t peer_port = 0) {
    Conn c;
    c.how = Open::active;
    c.peer_iss = o.iss;
    c.snd_nxt = o.iss;
    c.window = o.window;
    c.remote = {kPeerAddr, peer_port != 0 ? peer_port : next_peer_port_++};
    c.fd = tcp_socket();
    const sockaddr_in to = inet(c.remote.address, c.remote.port);
    EXPECT_EQ(api().connect(c.fd, sa(to), sizeof to), -1);
    EXPECT_EQ(errno, EINPROGRESS);
    const Seg syn = take_one();
    EXPECT_EQ(syn.flags(), "S") << "connect: " << fmt::format("{}", syn.h);
    c.local = {kStackAddr, syn.h.src_port};
    c.stack_iss = syn.seq();
    c.stack_nxt = syn.seq() + 1;
    c.rcv_nxt = syn.seq() + 1;
    c.stack_mss = syn.h.options.mss.value_or(0);
    c.stack_wscale = syn.h.options.window_scale.value_or(0);
    note(c, syn);
    last_syn_ = syn;
    return c;
  }

  // The stack's SYN answered with the peer's SYN-ACK offering `o`: ESTABLISHED.
  Conn established_active(const SynOptions& o = {}) {
    Conn c = syn_sent(o);
    const Seg syn = last_syn_;
    wire::TcpHeader h;
    h.src_port = c.remote.port;
    h.dst_port = c.local.port;
    h.seq = c.peer_iss;
    h.ack = c.stack_iss + 1;
    h.flags = tf::syn | tf::ack;
    h.window = o.window;
    h.options.mss = o.mss;
    // A SYN-ACK offers only what the SYN offered.
    if (o.wscale && syn.h.options.window_scale) h.options.window_scale = o.wscale;
    h.options.sack_permitted = o.sack && syn.h.options.sack_permitted;
    if (o.ts && syn.h.options.timestamps) {
      h.options.timestamps = wire::TcpTimestamps{++c.ts_val, syn.h.options.timestamps->value};
    }
    c.ws = h.options.window_scale.has_value();
    c.peer_wscale = c.ws ? *o.wscale : 0;
    if (!c.ws) c.stack_wscale = 0;
    c.sack = h.options.sack_permitted;
    c.ts = h.options.timestamps.has_value();
    c.snd_nxt = c.peer_iss + 1;
    inject(h);
    const Seg ack = take_one();
    EXPECT_EQ(ack.flags(), ".") << "handshake: " << fmt::format("{}", ack.h);
    EXPECT_EQ(ack.seq(), c.stack_iss + 1);
    EXPECT_EQ(ack.ack(), c.peer_iss + 1);
    note(c, ack);
    EXPECT_NE(poll_events(c.fd, POLLOUT) & POLLOUT, 0) << "connect did not complete";
    return c;
  }

  // The peer's SYN to a listener on `port`: the stack answered with its SYN-ACK.
  Conn syn_received(const SynOptions& o = {}, std::uint16_t port = 80) {
    Conn c;
    c.how = Open::passive;
    c.listen_fd = listener(port);
    c.local = {kStackAddr, port};
    c.remote = {kPeerAddr, next_peer_port_++};
    c.peer_iss = o.iss;
    c.window = o.window;
    if (o.stack_iss) steer_iss(c, *o.stack_iss);
    wire::TcpHeader h;
    h.src_port = c.remote.port;
    h.dst_port = port;
    h.seq = o.iss;
    h.flags = tf::syn;
    h.window = o.window;
    h.options.mss = o.mss;
    h.options.window_scale = o.wscale;
    h.options.sack_permitted = o.sack;
    if (o.ts) h.options.timestamps = wire::TcpTimestamps{++c.ts_val, 0};
    inject(h);
    c.snd_nxt = o.iss + 1;
    const Seg synack = take_one();
    EXPECT_EQ(synack.flags(), "S.") << fmt::format("{}", synack.h);
    EXPECT_EQ(synack.ack(), o.iss + 1);
    c.stack_iss = synack.seq();
    c.stack_nxt = synack.seq() + 1;
    c.rcv_nxt = synack.seq() + 1;
    c.stack_mss = synack.h.options.mss.value_or(0);
    c.ws = o.wscale.has_value() && synack.h.options.window_scale.has_value();
    c.peer_wscale = c.ws ? *o.wscale : 0;
    c.stack_wscale = c.ws ? *synack.h.options.window_scale : 0;
    c.sack = o.sack && synack.h.options.sack_permitted;
    c.ts = o.ts && synack.h.options.timestamps.has_value();
    note(c, synack);
    return c;
  }

  // Moves the clock so that the stack's next ISS for c's four-tuple is `iss` (see
  // SynOptions::stack_iss).
  void steer_iss(const Conn& c, Seq iss) {
    wire::TcpHeader h;
    h.src_port = c.remote.port;
    h.dst_port = c.local.port;
    h.seq = c.peer_iss - 1000;
    h.flags = tf::syn;
    h.window = 65535;
    inject(h);
    const Seg probe = take_one();
    EXPECT_EQ(probe.flags(), "S.");
    h.flags = tf::rst;
    h.seq = probe.ack();
    inject(h);
    EXPECT_TRUE(take().empty());
    const std::uint32_t ticks = iss.raw() - probe.seq().raw();
    clock_.advance(std::chrono::microseconds(4) * std::int64_t{ticks});
    poll();
  }

  // Passive: the handshake completed and the application accepted.
  Conn established_passive(const SynOptions& o = {}, std::uint16_t port = 80) {
    Conn c = syn_received(o, port);
    send_ack(c);
    EXPECT_TRUE(take().empty());
    c.fd = accept(c.listen_fd);
    EXPECT_GE(c.fd, 0) << "accept: " << std::strerror(errno);
    return c;
  }

  Conn established(Open how, const SynOptions& o = {}, std::uint16_t port = 80) {
    return how == Open::active ? established_active(o) : established_passive(o, port);
  }

  // Active simultaneous open (RFC 9293 MUST-10): the stack's SYN crosses the peer's SYN; the
  // stack answers with a SYN-ACK and waits in SYN-RECEIVED.
  Conn simultaneous_open(const SynOptions& o = {}) {
    Conn c = syn_sent(o);
    const Seg syn = last_syn_;
    wire::TcpHeader h;
    h.src_port = c.remote.port;
    h.dst_port = c.local.port;
    h.seq = c.peer_iss;
    h.flags = tf::syn;
    h.window = o.window;
    h.options.mss = o.mss;
    h.options.window_scale = o.wscale;
    h.options.sack_permitted = o.sack;
    if (o.ts) h.options.timestamps = wire::TcpTimestamps{++c.ts_val, 0};
    inject(h);
    c.snd_nxt = c.peer_iss + 1;
    const Seg synack = take_one();
    EXPECT_EQ(synack.flags(), "S.") << fmt::format("{}", synack.h);
    EXPECT_EQ(synack.seq(), c.stack_iss);
    EXPECT_EQ(synack.ack(), c.peer_iss + 1);
    c.ws = o.wscale.has_value() && syn.h.options.window_scale.has_value();
    c.peer_wscale = c.ws ? *o.wscale : 0;
    c.stack_wscale = c.ws ? *syn.h.options.window_scale : 0;
    c.sack = o.sack && syn.h.options.sack_permitted;
    c.ts = o.ts && syn.h.options.timestamps.has_value();
    note(c, synack);
    return c;
  }

  // The application shuts its sending side (SHUT_WR): the stack's FIN goes out.
  Seg shutdown_write(Conn& c) {
    EXPECT_EQ(api().shutdown(c.fd, SHUT_WR), 0) << std::strerror(errno);
    const Seg fin = take_one();
    EXPECT_TRUE(fin.has(tf::fin)) << fmt::format("{}", fin.h);
    EXPECT_EQ(fin.end(), c.stack_nxt + 1) << "the FIN follows everything sent";
    c.stack_fin = fin.end() - 1;
    c.stack_nxt = fin.end();
    note(c, fin);
    return fin;
  }
  // ESTABLISHED -> FIN-WAIT-1: our FIN is out, not acknowledged.
  void to_fin_wait_1(Conn& c) { shutdown_write(c); }
  // -> FIN-WAIT-2: the peer acknowledges the FIN.
  void to_fin_wait_2(Conn& c) {
    to_fin_wait_1(c);
    c.rcv_nxt = c.stack_nxt;
    send_ack(c);
    EXPECT_TRUE(take().empty());
  }
  // ESTABLISHED -> CLOSE-WAIT: the peer's FIN, acknowledged at once.
  void to_close_wait(Conn& c) {
    send_fin(c);
    const Seg ack = take_one();
    EXPECT_EQ(ack.flags(), ".");
    EXPECT_EQ(ack.ack(), c.snd_nxt);
    note(c, ack);
  }
  // -> CLOSING: both FINs cross; the peer's does not acknowledge ours.
  void to_closing(Conn& c) {
    to_fin_wait_1(c);
    send_fin(c);  // ack = rcv_nxt: the data before our FIN, not the FIN
    const Seg ack = take_one();
    EXPECT_EQ(ack.ack(), c.snd_nxt);
    note(c, ack);
    // The peer has now seen our FIN (in the crossing), though it has not acknowledged it.
  }
  // CLOSE-WAIT -> LAST-ACK: the application shuts down too.
  void to_last_ack(Conn& c) {
    to_close_wait(c);
    shutdown_write(c);
  }
  // FIN-WAIT-2 -> TIME-WAIT: the peer's FIN.
  void to_time_wait(Conn& c) {
    to_fin_wait_2(c);
    send_fin(c);
    const Seg ack = take_one();
    EXPECT_EQ(ack.flags(), ".");
    EXPECT_EQ(ack.ack(), c.snd_nxt);
    note(c, ack);
  }

  // The peer receives everything the stack sends until `n` bytes arrived (or `limit` passed),
  // acknowledging each segment in order at once. Returns the bytes.
  Bytes receive_all(Conn& c, std::size_t n, Duration limit = 60s) {
    Bytes got;
    const Instant end = clock_.now() + limit;
    for (int i = 0; i < 100000 && got.size() < n && clock_.now() <= end; ++i) {
      auto s = wait_segment(end - clock_.now());
      if (!s) break;
      note(c, *s);
      const Seq before = c.rcv_nxt;
      take_data(c, *s, &got);
      if (c.rcv_nxt != before || s->len() > 0) send_ack(c);
    }
    return got;
  }

  // Records what a segment of the stack tells the peer (its TSval, how far it has sent).
  void note(Conn& c, const Seg& s) {
    if (s.h.options.timestamps) ts_recent_[key(c)] = s.h.options.timestamps->value;
    if (s.has(tf::fin)) c.stack_fin = s.end() - 1;
    if (c.stack_nxt < s.end()) c.stack_nxt = s.end();
  }
  std::uint32_t ts_recent(const Conn& c) const {
    auto it = ts_recent_.find(key(c));
    return it == ts_recent_.end() ? 0 : it->second;
  }

 private:
  static std::uint32_t key(const Conn& c) {
    return (std::uint32_t{c.local.port} << 16) | c.remote.port;
  }

  void inject_frame(const Bytes& frame) {
    {
      std::lock_guard lock(runtime_.core_lock());
      stack_.set_now(clock_.now());
      stack_.receive_frame(*iface_, Packet::copy_of(frame));
    }
    runtime_.poll_now();
  }

  // Reads what the stack transmitted: TCP segments are parsed and queued, ARP requests for the
  // peer answered.
  void pump() {
    for (int round = 0; round < 16; ++round) {
      std::vector<Packet> frames;
      while (link_.b().receive(frames, 1 << 16) > 0) {
      }
      if (frames.empty()) return;
      std::vector<wire::ArpPacket> requests;
      for (const Packet& p : frames) classify(p, requests);
      for (const wire::ArpPacket& r : requests) {
        inject_frame(ethernet(kStackMacAddr, kPeerMacAddr, wire::EtherType::arp,
                              arp_bytes(arp_packet(wire::ArpOp::reply, kPeerMacAddr, kPeerAddr,
                                                   r.sender_mac, r.sender_ip))));
      }
    }
  }

  void classify(const Packet& p, std::vector<wire::ArpPacket>& requests) {
    if (auto a = decode_arp(p.bytes())) {
      if (a->op == wire::ArpOp::request && a->target_ip == kPeerAddr) requests.push_back(*a);
      return;
    }
    auto d = decode_ipv4(p.bytes());
    if (!d) {
      ADD_FAILURE() << "the stack sent a frame that is neither ARP nor IPv4";
      return;
    }
    if (d->ip.protocol != 6) {
      others_.push_back(std::move(*d));
      return;
    }
    EXPECT_EQ(d->eth_dst, kPeerMacAddr);
    auto h = wire::TcpHeader::parse(d->payload, d->ip.src, d->ip.dst);
    if (!h) {
      ADD_FAILURE() << "the stack sent a TCP segment that does not parse: "
                    << counter_name(h.error());
      return;
    }
    Seg s;
    s.ip = d->ip;
    s.h = *h;
    s.data.assign(d->payload.begin() + h->header_length, d->payload.end());
    s.at = clock_.now();
    segments_.push_back(std::move(s));
  }

  ManualClock clock_;
  MemoryLink link_;
  Stack stack_;
  Runtime runtime_;
  Interface* iface_ = nullptr;
  std::deque<Seg> segments_;
  std::vector<IpDatagram> others_;
  std::map<std::uint16_t, int> listeners_;
  std::map<std::uint32_t, std::uint32_t> ts_recent_;
  std::uint16_t next_peer_port_ = 40000;
  std::uint16_t ip_id_ = 1;
  Seg last_syn_;
};

}  // namespace ustack::test
