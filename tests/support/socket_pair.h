// Test support for the socket API: two Stacks, A = 10.1.0.1/24 and B = 10.1.0.2/24, over a
// MemoryLink (optionally through a FaultInjector on A's end), each with its own Runtime. Since
// two Runtimes exist, tests call each stack through its SocketApi, pair.a() and pair.b(), never
// through the free functions (which act on the last Runtime constructed).
//
// Two ways to drive it:
//  - ManualClock (the default): single-threaded tests with non-blocking sockets call step(),
//    which advances the clock and has both Runtimes poll (waking any call blocked on a thread);
//  - real time (options.real_time): start() runs both Runtimes' I/O threads, and application
//    threads make blocking calls.
//
//   ApiPair pair;
//   int fd = udp_socket(pair.a(), kIpA, 5000);
//   pair.a().sendto(fd, "hi", 2, 0, sa(to), sizeof to);
//   pair.run_until([&] { return ...; }, 1s);
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <thread>

#include "netdev/fault_injector.h"
#include "netdev/memory_link.h"
#include "stack/base/log.h"
#include "stack/runtime.h"
#include "stack/stack.h"
#include "stack/udp/udp.h"
#include "support/frames.h"
#include "support/software_gso.h"
#include "support/two_stacks.h"  // kIpA, kIpB, kMacA, kMacB

namespace ustack {
// Endpoints print as address:port in assertion failures.
inline void PrintTo(const Endpoint& e, std::ostream* os) {
  *os << fmt::format("{}", e);
}
}  // namespace ustack

// Asserts a call failed with exactly this errno.
#define EXPECT_ERRNO(call, error)                                         \
  do {                                                                    \
    errno = 0;                                                            \
    const auto result_ = (call);                                          \
    EXPECT_EQ(result_, -1) << #call;                                      \
    EXPECT_EQ(errno, error) << #call << ": got " << std::strerror(errno); \
  } while (0)

namespace ustack::test {

// How long a threaded test waits, in real time, for something that should happen at once. Only
// a hang guard: passing runs never come near it.
inline constexpr auto kHangGuard = std::chrono::seconds(20);

struct ApiPairOptions {
  // SteadyClock and I/O threads instead of a ManualClock stepped by the test.
  bool real_time = false;
  StackConfig config{};
  std::size_t mtu = 1500;
  std::uint64_t seed = 1;
  // Faults on A's end of the link (both directions unless the config says otherwise).
  std::optional<FaultConfig> faults;
  // Offloads the link offers both stacks (MemoryLink carries the marked frames); with any, each
  // stack's end goes through a SoftwareGso (gso_a(), gso_b()) that records what it sends and,
  // with split_gso, cuts offloaded frames into MTU-sized ones on the way out.
  DeviceOffloads offloads{};
  bool split_gso = false;
};

class ApiPair {
 public:
  explicit ApiPair(const ApiPairOptions& options = {})
      : real_time_(options.real_time),
        link_(options.mtu, MemoryLink::kDefaultQueueLimit, options.offloads),
        injector_(options.faults
                      ? std::make_unique<FaultInjector>(link_.a(), clock_ref(), *options.faults)
                      : nullptr),
        a_(Rng(options.seed), options.config),
        b_(Rng(options.seed + 1), options.config),
        runtime_a_(a_, clock_ref()),
        runtime_b_(b_, clock_ref()) {
    quiet_logs();
    a_.set_now(clock_ref().now());
    b_.set_now(clock_ref().now());
    NetDevice* end_a = injector_ ? static_cast<NetDevice*>(injector_.get()) : &link_.a();
    NetDevice* end_b = &link_.b();
    if (options.offloads.tx_checksum || options.offloads.tso_max != 0) {
      gso_a_ = std::make_unique<SoftwareGso>(*end_a, options.offloads, options.split_gso);
      gso_b_ = std::make_unique<SoftwareGso>(*end_b, options.offloads, options.split_gso);
      end_a = gso_a_.get();
      end_b = gso_b_.get();
    }
    a_.add_interface(*end_a, interface_config(kMacA, kIpA));
    b_.add_interface(*end_b, interface_config(kMacB, kIpB));
    if (!real_time_) step(0ms);
  }
  ~ApiPair() {
    runtime_a_.stop();
    runtime_b_.stop();
  }
  ApiPair(const ApiPair&) = delete;
  ApiPair& operator=(const ApiPair&) = delete;

  SocketApi& a() { return runtime_a_.api(); }
  SocketApi& b() { return runtime_b_.api(); }
  Stack& stack_a() { return a_; }
  Stack& stack_b() { return b_; }
  Runtime& runtime_a() { return runtime_a_; }
  Runtime& runtime_b() { return runtime_b_; }
  ManualClock& clock() { return manual_; }
  FaultInjector& injector() { return *injector_; }
  SoftwareGso& gso_a() { return *gso_a_; }
  SoftwareGso& gso_b() { return *gso_b_; }

  // Starts both I/O threads (real time only).
  void start() {
    ASSERT_TRUE(real_time_);
    ASSERT_TRUE(runtime_a_.start());
    ASSERT_TRUE(runtime_b_.start());
  }

  // ManualClock only: advances the clock by `d` (with both core locks held, since threads
  // blocked in the API read the clock) and polls both stacks, waking every blocked call.
  void step(Duration d = 1ms) {
    {
      std::scoped_lock lock(runtime_a_.core_lock(), runtime_b_.core_lock());
      manual_.advance(d);
    }
    runtime_a_.poll_now();
    runtime_b_.poll_now();
  }
  // Steps until `done` returns true (true) or `limit` of virtual time has passed (false).
  bool run_until(const std::function<bool()>& done, Duration limit, Duration step_size = 1ms) {
    const Instant end = manual_.now() + limit;
    while (!done()) {
      if (manual_.now() >= end) return false;
      step(step_size);
    }
    return true;
  }
  void run_for(Duration d, Duration step_size = 1ms) {
    run_until([] { return false; }, d, step_size);
  }

  // ManualClock only: lets A and B learn each other's MAC (a ping from A), so that a burst of
  // datagrams does not overflow ARP's queue of packets waiting for a resolution.
  void resolve_arp() {
    {
      std::lock_guard lock(runtime_a_.core_lock());
      a_.icmp().send_echo_request(kIpB, 0xa1a1, 1, {});
      a_.flush_devices();
    }
    run_until([&] { return a_.arp().lookup(a_.interface(0), kIpB).has_value(); }, 1s);
    run_for(5ms);
    std::lock_guard lock(runtime_a_.core_lock());
    while (a_.icmp().take_echo_reply()) {
    }
  }

  // A counter of stack A or B, read under its core lock (safe while I/O threads run).
  std::uint64_t counter_a(std::string_view name) { return counter(runtime_a_, name); }
  std::uint64_t counter_b(std::string_view name) { return counter(runtime_b_, name); }

 private:
  const Clock& clock_ref() const {
    return real_time_ ? static_cast<const Clock&>(steady_) : static_cast<const Clock&>(manual_);
  }
  static std::uint64_t counter(Runtime& r, std::string_view name) {
    std::lock_guard lock(r.core_lock());
    return r.stack().stats().get(name);
  }
  static InterfaceConfig interface_config(MacAddress mac, Ipv4Address ip) {
    InterfaceConfig c;
    c.mac = mac;
    c.address = {ip, 24};
    return c;
  }
  static void quiet_logs() {
    static const bool once = [] {
      log::set_levels("warn");
      log::set_levels_from_env();
      return true;
    }();
    (void)once;
  }

  bool real_time_;
  ManualClock manual_;
  SteadyClock steady_;
  MemoryLink link_;
  std::unique_ptr<FaultInjector> injector_;
  std::unique_ptr<SoftwareGso> gso_a_;
  std::unique_ptr<SoftwareGso> gso_b_;
  Stack a_;
  Stack b_;
  Runtime runtime_a_;
  Runtime runtime_b_;
};

// ---------------------------------------------------------------------------------------------
// Addresses

inline sockaddr_in inet(Ipv4Address address, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  s.sin_addr.s_addr = htonl(address.to_u32());
  return s;
}
inline const sockaddr* sa(const sockaddr_in& s) {
  return reinterpret_cast<const sockaddr*>(&s);
}
inline sockaddr* sa(sockaddr_in& s) {
  return reinterpret_cast<sockaddr*>(&s);
}

inline Endpoint endpoint(const sockaddr_in& s) {
  return Endpoint{Ipv4Address::from_u32(ntohl(s.sin_addr.s_addr)), ntohs(s.sin_port)};
}

// getsockname as an Endpoint (0.0.0.0:0 with a failed EXPECT on error).
inline Endpoint local_endpoint(SocketApi& api, int fd) {
  sockaddr_in s{};
  socklen_t len = sizeof s;
  EXPECT_EQ(api.getsockname(fd, sa(s), &len), 0) << std::strerror(errno);
  EXPECT_EQ(len, sizeof s);
  return endpoint(s);
}

// A UDP socket bound to address:port (port 0: an ephemeral one).
inline int udp_socket(SocketApi& api, Ipv4Address address = Ipv4Address{}, std::uint16_t port = 0,
                      int type_flags = 0) {
  const int fd = api.socket(AF_INET, SOCK_DGRAM | type_flags, 0);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  const sockaddr_in local = inet(address, port);
  EXPECT_EQ(api.bind(fd, sa(local), sizeof local), 0) << std::strerror(errno);
  return fd;
}

inline ssize_t send_to(SocketApi& api, int fd, std::span<const std::uint8_t> data, Endpoint to,
                       int flags = 0) {
  const sockaddr_in dst = inet(to.address, to.port);
  return api.sendto(fd, data.data(), data.size(), flags, sa(dst), sizeof dst);
}

struct Received {
  Bytes data;
  Endpoint from;
};

// One datagram if one is queued (a non-blocking read of up to 65536 bytes), else nothing.
inline std::optional<Received> receive(SocketApi& api, int fd) {
  Bytes buf(65536);
  sockaddr_in from{};
  socklen_t len = sizeof from;
  const ssize_t n = api.recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT, sa(from), &len);
  if (n < 0) {
    EXPECT_EQ(errno, EAGAIN) << std::strerror(errno);
    return std::nullopt;
  }
  buf.resize(static_cast<std::size_t>(n));
  return Received{std::move(buf), endpoint(from)};
}

// The UDP socket behind a descriptor, for looking at its queue (core lock held by the caller,
// or no thread running).
inline std::shared_ptr<udp::UdpSocket> udp_socket_of(Stack& stack, int fd) {
  auto s = stack.sockets().get(fd);
  if (!s || s->kind() != SocketKind::udp) return nullptr;
  return std::static_pointer_cast<udp::UdpSocket>(s);
}

// drops_since (support/frames.h) without the UDP traffic counters, which its list of traffic
// counters predates.
inline CounterMap udp_drops_since(const CounterMap& before, const Stats& stats) {
  CounterMap out = drops_since(before, stats);
  for (const char* traffic : {"udp.rx", "udp.tx", "udp.delivered", "udp.icmp_error"}) {
    out.erase(traffic);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Threads

// What a call returned and the errno it left (errno is per thread).
struct CallResult {
  long value = 0;
  int error = 0;
};

// Runs one call on its own thread. If the test leaves before the call returned (a failed
// assertion), `unblock` is run first so that the destructor's join cannot hang.
class Background {
 public:
  Background(std::function<long()> call, std::function<void()> unblock)
      : unblock_(std::move(unblock)), future_(std::async(std::launch::async, [call] {
          errno = 0;
          const long v = call();
          return CallResult{v, v < 0 ? errno : 0};
        })) {}
  ~Background() {
    if (future_.valid() && !done(std::chrono::milliseconds(0)) && unblock_) unblock_();
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  bool done(std::chrono::milliseconds within) {
    return future_.wait_for(within) == std::future_status::ready;
  }
  // Waits (at most kHangGuard) and returns the result; fails the test if the call never returned.
  CallResult result() {
    if (!done(std::chrono::duration_cast<std::chrono::milliseconds>(kHangGuard))) {
      ADD_FAILURE() << "the call did not return";
      if (unblock_) unblock_();
    }
    return future_.get();
  }

 private:
  std::function<void()> unblock_;
  std::future<CallResult> future_;
};

// Waits (real time, bounded by kHangGuard) until `count` API calls of `runtime`'s stack sleep on
// its condition variable. True if they did.
inline bool wait_until_blocked(Runtime& runtime, int count = 1) {
  const auto end = std::chrono::steady_clock::now() + kHangGuard;
  while (std::chrono::steady_clock::now() < end) {
    {
      std::lock_guard lock(runtime.core_lock());
      if (runtime.stack().sockets().waiters() >= count) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

}  // namespace ustack::test
