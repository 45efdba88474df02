#include "netdev/tap_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "stack/base/log.h"
#include "stack/wire/ethernet.h"
#include "stack/wire/ipv4.h"
#include "stack/wire/virtio_net.h"

namespace ustack {
namespace {

std::string errno_message(std::string_view step) {
  return fmt::format("{}: {}", step, std::strerror(errno));
}

// Closes a descriptor on every exit path of a function.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

ifreq request_for(std::string_view name) {
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());  // callers checked size < IFNAMSIZ
  return ifr;
}

// Interface ioctls (netdevice(7)) go through any socket of the interface's network namespace.
int control_socket(std::string& error) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) error = errno_message("socket(AF_INET, SOCK_DGRAM)");
  return s;
}

sockaddr ipv4_sockaddr(Ipv4Address address) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(address.to_u32());
  sockaddr sa{};
  static_assert(sizeof sin <= sizeof sa);
  std::memcpy(&sa, &sin, sizeof sin);
  return sa;
}

// Errors that persist (a TAP deleted under us) would otherwise log on every poll; logging at the
// 1st, 2nd, 4th, 8th … occurrence keeps them visible without flooding.
bool worth_logging(std::uint64_t count) {
  return (count & (count - 1)) == 0;
}

}  // namespace

std::unique_ptr<TapDevice> TapDevice::open(std::string_view name, std::size_t mtu,
                                           std::string& error, TapOffload offload) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    error = fmt::format("TAP name '{}' must have 1 to {} characters", name, IFNAMSIZ - 1);
    return nullptr;
  }
  // 68 is the smallest MTU every IPv4 host must accept (RFC 791); the kernel caps the largest.
  if (mtu < 68 || mtu > 65535) {
    error = fmt::format("MTU {} out of range 68..65535", mtu);
    return nullptr;
  }

  FdGuard tun(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (tun.get() < 0) {
    error = errno_message("open /dev/net/tun");
    return nullptr;
  }

  bool vnet = offload != TapOffload::off;
  if (vnet) {
    // TUNGETFEATURES (Documentation/networking/tuntap.rst): the flags this kernel's tun knows.
    unsigned int features = 0;
    if (::ioctl(tun.get(), TUNGETFEATURES, &features) < 0 || (features & IFF_VNET_HDR) == 0) {
      if (offload == TapOffload::on) {
        error = "the kernel's tun has no IFF_VNET_HDR (needed for --offload on)";
        return nullptr;
      }
      vnet = false;
    }
  }

  ifreq ifr = request_for(name);
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
  if (::ioctl(tun.get(), TUNSETIFF, &ifr) < 0) {
    error = errno_message(
        fmt::format("TUNSETIFF {} (IFF_TAP | IFF_NO_PI{})", name, vnet ? " | IFF_VNET_HDR" : ""));
    return nullptr;
  }
  if (vnet) {
    // The 12-byte header of virtio 1.x (with num_buffers), little-endian on every host: tun's
    // default is the host's order (legacy virtio), so TUNSETVNETLE matters only on big-endian
    // hosts, and a kernel without it is little-endian-only anyway.
    int size = static_cast<int>(wire::VirtioNetHeader::kSize);
    if (::ioctl(tun.get(), TUNSETVNETHDRSZ, &size) < 0) {
      error = errno_message(fmt::format("TUNSETVNETHDRSZ {} {}", name, size));
      return nullptr;
    }
    int little_endian = 1;
    if (::ioctl(tun.get(), TUNSETVNETLE, &little_endian) < 0 &&
        std::endian::native != std::endian::little) {
      error = errno_message(fmt::format("TUNSETVNETLE {}", name));
      return nullptr;
    }
    // Checksum offload and TSO for TCP/IPv4 only: ustack does not take UFO or TCPv6 GSO.
    if (::ioctl(tun.get(), TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) {
      error = errno_message(fmt::format("TUNSETOFFLOAD {} TUN_F_CSUM | TUN_F_TSO4", name));
      return nullptr;
    }
  }
  // The kernel writes back the name it used (the same, unless the caller passed a pattern such
  // as "tap%d").
  std::string actual_name(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));

  FdGuard control(control_socket(error));
  if (control.get() < 0) return nullptr;

  ifr = request_for(actual_name);
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(control.get(), SIOCSIFMTU, &ifr) < 0) {
    error = errno_message(fmt::format("SIOCSIFMTU {} {}", actual_name, mtu));
    return nullptr;
  }

  ifr = request_for(actual_name);
  if (::ioctl(control.get(), SIOCGIFFLAGS, &ifr) < 0) {
    error = errno_message(fmt::format("SIOCGIFFLAGS {}", actual_name));
    return nullptr;
  }
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(control.get(), SIOCSIFFLAGS, &ifr) < 0) {
    error = errno_message(fmt::format("SIOCSIFFLAGS {} IFF_UP", actual_name));
    return nullptr;
  }

  return std::unique_ptr<TapDevice>(
      new TapDevice(tun.release(), std::move(actual_name), mtu, vnet));
}

TapDevice::TapDevice(int fd, std::string name, std::size_t mtu, bool vnet_header)
    : fd_(fd),
      name_(std::move(name)),
      mtu_(mtu),
      vnet_header_(vnet_header),
      small_frame_(mtu + wire::EthernetHeader::kSize + kOversizeSlack) {
  frame_capacity_ = vnet_header_ ? wire::VirtioNetHeader::kSize + wire::EthernetHeader::kSize +
                                       wire::Ipv4Header::kMaxDatagram
                                 : small_frame_;
}

DeviceOffloads TapDevice::offloads() const {
  if (!vnet_header_) return {};
  return DeviceOffloads{true, wire::Ipv4Header::kMaxDatagram};
}

TapDevice::~TapDevice() {
  ::close(fd_);
}

bool TapDevice::set_host_address(Ipv4Cidr address, std::string& error) {
  FdGuard control(control_socket(error));
  if (control.get() < 0) return false;

  // The address first: setting it makes the kernel derive a classful netmask, which the
  // SIOCSIFNETMASK below then replaces.
  ifreq ifr = request_for(name_);
  ifr.ifr_addr = ipv4_sockaddr(address.address);
  if (::ioctl(control.get(), SIOCSIFADDR, &ifr) < 0) {
    error = errno_message(fmt::format("SIOCSIFADDR {} {}", name_, address.address));
    return false;
  }
  ifr = request_for(name_);
  ifr.ifr_netmask = ipv4_sockaddr(Ipv4Address::from_u32(address.mask()));
  if (::ioctl(control.get(), SIOCSIFNETMASK, &ifr) < 0) {
    error = errno_message(fmt::format("SIOCSIFNETMASK {} /{}", name_, address.prefix_length));
    return false;
  }
  return true;
}

std::size_t TapDevice::receive(std::vector<Packet>& out, std::size_t max) {
  std::size_t received = 0;
  // Frames refused for a bad virtio-net header use up the batch too, so a flood of them cannot
  // keep this loop (and the timers behind it) going.
  std::size_t refused = 0;
  // EINTR retries are bounded separately so that a signal storm cannot spin here forever.
  int interrupted = 0;
  while (received + refused < max) {
    // A new buffer only after a large frame took the last one (small frames are copied out of
    // it into pooled buffers, take_vnet_frame).
    if (spare_.capacity() == 0) spare_ = Packet::allocate(frame_capacity_);
    ssize_t n = ::read(fd_, spare_.data(), frame_capacity_);
    if (n > 0) {
      spare_.put(static_cast<std::size_t>(n));
      Packet frame;
      if (!vnet_header_) {
        frame = std::move(spare_);
      } else if (!take_vnet_frame(frame)) {
        spare_.trim(0);  // dropped: the buffer is read into again
        ++refused;
        continue;
      }
      out.push_back(std::move(frame));
      if (spare_.capacity() != 0) spare_.trim(0);
      ++received;
      continue;
    }
    if (n < 0 && errno == EINTR && ++interrupted < 8) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      ++counters_.rx_errors;
      if (worth_logging(counters_.rx_errors)) {
        log::dev().warn("{}: read: {} ({} read errors so far)", name_, std::strerror(errno),
                        counters_.rx_errors);
      }
    }
    break;  // EAGAIN: drained; or an error, retried at the next poll
  }
  return received;
}

bool TapDevice::take_vnet_frame(Packet& frame) {
  const std::span<const std::uint8_t> bytes = spare_.bytes();
  auto header = wire::VirtioNetHeader::parse(bytes);
  wire::Parsed<PacketOffload> offload =
      header ? header->to_offload(bytes.subspan(wire::VirtioNetHeader::kSize))
             : wire::Parsed<PacketOffload>(header.error());
  if (!offload) {
    ++counters_.rx_bad_vnet;
    if (stats_ != nullptr) {
      if (header) {
        stats_->drop(offload.error(), "{}: {}, frame {} bytes", name_, *header,
                     bytes.size() - wire::VirtioNetHeader::kSize);
      } else {
        stats_->drop(offload.error(), "{}: read {} bytes", name_, bytes.size());
      }
    }
    return false;
  }
  if (bytes.size() - wire::VirtioNetHeader::kSize <= small_frame_) {
    // Copied out, so the 64 KB buffer is kept for the next read.
    frame = Packet::copy_of(bytes.subspan(wire::VirtioNetHeader::kSize));
  } else {
    spare_.pull(wire::VirtioNetHeader::kSize);
    frame = std::move(spare_);
    spare_ = Packet{};
  }
  frame.offload = *offload;
  return true;
}

bool TapDevice::transmit(Packet frame) {
  if (vnet_header_) {
    // In the frame's headroom, so that header and frame go out in one write.
    const auto header = wire::VirtioNetHeader::for_frame(frame.offload, frame.bytes());
    header.emit(frame.push(wire::VirtioNetHeader::kSize));
  }
  for (int attempt = 0; attempt < 8; ++attempt) {
    ssize_t n = ::write(fd_, frame.data(), frame.size());
    if (n >= 0) return true;  // tun writes are all or nothing: one write is one frame
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ++counters_.tx_busy;
      return false;
    }
    ++counters_.tx_errors;
    if (worth_logging(counters_.tx_errors)) {
      log::dev().warn("{}: write of {} bytes: {} ({} write errors so far)", name_, frame.size(),
                      std::strerror(errno), counters_.tx_errors);
    }
    return false;
  }
  return false;
}

}  // namespace ustack
