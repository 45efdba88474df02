// Blocking calls on application threads while both stacks run their own I/O threads in real
// time: close and shutdown wake every thread blocked on a socket, and many threads send and
// receive on separate sockets at once without losing, mixing or corrupting a datagram. These
// tests are also built with ThreadSanitizer (tools/test --tsan).
//
// Real time is used only as a hang guard (kHangGuard, SO_RCVTIMEO of several seconds): nothing
// asserts how long anything took, except that a timeout did not end early.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/time.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};

ApiPairOptions real_time() {
  ApiPairOptions o;
  o.real_time = true;
  return o;
}

class SocketThreadsTest : public ::testing::Test {
 protected:
  SocketThreadsTest() : pair(real_time()) { pair.start(); }

  static void set_timeout(SocketApi& api, int fd, int name, std::chrono::seconds s) {
    const timeval tv{static_cast<time_t>(s.count()), 0};
    ASSERT_EQ(api.setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv), 0);
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
};

TEST_F(SocketThreadsTest, ABlockingReceiveGetsTheDatagram) {
  const int fd = udp_socket(a, kAny, 5000);
  set_timeout(a, fd, SO_RCVTIMEO, std::chrono::seconds(20));  // hang guard
  Background call(
      [&] {
        char buf[64];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = a.recvfrom(fd, buf, sizeof buf, 0, sa(from), &len);
        if (n != 5 || std::memcmp(buf, "hello", 5) != 0) return -100L;
        return endpoint(from) == Endpoint{kIpB, 4000} ? 5L : -101L;
      },
      [&] { a.close(fd); });
  const int sender = udp_socket(b, kAny, 4000);
  const sockaddr_in to = inet(kIpA, 5000);
  ASSERT_EQ(b.sendto(sender, "hello", 5, 0, sa(to), sizeof to), 5);
  EXPECT_EQ(call.result().value, 5);
}

TEST_F(SocketThreadsTest, CloseFromAnotherThreadWakesABlockedReceive) {
  const int fd = udp_socket(a, kAny, 5000);
  Background call(
      [&] {
        char buf[64];
        return static_cast<long>(a.recvfrom(fd, buf, sizeof buf, 0, nullptr, nullptr));
      },
      [&] { a.close(fd); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(a.close(fd), 0);
  const CallResult r = call.result();
  EXPECT_EQ(r.value, -1);
  EXPECT_EQ(r.error, EBADF);
  // The port went with the descriptor.
  EXPECT_GE(udp_socket(a, kAny, 5000), 0);
}

TEST_F(SocketThreadsTest, CloseWakesEveryThreadBlockedOnTheSocket) {
  const int fd = udp_socket(a, kAny, 5000);
  const int bystander = udp_socket(a, kAny, 5001);
  set_timeout(a, bystander, SO_RCVTIMEO, std::chrono::seconds(3));
  std::vector<std::unique_ptr<Background>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(std::make_unique<Background>(
        [&] {
          char buf[64];
          return static_cast<long>(a.recv(fd, buf, sizeof buf, 0));
        },
        [&] { a.close(fd); }));
  }
  // A poll on the socket is woken too; it reports the descriptor as no longer valid.
  calls.push_back(std::make_unique<Background>(
      [&] {
        pollfd p{fd, POLLIN, 0};
        const int n = a.poll(&p, 1, -1);
        return n == 1 && p.revents == POLLNVAL ? 1L : -100L;
      },
      [&] { a.close(fd); }));
  // A thread blocked on another socket is not disturbed: it times out as it would have.
  Background other(
      [&] {
        char buf[64];
        return static_cast<long>(a.recv(bystander, buf, sizeof buf, 0));
      },
      [&] { a.close(bystander); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a(), 5));
  ASSERT_EQ(a.close(fd), 0);
  for (int i = 0; i < 3; ++i) {
    const CallResult r = calls[static_cast<std::size_t>(i)]->result();
    EXPECT_EQ(r.value, -1) << i;
    EXPECT_EQ(r.error, EBADF) << i;
  }
  EXPECT_EQ(calls[3]->result().value, 1);
  const CallResult r = other.result();
  EXPECT_EQ(r.value, -1);
  EXPECT_EQ(r.error, EAGAIN);
}

TEST_F(SocketThreadsTest, ShutdownReadWakesABlockedReceive) {
  const int fd = udp_socket(a, kAny, 5000);
  const sockaddr_in peer = inet(kIpB, 9);
  ASSERT_EQ(a.connect(fd, sa(peer), sizeof peer), 0);
  Background call(
      [&] {
        char buf[64];
        return static_cast<long>(a.recv(fd, buf, sizeof buf, 0));
      },
      [&] { a.close(fd); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(a.shutdown(fd, SHUT_RD), 0);
  const CallResult r = call.result();
  EXPECT_EQ(r.value, 0);  // end of file
  // The descriptor is still open and sends.
  EXPECT_EQ(a.send(fd, "x", 1, 0), 1);
}

TEST_F(SocketThreadsTest, ShutdownOfAnUnconnectedSocketStillWakesItsReaders) {
  // Linux answers ENOTCONN for an unconnected UDP socket but applies the shutdown anyway, so
  // that a thread blocked in recv can be told to stop.
  const int fd = udp_socket(a, kAny, 5000);
  Background call(
      [&] {
        char buf[64];
        return static_cast<long>(a.recv(fd, buf, sizeof buf, 0));
      },
      [&] { a.close(fd); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  EXPECT_EQ(a.shutdown(fd, SHUT_RDWR), -1);
  EXPECT_EQ(errno, ENOTCONN);
  EXPECT_EQ(call.result().value, 0);
}

TEST_F(SocketThreadsTest, AReceiveTimeoutDoesNotEndEarly) {
  const int fd = udp_socket(a, kAny, 5000);
  const timeval tv{0, 200000};
  ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  const auto start = std::chrono::steady_clock::now();
  char buf[8];
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST_F(SocketThreadsTest, ManyThreadsSendAndReceiveOnSeparateSockets) {
  // Eight echo servers on B, each with its own thread, and eight clients on A that each run 40
  // request/response rounds of varying sizes (some fragmented), all at once.
  constexpr int kPairs = 8;
  constexpr int kRounds = 40;
  auto size_of = [](int pair_index, int round) {
    return static_cast<std::size_t>(round == 0 ? 1 : (round * 397 + pair_index * 61) % 4000);
  };
  std::vector<int> servers;
  std::vector<int> clients;
  for (int i = 0; i < kPairs; ++i) {
    servers.push_back(udp_socket(b, kAny, static_cast<std::uint16_t>(7000 + i)));
    clients.push_back(udp_socket(a));
    set_timeout(b, servers.back(), SO_RCVTIMEO, std::chrono::seconds(10));
    set_timeout(a, clients.back(), SO_RCVTIMEO, std::chrono::seconds(10));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kPairs; ++i) {
    threads.emplace_back([&, i] {
      Bytes buf(65536);
      for (int r = 0; r < kRounds; ++r) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = b.recvfrom(servers[static_cast<std::size_t>(i)], buf.data(), buf.size(),
                                     0, sa(from), &len);
        if (n < 0) {
          ++failures;
          return;
        }
        if (b.sendto(servers[static_cast<std::size_t>(i)], buf.data(), static_cast<size_t>(n), 0,
                     sa(from), len) != n) {
          ++failures;
        }
      }
    });
    threads.emplace_back([&, i] {
      Bytes buf(65536);
      const int fd = clients[static_cast<std::size_t>(i)];
      for (int r = 0; r < kRounds; ++r) {
        const Bytes data = pattern(size_of(i, r), static_cast<std::uint32_t>(i * 1000 + r));
        if (send_to(a, fd, data, {kIpB, static_cast<std::uint16_t>(7000 + i)}) !=
            static_cast<ssize_t>(data.size())) {
          ++failures;
          return;
        }
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = a.recvfrom(fd, buf.data(), buf.size(), 0, sa(from), &len);
        if (n < 0 || Bytes(buf.begin(), buf.begin() + n) != data ||
            !(endpoint(from) == Endpoint{kIpB, static_cast<std::uint16_t>(7000 + i)})) {
          ++failures;
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(pair.counter_b("udp.delivered"), static_cast<std::uint64_t>(kPairs * kRounds));
  EXPECT_EQ(pair.counter_a("udp.delivered"), static_cast<std::uint64_t>(kPairs * kRounds));
  EXPECT_EQ(pair.counter_a("udp.queue_full") + pair.counter_b("udp.queue_full"), 0u);
}

TEST_F(SocketThreadsTest, ThreadsOpeningAndClosingSocketsAtOnce) {
  // The descriptor table and the port table under concurrent use: every thread's descriptors
  // are its own, and everything is released at the end.
  constexpr int kThreads = 8;
  constexpr int kIterations = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        const int fd = a.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        const sockaddr_in any = inet(kAny, 0);
        if (fd < 0 || a.bind(fd, sa(any), sizeof any) != 0) ++failures;
        char buf[4];
        if (a.recv(fd, buf, sizeof buf, 0) != -1 || errno != EAGAIN) ++failures;
        if (a.close(fd) != 0) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::lock_guard lock(pair.runtime_a().core_lock());
  EXPECT_EQ(pair.stack_a().sockets().size(), 0u);
}

}  // namespace
}  // namespace ustack::test
