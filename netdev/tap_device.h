// TapDevice: a Linux TAP interface (Documentation/networking/tuntap.rst). Each read() on the tun
// descriptor returns one Ethernet frame the kernel sent to the interface; each write() injects one
// frame as if it had arrived on the wire. IFF_NO_PI drops the 4-byte packet-information prefix, so
// reads and writes are bare frames without FCS.
//
// The descriptor is non-blocking: the Runtime waits for it with epoll and then drains a batch.
//
// Offloads (TapOffload::on): the TAP is opened with IFF_VNET_HDR, so every frame, both ways,
// has a 12-byte virtio-net header in front (stack/wire/virtio_net.h), and TUNSETOFFLOAD with
// TUN_F_CSUM | TUN_F_TSO4 tells the kernel ustack finishes checksums and cuts TSO segments
// (TUN_F_TSO4 makes the kernel's side of the TAP offer TSO, so its TCP hands over GSO frames
// of up to 64 KB instead of one frame per MSS). Then each read or write moves up to 64 KB:
// the per-frame cost that bounds throughput is paid once per 45 segments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "netdev/net_device.h"
#include "stack/wire/address.h"

namespace ustack {

// What TapDevice::open does about offloads.
enum class TapOffload : std::uint8_t {
  off,   // bare frames, one per read/write, every checksum computed by ustack
  on,    // IFF_VNET_HDR with checksum offload and TSO, or the open fails
  best,  // on where the kernel offers IFF_VNET_HDR, otherwise off
};

class TapDevice final : public NetDevice {
 public:
  // Failures the device saw itself; the Stack counts the frames it hands over and gets back.
  struct Counters {
    std::uint64_t rx_errors = 0;    // read() failed with something other than EAGAIN/EINTR
    std::uint64_t tx_errors = 0;    // write() failed with something other than EAGAIN
    std::uint64_t tx_busy = 0;      // write() said EAGAIN: the kernel's queue for the TAP is full
    std::uint64_t rx_bad_vnet = 0;  // frames with a bad virtio-net header (also in the Stats)
  };

  // Opens the TAP `name` (creating it if it does not exist, attaching to it if it is persistent),
  // sets its MTU and brings the link up. On failure returns nullptr and sets `error` to the step
  // that failed and strerror(errno). Needs CAP_NET_ADMIN.
  static std::unique_ptr<TapDevice> open(std::string_view name, std::size_t mtu, std::string& error,
                                         TapOffload offload = TapOffload::off);

  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;
  // Closes the descriptor; the kernel then deletes a TAP that was not made persistent.
  ~TapDevice() override;

  // Gives the kernel side of the TAP an IPv4 address and netmask (ustackd --host-ip), which also
  // installs the connected route. Returns false and sets `error` on failure.
  bool set_host_address(Ipv4Cidr address, std::string& error);

  std::size_t receive(std::vector<Packet>& out, std::size_t max) override;
  bool transmit(Packet frame) override;
  int fd() const override { return fd_; }
  std::size_t mtu() const override { return mtu_; }
  std::string_view name() const override { return name_; }
  DeviceOffloads offloads() const override;
  void attach(Stats& stats) override { stats_ = &stats; }

  // True when frames carry a virtio-net header (the offloads are on).
  bool vnet_header() const { return vnet_header_; }

  const Counters& counters() const { return counters_; }

  // Bytes read per frame beyond MTU + Ethernet header: a frame longer than the MTU arrives longer
  // than mtu() + 14 (truncated to this slack at worst), so Ethernet can count it as oversize
  // instead of seeing a silently shortened frame.
  static constexpr std::size_t kOversizeSlack = 64;

 private:
  TapDevice(int fd, std::string name, std::size_t mtu, bool vnet_header);
  // The frame at spare_ after its virtio-net header, with the header's offload marks; false
  // (counted) if the header is bad.
  bool take_vnet_frame(Packet& frame);

  int fd_;
  std::string name_;
  std::size_t mtu_;
  bool vnet_header_;
  // Bytes per read: a frame of the MTU (plus slack), or with offloads a virtio-net header and a
  // GSO frame of up to 64 KB.
  std::size_t frame_capacity_;
  // Received frames up to this size are copied out of the read buffer, which is then reused, so
  // a small frame does not hold 64 KB.
  std::size_t small_frame_;
  Stats* stats_ = nullptr;
  // A buffer left over from a read that found nothing, reused by the next receive() so that an
  // empty poll costs no allocation.
  Packet spare_;
  Counters counters_;
};

}  // namespace ustack
