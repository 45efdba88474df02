#include "netdev/memory_link.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace ustack {

MemoryLink::Queue::Queue(std::size_t limit)
    : limit_(limit), event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (event_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

MemoryLink::Queue::~Queue() {
  ::close(event_fd_);
}

bool MemoryLink::Queue::push(Packet frame) {
  std::lock_guard lock(mutex_);
  if (frames_.size() >= limit_) return false;
  frames_.push_back(std::move(frame));
  if (frames_.size() == 1) {
    // eventfd(2): a write adds to the counter, and the descriptor is readable while it is
    // non-zero. The counter cannot overflow: it is at most 1 here.
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
  }
  return true;
}

std::size_t MemoryLink::Queue::pop(std::vector<Packet>& out, std::size_t max) {
  std::lock_guard lock(mutex_);
  std::size_t taken = 0;
  while (taken < max && !frames_.empty()) {
    out.push_back(std::move(frames_.front()));
    frames_.pop_front();
    ++taken;
  }
  if (taken > 0 && frames_.empty()) {
    // A read returns the counter and resets it to zero: the descriptor stops being readable.
    std::uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(event_fd_, &count, sizeof count);
  }
  return taken;
}

MemoryLink::MemoryLink(std::size_t mtu, std::size_t queue_limit, DeviceOffloads offloads)
    : a_to_b_(queue_limit),
      b_to_a_(queue_limit),
      a_("mem-a", mtu, offloads, b_to_a_, a_to_b_),
      b_("mem-b", mtu, offloads, a_to_b_, b_to_a_) {}

bool MemoryLink::End::transmit(Packet frame) {
  // Receivers get Packet::kDefaultHeadroom in front (NetDevice::receive). A sent frame usually
  // has less left, since every layer pushed its header into it, so it is copied into a fresh
  // buffer here, outside the queue lock.
  if (frame.headroom() < Packet::kDefaultHeadroom) {
    const PacketOffload offload = frame.offload;
    frame = Packet::copy_of(frame.bytes());
    frame.offload = offload;
  }
  // The flag describes how the frame arrived at a stack; the receiver's Ethernet sets it anew.
  frame.link_broadcast = false;
  return outgoing_.push(std::move(frame));
}

}  // namespace ustack
