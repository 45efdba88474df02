// MemoryLink: frames cross in both directions intact and in order, the queue bound holds, and
// each end's eventfd is readable exactly while frames wait for it — also with the two ends
// driven from different threads.
#include "netdev/memory_link.h"

#include <poll.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace ustack {
namespace {

// A frame whose bytes encode `n`, so the receiver can check content and order.
Packet numbered_frame(std::uint32_t n, std::size_t size = 64) {
  Packet p = Packet::allocate(size);
  std::uint8_t* d = p.put(size);
  for (std::size_t i = 0; i < size; ++i) d[i] = static_cast<std::uint8_t>(n * 31 + i);
  std::memcpy(d, &n, sizeof n);
  return p;
}

std::uint32_t number_of(const Packet& p) {
  std::uint32_t n = 0;
  std::memcpy(&n, p.data(), sizeof n);
  return n;
}

bool readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

TEST(MemoryLink, FramesCrossBothWaysIntactAndInOrder) {
  MemoryLink link;
  NetDevice& a = link.a();
  NetDevice& b = link.b();
  for (std::uint32_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(a.transmit(numbered_frame(i, 60 + i)));
    ASSERT_TRUE(b.transmit(numbered_frame(1000 + i, 60 + i)));
  }

  std::vector<Packet> at_b;
  EXPECT_EQ(b.receive(at_b, 1000), 100u);
  std::vector<Packet> at_a;
  EXPECT_EQ(a.receive(at_a, 1000), 100u);
  ASSERT_EQ(at_b.size(), 100u);
  ASSERT_EQ(at_a.size(), 100u);
  for (std::uint32_t i = 0; i < 100; ++i) {
    Packet sent_to_b = numbered_frame(i, 60 + i);
    ASSERT_EQ(at_b[i].size(), sent_to_b.size());
    EXPECT_EQ(std::memcmp(at_b[i].data(), sent_to_b.data(), sent_to_b.size()), 0) << i;
    EXPECT_EQ(number_of(at_a[i]), 1000 + i);
    EXPECT_GE(at_a[i].headroom(), Packet::kDefaultHeadroom);
    EXPECT_GE(at_b[i].headroom(), Packet::kDefaultHeadroom);
  }
  EXPECT_EQ(a.receive(at_a, 10), 0u);
  EXPECT_EQ(b.receive(at_b, 10), 0u);
}

TEST(MemoryLink, FramesSentWithoutHeadroomArriveWithIt) {
  MemoryLink link;
  Packet p = Packet::allocate(20, 0);
  std::memset(p.put(20), 0xab, 20);
  p.link_broadcast = true;
  ASSERT_TRUE(link.a().transmit(std::move(p)));
  std::vector<Packet> out;
  ASSERT_EQ(link.b().receive(out, 1), 1u);
  EXPECT_EQ(out[0].size(), 20u);
  EXPECT_EQ(out[0].data()[19], 0xab);
  EXPECT_GE(out[0].headroom(), Packet::kDefaultHeadroom);
  EXPECT_FALSE(out[0].link_broadcast);
}

TEST(MemoryLink, ReceiveTakesAtMostMax) {
  MemoryLink link;
  for (std::uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(link.a().transmit(numbered_frame(i)));
  std::vector<Packet> out;
  EXPECT_EQ(link.b().receive(out, 2), 2u);
  EXPECT_EQ(link.b().receive(out, 2), 2u);
  EXPECT_EQ(link.b().receive(out, 2), 1u);
  ASSERT_EQ(out.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(number_of(out[i]), i);
}

TEST(MemoryLink, QueueBoundRefusesFramesUntilDrained) {
  MemoryLink link(1500, 8);
  for (std::uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(link.a().transmit(numbered_frame(i)));
  EXPECT_FALSE(link.a().transmit(numbered_frame(8)));
  // The other direction has its own bound.
  EXPECT_TRUE(link.b().transmit(numbered_frame(100)));

  std::vector<Packet> out;
  ASSERT_EQ(link.b().receive(out, 1), 1u);
  EXPECT_TRUE(link.a().transmit(numbered_frame(9)));
  EXPECT_FALSE(link.a().transmit(numbered_frame(10)));
  EXPECT_EQ(link.b().receive(out, 100), 8u);
  ASSERT_EQ(out.size(), 9u);
  EXPECT_EQ(number_of(out.back()), 9u);
}

TEST(MemoryLink, DefaultQueueBound) {
  MemoryLink link;
  std::size_t taken = 0;
  for (std::uint32_t i = 0; i < MemoryLink::kDefaultQueueLimit + 10; ++i) {
    if (link.a().transmit(numbered_frame(i, 14))) ++taken;
  }
  EXPECT_EQ(taken, MemoryLink::kDefaultQueueLimit);
}

TEST(MemoryLink, MtuAndNames) {
  MemoryLink link(9000);
  EXPECT_EQ(link.a().mtu(), 9000u);
  EXPECT_EQ(link.b().mtu(), 9000u);
  EXPECT_NE(link.a().name(), link.b().name());
  EXPECT_EQ(link.a().next_deadline(), kNever);
  EXPECT_EQ(MemoryLink().a().mtu(), 1500u);
}

TEST(MemoryLink, EventFdReadableExactlyWhileFramesWait) {
  MemoryLink link;
  NetDevice& a = link.a();
  NetDevice& b = link.b();
  ASSERT_GE(a.fd(), 0);
  ASSERT_GE(b.fd(), 0);
  EXPECT_NE(a.fd(), b.fd());
  EXPECT_FALSE(readable(a.fd()));
  EXPECT_FALSE(readable(b.fd()));

  ASSERT_TRUE(a.transmit(numbered_frame(1)));
  ASSERT_TRUE(a.transmit(numbered_frame(2)));
  EXPECT_TRUE(readable(b.fd()));
  EXPECT_FALSE(readable(a.fd()));

  std::vector<Packet> out;
  ASSERT_EQ(b.receive(out, 1), 1u);
  EXPECT_TRUE(readable(b.fd())) << "one frame still waits";
  ASSERT_EQ(b.receive(out, 1), 1u);
  EXPECT_FALSE(readable(b.fd())) << "drained";
  EXPECT_EQ(b.receive(out, 1), 0u);
  EXPECT_FALSE(readable(b.fd()));

  // And again after being drained once.
  ASSERT_TRUE(a.transmit(numbered_frame(3)));
  EXPECT_TRUE(readable(b.fd()));
  ASSERT_EQ(b.receive(out, 8), 1u);
  EXPECT_FALSE(readable(b.fd()));
}

TEST(MemoryLink, TwoThreadsDeliverEverythingInOrder) {
  constexpr std::uint32_t kFrames = 20000;
  MemoryLink link(1500, 64);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::atomic<bool> producer_ok{true};

  std::thread producer([&] {
    for (std::uint32_t i = 0; i < kFrames; ++i) {
      // Bounded retries: the consumer drains the queue, so a full queue is temporary.
      while (!link.a().transmit(numbered_frame(i, 60))) {
        if (std::chrono::steady_clock::now() > give_up) {
          producer_ok = false;
          return;
        }
        std::this_thread::yield();
      }
    }
  });

  std::vector<Packet> out;
  std::uint32_t expected = 0;
  bool in_order = true;
  while (expected < kFrames && std::chrono::steady_clock::now() < give_up) {
    pollfd pfd{link.b().fd(), POLLIN, 0};
    ::poll(&pfd, 1, 100);
    out.clear();
    link.b().receive(out, 32);
    for (const Packet& p : out) {
      if (number_of(p) != expected) in_order = false;
      ++expected;
    }
  }
  producer.join();
  EXPECT_TRUE(producer_ok);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expected, kFrames);
  EXPECT_FALSE(readable(link.b().fd()));
}

}  // namespace
}  // namespace ustack
