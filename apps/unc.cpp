// unc: a small netcat over ustack, so a user can reach kernel-side servers from the stack.
//
//   unc --tap tap1 --ip 10.0.1.2/24 --host-ip 10.0.1.1/24 -u 10.0.1.1 9000   # client
//   unc --tap tap1 --ip 10.0.1.2/24 -u -l -p 9000                            # listener
//
// Client: each read from stdin is one datagram to HOST:PORT; datagrams that come back are
// written to stdout. At end of input unc waits -w seconds for late replies, then exits.
// Listener: datagrams received are written to stdout; stdin goes to the last sender.
// Only UDP (-u) exists until the TCP layer; TCP arrives with it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "apps/tap_host.h"
#include "stack/socket/api.h"

namespace {

struct Peer {
  std::mutex mutex;
  std::optional<sockaddr_in> address;
};

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"unc: netcat over ustack (UDP)"};
  ustack::apps::TapHost host("tap1");
  host.add_options(app);
  bool udp = false;
  bool listen = false;
  std::uint16_t local_port = 0;
  double wait_seconds = 1.0;
  std::string peer_host;
  std::uint16_t peer_port = 0;
  app.add_flag("-u,--udp", udp, "UDP (required until the TCP layer exists)");
  app.add_flag("-l,--listen", listen, "listen for datagrams instead of sending first");
  app.add_option("-p,--local-port", local_port, "local port (the port to listen on with -l)");
  app.add_option("-w,--wait", wait_seconds, "seconds to wait for replies after end of input")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("host", peer_host, "peer address (client mode)");
  app.add_option("port", peer_port, "peer port (client mode), or the port to listen on");
  CLI11_PARSE(app, argc, argv);

  if (!udp) {
    std::fprintf(stderr, "unc: only UDP exists yet; pass -u\n");
    return 2;
  }
  if (listen && local_port == 0) local_port = peer_port;
  std::optional<ustack::Ipv4Address> peer_address;
  if (!listen) {
    peer_address = ustack::Ipv4Address::parse(peer_host);
    if (!peer_address || peer_port == 0) {
      std::fprintf(stderr, "unc: client mode needs HOST (a dotted IPv4 address) and PORT\n");
      return 2;
    }
  } else if (local_port == 0) {
    std::fprintf(stderr, "unc: -l needs a port (-p PORT)\n");
    return 2;
  }

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "unc: %s\n", error.c_str());
    return 1;
  }

  int fd = ustack::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in local = ustack::apps::make_sockaddr(ustack::Ipv4Address::any(), local_port);
  if (fd < 0 || ((listen || local_port != 0) &&
                 ustack::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0)) {
    std::fprintf(stderr, "unc: bind: %s\n", std::strerror(errno));
    return 1;
  }
  Peer peer;
  if (!listen) {
    sockaddr_in to = ustack::apps::make_sockaddr(*peer_address, peer_port);
    if (ustack::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
      std::fprintf(stderr, "unc: connect: %s\n", std::strerror(errno));
      return 1;
    }
    peer.address = to;
  }

  // Receiving runs on its own thread; it ends when the socket is closed.
  std::atomic<bool> input_done{false};
  std::atomic<long> last_activity_ms{0};
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  last_activity_ms = now_ms();
  std::thread receiver([&] {
    char buf[65536];
    for (;;) {
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      ssize_t n =
          ustack::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0 && errno == EBADF) return;
      if (n < 0) {
        std::fprintf(stderr, "unc: %s\n", std::strerror(errno));
        continue;
      }
      last_activity_ms = now_ms();
      if (listen) {
        std::lock_guard lock(peer.mutex);
        peer.address = from;
      }
      write_all(STDOUT_FILENO, buf, static_cast<size_t>(n));
    }
  });

  // stdin is a kernel descriptor; reading it on its own thread keeps the socket side pure.
  std::thread sender([&] {
    char buf[65507];
    for (;;) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::optional<sockaddr_in> to;
      {
        std::lock_guard lock(peer.mutex);
        to = peer.address;
      }
      if (!to) continue;  // listener with nobody to answer yet
      if (ustack::sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&*to),
                         sizeof *to) < 0) {
        std::fprintf(stderr, "unc: sendto: %s\n", std::strerror(errno));
      }
      last_activity_ms = now_ms();
    }
    last_activity_ms = now_ms();
    input_done = true;
  });
  sender.detach();  // a blocking read on a terminal cannot be interrupted portably

  if (listen) {
    host.wait_for_signal();
  } else {
    // Client: until input ended and nothing happened for -w seconds, or a signal. Polling the
    // pending signals keeps this loop bounded without a signal handler.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    const timespec tick{0, 50 * 1000 * 1000};
    for (;;) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) break;
      if (input_done && now_ms() - last_activity_ms > static_cast<long>(wait_seconds * 1000)) {
        break;
      }
    }
  }
  ustack::close(fd);
  receiver.join();
  host.stop();
  return 0;
}
