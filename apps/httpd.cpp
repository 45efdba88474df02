// httpd: a static file server over HTTP/1.1 (RFC 9110, RFC 9112) on ustack — GET and HEAD,
// keep-alive and pipelining, byte ranges, If-Modified-Since.
//
//   httpd --tap tap0 --ip 10.0.0.2/24 [--port 80] --www DIR [limits and timeouts]
//
// main opens the listening socket; serve_http (apps/http/server.cpp) serves every connection
// from one poll loop over non-blocking sockets, the same code as ustackd --http.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "apps/echo_services.h"
#include "apps/http/path.h"
#include "apps/http/server.h"
#include "apps/tap_host.h"
#include "stack/socket/api.h"

int main(int argc, char** argv) {
  CLI::App app{"httpd: static HTTP/1.1 file server over ustack"};
  ustack::apps::TapHost host;
  host.add_options(app);
  std::uint16_t port = 80;
  ustack::http::HttpServerConfig config;
  std::uint64_t idle_ms = static_cast<std::uint64_t>(config.idle_timeout.count());
  std::uint64_t request_ms = static_cast<std::uint64_t>(config.request_timeout.count());
  app.add_option("--port", port, "TCP port to serve on")->capture_default_str();
  app.add_option("--www", config.root, "document root directory")->required();
  app.add_option("--max-connections", config.max_connections,
                 "connections served at once; more get 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--idle-timeout-ms", idle_ms, "close a keep-alive connection idle this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--request-timeout-ms", request_ms,
                 "408 for a request not complete this long after its first byte")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--max-request-line", config.limits.max_request_line,
                 "longest request line; longer is 414")
      ->capture_default_str()
      ->check(CLI::Range(64, 1 << 20));
  app.add_option("--max-header-bytes", config.limits.max_header_bytes,
                 "largest header section; larger is 431")
      ->capture_default_str()
      ->check(CLI::Range(64, 1 << 20));
  app.add_option("--max-body", config.limits.max_body,
                 "largest request body read and discarded; larger is 413")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  config.idle_timeout = std::chrono::milliseconds(idle_ms);
  config.request_timeout = std::chrono::milliseconds(request_ms);

  // Checked before the TAP is opened, so a typo costs no network setup.
  if (const int root_fd = ustack::http::open_root(config.root); root_fd >= 0) {
    ::close(root_fd);
  } else {
    std::fprintf(stderr, "httpd: --www %s: %s\n", config.root.c_str(),
                 errno == ENOSYS ? "this kernel has no openat2 (Linux 5.6 or later needed)"
                                 : "not an accessible directory");
    return 1;
  }

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "httpd: %s\n", error.c_str());
    return 1;
  }
  const int fd = ustack::apps::open_tcp_server(port);
  if (fd < 0) {
    std::fprintf(stderr, "httpd: listen on port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  fmt::print("httpd: serving {} on {} port {}\n", config.root, host.address().address, port);
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  std::thread server([fd, &config, &stop] { ustack::http::serve_http(fd, config, &stop); });

  host.wait_for_signal();
  stop = true;
  ustack::close(fd);  // either way the server's loop returns within 200 ms
  server.join();
  host.stop();
  host.print_counters(stdout);
  return 0;
}
