// SackScoreboard: what the peer told us it holds beyond SND.UNA (RFC 2018 SACK blocks), and the
// loss-recovery questions of RFC 6675 section 4 that the sender asks of it.
//
//   SND.UNA                                                    SND.NXT
//   |---hole---|==SACKed==|---hole---|==SACKed==|---not SACKed---|
//
// Blocks are validated before use (CHECKLISTS "TCP": left >= right, outside SND.UNA..SND.NXT
// → ignored) and merged into a bounded sorted list of disjoint ranges. Everything is in sequence
// space; ranges below a new SND.UNA are dropped by advance().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/tcp/seq.h"
#include "stack/wire/tcp.h"

namespace ustack::tcp {

class SackScoreboard {
 public:
  static constexpr std::size_t kMaxRanges = 32;   // beyond this the highest are dropped
  static constexpr std::uint32_t kDupThresh = 3;  // RFC 6675 DupThresh

  struct Range {
    Seq left;   // first byte
    Seq right;  // one past the last byte
  };

  // Merges the valid blocks of one ACK. `snd_una`/`snd_nxt` as the ACK leaves them (after an
  // RTO that pulls SND.NXT back, pass the highest sequence number sent, or valid blocks are
  // refused); ranges below snd_una are forgotten first, as advance() does. Returns true if
  // any block told something new and was kept (RFC 6675 "the ACK carries new SACK
  // information"), and sets *ignored to the blocks not used. A block is used when
  // left < right and SND.UNA < right <= SND.NXT; a block that starts below SND.UNA is clipped
  // to it. Ignored are: left >= right, right > SND.NXT, and right <= SND.UNA (a stale block,
  // or an RFC 2883 D-SACK reporting a duplicate below SND.UNA: no information for recovery).
  // Any number of blocks is accepted; the option holds at most 4 (RFC 2018 3). A new range
  // that would be the highest of a full list is dropped (update() then returns false for it).
  bool update(std::span<const wire::SackBlock> blocks, Seq snd_una, Seq snd_nxt,
              std::size_t* ignored = nullptr);
  // SND.UNA moved to `snd_una`: forget what is below it.
  void advance(Seq snd_una);
  void clear() { count_ = 0; }

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  Range range(std::size_t i) const { return ranges_[i]; }  // sorted by left

  bool is_sacked(Seq seq) const;
  // Bytes SACKed in total, and SACKed at or above seq.
  std::uint32_t sacked_bytes() const;
  std::uint32_t sacked_bytes_above(Seq seq) const;
  // The highest SACKed byte + 1 (SND.UNA if nothing is SACKed). RFC 6675 "HighACK .. HighData".
  Seq highest_sacked(Seq snd_una) const;

  // RFC 6675 IsLost(SeqNum): DupThresh discontiguous SACKed ranges above seq, or more than
  // (DupThresh - 1) * SMSS bytes SACKed above it ("above" = sequence numbers greater than
  // seq; a range counts if it holds any byte above seq).
  bool is_lost(Seq seq, std::uint32_t smss) const;

  // RFC 6675 SetPipe: bytes believed in the network between snd_una and snd_nxt: each byte not
  // SACKed counts once unless IsLost says it is gone, and once more if it was retransmitted
  // (below high_rxt: high_rxt is one past the highest byte retransmitted, RFC 6675's
  // HighRxt + 1; snd_una when nothing was). This is the RFC's per-octet rule computed exactly:
  // IsLost gives the same answer for every byte of a hole between SACKed ranges (the same
  // ranges and bytes lie above each), so it is evaluated once per hole.
  std::uint32_t pipe(Seq snd_una, Seq snd_nxt, Seq high_rxt, std::uint32_t smss) const;

  // RFC 6675 NextSeg() rule 1: the first byte at or after `from` (and below the highest SACKed
  // byte) that is neither SACKed nor yet retransmitted (>= high_rxt) and IsLost. Returns the
  // start and the length up to the next SACKed range (at most smss), or false. high_rxt as
  // for pipe(); `from` and high_rxt must lie within SND.UNA..SND.NXT.
  bool next_lost(Seq from, Seq high_rxt, std::uint32_t smss, Seq* start,
                 std::uint32_t* length) const;

 private:
  // Adds one validated range; true if it covered a byte not SACKed before and was kept.
  bool add(Range r);

  std::array<Range, kMaxRanges> ranges_{};  // sorted by left, disjoint and not touching
  std::size_t count_ = 0;
};

}  // namespace ustack::tcp
