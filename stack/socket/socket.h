// Socket: what a descriptor of the socket API refers to. The protocol-specific sockets (UDP
// here, TCP later) derive from it; this part holds what every socket has — the options of
// SOL_SOCKET, the non-blocking flag, shutdown state — and answers poll().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/base/time.h"
#include "stack/wire/address.h"

namespace ustack {

struct Endpoint {
  Ipv4Address address;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

enum class SocketKind : std::uint8_t { udp, tcp };

// A thread blocked in the socket API. It sleeps on a condition variable of its own, registered
// with each socket it waits for, so an event on one socket wakes only the threads waiting on that
// socket (Linux sk_sleep wait queues) instead of every blocked thread of the process.
struct Waiter {
  std::condition_variable wake;
  bool notified = false;  // woken and not yet running again (counted in SocketTable::contenders)
};

class Socket {
 public:
  explicit Socket(SocketKind kind) : kind_(kind) {}
  virtual ~Socket() = default;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  SocketKind kind() const { return kind_; }
  // The poll(2) events (POLLIN, POLLOUT, POLLERR, POLLHUP …) that are true now.
  virtual short poll_events() const = 0;

  bool nonblocking = false;
  bool reuse_address = false;
  bool broadcast = false;
  bool keepalive = false;
  Duration receive_timeout = Duration::zero();  // zero: wait forever
  Duration send_timeout = Duration::zero();
  std::size_t receive_buffer = 0;  // bytes, as SO_RCVBUF reports them
  std::size_t send_buffer = 0;
  bool shut_read = false;
  bool shut_write = false;
  // Set when the descriptor is closed, so that threads still blocked on the object return.
  bool closed = false;
  // An asynchronous error (ECONNREFUSED from an ICMP port unreachable …), reported once by the
  // next call, or by SO_ERROR.
  int pending_error = 0;
  // The threads blocked on this socket (accept, recv, connect, poll …); the core lock guards it.
  std::vector<Waiter*> waiters;

 private:
  SocketKind kind_;
};

}  // namespace ustack

template <>
struct fmt::formatter<ustack::Endpoint> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::Endpoint& e, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{}:{}", e.address, e.port);
  }
};
