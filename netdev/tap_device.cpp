#include "netdev/tap_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "stack/base/log.h"
#include "stack/wire/ethernet.h"

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
                                           std::string& error) {
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

  ifreq ifr = request_for(name);
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI);
  if (::ioctl(tun.get(), TUNSETIFF, &ifr) < 0) {
    error = errno_message(fmt::format("TUNSETIFF {} (IFF_TAP | IFF_NO_PI)", name));
    return nullptr;
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

  return std::unique_ptr<TapDevice>(new TapDevice(tun.release(), std::move(actual_name), mtu));
}

TapDevice::TapDevice(int fd, std::string name, std::size_t mtu)
    : fd_(fd),
      name_(std::move(name)),
      mtu_(mtu),
      frame_capacity_(mtu + wire::EthernetHeader::kSize + kOversizeSlack) {}

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
  // EINTR retries are bounded separately so that a signal storm cannot spin here forever.
  int interrupted = 0;
  while (received < max) {
    // One allocation per frame; a buffer pool comes with the performance work.
    if (spare_.capacity() == 0) spare_ = Packet::allocate(frame_capacity_);
    ssize_t n = ::read(fd_, spare_.data(), frame_capacity_);
    if (n > 0) {
      spare_.put(static_cast<std::size_t>(n));
      out.push_back(std::move(spare_));
      spare_ = Packet{};
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

bool TapDevice::transmit(Packet frame) {
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
