// UDP (RFC 768) with the host rules of RFC 1122 section 4.1.
//
// Input (Udp::input): validate length and checksum (zero means none), find the socket by
// destination port — a connected socket whose peer matches first, then one bound to the
// specific address, then a wildcard — and queue the datagram on it, zero-copy; no socket means
// an ICMP port unreachable (Icmp::send_error applies the RFC 1122 exclusions and the rate limit).
// Output (Udp::send): one copy of the application's bytes into a packet with headroom, the
// header and checksum in front, then Ipv4::output.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

#include "stack/base/packet.h"
#include "stack/interface.h"
#include "stack/socket/socket.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/udp.h"

namespace ustack {
class Stack;
}

namespace ustack::udp {

using ustack::Endpoint;  // NOLINT

struct UdpConfig {
  std::size_t default_receive_buffer = 212992;  // Linux's net.core.rmem_default
  std::size_t default_send_buffer = 212992;
  // RFC 6056 recommends the whole 1024-65535 range; Linux's default range is used so that
  // ustack's ports look like the kernel's to a reader of a capture.
  std::uint16_t ephemeral_first = 32768;
  std::uint16_t ephemeral_last = 60999;
};

class UdpSocket final : public Socket {
 public:
  UdpSocket() : Socket(SocketKind::udp) {}
  short poll_events() const override;

  struct Datagram {
    Endpoint from;
    Packet payload;  // the data, the headers pulled in front of it
  };

  Endpoint local;                  // port 0 until bound
  std::optional<Endpoint> remote;  // set by connect()
  std::deque<Datagram> queue;
  std::size_t queued_bytes = 0;  // buffer bytes held, counted against receive_buffer
  // Set by an explicit bind() (Linux's SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK): what
  // connect(AF_UNSPEC) keeps. Whatever connect or an implicit bind chose is given back.
  bool address_locked = false;
  bool port_locked = false;
  bool bound() const { return local.port != 0; }
};

class Udp {
 public:
  Udp(Stack& stack, const UdpConfig& config) : stack_(stack), config_(config) {}

  // Where every UDP datagram arrives (the IP header pulled).
  void input(Interface& iface, const wire::Ipv4Header& ip, Packet datagram);

  // Sends `data` to dst from socket's local endpoint. Returns 0 or an errno (EMSGSIZE,
  // ENETUNREACH …).
  int send(UdpSocket& socket, std::span<const std::uint8_t> data, Endpoint dst);

  // Binds to `local`; port 0 picks an ephemeral port (RFC 6056 section 3.3.1: a random start,
  // then the next free port). Returns 0, EADDRINUSE, EADDRNOTAVAIL or EAGAIN (no free port).
  int bind(UdpSocket& socket, Endpoint local);
  void unbind(UdpSocket& socket);

  // An ICMP error quoting one of our datagrams: `ip` is the quoted header, `quoted` the quoted
  // transport bytes (at least 8). Connected sockets learn it as a pending error (ECONNREFUSED
  // for port unreachable), as on Linux.
  void icmp_error(const wire::Ipv4Header& ip, std::span<const std::uint8_t> quoted,
                  std::uint8_t type, std::uint8_t code);

  const UdpConfig& config() const { return config_; }

 private:
  UdpSocket* lookup(Ipv4Address dst, std::uint16_t dst_port, Endpoint from);
  void deliver(UdpSocket& socket, Endpoint from, Packet payload);
  bool port_free(Ipv4Address address, std::uint16_t port, bool reuse) const;

  Stack& stack_;
  UdpConfig config_;
  std::unordered_multimap<std::uint16_t, UdpSocket*> bound_;
};

}  // namespace ustack::udp
