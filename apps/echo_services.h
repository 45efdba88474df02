// The demo services, written only against ustack's socket API. Each serve_* function runs until
// its socket is closed (from another thread) and returns then.
#pragma once

#include <cstdint>

namespace ustack::apps {

// UDP echo (RFC 862): every datagram goes back to its sender, byte for byte.
void serve_udp_echo(int fd);

// Opens a UDP socket bound to 0.0.0.0:port; -1 with errno set on failure.
int open_udp_server(std::uint16_t port);

}  // namespace ustack::apps
