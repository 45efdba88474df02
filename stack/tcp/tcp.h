// TCP (RFC 9293) with window scaling and timestamps (RFC 7323), SACK (RFC 2018, RFC 6675),
// RFC 6298 retransmission, NewReno (RFC 5681, RFC 6582) or CUBIC (RFC 9438) congestion
// control, and the defences of RFC 5961, RFC 6528 and RFC 4987.
//
// Where things happen:
//   Tcp::input           tcp_input.cpp   every segment arrives here: validate, demux, then the
//                                        RFC 9293 3.10.7 steps for the connection's state
//   Tcp::output          tcp_output.cpp  cut the send buffer into segments (window, cwnd, Nagle,
//                                        SWS avoidance), retransmit, ACK
//   Tcp::on_timer        tcp_output.cpp  retransmission, zero-window probe, delayed ACK,
//                                        keepalive, TIME-WAIT
//   Tcp::connect/listen/send/receive/shutdown/close/abort
//                        tcp.cpp         the user calls of RFC 9293 3.10.1-3.10.6, which the
//                                        socket API (stack/socket) calls with the core lock held
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "stack/base/packet.h"
#include "stack/base/timer_queue.h"
#include "stack/interface.h"
#include "stack/socket/socket.h"
#include "stack/tcp/isn.h"
#include "stack/tcp/port_table.h"
#include "stack/tcp/tcb.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/tcp.h"

namespace ustack {
class Stack;
}

namespace ustack::tcp {

struct TcpConfig {
  // Buffers (SO_RCVBUF / SO_SNDBUF defaults). The receive buffer is the window we offer.
  std::size_t default_receive_buffer = 262144;
  std::size_t default_send_buffer = 262144;
  // Our window scale (RFC 7323 2.2) must cover the largest receive buffer a socket can have.
  std::size_t max_receive_buffer = 4 << 20;
  // Emptied send and receive rings kept for reuse (RingStoragePool), at most this many bytes.
  std::size_t ring_pool_bytes = 8 << 20;
  bool window_scaling = true;
  bool timestamps = true;
  bool sack = true;
  CongestionAlgorithm congestion = CongestionAlgorithm::cubic;
  RttConfig rtt;

  Duration delayed_ack = 40ms;       // RFC 9293 MUST-40: under 0.5 s (Linux's minimum is 40 ms)
  Duration msl = 30s;                // TIME-WAIT lasts 2*MSL (Linux: 60 s)
  Duration orphan_fin_wait_2 = 60s;  // a closed socket's FIN-WAIT-2 limit (Linux tcp_fin_timeout)
  // Retransmission limits. SYN: RFC 9293 MUST-23 asks for at least 3 minutes (1+2+..+128 s);
  // data: R2 of at least 100 s (SHLD-11), here ~15 min with the 120 s cap, as Linux.
  std::uint32_t syn_retries = 7;
  std::uint32_t synack_retries = 5;
  std::uint32_t data_retries = 15;
  // Keepalive (RFC 9293 3.8.4): off unless SO_KEEPALIVE; idle at least 2 h (MUST-28).
  Duration keepalive_idle = std::chrono::hours(2);
  Duration keepalive_interval = 75s;
  std::uint32_t keepalive_probes = 9;
  // RFC 5961 10: challenge ACKs per connection per second.
  std::uint32_t challenge_ack_limit = 10;
  // Half-open connections a listener keeps before answering with SYN cookies, and the largest
  // accept queue listen() may ask for (Linux somaxconn).
  std::size_t max_syn_backlog = 256;
  std::size_t max_accept_backlog = 4096;
  bool syn_cookies = true;
  // All connections, in every state: the last bound on memory a peer can make us spend.
  std::size_t max_connections = 200000;
  std::uint16_t ephemeral_first = 32768;
  std::uint16_t ephemeral_last = 60999;
};

// A TCP socket: a listener, or one connection with its TCB. Tcp keeps every socket whose
// connection is alive (so a connection outlives close() through FIN-WAIT and TIME-WAIT), and
// the descriptor table keeps the ones the application holds.
class TcpSocket final : public Socket, public std::enable_shared_from_this<TcpSocket> {
 public:
  TcpSocket() : Socket(SocketKind::tcp) {}
  short poll_events() const override;

  Tcb tcb;
  Endpoint local;        // port 0 until bound
  Endpoint remote;       // set by connect, or by the SYN of an accepted connection
  std::uint64_t id = 0;  // Tcp's key for timers; 0 when not in Tcp's tables
  TimerId timer = kNoTimer;
  bool bound = false;     // holds its local port in Tcp's port table
  PortLink port_link;     // its place among the port's holders (PortTable)
  bool in_table = false;  // in Tcp's connection table (demux by four-tuple)
  bool orphan = false;    // closed by the application; Tcp finishes it alone
  // The descriptor's side of connect(), as Linux's sock->state: a repeated connect() is
  // answered from it (EALREADY, EISCONN, or the error of the attempt that failed).
  enum class Association : std::uint8_t { unconnected, connecting, connected };
  Association association = Association::unconnected;
  // The connection this socket had is over — reset, refused, timed out, or closed into
  // TIME-WAIT (Linux tcp_done): reads see end of file, poll reports POLLHUP. A fresh socket is
  // CLOSED too, but not ended.
  bool ended = false;
  Endpoint user_local;       // what bind() asked for; a socket used again starts from it
  bool port_locked = false;  // bind() named the port; a new connect keeps it
  // The error that ended the connection (ECONNREFUSED, ECONNRESET, ETIMEDOUT …): reported once
  // through pending_error, then kept here so later calls see it (Linux sk_err vs EPIPE).
  int error = 0;
  int soft_error = 0;  // from ICMP in a synchronized state (RFC 9293 MUST-56: no abort)
  bool peer_reset = false;

  // Socket options at this level.
  bool nodelay = false;            // TCP_NODELAY (Nagle off, RFC 9293 MUST-17)
  std::optional<Duration> linger;  // SO_LINGER on with this time
  Duration linger_time{0};         // SO_LINGER's time, kept while it is off (as Linux)
  Duration keepalive_idle{0};      // TCP_KEEPIDLE etc.; zero: the config's
  Duration keepalive_interval{0};
  std::uint32_t keepalive_count = 0;
  std::uint16_t user_mss = 0;                     // TCP_MAXSEG before connect
  std::optional<CongestionAlgorithm> congestion;  // TCP_CONGESTION; else the config's

  // Listener.
  int backlog = 0;
  std::deque<std::shared_ptr<TcpSocket>> accept_queue;  // established, not yet accepted
  std::size_t half_open = 0;                            // children in SYN-RECEIVED
  std::weak_ptr<TcpSocket> listener;                    // a child's listener until accepted

  TcpState state() const { return tcb.state; }
  bool is_listener() const { return tcb.state == TcpState::listen; }
  // What the application sees of the connection: TIME-WAIT belongs to the stack alone (Linux
  // keeps it in a separate timewait socket), so getpeername and shutdown find nothing there.
  bool is_connected() const {
    return tcb.state != TcpState::closed && tcb.state != TcpState::listen &&
           tcb.state != TcpState::syn_sent && tcb.state != TcpState::time_wait;
  }
};

class Tcp {
 public:
  Tcp(Stack& stack, const TcpConfig& config);
  ~Tcp();

  // Where every TCP segment arrives (the IP header pulled).
  void input(Interface& iface, const wire::Ipv4Header& ip, Packet segment);
  // Sends what the connection may send now: new data, retransmissions, a pending ACK or FIN.
  void output(TcpSocket& s);
  // A TCP timer came due (TimerKind::tcp, key = socket id).
  void on_timer(std::uint64_t id);
  // An ICMP error quoting one of our segments (RFC 9293 3.9.2.2, RFC 5927, RFC 1191).
  // `rest` is the ICMP header's second word (the next-hop MTU of "fragmentation needed").
  void icmp_error(const wire::Ipv4Header& ip, std::span<const std::uint8_t> quoted,
                  std::uint8_t type, std::uint8_t code, std::uint32_t rest);

  // User calls (RFC 9293 3.10.1-3.10.6). Each returns 0 or an errno.
  std::shared_ptr<TcpSocket> make_socket();
  int bind(const std::shared_ptr<TcpSocket>& s, Endpoint local);
  int listen(const std::shared_ptr<TcpSocket>& s, int backlog);
  int connect(const std::shared_ptr<TcpSocket>& s, Endpoint remote);
  // Takes a connection from a listener's accept queue (null if empty).
  std::shared_ptr<TcpSocket> accept(TcpSocket& listener);
  // Appends to the send buffer; returns the bytes taken (0 when full). With `more` (MSG_MORE)
  // a short last segment is held for the data or FIN that follows; a later ACK or timer sends
  // it under the usual rules.
  std::size_t send(TcpSocket& s, std::span<const std::uint8_t> data, bool more = false);
  // Reads in-order data; may open the window (and tell the peer).
  std::size_t receive(TcpSocket& s, std::span<std::uint8_t> out, bool peek);
  // SHUT_WR: a FIN after the queued data.
  void shutdown_write(TcpSocket& s);
  // Linux's tcp_disconnect for shutdown(SHUT_RD) on a listener and shutdown() in SYN-SENT: the
  // socket becomes a fresh CLOSED one again (a pending connect fails with ECONNRESET).
  void disconnect(const std::shared_ptr<TcpSocket>& s);
  // close(): the application lets go. Graceful (FIN) unless linger 0 or unread data (RST).
  void close(const std::shared_ptr<TcpSocket>& s);
  // ABORT (RFC 9293 3.10.5): RST if synchronized, then CLOSED.
  void abort(TcpSocket& s, int error);
  void set_receive_buffer(TcpSocket& s, std::size_t bytes);
  void set_send_buffer(TcpSocket& s, std::size_t bytes);
  // SO_KEEPALIVE or its TCP_KEEP* times changed.
  void keepalive_changed(TcpSocket& s);

  const TcpConfig& config() const { return config_; }
  std::size_t connection_count() const { return by_id_.size(); }
  // For tests: the connection with this four-tuple (null if none).
  TcpSocket* find(Endpoint local, Endpoint remote) const;

 private:
  struct FourTuple {
    Ipv4Address local_address;
    Ipv4Address remote_address;
    std::uint16_t local_port;
    std::uint16_t remote_port;
    bool operator==(const FourTuple&) const = default;
  };
  struct FourTupleHash {
    std::size_t operator()(const FourTuple& t) const;
  };
  // The parsed segment as it travels through input (DESIGN.md "No hidden state").
  struct Segment {
    Interface* iface;
    wire::Ipv4Header ip;
    wire::TcpHeader h;
    Packet payload;  // the data; the headers pulled in front
    Seq seq() const { return h.seq; }
    Seq ack() const { return h.ack; }
    std::uint32_t length() const { return h.segment_length(); }
    Endpoint local() const { return {ip.dst, h.dst_port}; }
    Endpoint remote() const { return {ip.src, h.src_port}; }
  };

  // tcp_input.cpp
  void closed_input(const Segment& seg);
  // A SYN for a four-tuple in TIME-WAIT that may open a new incarnation (RFC 6191).
  bool time_wait_reopens(const TcpSocket& s, const Segment& seg) const;
  void listen_input(const std::shared_ptr<TcpSocket>& listener, Segment& seg);
  void syn_sent_input(TcpSocket& s, Segment& seg);
  void synchronized_input(TcpSocket& s, Segment& seg);
  bool check_sequence(TcpSocket& s, Segment& seg);
  bool check_ack(TcpSocket& s, Segment& seg);
  void process_ack(TcpSocket& s, Segment& seg, bool* acked_fin);
  void update_window(TcpSocket& s, const Segment& seg);
  void process_text(TcpSocket& s, Segment& seg);
  void process_fin(TcpSocket& s);
  void detect_loss(TcpSocket& s, const Segment& seg, std::uint32_t acked, bool dup_ack);
  void take_rtt_sample(TcpSocket& s, const Segment& seg, Seq old_una);
  void apply_syn_options(TcpSocket& s, const wire::TcpOptions& peer, std::uint16_t iface_mtu);
  void send_challenge_ack(TcpSocket& s);
  // The ACK answering an unacceptable segment, rate-limited for bare ACKs.
  void send_invalid_ack(TcpSocket& s, const Segment& seg);
  std::shared_ptr<TcpSocket> accept_cookie(const std::shared_ptr<TcpSocket>& listener,
                                           Segment& seg);
  void established(TcpSocket& s);

  // tcp_output.cpp
  void send_segment(TcpSocket& s, Seq seq, std::uint32_t length, std::uint8_t flags);
  void send_syn(TcpSocket& s);
  void send_ack(TcpSocket& s);
  bool send_new_data(TcpSocket& s);
  // The most data one segment of this connection may carry: snd_mss, or with TSO a multiple of
  // it up to the device's tso_max.
  static std::uint32_t max_segment(const Tcb& t);
  bool send_recovery(TcpSocket& s);
  // Sends the segment at SND.UNA again (fast retransmit, NewReno partial ACK).
  void retransmit_first(TcpSocket& s);
  void send_probe(TcpSocket& s);
  // A RST or ACK with no connection behind it (RFC 9293 3.10.7.1, 3.10.7.2).
  void send_reset(const Segment& seg);
  void send_synack_cookie(const Segment& seg, Seq cookie, std::uint16_t mss);
  std::uint32_t window_to_advertise(TcpSocket& s);
  std::uint32_t flight_size(const TcpSocket& s) const;
  std::uint32_t tsval(const TcpSocket& s) const;
  void retransmit_timeout(TcpSocket& s);
  void arm_retransmit(TcpSocket& s);
  void update_timer(TcpSocket& s);

  // tcp.cpp
  void enter_time_wait(TcpSocket& s);
  // A listener stops listening: connections not yet accepted are reset.
  void stop_listening(const std::shared_ptr<TcpSocket>& s);
  // A CLOSED socket made ready for a new connection (connect after a failed one, shutdown
  // of a listener): fresh TCB, errors read, the local port kept only if bind() named it.
  int make_reusable(const std::shared_ptr<TcpSocket>& s);
  // The connection is over: leaves Tcp's tables (the application may still hold the socket).
  void finish(TcpSocket& s, int error);
  void insert_connection(const std::shared_ptr<TcpSocket>& s);
  int pick_ephemeral(TcpSocket& s, Endpoint remote);
  bool port_in_use(Ipv4Address address, std::uint16_t port, bool reuse) const;
  // Wakes the threads blocked on `s` (its owner's recv, send, poll …).
  void wake(const TcpSocket& s);
  std::uint16_t mss_for(const Interface& iface) const;
  Interface* interface_for(Ipv4Address local) const;
  std::shared_ptr<TcpSocket> find_listener(Endpoint local) const {
    TcpSocket* s = ports_.listener(local);
    return s != nullptr ? s->shared_from_this() : nullptr;
  }
  void init_connection(TcpSocket& s, const Interface& iface);

  Stack& stack_;
  TcpConfig config_;
  IsnGenerator isn_;
  SynCookies cookies_;
  RingStoragePool ring_pool_;
  std::uint64_t next_id_ = 1;
  std::uint8_t our_wscale_;
  // Every socket Tcp keeps alive, by id (the timers' key).
  std::unordered_map<std::uint64_t, std::shared_ptr<TcpSocket>> by_id_;
  std::unordered_map<FourTuple, TcpSocket*, FourTupleHash> connections_;
  // Bound local ports (listeners and connections): bind, the ephemeral search, listeners.
  PortTable ports_;
};

}  // namespace ustack::tcp
