// The demo services, written only against ustack's socket API. Each serve_* function runs until
// its socket is closed (from another thread) and returns then.
#pragma once

#include <atomic>
#include <cstdint>

namespace ustack::apps {

// UDP echo (RFC 862): every datagram goes back to its sender, byte for byte.
void serve_udp_echo(int fd);

// Opens a UDP socket bound to 0.0.0.0:port; -1 with errno set on failure.
int open_udp_server(std::uint16_t port);

// Opens a TCP socket with SO_REUSEADDR, bound to 0.0.0.0:port and listening with a backlog of
// 128; -1 with errno set on failure.
int open_tcp_server(std::uint16_t port);

// TCP echo (RFC 862) and discard (RFC 863) on a listening socket. One thread serves every
// connection through non-blocking sockets and ustack::poll, so a slow client never holds up the
// others. Each returns when `listen_fd` is closed by another thread (poll reports POLLNVAL), or
// within 200 ms of `*stop` becoming true; it then closes its connections, never `listen_fd`.
//
// A program running several services sets `stop` before closing their listening sockets:
// descriptors are reused lowest first, so a socket another service accepts in between could take
// a closed listener's number, and that service would never see POLLNVAL.
void serve_tcp_echo(int listen_fd, const std::atomic<bool>* stop = nullptr);
void serve_discard(int listen_fd, const std::atomic<bool>* stop = nullptr);
// The opposite of discard, for measuring the stack's sending side: every connection gets an
// endless stream of a repeating printable pattern (like RFC 864 chargen) until the client
// closes; what the client sends is read and dropped.
void serve_source(int listen_fd, const std::atomic<bool>* stop = nullptr);

}  // namespace ustack::apps
