// SocketApi: the BSD socket calls over one Stack, POSIX-shaped so that a program reads like one
// written for the kernel. Calls return -1 and set errno as Linux does.
//
// Every call takes the Runtime's core lock, works on the core, and, if it must wait, sleeps on
// the SocketTable's condition variable with the lock released (or, in the Runtime's inline
// mode, drives the stack itself until the wait is over). The free functions in
// stack/socket/api.h call the process's default SocketApi.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <span>

#include "stack/base/time.h"
#include "stack/socket/socket.h"

namespace ustack {

class Runtime;
class Stack;

namespace udp {
class UdpSocket;
}
namespace tcp {
class TcpSocket;
}

class SocketApi {
 public:
  explicit SocketApi(Runtime& runtime);

  int socket(int domain, int type, int protocol);
  int bind(int fd, const sockaddr* addr, socklen_t addrlen);
  int listen(int fd, int backlog);
  int accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags);
  int connect(int fd, const sockaddr* addr, socklen_t addrlen);
  ssize_t send(int fd, const void* buf, size_t len, int flags);
  ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* dst,
                 socklen_t addrlen);
  ssize_t recv(int fd, void* buf, size_t len, int flags);
  ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* src, socklen_t* addrlen);
  int shutdown(int fd, int how);
  int close(int fd);
  int getsockname(int fd, sockaddr* addr, socklen_t* addrlen);
  int getpeername(int fd, sockaddr* addr, socklen_t* addrlen);
  int setsockopt(int fd, int level, int name, const void* value, socklen_t len);
  int getsockopt(int fd, int level, int name, void* value, socklen_t* len);
  // F_GETFL and F_SETFL with O_NONBLOCK.
  int fcntl(int fd, int cmd, int arg = 0);
  int poll(pollfd* fds, nfds_t nfds, int timeout_ms);

 private:
  using Lock = std::unique_lock<std::mutex>;

  Lock enter();
  void leave(Lock& lock);
  // Sleeps until ready() or the deadline; false on timeout. The lock is held on return. Only
  // events on the sockets in `on` wake the sleep (and a ManualClock's step, which wakes all).
  template <typename Ready>
  bool wait(Lock& lock, Instant deadline, std::span<Socket* const> on, Ready ready);
  template <typename Ready>
  bool wait(Lock& lock, Instant deadline, Socket& on, Ready ready) {
    Socket* one[] = {&on};
    return wait(lock, deadline, std::span<Socket* const>(one), ready);
  }
  Instant deadline_after(Duration timeout) const;

  ssize_t udp_sendto(Lock& lock, udp::UdpSocket& s, const void* buf, size_t len, int flags,
                     const sockaddr* dst, socklen_t addrlen);
  ssize_t udp_recvfrom(Lock& lock, const std::shared_ptr<udp::UdpSocket>& s, void* buf, size_t len,
                       int flags, sockaddr* src, socklen_t* addrlen);

  int tcp_connect(Lock& lock, const std::shared_ptr<tcp::TcpSocket>& s, const sockaddr* addr,
                  socklen_t addrlen);
  ssize_t tcp_send(Lock& lock, const std::shared_ptr<tcp::TcpSocket>& s, const void* buf,
                   size_t len, int flags);
  ssize_t tcp_recv(Lock& lock, const std::shared_ptr<tcp::TcpSocket>& s, void* buf, size_t len,
                   int flags);
  int tcp_setsockopt(tcp::TcpSocket& s, int name, const void* value, socklen_t len);
  int tcp_getsockopt(tcp::TcpSocket& s, int name, void* value, socklen_t* len);
  void tcp_linger_close(Lock& lock, const std::shared_ptr<tcp::TcpSocket>& s);

  Runtime& runtime_;
  Stack& stack_;
};

// Sets the SocketApi the free functions use (the Runtime sets itself when constructed).
void set_default_socket_api(SocketApi* api);
SocketApi* default_socket_api();

}  // namespace ustack
