// PortTable: the local ports TCP sockets hold, for bind's conflict check, the ephemeral port
// search and the listener lookup of every SYN.
//
// Every connection accepted on a port holds that port as its listener does (Linux
// __inet_inherit_port), so a busy server's port is held by thousands of sockets. Finding its
// listener must not walk them: listeners sit in a short list of their own, and every holder is
// linked through the socket itself, so that adding and removing one costs O(1) whatever the
// crowd. Only bind()'s conflict check walks a port's holders, and it stops at the first
// conflict.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "stack/socket/socket.h"
#include "stack/wire/address.h"

namespace ustack::tcp {

class TcpSocket;

// A socket's links in its port's list of holders (intrusive: no allocation per socket).
struct PortLink {
  TcpSocket* prev = nullptr;
  TcpSocket* next = nullptr;
  bool held = false;
};

class PortTable {
 public:
  // `s` holds s.local.port from now on. It must not hold one already.
  void add(TcpSocket& s);
  // `s` gives its port back (nothing if it holds none).
  void remove(TcpSocket& s);
  // `s`, holding its port, listens: listener() finds it from now on.
  void add_listener(TcpSocket& s);

  // The listener a SYN to `local` belongs to: one bound to the address wins over a wildcard one
  // (RFC 9293 MUST-41/42: several passive opens on one port must not interfere).
  TcpSocket* listener(Endpoint local) const;
  // Any listener on the same address and port as `s`, other than `s`.
  bool has_other_listener(const TcpSocket& s) const;
  // Whether binding `address`:`port` would conflict with a holder. With `reuse` (SO_REUSEADDR
  // on the new socket), holders that also set it and do not listen are no conflict (Linux
  // inet_csk_bind_conflict), which lets a server rebind while its old connections linger.
  bool in_use(Ipv4Address address, std::uint16_t port, bool reuse) const;

  std::size_t ports() const { return ports_.size(); }

 private:
  struct Port {
    TcpSocket* first = nullptr;         // every holder, linked by TcpSocket::port_link
    std::vector<TcpSocket*> listeners;  // holders that called listen(); few
  };
  std::unordered_map<std::uint16_t, Port> ports_;
};

}  // namespace ustack::tcp
