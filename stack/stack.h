// Stack: owns the interfaces, the protocol layers, the timers, the counters and the random
// generator — everything, so `p stack` in gdb shows the whole state.
//
// The core is single-threaded and deterministic: time comes in through poll(now), randomness from
// the Rng given at construction. One poll receives a batch from every device and runs each frame
// up through Ethernet::input, feeds back datagrams sent to ourselves, runs the timers that are
// due, and flushes the devices. next_deadline() says when poll must run again at the latest.
#pragma once

#include <memory>
#include <vector>

#include "netdev/net_device.h"
#include "stack/base/packet.h"
#include "stack/base/rng.h"
#include "stack/base/stats.h"
#include "stack/base/time.h"
#include "stack/base/timer_queue.h"
#include "stack/interface.h"
#include "stack/ip/icmp.h"
#include "stack/ip/ipv4.h"
#include "stack/link/arp.h"
#include "stack/link/ethernet.h"
#include "stack/socket/socket_table.h"
#include "stack/tcp/tcp.h"
#include "stack/udp/udp.h"

namespace ustack {

struct StackConfig {
  link::ArpConfig arp;
  ip::Ipv4Config ipv4;
  ip::IcmpConfig icmp;
  udp::UdpConfig udp;
  tcp::TcpConfig tcp;
  // Open descriptors of the socket API.
  std::size_t max_sockets = 65536;
  // Frames taken from one device per poll, so one busy device cannot starve timers or others.
  std::size_t receive_batch = 64;
};

class Stack {
 public:
  explicit Stack(Rng rng, const StackConfig& config = {});
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Attaches a device. The device must outlive the Stack. Announces the address with a
  // gratuitous ARP.
  Interface& add_interface(NetDevice& device, const InterfaceConfig& config);

  // Does all the work that is due at `now`; see the top of this file.
  void poll(Instant now);
  // The latest time poll must be called again (kNever if nothing is pending).
  Instant next_deadline() const;

  // Feeds one frame as if `iface`'s device had received it (tests, fuzzers).
  void receive_frame(Interface& iface, Packet frame);
  // Hands a finished frame to iface's device, counting what the device refuses.
  void transmit(Interface& iface, Packet frame);
  // Sends what the devices batched; poll does this at its end, the socket API after a call.
  void flush_devices();

  // The current time: set by poll, and by API calls that enter the core between polls.
  Instant now() const { return now_; }
  void set_now(Instant now) { now_ = now; }

  Stats& stats() { return stats_; }
  const Stats& stats() const { return stats_; }
  Rng& rng() { return rng_; }
  TimerQueue& timers() { return timers_; }
  std::vector<std::unique_ptr<Interface>>& interfaces() { return interfaces_; }
  Interface& interface(std::size_t index) { return *interfaces_.at(index); }

  link::Ethernet& ethernet() { return ethernet_; }
  link::Arp& arp() { return arp_; }
  ip::Ipv4& ipv4() { return ipv4_; }
  ip::Icmp& icmp() { return icmp_; }
  udp::Udp& udp() { return udp_; }
  tcp::Tcp& tcp() { return tcp_; }
  SocketTable& sockets() { return sockets_; }

 private:
  void run_timers();

  StackConfig config_;
  Instant now_{};
  Rng rng_;
  Stats stats_;
  TimerQueue timers_;
  std::vector<std::unique_ptr<Interface>> interfaces_;
  std::vector<Packet> receive_batch_;
  link::Ethernet ethernet_;
  link::Arp arp_;
  ip::Ipv4 ipv4_;
  ip::Icmp icmp_;
  udp::Udp udp_;
  SocketTable sockets_;
  // Last: its destructor gives back the connections' timers.
  tcp::Tcp tcp_;
};

}  // namespace ustack
