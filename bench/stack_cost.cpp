// stack_cost: the deterministic cost of moving data through ustack. Two Stacks joined by a
// MemoryLink, driven by a ManualClock in one thread, move a fixed number of bytes over one TCP
// connection (A sends, B reads). Nothing depends on the machine's speed or load, so the count of
// instructions executed per MB is a number that only changes when the code does.
//
//   stack_cost [--bytes N] [--mtu N]
//
// The transfer runs inside the function stack_cost_transfer, so that
//   valgrind --tool=callgrind --toggle-collect=stack_cost_transfer build/.../stack_cost
// counts exactly it; adding --toggle-collect=stack_cost_verify leaves out the receiver's check of
// the data (tools/bench --callgrind does both). Run natively, it counts user-space
// instructions with perf_event_open when the kernel allows it (JSON null otherwise). It prints
// one JSON line and exits non-zero if the transfer did not complete intact.
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netdev/memory_link.h"
#include "stack/base/log.h"
#include "stack/runtime.h"
#include "stack/stack.h"

namespace {

using namespace std::chrono_literals;

constexpr ustack::Ipv4Address kIpA{10, 1, 0, 1};
constexpr ustack::Ipv4Address kIpB{10, 1, 0, 2};
constexpr std::uint16_t kPort = 9;

sockaddr_in inet(ustack::Ipv4Address address, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  s.sin_addr.s_addr = htonl(address.to_u32());
  return s;
}

// Two stacks in virtual time, as the stack-to-stack tests run them (tests/support/socket_pair.h,
// which needs GoogleTest, so the few lines it takes are repeated here).
class Pair {
 public:
  explicit Pair(std::size_t mtu)
      : link_(mtu),
        a_(ustack::Rng(1)),
        b_(ustack::Rng(2)),
        runtime_a_(a_, clock_),
        runtime_b_(b_, clock_) {
    a_.set_now(clock_.now());
    b_.set_now(clock_.now());
    a_.add_interface(link_.a(), config({0x02, 0, 0, 0, 1, 1}, kIpA));
    b_.add_interface(link_.b(), config({0x02, 0, 0, 0, 2, 2}, kIpB));
    step(0ms);
  }

  ustack::SocketApi& a() { return runtime_a_.api(); }
  ustack::SocketApi& b() { return runtime_b_.api(); }
  ustack::Stack& stack_a() { return a_; }
  ustack::Stack& stack_b() { return b_; }
  ustack::Instant now() const { return clock_.now(); }

  void step(ustack::Duration d) {
    {
      std::scoped_lock lock(runtime_a_.core_lock(), runtime_b_.core_lock());
      clock_.advance(d);
    }
    runtime_a_.poll_now();
    runtime_b_.poll_now();
  }
  ustack::Instant next_deadline() {
    std::scoped_lock lock(runtime_a_.core_lock(), runtime_b_.core_lock());
    return std::min(a_.next_deadline(), b_.next_deadline());
  }
  std::uint64_t frames() {
    return a_.stats().get("dev.tx_frames") + b_.stats().get("dev.tx_frames");
  }

 private:
  static ustack::InterfaceConfig config(ustack::MacAddress mac, ustack::Ipv4Address ip) {
    ustack::InterfaceConfig c;
    c.mac = mac;
    c.address = {ip, 24};
    return c;
  }

  ustack::ManualClock clock_;
  ustack::MemoryLink link_;
  ustack::Stack a_;
  ustack::Stack b_;
  ustack::Runtime runtime_a_;
  ustack::Runtime runtime_b_;
};

struct Result {
  bool intact = false;
  std::uint64_t received = 0;
  std::uint64_t steps = 0;
  ustack::Duration virtual_time{0};
  std::string error;
};

// User-space instructions of this thread, from the PMU (absent in VMs and containers that hide it,
// and under valgrind).
class InstructionCounter {
 public:
  InstructionCounter() {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_HARDWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  }
  ~InstructionCounter() {
    if (fd_ >= 0) close(fd_);
  }
  InstructionCounter(const InstructionCounter&) = delete;
  InstructionCounter& operator=(const InstructionCounter&) = delete;

  void start() {
    if (fd_ < 0) return;
    ioctl(fd_, PERF_EVENT_IOC_RESET, 0);
    ioctl(fd_, PERF_EVENT_IOC_ENABLE, 0);
  }
  std::optional<std::uint64_t> stop() {
    if (fd_ < 0) return std::nullopt;
    ioctl(fd_, PERF_EVENT_IOC_DISABLE, 0);
    std::uint64_t count = 0;
    if (read(fd_, &count, sizeof count) != sizeof count) return std::nullopt;
    return count;
  }

 private:
  int fd_ = -1;
};

}  // namespace

// True if data[0, n) is the sender's repeating pattern at stream offset `pos`. Its own
// function, so callgrind can leave it out (a second --toggle-collect=stack_cost_verify turns
// collection off inside it): the check is the benchmark's, not the stack's.
extern "C" [[gnu::noinline]] bool stack_cost_verify(const std::vector<std::uint8_t>& pattern,
                                                    std::uint64_t pos, const std::uint8_t* data,
                                                    std::size_t n) {
  while (n > 0) {
    const std::size_t at = static_cast<std::size_t>(pos % pattern.size());
    const std::size_t take = std::min(n, pattern.size() - at);
    if (std::memcmp(pattern.data() + at, data, take) != 0) return false;
    data += take;
    pos += take;
    n -= take;
  }
  return true;
}

// The measured part: A sends `bytes` and half-closes, B reads until EOF and checks what it got.
// Not inlined and with C linkage, so callgrind's --toggle-collect can name it exactly.
extern "C" [[gnu::noinline]] void stack_cost_transfer(Pair& pair, int client, int server,
                                                      std::uint64_t bytes, Result& r) {
  std::vector<std::uint8_t> out(65536);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 7 + 3);
  std::vector<std::uint8_t> in(65536);
  std::uint64_t sent = 0;
  std::size_t out_pos = 0;
  bool shut = false;
  bool eof = false;
  const ustack::Instant start = pair.now();
  // Bounded in virtual time: a transfer that stalls ends as a failure, not a hang.
  const ustack::Instant limit = start + 3600s;
  while (!eof && pair.now() < limit) {
    bool moved = false;
    while (sent < bytes) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - out_pos, bytes - sent));
      const ssize_t w = pair.a().send(client, out.data() + out_pos, n, 0);
      if (w <= 0) break;
      sent += static_cast<std::uint64_t>(w);
      out_pos = (out_pos + static_cast<std::size_t>(w)) % out.size();
      moved = true;
    }
    if (sent == bytes && !shut) {
      pair.a().shutdown(client, SHUT_WR);
      shut = true;
    }
    while (true) {
      const ssize_t n = pair.b().recv(server, in.data(), in.size(), 0);
      if (n < 0) break;
      moved = true;
      if (n == 0) {
        eof = true;
        break;
      }
      // The receiver checks every byte against the sender's pattern: a cost benchmark of a stack
      // that corrupts data would be meaningless.
      if (!stack_cost_verify(out, r.received, in.data(), static_cast<std::size_t>(n))) {
        r.error = "the bytes from " + std::to_string(r.received) + " differ from what was sent";
        return;
      }
      r.received += static_cast<std::uint64_t>(n);
    }
    const std::uint64_t frames_before = pair.frames();
    pair.step(1ms);
    ++r.steps;
    if (!moved && pair.frames() == frames_before) {
      // Idle until the next timer: jump there in one step.
      const ustack::Instant next = std::min(pair.next_deadline(), limit);
      if (next > pair.now()) pair.step(next - pair.now());
    }
  }
  r.virtual_time = pair.now() - start;
  r.intact = eof && r.received == bytes;
  if (!eof) r.error = "no EOF within the virtual-time limit";
}

int main(int argc, char** argv) {
  CLI::App app{"stack_cost: instructions per MB through two ustack Stacks in virtual time"};
  std::uint64_t bytes = 64ull * 1024 * 1024;
  std::size_t mtu = 1500;
  app.add_option("--bytes", bytes, "bytes to transfer")->capture_default_str();
  app.add_option("--mtu", mtu, "link MTU")->capture_default_str()->check(CLI::Range(576, 65535));
  CLI11_PARSE(app, argc, argv);
  ustack::log::set_levels("warn");

  Pair pair(mtu);
  ustack::SocketApi& a = pair.a();
  ustack::SocketApi& b = pair.b();
  const int listener = b.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const sockaddr_in local = inet(kIpB, kPort);
  if (listener < 0 || b.bind(listener, reinterpret_cast<const sockaddr*>(&local), sizeof local) ||
      b.listen(listener, 16)) {
    std::fprintf(stderr, "stack_cost: listen: %s\n", std::strerror(errno));
    return 1;
  }
  const int client = a.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const sockaddr_in to = inet(kIpB, kPort);
  if (client < 0 || (a.connect(client, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
                     errno != EINPROGRESS)) {
    std::fprintf(stderr, "stack_cost: connect: %s\n", std::strerror(errno));
    return 1;
  }
  int server = -1;
  for (int i = 0; i < 10000 && server < 0; ++i) {
    pair.step(1ms);
    server = b.accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  }
  if (server < 0) {
    std::fprintf(stderr, "stack_cost: B accepted no connection\n");
    return 1;
  }

  InstructionCounter counter;
  const auto wall_start = std::chrono::steady_clock::now();
  counter.start();
  Result r;
  stack_cost_transfer(pair, client, server, bytes, r);
  const std::optional<std::uint64_t> instructions = counter.stop();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (!r.intact) {
    std::fprintf(stderr, "stack_cost: transfer failed after %llu of %llu bytes: %s\n",
                 static_cast<unsigned long long>(r.received),
                 static_cast<unsigned long long>(bytes), r.error.c_str());
    return 1;
  }
  a.close(client);
  b.close(server);
  b.close(listener);

  const double mb = static_cast<double>(bytes) / 1e6;
  nlohmann::json j;
  j["mode"] = "stack-cost";
  j["bytes"] = bytes;
  j["mtu"] = mtu;
  j["steps"] = r.steps;
  j["frames"] = pair.frames();
  j["virtual_seconds"] = std::chrono::duration<double>(r.virtual_time).count();
  j["wall_seconds"] = wall;
  j["wall_mb_per_s"] = wall > 0 ? mb / wall : 0.0;
  if (instructions) {
    j["instructions"] = *instructions;
    j["instructions_per_mb"] = static_cast<double>(*instructions) / mb;
  } else {
    j["instructions"] = nullptr;
    j["instructions_per_mb"] = nullptr;
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
