// UDP sockets between two stacks in ManualClock time: a closed port on the peer comes back as
// ECONNREFUSED on a connected socket (once, by recv, send or SO_ERROR) and not on an unconnected
// one; a socket that never reads keeps at most SO_RCVBUF bytes queued and counts every datagram
// it had to drop.
#include <gtest/gtest.h>
#include <poll.h>

#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr Ipv4Address kAny{};

class UdpSocketTest : public ::testing::Test {
 protected:
  int pending_error(SocketApi& api, int fd) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(api.getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
    return v;
  }
  // A socket on A connected to B's port 9, where nobody listens.
  int connected_to_closed_port() {
    const int fd = a.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const sockaddr_in to = inet(kIpB, 9);
    EXPECT_EQ(a.connect(fd, sa(to), sizeof to), 0);
    return fd;
  }
  // Steps until A has received `n` ICMP errors in all (bounded).
  void wait_for_icmp_errors(std::uint64_t n) {
    EXPECT_TRUE(pair.run_until([&] { return pair.counter_a("icmp.error_rx") >= n; }, 1s));
  }

  ApiPair pair;
  SocketApi& a = pair.a();
  SocketApi& b = pair.b();
};

// ---------------------------------------------------------------------------------------------
// ICMP port unreachable

TEST_F(UdpSocketTest, PortUnreachableIsEconnrefusedOnTheNextReceive) {
  const int fd = connected_to_closed_port();
  ASSERT_EQ(a.send(fd, "hello", 5, 0), 5);
  wait_for_icmp_errors(1);
  EXPECT_EQ(pair.counter_b("udp.no_port"), 1u);
  EXPECT_EQ(pair.counter_a("udp.icmp_error"), 1u);
  char buf[16];
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  // Reported once.
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(pending_error(a, fd), 0);
}

TEST_F(UdpSocketTest, PortUnreachableIsEconnrefusedOnTheNextSend) {
  const int fd = connected_to_closed_port();
  ASSERT_EQ(a.send(fd, "hello", 5, 0), 5);
  wait_for_icmp_errors(1);
  EXPECT_EQ(a.send(fd, "again", 5, 0), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  // The failed send sent nothing; the next one goes out (and earns another error).
  const std::uint64_t sent = pair.counter_a("udp.tx");
  EXPECT_EQ(a.send(fd, "again", 5, 0), 5);
  EXPECT_EQ(pair.counter_a("udp.tx"), sent + 1);
}

TEST_F(UdpSocketTest, SoErrorReportsAndClears) {
  const int fd = connected_to_closed_port();
  ASSERT_EQ(a.send(fd, "hello", 5, 0), 5);
  wait_for_icmp_errors(1);
  pollfd p{fd, POLLIN | POLLOUT, 0};
  ASSERT_EQ(a.poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLOUT | POLLERR);
  EXPECT_EQ(pending_error(a, fd), ECONNREFUSED);
  EXPECT_EQ(pending_error(a, fd), 0);
  ASSERT_EQ(a.poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLOUT);
  char buf[16];
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(UdpSocketTest, AnUnconnectedSocketIsNotTold) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_EQ(send_to(a, fd, pattern(5), {kIpB, 9}), 5);
  wait_for_icmp_errors(1);
  EXPECT_EQ(pending_error(a, fd), 0);
  char buf[16];
  EXPECT_EQ(a.recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(send_to(a, fd, pattern(5), {kIpB, 9}), 5);
}

TEST_F(UdpSocketTest, OnlyTheSocketWhoseDatagramFailedIsTold) {
  // Two sockets connected to the same closed port; only one sends.
  const int quiet = connected_to_closed_port();
  const int talker = connected_to_closed_port();
  ASSERT_EQ(a.send(talker, "x", 1, 0), 1);
  wait_for_icmp_errors(1);
  EXPECT_EQ(pending_error(a, quiet), 0);
  EXPECT_EQ(pending_error(a, talker), ECONNREFUSED);
}

TEST_F(UdpSocketTest, AnOpenPortIsNotRefused) {
  const int server = udp_socket(b, kAny, 9);
  const int fd = connected_to_closed_port();
  ASSERT_EQ(a.send(fd, "hello", 5, 0), 5);
  pollfd p{server, POLLIN, 0};
  ASSERT_TRUE(pair.run_until([&] { return b.poll(&p, 1, 0) == 1; }, 1s));
  pair.run_for(50ms);
  EXPECT_EQ(pair.counter_a("icmp.error_rx"), 0u);
  EXPECT_EQ(pending_error(a, fd), 0);
}

TEST_F(UdpSocketTest, ABlockedReceiveIsWokenByTheError) {
  const int fd = a.socket(AF_INET, SOCK_DGRAM, 0);  // blocking
  const sockaddr_in to = inet(kIpB, 9);
  ASSERT_EQ(a.connect(fd, sa(to), sizeof to), 0);
  Background call(
      [&] {
        char buf[16];
        return static_cast<long>(a.recv(fd, buf, sizeof buf, 0));
      },
      [&] { a.close(fd); });
  ASSERT_TRUE(wait_until_blocked(pair.runtime_a()));
  ASSERT_EQ(a.send(fd, "hello", 5, 0), 5);
  pair.run_until([&] { return call.done(std::chrono::milliseconds(0)); }, 1s);
  const CallResult r = call.result();
  EXPECT_EQ(r.value, -1);
  EXPECT_EQ(r.error, ECONNREFUSED);
}

// ---------------------------------------------------------------------------------------------
// Bounded receive queues

TEST_F(UdpSocketTest, AFloodedSocketKeepsAtMostItsBufferAndCountsTheRest) {
  const int sink = udp_socket(b, kAny, 5000);  // never reads during the flood
  const int sender = udp_socket(a);
  auto queue = udp_socket_of(pair.stack_b(), sink);
  ASSERT_TRUE(queue);
  const std::size_t limit = queue->receive_buffer;
  EXPECT_EQ(limit, 212992u);

  pair.resolve_arp();
  constexpr int kDatagrams = 1000;
  std::size_t most = 0;
  for (int i = 0; i < kDatagrams; ++i) {
    ASSERT_EQ(send_to(a, sender, pattern(1000, static_cast<std::uint32_t>(i)), {kIpB, 5000}), 1000);
    if (i % 16 == 15) pair.step();
    most = std::max(most, queue->queued_bytes);
    ASSERT_LE(queue->queued_bytes, limit);
  }
  pair.run_for(20ms);
  most = std::max(most, queue->queued_bytes);
  EXPECT_LE(most, limit);

  const std::uint64_t delivered = pair.counter_b("udp.delivered");
  const std::uint64_t dropped = pair.counter_b("udp.queue_full");
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(delivered, 0u);
  EXPECT_EQ(delivered + dropped, static_cast<std::uint64_t>(kDatagrams));
  EXPECT_EQ(queue->queue.size(), delivered);

  // What was kept is intact and in order: the first `delivered` datagrams (the rest found the
  // queue full).
  for (std::uint64_t i = 0; i < delivered; ++i) {
    auto got = receive(b, sink);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->data, pattern(1000, static_cast<std::uint32_t>(i)));
  }
  EXPECT_FALSE(receive(b, sink));
  EXPECT_EQ(queue->queued_bytes, 0u);

  // Room again: the next datagram is taken.
  ASSERT_EQ(send_to(a, sender, pattern(10), {kIpB, 5000}), 10);
  pair.run_for(5ms);
  EXPECT_TRUE(receive(b, sink));
}

TEST_F(UdpSocketTest, ASmallerSoRcvbufKeepsFewer) {
  const int sink = udp_socket(b, kAny, 5000);
  const int size = 4096;  // reads back as 8192
  ASSERT_EQ(b.setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
  const int sender = udp_socket(a);
  auto queue = udp_socket_of(pair.stack_b(), sink);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(send_to(a, sender, pattern(100), {kIpB, 5000}), 100);
    pair.step();
    ASSERT_LE(queue->queued_bytes, 8192u);
  }
  pair.run_for(10ms);
  EXPECT_GE(queue->queue.size(), 1u);
  EXPECT_LT(queue->queue.size(), 50u);
  EXPECT_GT(pair.counter_b("udp.queue_full"), 0u);
  EXPECT_EQ(pair.counter_b("udp.queue_full") + queue->queue.size(), 50u);
}

TEST_F(UdpSocketTest, AnEmptyQueueTakesADatagramLargerThanTheBuffer) {
  // As on Linux, a socket with a small SO_RCVBUF still receives a datagram larger than the
  // buffer when nothing else is queued; otherwise it could never receive one at all.
  const int sink = udp_socket(b, kAny, 5000);
  const int size = 1;  // the minimum: 2304
  ASSERT_EQ(b.setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
  const int sender = udp_socket(a);
  pair.resolve_arp();
  const Bytes big = pattern(65507, 1);
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(send_to(a, sender, big, {kIpB, 5000}), 65507);
    ASSERT_EQ(send_to(a, sender, big, {kIpB, 5000}), 65507);  // finds the queue taken
    pair.run_for(20ms);
    auto got = receive(b, sink);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->data, big);
    EXPECT_FALSE(receive(b, sink));
  }
  EXPECT_EQ(pair.counter_b("udp.queue_full"), 2u);
}

TEST_F(UdpSocketTest, ClosingASocketFreesItsQueue) {
  const int sink = udp_socket(b, kAny, 5000);
  const int sender = udp_socket(a);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(send_to(a, sender, pattern(500), {kIpB, 5000}), 500);
  }
  pair.run_for(10ms);
  auto queue = udp_socket_of(pair.stack_b(), sink);
  ASSERT_EQ(queue->queue.size(), 10u);
  ASSERT_EQ(b.close(sink), 0);
  EXPECT_EQ(queue->queue.size(), 0u);
  EXPECT_EQ(queue->queued_bytes, 0u);
  // The port is closed now: the next datagram is refused.
  ASSERT_EQ(send_to(a, sender, pattern(500), {kIpB, 5000}), 500);
  pair.run_for(10ms);
  EXPECT_EQ(pair.counter_b("udp.no_port"), 1u);
}

}  // namespace
}  // namespace ustack::test
