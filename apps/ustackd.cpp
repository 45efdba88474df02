// ustackd: runs ustack on a Linux TAP device.
//
//   ustackd --tap tap0 --ip 10.0.0.2/24 [--gw 10.0.0.1] [--mac 02:00:00:00:00:02] [--mtu 1500]
//           [--host-ip 10.0.0.1/24] [--pcap FILE] [--log tcp=debug,arp=trace] [--trace]
//           [--drop P --duplicate P --reorder P --corrupt P --delay-ms N --fault-seed N]
//
// The device chain is built from the flags, innermost first: TAP -> fault injector -> pcap
// writer -> tracer -> Stack, so the pcap shows what the stack saw after injected faults.
// SIGINT or SIGTERM stops it; it then prints every counter that is not zero.
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "netdev/fault_injector.h"
#include "netdev/pcap_writer.h"
#include "netdev/tap_device.h"
#include "netdev/tracer.h"
#include "stack/base/log.h"
#include "stack/runtime.h"
#include "stack/stack.h"

namespace {

ustack::Runtime* g_runtime = nullptr;

void on_signal(int) {
  if (g_runtime != nullptr) g_runtime->stop();
}

template <typename T, typename Parse>
CLI::Validator parses_as(std::string description, Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        return parse(text) ? std::string{} : "cannot parse '" + text + "'";
      },
      std::move(description));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ustackd: the ustack TCP/IP stack on a Linux TAP device"};
  std::string tap_name = "tap0";
  std::string ip_text;
  std::string gw_text;
  std::string mac_text = "02:00:00:00:00:02";
  std::string host_ip_text;
  std::string pcap_path;
  std::string log_spec;
  std::size_t mtu = 1500;
  bool trace = false;
  ustack::FaultConfig faults;
  double delay_ms = 0;

  auto cidr = parses_as<ustack::Ipv4Cidr>(
      "A.B.C.D/N", [](const std::string& s) { return ustack::Ipv4Cidr::parse(s).has_value(); });
  auto address = parses_as<ustack::Ipv4Address>(
      "A.B.C.D", [](const std::string& s) { return ustack::Ipv4Address::parse(s).has_value(); });
  auto mac = parses_as<ustack::MacAddress>(
      "MAC", [](const std::string& s) { return ustack::MacAddress::parse(s).has_value(); });

  app.add_option("--tap", tap_name, "TAP device to create or attach")->capture_default_str();
  app.add_option("--ip", ip_text, "the stack's address and prefix, e.g. 10.0.0.2/24")
      ->required()
      ->check(cidr);
  app.add_option("--gw", gw_text, "default gateway")->check(address);
  app.add_option("--mac", mac_text, "the stack's MAC address")->check(mac)->capture_default_str();
  app.add_option("--mtu", mtu, "link MTU")->check(CLI::Range(576, 9000))->capture_default_str();
  app.add_option("--host-ip", host_ip_text,
                 "also give the kernel side of the TAP this address, e.g. 10.0.0.1/24")
      ->check(cidr);
  app.add_option("--pcap", pcap_path, "write every frame in and out to this pcap file");
  app.add_option("--log", log_spec, "log levels, e.g. debug or ip=debug,arp=trace (or USTACK_LOG)");
  app.add_flag("--trace", trace, "log every frame, decoded, one line each");
  auto* fault_group = app.add_option_group("Fault injection (on frames in both directions)");
  fault_group->add_option("--drop", faults.drop, "drop probability")->check(CLI::Range(0.0, 1.0));
  fault_group->add_option("--duplicate", faults.duplicate, "duplicate probability")
      ->check(CLI::Range(0.0, 1.0));
  fault_group->add_option("--reorder", faults.reorder, "reorder probability")
      ->check(CLI::Range(0.0, 1.0));
  fault_group->add_option("--corrupt", faults.corrupt, "bit-flip probability")
      ->check(CLI::Range(0.0, 1.0));
  fault_group->add_option("--delay-ms", delay_ms, "added one-way delay")
      ->check(CLI::Range(0.0, 10000.0));
  fault_group->add_option("--fault-seed", faults.seed, "seed of the fault injector");
  CLI11_PARSE(app, argc, argv);

  if (auto error = ustack::log::set_levels_from_env(); !error.empty()) {
    std::fprintf(stderr, "ustackd: USTACK_LOG: %s\n", error.c_str());
    return 2;
  }
  if (auto error = ustack::log::set_levels(log_spec); !error.empty()) {
    std::fprintf(stderr, "ustackd: --log: %s\n", error.c_str());
    return 2;
  }
  if (trace && !ustack::log::dev().should_log(spdlog::level::info)) {
    ustack::log::dev().set_level(spdlog::level::info);
  }

  ustack::InterfaceConfig config;
  config.address = *ustack::Ipv4Cidr::parse(ip_text);
  config.mac = *ustack::MacAddress::parse(mac_text);
  if (!gw_text.empty()) config.gateway = *ustack::Ipv4Address::parse(gw_text);
  if (config.gateway && !config.address.contains(*config.gateway)) {
    std::fprintf(stderr, "ustackd: gateway %s is not on %s\n", gw_text.c_str(), ip_text.c_str());
    return 2;
  }

  std::string error;
  auto tap = ustack::TapDevice::open(tap_name, mtu, error);
  if (!tap) {
    std::fprintf(stderr, "ustackd: cannot open TAP %s: %s\n", tap_name.c_str(), error.c_str());
    return 1;
  }
  if (!host_ip_text.empty() &&
      !tap->set_host_address(*ustack::Ipv4Cidr::parse(host_ip_text), error)) {
    std::fprintf(stderr, "ustackd: cannot set --host-ip %s: %s\n", host_ip_text.c_str(),
                 error.c_str());
    return 1;
  }

  ustack::SteadyClock clock;
  ustack::NetDevice* device = tap.get();
  std::unique_ptr<ustack::FaultInjector> injector;
  if (faults.drop > 0 || faults.duplicate > 0 || faults.reorder > 0 || faults.corrupt > 0 ||
      delay_ms > 0) {
    faults.delay = std::chrono::duration_cast<ustack::Duration>(
        std::chrono::duration<double, std::milli>(delay_ms));
    injector = std::make_unique<ustack::FaultInjector>(*device, clock, faults);
    device = injector.get();
  }
  std::unique_ptr<ustack::PcapWriter> pcap;
  if (!pcap_path.empty()) {
    pcap = ustack::PcapWriter::open(*device, pcap_path, clock, ustack::wall_clock_offset(clock),
                                    error);
    if (!pcap) {
      std::fprintf(stderr, "ustackd: cannot write %s: %s\n", pcap_path.c_str(), error.c_str());
      return 1;
    }
    device = pcap.get();
  }
  std::unique_ptr<ustack::Tracer> tracer;
  if (trace) {
    tracer = std::make_unique<ustack::Tracer>(*device);
    device = tracer.get();
  }

  ustack::Stack stack(ustack::Rng::from_entropy());
  ustack::Runtime runtime(stack, clock);
  {
    std::lock_guard lock(runtime.core_lock());
    stack.set_now(clock.now());
    stack.add_interface(*device, config);
  }

  g_runtime = &runtime;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::printf("ustackd: ready on %s ip %s mac %s mtu %zu\n", tap_name.c_str(), ip_text.c_str(),
              mac_text.c_str(), mtu);
  std::fflush(stdout);

  const bool ok = runtime.run();
  const int run_errno = errno;
  g_runtime = nullptr;
  device->flush();

  std::printf("ustackd: stopped; counters:\n");
  stack.stats().for_each([](std::string_view name, std::uint64_t value) {
    if (value != 0) std::printf("%.*s %lu\n", static_cast<int>(name.size()), name.data(), value);
  });
  if (injector) {
    const auto& c = injector->counters();
    std::printf(
        "fault.dropped %lu\nfault.duplicated %lu\nfault.reordered %lu\nfault.corrupted %lu\n",
        c.dropped, c.duplicated, c.reordered, c.corrupted);
  }
  std::fflush(stdout);
  if (!ok) {
    std::fprintf(stderr, "ustackd: event loop failed: %s\n", std::strerror(run_errno));
    return 1;
  }
  return 0;
}
