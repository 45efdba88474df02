// SACK scoreboard (RFC 2018, RFC 6675 section 4): block validation (CHECKLISTS "TCP"),
// merging, the bound, SND.UNA advancing, and the loss-recovery questions IsLost, SetPipe and
// NextSeg rule 1 on RFC 6675-style scenarios. Every test runs at several bases for SND.UNA,
// among them just below 2^31 and 2^32, so that the ranges cross the wrap.
#include "stack/tcp/sack_scoreboard.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <vector>

namespace ustack::tcp {
inline void PrintTo(Seq s, std::ostream* os) {
  *os << "Seq(" << s.raw() << ")";
}

namespace {

constexpr std::uint32_t kSmss = 1000;

class SackScoreboardTest : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  // Sequence number `offset` bytes after the base (SND.UNA in most tests).
  Seq s(std::uint32_t offset) const { return Seq(GetParam()) + offset; }
  wire::SackBlock block(std::uint32_t left, std::uint32_t right) const {
    return {s(left), s(right)};
  }
  // The scoreboard's ranges as offsets from the base.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges() const {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
    for (std::size_t i = 0; i < sb.size(); ++i) {
      out.emplace_back(seq_offset(s(0), sb.range(i).left), seq_offset(s(0), sb.range(i).right));
    }
    return out;
  }
  // Updates with SND.UNA at the base and SND.NXT at base + 10000 unless told otherwise.
  bool update(std::vector<wire::SackBlock> blocks, std::size_t* ignored = nullptr,
              std::uint32_t una = 0, std::uint32_t nxt = 10000) {
    return sb.update(blocks, s(una), s(nxt), ignored);
  }

  SackScoreboard sb;
};

using Ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

INSTANTIATE_TEST_SUITE_P(Bases, SackScoreboardTest,
                         ::testing::Values(0u, 1u, 12345678u, 0x7fffec00u, 0x7fffffffu, 0xffffec00u,
                                           0xffffe000u, 0xfffffc18u, 0xffffffffu));

// One block at a time with SND.UNA = 1000 and SND.NXT = 10000 (offsets from the base).
TEST_P(SackScoreboardTest, ValidatesEachBlock) {
  struct Case {
    const char* what;
    std::uint32_t left, right;
    bool used;
    Ranges after;
  };
  const Case cases[] = {
      {"inside", 2000, 3000, true, {{2000, 3000}}},
      {"at SND.UNA", 1000, 1500, true, {{1000, 1500}}},
      {"up to SND.NXT", 9000, 10000, true, {{9000, 10000}}},
      {"all of the flight", 1000, 10000, true, {{1000, 10000}}},
      {"one byte", 1000, 1001, true, {{1000, 1001}}},
      {"straddles SND.UNA: clipped", 500, 1500, true, {{1000, 1500}}},
      {"left == right", 3000, 3000, false, {}},
      {"left > right", 3000, 2000, false, {}},
      {"right past SND.NXT", 9000, 10001, false, {}},
      {"all past SND.NXT", 11000, 12000, false, {}},
      {"right == SND.UNA (stale or D-SACK)", 500, 1000, false, {}},
      {"below SND.UNA", 100, 900, false, {}},
      {"2^31 long", 1000, 1000 + 0x80000000u, false, {}},
      {"left == SND.NXT", 10000, 10001, false, {}},
      {"far away", 0x40000000u, 0x40001000u, false, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    sb.clear();
    std::size_t ignored = 99;
    EXPECT_EQ(update({block(c.left, c.right)}, &ignored, 1000, 10000), c.used);
    EXPECT_EQ(ignored, c.used ? 0u : 1u);
    EXPECT_EQ(ranges(), c.after);
  }
}

TEST_P(SackScoreboardTest, FourBlocksInOneAck) {
  std::size_t ignored = 0;
  EXPECT_TRUE(update({block(7000, 8000), block(3000, 3000), block(1000, 2000), block(9000, 12000)},
                     &ignored));
  EXPECT_EQ(ignored, 2u);
  EXPECT_EQ(ranges(), (Ranges{{1000, 2000}, {7000, 8000}}));
  EXPECT_TRUE(update({block(5000, 6000), block(3000, 4000), block(2000, 3000), block(100, 200)},
                     &ignored, 100));
  EXPECT_EQ(ignored, 0u);
  EXPECT_EQ(ranges(), (Ranges{{100, 200}, {1000, 4000}, {5000, 6000}, {7000, 8000}}));
  // Without a counter, and with no blocks at all.
  EXPECT_FALSE(update({}));
  EXPECT_FALSE(update({block(5, 5)}));
}

TEST_P(SackScoreboardTest, Merges) {
  struct Step {
    std::uint32_t left, right;
    bool news;
    Ranges after;
  };
  const Step steps[] = {
      {4000, 5000, true, {{4000, 5000}}},
      {2000, 3000, true, {{2000, 3000}, {4000, 5000}}},  // below: sorted
      {8000, 9000, true, {{2000, 3000}, {4000, 5000}, {8000, 9000}}},
      {4000, 5000, false, {{2000, 3000}, {4000, 5000}, {8000, 9000}}},  // the same again
      {4200, 4800, false, {{2000, 3000}, {4000, 5000}, {8000, 9000}}},  // inside
      {3000, 3500, true, {{2000, 3500}, {4000, 5000}, {8000, 9000}}},   // adjacent right
      {3900, 4000, true, {{2000, 3500}, {3900, 5000}, {8000, 9000}}},   // adjacent left
      {4500, 6000, true, {{2000, 3500}, {3900, 6000}, {8000, 9000}}},   // overlaps the end
      {3500, 3900, true, {{2000, 6000}, {8000, 9000}}},                 // fills a gap exactly
      {1000, 9500, true, {{1000, 9500}}},                               // covers everything
      {1000, 9500, false, {{1000, 9500}}},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(testing::Message() << step.left << ".." << step.right);
    EXPECT_EQ(update({block(step.left, step.right)}), step.news);
    EXPECT_EQ(ranges(), step.after);
  }
  EXPECT_EQ(sb.sacked_bytes(), 8500u);
}

TEST_P(SackScoreboardTest, BlocksOfOneAckMergeWithEachOther) {
  EXPECT_TRUE(update({block(3000, 4000), block(1000, 2000), block(2000, 3000), block(1500, 3500)}));
  EXPECT_EQ(ranges(), (Ranges{{1000, 4000}}));
}

TEST_P(SackScoreboardTest, AdvanceForgetsWhatIsAcknowledged) {
  update({block(1000, 2000), block(3000, 4000), block(5000, 6000)});
  sb.advance(s(500));
  EXPECT_EQ(ranges(), (Ranges{{1000, 2000}, {3000, 4000}, {5000, 6000}}));
  sb.advance(s(2000));
  EXPECT_EQ(ranges(), (Ranges{{3000, 4000}, {5000, 6000}}));
  sb.advance(s(3500));  // into a range: the part above stays
  EXPECT_EQ(ranges(), (Ranges{{3500, 4000}, {5000, 6000}}));
  // update() forgets too, with the SND.UNA the ACK leaves.
  EXPECT_FALSE(update({block(5000, 6000)}, nullptr, 5500));
  EXPECT_EQ(ranges(), (Ranges{{5500, 6000}}));
  sb.advance(s(10000));
  EXPECT_TRUE(sb.empty());
  EXPECT_EQ(sb.highest_sacked(s(10000)), s(10000));
}

TEST_P(SackScoreboardTest, KeepsTheLowestRangesWhenFull) {
  constexpr std::uint32_t kMax = SackScoreboard::kMaxRanges;
  const std::uint32_t nxt = 100 * (kMax + 5);
  for (std::uint32_t k = 1; k <= kMax; ++k) {
    ASSERT_TRUE(update({block(100 * k, 100 * k + 10)}, nullptr, 0, nxt));
  }
  ASSERT_EQ(sb.size(), kMax);
  // A new range above all of them is dropped.
  EXPECT_FALSE(update({block(100 * (kMax + 2), 100 * (kMax + 2) + 10)}, nullptr, 0, nxt));
  EXPECT_EQ(sb.highest_sacked(s(0)), s(100 * kMax + 10));
  // A new range below the highest pushes the highest out.
  EXPECT_TRUE(update({block(50, 60)}, nullptr, 0, nxt));
  EXPECT_EQ(sb.size(), kMax);
  EXPECT_EQ(sb.range(0).left, s(50));
  EXPECT_EQ(sb.highest_sacked(s(0)), s(100 * (kMax - 1) + 10));
  // Extending or merging needs no room.
  EXPECT_TRUE(update({block(60, 100)}, nullptr, 0, nxt));
  EXPECT_EQ(sb.size(), kMax - 1);
  EXPECT_TRUE(update({block(100 * (kMax - 1) + 10, 100 * (kMax - 1) + 20)}, nullptr, 0, nxt));
  EXPECT_EQ(sb.highest_sacked(s(0)), s(100 * (kMax - 1) + 20));
  for (std::size_t i = 1; i < sb.size(); ++i) EXPECT_LT(sb.range(i - 1).right, sb.range(i).left);
}

TEST_P(SackScoreboardTest, Queries) {
  EXPECT_FALSE(sb.is_sacked(s(0)));
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.sacked_bytes_above(s(0)), 0u);
  EXPECT_EQ(sb.highest_sacked(s(0)), s(0));
  update({block(1000, 2000), block(3000, 3500)});
  EXPECT_FALSE(sb.is_sacked(s(999)));
  EXPECT_TRUE(sb.is_sacked(s(1000)));
  EXPECT_TRUE(sb.is_sacked(s(1999)));
  EXPECT_FALSE(sb.is_sacked(s(2000)));
  EXPECT_TRUE(sb.is_sacked(s(3499)));
  EXPECT_FALSE(sb.is_sacked(s(3500)));
  EXPECT_EQ(sb.sacked_bytes(), 1500u);
  struct Above {
    std::uint32_t seq, bytes;
  };
  for (const Above& a : {Above{0, 1500}, Above{1000, 1500}, Above{1001, 1499}, Above{1999, 501},
                         Above{2000, 500}, Above{3200, 300}, Above{3500, 0}, Above{9000, 0}}) {
    EXPECT_EQ(sb.sacked_bytes_above(s(a.seq)), a.bytes) << a.seq;
  }
  EXPECT_EQ(sb.highest_sacked(s(0)), s(3500));
}

// RFC 6675 IsLost: DupThresh (3) discontiguous SACKed ranges above, or more than
// (DupThresh - 1) * SMSS = 2000 bytes SACKed above.
TEST_P(SackScoreboardTest, IsLostThresholds) {
  struct Case {
    const char* what;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sacked;
    std::uint32_t seq;
    bool lost;
  };
  const Case cases[] = {
      {"nothing SACKed", {}, 0, false},
      {"three small ranges above", {{1000, 1100}, {2000, 2100}, {3000, 3100}}, 0, true},
      {"three ranges, just below the first", {{1000, 1100}, {2000, 2100}, {3000, 3100}}, 999, true},
      {"only two ranges above", {{1000, 1100}, {2000, 2100}, {3000, 3100}}, 1100, false},
      // seq itself SACKed (moot for recovery): a range counts when it holds bytes above seq.
      {"inside the first", {{1000, 1100}, {2000, 2100}, {3000, 3100}}, 1050, true},
      {"last byte of the first", {{1000, 1100}, {2000, 2100}, {3000, 3100}}, 1099, false},
      {"exactly 2000 bytes", {{1000, 3000}}, 0, false},
      {"2001 bytes", {{1000, 3001}}, 0, true},
      {"2001 bytes in two ranges", {{1000, 2000}, {3000, 4001}}, 0, true},
      {"1001 bytes above the hole", {{1000, 2000}, {3000, 4001}}, 2000, false},
      {"2001 bytes above, seq SACKed", {{1000, 3002}}, 1000, true},
      {"2000 bytes above, seq SACKed", {{1000, 3002}}, 1001, false},
      {"above everything", {{1000, 1100}, {2000, 2100}, {3000, 3100}}, 3100, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    sb.clear();
    for (const auto& [l, r] : c.sacked) update({block(l, r)});
    EXPECT_EQ(sb.is_lost(s(c.seq), kSmss), c.lost);
  }
  // The byte rule scales with SMSS.
  sb.clear();
  update({block(1000, 3001)});
  EXPECT_FALSE(sb.is_lost(s(0), 1001));
  EXPECT_TRUE(sb.is_lost(s(0), 1000));
}

// SetPipe on ten segments of 1000 bytes in flight (SND.UNA = 0, SND.NXT = 10000).
TEST_P(SackScoreboardTest, PipeOnRfc6675Scenarios) {
  struct Case {
    const char* what;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sacked;
    std::uint32_t high_rxt;
    std::uint32_t pipe;
  };
  const Case cases[] = {
      {"no loss reported", {}, 0, 10000},
      {"first segment lost, three SACKed", {{1000, 4000}}, 0, 6000},
      {"... and retransmitted", {{1000, 4000}}, 1000, 7000},
      {"two SACKed: not yet lost", {{1000, 3000}}, 0, 8000},
      // Holes at 0, 2000 and 4000 with SACKed segments between: only the first has three
      // ranges above it.
      {"three discontiguous", {{1000, 2000}, {3000, 4000}, {5000, 6000}}, 0, 6000},
      {"... first retransmitted", {{1000, 2000}, {3000, 4000}, {5000, 6000}}, 1000, 7000},
      {"... and half the second", {{1000, 2000}, {3000, 4000}, {5000, 6000}}, 2500, 7500},
      // Small SACKed pieces: 3 ranges make the first hole lost, the second hole is not.
      {"small ranges", {{1000, 1100}, {2000, 2100}, {3000, 3100}}, 0, 8700},
      {"two losses, both retransmitted", {{2000, 5000}}, 2000, 7000},
      {"everything SACKed but the first", {{1000, 10000}}, 0, 0},
      {"... retransmitted", {{1000, 10000}}, 1000, 1000},
      {"HighRxt past SND.NXT", {{1000, 4000}}, 20000, 13000},
      {"HighRxt below SND.UNA", {{1000, 4000}}, 0xfffff000u, 6000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    sb.clear();
    for (const auto& [l, r] : c.sacked) update({block(l, r)});
    EXPECT_EQ(sb.pipe(s(0), s(10000), s(c.high_rxt), kSmss), c.pipe);
  }
  // No data in flight.
  sb.clear();
  EXPECT_EQ(sb.pipe(s(0), s(0), s(0), kSmss), 0u);
}

// NextSeg rule 1: the first unSACKed, not retransmitted, lost byte below the highest SACKed one.
TEST_P(SackScoreboardTest, NextLost) {
  struct Case {
    const char* what;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sacked;
    std::uint32_t from, high_rxt;
    bool found;
    std::uint32_t start, length;
  };
  const Case cases[] = {
      {"nothing SACKed", {}, 0, 0, false, 0, 0},
      {"not lost yet", {{1000, 3000}}, 0, 0, false, 0, 0},
      {"first segment", {{2000, 5000}}, 0, 0, true, 0, 1000},
      {"second after the first was sent", {{2000, 5000}}, 0, 1000, true, 1000, 1000},
      {"the rest of a half-sent hole", {{2000, 5000}}, 0, 1500, true, 1500, 500},
      {"hole done: none above the highest SACK", {{2000, 5000}}, 0, 2000, false, 0, 0},
      {"from inside a SACKed range", {{2000, 5000}}, 2500, 0, false, 0, 0},
      {"from further on", {{2000, 5000}}, 700, 0, true, 700, 1000},
      {"capped by the SACKed range", {{300, 5000}}, 0, 0, true, 0, 300},
      {"three ranges: first hole", {{1000, 2000}, {3000, 4000}, {5000, 6000}}, 0, 0, true, 0, 1000},
      {"three ranges: second hole not lost",
       {{1000, 2000}, {3000, 4000}, {5000, 6000}},
       0,
       1000,
       false,
       0,
       0},
      {"later hole lost by bytes", {{1000, 2000}, {3000, 6000}}, 0, 1000, true, 2000, 1000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    sb.clear();
    for (const auto& [l, r] : c.sacked) update({block(l, r)});
    Seq start(0xdeadbeef);
    std::uint32_t length = 12345;
    ASSERT_EQ(sb.next_lost(s(c.from), s(c.high_rxt), kSmss, &start, &length), c.found);
    if (c.found) {
      EXPECT_EQ(start, s(c.start));
      EXPECT_EQ(length, c.length);
    }
  }
}

// A whole recovery: NextSeg then "retransmit" (HighRxt moves) until nothing is left, while the
// pipe counts each retransmission.
TEST_P(SackScoreboardTest, RecoveryWalk) {
  update({block(1000, 2000), block(3000, 4000), block(5000, 6000), block(7000, 9000)});
  Seq high_rxt = s(0);
  std::vector<std::uint32_t> sent;
  Seq start;
  std::uint32_t length = 0;
  // Bounded, so that a NextSeg that stops moving fails instead of hanging.
  while (sent.size() < 20 && sb.next_lost(s(0), high_rxt, kSmss, &start, &length)) {
    sent.push_back(seq_offset(s(0), start));
    high_rxt = start + length;
  }
  // Holes at 0, 2000, 4000 and 6000 (the last with 2000 SACKed bytes above: not lost).
  EXPECT_EQ(sent, (std::vector<std::uint32_t>{0, 2000, 4000}));
  // Retransmitted holes count once again; the hole at 6000 and the tail [9000, 10000) once.
  EXPECT_EQ(sb.pipe(s(0), s(10000), high_rxt, kSmss), 3000u + 2000u);
}

}  // namespace
}  // namespace ustack::tcp
