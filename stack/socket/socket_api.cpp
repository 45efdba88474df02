#include "stack/socket/socket_api.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "stack/runtime.h"
#include "stack/stack.h"
#include "stack/tcp/tcp.h"
#include "stack/udp/udp.h"

namespace ustack {

using tcp::TcpSocket;
using tcp::TcpState;
using udp::UdpSocket;

namespace {

int fail(int error) {
  errno = error;
  return -1;
}

// Reads a sockaddr_in the way Linux's inet_bind/inet_dgram_connect do: too short is EINVAL, a
// family other than AF_INET is EAFNOSUPPORT.
int read_endpoint(const sockaddr* addr, socklen_t len, Endpoint& out) {
  if (addr == nullptr) return EFAULT;
  if (len < sizeof(sockaddr_in)) return EINVAL;
  sockaddr_in in;
  std::memcpy(&in, addr, sizeof in);
  if (in.sin_family != AF_INET) return EAFNOSUPPORT;
  out.address = Ipv4Address::from_u32(ntohl(in.sin_addr.s_addr));
  out.port = ntohs(in.sin_port);
  return 0;
}

// Writes as much of the address as *len allows and sets *len to its full size (POSIX).
int write_endpoint(const Endpoint& e, sockaddr* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return EFAULT;
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(e.port);
  in.sin_addr.s_addr = htonl(e.address.to_u32());
  std::memcpy(addr, &in, std::min<std::size_t>(*len, sizeof in));
  *len = sizeof in;
  return 0;
}

// The limited broadcast or one of our subnets' directed broadcasts (Linux: RTCF_BROADCAST).
bool is_broadcast_destination(Stack& stack, Ipv4Address a) {
  bool broadcast = a.is_broadcast();
  for (auto& iface : stack.interfaces()) broadcast = broadcast || iface->is_subnet_broadcast(a);
  return broadcast;
}

UdpSocket* as_udp(Socket& s) {
  return s.kind() == SocketKind::udp ? static_cast<UdpSocket*>(&s) : nullptr;
}

std::shared_ptr<TcpSocket> as_tcp(const std::shared_ptr<Socket>& s) {
  return s->kind() == SocketKind::tcp ? std::static_pointer_cast<TcpSocket>(s) : nullptr;
}

// Linux doubles SO_RCVBUF/SO_SNDBUF requests (to leave room for its bookkeeping), caps the
// request at net.core.rmem_max / wmem_max and enforces a small minimum; getsockopt reports the
// doubled value. Programs tuned against Linux see the same numbers here.
constexpr std::size_t kBufferMax = 212992;
constexpr std::size_t kMinReceiveBuffer = 2304;
constexpr std::size_t kMinSendBuffer = 4608;

}  // namespace

SocketApi::SocketApi(Runtime& runtime) : runtime_(runtime), stack_(runtime.stack()) {}

SocketApi::Lock SocketApi::enter() {
  ++stack_.sockets().contenders();
  Lock lock(runtime_.core_lock());
  runtime_.admitted();
  stack_.set_now(runtime_.clock().now());
  return lock;
}

void SocketApi::leave(Lock& lock) {
  runtime_.core_changed();
  lock.unlock();
}

Instant SocketApi::deadline_after(Duration timeout) const {
  if (timeout == Duration::zero()) return kNever;
  if (timeout < Duration::zero()) return Instant::min();  // a negative SO_RCVTIMEO
  return runtime_.clock().now() + timeout;
}

template <typename Ready>
bool SocketApi::wait(Lock& lock, Instant deadline, std::span<Socket* const> on, Ready ready) {
  SocketTable& table = stack_.sockets();
  // Registered once for the whole call, not per wake-up: a poll of many sockets would otherwise
  // walk every socket's waiter list twice each time it is woken.
  Waiter self;
  bool registered = false;
  bool in_time = true;
  // Bounded by the deadline, or by the event the caller waits for.
  while (!ready()) {
    const Instant now = runtime_.clock().now();
    if (now >= deadline) {
      in_time = false;
      break;
    }
    if (runtime_.inline_mode()) {
      // No I/O thread: this thread runs the stack until something happens or time is up.
      // Flush only: core_changed() would also wake the Runtime, and as this thread is the one
      // about to wait, it would wake itself at once, again and again (a busy loop).
      stack_.flush_devices();
      lock.unlock();
      runtime_.run_once(deadline);
      lock.lock();
      stack_.set_now(runtime_.clock().now());
      continue;
    }
    if (!registered) {
      table.add_waiter(self, on);
      registered = true;
    }
    if (deadline == kNever || runtime_.clock().is_manual()) {
      // A ManualClock moves only when a test advances it, and Runtime::poll_now notifies.
      self.wake.wait(lock);
    } else {
      self.wake.wait_for(lock, deadline - now);
    }
    // Notifications come with the core lock held, so none arrives while this thread runs.
    if (self.notified) {
      runtime_.admitted();
      self.notified = false;
    }
    stack_.set_now(runtime_.clock().now());
  }
  if (registered) table.remove_waiter(self, on);
  return in_time;
}

int SocketApi::socket(int domain, int type, int protocol) {
  if (domain != AF_INET) return fail(EAFNOSUPPORT);
  const bool nonblocking = (type & SOCK_NONBLOCK) != 0;
  type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  std::shared_ptr<Socket> s;
  switch (type) {
    case SOCK_DGRAM: {
      if (protocol != 0 && protocol != IPPROTO_UDP) return fail(EPROTONOSUPPORT);
      auto u = std::make_shared<UdpSocket>();
      u->receive_buffer = stack_.udp().config().default_receive_buffer;
      u->send_buffer = stack_.udp().config().default_send_buffer;
      s = std::move(u);
      break;
    }
    case SOCK_STREAM: {
      if (protocol != 0 && protocol != IPPROTO_TCP) return fail(EPROTONOSUPPORT);
      s = stack_.tcp().make_socket();  // reads only the configuration
      break;
    }
    default:
      // Linux: a type below SOCK_MAX that AF_INET does not offer (raw, seqpacket, rdm, dccp …)
      // is ESOCKTNOSUPPORT; an unknown type or flag bit is EINVAL.
      return fail(type >= 0 && type <= SOCK_PACKET ? ESOCKTNOSUPPORT : EINVAL);
  }
  s->nonblocking = nonblocking;
  Lock lock = enter();
  const bool stream = s->kind() == SocketKind::tcp;
  const int fd = stack_.sockets().add(std::move(s));
  if (fd < 0) return fail(EMFILE);
  log::socket().debug("socket {} {}", fd, stream ? "tcp" : "udp");
  return fd;
}

int SocketApi::bind(int fd, const sockaddr* addr, socklen_t addrlen) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  Endpoint local;
  if (int e = read_endpoint(addr, addrlen, local)) return fail(e);
  if (auto t = as_tcp(s)) {
    if (t->bound || t->state() != TcpState::closed) return fail(EINVAL);
    if (local.address.is_broadcast() || local.address.is_multicast()) return fail(EADDRNOTAVAIL);
    if (int e = stack_.tcp().bind(t, local)) return fail(e);
    log::socket().debug("bind {} {}", fd, t->local);
    return 0;
  }
  if (UdpSocket* u = as_udp(*s)) {
    if (u->bound()) return fail(EINVAL);
    if (int e = stack_.udp().bind(*u, local)) return fail(e);
    u->address_locked = !local.address.is_unspecified();
    u->port_locked = local.port != 0;
    log::socket().debug("bind {} {}", fd, u->local);
    return 0;
  }
  return fail(EOPNOTSUPP);
}

int SocketApi::connect(int fd, const sockaddr* addr, socklen_t addrlen) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (auto t = as_tcp(s)) {
    const int r = tcp_connect(lock, t, addr, addrlen);
    leave(lock);
    return r;
  }
  UdpSocket* u = as_udp(*s);
  if (u == nullptr) return fail(EOPNOTSUPP);
  if (addr != nullptr && addrlen >= sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC) {
    // connect(AF_UNSPEC) dissolves a UDP association (POSIX). As Linux's __udp_disconnect, it
    // also gives back what connect chose: the local address unless bind() set it, and the port
    // unless bind() named it.
    u->remote.reset();
    if (!u->address_locked) u->local.address = Ipv4Address{};
    if (!u->port_locked && u->bound()) {
      stack_.udp().unbind(*u);
      u->local.port = 0;
    }
    return 0;
  }
  Endpoint peer;
  if (int e = read_endpoint(addr, addrlen, peer)) return fail(e);
  if (is_broadcast_destination(stack_, peer.address) && !u->broadcast) return fail(EACCES);
  auto route = stack_.ipv4().route(peer.address);
  if (!route) return fail(ENETUNREACH);
  if (!u->bound()) {
    if (int e = stack_.udp().bind(*u, Endpoint{u->local.address, 0})) return fail(e);
  }
  // Linux (ip4_datagram_connect) fixes the local address to the route's source, so
  // getsockname shows the address the datagrams leave from.
  if (u->local.address.is_unspecified()) u->local.address = route->iface->address();
  u->remote = peer;
  u->pending_error = 0;
  log::socket().debug("connect {} {} -> {}", fd, u->local, peer);
  return 0;
}

ssize_t SocketApi::send(int fd, const void* buf, size_t len, int flags) {
  return sendto(fd, buf, len, flags, nullptr, 0);
}

ssize_t SocketApi::sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* dst,
                          socklen_t addrlen) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (buf == nullptr && len > 0) return fail(EFAULT);
  if ((flags & MSG_OOB) != 0) return fail(EOPNOTSUPP);
  if (auto t = as_tcp(s)) {
    // Linux ignores the address of a sendto on a connected stream socket (EISCONN only for
    // some families); so does ustack.
    ssize_t n = tcp_send(lock, t, buf, len, flags);
    leave(lock);
    return n;
  }
  if (UdpSocket* u = as_udp(*s)) {
    // Linux joins MSG_MORE sends into one datagram; sending them apart would move datagram
    // boundaries behind the caller's back, so ustack refuses instead.
    if ((flags & MSG_MORE) != 0) return fail(EOPNOTSUPP);
    ssize_t n = udp_sendto(lock, *u, buf, len, flags, dst, addrlen);
    leave(lock);
    return n;
  }
  return fail(EOPNOTSUPP);
}

ssize_t SocketApi::udp_sendto(Lock&, UdpSocket& u, const void* buf, size_t len, int,
                              const sockaddr* dst, socklen_t addrlen) {
  if (u.shut_write) return fail(EPIPE);
  if (u.pending_error != 0) return fail(std::exchange(u.pending_error, 0));
  Endpoint to;
  if (dst != nullptr) {
    if (int e = read_endpoint(dst, addrlen, to)) return fail(e);
    if (to.port == 0) return fail(EINVAL);
  } else if (u.remote) {
    to = *u.remote;
  } else {
    return fail(EDESTADDRREQ);
  }
  if (len > 65507) return fail(EMSGSIZE);
  // SO_BROADCAST guards against broadcasting by mistake (Linux ip_route_output: EACCES).
  if (is_broadcast_destination(stack_, to.address) && !u.broadcast) return fail(EACCES);
  if (!u.bound()) {
    if (int e = stack_.udp().bind(u, Endpoint{u.local.address, 0})) return fail(e);
  }
  if (int e = stack_.udp().send(u, {static_cast<const std::uint8_t*>(buf), len}, to)) {
    return fail(e);
  }
  return static_cast<ssize_t>(len);
}

ssize_t SocketApi::recv(int fd, void* buf, size_t len, int flags) {
  return recvfrom(fd, buf, len, flags, nullptr, nullptr);
}

ssize_t SocketApi::recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* src,
                            socklen_t* addrlen) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (buf == nullptr && len > 0) return fail(EFAULT);
  if ((flags & MSG_OOB) != 0) return fail(EOPNOTSUPP);
  if (auto t = as_tcp(s)) {
    ssize_t n = tcp_recv(lock, t, buf, len, flags);
    if (n >= 0 && src != nullptr && addrlen != nullptr) write_endpoint(t->remote, src, addrlen);
    leave(lock);
    return n;
  }
  if (s->kind() == SocketKind::udp) {
    ssize_t n =
        udp_recvfrom(lock, std::static_pointer_cast<UdpSocket>(s), buf, len, flags, src, addrlen);
    leave(lock);
    return n;
  }
  return fail(EOPNOTSUPP);
}

ssize_t SocketApi::udp_recvfrom(Lock& lock, const std::shared_ptr<UdpSocket>& u, void* buf,
                                size_t len, int flags, sockaddr* src, socklen_t* addrlen) {
  const bool dont_wait = u->nonblocking || (flags & MSG_DONTWAIT) != 0;
  const Instant deadline = dont_wait ? Instant::min() : deadline_after(u->receive_timeout);
  const bool ready = wait(lock, deadline, *u, [&] {
    return !u->queue.empty() || u->pending_error != 0 || u->shut_read || u->closed;
  });
  if (u->closed) return fail(EBADF);
  if (u->pending_error != 0) return fail(std::exchange(u->pending_error, 0));
  if (u->queue.empty()) {
    if (u->shut_read) return 0;
    (void)ready;
    return fail(EAGAIN);  // non-blocking, or SO_RCVTIMEO ran out (Linux: EAGAIN)
  }

  UdpSocket::Datagram& d = u->queue.front();
  const std::size_t size = d.payload.size();
  const std::size_t copied = std::min(size, len);
  if (copied > 0) std::memcpy(buf, d.payload.data(), copied);
  if (src != nullptr && addrlen != nullptr) write_endpoint(d.from, src, addrlen);
  if ((flags & MSG_PEEK) == 0) {
    u->queued_bytes -= d.payload.capacity();
    u->queue.pop_front();
  }
  // MSG_TRUNC asks for the datagram's real length even when the buffer was shorter (Linux).
  return static_cast<ssize_t>((flags & MSG_TRUNC) != 0 ? size : copied);
}

int SocketApi::shutdown(int fd, int how) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail(EINVAL);
  if (auto t = as_tcp(s)) {
    // Linux inet_shutdown, state by state.
    const TcpState st = t->state();
    if (st == TcpState::listen || st == TcpState::syn_sent) {
      // A listener ignores SHUT_WR; SHUT_RD stops it listening, which wakes a blocked accept
      // (EINVAL). In SYN-SENT any shutdown abandons the connect (ECONNRESET).
      if (st == TcpState::listen && how == SHUT_WR) return 0;
      stack_.tcp().disconnect(t);
      t->association = TcpSocket::Association::unconnected;
      stack_.sockets().notify(*t);
      leave(lock);
      return 0;
    }
    if (st == TcpState::closed || st == TcpState::time_wait) return fail(ENOTCONN);
    if (how == SHUT_RD || how == SHUT_RDWR) t->shut_read = true;
    if (how == SHUT_WR || how == SHUT_RDWR) {
      t->shut_write = true;
      stack_.tcp().shutdown_write(*t);
    }
    stack_.sockets().notify(*t);
    leave(lock);
    return 0;
  }
  if (how == SHUT_RD || how == SHUT_RDWR) s->shut_read = true;
  if (how == SHUT_WR || how == SHUT_RDWR) s->shut_write = true;
  stack_.sockets().notify(*s);
  // Linux applies the shutdown to an unconnected UDP socket (waking its readers) and still
  // reports ENOTCONN.
  if (UdpSocket* u = as_udp(*s); u != nullptr && !u->remote) return fail(ENOTCONN);
  return 0;
}

int SocketApi::close(int fd) {
  Lock lock = enter();
  auto s = stack_.sockets().remove(fd);
  if (!s) return fail(EBADF);
  s->closed = true;
  if (auto t = as_tcp(s)) {
    stack_.tcp().close(t);
    stack_.sockets().notify(*t);
    log::socket().debug("close {} ({})", fd, t->state());
    if (t->linger && *t->linger > Duration::zero() && !t->nonblocking) tcp_linger_close(lock, t);
    leave(lock);
    return 0;
  }
  if (UdpSocket* u = as_udp(*s)) {
    if (u->bound()) stack_.udp().unbind(*u);
    u->queue.clear();
    u->queued_bytes = 0;
  }
  stack_.sockets().notify(*s);
  log::socket().debug("close {}", fd);
  return 0;
}

int SocketApi::getsockname(int fd, sockaddr* addr, socklen_t* addrlen) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (UdpSocket* u = as_udp(*s)) {
    if (int e = write_endpoint(u->local, addr, addrlen)) return fail(e);
    return 0;
  }
  if (auto t = as_tcp(s)) {
    if (int e = write_endpoint(t->local, addr, addrlen)) return fail(e);
    return 0;
  }
  return fail(EOPNOTSUPP);
}

int SocketApi::getpeername(int fd, sockaddr* addr, socklen_t* addrlen) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (auto t = as_tcp(s)) {
    if (!t->is_connected()) return fail(ENOTCONN);
    if (int e = write_endpoint(t->remote, addr, addrlen)) return fail(e);
    return 0;
  }
  if (UdpSocket* u = as_udp(*s)) {
    if (!u->remote) return fail(ENOTCONN);
    if (int e = write_endpoint(*u->remote, addr, addrlen)) return fail(e);
    return 0;
  }
  return fail(EOPNOTSUPP);
}

int SocketApi::setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (value == nullptr) return fail(EFAULT);
  auto t = as_tcp(s);
  if (level == IPPROTO_TCP && t) {
    const int r = tcp_setsockopt(*t, name, value, len);
    leave(lock);
    return r;
  }
  if (level != SOL_SOCKET) return fail(ENOPROTOOPT);
  if (name == SO_LINGER && t) {
    if (len < sizeof(::linger)) return fail(EINVAL);
    ::linger l;
    std::memcpy(&l, value, sizeof l);
    // Linux: turning lingering off keeps the time; SO_LINGER reads it back.
    if (l.l_onoff == 0) {
      t->linger.reset();
    } else {
      t->linger_time = std::chrono::seconds(std::max(l.l_linger, 0));
      t->linger = t->linger_time;
    }
    return 0;
  }

  if (name == SO_RCVTIMEO || name == SO_SNDTIMEO) {
    if (len < sizeof(timeval)) return fail(EINVAL);
    timeval tv;
    std::memcpy(&tv, value, sizeof tv);
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return fail(EDOM);
    Duration timeout = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    // Linux: a negative time means "do not wait" (kept as a negative Duration); zero means
    // "wait forever".
    if (tv.tv_sec < 0) timeout = Duration(-1);
    (name == SO_RCVTIMEO ? s->receive_timeout : s->send_timeout) = timeout;
    return 0;
  }

  if (len < sizeof(int)) return fail(EINVAL);
  int v;
  std::memcpy(&v, value, sizeof v);
  switch (name) {
    case SO_REUSEADDR:
      s->reuse_address = v != 0;
      return 0;
    case SO_BROADCAST:
      s->broadcast = v != 0;
      return 0;
    case SO_KEEPALIVE:
      s->keepalive = v != 0;
      if (t) stack_.tcp().keepalive_changed(*t);
      return 0;
    case SO_RCVBUF: {
      // Read as unsigned, as Linux does: a negative request is a huge one.
      const std::size_t request = std::min<std::size_t>(static_cast<unsigned>(v), kBufferMax);
      s->receive_buffer = std::max(request * 2, kMinReceiveBuffer);
      if (t) stack_.tcp().set_receive_buffer(*t, s->receive_buffer);
      return 0;
    }
    case SO_SNDBUF: {
      // Read as unsigned, as Linux does: a negative request is a huge one.
      const std::size_t request = std::min<std::size_t>(static_cast<unsigned>(v), kBufferMax);
      s->send_buffer = std::max(request * 2, kMinSendBuffer);
      if (t) stack_.tcp().set_send_buffer(*t, s->send_buffer);
      return 0;
    }
    default:
      return fail(ENOPROTOOPT);
  }
}

int SocketApi::getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  if (value == nullptr || len == nullptr) return fail(EFAULT);
  auto t = as_tcp(s);
  if (level == IPPROTO_TCP && t) return tcp_getsockopt(*t, name, value, len);
  if (level != SOL_SOCKET) return fail(ENOPROTOOPT);
  if (name == SO_LINGER && t) {
    ::linger l{};
    l.l_onoff = t->linger.has_value();
    l.l_linger =
        static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(t->linger_time).count());
    std::memcpy(value, &l, std::min<std::size_t>(*len, sizeof l));
    *len = static_cast<socklen_t>(std::min<std::size_t>(*len, sizeof l));
    return 0;
  }

  if (name == SO_RCVTIMEO || name == SO_SNDTIMEO) {
    const Duration d =
        std::max(name == SO_RCVTIMEO ? s->receive_timeout : s->send_timeout, Duration::zero());
    timeval tv{};
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    tv.tv_sec = static_cast<time_t>(us / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
    std::memcpy(value, &tv, std::min<std::size_t>(*len, sizeof tv));
    *len = static_cast<socklen_t>(std::min<std::size_t>(*len, sizeof tv));
    return 0;
  }

  int v = 0;
  switch (name) {
    case SO_REUSEADDR:
      v = s->reuse_address;
      break;
    case SO_BROADCAST:
      v = s->broadcast;
      break;
    case SO_KEEPALIVE:
      v = s->keepalive;
      break;
    case SO_RCVBUF:
      v = static_cast<int>(s->receive_buffer);
      break;
    case SO_SNDBUF:
      v = static_cast<int>(s->send_buffer);
      break;
    case SO_ERROR:
      v = std::exchange(s->pending_error, 0);
      break;
    case SO_TYPE:
      v = s->kind() == SocketKind::udp ? SOCK_DGRAM : SOCK_STREAM;
      break;
    case SO_ACCEPTCONN:
      v = t && t->is_listener();
      break;
    default:
      return fail(ENOPROTOOPT);
  }
  std::memcpy(value, &v, std::min<std::size_t>(*len, sizeof v));
  *len = static_cast<socklen_t>(std::min<std::size_t>(*len, sizeof v));
  return 0;
}

int SocketApi::fcntl(int fd, int cmd, int arg) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  switch (cmd) {
    case F_GETFL:
      return O_RDWR | (s->nonblocking ? O_NONBLOCK : 0);
    case F_SETFL:
      s->nonblocking = (arg & O_NONBLOCK) != 0;
      return 0;
    case F_GETFD:
    case F_SETFD:
      return 0;  // ustack descriptors are not inherited by exec anyway
    default:
      return fail(EINVAL);
  }
}

int SocketApi::poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  if (nfds > 0 && fds == nullptr) return fail(EFAULT);
  if (nfds > 65536) return fail(EINVAL);
  Lock lock = enter();
  auto scan = [&] {
    int ready = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      fds[i].revents = 0;
      if (fds[i].fd < 0) continue;
      const Socket* s = stack_.sockets().find(fds[i].fd);
      if (s == nullptr) {
        fds[i].revents = POLLNVAL;
      } else {
        // POLLERR, POLLHUP and POLLNVAL are reported whether asked for or not (POSIX).
        fds[i].revents = static_cast<short>(s->poll_events() & (fds[i].events | POLLERR | POLLHUP));
      }
      if (fds[i].revents != 0) ++ready;
    }
    return ready;
  };
  int ready = scan();
  if (ready > 0 || timeout_ms == 0) return ready;
  const Instant deadline =
      timeout_ms < 0 ? kNever : runtime_.clock().now() + std::chrono::milliseconds(timeout_ms);
  // Held for the wait: a socket closed meanwhile must outlive this thread's registration on it
  // (closing wakes the poll, whose scan then reports POLLNVAL).
  std::vector<std::shared_ptr<Socket>> held;
  std::vector<Socket*> polled;
  held.reserve(nfds);
  polled.reserve(nfds);
  for (nfds_t i = 0; i < nfds; ++i) {
    if (auto s = stack_.sockets().get(fds[i].fd)) {
      polled.push_back(s.get());
      held.push_back(std::move(s));
    }
  }
  wait(lock, deadline, polled, [&] { return (ready = scan()) > 0; });
  leave(lock);
  return ready;
}

int SocketApi::listen(int fd, int backlog) {
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  auto t = as_tcp(s);
  if (!t) return fail(EOPNOTSUPP);
  if (int e = stack_.tcp().listen(t, backlog)) return fail(e);
  log::socket().debug("listen {} {} backlog {}", fd, t->local, backlog);
  return 0;
}

int SocketApi::accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags) {
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) return fail(EINVAL);
  Lock lock = enter();
  auto s = stack_.sockets().get(fd);
  if (!s) return fail(EBADF);
  auto t = as_tcp(s);
  if (!t) return fail(EOPNOTSUPP);
  if (!t->is_listener()) return fail(EINVAL);
  const Instant deadline = t->nonblocking ? Instant::min() : deadline_after(t->receive_timeout);
  wait(lock, deadline, *t,
       [&] { return !t->accept_queue.empty() || t->closed || !t->is_listener() || t->shut_read; });
  if (t->closed) return fail(EBADF);
  if (!t->is_listener() || (t->shut_read && t->accept_queue.empty())) return fail(EINVAL);
  auto child = stack_.tcp().accept(*t);
  if (!child) return fail(EAGAIN);
  child->nonblocking = (flags & SOCK_NONBLOCK) != 0;
  child->association = TcpSocket::Association::connected;
  const int child_fd = stack_.sockets().add(child);
  if (child_fd < 0) {
    // No descriptor for it: the connection is reset, as Linux does when accept fails late.
    child->orphan = true;
    stack_.tcp().abort(*child, 0);
    leave(lock);
    return fail(EMFILE);
  }
  if (addr != nullptr && addrlen != nullptr) write_endpoint(child->remote, addr, addrlen);
  log::socket().debug("accept {} -> {} {}", fd, child_fd, child->remote);
  leave(lock);
  return child_fd;
}

int SocketApi::tcp_connect(Lock& lock, const std::shared_ptr<TcpSocket>& t, const sockaddr* addr,
                           socklen_t addrlen) {
  using Association = TcpSocket::Association;
  // Linux __inet_stream_connect, whose answers to a repeated connect() programs depend on.
  int error = 0;
  switch (t->association) {
    case Association::connected:
      return fail(EISCONN);
    case Association::connecting:
      error = EALREADY;
      break;
    case Association::unconnected: {
      if (t->state() != TcpState::closed) return fail(EISCONN);  // a listener, for one
      Endpoint peer;
      if (int e = read_endpoint(addr, addrlen, peer)) return fail(e);
      if (int e = stack_.tcp().connect(t, peer)) return fail(e);
      t->association = Association::connecting;
      error = EINPROGRESS;
      break;
    }
  }
  auto opening = [&] {
    const TcpState st = t->state();
    return st == TcpState::syn_sent || st == TcpState::syn_received;
  };
  if (opening()) {
    if (t->nonblocking) return fail(error);
    // Linux bounds a blocking connect by SO_SNDTIMEO, then answers EINPROGRESS (or EALREADY
    // when the attempt was already under way).
    const bool done =
        wait(lock, deadline_after(t->send_timeout), *t, [&] { return t->closed || !opening(); });
    if (t->closed) return fail(EBADF);
    if (!done) return fail(error);
  }
  if (t->state() == TcpState::closed || t->state() == TcpState::time_wait) {
    // The attempt failed (refused, reset, timed out, unreachable): report why once, and let
    // the socket connect again. ECONNABORTED when SO_ERROR or poll already took the reason.
    t->association = Association::unconnected;
    return fail(t->pending_error != 0 ? std::exchange(t->pending_error, 0) : ECONNABORTED);
  }
  t->association = Association::connected;
  log::socket().debug("connect {} -> {}", t->local, t->remote);
  return 0;
}

ssize_t SocketApi::tcp_send(Lock& lock, const std::shared_ptr<TcpSocket>& t, const void* buf,
                            size_t len, int flags) {
  const bool dont_wait = t->nonblocking || (flags & MSG_DONTWAIT) != 0;
  const Instant deadline = dont_wait ? Instant::min() : deadline_after(t->send_timeout);
  // A connection still opening: wait for it (Linux sk_stream_wait_connect).
  wait(lock, deadline, *t, [&] {
    const TcpState st = t->state();
    return t->closed || (st != TcpState::syn_sent && st != TcpState::syn_received);
  });
  const auto* bytes = static_cast<const std::uint8_t*>(buf);
  std::size_t sent = 0;
  // Bounded: every pass either takes bytes or waits until the deadline.
  while (true) {
    if (t->closed) return sent > 0 ? static_cast<ssize_t>(sent) : fail(EBADF);
    if (t->pending_error != 0) {
      if (sent > 0) return static_cast<ssize_t>(sent);
      return fail(std::exchange(t->pending_error, 0));
    }
    const TcpState st = t->state();
    if (st == TcpState::syn_sent || st == TcpState::syn_received) {
      return sent > 0 ? static_cast<ssize_t>(sent) : fail(EAGAIN);
    }
    if (t->shut_write || t->tcb.fin_queued ||
        (st != TcpState::established && st != TcpState::close_wait)) {
      if (sent > 0) return static_cast<ssize_t>(sent);
      // Linux: EPIPE after the connection ended or our side was shut, and also when it never
      // was connected (sk_stream_wait_connect).
      return fail(EPIPE);
    }
    sent += stack_.tcp().send(*t, {bytes + sent, len - sent}, (flags & MSG_MORE) != 0);
    if (sent == len) return static_cast<ssize_t>(sent);
    const bool got_room = wait(lock, deadline, *t, [&] {
      const TcpState now = t->state();
      return t->closed || t->pending_error != 0 || t->tcb.send_buffer.free() > 0 ||
             (now != TcpState::established && now != TcpState::close_wait);
    });
    if (!got_room) return sent > 0 ? static_cast<ssize_t>(sent) : fail(EAGAIN);
  }
}

ssize_t SocketApi::tcp_recv(Lock& lock, const std::shared_ptr<TcpSocket>& t, void* buf, size_t len,
                            int flags) {
  if (t->is_listener()) return fail(ENOTCONN);
  if (t->state() == TcpState::closed && !t->ended && t->pending_error == 0 &&
      t->tcb.receive_buffer.readable() == 0) {
    return fail(ENOTCONN);
  }
  const bool dont_wait = t->nonblocking || (flags & MSG_DONTWAIT) != 0;
  const bool peek = (flags & MSG_PEEK) != 0;
  const bool wait_all = (flags & MSG_WAITALL) != 0 && !peek;
  const Instant deadline = dont_wait ? Instant::min() : deadline_after(t->receive_timeout);
  auto* out = static_cast<std::uint8_t*>(buf);
  std::size_t got = 0;
  auto at_end = [&] {
    return t->tcb.fin_received || t->shut_read || t->state() == TcpState::closed;
  };
  // Bounded: each pass reads bytes or waits until the deadline.
  while (true) {
    const bool ready = wait(lock, deadline, *t, [&] {
      return t->closed || t->tcb.receive_buffer.readable() > 0 || t->pending_error != 0 || at_end();
    });
    if (t->closed) return got > 0 ? static_cast<ssize_t>(got) : fail(EBADF);
    if (t->tcb.receive_buffer.readable() > 0) {
      got += stack_.tcp().receive(*t, {out + got, len - got}, peek);
      if (got == len || !wait_all) return static_cast<ssize_t>(got);
      continue;
    }
    if (got > 0) return static_cast<ssize_t>(got);
    if (t->pending_error != 0) return fail(std::exchange(t->pending_error, 0));
    if (at_end()) return 0;
    (void)ready;
    return fail(EAGAIN);  // non-blocking, or SO_RCVTIMEO ran out
  }
}

void SocketApi::tcp_linger_close(Lock& lock, const std::shared_ptr<TcpSocket>& t) {
  // SO_LINGER with a time: close() waits until the peer has acknowledged everything (our FIN
  // included) or the time is up (Linux: then the rest goes on in the background).
  const Instant deadline = runtime_.clock().now() + *t->linger;
  wait(lock, deadline, *t, [&] {
    const TcpState st = t->state();
    return st == TcpState::closed || st == TcpState::time_wait || st == TcpState::fin_wait_2;
  });
}

int SocketApi::tcp_setsockopt(TcpSocket& t, int name, const void* value, socklen_t len) {
  if (name == TCP_CONGESTION) {
    // A name, as on Linux ("cubic", "reno"), used by the next connection this socket opens.
    if (len < 1) return fail(EINVAL);
    const std::string_view requested(static_cast<const char*>(value),
                                     strnlen(static_cast<const char*>(value), len));
    if (requested == "cubic") {
      t.congestion = tcp::CongestionAlgorithm::cubic;
    } else if (requested == "reno") {  // Linux's name for NewReno
      t.congestion = tcp::CongestionAlgorithm::new_reno;
    } else {
      return fail(ENOENT);  // Linux: no such algorithm
    }
    return 0;
  }
  if (len < sizeof(int)) return fail(EINVAL);
  int v;
  std::memcpy(&v, value, sizeof v);
  switch (name) {
    case TCP_NODELAY:
      t.nodelay = v != 0;
      // Linux pushes what Nagle held back as soon as the option goes on.
      if (t.nodelay) stack_.tcp().output(t);
      return 0;
    case TCP_MAXSEG:
      // RFC 9293 3.7.1: the MSS we announce; only before the connection opens (Linux range).
      if (v != 0 && (v < 88 || v > 32767)) return fail(EINVAL);  // Linux MAX_TCP_WINDOW
      t.user_mss = static_cast<std::uint16_t>(v);
      return 0;
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
      if (v < 1 || v > 32767) return fail(EINVAL);
      (name == TCP_KEEPIDLE ? t.keepalive_idle : t.keepalive_interval) = std::chrono::seconds(v);
      stack_.tcp().keepalive_changed(t);
      return 0;
    case TCP_KEEPCNT:
      if (v < 1 || v > 127) return fail(EINVAL);
      t.keepalive_count = static_cast<std::uint32_t>(v);
      return 0;
    default:
      return fail(ENOPROTOOPT);
  }
}

int SocketApi::tcp_getsockopt(TcpSocket& t, int name, void* value, socklen_t* len) {
  const auto& config = stack_.tcp().config();
  if (name == TCP_CONGESTION) {
    const auto algorithm = t.state() == TcpState::closed || t.is_listener()
                               ? t.congestion.value_or(config.congestion)
                               : t.tcb.cc.algorithm();
    const std::string_view name_of =
        algorithm == tcp::CongestionAlgorithm::cubic ? "cubic" : "reno";
    const std::size_t n = std::min<std::size_t>(*len, name_of.size() + 1);
    std::memset(value, 0, n);
    std::memcpy(value, name_of.data(), std::min(n, name_of.size()));
    *len = static_cast<socklen_t>(n);
    return 0;
  }
  int v = 0;
  switch (name) {
    case TCP_NODELAY:
      v = t.nodelay;
      break;
    case TCP_MAXSEG:
      v = t.state() == TcpState::closed || t.is_listener() ? (t.user_mss != 0 ? t.user_mss : 536)
                                                           : t.tcb.snd_mss;
      break;
    case TCP_KEEPIDLE:
      v = static_cast<int>(
          std::chrono::duration_cast<std::chrono::seconds>(
              t.keepalive_idle != Duration::zero() ? t.keepalive_idle : config.keepalive_idle)
              .count());
      break;
    case TCP_KEEPINTVL:
      v = static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                               t.keepalive_interval != Duration::zero() ? t.keepalive_interval
                                                                        : config.keepalive_interval)
                               .count());
      break;
    case TCP_KEEPCNT:
      v = static_cast<int>(t.keepalive_count != 0 ? t.keepalive_count : config.keepalive_probes);
      break;
    default:
      return fail(ENOPROTOOPT);
  }
  std::memcpy(value, &v, std::min<std::size_t>(*len, sizeof v));
  *len = static_cast<socklen_t>(std::min<std::size_t>(*len, sizeof v));
  return 0;
}

namespace {
SocketApi* g_default_api = nullptr;
}

void set_default_socket_api(SocketApi* api) {
  g_default_api = api;
}
SocketApi* default_socket_api() {
  return g_default_api;
}

}  // namespace ustack
