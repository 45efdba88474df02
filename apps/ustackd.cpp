// ustackd: runs ustack on a Linux TAP device with the demo services that are asked for.
//
//   ustackd --tap tap0 --ip 10.0.0.2/24 [--gw 10.0.0.1] [--mac 02:00:00:00:00:02] [--mtu 1500]
//           [--host-ip 10.0.0.1/24] [--udp-echo 7] [--pcap FILE] [--log tcp=debug] [--trace]
//           [--drop P --duplicate P --reorder P --corrupt P --delay-ms N --fault-seed N]
//
// The device chain is built from the flags, innermost first: TAP -> fault injector -> pcap
// writer -> tracer -> Stack, so the pcap shows what the stack saw after injected faults.
// Each service runs on its own thread against the socket API. SIGINT or SIGTERM stops
// everything; ustackd then prints every counter that is not zero.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "apps/echo_services.h"
#include "apps/tap_host.h"
#include "stack/socket/api.h"

int main(int argc, char** argv) {
  CLI::App app{"ustackd: the ustack TCP/IP stack on a Linux TAP device"};
  ustack::apps::TapHost host;
  host.add_options(app);
  std::vector<std::uint16_t> udp_echo_ports;
  app.add_option("--udp-echo", udp_echo_ports, "serve UDP echo (RFC 862) on PORT")
      ->check(CLI::Range(1, 65535));
  CLI11_PARSE(app, argc, argv);

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "ustackd: %s\n", error.c_str());
    return 1;
  }

  std::vector<int> service_fds;
  std::vector<std::thread> services;
  for (std::uint16_t port : udp_echo_ports) {
    int fd = ustack::apps::open_udp_server(port);
    if (fd < 0) {
      std::fprintf(stderr, "ustackd: --udp-echo %u: %s\n", port, std::strerror(errno));
      return 1;
    }
    service_fds.push_back(fd);
    services.emplace_back(ustack::apps::serve_udp_echo, fd);
  }

  fmt::print("ustackd: ready on {} ip {} mac {}\n", host.tap_name(), host.address(), host.mac());
  std::fflush(stdout);

  host.wait_for_signal();
  for (int fd : service_fds) ustack::close(fd);  // wakes each service's blocked call
  for (auto& t : services) t.join();
  host.stop();
  std::printf("ustackd: stopped; counters:\n");
  host.print_counters(stdout);
  std::fflush(stdout);
  return 0;
}
