// Tracer: a NetDevice decorator that logs every frame received and transmitted, one decoded line
// each, in the spirit of `tcpdump -e`:
//
//   tap0 rx eth 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff arp who-has 10.0.0.2 tell 10.0.0.1 (…)
//   tap0 tx eth 02:00:00:00:00:02 > 02:00:00:00:00:01 ip 10.0.0.2 > 10.0.0.1 proto 1 len 84 …
//
// Lines go to the "dev" logger at info level; with that level off nothing is decoded.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "netdev/net_device.h"

namespace ustack {

// One line describing an Ethernet frame, decoded with the wire parsers and their formatters.
// Where a header does not parse, the line ends with "bad <counter> len <bytes>": the counter the
// stack would drop the frame under, and the length of what was handed to that parser.
std::string describe_frame(std::span<const std::uint8_t> frame);

class Tracer final : public NetDevice {
 public:
  explicit Tracer(NetDevice& inner) : inner_(inner) {}

  std::size_t receive(std::vector<Packet>& out, std::size_t max) override;
  bool transmit(Packet frame) override;
  void flush() override { inner_.flush(); }
  int fd() const override { return inner_.fd(); }
  std::size_t mtu() const override { return inner_.mtu(); }
  std::string_view name() const override { return inner_.name(); }
  Instant next_deadline() const override { return inner_.next_deadline(); }
  // A TSO frame is logged as the one large segment it is.
  DeviceOffloads offloads() const override { return inner_.offloads(); }
  void attach(Stats& stats) override { inner_.attach(stats); }

 private:
  NetDevice& inner_;
};

}  // namespace ustack
