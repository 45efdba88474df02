// ustackd: runs ustack on a Linux TAP device with the demo services that are asked for.
//
//   ustackd --tap tap0 --ip 10.0.0.2/24 [--gw 10.0.0.1] [--mac 02:00:00:00:00:02] [--mtu 1500]
//           [--host-ip 10.0.0.1/24] [--echo 7] [--discard 9] [--source 19] [--udp-echo 7]
//           [--http 80 --www DIR]
//           [--pcap FILE] [--log tcp=debug] [--trace]
//           [--drop P --duplicate P --reorder P --corrupt P --delay-ms N --fault-seed N]
//
// The device chain is built from the flags, innermost first: TAP -> fault injector -> pcap
// writer -> tracer -> Stack, so the pcap shows what the stack saw after injected faults.
// Each service runs on its own thread against the socket API. SIGINT or SIGTERM stops
// everything; ustackd then prints every counter that is not zero.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "apps/echo_services.h"
#include "apps/http/server.h"
#include "apps/tap_host.h"
#include "stack/socket/api.h"

namespace {

struct Services {
  std::vector<int> udp_fds;
  std::vector<std::thread> udp_threads;
  std::vector<int> tcp_fds;
  std::vector<std::thread> tcp_threads;
  std::atomic<bool> stopping{false};

  // TCP services first, with `stopping` set before their listeners close: until every TCP
  // service has returned, one may still accept, and its new socket could take the number of a
  // descriptor closed here.
  void stop() {
    stopping = true;
    for (int fd : tcp_fds) ustack::close(fd);  // wakes each TCP service's poll (POLLNVAL)
    for (auto& t : tcp_threads) t.join();
    for (int fd : udp_fds) ustack::close(fd);  // wakes each UDP service's blocked recvfrom
    for (auto& t : udp_threads) t.join();
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ustackd: the ustack TCP/IP stack on a Linux TAP device"};
  ustack::apps::TapHost host;
  host.add_options(app);
  std::vector<std::uint16_t> echo_ports;
  std::vector<std::uint16_t> discard_ports;
  std::vector<std::uint16_t> source_ports;
  std::vector<std::uint16_t> udp_echo_ports;
  std::vector<std::uint16_t> http_ports;
  ustack::http::HttpServerConfig http;
  http.root = ".";
  app.add_option("--echo", echo_ports, "serve TCP echo (RFC 862) on PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--discard", discard_ports, "serve TCP discard (RFC 863) on PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--source", source_ports,
                 "send an endless pattern to every TCP client on PORT (chargen-like)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--udp-echo", udp_echo_ports, "serve UDP echo (RFC 862) on PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--http", http_ports, "serve static files over HTTP/1.1 on PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--www", http.root, "the directory --http serves")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "ustackd: %s\n", error.c_str());
    return 1;
  }

  Services services;
  auto start_tcp = [&](const char* flag, std::uint16_t port,
                       void (*serve)(int, const std::atomic<bool>*)) {
    int fd = ustack::apps::open_tcp_server(port);
    if (fd < 0) {
      std::fprintf(stderr, "ustackd: %s %u: %s\n", flag, port, std::strerror(errno));
      return false;
    }
    services.tcp_fds.push_back(fd);
    services.tcp_threads.emplace_back(serve, fd, &services.stopping);
    return true;
  };
  bool started = true;
  for (std::uint16_t port : echo_ports) {
    started = started && start_tcp("--echo", port, ustack::apps::serve_tcp_echo);
  }
  for (std::uint16_t port : discard_ports) {
    started = started && start_tcp("--discard", port, ustack::apps::serve_discard);
  }
  for (std::uint16_t port : source_ports) {
    started = started && start_tcp("--source", port, ustack::apps::serve_source);
  }
  for (std::uint16_t port : http_ports) {
    if (!started) break;
    int fd = ustack::apps::open_tcp_server(port);
    if (fd < 0) {
      std::fprintf(stderr, "ustackd: --http %u: %s\n", port, std::strerror(errno));
      started = false;
      break;
    }
    services.tcp_fds.push_back(fd);
    services.tcp_threads.emplace_back(
        [fd, &http, &services] { ustack::http::serve_http(fd, http, &services.stopping); });
  }
  for (std::uint16_t port : udp_echo_ports) {
    if (!started) break;
    int fd = ustack::apps::open_udp_server(port);
    if (fd < 0) {
      std::fprintf(stderr, "ustackd: --udp-echo %u: %s\n", port, std::strerror(errno));
      started = false;
      break;
    }
    services.udp_fds.push_back(fd);
    services.udp_threads.emplace_back(ustack::apps::serve_udp_echo, fd);
  }
  if (!started) {
    services.stop();
    host.stop();
    return 1;
  }

  // Printed only now, so whoever waits for this line finds every service listening.
  fmt::print("ustackd: ready on {} ip {} mac {}\n", host.tap_name(), host.address(), host.mac());
  std::fflush(stdout);

  host.wait_for_signal();
  services.stop();
  host.stop();
  std::printf("ustackd: stopped; counters:\n");
  host.print_counters(stdout);
  std::fflush(stdout);
  return 0;
}
