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

// What a virtio_net_hdr says about a frame (virtio spec 1.x 5.1.6 "struct virtio_net_hdr";
// linux/virtio_net.h), carried with the frame between the device and the layers. All zero: an
// ordinary frame whose checksums are complete.
struct PacketOffload {
  // VIRTIO_NET_HDR_F_NEEDS_CSUM. The TCP/UDP checksum field holds only the folded pseudo-header
  // sum; whoever puts the frame on a wire sums from the L4 header to the end and stores the
  // complement there. Transmit: TCP left it for the device. Receive: the local kernel sent it
  // so, and vouches for the bytes, so the transport does not verify it (it cannot).
  bool csum_partial = false;
  // VIRTIO_NET_HDR_F_DATA_VALID (receive only): the kernel already verified the L4 checksum.
  bool csum_valid = false;
  // VIRTIO_NET_HDR_GSO_TCPV4 when non-zero: one TCP/IPv4 segment larger than the MTU standing
  // for a train of segments with gso_size data bytes each (the last may be shorter).
  std::uint16_t gso_size = 0;

  // The L4 checksum needs no verification by the stack.
  bool checksum_trusted() const { return csum_partial || csum_valid; }
};

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
  // Moves are inline: a packet is moved several times on its way through the layers (each takes
  // it by value), and an out-of-line call per move showed up in profiles.
  Packet(Packet&& other) noexcept { take(other); }
  Packet& operator=(Packet&& other) noexcept {
    // Self-move leaves the packet unchanged.
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  ~Packet() { release(); }
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
  std::uint8_t* data() { return buffer_ + head_; }
  const std::uint8_t* data() const { return buffer_ + head_; }
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
  // Offload state; travels with the frame through moves and clones.
  PacketOffload offload;

 private:
  void grow(std::size_t front, std::size_t back);
  // Takes other's buffer and metadata, leaving other empty (the state of a moved-from Packet).
  void take(Packet& other) noexcept {
    buffer_ = std::exchange(other.buffer_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    head_ = std::exchange(other.head_, 0);
    tail_ = std::exchange(other.tail_, 0);
    link_broadcast = std::exchange(other.link_broadcast, false);
    offload = std::exchange(other.offload, PacketOffload{});
  }
  void release() noexcept {
    if (buffer_ != nullptr) free_buffer(buffer_, capacity_);
  }
  // Gives a buffer from allocate() back: to this thread's pool (stack/base/packet.cpp) if its
  // size class has room there, otherwise to the heap.
  static void free_buffer(std::uint8_t* buffer, std::size_t capacity) noexcept;

  // Owned; from new[] or this thread's pool, released by free_buffer (so not a unique_ptr).
  std::uint8_t* buffer_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace ustack
