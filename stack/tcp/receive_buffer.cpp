// ReceiveBuffer: see receive_buffer.h. The ring holds the readable bytes from head_ and, after
// them, the window: every byte that arrives is written once, at the place it keeps until the
// application reads it. The out-of-order ranges are at most kMaxRanges, so every list operation
// here is a short linear pass and nothing is allocated per segment.
#include "stack/tcp/receive_buffer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace ustack::tcp {

void ReceiveBuffer::set_capacity(std::size_t capacity) {
  const std::size_t furthest = range_count_ == 0 ? 0 : ranges_[range_count_ - 1].end;
  const std::size_t held = readable_ + furthest;
  capacity = std::max(std::min(capacity, kMaxCapacity), held);
  if (capacity == capacity_) return;
  capacity_ = capacity;
  if (!storage_) return;
  if (held == 0) {
    // Nothing to keep: the next insert allocates at the new size.
    storage_.reset();
    storage_size_ = 0;
    head_ = 0;
    return;
  }
  // The holes between ranges are copied too (zeros or stale bytes, never read) so that every
  // out-of-order byte keeps its offset.
  auto moved = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
  copy_from(0, moved.get(), held);
  storage_ = std::move(moved);
  storage_size_ = capacity_;
  head_ = 0;
}

ReceiveBuffer::InsertResult ReceiveBuffer::insert(std::uint32_t offset,
                                                  std::span<const std::uint8_t> data,
                                                  RingStoragePool* pool) {
  InsertResult result;
  const std::uint32_t window = this->window();
  if (data.empty() || offset >= window) return result;
  const auto length =
      static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), window - offset));
  const std::uint32_t end = offset + length;

  // The ranges that overlap or touch [offset, end] (touching ones merge too, so the list stays
  // disjoint and not touching): sorted indices [first, last).
  std::size_t first = 0;
  while (first < range_count_ && ranges_[first].end < offset) ++first;
  std::size_t last = first;
  while (last < range_count_ && ranges_[last].begin <= end) ++last;

  if (first == last && offset != 0 && range_count_ == kMaxRanges) {
    result.refused = true;
    return result;
  }
  if (!storage_) {
    storage_ = pool != nullptr ? pool->take(capacity_)
                               : std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
    storage_size_ = capacity_;
    head_ = 0;
  }

  // Write only into the holes: bytes already held stay as they first arrived.
  std::uint32_t at = offset;
  for (std::size_t i = first; i < last && at < end; ++i) {
    const Range& r = ranges_[i];
    if (r.begin > at) {
      const std::uint32_t stop = std::min(r.begin, end);
      copy_in(readable_ + at, data.data() + (at - offset), stop - at);
      result.stored += stop - at;
    }
    at = std::max(at, r.end);
  }
  if (at < end) {
    copy_in(readable_ + at, data.data() + (at - offset), end - at);
    result.stored += end - at;
  }

  Range merged{offset, end};
  if (first < last) {
    merged.begin = std::min(merged.begin, ranges_[first].begin);
    merged.end = std::max(merged.end, ranges_[last - 1].end);
  }
  if (merged.begin != 0) {
    replace_ranges(first, last, &merged);
    return result;
  }

  // The hole at RCV.NXT is filled: the in-order data grows by the merged range, and the ranges
  // left are rebased on the new RCV.NXT (they all start beyond merged.end, since the list is
  // not touching).
  replace_ranges(first, last, nullptr);
  readable_ += merged.end;
  result.advanced = merged.end;
  for (std::size_t i = 0; i < range_count_; ++i) {
    ranges_[i].begin -= merged.end;
    ranges_[i].end -= merged.end;
  }
  return result;
}

std::size_t ReceiveBuffer::read(std::span<std::uint8_t> out, bool peek) {
  const std::size_t n = std::min(out.size(), readable_);
  if (n == 0) return 0;
  copy_from(0, out.data(), n);
  if (!peek) {
    head_ = ring_index(n);
    readable_ -= n;
  }
  return n;
}

ReceiveBuffer::Range ReceiveBuffer::range(std::size_t i) const {
  assert(i < range_count_);
  return ranges_[recency_[i]];
}

std::size_t ReceiveBuffer::out_of_order_bytes() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < range_count_; ++i) total += ranges_[i].end - ranges_[i].begin;
  return total;
}

void ReceiveBuffer::release(RingStoragePool* pool) {
  if (readable_ != 0 || range_count_ != 0) return;
  if (pool != nullptr) pool->give(std::move(storage_), storage_size_);
  storage_.reset();
  storage_size_ = 0;
  head_ = 0;
}

std::size_t ReceiveBuffer::ring_index(std::size_t offset) const {
  const std::size_t i = head_ + offset;
  return i >= storage_size_ ? i - storage_size_ : i;
}

void ReceiveBuffer::copy_in(std::size_t offset, const std::uint8_t* src, std::size_t n) {
  assert(offset + n <= storage_size_);
  const std::size_t at = ring_index(offset);
  const std::size_t part = std::min(n, storage_size_ - at);
  std::memcpy(storage_.get() + at, src, part);
  // Only a copy that wraps past the end of the ring has a second part (a memcpy of 0 bytes is
  // still a library call, once per segment).
  if (n > part) std::memcpy(storage_.get(), src + part, n - part);
}

void ReceiveBuffer::copy_from(std::size_t offset, std::uint8_t* dst, std::size_t n) const {
  assert(offset + n <= storage_size_);
  const std::size_t at = ring_index(offset);
  const std::size_t part = std::min(n, storage_size_ - at);
  std::memcpy(dst, storage_.get() + at, part);
  if (n > part) std::memcpy(dst + part, storage_.get(), n - part);
}

void ReceiveBuffer::replace_ranges(std::size_t first, std::size_t last, const Range* merged) {
  const std::size_t removed = last - first;
  const std::size_t added = merged != nullptr ? 1 : 0;
  const auto begin = ranges_.begin();
  if (first + added < last) {
    std::copy(begin + last, begin + range_count_, begin + first + added);
  } else if (first + added > last) {
    std::copy_backward(begin + last, begin + range_count_, begin + range_count_ + added);
  }
  if (merged != nullptr) ranges_[first] = *merged;

  std::array<std::uint8_t, kMaxRanges> order{};
  std::size_t n = 0;
  if (merged != nullptr) order[n++] = static_cast<std::uint8_t>(first);
  for (std::size_t i = 0; i < range_count_; ++i) {
    const std::size_t index = recency_[i];
    if (index >= first && index < last) continue;
    order[n++] = static_cast<std::uint8_t>(index >= last ? index - removed + added : index);
  }
  range_count_ = range_count_ - removed + added;
  assert(n == range_count_);
  recency_ = order;
}

}  // namespace ustack::tcp
