// SendBuffer: the bytes an application wrote that the peer has not acknowledged yet.
//
//   front = SND.UNA                  SND.NXT                         back
//   |<--- sent, not yet ACKed ------>|<--- not yet sent ------------>|<-- free -->|
//
// A ring of `capacity` bytes (SO_SNDBUF). The storage is allocated at the first append and given
// back when the buffer empties and release() is called, so an idle connection holds no buffer.
// The buffer knows nothing of sequence numbers: the sender reads at offsets from SND.UNA and
// consumes from the front when ACKs arrive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "stack/tcp/ring_storage_pool.h"

namespace ustack::tcp {

class SendBuffer {
 public:
  explicit SendBuffer(std::size_t capacity = 0) : capacity_(capacity) {}

  std::size_t capacity() const { return capacity_; }
  // Changes the capacity (SO_SNDBUF). Never below size(): the bytes held are kept, in order.
  // An empty buffer gives its storage back; the next append allocates at the new capacity.
  void set_capacity(std::size_t capacity);
  std::size_t size() const { return size_; }
  std::size_t free() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }

  // Appends as much of `data` as fits; returns the bytes taken. Storage, if the buffer has none
  // yet, comes from `pool` when one is given.
  std::size_t append(std::span<const std::uint8_t> data, RingStoragePool* pool = nullptr);
  // Copies out.size() bytes starting `offset` bytes after the front. Requires
  // offset + out.size() <= size().
  void copy_out(std::size_t offset, std::span<std::uint8_t> out) const;
  // Drops n bytes from the front (they were acknowledged). Requires n <= size().
  void consume(std::size_t n);
  // Frees the storage if the buffer is empty (an idle connection), into `pool` if one is given.
  void release(RingStoragePool* pool = nullptr);
  bool has_storage() const { return storage_ != nullptr; }

 private:
  std::unique_ptr<std::uint8_t[]> storage_;
  std::size_t storage_size_ = 0;  // == capacity_ once allocated
  std::size_t capacity_;
  std::size_t head_ = 0;  // index of the front byte in storage_
  std::size_t size_ = 0;
};

}  // namespace ustack::tcp
