// unc: a small netcat over ustack, so a user can reach kernel-side servers from the stack.
//
//   unc --tap tap1 --ip 10.0.1.2/24 --host-ip 10.0.1.1/24 10.0.1.1 9000      # TCP client
//   unc --tap tap1 --ip 10.0.1.2/24 -l -p 9000                               # TCP listener
//   unc --tap tap1 --ip 10.0.1.2/24 --host-ip 10.0.1.1/24 -u 10.0.1.1 9000   # UDP client
//   unc --tap tap1 --ip 10.0.1.2/24 -u -l -p 9000                            # UDP listener
//
// TCP (the default): the client connects to HOST:PORT, the listener accepts one connection on
// PORT. Then stdin goes to the socket and the socket to stdout. At end of input unc shuts down
// its sending side (the peer reads EOF) and keeps reading until the peer closes; it exits when
// the peer has closed, 0 if all went well, 1 with a message on any error (connection refused,
// timed out, reset).
//
// UDP (-u): each read from stdin is one datagram to HOST:PORT; datagrams that come back are
// written to stdout. At end of input unc waits -w seconds for late replies, then exits.
// The listener writes the datagrams it receives to stdout; stdin goes to the last sender.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "apps/tap_host.h"
#include "stack/socket/api.h"

namespace {

struct Options {
  bool udp = false;
  bool listen = false;
  bool verbose = false;
  std::uint16_t local_port = 0;
  double wait_seconds = 1.0;
  std::optional<ustack::Ipv4Address> peer_address;
  std::uint16_t peer_port = 0;
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

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --- UDP ----------------------------------------------------------------------------------------

struct Peer {
  std::mutex mutex;
  std::optional<sockaddr_in> address;
};

int run_udp(ustack::apps::TapHost& host, const Options& o) {
  int fd = ustack::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in local = ustack::apps::make_sockaddr(ustack::Ipv4Address::any(), o.local_port);
  if (fd < 0 || ((o.listen || o.local_port != 0) &&
                 ustack::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0)) {
    std::fprintf(stderr, "unc: bind: %s\n", std::strerror(errno));
    return 1;
  }
  Peer peer;
  if (!o.listen) {
    sockaddr_in to = ustack::apps::make_sockaddr(*o.peer_address, o.peer_port);
    if (ustack::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
      std::fprintf(stderr, "unc: connect: %s\n", std::strerror(errno));
      return 1;
    }
    peer.address = to;
  }

  // Receiving runs on its own thread; it ends when the socket is closed.
  std::atomic<bool> input_done{false};
  std::atomic<long> last_activity_ms{now_ms()};
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
      if (o.listen) {
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

  if (o.listen) {
    host.wait_for_signal();
  } else {
    // Client: until input ended and nothing happened for -w seconds, or a signal. Polling the
    // pending signals keeps this loop bounded without a signal handler.
    const sigset_t signals = stop_signals();
    const timespec tick{0, 50 * 1000 * 1000};
    for (;;) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) break;
      if (input_done && now_ms() - last_activity_ms > static_cast<long>(o.wait_seconds * 1000)) {
        break;
      }
    }
  }
  ustack::close(fd);
  receiver.join();
  return 0;
}

// --- TCP ----------------------------------------------------------------------------------------

// The sockets a signal has to close: closing a descriptor is what wakes a thread blocked on it in
// accept, connect, send or recv (they return EBADF).
class Sockets {
 public:
  // Keeps fd for stop(); false (and fd closed) if stop() already ran.
  bool add(int fd) {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ustack::close(fd);
      return false;
    }
    fds_.push_back(fd);
    return true;
  }
  void close(int fd) {
    std::lock_guard lock(mutex_);
    if (std::erase(fds_, fd) > 0) ustack::close(fd);
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (int fd : fds_) ustack::close(fd);
    fds_.clear();
  }
  bool stopping() const { return stopping_; }

 private:
  std::mutex mutex_;
  std::vector<int> fds_;
  std::atomic<bool> stopping_{false};
};

// Prints "unc: WHAT: strerror" unless the error comes from stop() closing the socket.
void report(const Sockets& sockets, const char* what) {
  if (!sockets.stopping()) std::fprintf(stderr, "unc: %s: %s\n", what, std::strerror(errno));
}

int tcp_connect(const Options& o, Sockets& sockets) {
  int fd = ustack::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    report(sockets, "socket");
    return -1;
  }
  if (!sockets.add(fd)) return -1;
  if (o.local_port != 0) {
    sockaddr_in local = ustack::apps::make_sockaddr(ustack::Ipv4Address::any(), o.local_port);
    if (ustack::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
      report(sockets, "bind");
      sockets.close(fd);
      return -1;
    }
  }
  sockaddr_in to = ustack::apps::make_sockaddr(*o.peer_address, o.peer_port);
  if (ustack::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    const std::string what = fmt::format("connect to {}:{}", *o.peer_address, o.peer_port);
    report(sockets, what.c_str());
    sockets.close(fd);
    return -1;
  }
  if (o.verbose) fmt::print(stderr, "unc: connected to {}:{}\n", *o.peer_address, o.peer_port);
  return fd;
}

int tcp_accept_one(const Options& o, Sockets& sockets) {
  int server = ustack::socket(AF_INET, SOCK_STREAM, 0);
  if (server < 0) {
    report(sockets, "socket");
    return -1;
  }
  if (!sockets.add(server)) return -1;
  int one = 1;
  sockaddr_in local = ustack::apps::make_sockaddr(ustack::Ipv4Address::any(), o.local_port);
  if (ustack::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      ustack::bind(server, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0 ||
      ustack::listen(server, 1) < 0) {
    report(sockets, "listen");
    sockets.close(server);
    return -1;
  }
  if (o.verbose) std::fprintf(stderr, "unc: listening on port %u\n", o.local_port);
  sockaddr_in from{};
  socklen_t from_len = sizeof from;
  int fd = ustack::accept(server, reinterpret_cast<sockaddr*>(&from), &from_len);
  if (fd < 0) report(sockets, "accept");
  sockets.close(server);  // one connection only, as nc -l
  if (fd < 0 || !sockets.add(fd)) return -1;
  if (o.verbose) {
    fmt::print(stderr, "unc: connection from {}:{}\n",
               ustack::Ipv4Address::from_u32(ntohl(from.sin_addr.s_addr)), ntohs(from.sin_port));
  }
  return fd;
}

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ustack::send(fd, data, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// stdin -> socket; at end of input, shutdown(SHUT_WR) so the peer reads EOF. stdin is a kernel
// descriptor that ustack::poll cannot watch, so this runs on a thread of its own; it polls stdin
// with a timeout, so that it notices `done` and can be joined.
void copy_stdin(int fd, const Sockets& sockets, const std::atomic<bool>& done,
                std::atomic<bool>& failed) {
  std::vector<char> buf(64 * 1024);
  while (!done && !sockets.stopping()) {
    pollfd in{STDIN_FILENO, POLLIN, 0};
    int ready = ::poll(&in, 1, 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) std::fprintf(stderr, "unc: reading stdin: %s\n", std::strerror(errno));
    if (n <= 0) {
      if (ustack::shutdown(fd, SHUT_WR) < 0 && !done) report(sockets, "shutdown");
      return;
    }
    if (!send_all(fd, buf.data(), static_cast<size_t>(n))) {
      if (!done) {
        report(sockets, "send");
        failed = true;
      }
      return;
    }
  }
}

// socket -> stdout until the peer closes. Returns the exit status.
int copy_socket(int fd, const Sockets& sockets) {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = ustack::recv(fd, buf.data(), buf.size(), 0);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      report(sockets, "recv");
      return 1;
    }
    if (!write_all(STDOUT_FILENO, buf.data(), static_cast<size_t>(n))) {
      std::fprintf(stderr, "unc: writing stdout: %s\n", std::strerror(errno));
      return 1;
    }
  }
}

int tcp_session(const Options& o, Sockets& sockets) {
  int fd = o.listen ? tcp_accept_one(o, sockets) : tcp_connect(o, sockets);
  if (fd < 0) return 1;
  std::atomic<bool> done{false};
  std::atomic<bool> failed{false};
  std::thread input(copy_stdin, fd, std::cref(sockets), std::cref(done), std::ref(failed));
  int status = copy_socket(fd, sockets);
  done = true;
  // The peer has closed (or failed): what stdin still holds has nowhere to go. SO_LINGER makes
  // close wait until what was sent is acknowledged, so it is not lost when the stack stops.
  linger wait{1, 5};
  ustack::setsockopt(fd, SOL_SOCKET, SO_LINGER, &wait, sizeof wait);
  sockets.close(fd);  // also wakes the input thread if it is blocked in send
  input.join();
  return failed ? 1 : status;
}

int run_tcp(const Options& o) {
  Sockets sockets;
  std::atomic<bool> finished{false};
  int status = 1;
  std::thread session([&] {
    status = tcp_session(o, sockets);
    finished = true;
  });
  // The session blocks in socket calls; this thread waits for it or for a stop signal (which
  // start() blocked in every thread, so sigtimedwait is the only place it arrives).
  const sigset_t signals = stop_signals();
  const timespec tick{0, 50 * 1000 * 1000};
  int signal = 0;
  while (!finished) {
    signal = sigtimedwait(&signals, nullptr, &tick);
    if (signal > 0) {
      sockets.stop();
      break;
    }
  }
  session.join();
  return signal > 0 ? 128 + signal : status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"unc: netcat over ustack (TCP, or UDP with -u)"};
  ustack::apps::TapHost host("tap1");
  host.add_options(app);
  Options o;
  std::string peer_host;
  app.add_flag("-u,--udp", o.udp, "UDP instead of TCP");
  app.add_flag("-l,--listen", o.listen, "listen (TCP: for one connection) instead of connecting");
  app.add_flag("-v,--verbose", o.verbose, "TCP: say on stderr when listening and connected");
  app.add_option("-p,--local-port", o.local_port, "local port (the port to listen on with -l)");
  app.add_option("-w,--wait", o.wait_seconds, "UDP: seconds to wait for replies after end of input")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("host", peer_host, "peer address (client mode)");
  app.add_option("port", o.peer_port, "peer port (client mode), or the port to listen on");
  CLI11_PARSE(app, argc, argv);

  if (o.listen && o.local_port == 0) o.local_port = o.peer_port;
  if (!o.listen) {
    o.peer_address = ustack::Ipv4Address::parse(peer_host);
    if (!o.peer_address || o.peer_port == 0) {
      std::fprintf(stderr, "unc: client mode needs HOST (a dotted IPv4 address) and PORT\n");
      return 2;
    }
  } else if (o.local_port == 0) {
    std::fprintf(stderr, "unc: -l needs a port (-p PORT)\n");
    return 2;
  }

  std::string error;
  if (!host.start(error)) {
    std::fprintf(stderr, "unc: %s\n", error.c_str());
    return 1;
  }
  int status = o.udp ? run_udp(host, o) : run_tcp(o);
  host.stop();
  return status;
}
