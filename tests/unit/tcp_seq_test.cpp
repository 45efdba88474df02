// TCP sequence-number arithmetic (RFC 9293 3.4, RFC 1982): comparisons, offsets and the window
// tests across the 2^32 wrap, with ISNs near 0, 2^31 and 2^32, checked against a reference that
// works on unwrapped 64-bit numbers.
#include "stack/tcp/seq.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>

#include "stack/base/rng.h"

namespace ustack::tcp {
inline void PrintTo(Seq s, std::ostream* os) {
  *os << "Seq(" << s.raw() << ")";
}

namespace {

constexpr std::uint32_t kHalf = 0x80000000u;

// Sequence numbers an ISN could start at, chosen around the places where wrap bugs live.
constexpr std::uint32_t kBases[] = {0,          1,          0x7ffffffe, 0x7fffffff, 0x80000000,
                                    0x80000001, 0xfffffc00, 0xfffffffe, 0xffffffff, 12345678};

static_assert(Seq(1) < Seq(2));
static_assert(Seq(0xffffffff) < Seq(0));
static_assert(Seq(0) + 0xffffffffu == Seq(0xffffffff));
static_assert(Seq(5) - Seq(0xfffffffb) == 10);
static_assert(seq_in_window(Seq(2), Seq(0xffffffff), 4));

TEST(Seq, OrdersWithinHalfTheSpace) {
  EXPECT_LT(Seq(100), Seq(200));
  EXPECT_LE(Seq(100), Seq(100));
  EXPECT_GE(Seq(100), Seq(100));
  EXPECT_GT(Seq(200), Seq(100));
  EXPECT_FALSE(Seq(100) < Seq(100));
  EXPECT_FALSE(Seq(100) > Seq(100));
  EXPECT_FALSE(Seq(200) <= Seq(100));
  EXPECT_NE(Seq(1), Seq(2));
}

TEST(Seq, ComparisonsAcrossTheWrap) {
  // 0xffffff00 is before 0x100: 0x200 numbers later, passing through 2^32 = 0.
  const Seq before(0xffffff00), after(0x100);
  EXPECT_LT(before, after);
  EXPECT_LE(before, after);
  EXPECT_GT(after, before);
  EXPECT_GE(after, before);
  EXPECT_FALSE(after < before);
  EXPECT_EQ(after - before, 0x200);
  EXPECT_EQ(before - after, -0x200);
  EXPECT_EQ(before + 0x200u, after);
  EXPECT_EQ(after - 0x200u, before);
  EXPECT_LT(Seq(0xffffffff), Seq(0));
  EXPECT_EQ(Seq(0xffffffff) + 1u, Seq(0));
  Seq s(0xffffffff);
  ++s;
  EXPECT_EQ(s, Seq(0));
  s -= 2;
  EXPECT_EQ(s, Seq(0xfffffffe));
  s += 3;
  EXPECT_EQ(s, Seq(1));
}

TEST(Seq, HalfTheSpaceApartIsTheUndefinedCase) {
  // RFC 1982 3.2: numbers exactly 2^31 apart have no defined order; this implementation calls
  // each one "before" the other, as Linux's before() does. One less and the order is defined.
  const Seq a(10), b(10 + kHalf);
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(b < a);
  const Seq c(10 + kHalf - 1);
  EXPECT_TRUE(a < c);
  EXPECT_FALSE(c < a);
  EXPECT_EQ(c - a, std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(b - a, std::numeric_limits<std::int32_t>::min());
}

// The reference: for |d| < 2^31, Seq(base + d) compares to Seq(base) as d compares to 0.
TEST(Seq, MatchesUnwrappedArithmeticFromEveryBase) {
  Rng rng(7);
  for (std::uint32_t base : kBases) {
    SCOPED_TRACE(base);
    for (int i = 0; i < 2000; ++i) {
      std::int64_t d = static_cast<std::int64_t>(rng.next_u32() % kHalf);
      if (i % 2 == 1) d = -d;
      if (i < 8) d = std::int64_t{i} - 4;  // also the neighbours of base
      const Seq b(base);
      const Seq x(static_cast<std::uint32_t>(std::int64_t{base} + d));
      ASSERT_EQ(x < b, d < 0) << d;
      ASSERT_EQ(x <= b, d <= 0) << d;
      ASSERT_EQ(x > b, d > 0) << d;
      ASSERT_EQ(x >= b, d >= 0) << d;
      ASSERT_EQ(x == b, d == 0) << d;
      ASSERT_EQ(x - b, d) << d;
      ASSERT_EQ(seq_max(x, b), d < 0 ? b : x);
      ASSERT_EQ(seq_min(x, b), d < 0 ? x : b);
    }
  }
}

TEST(Seq, InRangeIsHalfOpenAndWraps) {
  for (std::uint32_t base : kBases) {
    SCOPED_TRACE(base);
    const Seq left(base), right = Seq(base) + 1000u;
    EXPECT_FALSE(seq_in_range(left, left - 1u, right));
    EXPECT_TRUE(seq_in_range(left, left, right));
    EXPECT_TRUE(seq_in_range(left, right - 1u, right));
    EXPECT_FALSE(seq_in_range(left, right, right));
    EXPECT_FALSE(seq_in_range(left, left + kHalf, right));
    // An empty range holds nothing, not even its edge.
    EXPECT_FALSE(seq_in_range(left, left, left));
    // Ranges longer than 2^31 still work: the test is on unsigned offsets, not on "<".
    const Seq far = left + 0xf0000000u;
    EXPECT_TRUE(seq_in_range(left, left + 0xe0000000u, far));
    EXPECT_FALSE(seq_in_range(left, far, far));
  }
}

TEST(Seq, ClosedRange) {
  for (std::uint32_t base : kBases) {
    SCOPED_TRACE(base);
    const Seq left(base), right = Seq(base) + 10u;
    EXPECT_FALSE(seq_in_closed_range(left, left - 1u, right));
    EXPECT_TRUE(seq_in_closed_range(left, left, right));
    EXPECT_TRUE(seq_in_closed_range(left, right, right));
    EXPECT_FALSE(seq_in_closed_range(left, right + 1u, right));
    EXPECT_TRUE(seq_in_closed_range(left, left, left));
    EXPECT_FALSE(seq_in_closed_range(left, left + 1u, left));
    // The documented trap: right one before left is the whole space.
    EXPECT_TRUE(seq_in_closed_range(left, left + kHalf, left - 1u));
  }
}

TEST(Seq, OpenClosedRangeIsTheAckAcceptabilityTest) {
  // RFC 9293 3.10.7.4: SND.UNA < SEG.ACK =< SND.NXT.
  for (std::uint32_t base : kBases) {
    SCOPED_TRACE(base);
    const Seq una(base), nxt = Seq(base) + 500u;
    auto acceptable = [&](Seq ack) { return seq_in_open_closed_range(una, ack, nxt); };
    EXPECT_FALSE(acceptable(una - 1u));
    EXPECT_FALSE(acceptable(una));
    EXPECT_TRUE(acceptable(una + 1u));
    EXPECT_TRUE(acceptable(nxt));
    EXPECT_FALSE(acceptable(nxt + 1u));
    EXPECT_FALSE(acceptable(una + kHalf));
    // Nothing outstanding (una == nxt): no ACK acknowledges anything new.
    for (std::uint32_t d : {0u, 1u, 2u, kHalf, 0xffffffffu}) {
      EXPECT_FALSE(seq_in_open_closed_range(una, una + d, una)) << d;
    }
  }
}

TEST(Seq, InWindow) {
  for (std::uint32_t base : kBases) {
    SCOPED_TRACE(base);
    const Seq start(base);
    EXPECT_FALSE(seq_in_window(start, start, 0));
    EXPECT_TRUE(seq_in_window(start, start, 1));
    EXPECT_FALSE(seq_in_window(start + 1u, start, 1));
    EXPECT_TRUE(seq_in_window(start + 65534u, start, 65535));
    EXPECT_FALSE(seq_in_window(start + 65535u, start, 65535));
    EXPECT_FALSE(seq_in_window(start - 1u, start, 65535));
    // The largest scaled window, 65535 << 14.
    constexpr std::uint32_t kMax = 65535u << 14;
    EXPECT_TRUE(seq_in_window(start + (kMax - 1), start, kMax));
    EXPECT_FALSE(seq_in_window(start + kMax, start, kMax));
  }
}

// RFC 9293 3.10.7.4's table at the four positions of the checklist: RCV.NXT-1, RCV.NXT,
// RCV.NXT+WND-1 and RCV.NXT+WND, from each base.
TEST(Seq, SegmentAcceptabilityTable) {
  for (std::uint32_t base : kBases) {
    SCOPED_TRACE(base);
    const Seq nxt(base);
    constexpr std::uint32_t wnd = 1000;
    // Zero length, zero window: only exactly RCV.NXT.
    EXPECT_FALSE(segment_acceptable(nxt - 1u, 0, nxt, 0));
    EXPECT_TRUE(segment_acceptable(nxt, 0, nxt, 0));
    EXPECT_FALSE(segment_acceptable(nxt + 1u, 0, nxt, 0));
    // Zero length, open window: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND.
    EXPECT_FALSE(segment_acceptable(nxt - 1u, 0, nxt, wnd));
    EXPECT_TRUE(segment_acceptable(nxt, 0, nxt, wnd));
    EXPECT_TRUE(segment_acceptable(nxt + (wnd - 1), 0, nxt, wnd));
    EXPECT_FALSE(segment_acceptable(nxt + wnd, 0, nxt, wnd));
    // Data, zero window: never (the receiver still processes ACK/URG/RST, not this test's job).
    EXPECT_FALSE(segment_acceptable(nxt, 1, nxt, 0));
    EXPECT_FALSE(segment_acceptable(nxt - 1u, 2, nxt, 0));
    // Data, open window: its first or its last byte in the window.
    EXPECT_FALSE(segment_acceptable(nxt - 1u, 1, nxt, wnd));  // entirely old
    EXPECT_TRUE(segment_acceptable(nxt - 1u, 2, nxt, wnd));   // last byte is RCV.NXT
    EXPECT_TRUE(segment_acceptable(nxt, 1, nxt, wnd));
    EXPECT_TRUE(segment_acceptable(nxt + (wnd - 1), 1, nxt, wnd));
    EXPECT_TRUE(segment_acceptable(nxt + (wnd - 1), 500, nxt, wnd));  // starts in the window
    EXPECT_FALSE(segment_acceptable(nxt + wnd, 1, nxt, wnd));
    EXPECT_FALSE(segment_acceptable(nxt - 100u, 100, nxt, wnd));  // ends at RCV.NXT-1
    EXPECT_TRUE(segment_acceptable(nxt - 100u, 101, nxt, wnd));
    // Covering the whole window from before it: the first byte is old and the last one past the
    // window, so RFC 9293's two tests both fail (receivers trim such segments only if one holds).
    EXPECT_FALSE(segment_acceptable(nxt - 1u, wnd + 2, nxt, wnd));
  }
}

TEST(Seq, Formats) {
  EXPECT_EQ(fmt::format("{}", Seq(0)), "0");
  EXPECT_EQ(fmt::format("{}", Seq(0xffffffff)), "4294967295");
  EXPECT_EQ(fmt::format("seq {}", Seq(1) - 2u), "seq 4294967295");
}

}  // namespace
}  // namespace ustack::tcp
