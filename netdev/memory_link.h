// MemoryLink: two NetDevices joined by a simulated cable, for running two Stacks in one process.
// What end a transmits, end b receives, in order, and the other way round.
//
//   MemoryLink link;              // MTU 1500, 4096 frames queued per direction at most
//   NetDevice& a = link.a();      // give to the first Stack
//   NetDevice& b = link.b();      // give to the second
//
// Each direction is a bounded queue with its own mutex, so the two Stacks may run in different
// I/O threads. Each end's fd() is an eventfd that is readable exactly while frames wait for that
// end, so a Runtime can epoll it like a TAP descriptor.
//
// The link delivers frames as they were sent, even ones longer than the MTU, so that the
// receiving Stack's own checks (eth.oversize) are what a test exercises.
//
// With `offloads` the ends offer them to their Stacks (DeviceOffloads), and offloaded frames
// cross with their PacketOffload marks, the way two virtio-net guests on one host bridge hand
// each other TSO frames with partial checksums: the receiver takes a GSO frame whole and trusts
// its checksum. Without, frames carry no marks, as no Stack makes any.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

#include "netdev/net_device.h"

namespace ustack {

class MemoryLink {
 public:
  static constexpr std::size_t kDefaultMtu = 1500;
  static constexpr std::size_t kDefaultQueueLimit = 4096;

  // Throws std::system_error if an eventfd cannot be created (out of descriptors).
  explicit MemoryLink(std::size_t mtu = kDefaultMtu, std::size_t queue_limit = kDefaultQueueLimit,
                      DeviceOffloads offloads = {});
  MemoryLink(const MemoryLink&) = delete;
  MemoryLink& operator=(const MemoryLink&) = delete;

  NetDevice& a() { return a_; }
  NetDevice& b() { return b_; }

 private:
  // Frames travelling one way, with the eventfd that tells the receiving end about them.
  class Queue {
   public:
    explicit Queue(std::size_t limit);
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;
    ~Queue();

    bool push(Packet frame);
    std::size_t pop(std::vector<Packet>& out, std::size_t max);
    int event_fd() const { return event_fd_; }

   private:
    std::mutex mutex_;
    std::deque<Packet> frames_;  // guarded by mutex_
    const std::size_t limit_;
    // Non-zero count exactly while frames_ is non-empty; changed only with mutex_ held.
    int event_fd_;
  };

  class End final : public NetDevice {
   public:
    End(std::string name, std::size_t mtu, DeviceOffloads offloads, Queue& incoming,
        Queue& outgoing)
        : name_(std::move(name)),
          mtu_(mtu),
          offloads_(offloads),
          incoming_(incoming),
          outgoing_(outgoing) {}

    std::size_t receive(std::vector<Packet>& out, std::size_t max) override {
      return incoming_.pop(out, max);
    }
    bool transmit(Packet frame) override;
    int fd() const override { return incoming_.event_fd(); }
    std::size_t mtu() const override { return mtu_; }
    std::string_view name() const override { return name_; }
    DeviceOffloads offloads() const override { return offloads_; }

   private:
    std::string name_;
    std::size_t mtu_;
    DeviceOffloads offloads_;
    Queue& incoming_;
    Queue& outgoing_;
  };

  Queue a_to_b_;
  Queue b_to_a_;
  End a_;
  End b_;
};

}  // namespace ustack
