// echo: a TCP echo server (RFC 862) over ustack, written the way one is written against the
// kernel's sockets — only the `ustack::` in front of each call differs.
//
//   echo --tap tap0 --ip 10.0.0.2/24 [--port 7] [--host-ip 10.0.0.1/24]
//
// main opens the listening socket; serve_tcp_echo (apps/echo_services.cpp) serves every
// connection from one poll loop over non-blocking sockets, the same code as ustackd --echo.
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
  CLI::App app{"echo: TCP echo server over ustack"};
  ustack::apps::TapHost host;
  host.add_options(app);
  std::uint16_t port = 7;
  app.add_option("--port", port, "TCP port to echo on")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "echo: %s\n", error.c_str());
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
    std::fprintf(stderr, "echo: listen on port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  fmt::print("echo: ready on {} port {}\n", host.address().address, port);
  std::fflush(stdout);

  std::thread server([fd] { ustack::apps::serve_tcp_echo(fd); });

  host.wait_for_signal();
  ustack::close(fd);  // the server's poll reports POLLNVAL: it closes its connections and returns
  server.join();
  host.stop();
  host.print_counters(stdout);
  return 0;
}
