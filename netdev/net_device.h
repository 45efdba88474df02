// NetDevice: the one interface between the stack and a link — a Linux TAP, an in-memory link in
// tests, or a decorator (pcap, fault injection, tracing) wrapped around either.
//
// Frames are whole Ethernet frames without FCS. Devices never block: the Runtime waits on fd()
// with epoll and then asks for a batch.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "stack/base/packet.h"
#include "stack/base/stats.h"
#include "stack/base/time.h"

namespace ustack {

// What a device finishes for the stack on transmit (the TAP's TUNSETOFFLOAD features). The stack
// marks frames it leaves unfinished with Packet::offload; a device offering nothing gets none.
struct DeviceOffloads {
  // Takes frames whose TCP checksum is partial (TUN_F_CSUM).
  bool tx_checksum = false;
  // Largest IPv4 datagram the device takes as one TSO segment and cuts itself (TUN_F_TSO4);
  // 0: none, every datagram fits the MTU.
  std::size_t tso_max = 0;
};

class NetDevice {
 public:
  virtual ~NetDevice() = default;

  // Appends up to `max` received frames to `out` and returns how many it appended; 0 when
  // nothing is waiting. Each frame has Packet::kDefaultHeadroom in front.
  virtual std::size_t receive(std::vector<Packet>& out, std::size_t max) = 0;

  // Queues or sends one frame. Returns false when the frame was not taken (device queue full,
  // device error); the stack counts that as a drop.
  virtual bool transmit(Packet frame) = 0;

  // Sends anything transmit() batched. Called by the Stack at the end of every poll.
  virtual void flush() {}

  // A descriptor that becomes readable when receive() has frames, or -1 if the device has none.
  virtual int fd() const { return -1; }

  // Largest IP packet the link carries (the Ethernet payload size).
  virtual std::size_t mtu() const = 0;

  virtual std::string_view name() const = 0;

  // When the device next needs receive() or flush() called even if fd() stays quiet: a decorator
  // holding frames back (delay, reordering, rate limiting) releases them at this Instant. The
  // Stack folds it into its own next_deadline().
  virtual Instant next_deadline() const { return kNever; }

  // What the device finishes on transmit; decorators that pass frames through unchanged report
  // their inner device's.
  virtual DeviceOffloads offloads() const { return {}; }

  // The Stack's counters, given when the device is attached, for drops only the device sees
  // (a bad virtio-net header). Decorators pass it on.
  virtual void attach(Stats& stats) { (void)stats; }
};

}  // namespace ustack
