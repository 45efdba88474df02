// The Runtime's inline mode: a single-threaded application with no I/O thread. Stack A is only
// ever polled from inside A's own blocking calls (recvfrom, poll with a timeout), which drive
// it until they are satisfied; its peer B runs an ordinary I/O thread and an echo server on an
// application thread. Real time, with generous hang guards only.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/time.h>

#include <ctime>
#include <thread>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

class SocketInlineTest : public ::testing::Test {
 protected:
  static ApiPairOptions real_time() {
    ApiPairOptions o;
    o.real_time = true;
    return o;
  }

  SocketInlineTest() : pair(real_time()) {
    pair.runtime_a().set_inline_mode(true);  // A: no I/O thread, ever
    EXPECT_TRUE(pair.runtime_b().start());
    server = udp_socket(b, kAny, 7);
    echo = std::thread([this] {
      Bytes buf(65536);
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = b.recvfrom(server, buf.data(), buf.size(), 0, sa(from), &len);
        if (n < 0) return;  // EBADF: closed by the test
        b.sendto(server, buf.data(), static_cast<size_t>(n), 0, sa(from), len);
      }
    });
  }
  ~SocketInlineTest() override {
    b.close(server);
    echo.join();
  }

  void set_receive_timeout(int fd, timeval tv) {
    ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
  int server = -1;
  std::thread echo;
};

TEST_F(SocketInlineTest, ABlockingReceiveDrivesTheStack) {
  const int fd = udp_socket(a);
  set_receive_timeout(fd, {20, 0});  // hang guard
  Bytes buf(65536);
  // ARP both ways, then every size, fragmented from 1473 bytes on, in both directions.
  for (std::size_t size : {0u, 1u, 1472u, 1473u, 8000u, 65507u}) {
    SCOPED_TRACE(size);
    const Bytes data = pattern(size, static_cast<std::uint32_t>(size));
    ASSERT_EQ(send_to(a, fd, data, {kIpB, 7}), static_cast<ssize_t>(size));
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = a.recvfrom(fd, buf.data(), buf.size(), 0, sa(from), &len);
    ASSERT_EQ(n, static_cast<ssize_t>(size)) << std::strerror(errno);
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + n), data);
    EXPECT_EQ(endpoint(from), (Endpoint{kIpB, 7}));
  }
}

TEST_F(SocketInlineTest, NothingMovesUntilTheApplicationBlocks) {
  const int fd = udp_socket(a, kAny, 5000);
  set_receive_timeout(fd, {20, 0});
  // B sends to A. A's frames wait on the link: nobody polls A while the application does not
  // call into it.
  const int sender = udp_socket(b, kAny, 4000);
  ASSERT_EQ(send_to(b, sender, pattern(100), {kIpA, 5000}), 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(pair.counter_a("dev.rx_frames"), 0u);
  // The blocking receive runs the stack, which takes the frames waiting for it.
  // It must not sleep first: the datagram may be among the frames already waiting.
  char buf[200];
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), 100);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10))
      << "the datagram waited for the 20 s timeout";
  EXPECT_GT(pair.counter_a("dev.rx_frames"), 0u);
}

TEST_F(SocketInlineTest, PollWithATimeoutDrivesTheStack) {
  const int fd = udp_socket(a);
  ASSERT_EQ(send_to(a, fd, pattern(10), {kIpB, 7}), 10);
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(a.poll(&p, 1, 20000), 1);
  EXPECT_EQ(p.revents, POLLIN);
  auto got = receive(a, fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, pattern(10));
}

TEST_F(SocketInlineTest, ATimeoutStillExpires) {
  // Nothing will arrive: the blocked call waits for its deadline, driving the stack meanwhile.
  const int fd = udp_socket(a, kAny, 5000);
  set_receive_timeout(fd, {0, 200000});
  const auto start = std::chrono::steady_clock::now();
  char buf[8];
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_LT(waited, kHangGuard);
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(a.poll(&p, 1, 100), 0);
}

TEST_F(SocketInlineTest, ABlockedCallSleepsInsteadOfSpinning) {
  // After a round trip the stack has timers armed (ARP entries age); a blocked call waits in
  // epoll for the next frame or deadline and burns no CPU meanwhile. A busy loop would use about
  // as much CPU time as it waited; a loaded machine can only make a busy loop look better.
  const int fd = udp_socket(a);
  set_receive_timeout(fd, {20, 0});
  ASSERT_EQ(send_to(a, fd, pattern(10), {kIpB, 7}), 10);
  char buf[64];
  ASSERT_EQ(a.recv(fd, buf, sizeof buf, 0), 10);
  set_receive_timeout(fd, {0, 500000});
  const double before = thread_cpu_seconds();
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_LT(thread_cpu_seconds() - before, 0.1);
}

}  // namespace
}  // namespace ustack::test
