// Ethernet: the bottom of the stack. Every received frame enters at Ethernet::input; every frame
// leaves through Ethernet::transmit.
//
// Input: runt/oversize checks, destination MAC filter (ours, broadcast; other multicast is not
// joined), then a switch on EtherType to Arp::input or Ipv4::input.
// Output: Ipv4::output hands a datagram and its next hop to Ethernet::output, which resolves the
// next hop's MAC with ARP (the packet waits in ARP's queue while that is in progress) and then
// prepends the header in the packet's headroom.
#pragma once

#include "stack/base/packet.h"
#include "stack/interface.h"
#include "stack/wire/ethernet.h"

namespace ustack {
class Stack;
}

namespace ustack::link {

class Ethernet {
 public:
  explicit Ethernet(Stack& stack) : stack_(stack) {}

  // Where every received frame arrives.
  void input(Interface& iface, Packet frame);

  // Sends an IPv4 datagram to next_hop, resolving its MAC with ARP first.
  void output(Interface& iface, Packet datagram, Ipv4Address next_hop);

  // Prepends the Ethernet header and hands the frame to the device.
  void transmit(Interface& iface, Packet payload, MacAddress dst, wire::EtherType type);

 private:
  Stack& stack_;
};

}  // namespace ustack::link
