// Timeouts of blocking calls in ManualClock time: a call blocked on an application thread sleeps
// until the test moves the clock past its deadline — not a nanosecond earlier — or until what it
// waits for arrives. No I/O thread runs; each step() polls both stacks and wakes blocked calls,
// as Runtime::poll_now promises.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/time.h>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};
// Long enough for a blocked thread to notice a wake-up it should not act on; a correct stack
// passes whatever this is, so it cannot make the test flaky.
constexpr auto kSettle = std::chrono::milliseconds(50);

class SocketTimeoutTest : public ::testing::Test {
 protected:
  void set_receive_timeout(int fd, timeval tv) {
    ASSERT_EQ(a.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  }
  // A blocking recv on its own thread; if the test ends early, the clock jumps an hour ahead so
  // that any timeout expires.
  std::unique_ptr<Background> recv_in_background(int fd, int flags = 0) {
    return std::make_unique<Background>(
        [this, fd, flags] {
          char buf[64];
          return static_cast<long>(a.recv(fd, buf, sizeof buf, flags));
        },
        [this] { pair.step(1h); });
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
};

TEST_F(SocketTimeoutTest, ReceiveTimeoutExpiresOnlyWhenTheClockPassesIt) {
  const int fd = udp_socket(a, kAny, 5000);
  set_receive_timeout(fd, {2, 0});
  const Instant start = pair.clock().now();
  auto call = recv_in_background(fd);
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));

  pair.step(1900ms);
  EXPECT_FALSE(call->done(kSettle)) << "returned at 1.9 s of a 2 s timeout";
  pair.step(99ms);
  EXPECT_FALSE(call->done(kSettle)) << "returned at 1.999 s of a 2 s timeout";
  pair.step(1ms);
  const CallResult r = call->result();
  EXPECT_EQ(r.value, -1);
  EXPECT_EQ(r.error, EAGAIN);  // Linux: EAGAIN (EWOULDBLOCK) when SO_RCVTIMEO runs out
  EXPECT_EQ(pair.clock().now() - start, 2s);
}

TEST_F(SocketTimeoutTest, ADatagramEndsTheWaitBeforeTheTimeout) {
  const int fd = udp_socket(a, kAny, 5000);
  set_receive_timeout(fd, {2, 0});
  auto call = recv_in_background(fd);
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  pair.step(1s);
  EXPECT_FALSE(call->done(kSettle));

  const int sender = udp_socket(b);
  ASSERT_EQ(send_to(b, sender, pattern(10), {kIpA, 5000}), 10);
  const Instant sent_at = pair.clock().now();
  EXPECT_TRUE(pair.run_until([&] { return call->done(std::chrono::milliseconds(1)); }, 500ms));
  const CallResult r = call->result();
  EXPECT_EQ(r.value, 10);
  EXPECT_LT(pair.clock().now() - sent_at, 500ms);
}

TEST_F(SocketTimeoutTest, MicrosecondsCountToo) {
  const int fd = udp_socket(a, kAny, 5000);
  set_receive_timeout(fd, {0, 250000});
  auto call = recv_in_background(fd);
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  pair.step(249ms);
  EXPECT_FALSE(call->done(kSettle));
  pair.step(1ms);
  const CallResult r = call->result();
  EXPECT_EQ(r.value, -1);
  EXPECT_EQ(r.error, EAGAIN);
}

TEST_F(SocketTimeoutTest, WithoutATimeoutAReceiveWaitsForever) {
  const int fd = udp_socket(a, kAny, 5000);
  auto call = recv_in_background(fd);
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  pair.step(24h);
  EXPECT_FALSE(call->done(kSettle));
  const int sender = udp_socket(b);
  ASSERT_EQ(send_to(b, sender, pattern(3), {kIpA, 5000}), 3);
  pair.run_until([&] { return call->done(std::chrono::milliseconds(1)); }, 1s);
  EXPECT_EQ(call->result().value, 3);
}

TEST_F(SocketTimeoutTest, ATimeoutDoesNotDelayAQueuedDatagramOrMsgDontwait) {
  const int fd = udp_socket(a, kAny, 5000);
  set_receive_timeout(fd, {2, 0});
  char buf[8];
  // MSG_DONTWAIT wins over SO_RCVTIMEO: no wait at all, on this thread.
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  const int sender = udp_socket(b);
  ASSERT_EQ(send_to(b, sender, pattern(4), {kIpA, 5000}), 4);
  pollfd p{fd, POLLIN, 0};
  ASSERT_TRUE(pair.run_until([&] { return a.poll(&p, 1, 0) == 1; }, 1s));
  const Instant before = pair.clock().now();
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), 4);  // on this thread: must not block
  EXPECT_EQ(pair.clock().now(), before);
}

TEST_F(SocketTimeoutTest, PollTimeoutExpiresOnlyWhenTheClockPassesIt) {
  const int fd = udp_socket(a, kAny, 5000);
  Background call(
      [&] {
        pollfd p{fd, POLLIN, 0};
        const int n = a.poll(&p, 1, 2000);
        return n == 0 && p.revents == 0 ? 0L : -100L;
      },
      [&] { pair.step(1h); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  pair.step(1999ms);
  EXPECT_FALSE(call.done(kSettle)) << "poll returned at 1.999 s of 2 s";
  pair.step(1ms);
  EXPECT_EQ(call.result().value, 0);
}

TEST_F(SocketTimeoutTest, PollWakesWhenADatagramArrives) {
  const int fd = udp_socket(a, kAny, 5000);
  const int other = udp_socket(a, kAny, 5001);
  Background call(
      [&] {
        pollfd p[2] = {{other, POLLIN, 0}, {fd, POLLIN, 0}};
        const int n = a.poll(p, 2, -1);
        return n == 1 && p[0].revents == 0 && p[1].revents == POLLIN ? 1L : -100L;
      },
      [&] { a.close(fd); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  pair.step(10s);
  EXPECT_FALSE(call.done(kSettle));
  const int sender = udp_socket(b);
  ASSERT_EQ(send_to(b, sender, pattern(4), {kIpA, 5000}), 4);
  pair.run_until([&] { return call.done(std::chrono::milliseconds(1)); }, 1s);
  EXPECT_EQ(call.result().value, 1);
}

TEST_F(SocketTimeoutTest, PollThatIsReadyAtOnceDoesNotWait) {
  const int fd = udp_socket(a, kAny, 5000);
  pollfd p{fd, POLLIN | POLLOUT, 0};
  const Instant before = pair.clock().now();
  EXPECT_EQ(a.poll(&p, 1, 2000), 1);  // POLLOUT: a UDP socket is writable
  EXPECT_EQ(p.revents, POLLOUT);
  EXPECT_EQ(pair.clock().now(), before);
}

}  // namespace
}  // namespace ustack::test
