// TapDevice against the real kernel — but never in the root network namespace. A forked child
// moves into a network namespace of its own (unshare(CLONE_NEWNET), see network_namespaces(7)),
// opens a TAP there, gives the kernel side 10.9.0.1/24, checks the link, then sends an ARP request
// for 10.9.0.1 and expects the kernel's reply to come back through receive(). The child reports
// through a pipe and its exit status; the namespace and the TAP vanish when it exits.
#include "netdev/tap_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "stack/wire/arp.h"
#include "stack/wire/ethernet.h"

namespace ustack {
namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitSkip = 77;

constexpr std::string_view kTapName = "ustk-test0";
constexpr std::size_t kMtu = 1400;
constexpr MacAddress kOurMac(0x02, 0, 0, 0, 0x09, 0x02);
constexpr Ipv4Address kHostIp(10, 9, 0, 1);
constexpr Ipv4Address kOurIp(10, 9, 0, 2);

struct ChildResult {
  int status;           // kExitPass / kExitFail / kExitSkip
  std::string message;  // what the child found, one finding per line
};

// Everything that runs inside the child's own network namespace. Returns the exit status and
// appends findings to `report`.
int check_tap_in_namespace(std::string& report) {
  if (::unshare(CLONE_NEWNET) != 0) {
    report += fmt::format("unshare(CLONE_NEWNET) failed: {}\n", std::strerror(errno));
    return kExitSkip;
  }

  std::string error;
  auto tap = TapDevice::open(kTapName, kMtu, error);
  if (!tap) {
    report += "TapDevice::open failed: " + error + "\n";
    return kExitFail;
  }
  int failures = 0;
  auto check = [&](bool ok, std::string what) {
    if (!ok) {
      report += "FAILED: " + what + "\n";
      ++failures;
    }
  };

  check(tap->name() == kTapName, fmt::format("name is {}", tap->name()));
  check(tap->mtu() == kMtu, "mtu()");
  int fl = ::fcntl(tap->fd(), F_GETFL);
  check(fl >= 0 && (fl & O_NONBLOCK) != 0, "descriptor is O_NONBLOCK");
  int fdfl = ::fcntl(tap->fd(), F_GETFD);
  check(fdfl >= 0 && (fdfl & FD_CLOEXEC) != 0, "descriptor is close-on-exec");

  // What the kernel says about the link (netdevice(7)).
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    report += fmt::format("socket: {}\n", std::strerror(errno));
    return kExitFail;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, kTapName.data(), kTapName.size());
  check(::ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) != 0, "link is up");
  ifr = ifreq{};
  std::memcpy(ifr.ifr_name, kTapName.data(), kTapName.size());
  check(::ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == static_cast<int>(kMtu),
        fmt::format("kernel MTU is {} (want {})", ifr.ifr_mtu, kMtu));

  if (!tap->set_host_address(Ipv4Cidr{kHostIp, 24}, error)) {
    report += "set_host_address failed: " + error + "\n";
    ::close(s);
    return kExitFail;
  }
  auto address_of = [&](unsigned long request) {
    ifreq r{};
    std::memcpy(r.ifr_name, kTapName.data(), kTapName.size());
    if (::ioctl(s, request, &r) != 0) return Ipv4Address{};
    sockaddr_in sin{};
    std::memcpy(&sin, &r.ifr_addr, sizeof sin);
    return Ipv4Address::from_u32(ntohl(sin.sin_addr.s_addr));
  };
  check(address_of(SIOCGIFADDR) == kHostIp, "kernel side has 10.9.0.1");
  check(address_of(SIOCGIFNETMASK) == Ipv4Address(255, 255, 255, 0), "netmask is /24");
  ::close(s);

  // An ARP request for the kernel's address, as the stack would send it.
  std::vector<std::uint8_t> request(wire::EthernetHeader::kSize + wire::ArpPacket::kSize);
  wire::EthernetHeader eth{MacAddress::broadcast(), kOurMac,
                           static_cast<std::uint16_t>(wire::EtherType::arp)};
  eth.emit(request.data());
  wire::ArpPacket arp;
  arp.op = wire::ArpOp::request;
  arp.sender_mac = kOurMac;
  arp.sender_ip = kOurIp;
  arp.target_ip = kHostIp;
  arp.emit(request.data() + wire::EthernetHeader::kSize);
  check(tap->transmit(Packet::copy_of(request)), "transmit() took the ARP request");

  // The kernel also sends IPv6 neighbour discovery on a fresh link; skip anything else.
  bool answered = false;
  std::size_t frames_seen = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (int round = 0; round < 100 && !answered && std::chrono::steady_clock::now() < give_up;
       ++round) {
    pollfd pfd{tap->fd(), POLLIN, 0};
    ::poll(&pfd, 1, 50);
    std::vector<Packet> frames;
    tap->receive(frames, 16);
    for (const Packet& f : frames) {
      ++frames_seen;
      check(f.headroom() == Packet::kDefaultHeadroom, "received frame has the default headroom");
      check(f.size() <= kMtu + wire::EthernetHeader::kSize, "received frame within the MTU");
      auto e = wire::EthernetHeader::parse(f.bytes());
      if (!e || e->ethertype != static_cast<std::uint16_t>(wire::EtherType::arp)) continue;
      auto a = wire::ArpPacket::parse(f.bytes().subspan(wire::EthernetHeader::kSize));
      if (!a || a->op != wire::ArpOp::reply) continue;
      check(e->dst == kOurMac, "reply sent to our MAC");
      check(a->sender_ip == kHostIp && a->target_ip == kOurIp && a->target_mac == kOurMac,
            fmt::format("reply is for us: {}", *a));
      answered = true;
    }
  }
  check(answered,
        fmt::format("kernel answered the ARP request ({} other frames seen)", frames_seen));
  check(tap->counters().rx_errors == 0 && tap->counters().tx_errors == 0, "no device errors");

  // Closing the descriptor deletes the (non-persistent) TAP.
  tap.reset();
  check(::if_nametoindex(std::string(kTapName).c_str()) == 0, "TAP removed on destruction");
  return failures == 0 ? kExitPass : kExitFail;
}

// Runs check_tap_in_namespace in a child process, bounded in time.
ChildResult run_in_child() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {kExitFail, "pipe2 failed"};
  pid_t pid = ::fork();
  if (pid < 0) return {kExitFail, "fork failed"};
  if (pid == 0) {
    ::close(fds[0]);
    std::string report;
    int status = check_tap_in_namespace(report);
    // Best effort: a short write only shortens the report, the exit status still counts.
    [[maybe_unused]] ssize_t n = ::write(fds[1], report.data(), report.size());
    ::_exit(status);
  }
  ::close(fds[1]);
  std::string message;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool eof = false;
  while (!eof && std::chrono::steady_clock::now() < give_up) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      message.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      eof = true;
    }
  }
  ::close(fds[0]);
  if (!eof) {
    ::kill(pid, SIGKILL);
    message += "child timed out after 30 s\n";
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  if (!eof || !WIFEXITED(wstatus)) return {kExitFail, message + "child did not exit normally"};
  return {WEXITSTATUS(wstatus), message};
}

TEST(TapDevice, WorksWithTheKernelInsideAPrivateNetworkNamespace) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "\n*** SKIPPED: the TAP test needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for "
                    "a private network namespace); run the tests as root to cover TapDevice ***";
  }
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) {
    GTEST_SKIP() << "\n*** SKIPPED: /dev/net/tun is missing or not accessible ("
                 << std::strerror(errno) << "); TapDevice is NOT tested ***";
  }
  ChildResult result = run_in_child();
  if (result.status == kExitSkip) {
    GTEST_SKIP() << "\n*** SKIPPED: cannot make a private network namespace, and this test never "
                    "touches the root one: "
                 << result.message << " ***";
  }
  EXPECT_EQ(result.status, kExitPass) << result.message;
}

TEST(TapDevice, RejectsBadArgumentsBeforeTouchingTheKernel) {
  std::string error;
  EXPECT_EQ(TapDevice::open("", 1500, error), nullptr);
  EXPECT_NE(error.find("name"), std::string::npos) << error;
  error.clear();
  EXPECT_EQ(TapDevice::open("a-name-much-too-long-for-linux", 1500, error), nullptr);
  EXPECT_NE(error.find("name"), std::string::npos) << error;
  error.clear();
  EXPECT_EQ(TapDevice::open("ustk-bad0", 67, error), nullptr);
  EXPECT_NE(error.find("MTU"), std::string::npos) << error;
  error.clear();
  EXPECT_EQ(TapDevice::open("ustk-bad0", 65536, error), nullptr);
  EXPECT_NE(error.find("MTU"), std::string::npos) << error;
}

}  // namespace
}  // namespace ustack
