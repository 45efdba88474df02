// SendBuffer: see send_buffer.h. Every copy is at most two memcpy calls (before and after the
// end of the ring); storage is allocated only at the first append after a release, never per
// call.
#include "stack/tcp/send_buffer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace ustack::tcp {

void SendBuffer::set_capacity(std::size_t capacity) {
  capacity = std::max(capacity, size_);
  if (capacity == capacity_) return;
  capacity_ = capacity;
  if (!storage_) return;
  if (size_ == 0) {
    // Nothing to keep: the next append allocates at the new size.
    storage_.reset();
    storage_size_ = 0;
    head_ = 0;
    return;
  }
  auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
  copy_out(0, std::span(grown.get(), size_));
  storage_ = std::move(grown);
  storage_size_ = capacity_;
  head_ = 0;
}

std::size_t SendBuffer::append(std::span<const std::uint8_t> data, RingStoragePool* pool) {
  const std::size_t n = std::min(data.size(), free());
  if (n == 0) return 0;
  if (!storage_) {
    storage_ = pool != nullptr ? pool->take(capacity_)
                               : std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
    storage_size_ = capacity_;
    head_ = 0;
  }
  std::size_t tail = head_ + size_;
  if (tail >= storage_size_) tail -= storage_size_;
  const std::size_t first = std::min(n, storage_size_ - tail);
  std::memcpy(storage_.get() + tail, data.data(), first);
  // Only a copy that wraps past the end of the ring has a second part (a memcpy of 0 bytes is
  // still a library call).
  if (n > first) std::memcpy(storage_.get(), data.data() + first, n - first);
  size_ += n;
  return n;
}

void SendBuffer::copy_out(std::size_t offset, std::span<std::uint8_t> out) const {
  assert(offset <= size_ && out.size() <= size_ - offset);
  if (out.empty()) return;
  std::size_t at = head_ + offset;
  if (at >= storage_size_) at -= storage_size_;
  const std::size_t first = std::min(out.size(), storage_size_ - at);
  std::memcpy(out.data(), storage_.get() + at, first);
  if (out.size() > first) std::memcpy(out.data() + first, storage_.get(), out.size() - first);
}

void SendBuffer::consume(std::size_t n) {
  assert(n <= size_);
  n = std::min(n, size_);
  size_ -= n;
  if (size_ == 0) {
    // Restarting at 0 keeps the next appends contiguous; it costs nothing.
    head_ = 0;
    return;
  }
  head_ += n;
  if (head_ >= storage_size_) head_ -= storage_size_;
}

void SendBuffer::release(RingStoragePool* pool) {
  if (size_ != 0) return;
  if (pool != nullptr) pool->give(std::move(storage_), storage_size_);
  storage_.reset();
  storage_size_ = 0;
  head_ = 0;
}

}  // namespace ustack::tcp
