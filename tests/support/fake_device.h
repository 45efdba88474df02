// FakeDevice: a NetDevice a test drives by hand — it hands out the frames queued in `incoming`,
// records what is transmitted in `sent` (or refuses it), and reports the fd, MTU, name and
// deadline the test sets, so decorators can be checked for delegating them.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "netdev/net_device.h"

namespace ustack::test {

class FakeDevice : public NetDevice {
 public:
  std::size_t receive(std::vector<Packet>& out, std::size_t max) override {
    std::size_t n = 0;
    while (n < max && !incoming.empty()) {
      out.push_back(std::move(incoming.front()));
      incoming.pop_front();
      ++n;
    }
    return n;
  }
  bool transmit(Packet frame) override {
    if (refuse) return false;
    sent.push_back(std::move(frame));
    return true;
  }
  void flush() override { ++flushes; }
  int fd() const override { return fd_value; }
  std::size_t mtu() const override { return mtu_value; }
  std::string_view name() const override { return name_value; }
  Instant next_deadline() const override { return deadline; }

  std::deque<Packet> incoming;
  std::vector<Packet> sent;
  bool refuse = false;
  int flushes = 0;
  int fd_value = -1;
  std::size_t mtu_value = 1500;
  std::string name_value = "fake0";
  Instant deadline = kNever;
};

}  // namespace ustack::test
