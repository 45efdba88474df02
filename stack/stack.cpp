#include "stack/stack.h"

#include <algorithm>

namespace ustack {

Stack::Stack(Rng rng, const StackConfig& config)
    : config_(config),
      rng_(rng),
      ethernet_(*this),
      arp_(*this, config.arp),
      ipv4_(*this, config.ipv4),
      icmp_(*this, config.icmp),
      udp_(*this, config.udp),
      sockets_(config.max_sockets),
      tcp_(*this, config.tcp) {
  receive_batch_.reserve(config_.receive_batch);
}

Interface& Stack::add_interface(NetDevice& device, const InterfaceConfig& config) {
  interfaces_.push_back(std::make_unique<Interface>(interfaces_.size(), device, config));
  Interface& iface = *interfaces_.back();
  device.attach(stats_);
  const DeviceOffloads offloads = device.offloads();
  log::stack().info("interface {} on {}: {} mac {} mtu {}{}, offloads: {}", iface.index(),
                    device.name(), config.address, config.mac, device.mtu(),
                    config.gateway ? fmt::format(" gw {}", *config.gateway) : std::string{},
                    offloads.tso_max != 0  ? fmt::format("checksum, tso {}", offloads.tso_max)
                    : offloads.tx_checksum ? "checksum"
                                           : "none");
  arp_.announce(iface);
  device.flush();
  return iface;
}

void Stack::poll(Instant now) {
  now_ = now;
  for (auto& iface : interfaces_) {
    // The first frame of a wakeup is handled before the device is read again, then the rest in
    // one batch: a lone request (a ping, a 1-byte exchange) is answered without first waiting
    // for the read that finds the device empty, and a burst still goes through in batches.
    std::size_t want = 1;
    std::size_t budget = config_.receive_batch;
    while (budget > 0) {
      receive_batch_.clear();
      const std::size_t got = iface->device().receive(receive_batch_, std::min(want, budget));
      for (Packet& frame : receive_batch_) {
        stats_.add(Counter::dev_rx_frames);
        if (frame.offload.gso_size != 0) stats_.add(Counter::dev_rx_gso);
        ethernet_.input(*iface, std::move(frame));
      }
      if (got < std::min(want, budget)) break;  // the device is empty
      budget -= got;
      want = budget;
    }
  }
  ipv4_.deliver_loopback();
  run_timers();
  flush_devices();
}

void Stack::flush_devices() {
  for (auto& iface : interfaces_) iface->device().flush();
}

void Stack::run_timers() {
  // Bounded by what is due now: a handler that re-arms does so for a later time.
  while (auto timer = timers_.pop_due(now_)) {
    switch (timer->kind) {
      case TimerKind::arp:
        arp_.on_timer(timer->key, timer->when);
        break;
      case TimerKind::ip_reassembly:
        ipv4_.reassembler().on_timer(timer->key, timer->when);
        break;
      case TimerKind::tcp:
        tcp_.on_timer(timer->key);
        break;
    }
  }
}

Instant Stack::next_deadline() const {
  if (ipv4_.loopback_pending()) return now_;
  Instant next = timers_.next_deadline();
  for (const auto& iface : interfaces_) {
    next = std::min(next, iface->device().next_deadline());
  }
  return next;
}

void Stack::receive_frame(Interface& iface, Packet frame) {
  stats_.add(Counter::dev_rx_frames);
  ethernet_.input(iface, std::move(frame));
}

void Stack::transmit(Interface& iface, Packet frame) {
  const bool gso = frame.offload.gso_size != 0;
  if (iface.device().transmit(std::move(frame))) {
    stats_.add(Counter::dev_tx_frames);
    if (gso) stats_.add(Counter::dev_tx_gso);
  } else {
    stats_.drop(Counter::dev_tx_full, "on {}", iface.device().name());
  }
}

}  // namespace ustack
