// Packet: see packet.h. Buffers come from a small per-thread pool so that steady-state sending
// and receiving do no malloc/free per packet.
//
// Why per thread and not per Stack: a Packet does not know its Stack (tests, devices and
// decorators make packets with none), and Packet::allocate must keep its signature. A thread's
// pool is touched only by that thread, so it needs no lock. A buffer may be allocated by one
// thread and freed by another (an app thread's send() builds a segment, the I/O thread frees it,
// or the other way round); it then simply joins the freeing thread's pool, which is safe because
// the Packet itself was handed over under the core lock or a queue lock. Each pool is bounded
// and returns its buffers to the heap when its thread exits.
#include "stack/base/packet.h"

#include <sanitizer/asan_interface.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <utility>

namespace ustack {
namespace {

// Two size classes. Small: a bare ACK, an ARP packet or a short datagram with the default
// headroom, so that queued small packets do not each pin a frame-sized buffer. Frame: a full
// Ethernet frame with the default headroom.
struct SizeClass {
  std::size_t bytes;
  std::size_t max_cached;  // per thread: 128 KiB of small and 1 MiB of frame buffers at most
};
constexpr std::array<SizeClass, 2> kClasses{{{256, 512}, {2048, 512}}};
static_assert(Packet::kDefaultHeadroom + Packet::kFrameCapacity == kClasses[1].bytes);

// The class that serves a buffer of `capacity` bytes, or kClasses.size() for the heap.
// allocate() and free_buffer() both decide from the capacity, which never changes after
// allocate(), so a buffer always goes back to the class it came from.
std::size_t class_of(std::size_t capacity) {
  for (std::size_t i = 0; i < kClasses.size(); ++i) {
    if (capacity <= kClasses[i].bytes) return i;
  }
  return kClasses.size();
}

// A free buffer's first bytes hold the pointer to the next free buffer of its class.
struct FreeList {
  std::uint8_t* head = nullptr;
  std::size_t count = 0;
};

struct ThreadPool {
  std::array<FreeList, kClasses.size()> lists;
  bool reaper_armed = false;
  // Set once this thread's thread_local destructors have run: from then on (other thread_local
  // or static destructors still freeing packets) buffers go straight to the heap.
  bool closed = false;
};

// Trivially destructible, so its storage stays valid until the thread is gone, including while
// other thread_local and static destructors run after the reaper below.
thread_local ThreadPool pool;

// Under AddressSanitizer a pooled buffer is poisoned while it sits in a free list, so a use
// after free of a packet's bytes is still caught although the buffer was never given back to
// the heap (the macros do nothing in other builds).
void push_free(FreeList& list, std::uint8_t* buffer, std::size_t bytes) {
  // The link goes in the first bytes, which were poisoned slack if the packet asked for fewer.
  ASAN_UNPOISON_MEMORY_REGION(buffer, sizeof list.head);
  std::memcpy(buffer, &list.head, sizeof list.head);
  ASAN_POISON_MEMORY_REGION(buffer, bytes);
  list.head = buffer;
  ++list.count;
}

std::uint8_t* pop_free(FreeList& list, std::size_t bytes) {
  std::uint8_t* buffer = list.head;
  ASAN_UNPOISON_MEMORY_REGION(buffer, bytes);
  std::memcpy(&list.head, buffer, sizeof list.head);
  --list.count;
  return buffer;
}

// Its destructor empties this thread's pool when the thread exits (so leak checkers see nothing
// left behind). A separate object because ThreadPool must stay trivially destructible.
struct PoolReaper {
  bool armed = false;
  ~PoolReaper() {
    for (std::size_t c = 0; c < kClasses.size(); ++c) {
      FreeList& list = pool.lists[c];
      while (list.head != nullptr) delete[] pop_free(list, kClasses[c].bytes);
    }
    pool.closed = true;
  }
};
thread_local PoolReaper reaper;

}  // namespace

Packet Packet::allocate(std::size_t size, std::size_t headroom) {
  Packet p;
  p.capacity_ = headroom + size;
  const std::size_t c = class_of(p.capacity_);
  if (c < kClasses.size() && pool.lists[c].head != nullptr) {
    p.buffer_ = pop_free(pool.lists[c], kClasses[c].bytes);
  } else {
    // Default-initialised (not zeroed): the bytes are about to be written by a device read or a
    // header emit, so zeroing them first would be wasted work on every packet. A pooled class
    // gets its full class size, so the buffer can serve any later request of that class.
    p.buffer_ = new std::uint8_t[c < kClasses.size() ? kClasses[c].bytes : p.capacity_];
  }
  if (c < kClasses.size()) {
    // The class's bytes past the capacity asked for are not the packet's: ASan reports a write
    // there as it would past the end of an exact-size allocation.
    ASAN_POISON_MEMORY_REGION(p.buffer_ + p.capacity_, kClasses[c].bytes - p.capacity_);
  }
  p.head_ = p.tail_ = headroom;
  return p;
}

void Packet::free_buffer(std::uint8_t* buffer, std::size_t capacity) noexcept {
  const std::size_t c = class_of(capacity);
  if (c == kClasses.size() || pool.closed || pool.lists[c].count >= kClasses[c].max_cached) {
    delete[] buffer;
    return;
  }
  if (!pool.reaper_armed) {
    // The first use of the thread_local reaper in this thread registers its destructor.
    reaper.armed = true;
    pool.reaper_armed = true;
  }
  push_free(pool.lists[c], buffer, kClasses[c].bytes);
}

Packet Packet::copy_of(std::span<const std::uint8_t> bytes, std::size_t headroom) {
  Packet p = allocate(bytes.size(), headroom);
  p.append(bytes);
  return p;
}

Packet Packet::clone() const {
  Packet p = allocate(capacity_ - head_, head_);
  p.append(bytes());
  p.link_broadcast = link_broadcast;
  p.offload = offload;
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
  std::uint8_t* at = buffer_ + tail_;
  tail_ += n;
  return at;
}

void Packet::grow(std::size_t front, std::size_t back) {
  // Every path sizes its buffers so this is not reached; if a bug ever gets here, a copy is
  // better than writing outside the buffer.
  Packet bigger = allocate(size() + back + tailroom(), head_ + front + kDefaultHeadroom);
  bigger.append(bytes());
  bigger.link_broadcast = link_broadcast;
  bigger.offload = offload;
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
