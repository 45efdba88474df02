// ReceiveBuffer: the bytes that arrived and that the application has not read yet, in order,
// plus the out-of-order bytes that arrived beyond a hole (RFC 9293 3.10.7.4 "seventh": segments
// beyond RCV.NXT are kept, SHLD-31).
//
//   read position                    RCV.NXT (end of in-order data)
//   |<-- readable, in order -------->|<-- hole -->|<-ooo->|<- hole ->|<-ooo->|   ...  |
//   |<---------------------------------- capacity (SO_RCVBUF) ---------------------->|
//                                    |<----------------- window ------------------->|
//
// One ring of `capacity` bytes holds both: an out-of-order segment is written straight into the
// place it will have once the hole before it fills, so nothing is copied twice and nothing is
// allocated per segment. The receive window offered to the peer is exactly the space after the
// in-order data (window()), so everything the peer may send fits. The out-of-order ranges are
// kept in a small bounded list (also the source of the SACK blocks, RFC 2018 4: the most
// recently changed range first).
//
// Offsets are relative to the end of the in-order data (RCV.NXT); the buffer knows no sequence
// numbers. The storage is allocated at the first insert and given back by release() when the
// buffer is empty, so an idle connection holds no buffer.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "stack/tcp/ring_storage_pool.h"

namespace ustack::tcp {

class ReceiveBuffer {
 public:
  // Out-of-order ranges kept at most; a segment that would need more is refused.
  static constexpr std::size_t kMaxRanges = 32;
  // The largest capacity: offsets and window() are 32-bit, and no TCP window can exceed
  // 65535 << 14 (RFC 7323 2.3), which is below this.
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 30;

  struct Range {
    std::uint32_t begin;  // offset from RCV.NXT
    std::uint32_t end;    // one past the last byte
  };

  struct InsertResult {
    std::uint32_t advanced = 0;  // bytes by which RCV.NXT moves (the hole at 0 was filled)
    std::uint32_t stored = 0;    // bytes newly stored (not held before, within the window)
    bool refused = false;        // too many out-of-order ranges: nothing stored
  };

  explicit ReceiveBuffer(std::size_t capacity = 0) : capacity_(std::min(capacity, kMaxCapacity)) {}

  std::size_t capacity() const { return capacity_; }
  // Changes the capacity (SO_RCVBUF, only before data arrives in practice: a smaller capacity
  // shrinks window(), and RFC 9293 3.8.6 SHLD-14: a receiver should not shrink a window it has
  // offered). Never below the bytes held plus the furthest out-of-order byte, never above
  // kMaxCapacity.
  void set_capacity(std::size_t capacity);

  // In-order bytes the application can read.
  std::size_t readable() const { return readable_; }
  // Space after RCV.NXT: the largest window that may be offered.
  std::uint32_t window() const { return static_cast<std::uint32_t>(capacity_ - readable_); }

  // Stores `data`, which starts `offset` bytes after RCV.NXT. Bytes beyond window() are
  // dropped (the caller trims first; this is the bound). Bytes already held are not rewritten
  // (the first copy wins, as in RFC 9293's "segments with higher beginning sequence numbers
  // may be held"). When the range at offset 0 grows, the in-order data grows with it and with
  // every out-of-order range it now touches.
  //
  // Edge cases: an insert with nothing inside the window (offset >= window(), empty data, zero
  // capacity) returns all zeros and changes nothing. Only an insert that would start a new
  // out-of-order range while kMaxRanges are held is refused; one that fills the hole at offset
  // 0, or touches or overlaps a range held, is always taken. A duplicate (stored == 0) still
  // marks the range holding it as the most recent, since that range holds the segment that
  // triggers the ACK (RFC 2018 4: the first SACK block reports it).
  // Storage, if the buffer has none yet, comes from `pool` when one is given.
  InsertResult insert(std::uint32_t offset, std::span<const std::uint8_t> data,
                      RingStoragePool* pool = nullptr);

  // Copies up to out.size() readable bytes and removes them (unless peek). Returns the count.
  std::size_t read(std::span<std::uint8_t> out, bool peek = false);

  // Out-of-order ranges, most recently changed first (for SACK blocks). Offsets are from the
  // current RCV.NXT.
  std::size_t range_count() const { return range_count_; }
  Range range(std::size_t i) const;  // i < range_count(), in most-recent-first order
  // Bytes held out of order.
  std::size_t out_of_order_bytes() const;

  // Frees the storage if nothing is held, into `pool` if one is given.
  void release(RingStoragePool* pool = nullptr);
  bool has_storage() const { return storage_ != nullptr; }

 private:
  std::unique_ptr<std::uint8_t[]> storage_;
  std::size_t storage_size_ = 0;
  std::size_t capacity_;
  std::size_t head_ = 0;      // index of the first readable byte in storage_
  std::size_t readable_ = 0;  // in-order bytes
  // Out-of-order ranges, offsets from RCV.NXT, disjoint and not touching. Kept sorted by
  // begin in ranges_; recency_ lists indices into ranges_ most-recent first.
  std::array<Range, kMaxRanges> ranges_{};
  std::array<std::uint8_t, kMaxRanges> recency_{};
  std::size_t range_count_ = 0;

  // Index in storage_ of the byte `offset` after the read position (offset < storage_size_).
  std::size_t ring_index(std::size_t offset) const;
  // Copies between the ring, starting `offset` bytes after the read position, and memory.
  void copy_in(std::size_t offset, const std::uint8_t* src, std::size_t n);
  void copy_from(std::size_t offset, std::uint8_t* dst, std::size_t n) const;
  // Replaces the sorted ranges [first, last) by `merged` (none if it is null), which becomes
  // the most recent.
  void replace_ranges(std::size_t first, std::size_t last, const Range* merged);
};

}  // namespace ustack::tcp
