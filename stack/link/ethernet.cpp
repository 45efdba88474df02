#include "stack/link/ethernet.h"

#include "stack/stack.h"
#include "stack/wire/ipv4.h"

namespace ustack::link {

using wire::EthernetHeader;
using wire::EtherType;

void Ethernet::input(Interface& iface, Packet frame) {
  Stats& stats = stack_.stats();
  stats.add(Counter::eth_rx);

  auto header = EthernetHeader::parse(frame.bytes());
  if (!header) return stats.drop(header.error(), "{} bytes", frame.size());
  // A TAP may hand over frames larger than the MTU we advertised (the kernel side's MTU can be
  // changed under us); they would not fit the buffers sized from our MTU, so refuse them here.
  // A GSO frame (a train of MTU-sized TCP segments the kernel left uncut, PacketOffload) is
  // larger by design; it still holds at most one IPv4 datagram.
  const std::size_t limit =
      frame.offload.gso_size != 0 ? wire::Ipv4Header::kMaxDatagram : iface.mtu();
  if (frame.size() > limit + EthernetHeader::kSize) {
    return stats.drop(Counter::eth_oversize, "{} bytes, mtu {}", frame.size(), iface.mtu());
  }
  if (header->dst != iface.mac() && !header->dst.is_broadcast()) {
    // No multicast groups are joined, so group addresses other than broadcast are not for us.
    return stats.drop(Counter::eth_not_for_us, "{}", *header);
  }
  if (header->src.is_multicast()) {
    // A group address is never a valid source (IEEE 802.3 3.2.3); answering it would multicast.
    return stats.drop(Counter::eth_bad_source, "{}", *header);
  }
  log::eth().trace("rx {}", *header);

  frame.link_broadcast = header->dst.is_broadcast();
  frame.pull(EthernetHeader::kSize);
  switch (static_cast<EtherType>(header->ethertype)) {
    case EtherType::arp:
      return stack_.arp().input(iface, std::move(frame));
    case EtherType::ipv4:
      return stack_.ipv4().input(iface, std::move(frame));
    default:
      return stats.drop(Counter::eth_unknown_type, "{}", *header);
  }
}

void Ethernet::output(Interface& iface, Packet datagram, Ipv4Address next_hop) {
  // Broadcasts need no resolution (RFC 1122 3.3.6 maps them to the link broadcast).
  if (next_hop.is_broadcast() || iface.is_subnet_broadcast(next_hop)) {
    return transmit(iface, std::move(datagram), MacAddress::broadcast(), EtherType::ipv4);
  }
  stack_.arp().resolve_and_send(iface, std::move(datagram), next_hop);
}

void Ethernet::transmit(Interface& iface, Packet payload, MacAddress dst, EtherType type) {
  EthernetHeader header{dst, iface.mac(), static_cast<std::uint16_t>(type)};
  header.emit(payload.push(EthernetHeader::kSize));
  log::eth().trace("tx {}", header);
  stack_.stats().add(Counter::eth_tx);
  // Frames shorter than 60 bytes are not padded here: the TAP and the in-memory link carry them
  // as they are, and a physical NIC's driver pads on transmit.
  stack_.transmit(iface, std::move(payload));
}

}  // namespace ustack::link
