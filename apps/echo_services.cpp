#include "apps/echo_services.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "stack/base/log.h"
#include "stack/socket/api.h"

namespace ustack::apps {

int open_udp_server(std::uint16_t port) {
  int fd = ustack::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (ustack::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int saved = errno;
    ustack::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

void serve_udp_echo(int fd) {
  std::vector<char> buf(65536);  // the largest datagram IPv4 can carry fits
  for (;;) {
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    ssize_t n = ustack::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                                 &peer_len);
    if (n < 0) {
      if (errno == EBADF) return;  // closed: the service is stopping
      continue;                    // e.g. ECONNREFUSED left by an earlier reply
    }
    if (ustack::sendto(fd, buf.data(), static_cast<size_t>(n), 0,
                       reinterpret_cast<sockaddr*>(&peer), peer_len) < 0) {
      log::socket().debug("udp echo: sendto: {}", std::strerror(errno));
    }
  }
}

namespace {
// The listen() backlog of every TCP service.
constexpr int kBacklog = 128;
}  // namespace

int open_tcp_server(std::uint16_t port) {
  int fd = ustack::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (ustack::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      ustack::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      ustack::listen(fd, kBacklog) < 0) {
    int saved = errno;
    ustack::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

namespace {

// Per connection, echo holds at most this many bytes it has received but not yet sent back; when
// the buffer is full it stops reading, so a client that does not read its echo is slowed down by
// TCP flow control instead of growing the server.
constexpr std::size_t kEchoBuffer = 64 * 1024;
// Beyond this many connections a service accepts and closes at once, so memory stays bounded:
// an echo connection holds its 64 KB buffer, the others only their socket.
constexpr std::size_t kMaxEchoConnections = 1024;
constexpr std::size_t kMaxConnections = 65536;
// How often the loop rechecks `stop` when nothing happens.
constexpr int kPollTimeoutMs = 200;
// Accepts per wakeup: a whole accept queue (the stack keeps at most backlog + 1 connections
// there), so one wakeup empties a full queue before the stack must drop SYNs for want of room,
// while a flood of connection attempts still cannot starve established connections for longer
// than one queue's worth of accepts.
constexpr int kAcceptBurst = kBacklog + 1;
// After EMFILE and its kin, how long to leave the backlog alone instead of retrying in a loop.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// Discard reads up to this many times per wakeup before it lets the other connections run.
constexpr int kDiscardReads = 16;

enum class Service { echo, discard, source };

// What source sends, over and over: printable, and a shifted copy of the line before it (as
// RFC 864 chargen), so a reader can see where bytes went missing.
const std::vector<char>& source_pattern() {
  static const std::vector<char> pattern = [] {
    std::vector<char> p(kEchoBuffer + 95);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>(' ' + i % 95);
    return p;
  }();
  return pattern;
}

struct Connection {
  int fd = -1;
  std::unique_ptr<char[]> buffer;  // echo only: buffer[begin, end) waits to be sent back
  std::size_t begin = 0;
  std::size_t end = 0;
  bool peer_closed = false;  // recv returned 0: the client sent FIN

  std::size_t pending() const { return end - begin; }
};

bool would_block(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

int set_nonblocking(int fd) {
  int flags = ustack::fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  return ustack::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

short interest(Service service, const Connection& c) {
  if (service == Service::source) return POLLIN | POLLOUT;
  short events = 0;
  if (!c.peer_closed && (c.buffer == nullptr || c.end < kEchoBuffer || c.begin > 0)) {
    events |= POLLIN;
  }
  if (c.pending() > 0) events |= POLLOUT;
  return events;
}

// Returns false when the connection failed (reset, timed out …) and must be closed.
bool echo_read(Connection& c) {
  if (c.end == kEchoBuffer && c.begin > 0) {
    std::memmove(c.buffer.get(), c.buffer.get() + c.begin, c.pending());
    c.end -= c.begin;
    c.begin = 0;
  }
  if (c.end == kEchoBuffer) return true;
  ssize_t n = ustack::recv(c.fd, c.buffer.get() + c.end, kEchoBuffer - c.end, 0);
  if (n > 0) {
    c.end += static_cast<std::size_t>(n);
  } else if (n == 0) {
    c.peer_closed = true;
  } else if (!would_block(errno)) {
    log::socket().debug("tcp echo {}: recv: {}", c.fd, std::strerror(errno));
    return false;
  }
  return true;
}

bool echo_write(Connection& c) {
  ssize_t n = ustack::send(c.fd, c.buffer.get() + c.begin, c.pending(), 0);
  if (n < 0) {
    if (would_block(errno)) return true;
    log::socket().debug("tcp echo {}: send: {}", c.fd, std::strerror(errno));
    return false;
  }
  c.begin += static_cast<std::size_t>(n);
  if (c.begin == c.end) c.begin = c.end = 0;
  return true;
}

bool source_write(Connection& c) {
  // c.begin is where in the pattern's 95-byte cycle the stream is.
  const std::vector<char>& pattern = source_pattern();
  ssize_t n = ustack::send(c.fd, pattern.data() + c.begin, kEchoBuffer, 0);
  if (n < 0) {
    if (would_block(errno)) return true;
    log::socket().debug("tcp source {}: send: {}", c.fd, std::strerror(errno));
    return false;
  }
  c.begin = (c.begin + static_cast<std::size_t>(n)) % 95;
  return true;
}

bool discard_read(Connection& c, std::vector<char>& scratch) {
  for (int i = 0; i < kDiscardReads; ++i) {
    ssize_t n = ustack::recv(c.fd, scratch.data(), scratch.size(), 0);
    if (n == 0) {
      c.peer_closed = true;
      return true;
    }
    if (n < 0) {
      if (would_block(errno)) return true;
      log::socket().debug("tcp discard {}: recv: {}", c.fd, std::strerror(errno));
      return false;
    }
  }
  return true;
}

// Serves one connection after poll reported `revents` on it. Returns false once it is closed.
bool serve_connection(Service service, Connection& c, short revents, std::vector<char>& scratch) {
  if ((revents & POLLNVAL) != 0) return false;  // not ours any more; nothing to close
  bool ok = true;
  // POLLHUP and POLLERR are reported whatever was asked for; the recv or send they lead to
  // returns 0 or the error, which is what decides.
  const bool readable = (revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  if (service == Service::discard) {
    if (readable) ok = discard_read(c, scratch);
  } else if (service == Service::source) {
    // Whatever the client sends is read and dropped; its FIN ends the stream.
    if (readable) ok = discard_read(c, scratch);
    if (ok && !c.peer_closed && (revents & POLLOUT) != 0) ok = source_write(c);
    if (!ok || c.peer_closed) {
      ustack::close(c.fd);
      return false;
    }
    return true;
  } else {
    if (readable && (interest(service, c) & POLLIN) != 0) ok = echo_read(c);
    // Sending right after reading saves a round of poll when the send buffer has room.
    if (ok && c.pending() > 0) ok = echo_write(c);
  }
  if (ok && !(c.peer_closed && c.pending() == 0)) return true;
  if (ok) ustack::shutdown(c.fd, SHUT_WR);  // everything echoed: our FIN follows the data
  ustack::close(c.fd);
  return false;
}

// What to do after accept() failed with `error`.
enum class AcceptFailure { retry_later, skip, listener_gone };

AcceptFailure classify_accept_error(int error) {
  switch (error) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return AcceptFailure::retry_later;
    case EBADF:
    case EINVAL:
    case ENOTSOCK:
    case EOPNOTSUPP:
      return AcceptFailure::listener_gone;
    default:
      return AcceptFailure::skip;  // ECONNABORTED, EPROTO …: that one connection is gone
  }
}

void serve_tcp(Service service, int listen_fd, const std::atomic<bool>* stop) {
  const char* name = service == Service::echo      ? "tcp echo"
                     : service == Service::discard ? "tcp discard"
                                                   : "tcp source";
  const std::size_t max_connections =
      service == Service::echo ? kMaxEchoConnections : kMaxConnections;
  // accept() must never block the loop: a connection poll announced may be gone (reset) by then.
  if (set_nonblocking(listen_fd) < 0) {
    log::socket().warn("{}: listening socket {}: {}", name, listen_fd, std::strerror(errno));
    return;
  }
  std::vector<Connection> connections;
  std::vector<pollfd> fds;
  std::vector<char> scratch(service == Service::echo ? 0 : kEchoBuffer);
  auto accept_resume = std::chrono::steady_clock::time_point::min();
  auto stopping = [stop] { return stop != nullptr && stop->load(); };

  while (!stopping()) {
    const bool accepting = std::chrono::steady_clock::now() >= accept_resume;
    fds.clear();
    fds.push_back({listen_fd, static_cast<short>(accepting ? POLLIN : 0), 0});
    for (const Connection& c : connections) fds.push_back({c.fd, interest(service, c), 0});
    if (ustack::poll(fds.data(), fds.size(), kPollTimeoutMs) < 0) {
      if (errno == EINTR) continue;
      log::socket().warn("{}: poll: {}", name, std::strerror(errno));
      break;
    }
    if (stopping() || (fds[0].revents & POLLNVAL) != 0) break;

    for (std::size_t i = 0; i < connections.size(); ++i) {
      if (fds[i + 1].revents == 0) continue;
      if (!serve_connection(service, connections[i], fds[i + 1].revents, scratch)) {
        connections[i].fd = -1;
      }
    }
    std::erase_if(connections, [](const Connection& c) { return c.fd < 0; });

    if ((fds[0].revents & POLLIN) == 0) continue;
    bool listener_gone = false;
    for (int i = 0; i < kAcceptBurst; ++i) {
      // Non-blocking from the start: one call into the stack instead of three.
      int fd = ustack::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK);
      if (fd < 0) {
        const int error = errno;
        if (would_block(error)) break;
        log::socket().debug("{}: accept: {}", name, std::strerror(error));
        const AcceptFailure what = classify_accept_error(error);
        if (what == AcceptFailure::skip) continue;
        if (what == AcceptFailure::retry_later) {
          accept_resume = std::chrono::steady_clock::now() + kAcceptBackoff;
        }
        listener_gone = what == AcceptFailure::listener_gone;
        break;
      }
      if (connections.size() >= max_connections) {
        log::socket().debug("{}: {} connections, closing a new one", name, connections.size());
        ustack::close(fd);
        continue;
      }
      Connection& c = connections.emplace_back();
      c.fd = fd;
      if (service == Service::echo) c.buffer = std::make_unique_for_overwrite<char[]>(kEchoBuffer);
    }
    if (listener_gone) break;
  }
  for (const Connection& c : connections) ustack::close(c.fd);
}

}  // namespace

void serve_tcp_echo(int listen_fd, const std::atomic<bool>* stop) {
  serve_tcp(Service::echo, listen_fd, stop);
}

void serve_discard(int listen_fd, const std::atomic<bool>* stop) {
  serve_tcp(Service::discard, listen_fd, stop);
}

void serve_source(int listen_fd, const std::atomic<bool>* stop) {
  serve_tcp(Service::source, listen_fd, stop);
}

}  // namespace ustack::apps
