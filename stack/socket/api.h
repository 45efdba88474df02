// The socket API as free functions on the process's default stack, so that an application
// reads like one written against the kernel, with `ustack::` in front of each call:
//
//   int fd = ustack::socket(AF_INET, SOCK_DGRAM, 0);
//   ustack::bind(fd, (sockaddr*)&addr, sizeof addr);
//   ssize_t n = ustack::recvfrom(fd, buf, sizeof buf, 0, (sockaddr*)&peer, &peer_len);
//
// Descriptors are ustack's own small integers, not kernel file descriptors. Each call returns
// -1 and sets errno on failure, exactly as its POSIX namesake. A Runtime must exist (it makes
// itself the default); before that every call fails with ENETDOWN.
#pragma once

#include "stack/socket/socket_api.h"

namespace ustack {

int socket(int domain, int type, int protocol);
int bind(int fd, const sockaddr* addr, socklen_t addrlen);
int listen(int fd, int backlog);
int accept(int fd, sockaddr* addr, socklen_t* addrlen);
// accept with SOCK_NONBLOCK in flags (SOCK_CLOEXEC is accepted and means nothing here).
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
int fcntl(int fd, int cmd, int arg = 0);
int poll(pollfd* fds, nfds_t nfds, int timeout_ms);

}  // namespace ustack
