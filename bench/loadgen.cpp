// loadgen: the load generator of tools/bench, over the kernel's own sockets. The same client
// measures ustack (ustackd on a TAP) and the kernel (a veth pair to `loadgen serve`), so the two
// rows of each benchmark differ only in the stack under test.
//
//   loadgen bulk-send HOST PORT BYTES     send BYTES to a discard server, half-close, wait for EOF
//   loadgen bulk-recv HOST PORT BYTES     read BYTES from a source server, then close
//   loadgen echo HOST PORT BYTES          send BYTES through an echo server while reading them back
//   loadgen rr HOST PORT SECONDS          1-byte request/response on one connection (TCP_RR)
//   loadgen connect-rate HOST PORT SECONDS  connect + close, as fast as possible
//   loadgen hold HOST PORT N              open N idle connections, report, hold them until SIGTERM
//   loadgen serve --discard P --echo P --source P [--processes K]
//                                         the kernel-side servers for the baseline
//
// A process may have no more descriptors than its hard RLIMIT_NOFILE, which a container without
// CAP_SYS_RESOURCE cannot raise (20,000 on the CI machines). So `hold` spreads its connections
// over as many processes as that needs, and `serve --processes K` runs K processes whose
// listening sockets share each port with SO_REUSEPORT.
//
// Every client prints exactly one JSON object on one line on stdout (tools/bench parses it) and
// exits non-zero, with a message on stderr, if the run did not complete: a benchmark that lost
// data must not print a speed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "loadgen: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) {
  die(what + ": " + std::strerror(errno));
}

void emit(const json& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

// The bytes every sender sends: a repeating 64 KiB pattern, made once, so producing data costs
// the client nothing and the measurement is the stack's.
const std::vector<char>& pattern() {
  static const std::vector<char> p = [] {
    std::vector<char> v(65536);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>('a' + i % 26);
    return v;
  }();
  return p;
}

sockaddr_in resolve(const std::string& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) die("not an IPv4 address: " + host);
  return a;
}

// 10k held connections need 10k descriptors; root may raise the hard limit too.
void raise_fd_limit(rlim_t want) {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  if (r.rlim_cur >= want) return;
  rlimit n{want, std::max(want, r.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &n) != 0) {
    n = {r.rlim_max, r.rlim_max};
    setrlimit(RLIMIT_NOFILE, &n);
  }
}

// How many descriptors this process may open: the soft limit after raising it as far as allowed.
rlim_t fd_capacity(rlim_t want) {
  raise_fd_limit(want);
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  return r.rlim_cur;
}

// Forks a child that dies with its parent (PR_SET_PDEATHSIG), so no worker outlives a killed
// loadgen. Returns the child's PID in the parent and 0 in the child.
pid_t fork_worker() {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) die_errno("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) std::_Exit(1);  // the parent died before prctl took effect
  }
  return pid;
}

// Stops and reaps the workers.
void stop_workers(const std::vector<pid_t>& workers) {
  for (pid_t w : workers) kill(w, SIGTERM);
  for (pid_t w : workers) waitpid(w, nullptr, 0);
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect_blocking(const sockaddr_in& to) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket");
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) die_errno("connect");
  return fd;
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

json base(const std::string& mode, const std::string& host, std::uint16_t port) {
  return json{{"mode", mode}, {"host", host}, {"port", port}};
}

double mb_per_s(std::uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
}

// --- clients ------------------------------------------------------------------------------------

// Into a discard server: the time runs until the server's EOF, which it sends only after it has
// read everything, so the bytes counted are bytes delivered, not bytes buffered.
int bulk_send(const std::string& host, std::uint16_t port, std::uint64_t bytes) {
  const sockaddr_in to = resolve(host, port);
  const auto start = Clock::now();
  const int fd = connect_blocking(to);
  const std::vector<char>& p = pattern();
  std::uint64_t sent = 0;
  while (sent < bytes) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(p.size(), bytes - sent));
    if (!send_all(fd, p.data(), n)) die_errno("send");
    sent += n;
  }
  if (shutdown(fd, SHUT_WR) != 0) die_errno("shutdown");
  char sink[4096];
  while (true) {
    const ssize_t r = recv(fd, sink, sizeof sink, 0);
    if (r == 0) break;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die_errno("waiting for the server's EOF");
  }
  const double secs = seconds_since(start);
  close(fd);
  json j = base("bulk-send", host, port);
  j["bytes"] = sent;
  j["seconds"] = secs;
  j["mb_per_s"] = mb_per_s(sent, secs);
  emit(j);
  return 0;
}

// From a source server: reads BYTES (or to EOF), then closes, which ends the server's sending.
int bulk_recv(const std::string& host, std::uint16_t port, std::uint64_t bytes) {
  const sockaddr_in to = resolve(host, port);
  const auto start = Clock::now();
  const int fd = connect_blocking(to);
  std::vector<char> buf(256 * 1024);
  std::uint64_t got = 0;
  while (got < bytes) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bytes - got));
    const ssize_t r = recv(fd, buf.data(), want, 0);
    if (r == 0) break;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die_errno("recv");
    got += static_cast<std::uint64_t>(r);
  }
  const double secs = seconds_since(start);
  close(fd);
  if (got < bytes)
    die("the server closed after " + std::to_string(got) + " of " + std::to_string(bytes) +
        " bytes");
  json j = base("bulk-recv", host, port);
  j["bytes"] = got;
  j["seconds"] = secs;
  j["mb_per_s"] = mb_per_s(got, secs);
  emit(j);
  return 0;
}

// Through an echo server: a thread sends while this one reads, so the pipe stays full both ways.
// The rate is of the bytes that made the round trip (each crossed the stack twice).
int echo(const std::string& host, std::uint16_t port, std::uint64_t bytes) {
  const sockaddr_in to = resolve(host, port);
  const auto start = Clock::now();
  const int fd = connect_blocking(to);
  std::atomic<int> send_errno{0};
  std::thread writer([&] {
    const std::vector<char>& p = pattern();
    std::uint64_t sent = 0;
    while (sent < bytes) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(p.size(), bytes - sent));
      if (!send_all(fd, p.data(), n)) {
        send_errno = errno;
        return;
      }
      sent += n;
    }
    shutdown(fd, SHUT_WR);
  });
  std::vector<char> buf(256 * 1024);
  std::uint64_t got = 0;
  int recv_errno = 0;
  while (got < bytes) {
    const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
    if (r == 0) break;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      recv_errno = errno;
      break;
    }
    got += static_cast<std::uint64_t>(r);
  }
  const double secs = seconds_since(start);
  // A reader that failed leaves the writer blocked in send; shutting the socket down frees it.
  if (got < bytes) shutdown(fd, SHUT_RDWR);
  writer.join();
  close(fd);
  if (send_errno != 0) die(std::string("send: ") + std::strerror(send_errno));
  if (recv_errno != 0) die(std::string("recv: ") + std::strerror(recv_errno));
  if (got != bytes)
    die("echoed " + std::to_string(got) + " of " + std::to_string(bytes) + " bytes");
  json j = base("echo", host, port);
  j["bytes"] = got;
  j["seconds"] = secs;
  j["mb_per_s"] = mb_per_s(got, secs);
  emit(j);
  return 0;
}

// netperf's TCP_RR: one byte each way per transaction on one connection, Nagle off.
int rr(const std::string& host, std::uint16_t port, double duration) {
  const sockaddr_in to = resolve(host, port);
  const int fd = connect_blocking(to);
  set_nodelay(fd);
  std::uint64_t transactions = 0;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
  char c = 'x';
  while (Clock::now() < end) {
    if (!send_all(fd, &c, 1)) die_errno("send");
    ssize_t r;
    do {
      r = recv(fd, &c, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) die_errno("recv");
    if (r == 0) die("the server closed the connection");
    ++transactions;
  }
  const double secs = seconds_since(start);
  close(fd);
  json j = base("rr", host, port);
  j["transactions"] = transactions;
  j["seconds"] = secs;
  j["per_s"] = static_cast<double>(transactions) / secs;
  j["mean_us"] = transactions > 0 ? secs * 1e6 / static_cast<double>(transactions) : 0.0;
  emit(j);
  return 0;
}

// Connections opened and closed per second, by `threads` threads each doing connect + close in a
// loop. The client closes first, so TIME-WAIT is on the client; tools/bench widens the
// namespace's port range and enables tcp_tw_reuse there so ports do not run out.
int connect_rate(const std::string& host, std::uint16_t port, double duration, int threads) {
  const sockaddr_in to = resolve(host, port);
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<int> last_errno{0};
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (Clock::now() < end) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          last_errno = errno;
          ++errors;
          break;
        }
        if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
          ++done;
        } else {
          last_errno = errno;
          // A burst of failures (ports exhausted, a stack that stopped answering) ends the run
          // rather than spinning until the deadline.
          if (++errors > 1000) {
            close(fd);
            break;
          }
        }
        close(fd);
      }
    });
  }
  for (auto& t : pool) t.join();
  const double secs = seconds_since(start);
  if (done == 0) die(std::string("no connection succeeded: ") + std::strerror(last_errno));
  json j = base("connect-rate", host, port);
  j["connections"] = done.load();
  j["errors"] = errors.load();
  j["threads"] = threads;
  j["seconds"] = secs;
  j["per_s"] = static_cast<double>(done.load()) / secs;
  if (errors > 0) j["last_error"] = std::strerror(last_errno);
  emit(j);
  return 0;
}

// Opens `count` connections with at most `window` handshakes in flight (the server's SYN
// backlog is finite) and returns their descriptors; dies if they are not all up within `limit`.
std::vector<int> open_idle(const sockaddr_in& to, int count, int window, double limit) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die_errno("epoll_create1");
  std::vector<int> open_fds;
  open_fds.reserve(static_cast<std::size_t>(count));
  int started = 0;
  int in_flight = 0;
  int established = 0;
  const auto start = Clock::now();
  std::vector<epoll_event> events(256);
  while (established < count) {
    while (in_flight < window && started < count) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) die_errno("socket (connection " + std::to_string(started) + ")");
      if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
          errno != EINPROGRESS) {
        die_errno("connect (connection " + std::to_string(started) + ")");
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = fd;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die_errno("epoll_ctl");
      ++started;
      ++in_flight;
    }
    if (seconds_since(start) > limit) {
      die("only " + std::to_string(established) + " of " + std::to_string(count) +
          " connections established within " + std::to_string(limit) + " s");
    }
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
    if (n < 0 && errno != EINTR) die_errno("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        die(std::string("connection ") + std::to_string(established) +
            " failed: " + std::strerror(err));
      }
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      open_fds.push_back(fd);
      --in_flight;
      ++established;
    }
  }
  close(ep);
  return open_fds;
}

// Holds N connections open, spread over as many worker processes as the descriptor limit needs,
// prints the JSON line once all are up, then holds them until SIGTERM or SIGINT.
int hold(const std::string& host, std::uint16_t port, int count, int window, double limit) {
  const sockaddr_in to = resolve(host, port);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked before any fork: the workers inherit the mask and sigwait like the parent.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const rlim_t capacity = fd_capacity(static_cast<rlim_t>(count) + 64);
  const int per_process = static_cast<int>(std::max<rlim_t>(capacity, 1064) - 64);
  const int processes = (count + per_process - 1) / per_process;
  const auto start = Clock::now();

  // Each worker opens its share, reports how many it opened through a pipe, and waits.
  std::vector<pid_t> workers;
  std::vector<int> reports;
  for (int i = 0; i < processes; ++i) {
    const int share = count / processes + (i < count % processes ? 1 : 0);
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) die_errno("pipe2");
    const pid_t pid = fork_worker();
    if (pid == 0) {
      close(pipe_fds[0]);
      for (int r : reports) close(r);
      const std::vector<int> fds = open_idle(to, share, window, limit);
      const int opened = static_cast<int>(fds.size());
      if (write(pipe_fds[1], &opened, sizeof opened) != sizeof opened) std::_Exit(1);
      int sig = 0;
      sigwait(&signals, &sig);
      for (int fd : fds) close(fd);
      std::_Exit(0);
    }
    close(pipe_fds[1]);
    workers.push_back(pid);
    reports.push_back(pipe_fds[0]);
  }
  int established = 0;
  for (int r : reports) {
    int opened = 0;
    if (read(r, &opened, sizeof opened) != sizeof opened) {
      stop_workers(workers);
      die("a worker failed after " + std::to_string(established) + " of " + std::to_string(count) +
          " connections (see its message above)");
    }
    established += opened;
    close(r);
  }
  json j = base("hold", host, port);
  j["connections"] = established;
  j["processes"] = processes;
  j["seconds"] = seconds_since(start);
  emit(j);

  int sig = 0;
  sigwait(&signals, &sig);
  stop_workers(workers);
  return 0;
}

// --- the kernel-side servers ---------------------------------------------------------------------

enum class Service { Discard, Echo, Source };

const char* service_name(Service s) {
  switch (s) {
    case Service::Discard:
      return "discard";
    case Service::Echo:
      return "echo";
    case Service::Source:
      return "source";
  }
  return "?";
}

int listen_on(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // `serve --processes K`: every process has its own listener on the port, and the kernel
  // spreads the connections over them.
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    die_errno("bind port " + std::to_string(port));
  }
  if (listen(fd, 4096) != 0) die_errno("listen");
  return fd;
}

// One connection of a server: what an echo server still has to write back, where a source
// server is in its pattern.
struct Conn {
  std::vector<char> pending;
  std::size_t pending_pos = 0;
  std::size_t offset = 0;
};

// One service, one thread, one level-triggered epoll loop: the same shape as ustackd's services
// (a thread per service polling every connection), so neither side gets more threads.
void serve_loop(Service service, int listen_fd, const std::atomic<bool>& stop) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die_errno("epoll_create1");
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = listen_fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev);
  std::unordered_map<int, Conn> conns;
  std::vector<char> buf(256 * 1024);
  std::vector<epoll_event> events(512);
  const std::vector<char>& p = pattern();

  auto drop = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  auto watch = [&](int fd, std::uint32_t what) {
    epoll_event ev{};
    ev.events = what;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  };

  while (!stop) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
    if (n < 0 && errno != EINTR) die_errno("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
      if (fd == listen_fd) {
        while (true) {
          const int c = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          if (service != Service::Discard) set_nodelay(c);
          epoll_event cev{};
          cev.events = EPOLLIN | (service == Service::Source ? EPOLLOUT : 0u);
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns.emplace(c, Conn{});
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& conn = it->second;
      if (ev & (EPOLLERR | EPOLLHUP)) {
        drop(fd);
        continue;
      }
      if (service == Service::Source) {
        if (ev & EPOLLIN) {
          const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
          if (r == 0 || (r < 0 && errno != EAGAIN)) {
            drop(fd);
            continue;
          }
        }
        if (ev & EPOLLOUT) {
          const ssize_t w = send(fd, p.data() + conn.offset, p.size() - conn.offset, MSG_NOSIGNAL);
          if (w < 0 && errno != EAGAIN) {
            drop(fd);
            continue;
          }
          if (w > 0) conn.offset = (conn.offset + static_cast<std::size_t>(w)) % p.size();
        }
        continue;
      }
      if (service == Service::Echo && (ev & EPOLLOUT)) {
        const ssize_t w = send(fd, conn.pending.data() + conn.pending_pos,
                               conn.pending.size() - conn.pending_pos, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
          drop(fd);
          continue;
        }
        if (w > 0) conn.pending_pos += static_cast<std::size_t>(w);
        // Drained: read again (reading stops while a write is pending, so memory stays bounded
        // and a client that does not read gets TCP's back-pressure).
        if (conn.pending_pos == conn.pending.size()) watch(fd, EPOLLIN);
        continue;
      }
      if (!(ev & EPOLLIN)) continue;
      const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) {
        // EOF: discard and echo close once the peer has finished sending (after echoing
        // everything: a pending write keeps EPOLLIN off, so EOF is seen only after it drained).
        drop(fd);
        continue;
      }
      if (service == Service::Discard) continue;
      const auto got = static_cast<std::size_t>(r);
      const ssize_t w = send(fd, buf.data(), got, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN) {
        drop(fd);
        continue;
      }
      const std::size_t wrote = w > 0 ? static_cast<std::size_t>(w) : 0;
      if (wrote < got) {
        conn.pending.assign(buf.data() + wrote, buf.data() + got);
        conn.pending_pos = 0;
        watch(fd, EPOLLOUT);
      }
    }
  }
  for (auto& [fd, conn] : conns) close(fd);
  close(ep);
}

int serve(const std::vector<std::pair<Service, std::uint16_t>>& services, int processes) {
  if (services.empty()) die("serve: give at least one of --discard, --echo, --source");
  raise_fd_limit(1 << 18);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked before the threads start (and before any fork), so they inherit the mask and only
  // sigwait sees them.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // The extra processes serve the same ports through SO_REUSEPORT listeners of their own. They
  // start before the parent listens, and the parent prints the ready line last.
  std::vector<pid_t> workers;
  for (int i = 1; i < processes; ++i) {
    const pid_t pid = fork_worker();
    if (pid == 0) {
      workers.clear();
      break;
    }
    workers.push_back(pid);
  }
  const bool is_worker = processes > 1 && workers.empty();
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::string ports;
  for (const auto& [service, port] : services) {
    const int fd = listen_on(port);
    threads.emplace_back([service, fd, &stop] { serve_loop(service, fd, stop); });
    ports +=
        std::string(ports.empty() ? "" : " ") + service_name(service) + " " + std::to_string(port);
  }
  if (!is_worker) {
    std::printf("loadgen: serving %s (%d process%s)\n", ports.c_str(), processes,
                processes == 1 ? "" : "es");
    std::fflush(stdout);
  }
  int sig = 0;
  sigwait(&signals, &sig);
  stop = true;
  for (auto& t : threads) t.join();
  stop_workers(workers);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loadgen: tools/bench's load generator and kernel-side servers"};
  app.require_subcommand(1);
  std::string host;
  std::uint16_t port = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
  int count = 0;
  int threads = 1;
  int window = 64;
  double limit = 120;

  auto add_target = [&](CLI::App* sub) {
    sub->add_option("HOST", host, "server address")->required();
    sub->add_option("PORT", port, "server port")->required();
  };
  auto* bs = app.add_subcommand("bulk-send", "send BYTES to a discard server");
  add_target(bs);
  bs->add_option("BYTES", bytes)->required();
  auto* br = app.add_subcommand("bulk-recv", "read BYTES from a source server");
  add_target(br);
  br->add_option("BYTES", bytes)->required();
  auto* ec = app.add_subcommand("echo", "BYTES through an echo server");
  add_target(ec);
  ec->add_option("BYTES", bytes)->required();
  auto* r = app.add_subcommand("rr", "1-byte request/response against an echo server");
  add_target(r);
  r->add_option("SECONDS", seconds)->required();
  auto* cr = app.add_subcommand("connect-rate", "connect + close per iteration");
  add_target(cr);
  cr->add_option("SECONDS", seconds)->required();
  cr->add_option("--threads", threads, "connecting threads")->check(CLI::Range(1, 64));
  auto* ho = app.add_subcommand("hold", "open N idle connections and hold them until SIGTERM");
  add_target(ho);
  ho->add_option("N", count)->required()->check(CLI::Range(1, 1000000));
  ho->add_option("--window", window, "handshakes in flight at most")->check(CLI::Range(1, 4096));
  ho->add_option("--limit", limit, "give up after this many seconds");
  auto* sv = app.add_subcommand("serve", "kernel-side discard, echo and source servers");
  std::vector<std::uint16_t> discard_ports;
  std::vector<std::uint16_t> echo_ports;
  std::vector<std::uint16_t> source_ports;
  sv->add_option("--discard", discard_ports, "discard (RFC 863) on PORT");
  sv->add_option("--echo", echo_ports, "echo (RFC 862) on PORT");
  sv->add_option("--source", source_ports, "send a repeating pattern until the peer closes");
  int processes = 1;
  sv->add_option("--processes", processes, "processes sharing each port (SO_REUSEPORT)")
      ->check(CLI::Range(1, 16));
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  if (*bs) return bulk_send(host, port, bytes);
  if (*br) return bulk_recv(host, port, bytes);
  if (*ec) return echo(host, port, bytes);
  if (*r) return rr(host, port, seconds);
  if (*cr) return connect_rate(host, port, seconds, threads);
  if (*ho) return hold(host, port, count, window, limit);
  std::vector<std::pair<Service, std::uint16_t>> services;
  for (auto p : discard_ports) services.emplace_back(Service::Discard, p);
  for (auto p : echo_ports) services.emplace_back(Service::Echo, p);
  for (auto p : source_ports) services.emplace_back(Service::Source, p);
  return serve(services, processes);
}
