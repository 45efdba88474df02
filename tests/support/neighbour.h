// Test support for the layer tests: one Stack on end a() of a MemoryLink, and a fake neighbour —
// the test itself — on end b(). The test builds frames (support/frames.h), feeds them to the
// stack, polls it at ManualClock instants, and reads back what the stack sent.
//
//   Neighbour n;                                  // stack 10.0.0.2/24, peer 10.0.0.1
//   n.send(ethernet(kStackMac, kPeerMac, EtherType::arp, arp_bytes(...)));
//   auto frames = n.sent();                       // everything the stack transmitted
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "netdev/memory_link.h"
#include "stack/stack.h"
#include "support/frames.h"
#include "support/test_config.h"

namespace ustack::test {

inline constexpr MacAddress kStackMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
inline constexpr MacAddress kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr MacAddress kOtherMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x77};
inline constexpr Ipv4Address kStackIp{10, 0, 0, 2};
inline constexpr Ipv4Address kPeerIp{10, 0, 0, 1};
inline constexpr Ipv4Address kOtherIp{10, 0, 0, 7};  // on-link, but nobody answers for it
inline constexpr Ipv4Address kSubnetBroadcast{10, 0, 0, 255};

struct NeighbourOptions {
  StackConfig config = test_config();
  std::size_t mtu = 1500;
  std::uint64_t seed = 1;
  std::optional<Ipv4Address> gateway;
  std::uint8_t prefix_length = 24;
};

class Neighbour {
 public:
  explicit Neighbour(const NeighbourOptions& options = {})
      : link_(options.mtu, 1 << 20),
        stack_(Rng(options.seed), options.config),
        iface_((quiet_logs(), stack_.add_interface(link_.a(), interface_config(options)))) {
    stack_.poll(clock_.now());
    startup_ = sent();
  }

  // What the stack sent while it was brought up (the gratuitous ARP announcement).
  std::vector<Packet>& startup_frames() { return startup_; }

  Stack& stack() { return stack_; }
  Interface& iface() { return iface_; }
  ManualClock& clock() { return clock_; }
  Instant now() const { return clock_.now(); }
  const Stats& stats() const { return stack_.stats(); }
  std::uint64_t counter(std::string_view name) const { return stack_.stats().get(name); }

  // Feeds one frame to the stack as if it came off the wire, then polls at the current time.
  void send(std::span<const std::uint8_t> frame) {
    stack_.receive_frame(iface_, Packet::copy_of(frame));
    poll();
  }
  // Feeds an IPv4 datagram from the peer in an Ethernet frame to `dst`.
  void send_ip(std::span<const std::uint8_t> datagram, MacAddress dst = kStackMac,
               MacAddress src = kPeerMac) {
    send(ethernet(dst, src, wire::EtherType::ipv4, datagram));
  }
  void send_arp(const wire::ArpPacket& arp, MacAddress dst = MacAddress::broadcast(),
                MacAddress src = kPeerMac) {
    send(ethernet(dst, src, wire::EtherType::arp, arp_bytes(arp)));
  }

  void poll() { stack_.poll(clock_.now()); }
  // Moves the clock by `d` in one jump and polls.
  void advance(Duration d) {
    clock_.advance(d);
    poll();
  }
  // Moves the clock by `d` in steps of `step`, polling at every step (timers fire on time).
  void run_for(Duration d, Duration step = 10ms) {
    for (Duration done{}; done < d; done += step) advance(std::min(step, d - done));
  }

  // Every frame the stack transmitted since the last call.
  std::vector<Packet> sent() {
    std::vector<Packet> out;
    while (link_.b().receive(out, 1 << 20) > 0) {
    }
    return out;
  }
  std::vector<IpDatagram> sent_ip() {
    std::vector<IpDatagram> out;
    for (const Packet& p : sent()) {
      auto d = decode_ipv4(p.bytes());
      EXPECT_TRUE(d.has_value()) << "the stack sent a frame that is not valid IPv4";
      if (d) out.push_back(std::move(*d));
    }
    return out;
  }
  std::vector<wire::ArpPacket> sent_arp(std::vector<wire::EthernetHeader>* eth = nullptr) {
    std::vector<wire::ArpPacket> out;
    for (const Packet& p : sent()) {
      wire::EthernetHeader h;
      auto a = decode_arp(p.bytes(), &h);
      EXPECT_TRUE(a.has_value()) << "the stack sent a frame that is not valid ARP";
      if (a) out.push_back(*a);
      if (a && eth) eth->push_back(h);
    }
    return out;
  }

  // Makes the stack learn the peer's MAC (an ARP request from the peer for the stack's address)
  // and throws away the reply, so that later IP output goes straight to the wire.
  void resolve_peer() {
    send_arp(arp_packet(wire::ArpOp::request, kPeerMac, kPeerIp, MacAddress{}, kStackIp));
    sent();
  }

 private:
  static InterfaceConfig interface_config(const NeighbourOptions& options) {
    InterfaceConfig c;
    c.mac = kStackMac;
    c.address = {kStackIp, options.prefix_length};
    c.gateway = options.gateway;
    return c;
  }

  ManualClock clock_;
  MemoryLink link_;
  Stack stack_;
  Interface& iface_;
  std::vector<Packet> startup_;
};

}  // namespace ustack::test
