// RingStoragePool: rings that SendBuffer and ReceiveBuffer give back are handed to the next
// buffer of the same size, within a byte bound.
#include "stack/tcp/ring_storage_pool.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "stack/tcp/receive_buffer.h"
#include "stack/tcp/send_buffer.h"

namespace ustack::tcp {
namespace {

TEST(RingStoragePool, GivesBackWhatWasGivenForTheSameSize) {
  RingStoragePool pool(1 << 20);
  auto a = pool.take(4096);
  std::uint8_t* const raw = a.get();
  pool.give(std::move(a), 4096);
  EXPECT_EQ(pool.count(), 1u);
  EXPECT_EQ(pool.bytes(), 4096u);
  auto b = pool.take(4096);
  EXPECT_EQ(b.get(), raw);
  EXPECT_EQ(pool.reused(), 1u);
  EXPECT_EQ(pool.count(), 0u);
  EXPECT_EQ(pool.bytes(), 0u);
}

TEST(RingStoragePool, OtherSizesGetNewStorage) {
  RingStoragePool pool(1 << 20);
  pool.give(pool.take(4096), 4096);
  auto b = pool.take(8192);
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(pool.reused(), 0u);
  EXPECT_EQ(pool.count(), 1u);  // the 4096-byte ring is still kept
}

TEST(RingStoragePool, KeepsNoMoreThanItsBound) {
  RingStoragePool pool(10000);
  auto x = pool.take(4096);
  auto y = pool.take(4096);
  auto z = pool.take(4096);
  pool.give(std::move(x), 4096);
  pool.give(std::move(y), 4096);
  pool.give(std::move(z), 4096);  // 12288 > 10000: freed instead
  EXPECT_EQ(pool.count(), 2u);
  EXPECT_EQ(pool.bytes(), 8192u);
}

TEST(RingStoragePool, NullAndEmptyAreIgnored) {
  RingStoragePool pool(1 << 20);
  pool.give(nullptr, 4096);
  pool.give(pool.take(16), 0);
  EXPECT_EQ(pool.count(), 0u);
}

TEST(RingStoragePool, SendBufferReusesItsReleasedRing) {
  RingStoragePool pool(1 << 20);
  SendBuffer buffer(4096);
  const std::array<std::uint8_t, 3> data{1, 2, 3};
  ASSERT_EQ(buffer.append(data, &pool), 3u);
  buffer.release(&pool);  // not empty: kept
  EXPECT_TRUE(buffer.has_storage());
  EXPECT_EQ(pool.count(), 0u);
  buffer.consume(3);
  buffer.release(&pool);
  EXPECT_FALSE(buffer.has_storage());
  EXPECT_EQ(pool.count(), 1u);

  SendBuffer other(4096);
  ASSERT_EQ(other.append(data, &pool), 3u);
  EXPECT_EQ(pool.reused(), 1u);
  std::array<std::uint8_t, 3> out{};
  other.copy_out(0, out);
  EXPECT_EQ(out, data);
}

TEST(RingStoragePool, ReceiveBufferReusesItsReleasedRing) {
  RingStoragePool pool(1 << 20);
  ReceiveBuffer buffer(4096);
  const std::array<std::uint8_t, 4> data{9, 8, 7, 6};
  EXPECT_EQ(buffer.insert(0, data, &pool).stored, 4u);
  std::array<std::uint8_t, 4> out{};
  ASSERT_EQ(buffer.read(out), 4u);
  buffer.release(&pool);
  EXPECT_FALSE(buffer.has_storage());
  EXPECT_EQ(pool.count(), 1u);

  // A ring from the pool holds stale bytes: only what is inserted may be read back.
  ReceiveBuffer other(4096);
  const std::array<std::uint8_t, 2> next{5, 4};
  EXPECT_EQ(other.insert(0, next, &pool).stored, 2u);
  EXPECT_EQ(pool.reused(), 1u);
  std::array<std::uint8_t, 4> got{};
  EXPECT_EQ(other.read(got), 2u);
  EXPECT_EQ(got[0], 5);
  EXPECT_EQ(got[1], 4);
}

TEST(RingStoragePool, ReceiveBufferHoldingOutOfOrderDataKeepsItsRing) {
  RingStoragePool pool(1 << 20);
  ReceiveBuffer buffer(4096);
  const std::array<std::uint8_t, 2> data{1, 2};
  EXPECT_EQ(buffer.insert(100, data, &pool).stored, 2u);  // out of order
  buffer.release(&pool);
  EXPECT_TRUE(buffer.has_storage());
  EXPECT_EQ(pool.count(), 0u);
}

}  // namespace
}  // namespace ustack::tcp
