#include "stack/base/packet.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace ustack {

Packet Packet::allocate(std::size_t size, std::size_t headroom) {
  Packet p;
  p.capacity_ = headroom + size;
  // for_overwrite: the bytes are about to be written by a device read or a header emit, so
  // zeroing them first would be wasted work on every packet.
  p.buffer_ = std::make_unique_for_overwrite<std::uint8_t[]>(p.capacity_);
  p.head_ = p.tail_ = headroom;
  return p;
}

Packet Packet::copy_of(std::span<const std::uint8_t> bytes, std::size_t headroom) {
  Packet p = allocate(bytes.size(), headroom);
  p.append(bytes);
  return p;
}

Packet& Packet::operator=(Packet&& other) noexcept {
  // std::exchange rather than the defaulted move, which would leave other's sizes pointing into
  // the buffer it no longer owns. Self-move leaves the packet unchanged.
  buffer_ = std::move(other.buffer_);
  capacity_ = std::exchange(other.capacity_, 0);
  head_ = std::exchange(other.head_, 0);
  tail_ = std::exchange(other.tail_, 0);
  link_broadcast = std::exchange(other.link_broadcast, false);
  return *this;
}

Packet Packet::clone() const {
  Packet p = allocate(capacity_ - head_, head_);
  p.append(bytes());
  p.link_broadcast = link_broadcast;
  return p;
}

std::uint8_t* Packet::push(std::size_t n) {
  if (n > head_) grow(n, 0);
  head_ -= n;
  return data();
}

void Packet::pull(std::size_t n) {
  assert(n <= size());
  head_ += std::min(n, size());
}

std::uint8_t* Packet::put(std::size_t n) {
  if (n > tailroom()) grow(0, n);
  std::uint8_t* at = buffer_.get() + tail_;
  tail_ += n;
  return at;
}

void Packet::grow(std::size_t front, std::size_t back) {
  // Every path sizes its buffers so this is not reached; if a bug ever gets here, a copy is
  // better than writing outside the buffer.
  Packet bigger = allocate(size() + back + tailroom(), head_ + front + kDefaultHeadroom);
  bigger.append(bytes());
  bigger.link_broadcast = link_broadcast;
  *this = std::move(bigger);
}

void Packet::trim(std::size_t n) {
  if (n < size()) tail_ = head_ + n;
}

void Packet::append(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  std::memcpy(put(bytes.size()), bytes.data(), bytes.size());
}

}  // namespace ustack
