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
  static constexpr std::size_t kMaxRanges = 32;   // beyond this the oldest-highest are dropped
  static constexpr std::uint32_t kDupThresh = 3;  // RFC 6675 DupThresh

  struct Range {
    Seq left;   // first byte
    Seq right;  // one past the last byte
  };

  // Merges the valid blocks of one ACK. `snd_una`/`snd_nxt` as the ACK leaves them. Returns
  // true if any block told something new (RFC 6675 "the ACK carries new SACK information"),
  // and counts the blocks ignored as invalid in *ignored.
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
  // (DupThresh - 1) * SMSS bytes SACKed above it.
  bool is_lost(Seq seq, std::uint32_t smss) const;

  // RFC 6675 SetPipe: bytes believed in the network between snd_una and snd_nxt: each byte not
  // SACKed counts once unless IsLost says it is gone, and once more if it was retransmitted
  // (below high_rxt). Walked segment by segment of `smss` bytes as the RFC does.
  std::uint32_t pipe(Seq snd_una, Seq snd_nxt, Seq high_rxt, std::uint32_t smss) const;

  // RFC 6675 NextSeg() rule 1: the first byte at or after `from` (and below the highest SACKed
  // byte) that is neither SACKed nor yet retransmitted (>= high_rxt) and IsLost. Returns the
  // start and the length up to the next SACKed range (at most smss), or false.
  bool next_lost(Seq from, Seq high_rxt, std::uint32_t smss, Seq* start,
                 std::uint32_t* length) const;

 private:
  std::array<Range, kMaxRanges> ranges_{};
  std::size_t count_ = 0;
};

}  // namespace ustack::tcp
