// Packet: one buffer with headroom; push/pull/put/trim/append/clone and their invariants.
#include "stack/base/packet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <thread>
#include <utility>
#include <vector>

#include "stack/base/rng.h"

namespace ustack {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes contents(const Packet& p) {
  return Bytes(p.bytes().begin(), p.bytes().end());
}

// headroom + size + tailroom always account for the whole buffer.
void expect_invariants(const Packet& p) {
  EXPECT_EQ(p.headroom() + p.size() + p.tailroom(), p.capacity());
  EXPECT_EQ(p.empty(), p.size() == 0);
  EXPECT_EQ(p.bytes().size(), p.size());
  EXPECT_EQ(p.bytes().data(), p.data());
}

TEST(Packet, DefaultIsEmpty) {
  Packet p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(p.capacity(), 0u);
  EXPECT_EQ(p.headroom(), 0u);
  EXPECT_EQ(p.tailroom(), 0u);
  EXPECT_FALSE(p.link_broadcast);
  expect_invariants(p);
  Packet c = p.clone();
  EXPECT_TRUE(c.empty());
  expect_invariants(c);
}

TEST(Packet, Allocate) {
  Packet p = Packet::allocate(100);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.headroom(), Packet::kDefaultHeadroom);
  EXPECT_EQ(p.tailroom(), 100u);
  EXPECT_EQ(p.capacity(), Packet::kDefaultHeadroom + 100);
  expect_invariants(p);

  Packet custom = Packet::allocate(10, 3);
  EXPECT_EQ(custom.headroom(), 3u);
  EXPECT_EQ(custom.tailroom(), 10u);
  expect_invariants(custom);

  Packet none = Packet::allocate(0, 0);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.capacity(), 0u);
  expect_invariants(none);

  // A full frame fits in one 2 KiB allocation with the default headroom.
  Packet frame = Packet::allocate(Packet::kFrameCapacity);
  EXPECT_EQ(frame.capacity(), 2048u);
  EXPECT_GE(Packet::kFrameCapacity, 1514u + 12u);
  EXPECT_GE(Packet::kDefaultHeadroom, 14u + 60u + 60u + 12u);
}

TEST(Packet, CopyOf) {
  const Bytes data = {1, 2, 3, 4, 5};
  Packet p = Packet::copy_of(data);
  EXPECT_EQ(contents(p), data);
  EXPECT_EQ(p.headroom(), Packet::kDefaultHeadroom);
  EXPECT_EQ(p.tailroom(), 0u);
  expect_invariants(p);

  Packet q = Packet::copy_of(data, 0);
  EXPECT_EQ(q.headroom(), 0u);
  EXPECT_EQ(contents(q), data);

  Packet e = Packet::copy_of({});
  EXPECT_TRUE(e.empty());
  expect_invariants(e);
}

TEST(Packet, PutAndAppend) {
  Packet p = Packet::allocate(10, 4);
  std::uint8_t* at = p.put(3);
  EXPECT_EQ(at, p.data());
  at[0] = 0xa;
  at[1] = 0xb;
  at[2] = 0xc;
  EXPECT_EQ(p.size(), 3u);
  EXPECT_EQ(p.tailroom(), 7u);
  const Bytes more = {0xd, 0xe};
  p.append(more);
  EXPECT_EQ(contents(p), (Bytes{0xa, 0xb, 0xc, 0xd, 0xe}));
  std::uint8_t* tail = p.put(5);
  EXPECT_EQ(tail, p.data() + 5);
  EXPECT_EQ(p.tailroom(), 0u);
  p.append({});  // appending nothing to a full packet is fine
  EXPECT_EQ(p.size(), 10u);
  EXPECT_EQ(p.headroom(), 4u);
  expect_invariants(p);
}

TEST(Packet, PushPrependsInPlace) {
  // The output path: payload first, then each layer pushes its header in front.
  Packet p = Packet::allocate(4, 34);
  p.append(Bytes{'d', 'a', 't', 'a'});
  const std::uint8_t* payload = p.data();

  std::uint8_t* udp = p.push(8);
  EXPECT_EQ(udp + 8, payload);
  std::fill_n(udp, 8, std::uint8_t{0x11});
  std::uint8_t* ip = p.push(20);
  std::fill_n(ip, 20, std::uint8_t{0x44});
  std::uint8_t* eth = p.push(6);
  std::fill_n(eth, 6, std::uint8_t{0xee});
  EXPECT_EQ(p.headroom(), 0u);
  EXPECT_EQ(p.size(), 38u);
  EXPECT_EQ(p.data(), eth);
  expect_invariants(p);

  Bytes expected(6, 0xee);
  expected.insert(expected.end(), 20, 0x44);
  expected.insert(expected.end(), 8, 0x11);
  expected.insert(expected.end(), {'d', 'a', 't', 'a'});
  EXPECT_EQ(contents(p), expected);
}

TEST(Packet, PullThenPushRestoresHeaders) {
  // The input path: pull headers off; pushing the same amount back exposes the same bytes.
  Bytes frame(64);
  std::iota(frame.begin(), frame.end(), std::uint8_t{0});
  Packet p = Packet::copy_of(frame, 16);
  p.pull(14);
  EXPECT_EQ(p.data()[0], 14);
  EXPECT_EQ(p.headroom(), 30u);
  p.pull(20);
  EXPECT_EQ(p.size(), 30u);
  EXPECT_EQ(p.data()[0], 34);
  expect_invariants(p);
  p.push(34);
  EXPECT_EQ(contents(p), frame);
  p.pull(p.size());
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.headroom(), 16u + 64u);
  expect_invariants(p);
  p.pull(0);
  EXPECT_TRUE(p.empty());
}

TEST(Packet, Trim) {
  Bytes frame(60, 0);
  std::iota(frame.begin(), frame.end(), std::uint8_t{0});
  Packet p = Packet::copy_of(frame);
  p.trim(100);  // longer: no-op
  EXPECT_EQ(p.size(), 60u);
  p.trim(60);  // equal: no-op
  EXPECT_EQ(p.size(), 60u);
  p.trim(42);  // strip Ethernet padding
  EXPECT_EQ(p.size(), 42u);
  EXPECT_EQ(p.tailroom(), 18u);
  EXPECT_EQ(contents(p), Bytes(frame.begin(), frame.begin() + 42));
  expect_invariants(p);
  // Trim is relative to the current front.
  p.pull(14);
  p.trim(20);
  EXPECT_EQ(p.size(), 20u);
  EXPECT_EQ(p.data()[0], 14);
  EXPECT_EQ(p.data()[19], 33);
  p.trim(0);
  EXPECT_TRUE(p.empty());
  expect_invariants(p);
  // The room freed by trim can be put again.
  p.put(5);
  EXPECT_EQ(p.size(), 5u);
}

TEST(Packet, PushPastHeadroomGrows) {
  // Callers size their headroom, but a shortfall must reallocate, never write out of bounds.
  Packet p = Packet::allocate(4, 2);
  p.append(Bytes{1, 2, 3, 4});
  p.link_broadcast = true;
  std::uint8_t* at = p.push(10);
  EXPECT_EQ(at, p.data());
  std::fill_n(at, 10, std::uint8_t{0xaa});
  Bytes expected(10, 0xaa);
  expected.insert(expected.end(), {1, 2, 3, 4});
  EXPECT_EQ(contents(p), expected);
  EXPECT_TRUE(p.link_broadcast);
  EXPECT_GE(p.headroom(), 2u);  // the old headroom is kept in front, plus some
  expect_invariants(p);
  // And there is room for more headers now.
  std::size_t room = p.headroom();
  p.push(room);
  EXPECT_EQ(p.headroom(), 0u);
  EXPECT_EQ(p.size(), 14 + room);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), p.data() + room));
}

TEST(Packet, PutPastTailroomGrows) {
  Packet p = Packet::allocate(2, 8);
  p.append(Bytes{1, 2});
  EXPECT_EQ(p.tailroom(), 0u);
  p.append(Bytes{3, 4, 5});
  EXPECT_EQ(contents(p), (Bytes{1, 2, 3, 4, 5}));
  EXPECT_GE(p.headroom(), 8u);
  expect_invariants(p);
  std::uint8_t* at = p.put(1000);
  EXPECT_EQ(at, p.data() + 5);
  std::fill_n(at, 1000, std::uint8_t{0x55});
  EXPECT_EQ(p.size(), 1005u);
  EXPECT_EQ(p.data()[4], 5);
  EXPECT_EQ(p.data()[1004], 0x55);
  expect_invariants(p);

  Packet empty;
  empty.append(Bytes{7, 8});
  EXPECT_EQ(contents(empty), (Bytes{7, 8}));
  expect_invariants(empty);
  Packet front;
  front.push(3)[0] = 9;
  EXPECT_EQ(front.size(), 3u);
  EXPECT_EQ(front.data()[0], 9);
  expect_invariants(front);
}

TEST(Packet, PullPastTheEnd) {
  // A precondition: asserts in debug builds; in release builds it empties the packet rather
  // than moving the front past the end.
  Packet p = Packet::copy_of(Bytes{1, 2, 3});
  EXPECT_DEBUG_DEATH(p.pull(4), "");
#ifdef NDEBUG
  EXPECT_TRUE(p.empty());
  expect_invariants(p);
#endif
}

TEST(Packet, CloneIsDeep) {
  Packet p = Packet::allocate(100, 40);
  p.append(Bytes{1, 2, 3, 4, 5, 6});
  p.pull(2);
  p.link_broadcast = true;

  Packet c = p.clone();
  EXPECT_EQ(contents(c), contents(p));
  EXPECT_EQ(c.headroom(), p.headroom());
  EXPECT_EQ(c.tailroom(), p.tailroom());
  EXPECT_EQ(c.capacity(), p.capacity());
  EXPECT_TRUE(c.link_broadcast);
  EXPECT_NE(c.data(), p.data());
  expect_invariants(c);

  c.data()[0] = 0xff;
  c.push(2);
  c.put(3);
  EXPECT_EQ(contents(p), (Bytes{3, 4, 5, 6}));
  EXPECT_EQ(p.headroom(), 42u);
}

TEST(Packet, MoveLeavesAnEmptyPacket) {
  Packet p = Packet::copy_of(Bytes{1, 2, 3});
  p.link_broadcast = true;
  const std::uint8_t* data = p.data();

  Packet q(std::move(p));
  EXPECT_EQ(q.data(), data);
  EXPECT_EQ(contents(q), (Bytes{1, 2, 3}));
  EXPECT_TRUE(q.link_broadcast);
  // The moved-from packet must not claim bytes it no longer owns.
  EXPECT_TRUE(p.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(p.capacity(), 0u);
  EXPECT_EQ(p.headroom(), 0u);
  EXPECT_EQ(p.tailroom(), 0u);
  expect_invariants(p);
  EXPECT_TRUE(p.clone().empty());

  Packet r = Packet::allocate(8);
  r = std::move(q);
  EXPECT_EQ(contents(r), (Bytes{1, 2, 3}));
  EXPECT_TRUE(q.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(q.capacity(), 0u);
  expect_invariants(q);

  // A moved-from packet is reusable by assignment.
  q = Packet::copy_of(Bytes{9});
  EXPECT_EQ(contents(q), Bytes{9});

  // Self-move keeps the contents.
  Packet& alias = r;
  r = std::move(alias);
  EXPECT_EQ(contents(r), (Bytes{1, 2, 3}));
}

TEST(Packet, RandomOperationsKeepInvariants) {
  // A model: the packet's bytes must always equal a plain vector edited the same way.
  Rng rng(2048);
  for (int round = 0; round < 200; ++round) {
    std::size_t headroom = rng.below(64);
    std::size_t room = rng.below(256);
    Packet p = Packet::allocate(room, headroom);
    Bytes model;
    for (int step = 0; step < 200; ++step) {
      switch (rng.below(5)) {
        case 0: {  // push
          std::size_t n = rng.below(p.headroom() + 1);
          std::uint8_t* at = p.push(n);
          Bytes fresh(n);
          for (auto& b : fresh) b = static_cast<std::uint8_t>(rng.next_u32());
          std::copy(fresh.begin(), fresh.end(), at);
          model.insert(model.begin(), fresh.begin(), fresh.end());
          break;
        }
        case 1: {  // pull
          std::size_t n = rng.below(p.size() + 1);
          p.pull(n);
          model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
          break;
        }
        case 2: {  // append
          Bytes fresh(rng.below(p.tailroom() + 1));
          for (auto& b : fresh) b = static_cast<std::uint8_t>(rng.next_u32());
          p.append(fresh);
          model.insert(model.end(), fresh.begin(), fresh.end());
          break;
        }
        case 3: {  // trim
          std::size_t n = rng.below(p.size() + 10);
          p.trim(n);
          if (n < model.size()) model.resize(n);
          break;
        }
        default: {  // clone and carry on with the copy
          Packet c = p.clone();
          p = std::move(c);
          break;
        }
      }
      ASSERT_EQ(contents(p), model) << round << " " << step;
      ASSERT_EQ(p.capacity(), headroom + room);
      ASSERT_EQ(p.headroom() + p.size() + p.tailroom(), p.capacity());
    }
  }
}

TEST(Packet, RandomGrowthKeepsContents) {
  // As above, but pushes and puts often exceed the room left.
  Rng rng(4096);
  for (int round = 0; round < 200; ++round) {
    Packet p = Packet::allocate(rng.below(32), rng.below(32));
    Bytes model;
    for (int step = 0; step < 50; ++step) {
      Bytes fresh(rng.below(300));
      for (auto& b : fresh) b = static_cast<std::uint8_t>(rng.next_u32());
      if (rng.chance(0.5)) {
        std::uint8_t* at = p.push(fresh.size());
        if (!fresh.empty()) std::copy(fresh.begin(), fresh.end(), at);
        model.insert(model.begin(), fresh.begin(), fresh.end());
      } else {
        p.append(fresh);
        model.insert(model.end(), fresh.begin(), fresh.end());
      }
      if (rng.chance(0.3)) {
        std::size_t n = rng.below(p.size() + 1);
        p.pull(n);
        model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
      }
      ASSERT_EQ(contents(p), model) << round << " " << step;
      ASSERT_EQ(p.headroom() + p.size() + p.tailroom(), p.capacity());
    }
  }
}

// Buffers come from a per-thread pool (stack/base/packet.cpp): what a packet gives back, the next
// packet of the same size class gets, without a trip through malloc.
TEST(PacketPool, FreedBufferIsReused) {
  const std::uint8_t* first = nullptr;
  {
    Packet p = Packet::allocate(1400);
    first = p.data() - p.headroom();
  }
  Packet q = Packet::allocate(1000);
  EXPECT_EQ(q.data() - q.headroom(), first);
  // A reused buffer is a fresh packet: the sizes asked for, nothing left of the old one.
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.headroom(), Packet::kDefaultHeadroom);
  EXPECT_EQ(q.capacity(), Packet::kDefaultHeadroom + 1000);
  EXPECT_FALSE(q.link_broadcast);
}

TEST(PacketPool, SizeClassesAndLargeBuffers) {
  // A bare ACK's buffer (small class) is not handed to a full frame, and a buffer larger than
  // any class goes to and from the heap; all of them behave the same.
  for (std::size_t size : {0u, 96u, 97u, 1888u, 1889u, 65536u}) {
    Packet p = Packet::allocate(size);
    EXPECT_EQ(p.capacity(), Packet::kDefaultHeadroom + size);
    std::fill_n(p.put(size), size, std::uint8_t{0x5a});
    EXPECT_EQ(p.tailroom(), 0u);
    EXPECT_EQ(std::count(p.bytes().begin(), p.bytes().end(), 0x5a), static_cast<long>(size));
  }
}

TEST(PacketPool, PacketsCrossThreads) {
  // A packet made on one thread and dropped on another: its buffer joins the dropping thread's
  // pool. Many round trips, in both directions, keep contents intact (run under ASan/TSan too).
  for (int round = 0; round < 50; ++round) {
    std::vector<Packet> made;
    std::thread maker([&] {
      for (int i = 0; i < 64; ++i) {
        Packet p = Packet::allocate(1400);
        std::fill_n(p.put(1400), 1400, static_cast<std::uint8_t>(i));
        made.push_back(std::move(p));
      }
    });
    maker.join();
    for (std::size_t i = 0; i < made.size(); ++i) {
      ASSERT_EQ(made[i].size(), 1400u);
      ASSERT_EQ(made[i].data()[1399], static_cast<std::uint8_t>(i));
    }
    std::vector<Packet> back;
    for (int i = 0; i < 64; ++i) back.push_back(Packet::allocate(1400));
    std::thread dropper([&] {
      made.clear();
      back.clear();
    });
    dropper.join();
  }
}

}  // namespace
}  // namespace ustack
