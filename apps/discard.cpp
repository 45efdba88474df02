// discard: a TCP discard server (RFC 863) over ustack, written the way one is written against the
// kernel's sockets — only the `ustack::` in front of each call differs.
//
//   discard --tap tap0 --ip 10.0.0.2/24 [--port 9] [--host-ip 10.0.0.1/24]
//
// main opens the listening socket; serve_discard (apps/echo_services.cpp) reads and drops what
// every connection sends, from one poll loop over non-blocking sockets, as ustackd --discard does.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "apps/echo_services.h"
#include "apps/tap_host.h"
#include "stack/socket/api.h"

int main(int argc, char** argv) {
  CLI::App app{"discard: TCP discard server over ustack"};
  ustack::apps::TapHost host;
  host.add_options(app);
  std::uint16_t port = 9;
  app.add_option("--port", port, "TCP port to discard on")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "discard: %s\n", error.c_str());
    return 1;
  }

  int fd = ustack::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (fd < 0 || ustack::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      ustack::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      ustack::listen(fd, 128) < 0) {
    std::fprintf(stderr, "discard: listen on port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  fmt::print("discard: ready on {} port {}\n", host.address().address, port);
  std::fflush(stdout);

  std::thread server([fd] { ustack::apps::serve_discard(fd); });

  host.wait_for_signal();
  ustack::close(fd);  // the server's poll reports POLLNVAL: it closes its connections and returns
  server.join();
  host.stop();
  host.print_counters(stdout);
  return 0;
}
