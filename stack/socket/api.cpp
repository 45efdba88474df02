#include "stack/socket/api.h"

#include <cerrno>

namespace ustack {
namespace {

// Calls a SocketApi member on the default API, or fails with ENETDOWN when no Runtime exists.
template <typename Member, typename... Args>
auto call(Member member, Args... args) -> decltype((default_socket_api()->*member)(args...)) {
  SocketApi* api = default_socket_api();
  if (api == nullptr) {
    errno = ENETDOWN;
    return -1;
  }
  return (api->*member)(args...);
}

}  // namespace

int socket(int domain, int type, int protocol) {
  return call(&SocketApi::socket, domain, type, protocol);
}
int bind(int fd, const sockaddr* addr, socklen_t addrlen) {
  return call(&SocketApi::bind, fd, addr, addrlen);
}
int listen(int fd, int backlog) {
  return call(&SocketApi::listen, fd, backlog);
}
int accept(int fd, sockaddr* addr, socklen_t* addrlen) {
  return call(&SocketApi::accept4, fd, addr, addrlen, 0);
}
int accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags) {
  return call(&SocketApi::accept4, fd, addr, addrlen, flags);
}
int connect(int fd, const sockaddr* addr, socklen_t addrlen) {
  return call(&SocketApi::connect, fd, addr, addrlen);
}
ssize_t send(int fd, const void* buf, size_t len, int flags) {
  return call(&SocketApi::send, fd, buf, len, flags);
}
ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* dst,
               socklen_t addrlen) {
  return call(&SocketApi::sendto, fd, buf, len, flags, dst, addrlen);
}
ssize_t recv(int fd, void* buf, size_t len, int flags) {
  return call(&SocketApi::recv, fd, buf, len, flags);
}
ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* src, socklen_t* addrlen) {
  return call(&SocketApi::recvfrom, fd, buf, len, flags, src, addrlen);
}
int shutdown(int fd, int how) {
  return call(&SocketApi::shutdown, fd, how);
}
int close(int fd) {
  return call(&SocketApi::close, fd);
}
int getsockname(int fd, sockaddr* addr, socklen_t* addrlen) {
  return call(&SocketApi::getsockname, fd, addr, addrlen);
}
int getpeername(int fd, sockaddr* addr, socklen_t* addrlen) {
  return call(&SocketApi::getpeername, fd, addr, addrlen);
}
int setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  return call(&SocketApi::setsockopt, fd, level, name, value, len);
}
int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  return call(&SocketApi::getsockopt, fd, level, name, value, len);
}
int fcntl(int fd, int cmd, int arg) {
  return call(&SocketApi::fcntl, fd, cmd, arg);
}
int poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  return call(&SocketApi::poll, fds, nfds, timeout_ms);
}

}  // namespace ustack
