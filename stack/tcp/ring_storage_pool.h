// RingStoragePool: storage that SendBuffer and ReceiveBuffer gave back, kept for the next buffer
// that needs the same size.
//
// An idle connection holds no buffer (release() after the ring empties), which is what keeps
// 50,000 idle connections at a couple of KiB each. But a request/response connection empties
// both rings on every exchange, and a 256 KiB ring from the heap costs a heap extension, page
// faults on first touch and a trim (madvise) when freed: a profile of `wrk` against httpd showed
// about 8% of ustackd's time there. The pool hands those rings back warm. It is bounded in bytes,
// so what it keeps is the working set of the busiest moment, never more than max_bytes.
//
// One pool per Tcp: every use happens under the stack's core lock, so it needs no lock of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ustack::tcp {

class RingStoragePool {
 public:
  explicit RingStoragePool(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // Storage of exactly `size` bytes (uninitialised): a kept one if there is, else new.
  std::unique_ptr<std::uint8_t[]> take(std::size_t size) {
    for (std::size_t i = kept_.size(); i-- > 0;) {
      if (kept_[i].size != size) continue;
      auto storage = std::move(kept_[i].storage);
      kept_[i] = std::move(kept_.back());
      kept_.pop_back();
      bytes_ -= size;
      ++reused_;
      return storage;
    }
    return std::make_unique_for_overwrite<std::uint8_t[]>(size);
  }

  // Keeps `storage` of `size` bytes if that stays within max_bytes; frees it otherwise.
  void give(std::unique_ptr<std::uint8_t[]> storage, std::size_t size) {
    if (!storage || size == 0 || bytes_ + size > max_bytes_) return;
    kept_.push_back({std::move(storage), size});
    bytes_ += size;
  }

  std::size_t bytes() const { return bytes_; }
  std::size_t count() const { return kept_.size(); }
  // How many take() calls were served from the pool (for tests and the gdb printer).
  std::uint64_t reused() const { return reused_; }

 private:
  struct Kept {
    std::unique_ptr<std::uint8_t[]> storage;
    std::size_t size;
  };
  std::vector<Kept> kept_;
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  std::uint64_t reused_ = 0;
};

}  // namespace ustack::tcp
