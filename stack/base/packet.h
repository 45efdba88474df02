// Packet: one contiguous buffer with headroom, so that each layer prepends its header in place.
//
//   buffer_                head_                 tail_                capacity_
//   |<---- headroom ------>|<------ data -------->|<---- tailroom ----->|
//
// Output: a transport writes its payload, then push()es its header in front of it; IPv4 and
// Ethernet do the same, and the device sends data() as it stands. Input: each layer reads its
// header at data() and pull()s it, handing the rest to the layer above without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace ustack {

class Packet {
 public:
  // Room for Ethernet (14) + IPv4 with options (60) + TCP with options (60) + a virtio-net
  // header (12), rounded up.
  static constexpr std::size_t kDefaultHeadroom = 160;
  // A full Ethernet frame plus the default headroom fits in one 2 KiB allocation.
  static constexpr std::size_t kFrameCapacity = 2048 - kDefaultHeadroom;

  Packet() = default;
  // A moved-from Packet is empty (size, headroom, tailroom and capacity 0), not a size without a
  // buffer behind it.
  Packet(Packet&& other) noexcept { *this = std::move(other); }
  Packet& operator=(Packet&& other) noexcept;
  Packet(const Packet&) = delete;
  Packet& operator=(const Packet&) = delete;

  // An empty packet with `headroom` bytes in front and room for `size` bytes of data.
  static Packet allocate(std::size_t size, std::size_t headroom = kDefaultHeadroom);
  // A packet holding a copy of `bytes`, with headroom in front.
  static Packet copy_of(std::span<const std::uint8_t> bytes,
                        std::size_t headroom = kDefaultHeadroom);
  // A deep copy (for duplication in fault injection, pcap, tests).
  Packet clone() const;

  bool empty() const { return tail_ == head_; }
  std::size_t size() const { return tail_ - head_; }
  std::uint8_t* data() { return buffer_.get() + head_; }
  const std::uint8_t* data() const { return buffer_.get() + head_; }
  std::span<std::uint8_t> bytes() { return {data(), size()}; }
  std::span<const std::uint8_t> bytes() const { return {data(), size()}; }

  std::size_t headroom() const { return head_; }
  std::size_t tailroom() const { return capacity_ - tail_; }
  std::size_t capacity() const { return capacity_; }

  // Prepends n bytes (returns where to write them). Callers leave enough headroom; a shortfall
  // costs a reallocation, never a write out of bounds.
  std::uint8_t* push(std::size_t n);
  // Removes n bytes from the front. Requires size() >= n.
  void pull(std::size_t n);
  // Appends n bytes at the end (returns where to write them), growing the buffer if needed.
  std::uint8_t* put(std::size_t n);
  // Shortens the data to n bytes (no-op if already shorter), e.g. to strip Ethernet padding.
  void trim(std::size_t n);
  // Appends a copy of bytes.
  void append(std::span<const std::uint8_t> bytes);

  // Set by Ethernet::input for frames sent to the broadcast or a multicast MAC: RFC 1122 forbids
  // answering those with ICMP errors.
  bool link_broadcast = false;

 private:
  void grow(std::size_t front, std::size_t back);

  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace ustack
