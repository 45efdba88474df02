// TCP send buffer: a ring of SO_SNDBUF bytes between the application's send() and SND.UNA.
// Wrap-around, partial appends when full, capacity changes with data held, the lazy storage and
// release(), and long seeded random runs checked against a std::deque model.
#include "stack/tcp/send_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace ustack::tcp {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Bytes first, first + 1, ... (mod 256): any misplaced byte shows.
Bytes pattern(std::size_t n, std::uint8_t first = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(first + i);
  return b;
}

Bytes contents(const SendBuffer& buf, std::size_t offset = 0) {
  Bytes out(buf.size() - offset);
  buf.copy_out(offset, out);
  return out;
}

TEST(SendBuffer, StartsEmptyWithoutStorage) {
  SendBuffer buf(100);
  EXPECT_EQ(buf.capacity(), 100u);
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_EQ(buf.free(), 100u);
  EXPECT_TRUE(buf.empty());
  EXPECT_FALSE(buf.has_storage());
}

TEST(SendBuffer, ZeroCapacityTakesNothingAndAllocatesNothing) {
  SendBuffer buf;
  EXPECT_EQ(buf.append(pattern(10)), 0u);
  EXPECT_TRUE(buf.empty());
  EXPECT_FALSE(buf.has_storage());
}

TEST(SendBuffer, EmptyAppendAllocatesNothing) {
  SendBuffer buf(100);
  EXPECT_EQ(buf.append({}), 0u);
  EXPECT_FALSE(buf.has_storage());
}

TEST(SendBuffer, AppendCopyOutConsume) {
  SendBuffer buf(100);
  EXPECT_EQ(buf.append(pattern(40)), 40u);
  EXPECT_TRUE(buf.has_storage());
  EXPECT_EQ(buf.size(), 40u);
  EXPECT_EQ(buf.free(), 60u);
  EXPECT_EQ(contents(buf), pattern(40));
  EXPECT_EQ(contents(buf, 10), pattern(30, 10));

  Bytes middle(5);
  buf.copy_out(20, middle);
  EXPECT_EQ(middle, pattern(5, 20));
  buf.copy_out(40, std::span<std::uint8_t>());  // an empty copy at the end is allowed

  buf.consume(15);
  EXPECT_EQ(buf.size(), 25u);
  EXPECT_EQ(contents(buf), pattern(25, 15));
  buf.consume(0);
  EXPECT_EQ(buf.size(), 25u);
  buf.consume(25);
  EXPECT_TRUE(buf.empty());
  EXPECT_TRUE(buf.has_storage());  // kept until release()
}

TEST(SendBuffer, PartialAppendWhenFull) {
  struct Case {
    std::size_t capacity, first, second, taken;
  };
  const Case cases[] = {
      {100, 0, 150, 100}, {100, 60, 60, 40}, {100, 100, 1, 0}, {100, 99, 5, 1}, {1, 0, 3, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "capacity " << c.capacity << " first " << c.first << " second " << c.second);
    SendBuffer buf(c.capacity);
    ASSERT_EQ(buf.append(pattern(c.first)), c.first);
    EXPECT_EQ(buf.append(pattern(c.second, static_cast<std::uint8_t>(c.first))), c.taken);
    EXPECT_EQ(buf.size(), c.first + c.taken);
    EXPECT_EQ(contents(buf), pattern(c.first + c.taken));
  }
}

TEST(SendBuffer, WrapsAroundTheEnd) {
  SendBuffer buf(10);
  ASSERT_EQ(buf.append(pattern(8)), 8u);
  buf.consume(6);  // front at index 6, 2 bytes held
  // 8 more bytes: 2 fit before the end of the storage, 6 wrap to its start.
  ASSERT_EQ(buf.append(pattern(8, 8)), 8u);
  EXPECT_EQ(buf.size(), 10u);
  EXPECT_EQ(buf.free(), 0u);
  EXPECT_EQ(contents(buf), pattern(10, 6));
  // Reads that start before the end and cross it, start exactly at it, or start after it.
  for (std::size_t offset = 0; offset < 10; ++offset) {
    for (std::size_t n = 0; offset + n <= 10; ++n) {
      Bytes out(n);
      buf.copy_out(offset, out);
      EXPECT_EQ(out, pattern(n, static_cast<std::uint8_t>(6 + offset)))
          << "offset " << offset << " n " << n;
    }
  }
  buf.consume(7);  // front wraps past the end
  EXPECT_EQ(contents(buf), pattern(3, 13));
  ASSERT_EQ(buf.append(pattern(7, 16)), 7u);
  EXPECT_EQ(contents(buf), pattern(10, 13));
}

TEST(SendBuffer, GrowingKeepsTheBytesInOrder) {
  SendBuffer buf(10);
  buf.append(pattern(10));
  buf.consume(7);
  buf.append(pattern(7, 10));  // wrapped: 3 at the end of the storage, 7 at its start
  buf.set_capacity(25);
  EXPECT_EQ(buf.capacity(), 25u);
  EXPECT_EQ(buf.size(), 10u);
  EXPECT_EQ(buf.free(), 15u);
  EXPECT_EQ(contents(buf), pattern(10, 7));
  EXPECT_EQ(buf.append(pattern(20, 17)), 15u);
  EXPECT_EQ(contents(buf), pattern(25, 7));
}

TEST(SendBuffer, ShrinkingNeverDropsBytes) {
  SendBuffer buf(100);
  buf.append(pattern(60));
  buf.consume(50);
  buf.append(pattern(70, 60));  // 80 held, wrapped
  buf.set_capacity(30);         // below size(): clamped to it
  EXPECT_EQ(buf.capacity(), 80u);
  EXPECT_EQ(buf.free(), 0u);
  EXPECT_EQ(contents(buf), pattern(80, 50));
  buf.consume(30);
  buf.set_capacity(30);
  EXPECT_EQ(buf.capacity(), 50u);
  EXPECT_EQ(contents(buf), pattern(50, 80));
  buf.consume(50);
  buf.set_capacity(30);
  EXPECT_EQ(buf.capacity(), 30u);
  EXPECT_EQ(buf.append(pattern(40)), 30u);
  EXPECT_EQ(contents(buf), pattern(30));
}

TEST(SendBuffer, CapacityChangeWhileEmptyAllocatesLazily) {
  SendBuffer buf(10);
  buf.append(pattern(4));
  buf.consume(4);
  ASSERT_TRUE(buf.has_storage());
  buf.set_capacity(50);
  EXPECT_FALSE(buf.has_storage());
  EXPECT_EQ(buf.capacity(), 50u);
  EXPECT_EQ(buf.append(pattern(60)), 50u);
  EXPECT_EQ(contents(buf), pattern(50));

  SendBuffer idle(0);
  idle.set_capacity(8);
  EXPECT_FALSE(idle.has_storage());
  EXPECT_EQ(idle.append(pattern(9)), 8u);
}

TEST(SendBuffer, SameCapacityKeepsStorage) {
  SendBuffer buf(10);
  buf.append(pattern(3));
  buf.set_capacity(10);
  EXPECT_TRUE(buf.has_storage());
  EXPECT_EQ(contents(buf), pattern(3));
}

TEST(SendBuffer, ReleaseOnlyWhenEmpty) {
  SendBuffer buf(16);
  buf.append(pattern(5));
  buf.release();
  EXPECT_TRUE(buf.has_storage());
  EXPECT_EQ(contents(buf), pattern(5));
  buf.consume(5);
  buf.release();
  EXPECT_FALSE(buf.has_storage());
  EXPECT_EQ(buf.capacity(), 16u);
  EXPECT_EQ(buf.free(), 16u);
  // The next append allocates again, at the capacity.
  EXPECT_EQ(buf.append(pattern(20, 3)), 16u);
  EXPECT_TRUE(buf.has_storage());
  EXPECT_EQ(contents(buf), pattern(16, 3));
  buf.release();
  EXPECT_TRUE(buf.has_storage());
}

// A long seeded run of random appends, reads, consumes, capacity changes and releases, checked
// after every step against a deque holding the same bytes.
TEST(SendBuffer, MatchesADequeModel) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    const auto below = [&](std::size_t n) {
      return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };
    std::size_t capacity = 1 + below(300);
    SendBuffer buf(capacity);
    std::deque<std::uint8_t> model;
    std::uint8_t next = 0;
    for (int step = 0; step < 3000; ++step) {
      switch (below(10)) {
        case 0:
        case 1:
        case 2:
        case 3: {
          const Bytes data = pattern(below(capacity + 20), next);
          const std::size_t expect = std::min(data.size(), capacity - model.size());
          ASSERT_EQ(buf.append(data), expect);
          model.insert(model.end(), data.begin(), data.begin() + static_cast<long>(expect));
          next = static_cast<std::uint8_t>(next + expect);
          break;
        }
        case 4:
        case 5:
        case 6: {
          const std::size_t n = below(model.size() + 1);
          buf.consume(n);
          model.erase(model.begin(), model.begin() + static_cast<long>(n));
          break;
        }
        case 7:
        case 8: {
          const std::size_t offset = below(model.size() + 1);
          Bytes out(below(model.size() - offset + 1));
          buf.copy_out(offset, out);
          ASSERT_TRUE(
              std::equal(out.begin(), out.end(), model.begin() + static_cast<long>(offset)));
          break;
        }
        default:
          if (below(2) == 0) {
            const std::size_t wanted = below(400);
            buf.set_capacity(wanted);
            capacity = std::max(wanted, model.size());
          } else {
            buf.release();
            if (model.empty()) {
              ASSERT_FALSE(buf.has_storage());
            }
          }
          break;
      }
      ASSERT_EQ(buf.size(), model.size());
      ASSERT_EQ(buf.capacity(), capacity);
      ASSERT_EQ(buf.free(), capacity - model.size());
      ASSERT_EQ(buf.empty(), model.empty());
      if (!model.empty()) {
        ASSERT_TRUE(buf.has_storage());
      }
    }
    ASSERT_EQ(contents(buf), Bytes(model.begin(), model.end()));
  }
}

}  // namespace
}  // namespace ustack::tcp
