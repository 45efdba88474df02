// Blocking TCP calls on application threads, pinned to what Linux 6.18 was seen to do (Python
// threads over loopback and a veth in a network namespace): what wakes a blocked accept, recv,
// send or connect, and what it returns. The comments marked "Linux:" record surprises.
//
// Most tests run both stacks' I/O threads in real time, which is only a hang guard (kHangGuard,
// timeouts of many seconds): nothing asserts how long anything took. The tests about a host
// that never answers use a ManualClock instead, stepped by the test while a thread blocks, so
// that ARP's retries and SO_SNDTIMEO run out in virtual time.
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>

#include <string>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};
// On A's subnet, but nobody answers ARP for it.
constexpr Ipv4Address kSilent{10, 1, 0, 99};
constexpr std::uint16_t kPort = 7000;

ApiPairOptions real_time() {
  ApiPairOptions o;
  o.real_time = true;
  return o;
}

int tcp_socket(SocketApi& api, int flags = 0) {
  const int fd = api.socket(AF_INET, SOCK_STREAM | flags, 0);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  return fd;
}

int connect_to(SocketApi& api, int fd, Ipv4Address address, std::uint16_t port) {
  const sockaddr_in to = inet(address, port);
  return api.connect(fd, sa(to), sizeof to);
}

void set_timeout(SocketApi& api, int fd, int name, std::chrono::milliseconds t) {
  const timeval tv{static_cast<time_t>(t.count() / 1000),
                   static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  ASSERT_EQ(api.setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv), 0);
}

int set_int(SocketApi& api, int fd, int level, int name, int v) {
  return api.setsockopt(fd, level, name, &v, sizeof v);
}

int so_error(SocketApi& api, int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(api.getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0) << std::strerror(errno);
  return v;
}

// A blocking listener on B with a hang guard on accept.
int tcp_listener(SocketApi& api) {
  const int fd = tcp_socket(api);
  const sockaddr_in local = inet(kAny, kPort);
  EXPECT_EQ(api.bind(fd, sa(local), sizeof local), 0) << std::strerror(errno);
  EXPECT_EQ(api.listen(fd, 8), 0) << std::strerror(errno);
  set_timeout(api, fd, SO_RCVTIMEO, kHangGuard);
  return fd;
}

// A call's result as "<value>" or "-1 <ERRNO>" for readable failures.
std::string show(const CallResult& r) {
  if (r.value >= 0) return std::to_string(r.value);
  return "-1 " + std::string(strerrorname_np(r.error));
}

class SocketTcpThreadsTest : public ::testing::Test {
 protected:
  SocketTcpThreadsTest() : pair(real_time()) { pair.start(); }

  struct Connection {
    int listener = -1;
    int client = -1;  // on A, blocking, hang guards set
    int server = -1;  // on B, blocking, hang guards set
  };
  // Both ends blocking: A's connect returns 0 once the handshake is done, then B accepts.
  Connection establish() {
    Connection c;
    c.listener = tcp_listener(b);
    c.client = tcp_socket(a);
    set_timeout(a, c.client, SO_SNDTIMEO, kHangGuard);
    set_timeout(a, c.client, SO_RCVTIMEO, kHangGuard);
    EXPECT_EQ(connect_to(a, c.client, kIpB, kPort), 0) << std::strerror(errno);
    c.server = b.accept4(c.listener, nullptr, nullptr, 0);
    EXPECT_GE(c.server, 0) << std::strerror(errno);
    set_timeout(b, c.server, SO_SNDTIMEO, kHangGuard);
    set_timeout(b, c.server, SO_RCVTIMEO, kHangGuard);
    return c;
  }

  // A blocking recv of up to `n` bytes on another thread, returning the count (checked against
  // `expect` when given, else -100).
  std::unique_ptr<Background> recv_in_background(SocketApi& api, int fd, std::size_t n, int flags,
                                                 std::string expect) {
    return std::make_unique<Background>(
        [&api, fd, n, flags, expect] {
          std::string buf(n, '\0');
          const ssize_t got = api.recv(fd, buf.data(), buf.size(), flags);
          if (got < 0) return -1L;
          buf.resize(static_cast<std::size_t>(got));
          return buf == expect ? static_cast<long>(got) : -100L;
        },
        [&api, fd] { api.shutdown(fd, SHUT_RDWR); });
  }

  // Waits (bounded by kHangGuard) until A's end of the connection has nothing left to read and
  // a thread sleeps on A's stack.
  bool reader_drained_and_waiting(int client) {
    const Endpoint local = local_endpoint(a, client);
    const auto end = std::chrono::steady_clock::now() + kHangGuard;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard lock(pair.runtime_a().core_lock());
        const tcp::TcpSocket* t = pair.stack_a().tcp().find(local, Endpoint{kIpB, kPort});
        if (t != nullptr && t->tcb.receive_buffer.readable() == 0 &&
            pair.stack_a().sockets().waiters() >= 1) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
};

// ---------------------------------------------------------------------------------------------
// connect and accept

TEST_F(SocketTcpThreadsTest, BlockingConnectAndAcceptThenConnectAgainIsEisconn) {
  const Connection c = establish();
  errno = 0;
  EXPECT_EQ(connect_to(a, c.client, kIpB, kPort), -1);
  EXPECT_EQ(errno, EISCONN) << std::strerror(errno);
}

TEST_F(SocketTcpThreadsTest, BlockingConnectRefusedIsEconnrefusedAndTheNextCallTriesAgain) {
  // Linux: each blocking connect is a new attempt; the error is returned, not left in SO_ERROR.
  const int fd = tcp_socket(a);
  set_timeout(a, fd, SO_SNDTIMEO, kHangGuard);
  errno = 0;
  EXPECT_EQ(connect_to(a, fd, kIpB, kPort), -1);
  EXPECT_EQ(errno, ECONNREFUSED) << std::strerror(errno);
  errno = 0;
  EXPECT_EQ(connect_to(a, fd, kIpB, kPort), -1);
  EXPECT_EQ(errno, ECONNREFUSED) << std::strerror(errno);
  EXPECT_EQ(so_error(a, fd), 0);
}

TEST_F(SocketTcpThreadsTest, BlockingAcceptGetsTheConnection) {
  const int listener = tcp_listener(b);
  Background call([&] { return static_cast<long>(b.accept4(listener, nullptr, nullptr, 0)); },
                  [&] { b.close(listener); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_b()));
  const int client = tcp_socket(a);
  set_timeout(a, client, SO_SNDTIMEO, kHangGuard);
  ASSERT_EQ(connect_to(a, client, kIpB, kPort), 0) << std::strerror(errno);
  const CallResult r = call.result();
  EXPECT_GE(r.value, 0) << show(r);
}

TEST_F(SocketTcpThreadsTest, CloseWakesABlockedAcceptWithEbadf) {
  // ustack's choice, as for every blocked call: Linux leaves such an accept() asleep (the
  // descriptor is gone but the thread still holds the file), which no program can rely on.
  const int listener = tcp_listener(b);
  Background call([&] { return static_cast<long>(b.accept4(listener, nullptr, nullptr, 0)); },
                  [&] { b.close(listener); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_b()));
  ASSERT_EQ(b.close(listener), 0);
  EXPECT_EQ(show(call.result()), "-1 EBADF");
}

TEST_F(SocketTcpThreadsTest, ShutRdWakesABlockedAcceptWithEinval) {
  // Linux: shutdown(SHUT_RD) disconnects the listener; the sleeping accept() returns EINVAL.
  const int listener = tcp_listener(b);
  Background call([&] { return static_cast<long>(b.accept4(listener, nullptr, nullptr, 0)); },
                  [&] { b.close(listener); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_b()));
  ASSERT_EQ(b.shutdown(listener, SHUT_RD), 0) << std::strerror(errno);
  EXPECT_EQ(show(call.result()), "-1 EINVAL");
}

TEST_F(SocketTcpThreadsTest, ShutWrLeavesABlockedAcceptWaitingForAConnection) {
  const int listener = tcp_listener(b);
  Background call([&] { return static_cast<long>(b.accept4(listener, nullptr, nullptr, 0)); },
                  [&] { b.close(listener); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_b()));
  ASSERT_EQ(b.shutdown(listener, SHUT_WR), 0) << std::strerror(errno);
  const int client = tcp_socket(a);
  set_timeout(a, client, SO_SNDTIMEO, kHangGuard);
  ASSERT_EQ(connect_to(a, client, kIpB, kPort), 0) << std::strerror(errno);
  const CallResult r = call.result();
  EXPECT_GE(r.value, 0) << show(r);
}

TEST_F(SocketTcpThreadsTest, ABlockingPollOnAListenerWakesForAConnection) {
  const int listener = tcp_listener(b);
  Background call(
      [&] {
        pollfd p{listener, POLLIN, 0};
        const int n = b.poll(&p, 1, static_cast<int>(kHangGuard.count() * 1000));
        return n == 1 && p.revents == POLLIN ? 1L : -100L;
      },
      [&] { b.close(listener); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_b()));
  const int client = tcp_socket(a);
  set_timeout(a, client, SO_SNDTIMEO, kHangGuard);
  ASSERT_EQ(connect_to(a, client, kIpB, kPort), 0) << std::strerror(errno);
  EXPECT_EQ(call.result().value, 1);
}

TEST_F(SocketTcpThreadsTest, ConnectionsOnOtherSocketsDoNotWakeABlockedPoll) {
  // A service thread polling its listener sleeps through the opening, data and closing of
  // connections that are not its own: each of those used to wake every blocked thread, and the
  // herd of rescans under the core lock left ustackd's discard service behind its accept queue.
  const int listener = tcp_listener(b);
  const int other = tcp_socket(b, SOCK_NONBLOCK);
  const sockaddr_in other_local = inet(kAny, kPort + 1);
  ASSERT_EQ(b.bind(other, sa(other_local), sizeof other_local), 0) << std::strerror(errno);
  ASSERT_EQ(b.listen(other, 8), 0) << std::strerror(errno);
  Background call(
      [&] {
        pollfd p{listener, POLLIN, 0};
        const int n = b.poll(&p, 1, static_cast<int>(kHangGuard.count() * 1000));
        return n == 1 && p.revents == POLLIN ? 1L : -100L;
      },
      [&] { b.close(listener); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_b()));
  auto wakeups = [&] {
    std::lock_guard lock(pair.runtime_b().core_lock());
    return pair.stack_b().sockets().wakeups();
  };
  // B's side of the other connections never blocks, so that the poll is the only thread that
  // could be woken on B.
  auto retry = [](auto attempt) {
    const auto end = std::chrono::steady_clock::now() + kHangGuard;
    long r;
    while ((r = attempt()) < 0 && errno == EAGAIN && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return r;
  };
  const std::uint64_t before = wakeups();
  for (int i = 0; i < 5; ++i) {
    const int client = tcp_socket(a);
    set_timeout(a, client, SO_SNDTIMEO, kHangGuard);
    ASSERT_EQ(connect_to(a, client, kIpB, kPort + 1), 0) << std::strerror(errno);
    const long server =
        retry([&] { return static_cast<long>(b.accept4(other, nullptr, nullptr, SOCK_NONBLOCK)); });
    ASSERT_GE(server, 0) << std::strerror(errno);
    const int fd = static_cast<int>(server);
    ASSERT_EQ(a.send(client, "x", 1, 0), 1) << std::strerror(errno);
    char c;
    ASSERT_EQ(retry([&] { return static_cast<long>(b.recv(fd, &c, 1, 0)); }), 1);
    ASSERT_EQ(a.close(client), 0);
    ASSERT_EQ(retry([&] { return static_cast<long>(b.recv(fd, &c, 1, 0)); }), 0);
    ASSERT_EQ(b.close(fd), 0);
  }
  EXPECT_EQ(wakeups(), before);
  EXPECT_FALSE(call.done(std::chrono::milliseconds(0)));
  const int client = tcp_socket(a);
  set_timeout(a, client, SO_SNDTIMEO, kHangGuard);
  ASSERT_EQ(connect_to(a, client, kIpB, kPort), 0) << std::strerror(errno);
  EXPECT_EQ(call.result().value, 1);
  EXPECT_GT(wakeups(), before);
}

TEST_F(SocketTcpThreadsTest, AcceptTimesOutWithEagain) {
  const int listener = tcp_listener(b);
  set_timeout(b, listener, SO_RCVTIMEO, std::chrono::milliseconds(100));
  errno = 0;
  EXPECT_EQ(b.accept4(listener, nullptr, nullptr, 0), -1);
  EXPECT_EQ(errno, EAGAIN) << std::strerror(errno);
}

// ---------------------------------------------------------------------------------------------
// recv

TEST_F(SocketTcpThreadsTest, ABlockedRecvIsWokenByData) {
  const Connection c = establish();
  auto call = recv_in_background(a, c.client, 16, 0, "hey");
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(b.send(c.server, "hey", 3, 0), 3);
  EXPECT_EQ(show(call->result()), "3");
}

TEST_F(SocketTcpThreadsTest, ABlockedRecvIsWokenByTheFinWithZero) {
  const Connection c = establish();
  auto call = recv_in_background(a, c.client, 16, 0, "");
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(b.shutdown(c.server, SHUT_WR), 0);
  EXPECT_EQ(show(call->result()), "0");
}

TEST_F(SocketTcpThreadsTest, ABlockedRecvIsWokenByAResetWithEconnreset) {
  const Connection c = establish();
  auto call = recv_in_background(a, c.client, 16, 0, "");
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  const linger l{1, 0};
  ASSERT_EQ(b.setsockopt(c.server, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ASSERT_EQ(b.close(c.server), 0);
  EXPECT_EQ(show(call->result()), "-1 ECONNRESET");
}

TEST_F(SocketTcpThreadsTest, ABlockedRecvIsWokenByItsOwnShutRdWithZero) {
  const Connection c = establish();
  auto call = recv_in_background(a, c.client, 16, 0, "");
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(a.shutdown(c.client, SHUT_RD), 0);
  EXPECT_EQ(show(call->result()), "0");
}

TEST_F(SocketTcpThreadsTest, RecvTimesOutWithEagain) {
  const Connection c = establish();
  set_timeout(a, c.client, SO_RCVTIMEO, std::chrono::milliseconds(100));
  char buf[4];
  errno = 0;
  EXPECT_EQ(a.recv(c.client, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN) << std::strerror(errno);
}

TEST_F(SocketTcpThreadsTest, MsgWaitallWaitsForEveryByte) {
  const Connection c = establish();
  auto call = recv_in_background(a, c.client, 6, MSG_WAITALL, "abcdef");
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(b.send(c.server, "abc", 3, 0), 3);
  // Only once the reader has taken "abc" and sleeps again for the rest does "def" go out.
  ASSERT_TRUE(reader_drained_and_waiting(c.client));
  ASSERT_EQ(b.send(c.server, "def", 3, 0), 3);
  EXPECT_EQ(show(call->result()), "6");
}

TEST_F(SocketTcpThreadsTest, MsgWaitallReturnsWhatCameBeforeTheFin) {
  const Connection c = establish();
  auto call = recv_in_background(a, c.client, 6, MSG_WAITALL, "abc");
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(b.send(c.server, "abc", 3, 0), 3);
  ASSERT_EQ(b.shutdown(c.server, SHUT_WR), 0);
  EXPECT_EQ(show(call->result()), "3");
}

TEST_F(SocketTcpThreadsTest, MsgWaitallReturnsWhatCameBeforeAResetThenEconnreset) {
  // Linux: the bytes already read win; the reset is reported by the next call.
  const Connection c = establish();
  auto call = recv_in_background(a, c.client, 6, MSG_WAITALL, "abc");
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(b.send(c.server, "abc", 3, 0), 3);
  const linger l{1, 0};
  ASSERT_EQ(b.setsockopt(c.server, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ASSERT_EQ(b.close(c.server), 0);
  EXPECT_EQ(show(call->result()), "3");
  char ch;
  errno = 0;
  EXPECT_EQ(a.recv(c.client, &ch, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET) << std::strerror(errno);
}

// ---------------------------------------------------------------------------------------------
// send

TEST_F(SocketTcpThreadsTest, ABlockingSendWaitsForTheWindowThenTakesEverything) {
  const Connection c = establish();
  ASSERT_EQ(set_int(a, c.client, SOL_SOCKET, SO_SNDBUF, 4096), 0);
  ASSERT_EQ(set_int(b, c.server, SOL_SOCKET, SO_RCVBUF, 4096), 0);
  const Bytes data = pattern(300000);
  Background call([&] { return static_cast<long>(a.send(c.client, data.data(), data.size(), 0)); },
                  [&] { a.shutdown(c.client, SHUT_RDWR); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  Bytes got;
  Bytes buf(65536);
  while (got.size() < data.size()) {
    const ssize_t n = b.recv(c.server, buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0) << std::strerror(errno);
    got.insert(got.end(), buf.begin(), buf.begin() + n);
  }
  EXPECT_EQ(show(call.result()), std::to_string(data.size()));
  EXPECT_EQ(got, data);
}

TEST_F(SocketTcpThreadsTest, ABlockedSendCutShortByAResetReturnsWhatItTookThenEconnreset) {
  // Linux: the partial count wins; ECONNRESET comes with the next send, EPIPE after that.
  const Connection c = establish();
  ASSERT_EQ(set_int(a, c.client, SOL_SOCKET, SO_SNDBUF, 4096), 0);
  ASSERT_EQ(set_int(b, c.server, SOL_SOCKET, SO_RCVBUF, 4096), 0);
  const Bytes data = pattern(300000);
  Background call([&] { return static_cast<long>(a.send(c.client, data.data(), data.size(), 0)); },
                  [&] { a.shutdown(c.client, SHUT_RDWR); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  const linger l{1, 0};
  ASSERT_EQ(b.setsockopt(c.server, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ASSERT_EQ(b.close(c.server), 0);
  const CallResult r = call.result();
  EXPECT_GT(r.value, 0) << show(r);
  EXPECT_LT(r.value, static_cast<long>(data.size()));
  errno = 0;
  EXPECT_EQ(a.send(c.client, "x", 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET) << std::strerror(errno);
  errno = 0;
  EXPECT_EQ(a.send(c.client, "x", 1, 0), -1);
  EXPECT_EQ(errno, EPIPE) << std::strerror(errno);
}

TEST_F(SocketTcpThreadsTest, SendTimeoutReturnsThePartialCountThenEagain) {
  const Connection c = establish();
  ASSERT_EQ(set_int(a, c.client, SOL_SOCKET, SO_SNDBUF, 4096), 0);
  ASSERT_EQ(set_int(b, c.server, SOL_SOCKET, SO_RCVBUF, 4096), 0);
  set_timeout(a, c.client, SO_SNDTIMEO, std::chrono::milliseconds(200));
  const Bytes data = pattern(300000);
  const ssize_t n = a.send(c.client, data.data(), data.size(), 0);
  EXPECT_GT(n, 0) << std::strerror(errno);
  EXPECT_LT(n, static_cast<ssize_t>(data.size()));
  // The first timeout may expire while bytes are still in flight (on a loaded machine the I/O
  // thread may not have run yet), and their ACKs would then make room for more. The second call
  // is meant for a connection that is stuck, so first wait (in real time, bounded) for that:
  // A's send buffer full and B's window closed, which B, never reading, never reopens.
  bool stuck = false;
  const auto end = std::chrono::steady_clock::now() + kHangGuard;
  while (!stuck && std::chrono::steady_clock::now() < end) {
    {
      std::lock_guard lock(pair.runtime_a().core_lock());
      const auto* t = static_cast<const tcp::TcpSocket*>(pair.stack_a().sockets().find(c.client));
      stuck = t != nullptr && t->tcb.send_buffer.free() == 0 && t->tcb.snd_wnd == 0;
    }
    if (!stuck) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(stuck);
  errno = 0;
  EXPECT_EQ(a.send(c.client, data.data(), data.size(), 0), -1);
  EXPECT_EQ(errno, EAGAIN) << std::strerror(errno);
}

// ---------------------------------------------------------------------------------------------
// A host that never answers, in virtual time

class SocketTcpSilentHostTest : public ::testing::Test {
 protected:
  explicit SocketTcpSilentHostTest(const ApiPairOptions& options = {}) : pair(options) {}

  // Runs `call` on a thread and steps the ManualClock until it returns (after `limit` of virtual
  // time, roughly: a step may come while the woken call has yet to retake the lock). The clock
  // moves only while the call sleeps, so it cannot run out before the call has even begun.
  CallResult run_blocking(std::function<long()> call, std::function<void()> unblock,
                          Duration limit = 60s) {
    Background bg(std::move(call), std::move(unblock));
    const Instant end = pair.clock().now() + limit;
    const auto real_end = std::chrono::steady_clock::now() + kHangGuard;
    while (!bg.done(std::chrono::milliseconds(0)) && pair.clock().now() < end &&
           std::chrono::steady_clock::now() < real_end) {
      bool sleeping = false;
      {
        std::lock_guard lock(pair.runtime_a().core_lock());
        sleeping = pair.stack_a().sockets().waiters() >= 1;
      }
      if (sleeping) {
        pair.step(10ms);
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    return bg.result();
  }

  ApiPair pair;
  SocketApi& a = pair.a();
};

TEST_F(SocketTcpSilentHostTest, BlockingConnectEndsWithEhostunreachWhenArpFails) {
  // Linux: after ARP's retries (about 3 s) the connect fails with EHOSTUNREACH, which is not
  // left in SO_ERROR; the next blocking connect tries again and fails the same way.
  const int fd = tcp_socket(a);
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(attempt);
    const CallResult r = run_blocking(
        [&] { return static_cast<long>(connect_to(a, fd, kSilent, 80)); }, [&] { a.close(fd); });
    EXPECT_EQ(show(r), "-1 EHOSTUNREACH");
    EXPECT_EQ(so_error(a, fd), 0);
  }
}

// B's MAC is known to A, then every frame is lost: a SYN that is never answered, without the
// ARP failure that would end the attempt after a few seconds.
class SocketTcpLostSynTest : public SocketTcpSilentHostTest {
 protected:
  static ApiPairOptions with_injector() {
    ApiPairOptions o;
    o.faults = FaultConfig{};
    return o;
  }
  SocketTcpLostSynTest() : SocketTcpSilentHostTest(with_injector()) {
    pair.resolve_arp();
    FaultConfig lose_all;
    lose_all.drop = 1.0;
    std::lock_guard lock(pair.runtime_a().core_lock());
    pair.injector().set_config(lose_all);
  }
};

TEST_F(SocketTcpLostSynTest, BlockingConnectThatTimesOutIsEinprogressThenEalready) {
  // Linux: SO_SNDTIMEO ends a blocking connect with EINPROGRESS; the attempt goes on, and each
  // later blocking connect waits SO_SNDTIMEO again and says EALREADY.
  const int fd = tcp_socket(a);
  set_timeout(a, fd, SO_SNDTIMEO, std::chrono::milliseconds(200));
  const CallResult first = run_blocking(
      [&] { return static_cast<long>(connect_to(a, fd, kIpB, 80)); }, [&] { a.close(fd); }, 2s);
  EXPECT_EQ(show(first), "-1 EINPROGRESS");
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const CallResult again = run_blocking(
        [&] { return static_cast<long>(connect_to(a, fd, kIpB, 80)); }, [&] { a.close(fd); }, 2s);
    EXPECT_EQ(show(again), "-1 EALREADY");
  }
}

}  // namespace
}  // namespace ustack::test
