// TapHost: what every program over ustack needs before its first socket call — the command-line
// flags of DESIGN.md (--tap --ip --gw --mac --mtu --host-ip --pcap --log --trace --offload and the
// fault injection flags), the TAP device and its decorators, the Stack and the Runtime.
//
// A program adds its own flags next to these, calls start(), and then uses only the socket API.
// Signals: start() blocks SIGINT and SIGTERM in every thread; wait_for_signal() returns when one
// arrives, so shutting down happens on an ordinary thread, never in a signal handler.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "netdev/fault_injector.h"
#include "netdev/pcap_writer.h"
#include "netdev/tap_device.h"
#include "netdev/tracer.h"
#include "stack/runtime.h"
#include "stack/stack.h"

namespace ustack::apps {

class TapHost {
 public:
  // `default_ip` is used when --ip is not given (empty: --ip is required).
  explicit TapHost(std::string default_tap = "tap0", std::string default_ip = {});

  void add_options(CLI::App& app);
  // Opens the TAP, builds the device chain and the stack, and starts the I/O thread. Returns
  // false with a message for the user.
  bool start(std::string& error);
  // Blocks until SIGINT or SIGTERM; returns the signal.
  int wait_for_signal();
  // Stops the I/O thread and flushes the devices (the pcap file).
  void stop();
  // Prints every counter that is not zero, "name value" per line.
  void print_counters(std::FILE* out) const;

  Stack& stack() { return *stack_; }
  Runtime& runtime() { return *runtime_; }
  const Ipv4Cidr& address() const { return config_.address; }
  MacAddress mac() const { return config_.mac; }
  const std::string& tap_name() const { return tap_name_; }

 private:
  std::string tap_name_;
  std::string ip_text_;
  std::string gw_text_;
  std::string mac_text_ = "02:00:00:00:00:02";
  std::string host_ip_text_;
  std::string pcap_path_;
  std::string log_spec_;
  std::size_t mtu_ = 1500;
  bool trace_ = false;
  std::string offload_ = "auto";
  FaultConfig faults_;
  double delay_ms_ = 0;
  bool ip_required_;

  InterfaceConfig config_;
  SteadyClock clock_;
  std::unique_ptr<TapDevice> tap_;
  std::unique_ptr<FaultInjector> injector_;
  std::unique_ptr<PcapWriter> pcap_;
  std::unique_ptr<Tracer> tracer_;
  NetDevice* device_ = nullptr;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<Runtime> runtime_;
};

// sockaddr_in for an address and port, for the BSD-style code in the programs.
sockaddr_in make_sockaddr(Ipv4Address address, std::uint16_t port);

}  // namespace ustack::apps
