// Test support for stack-to-stack tests: two Stacks joined by a MemoryLink, A = 10.1.0.1/24 and
// B = 10.1.0.2/24, optionally with a FaultInjector on A's end (so its faults hit both directions
// of every exchange), all driven by one ManualClock stepped in small increments.
//
//   TwoStacks net;
//   net.a().icmp().send_echo_request(kIpB, 1, 1, data);
//   net.run_until([&] { return ...; }, 1s);
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "netdev/fault_injector.h"
#include "netdev/memory_link.h"
#include "stack/stack.h"
#include "support/frames.h"
#include "support/test_config.h"

namespace ustack::test {

inline constexpr MacAddress kMacA{0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
inline constexpr MacAddress kMacB{0x02, 0x00, 0x00, 0x00, 0x02, 0x02};
inline constexpr Ipv4Address kIpA{10, 1, 0, 1};
inline constexpr Ipv4Address kIpB{10, 1, 0, 2};

struct TwoStacksOptions {
  StackConfig config = test_config();
  std::size_t mtu = 1500;
  std::uint64_t seed = 1;
  // Faults on A's end of the link (both directions unless the config says otherwise).
  std::optional<FaultConfig> faults;
};

class TwoStacks {
 public:
  explicit TwoStacks(const TwoStacksOptions& options = {})
      : link_(options.mtu),
        injector_(options.faults
                      ? std::make_unique<FaultInjector>(link_.a(), clock_, *options.faults)
                      : nullptr),
        a_(Rng(options.seed), options.config),
        b_(Rng(options.seed + 1), options.config) {
    quiet_logs();
    a_.set_now(clock_.now());
    b_.set_now(clock_.now());
    ia_ = &a_.add_interface(injector_ ? static_cast<NetDevice&>(*injector_) : link_.a(),
                            interface_config(kMacA, kIpA));
    ib_ = &b_.add_interface(link_.b(), interface_config(kMacB, kIpB));
    step(0ms);
  }

  Stack& a() { return a_; }
  Stack& b() { return b_; }
  Interface& iface_a() { return *ia_; }
  Interface& iface_b() { return *ib_; }
  FaultInjector& injector() { return *injector_; }
  ManualClock& clock() { return clock_; }
  Instant now() const { return clock_.now(); }

  // Advances the clock by `d` and polls both stacks.
  void step(Duration d = 1ms) {
    clock_.advance(d);
    a_.poll(clock_.now());
    b_.poll(clock_.now());
  }
  // Steps until `done` returns true (true) or `limit` has passed (false).
  bool run_until(const std::function<bool()>& done, Duration limit, Duration step_size = 1ms) {
    const Instant end = clock_.now() + limit;
    while (!done()) {
      if (clock_.now() >= end) return false;
      step(step_size);
    }
    return true;
  }
  void run_for(Duration d, Duration step_size = 1ms) {
    run_until([] { return false; }, d, step_size);
  }

  // Takes every echo reply A has received so far.
  std::vector<ip::EchoReply> replies_at_a() {
    std::vector<ip::EchoReply> out;
    while (auto r = a_.icmp().take_echo_reply()) out.push_back(std::move(*r));
    return out;
  }

  // One ping from A to B: sends, then steps until the reply for `seq` arrives or `timeout`
  // passes. Replies that arrive for other sequence numbers are kept in `others`.
  std::optional<ip::EchoReply> ping(std::span<const std::uint8_t> data, std::uint16_t seq,
                                    Duration timeout = 1s, std::uint16_t id = 0x5a5a) {
    if (a_.icmp().send_echo_request(kIpB, id, seq, data) != 0) return std::nullopt;
    std::optional<ip::EchoReply> found;
    run_until(
        [&] {
          for (ip::EchoReply& r : replies_at_a()) {
            if (r.id == id && r.sequence == seq && !found) {
              found = std::move(r);
            } else {
              others.push_back(std::move(r));
            }
          }
          return found.has_value();
        },
        timeout);
    return found;
  }

  std::vector<ip::EchoReply> others;

 private:
  static InterfaceConfig interface_config(MacAddress mac, Ipv4Address ip) {
    InterfaceConfig c;
    c.mac = mac;
    c.address = {ip, 24};
    return c;
  }

  ManualClock clock_;
  MemoryLink link_;
  std::unique_ptr<FaultInjector> injector_;
  Stack a_;
  Stack b_;
  Interface* ia_ = nullptr;
  Interface* ib_ = nullptr;
};

}  // namespace ustack::test
