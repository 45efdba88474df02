// The connection table and the user calls of RFC 9293 3.10.1-3.10.6 (OPEN, SEND, RECEIVE,
// CLOSE, ABORT), which the socket API calls with the core lock held.
#include "stack/tcp/tcp.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "stack/base/log.h"
#include "stack/stack.h"

namespace ustack::tcp {

std::string_view state_name(TcpState s) {
  switch (s) {
    case TcpState::closed:
      return "CLOSED";
    case TcpState::listen:
      return "LISTEN";
    case TcpState::syn_sent:
      return "SYN-SENT";
    case TcpState::syn_received:
      return "SYN-RECEIVED";
    case TcpState::established:
      return "ESTABLISHED";
    case TcpState::fin_wait_1:
      return "FIN-WAIT-1";
    case TcpState::fin_wait_2:
      return "FIN-WAIT-2";
    case TcpState::close_wait:
      return "CLOSE-WAIT";
    case TcpState::closing:
      return "CLOSING";
    case TcpState::last_ack:
      return "LAST-ACK";
    case TcpState::time_wait:
      return "TIME-WAIT";
  }
  return "?";
}

short TcpSocket::poll_events() const {
  // The events Linux's tcp_poll reports, so poll loops written for the kernel work unchanged.
  short events = 0;
  if (pending_error != 0) events |= POLLERR;
  const TcpState st = tcb.state;
  if (st == TcpState::listen) {
    if (!accept_queue.empty()) events |= POLLIN;
    return events;
  }
  // After the connection ended both directions are shut (Linux tcp_done: SHUTDOWN_MASK); a
  // fresh socket is shut in neither, yet hangs up as every CLOSED socket does.
  const bool read_done = shut_read || tcb.fin_received || ended;
  const bool write_done = shut_write || tcb.fin_queued || ended;
  if ((read_done && write_done) || st == TcpState::closed || st == TcpState::time_wait) {
    events |= POLLHUP;
  }
  if (read_done) events |= POLLIN | POLLRDHUP;
  if (tcb.receive_buffer.readable() > 0) events |= POLLIN;
  if (st == TcpState::syn_sent || st == TcpState::syn_received) return events;
  if (write_done) {
    events |= POLLOUT;
  } else {
    // Writable once at least a third of the buffer is free (Linux: free space >= half of
    // what is queued), so a writer is not woken for every few bytes.
    const std::size_t free = tcb.send_buffer.free();
    if (free > 0 && free * 2 >= tcb.send_buffer.size()) events |= POLLOUT;
  }
  return events;
}

std::size_t Tcp::FourTupleHash::operator()(const FourTuple& t) const {
  std::uint64_t a = (std::uint64_t{t.local_address.to_u32()} << 32) | t.remote_address.to_u32();
  std::uint64_t b = (std::uint64_t{t.local_port} << 16) | t.remote_port;
  a ^= b * 0x9e3779b97f4a7c15ull;
  a ^= a >> 29;
  a *= 0xbf58476d1ce4e5b9ull;
  return static_cast<std::size_t>(a ^ (a >> 32));
}

namespace {

std::uint8_t window_scale_for(std::size_t max_buffer) {
  // RFC 7323 2.3: the smallest shift that lets the 16-bit field describe the whole buffer.
  std::uint8_t shift = 0;
  while (shift < wire::TcpOptions::kMaxWindowScale && (std::size_t{0xffff} << shift) < max_buffer) {
    ++shift;
  }
  return shift;
}

}  // namespace

Tcp::Tcp(Stack& stack, const TcpConfig& config)
    : stack_(stack),
      config_(config),
      isn_(stack.rng()),
      cookies_(stack.rng()),
      ring_pool_(config.ring_pool_bytes),
      our_wscale_(config.window_scaling ? window_scale_for(config.max_receive_buffer) : 0) {}

Tcp::~Tcp() {
  for (auto& [id, s] : by_id_) stack_.timers().destroy(s->timer);
}

void Tcp::wake(const TcpSocket& s) {
  stack_.sockets().notify(s);
}

std::shared_ptr<TcpSocket> Tcp::make_socket() {
  auto s = std::make_shared<TcpSocket>();
  s->receive_buffer = config_.default_receive_buffer;
  s->send_buffer = config_.default_send_buffer;
  s->tcb.receive_buffer.set_capacity(s->receive_buffer);
  s->tcb.send_buffer.set_capacity(s->send_buffer);
  return s;
}

TcpSocket* Tcp::find(Endpoint local, Endpoint remote) const {
  auto it = connections_.find(FourTuple{local.address, remote.address, local.port, remote.port});
  return it == connections_.end() ? nullptr : it->second;
}

Interface* Tcp::interface_for(Ipv4Address local) const {
  for (auto& iface : stack_.interfaces()) {
    if (iface->address() == local) return iface.get();
  }
  return nullptr;
}

std::uint16_t Tcp::mss_for(const Interface& iface) const {
  // RFC 9293 3.7.1: the MTU less the fixed IP and TCP headers (MUST-16 for the option we send).
  const std::size_t mss = iface.mtu() - wire::Ipv4Header::kMinSize - wire::TcpHeader::kMinSize;
  return static_cast<std::uint16_t>(std::min<std::size_t>(mss, 0xffff));
}

bool Tcp::port_in_use(Ipv4Address address, std::uint16_t port, bool reuse) const {
  return ports_.in_use(address, port, reuse);
}

int Tcp::bind(const std::shared_ptr<TcpSocket>& s, Endpoint local) {
  if (s->bound || s->state() != TcpState::closed) return EINVAL;
  if (!local.address.is_unspecified() && interface_for(local.address) == nullptr) {
    return EADDRNOTAVAIL;
  }
  s->user_local = local;
  s->port_locked = local.port != 0;
  if (local.port == 0) {
    // RFC 6056 3.3.1: a random start, then the next free port.
    const std::uint32_t range = config_.ephemeral_last - config_.ephemeral_first + 1u;
    const auto start = static_cast<std::uint32_t>(stack_.rng().below(range));
    for (std::uint32_t i = 0; i < range; ++i) {
      const auto port = static_cast<std::uint16_t>(config_.ephemeral_first + (start + i) % range);
      if (!port_in_use(local.address, port, false)) {
        local.port = port;
        break;
      }
    }
    if (local.port == 0) return EADDRINUSE;
  } else if (port_in_use(local.address, local.port, s->reuse_address)) {
    return EADDRINUSE;
  }
  s->local = local;
  s->bound = true;
  ports_.add(*s);
  return 0;
}

void Tcp::insert_connection(const std::shared_ptr<TcpSocket>& s) {
  s->id = next_id_++;
  s->timer = stack_.timers().create(TimerKind::tcp, s->id);
  by_id_.emplace(s->id, s);
  connections_.emplace(
      FourTuple{s->local.address, s->remote.address, s->local.port, s->remote.port}, s.get());
  s->in_table = true;
}

void Tcp::init_connection(TcpSocket& s, const Interface& iface) {
  Tcb& t = s.tcb;
  const Instant now = stack_.now();
  t.iss = isn_.isn(s.local, s.remote, now);
  t.snd_una = t.iss;
  t.snd_nxt = t.iss;
  t.snd_max = t.iss;
  t.rcv_wscale = our_wscale_;
  t.rcv_mss = mss_for(iface);
  const DeviceOffloads offloads = iface.offloads();
  t.checksum_offload = offloads.tx_checksum;
  // A TSO segment leaves its checksum to the device too; without that, no TSO.
  t.tso_max = offloads.tx_checksum ? static_cast<std::uint32_t>(offloads.tso_max) : 0;
  if (s.user_mss != 0) t.rcv_mss = std::min(t.rcv_mss, s.user_mss);
  t.snd_mss = 536;  // RFC 9293 3.7.1 MUST-15: the default until the peer says otherwise
  t.rtt = RttEstimator(config_.rtt);
  t.cc = CongestionControl(s.congestion.value_or(config_.congestion), t.snd_mss);
  t.ts_offset = stack_.rng().next_u32();  // RFC 7323 5.4: a random TSval start per connection
  t.receive_buffer.set_capacity(s.receive_buffer);
  t.send_buffer.set_capacity(s.send_buffer);
  t.last_received_at = now;
  t.last_sent_at = now;
}

int Tcp::listen(const std::shared_ptr<TcpSocket>& s, int backlog) {
  if (s->state() != TcpState::closed && s->state() != TcpState::listen) return EINVAL;
  if (!s->bound) {
    if (int e = bind(s, Endpoint{})) return e;
  }
  if (s->state() == TcpState::closed) {
    // Another listener on the same address and port (only possible with SO_REUSEADDR on both).
    if (ports_.has_other_listener(*s)) return EADDRINUSE;
  }
  // Linux: a negative backlog or one above somaxconn is clamped.
  s->backlog = static_cast<int>(std::min<std::size_t>(
      static_cast<std::size_t>(std::max(backlog, 0)), config_.max_accept_backlog));
  s->tcb.state = TcpState::listen;
  ports_.add_listener(*s);
  log::tcp().debug("listen {} backlog {}", s->local, s->backlog);
  return 0;
}

int Tcp::make_reusable(const std::shared_ptr<TcpSocket>& s) {
  s->tcb = Tcb();
  s->tcb.receive_buffer.set_capacity(s->receive_buffer);
  s->tcb.send_buffer.set_capacity(s->send_buffer);
  s->error = s->soft_error = s->pending_error = 0;
  s->peer_reset = s->ended = false;
  s->shut_read = s->shut_write = false;
  s->accept_queue.clear();
  s->half_open = 0;
  if (s->bound) return 0;
  s->local = {};
  if (!s->port_locked) return 0;
  // Linux keeps a port that bind() named through tcp_disconnect (SOCK_BINDPORT_LOCK).
  s->port_locked = false;
  return bind(s, s->user_local);
}

int Tcp::connect(const std::shared_ptr<TcpSocket>& s, Endpoint remote) {
  // Also a socket whose earlier attempt failed (Linux lets it try again).
  if (int e = make_reusable(s)) return e;
  if (remote.address.is_broadcast() || remote.address.is_multicast() ||
      remote.address.is_unspecified()) {
    return ENETUNREACH;  // RFC 9293 MUST-46: no connections to broadcast or multicast
  }
  auto route = stack_.ipv4().route(remote.address);
  if (!route) return ENETUNREACH;
  if (route->iface->is_subnet_broadcast(remote.address)) return ENETUNREACH;
  Interface& iface = *route->iface;
  if (s->local.address.is_unspecified()) {
    if (s->bound) {
      // Bound to the wildcard: the route's source address, keeping the port.
      s->local.address = iface.address();
    } else {
      s->local.address = iface.address();
    }
  }
  s->remote = remote;
  if (!s->bound) {
    // RFC 6056 3.3.1 for the port; a four-tuple must be unique.
    const std::uint32_t range = config_.ephemeral_last - config_.ephemeral_first + 1u;
    const auto start = static_cast<std::uint32_t>(stack_.rng().below(range));
    std::uint16_t chosen = 0;
    for (std::uint32_t i = 0; i < range && chosen == 0; ++i) {
      const auto port = static_cast<std::uint16_t>(config_.ephemeral_first + (start + i) % range);
      if (!port_in_use(s->local.address, port, false)) chosen = port;
    }
    if (chosen == 0) return EADDRNOTAVAIL;  // Linux: the ephemeral range is exhausted
    s->local.port = chosen;
    s->bound = true;
    ports_.add(*s);
  } else if (find(s->local, remote) != nullptr) {
    return EADDRNOTAVAIL;
  }
  if (by_id_.size() >= config_.max_connections) return EAGAIN;
  init_connection(*s, iface);
  insert_connection(s);
  stack_.stats().add(Counter::tcp_active_opens);
  s->tcb.state = TcpState::syn_sent;
  log::tcp().debug("{} > {} connect: SYN-SENT", s->local, s->remote);
  send_syn(*s);
  update_timer(*s);
  return 0;
}

std::shared_ptr<TcpSocket> Tcp::accept(TcpSocket& listener) {
  if (listener.accept_queue.empty()) return nullptr;
  auto s = std::move(listener.accept_queue.front());
  listener.accept_queue.pop_front();
  s->listener.reset();
  return s;
}

std::size_t Tcp::send(TcpSocket& s, std::span<const std::uint8_t> data, bool more) {
  const std::size_t taken = s.tcb.send_buffer.append(data, &ring_pool_);
  if (taken > 0) {
    s.tcb.more_coming = more;
    output(s);
    s.tcb.more_coming = false;
  }
  return taken;
}

std::size_t Tcp::receive(TcpSocket& s, std::span<std::uint8_t> out, bool peek) {
  Tcb& t = s.tcb;
  const std::size_t n = t.receive_buffer.read(out, peek);
  if (n == 0 || peek || !is_synchronized(t.state) || t.fin_received) return n;
  // Reading opened the window. Tell the peer when that matters (Linux tcp_cleanup_rbuf): the
  // window it knows has fallen to half the buffer or less and would at least double. Telling
  // it on every read would double the segments of a bulk transfer.
  const std::uint32_t known =
      t.rcv_adv > t.rcv_nxt ? static_cast<std::uint32_t>(t.rcv_adv - t.rcv_nxt) : 0;
  const std::uint32_t now_free = t.receive_buffer.window();
  if (std::size_t{known} * 2 <= t.receive_buffer.capacity() && now_free >= 2 * std::size_t{known} &&
      now_free - known >= std::min<std::size_t>(t.receive_buffer.capacity() / 2, t.rcv_mss)) {
    t.ack_now = true;
    output(s);
  }
  if (t.receive_buffer.readable() == 0 && t.receive_buffer.out_of_order_bytes() == 0) {
    t.receive_buffer.release(&ring_pool_);
  }
  return n;
}

void Tcp::shutdown_write(TcpSocket& s) {
  Tcb& t = s.tcb;
  if (t.fin_queued) return;
  switch (t.state) {
    case TcpState::established:
      // RFC 9293 3.10.4: FIN-WAIT-1; the FIN follows the queued data.
      t.fin_queued = true;
      t.state = TcpState::fin_wait_1;
      break;
    case TcpState::close_wait:
      t.fin_queued = true;
      t.state = TcpState::last_ack;
      break;
    case TcpState::syn_sent:
    case TcpState::syn_received:
      // Queued until ESTABLISHED (RFC 9293 3.10.4 "queue for processing after entering
      // ESTABLISHED state").
      t.fin_queued = true;
      return;
    default:
      return;
  }
  log::tcp().debug("{} > {} shutdown: {}", s.local, s.remote, t.state);
  output(s);
  update_timer(s);
}

void Tcp::stop_listening(const std::shared_ptr<TcpSocket>& s) {
  // Connections not yet accepted die with the listener (Linux: reset).
  while (!s->accept_queue.empty()) {
    auto child = std::move(s->accept_queue.front());
    s->accept_queue.pop_front();
    child->orphan = true;
    abort(*child, ECONNRESET);
  }
  std::vector<std::shared_ptr<TcpSocket>> half_open;
  for (auto& [id, c] : by_id_) {
    if (c->state() == TcpState::syn_received && c->listener.lock() == s) half_open.push_back(c);
  }
  for (auto& c : half_open) abort(*c, ECONNRESET);
  s->tcb.state = TcpState::closed;
  finish(*s, 0);
}

void Tcp::disconnect(const std::shared_ptr<TcpSocket>& s) {
  if (s->is_listener()) {
    stop_listening(s);
    make_reusable(s);
    wake(*s);
    return;
  }
  if (s->state() == TcpState::syn_sent) {
    // Linux tcp_disconnect: nothing was synchronized, so no RST; the connect fails with
    // ECONNRESET, and the socket may connect again.
    finish(*s, ECONNRESET);
    const int error = s->pending_error;
    make_reusable(s);
    s->error = s->pending_error = error;
  }
}

void Tcp::close(const std::shared_ptr<TcpSocket>& s) {
  Tcb& t = s->tcb;
  s->orphan = true;
  if (t.state == TcpState::listen) {
    stop_listening(s);
    return;
  }
  switch (t.state) {
    case TcpState::closed:
      finish(*s, 0);
      return;
    case TcpState::syn_sent:
      // RFC 9293 3.10.4: delete the TCB; nothing was synchronized, so nothing to reset.
      finish(*s, 0);
      return;
    default:
      break;
  }
  if ((s->linger && *s->linger == Duration::zero()) || t.receive_buffer.readable() > 0) {
    // SO_LINGER 0 aborts (RFC 9293 3.10.5); so does closing with unread data, which the peer
    // must learn was lost (RFC 9293 SHLD-3, RFC 2525 2.17).
    abort(*s, 0);
    return;
  }
  shutdown_write(*s);
  if (t.state == TcpState::fin_wait_2) {
    t.time_wait_until = stack_.now() + config_.orphan_fin_wait_2;
    update_timer(*s);
  }
}

void Tcp::abort(TcpSocket& s, int error) {
  auto keep = s.shared_from_this();
  Tcb& t = s.tcb;
  switch (t.state) {
    case TcpState::syn_received:
    case TcpState::established:
    case TcpState::fin_wait_1:
    case TcpState::fin_wait_2:
    case TcpState::close_wait:
      // RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>.
      send_segment(s, t.snd_max, 0, wire::tcp_flag::rst);
      stack_.stats().add(Counter::tcp_tx_reset);
      break;
    default:
      break;
  }
  t.send_buffer.consume(t.send_buffer.size());
  finish(s, error);
}

void Tcp::set_receive_buffer(TcpSocket& s, std::size_t bytes) {
  bytes = std::min(bytes, config_.max_receive_buffer);
  s.receive_buffer = bytes;
  // Once the window is advertised the buffer may grow but not shrink under it.
  if (s.state() == TcpState::closed || s.state() == TcpState::listen) {
    s.tcb.receive_buffer.set_capacity(bytes);
  } else {
    s.tcb.receive_buffer.set_capacity(std::max(bytes, s.tcb.receive_buffer.capacity()));
  }
}

void Tcp::set_send_buffer(TcpSocket& s, std::size_t bytes) {
  s.send_buffer = bytes;
  s.tcb.send_buffer.set_capacity(std::max(bytes, s.tcb.send_buffer.size()));
}

void Tcp::enter_time_wait(TcpSocket& s) {
  Tcb& t = s.tcb;
  t.state = TcpState::time_wait;
  // RFC 9293 3.10.7.4: 2 MSL (MUST-13). Nothing is retransmitted any more.
  t.time_wait_until = stack_.now() + 2 * config_.msl;
  t.retransmit_at = kNever;
  t.delayed_ack_at = kNever;
  t.keepalive_at = kNever;
  t.send_buffer.consume(t.send_buffer.size());
  t.send_buffer.release(&ring_pool_);
  s.ended = true;
  update_timer(s);
  wake(s);
}

void Tcp::finish(TcpSocket& s, int error) {
  auto keep = s.shared_from_this();
  Tcb& t = s.tcb;
  if (t.state == TcpState::syn_received) {
    if (auto l = s.listener.lock(); l && l->half_open > 0) --l->half_open;
  }
  log::tcp().debug("{} > {} {} -> CLOSED{}", s.local, s.remote, t.state,
                   error != 0 ? fmt::format(" ({})", std::strerror(error)) : std::string());
  t.state = TcpState::closed;
  t.retransmit_at = t.delayed_ack_at = t.keepalive_at = t.time_wait_until = kNever;
  s.ended = true;
  if (error != 0 && s.error == 0) {
    s.error = error;
    s.pending_error = error;
  }
  if (s.in_table) {
    connections_.erase(FourTuple{s.local.address, s.remote.address, s.local.port, s.remote.port});
    s.in_table = false;
  }
  if (s.timer != kNoTimer) {
    stack_.timers().destroy(s.timer);
    s.timer = kNoTimer;
  }
  if (s.bound) {
    ports_.remove(s);
    s.bound = false;
  }
  if (s.id != 0) {
    by_id_.erase(s.id);
    s.id = 0;
  }
  if (s.orphan) t.send_buffer.release(&ring_pool_);
  wake(s);
}

void Tcp::keepalive_changed(TcpSocket& s) {
  Tcb& t = s.tcb;
  if (s.keepalive && (t.state == TcpState::established || t.state == TcpState::close_wait)) {
    const Duration idle =
        s.keepalive_idle != Duration::zero() ? s.keepalive_idle : config_.keepalive_idle;
    t.keepalive_at = t.last_received_at + idle;
  } else {
    t.keepalive_at = kNever;
  }
  t.keepalive_probes = 0;
  update_timer(s);
}

}  // namespace ustack::tcp
