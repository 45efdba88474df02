// SackScoreboard: see sack_scoreboard.h. The ranges all lie within SND.UNA..SND.NXT, less than
// 2^31 apart, so the Seq comparisons between them are a consistent order even across the wrap.
// At most kMaxRanges are held: every operation is a short linear pass.
#include "stack/tcp/sack_scoreboard.h"

#include <algorithm>

namespace ustack::tcp {
namespace {

std::uint32_t length(SackScoreboard::Range r) {
  return seq_offset(r.left, r.right);
}

}  // namespace

bool SackScoreboard::update(std::span<const wire::SackBlock> blocks, Seq snd_una, Seq snd_nxt,
                            std::size_t* ignored) {
  advance(snd_una);
  std::size_t bad = 0;
  bool news = false;
  for (const wire::SackBlock& block : blocks) {
    // RFC 2018 3 / CHECKLISTS: a block must describe bytes sent and not yet cumulatively
    // acknowledged. left < right is tested first so that right - left < 2^31, which makes the
    // clipping below well defined.
    if (!(block.left < block.right) || !seq_in_open_closed_range(snd_una, block.right, snd_nxt)) {
      ++bad;
      continue;
    }
    Range r{block.left, block.right};
    // Starts below SND.UNA (e.g. an RFC 2883 D-SACK straddling it): the part above is news.
    if (!seq_in_range(snd_una, r.left, r.right)) r.left = snd_una;
    news |= add(r);
  }
  if (ignored != nullptr) *ignored = bad;
  return news;
}

bool SackScoreboard::add(Range r) {
  // The ranges that overlap or touch r: [first, last).
  std::size_t first = 0;
  while (first < count_ && ranges_[first].right < r.left) ++first;
  std::size_t last = first;
  while (last < count_ && ranges_[last].left <= r.right) ++last;

  // Ranges are disjoint and not touching, so r is old news only if one range covers it.
  if (last - first == 1 && ranges_[first].left <= r.left && r.right <= ranges_[first].right) {
    return false;
  }
  if (first == last && count_ == kMaxRanges) {
    // Full: keep the ranges nearest SND.UNA, which are the ones loss recovery works on.
    if (first == count_) return false;
    --count_;
  }
  Range merged = r;
  if (first < last) {
    merged.left = seq_min(r.left, ranges_[first].left);
    merged.right = seq_max(r.right, ranges_[last - 1].right);
  }
  const auto begin = ranges_.begin();
  if (first + 1 < last) {
    std::copy(begin + last, begin + count_, begin + first + 1);
  } else if (first == last) {
    std::copy_backward(begin + first, begin + count_, begin + count_ + 1);
  }
  ranges_[first] = merged;
  count_ = count_ - (last - first) + 1;
  return true;
}

void SackScoreboard::advance(Seq snd_una) {
  std::size_t gone = 0;
  while (gone < count_ && ranges_[gone].right <= snd_una) ++gone;
  if (gone > 0) {
    std::copy(ranges_.begin() + gone, ranges_.begin() + count_, ranges_.begin());
    count_ -= gone;
  }
  if (count_ > 0 && ranges_[0].left < snd_una) ranges_[0].left = snd_una;
}

bool SackScoreboard::is_sacked(Seq seq) const {
  for (std::size_t i = 0; i < count_; ++i) {
    if (seq_in_range(ranges_[i].left, seq, ranges_[i].right)) return true;
  }
  return false;
}

std::uint32_t SackScoreboard::sacked_bytes() const {
  std::uint32_t total = 0;
  for (std::size_t i = 0; i < count_; ++i) total += length(ranges_[i]);
  return total;
}

std::uint32_t SackScoreboard::sacked_bytes_above(Seq seq) const {
  std::uint32_t total = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    const Range& r = ranges_[i];
    if (r.right <= seq) continue;
    total += r.left < seq ? seq_offset(seq, r.right) : length(r);
  }
  return total;
}

Seq SackScoreboard::highest_sacked(Seq snd_una) const {
  return count_ == 0 ? snd_una : ranges_[count_ - 1].right;
}

bool SackScoreboard::is_lost(Seq seq, std::uint32_t smss) const {
  const Seq above = seq + 1;
  std::size_t ranges = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    if (above < ranges_[i].right) ++ranges;
  }
  return ranges >= kDupThresh || sacked_bytes_above(above) > (kDupThresh - 1) * smss;
}

std::uint32_t SackScoreboard::pipe(Seq snd_una, Seq snd_nxt, Seq high_rxt,
                                   std::uint32_t smss) const {
  // Offsets from SND.UNA: the bytes sent are [0, sent), those retransmitted [0, rxt).
  const std::uint32_t sent = seq_offset(snd_una, snd_nxt);
  std::uint32_t rxt = 0;
  if (high_rxt >= snd_nxt) {
    rxt = sent;
  } else if (high_rxt > snd_una) {
    rxt = seq_offset(snd_una, high_rxt);
  }

  std::uint32_t in_flight = 0;
  const auto hole = [&](std::uint32_t from, std::uint32_t to) {
    if (from >= to) return;
    if (!is_lost(snd_una + from, smss)) in_flight += to - from;  // RFC 6675 SetPipe (a)
    if (from < rxt) in_flight += std::min(to, rxt) - from;       // RFC 6675 SetPipe (b)
  };
  std::uint32_t at = 0;
  for (std::size_t i = 0; i < count_ && at < sent; ++i) {
    const Range& r = ranges_[i];
    if (r.right <= snd_una) continue;
    const std::uint32_t left = r.left <= snd_una ? 0 : std::min(seq_offset(snd_una, r.left), sent);
    const std::uint32_t right = std::min(seq_offset(snd_una, r.right), sent);
    hole(at, left);
    at = std::max(at, right);
  }
  hole(at, sent);
  return in_flight;
}

bool SackScoreboard::next_lost(Seq from, Seq high_rxt, std::uint32_t smss, Seq* start,
                               std::uint32_t* length) const {
  // RFC 6675 NextSeg (1.a): not retransmitted yet.
  Seq at = seq_max(from, high_rxt);
  for (std::size_t i = 0; i < count_; ++i) {
    const Range& r = ranges_[i];
    if (at < r.left) {
      // (1.b) holds: r lies above. IsLost is the same for the whole hole and can only become
      // false further up (fewer ranges and bytes above), so the first hole decides (1.c).
      if (!is_lost(at, smss) || smss == 0) return false;
      *start = at;
      *length = std::min(smss, seq_offset(at, r.left));
      return true;
    }
    at = seq_max(at, r.right);
  }
  return false;
}

}  // namespace ustack::tcp
