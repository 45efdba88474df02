// ustackd's discard service (apps/echo_services.h) on stack B under bursts of connections from
// stack A, each burst a full accept queue (backlog + 1): every connection is accepted and closed
// and none is dropped for want of room in the queue (tcp.accept_queue_full), which would cost a
// real client a 1 s SYN retransmission. ManualClock: between steps the test waits for the
// service thread to empty the queue, so nothing depends on real timing.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>
#include <vector>

#include "apps/echo_services.h"
#include "stack/tcp/tcp.h"
#include "support/socket_pair.h"

namespace ustack::test {
namespace {

constexpr std::uint16_t kPort = 9;
constexpr int kBacklog = 128;  // open_tcp_server's
constexpr int kBursts = 3;
constexpr int kBurst = kBacklog + 1;

class DiscardServiceTest : public ::testing::Test {
 protected:
  DiscardServiceTest() {
    pair.resolve_arp();
    // The free functions the service uses act on B, the last Runtime constructed.
    listener = apps::open_tcp_server(kPort);
    EXPECT_GE(listener, 0) << std::strerror(errno);
    service = std::thread([this] {
      apps::serve_discard(listener, &stop);
      finished = true;
    });
  }
  ~DiscardServiceTest() override {
    stop = true;
    // Bounded: the service rechecks `stop` whenever a step wakes its poll.
    const auto end = std::chrono::steady_clock::now() + kHangGuard;
    while (!finished && std::chrono::steady_clock::now() < end) {
      pair.step(1ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    service.join();
    pair.b().close(listener);
  }

  // Waits in real time (bounded by kHangGuard) until the service has taken every connection
  // from the accept queue and sleeps in poll again, with no wake-up pending.
  bool service_idle() {
    const auto end = std::chrono::steady_clock::now() + kHangGuard;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard lock(pair.runtime_b().core_lock());
        auto s = pair.stack_b().sockets().get(listener);
        auto* l = static_cast<tcp::TcpSocket*>(s.get());
        // Blocked and not yet woken: a thread that was notified but has not got the core lock
        // back still counts as a waiter, and this loop, taking the lock at full speed, could keep
        // it from ever running (std::mutex is not fair).
        if (l->accept_queue.empty() && pair.stack_b().sockets().waiters() >= 1 &&
            pair.stack_b().sockets().contenders().load() == 0) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  }

  ApiPair pair;
  int listener = -1;
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  std::thread service;
};

TEST_F(DiscardServiceTest, BurstsOfAFullAcceptQueueAreAllAcceptedAndClosed) {
  SocketApi& a = pair.a();
  const sockaddr_in to = inet(kIpB, kPort);
  for (int burst = 0; burst < kBursts; ++burst) {
    std::vector<pollfd> clients;
    for (int i = 0; i < kBurst; ++i) {
      const int fd = a.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ASSERT_GE(fd, 0) << std::strerror(errno);
      ASSERT_EQ(a.connect(fd, sa(to), sizeof to), -1);
      ASSERT_EQ(errno, EINPROGRESS) << std::strerror(errno);
      clients.push_back({fd, POLLOUT, 0});
    }
    // Every handshake completes (in a few steps: B takes a batch of frames per poll), then the
    // service empties the queue.
    ASSERT_TRUE(pair.run_until(
        [&] {
          return a.poll(clients.data(), clients.size(), 0) == static_cast<int>(clients.size());
        },
        1s));
    for (const pollfd& p : clients) ASSERT_EQ(p.revents, POLLOUT) << "fd " << p.fd;
    ASSERT_TRUE(service_idle());
    for (const pollfd& p : clients) ASSERT_EQ(a.close(p.fd), 0);
  }
  // The FINs: the service reads end of file and closes each connection; B keeps nothing (A
  // closed first, so TIME-WAIT is A's).
  bool all_closed = false;
  for (int i = 0; i < 1000 && !all_closed; ++i) {
    pair.step(10ms);
    ASSERT_TRUE(service_idle());
    std::lock_guard lock(pair.runtime_b().core_lock());
    all_closed = pair.stack_b().tcp().connection_count() == 0 &&
                 pair.stack_b().sockets().size() == 1;  // the listener
  }
  EXPECT_TRUE(all_closed);
  EXPECT_EQ(pair.counter_b("tcp.accept_queue_full"), 0u);
  EXPECT_EQ(pair.counter_b("tcp.passive_opens"), static_cast<std::uint64_t>(kBursts * kBurst));
  EXPECT_EQ(pair.counter_b("tcp.established"), static_cast<std::uint64_t>(kBursts * kBurst));
}

}  // namespace
}  // namespace ustack::test
