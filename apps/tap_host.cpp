#include "apps/tap_host.h"

#include <arpa/inet.h>
#include <signal.h>

#include <cstdio>

#include "stack/base/log.h"

namespace ustack::apps {
namespace {

template <typename Parse>
CLI::Validator parses_as(std::string description, Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        return parse(text) ? std::string{} : "cannot parse '" + text + "'";
      },
      std::move(description));
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

TapHost::TapHost(std::string default_tap, std::string default_ip)
    : tap_name_(std::move(default_tap)),
      ip_text_(std::move(default_ip)),
      ip_required_(ip_text_.empty()) {}

void TapHost::add_options(CLI::App& app) {
  auto cidr =
      parses_as("A.B.C.D/N", [](const std::string& s) { return Ipv4Cidr::parse(s).has_value(); });
  auto address =
      parses_as("A.B.C.D", [](const std::string& s) { return Ipv4Address::parse(s).has_value(); });
  auto mac =
      parses_as("MAC", [](const std::string& s) { return MacAddress::parse(s).has_value(); });

  app.add_option("--tap", tap_name_, "TAP device to create or attach")->capture_default_str();
  auto* ip = app.add_option("--ip", ip_text_, "the stack's address and prefix, e.g. 10.0.0.2/24")
                 ->check(cidr);
  if (ip_required_) {
    ip->required();
  } else {
    ip->capture_default_str();
  }
  app.add_option("--gw", gw_text_, "default gateway")->check(address);
  app.add_option("--mac", mac_text_, "the stack's MAC address")->check(mac)->capture_default_str();
  app.add_option("--mtu", mtu_, "link MTU")->check(CLI::Range(576, 9000))->capture_default_str();
  app.add_option("--host-ip", host_ip_text_,
                 "also give the kernel side of the TAP this address, e.g. 10.0.0.1/24")
      ->check(cidr);
  app.add_option("--pcap", pcap_path_, "write every frame in and out to this pcap file");
  app.add_option("--log", log_spec_,
                 "log levels, e.g. debug or ip=debug,arp=trace (or USTACK_LOG)");
  app.add_flag("--trace", trace_, "log every frame, decoded, one line each");
  app.add_option("--offload", offload_,
                 "TAP offloads (virtio-net header, checksum offload, TSO): on, off, or auto "
                 "(on where the kernel offers them)")
      ->check(CLI::IsMember({"on", "off", "auto"}))
      ->capture_default_str();
  auto* faults = app.add_option_group("Fault injection", "on frames in both directions");
  faults->add_option("--drop", faults_.drop, "drop probability")->check(CLI::Range(0.0, 1.0));
  faults->add_option("--duplicate", faults_.duplicate, "duplicate probability")
      ->check(CLI::Range(0.0, 1.0));
  faults->add_option("--reorder", faults_.reorder, "reorder probability")
      ->check(CLI::Range(0.0, 1.0));
  faults->add_option("--corrupt", faults_.corrupt, "bit-flip probability")
      ->check(CLI::Range(0.0, 1.0));
  faults->add_option("--delay-ms", delay_ms_, "added one-way delay")
      ->check(CLI::Range(0.0, 10000.0));
  faults->add_option("--fault-seed", faults_.seed, "seed of the fault injector");
}

bool TapHost::start(std::string& error) {
  if (auto e = log::set_levels_from_env(); !e.empty()) {
    error = "USTACK_LOG: " + e;
    return false;
  }
  if (auto e = log::set_levels(log_spec_); !e.empty()) {
    error = "--log: " + e;
    return false;
  }
  if (trace_ && !log::dev().should_log(spdlog::level::info))
    log::dev().set_level(spdlog::level::info);

  config_.address = *Ipv4Cidr::parse(ip_text_);
  config_.mac = *MacAddress::parse(mac_text_);
  if (!gw_text_.empty()) config_.gateway = *Ipv4Address::parse(gw_text_);
  if (config_.gateway && !config_.address.contains(*config_.gateway)) {
    error = "gateway " + gw_text_ + " is not on " + ip_text_;
    return false;
  }

  // Block the stop signals before any thread exists, so every thread inherits the mask and
  // wait_for_signal() is the only place they are received.
  sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string why;
  const TapOffload offload = offload_ == "on"    ? TapOffload::on
                             : offload_ == "off" ? TapOffload::off
                                                 : TapOffload::best;
  tap_ = TapDevice::open(tap_name_, mtu_, why, offload);
  if (!tap_) {
    error = "cannot open TAP " + tap_name_ + ": " + why;
    return false;
  }
  log::dev().info("{}: offloads {}", tap_->name(),
                  tap_->vnet_header() ? "on (virtio-net header, checksum, TSO up to 64 KB)"
                                      : "off (one frame per read/write)");
  if (!host_ip_text_.empty() && !tap_->set_host_address(*Ipv4Cidr::parse(host_ip_text_), why)) {
    error = "cannot set --host-ip " + host_ip_text_ + ": " + why;
    return false;
  }
  device_ = tap_.get();
  if (faults_.drop > 0 || faults_.duplicate > 0 || faults_.reorder > 0 || faults_.corrupt > 0 ||
      delay_ms_ > 0) {
    faults_.delay =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(delay_ms_));
    injector_ = std::make_unique<FaultInjector>(*device_, clock_, faults_);
    device_ = injector_.get();
  }
  if (!pcap_path_.empty()) {
    pcap_ = PcapWriter::open(*device_, pcap_path_, clock_, wall_clock_offset(clock_), why);
    if (!pcap_) {
      error = "cannot write " + pcap_path_ + ": " + why;
      return false;
    }
    device_ = pcap_.get();
  }
  if (trace_) {
    tracer_ = std::make_unique<Tracer>(*device_);
    device_ = tracer_.get();
  }

  stack_ = std::make_unique<Stack>(Rng::from_entropy());
  runtime_ = std::make_unique<Runtime>(*stack_, clock_);
  {
    std::lock_guard lock(runtime_->core_lock());
    stack_->set_now(clock_.now());
    stack_->add_interface(*device_, config_);
  }
  if (!runtime_->start()) {
    error = std::string("cannot start the I/O thread: ") + std::strerror(errno);
    return false;
  }
  return true;
}

int TapHost::wait_for_signal() {
  sigset_t signals = stop_signals();
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

void TapHost::stop() {
  if (!runtime_) return;
  runtime_->stop();
  std::lock_guard lock(runtime_->core_lock());
  stack_->flush_devices();
}

void TapHost::print_counters(std::FILE* out) const {
  if (!stack_) return;
  stack_->stats().for_each([out](std::string_view name, std::uint64_t value) {
    if (value != 0) {
      std::fprintf(out, "%.*s %lu\n", static_cast<int>(name.size()), name.data(), value);
    }
  });
  if (injector_) {
    const auto& c = injector_->counters();
    std::fprintf(out,
                 "fault.dropped %lu\nfault.duplicated %lu\nfault.reordered %lu\n"
                 "fault.corrupted %lu\n",
                 c.dropped, c.duplicated, c.reordered, c.corrupted);
  }
}

sockaddr_in make_sockaddr(Ipv4Address address, std::uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(address.to_u32());
  return in;
}

}  // namespace ustack::apps
