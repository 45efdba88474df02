// tap_echo: the floor under ustack's ping row. It answers ARP requests and ICMP echo requests on
// a TAP device with as little work as a program can do: one blocking read(), a few header fields
// swapped in place, one write(). No stack, no queues, no threads, no timers. tools/bench pings it
// beside ustackd, so "ping RTT within 1.1x of a bare TAP echo" is measured in the same run.
//
//   tap_echo --tap tap0 --ip 10.0.8.2 [--seconds N]
//
// The TAP must already exist (made by `ip tuntap add ... mode tap` inside a namespace); this
// program only attaches to it. It prints "tap_echo: ready" once attached and exits after
// --seconds (default 600, by alarm) or on SIGINT/SIGTERM, so it never outlives its benchmark.
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

constexpr std::size_t kEthHeader = 14;
constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint8_t kIcmpProtocol = 1;
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr std::uint8_t kIcmpEchoReply = 0;

std::uint16_t load16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// ARP request for `ip` (RFC 826) -> turned into the reply in place. Returns the reply length or 0.
std::size_t arp_reply(std::uint8_t* f, std::size_t n, const std::uint8_t mac[6], std::uint32_t ip) {
  std::uint8_t* a = f + kEthHeader;
  if (n < kEthHeader + 28 || load16(a) != 1 || load16(a + 2) != kEtherTypeIpv4 || a[4] != 6 ||
      a[5] != 4 || load16(a + 6) != 1 || std::memcmp(a + 24, &ip, 4) != 0) {
    return 0;
  }
  store16(a + 6, 2);
  std::memcpy(a + 18, a + 8, 10);  // requester's MAC and IP become the target
  std::memcpy(a + 8, mac, 6);
  std::memcpy(a + 14, &ip, 4);
  std::memcpy(f, a + 18, 6);
  std::memcpy(f + 6, mac, 6);
  return kEthHeader + 28;
}

// ICMP echo request for `ip` -> echo reply in place (RFC 792). Only the type changes in the ICMP
// message, so its checksum is updated incrementally (RFC 1624 eqn. 3); the IPv4 header keeps its
// checksum since swapping source and destination leaves the one's-complement sum unchanged.
std::size_t echo_reply(std::uint8_t* f, std::size_t n, std::uint32_t ip) {
  std::uint8_t* h = f + kEthHeader;
  if (n < kEthHeader + 20 || (h[0] >> 4) != 4) return 0;
  const std::size_t ihl = static_cast<std::size_t>(h[0] & 0x0f) * 4;
  const std::size_t total = load16(h + 2);
  if (ihl < 20 || total < ihl + 8 || kEthHeader + total > n || h[9] != kIcmpProtocol ||
      std::memcmp(h + 16, &ip, 4) != 0 || (load16(h + 6) & 0x3fff) != 0) {
    return 0;
  }
  std::uint8_t* icmp = h + ihl;
  if (icmp[0] != kIcmpEchoRequest || icmp[1] != 0) return 0;
  std::array<std::uint8_t, 6> mac{};
  std::memcpy(mac.data(), f, 6);
  std::memcpy(f, f + 6, 6);
  std::memcpy(f + 6, mac.data(), 6);
  std::uint8_t addr[4];
  std::memcpy(addr, h + 12, 4);
  std::memcpy(h + 12, h + 16, 4);
  std::memcpy(h + 16, addr, 4);
  icmp[0] = kIcmpEchoReply;
  // HC' = ~(~HC + ~m + m'), with m = 0x0800 (type 8, code 0) and m' = 0x0000.
  std::uint32_t sum = static_cast<std::uint16_t>(~load16(icmp + 2)) + 0xf7ffu;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  store16(icmp + 2, static_cast<std::uint16_t>(~sum));
  return kEthHeader + total;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tap_echo: answers ARP and ping on a TAP with no stack (tools/bench's ping floor)"};
  std::string tap;
  std::string ip_text;
  int seconds = 600;
  app.add_option("--tap", tap, "an existing TAP device to attach to")->required();
  app.add_option("--ip", ip_text, "the IPv4 address to answer for")->required();
  app.add_option("--seconds", seconds, "exit after this many seconds")->check(CLI::Range(1, 3600));
  CLI11_PARSE(app, argc, argv);

  std::uint32_t ip = 0;
  if (inet_pton(AF_INET, ip_text.c_str(), &ip) != 1) {
    std::fprintf(stderr, "tap_echo: bad --ip %s\n", ip_text.c_str());
    return 2;
  }
  const int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::perror("tap_echo: /dev/net/tun");
    return 1;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap.c_str());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    std::perror("tap_echo: TUNSETIFF");
    return 1;
  }
  // A locally administered unicast MAC of its own (not the TAP's, which is the host side's).
  const std::uint8_t mac[6] = {0x02, 0x00, 0x00, 0x0e, 0xc0, 0x02};
  // No SA_RESTART: a signal (or the alarm that ends the run) interrupts the blocking read.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  for (int sig : {SIGINT, SIGTERM, SIGALRM}) sigaction(sig, &sa, nullptr);
  alarm(static_cast<unsigned>(seconds));
  std::printf("tap_echo: ready on %s for %s\n", tap.c_str(), ip_text.c_str());
  std::fflush(stdout);

  std::array<std::uint8_t, 65536> frame{};
  std::uint64_t replies = 0;
  while (!g_stop) {
    const ssize_t got = read(fd, frame.data(), frame.size());
    if (got < static_cast<ssize_t>(kEthHeader)) continue;
    const auto n = static_cast<std::size_t>(got);
    std::size_t out = 0;
    switch (load16(frame.data() + 12)) {
      case kEtherTypeArp:
        out = arp_reply(frame.data(), n, mac, ip);
        break;
      case kEtherTypeIpv4:
        out = echo_reply(frame.data(), n, ip);
        break;
      default:
        break;
    }
    if (out != 0 && write(fd, frame.data(), out) == static_cast<ssize_t>(out)) ++replies;
  }
  std::printf("tap_echo: %llu replies\n", static_cast<unsigned long long>(replies));
  close(fd);
  return 0;
}
