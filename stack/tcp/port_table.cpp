#include "stack/tcp/port_table.h"

#include <algorithm>

#include "stack/tcp/tcp.h"

namespace ustack::tcp {

void PortTable::add(TcpSocket& s) {
  Port& port = ports_[s.local.port];
  PortLink& link = s.port_link;
  link.prev = nullptr;
  link.next = port.first;
  if (port.first != nullptr) port.first->port_link.prev = &s;
  port.first = &s;
  link.held = true;
}

void PortTable::remove(TcpSocket& s) {
  PortLink& link = s.port_link;
  if (!link.held) return;
  auto it = ports_.find(s.local.port);
  Port& port = it->second;
  if (link.prev != nullptr) {
    link.prev->port_link.next = link.next;
  } else {
    port.first = link.next;
  }
  if (link.next != nullptr) link.next->port_link.prev = link.prev;
  link = PortLink{};
  std::erase(port.listeners, &s);
  if (port.first == nullptr) ports_.erase(it);
}

void PortTable::add_listener(TcpSocket& s) {
  Port& port = ports_.at(s.local.port);
  if (std::find(port.listeners.begin(), port.listeners.end(), &s) == port.listeners.end()) {
    port.listeners.push_back(&s);
  }
}

TcpSocket* PortTable::listener(Endpoint local) const {
  auto it = ports_.find(local.port);
  if (it == ports_.end()) return nullptr;
  TcpSocket* wildcard = nullptr;
  // A socket stays in `listeners` after it stops listening (shutdown, abort) until it gives
  // its port back, hence the state check.
  for (TcpSocket* s : it->second.listeners) {
    if (!s->is_listener()) continue;
    if (s->local.address == local.address) return s;
    if (s->local.address.is_unspecified()) wildcard = s;
  }
  return wildcard;
}

bool PortTable::has_other_listener(const TcpSocket& s) const {
  auto it = ports_.find(s.local.port);
  if (it == ports_.end()) return false;
  return std::any_of(it->second.listeners.begin(), it->second.listeners.end(), [&](TcpSocket* o) {
    return o != &s && o->is_listener() && o->local.address == s.local.address;
  });
}

bool PortTable::in_use(Ipv4Address address, std::uint16_t port, bool reuse) const {
  auto it = ports_.find(port);
  if (it == ports_.end()) return false;
  for (const TcpSocket* other = it->second.first; other != nullptr; other = other->port_link.next) {
    const bool overlap = address.is_unspecified() || other->local.address.is_unspecified() ||
                         address == other->local.address;
    if (!overlap) continue;
    if (reuse && other->reuse_address && !other->is_listener()) continue;
    return true;
  }
  return false;
}

}  // namespace ustack::tcp
