// SoftwareGso: a NetDevice decorator for offload tests. It offers the stack the offloads it is
// given (whatever the device below takes), records every TCP segment the stack transmits as the
// stack made it, and, with `split`, cuts each offloaded frame with wire::segment_gso before
// handing the pieces on: a TSO-capable device in front of a link of MTU-sized frames.
#pragma once

#include <cstdint>
#include <vector>

#include "netdev/net_device.h"
#include "stack/wire/bytes.h"
#include "stack/wire/offload.h"

namespace ustack::test {

class SoftwareGso final : public NetDevice {
 public:
  struct Sent {
    std::uint32_t seq = 0;
    std::size_t data = 0;  // TCP data bytes
    std::uint8_t flags = 0;
    std::uint16_t gso_size = 0;
    bool csum_partial = false;
  };

  SoftwareGso(NetDevice& inner, DeviceOffloads offered, bool split)
      : inner_(inner), offered_(offered), split_(split) {}

  std::size_t receive(std::vector<Packet>& out, std::size_t max) override {
    return inner_.receive(out, max);
  }
  bool transmit(Packet frame) override {
    record(frame);
    if (!split_ || (!frame.offload.csum_partial && frame.offload.gso_size == 0)) {
      return inner_.transmit(std::move(frame));
    }
    std::vector<Packet> pieces = wire::segment_gso(frame);
    if (pieces.empty()) return false;
    split_frames += pieces.size() > 1 ? 1 : 0;
    bool all = true;
    for (Packet& piece : pieces) all = inner_.transmit(std::move(piece)) && all;
    return all;
  }
  void flush() override { inner_.flush(); }
  int fd() const override { return inner_.fd(); }
  std::size_t mtu() const override { return inner_.mtu(); }
  std::string_view name() const override { return inner_.name(); }
  Instant next_deadline() const override { return inner_.next_deadline(); }
  DeviceOffloads offloads() const override { return offered_; }
  void attach(Stats& stats) override { inner_.attach(stats); }

  std::vector<Sent> sent;          // TCP segments, in transmit order
  std::uint64_t split_frames = 0;  // TSO frames cut into more than one

 private:
  void record(const Packet& frame) {
    auto l4 = wire::locate_l4(frame.bytes());
    if (!l4 || l4->protocol != 6) return;
    const std::uint8_t* tcp = frame.data() + l4->start;
    const std::size_t header = static_cast<std::size_t>(tcp[12] >> 4) * 4;
    sent.push_back(Sent{wire::load_be32(tcp + 4), frame.size() - l4->start - header, tcp[13],
                        frame.offload.gso_size, frame.offload.csum_partial});
  }

  NetDevice& inner_;
  DeviceOffloads offered_;
  bool split_;
};

}  // namespace ustack::test
