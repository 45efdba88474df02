// udp_echo: a UDP echo server (RFC 862) over ustack, written the way one is written against the
// kernel's sockets — only the `ustack::` in front of each call differs.
//
//   udp_echo --tap tap0 --ip 10.0.0.2/24 [--port 7] [--host-ip 10.0.0.1/24]
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "apps/tap_host.h"
#include "stack/socket/api.h"

int main(int argc, char** argv) {
  CLI::App app{"udp_echo: UDP echo server over ustack"};
  ustack::apps::TapHost host;
  host.add_options(app);
  std::uint16_t port = 7;
  app.add_option("--port", port, "UDP port to echo on")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "udp_echo: %s\n", error.c_str());
    return 1;
  }

  int fd = ustack::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (fd < 0 || ustack::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    std::fprintf(stderr, "udp_echo: bind port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  fmt::print("udp_echo: ready on {} port {}\n", host.address().address, port);
  std::fflush(stdout);

  std::thread server([fd] {
    char buf[65536];
    for (;;) {
      sockaddr_in peer{};
      socklen_t peer_len = sizeof peer;
      ssize_t n =
          ustack::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
      if (n < 0 && errno == EBADF) break;  // closed by main: time to stop
      if (n < 0) continue;
      ustack::sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer),
                     peer_len);
    }
  });

  host.wait_for_signal();
  ustack::close(fd);  // wakes the blocked recvfrom
  server.join();
  host.stop();
  host.print_counters(stdout);
  return 0;
}
