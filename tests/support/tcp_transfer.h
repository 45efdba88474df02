// Test support for bulk TCP transfers between the two Stacks of an ApiPair (ManualClock), driven
// by applications with non-blocking sockets inside the step loop.
//
// The bytes of a transfer come from a seeded generator that can produce any stretch of its
// stream from its offset, so the sender never keeps what it sent and the receiver checks every
// byte it reads against the stream, as it reads it — a check as strong as a hash of the whole
// transfer, that also says at which offset the first wrong byte is.
//
//   ApiPair pair(options);
//   Connection c = open_connection(pair, 80);              // A connects to B:80
//   Side a("A", pair.a(), c.client, {.send_bytes = n, .send_seed = 1, .expect_bytes = n,
//                                    .expect_seed = 2});
//   Side b("B", pair.b(), c.server, {... the mirror ...});
//   RunResult run = run_sides(pair, {&a, &b}, 600s);     // both done, or the limit
//   EXPECT_TRUE(a.intact() && b.intact());
//   EXPECT_TRUE(drain(pair));                             // no connection left after TIME-WAIT
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/socket_pair.h"

namespace ustack::test {

// ---------------------------------------------------------------------------------------------
// The byte stream

// SplitMix64's finaliser: a strong 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The stream of `seed`: byte i is byte (i % 8) (little-endian) of mix64(key ^ (i / 8)), with
// key = mix64(seed). Any stretch can be produced from its offset.
inline void stream_fill(std::uint64_t seed, std::uint64_t offset, std::uint8_t* out,
                        std::size_t n) {
  const std::uint64_t key = mix64(seed);
  std::size_t done = 0;
  while (done < n) {
    const std::uint64_t pos = offset + done;
    const std::uint64_t word = mix64(key ^ (pos >> 3));
    const std::size_t skip = static_cast<std::size_t>(pos & 7);
    const std::size_t take = std::min<std::size_t>(8 - skip, n - done);
    std::array<std::uint8_t, 8> bytes{};
    for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(word >> (8 * i));
    std::memcpy(out + done, bytes.data() + skip, take);
    done += take;
  }
}

// The index of the first byte of data[0, n) that differs from the stream at `offset`.
inline std::optional<std::size_t> stream_mismatch(std::uint64_t seed, std::uint64_t offset,
                                                  const std::uint8_t* data, std::size_t n,
                                                  std::vector<std::uint8_t>& scratch) {
  scratch.resize(n);
  stream_fill(seed, offset, scratch.data(), n);
  if (std::memcmp(scratch.data(), data, n) == 0) return std::nullopt;
  const auto [got, want] = std::mismatch(data, data + n, scratch.data());
  (void)want;
  return static_cast<std::size_t>(got - data);
}

// 100 MB with USTACK_FULL=1 in the environment, else `quick`.
inline std::uint64_t bulk_bytes(std::uint64_t quick) {
  const char* full = std::getenv("USTACK_FULL");
  return full != nullptr && std::string(full) == "1" ? 100ull * 1000 * 1000 : quick;
}

// ---------------------------------------------------------------------------------------------
// One application end of a connection

struct SideConfig {
  std::uint64_t send_bytes = 0;
  std::uint64_t send_seed = 0;
  std::uint64_t expect_bytes = 0;
  std::uint64_t expect_seed = 0;
  // At most this many bytes read per service() (a slow reader), and per recv call.
  std::size_t read_budget = SIZE_MAX;
  std::size_t read_chunk = 65536;
  // Start sending only after the peer's EOF (the half-close test's B).
  bool send_after_eof = false;
  // shutdown(SHUT_WR) once everything is sent; close() once done().
  bool shutdown_when_sent = true;
  bool close_when_done = true;
};

// An application end: sends its stream, reads and checks the peer's, shuts down its side when
// it has sent everything, and closes when it has also read the peer's EOF.
class Side {
 public:
  Side(std::string name, SocketApi& api, int fd, const SideConfig& config)
      : name_(std::move(name)), api_(api), fd_(fd), config_(config) {
    read_buf_.resize(config_.read_chunk);
  }
  Side(const Side&) = delete;
  Side& operator=(const Side&) = delete;
  Side(Side&&) = default;

  // Sends and reads what the socket allows now, without blocking. True if anything moved.
  bool service() {
    if (closed_ || failed()) return false;
    bool moved = false;
    if (!config_.send_after_eof || eof_) moved |= send_some();
    moved |= read_some();
    if (!failed() && done_sending() && done_receiving() && config_.close_when_done) {
      if (api_.close(fd_) != 0) error_ = errno;
      closed_ = true;
      moved = true;
    }
    return moved;
  }

  bool done_sending() const {
    return sent_ == config_.send_bytes && (shut_ || !config_.shutdown_when_sent);
  }
  bool done_receiving() const { return eof_ && received_ == config_.expect_bytes; }
  bool done() const {
    return done_sending() && done_receiving() && (closed_ || !config_.close_when_done);
  }
  // An error from a call, a wrong byte, or more bytes than expected.
  bool failed() const { return error_ != 0 || mismatch_.has_value() || overrun_; }
  // Everything expected arrived, and nothing else.
  bool intact() const { return !failed() && done_receiving(); }

  const std::string& name() const { return name_; }
  int fd() const { return fd_; }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t received() const { return received_; }
  bool eof() const { return eof_; }
  bool closed() const { return closed_; }
  int error() const { return error_; }
  std::optional<std::uint64_t> mismatch() const { return mismatch_; }
  void set_read_budget(std::size_t bytes) { config_.read_budget = bytes; }

  std::string describe() const {
    std::string s = name_ + ": sent " + std::to_string(sent_) + "/" +
                    std::to_string(config_.send_bytes) + (shut_ ? " (shut)" : "") + ", received " +
                    std::to_string(received_) + "/" + std::to_string(config_.expect_bytes) +
                    (eof_ ? " (eof)" : "") + (closed_ ? ", closed" : "");
    if (error_ != 0) s += ", error " + std::string(std::strerror(error_));
    if (mismatch_) s += ", first wrong byte at " + std::to_string(*mismatch_);
    if (overrun_) s += ", more bytes than sent";
    return s;
  }

 private:
  bool send_some() {
    bool moved = false;
    while (sent_ < config_.send_bytes) {
      if (pending_pos_ == pending_.size()) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(65536, config_.send_bytes - sent_));
        pending_.resize(n);
        stream_fill(config_.send_seed, sent_, pending_.data(), n);
        pending_pos_ = 0;
      }
      const ssize_t n =
          api_.send(fd_, pending_.data() + pending_pos_, pending_.size() - pending_pos_, 0);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) error_ = errno;
        break;
      }
      if (n == 0) break;
      pending_pos_ += static_cast<std::size_t>(n);
      sent_ += static_cast<std::uint64_t>(n);
      moved = true;
    }
    if (sent_ == config_.send_bytes && config_.shutdown_when_sent && !shut_ && error_ == 0) {
      if (api_.shutdown(fd_, SHUT_WR) != 0) error_ = errno;
      shut_ = true;
      moved = true;
    }
    return moved;
  }

  bool read_some() {
    bool moved = false;
    std::size_t budget = config_.read_budget;
    while (!eof_ && budget > 0 && !failed()) {
      const std::size_t want = std::min(read_buf_.size(), budget);
      const ssize_t n = api_.recv(fd_, read_buf_.data(), want, 0);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) error_ = errno;
        break;
      }
      moved = true;
      if (n == 0) {
        eof_ = true;
        break;
      }
      const auto got = static_cast<std::size_t>(n);
      budget -= got;
      if (received_ + got > config_.expect_bytes) {
        overrun_ = true;
        break;
      }
      if (auto bad =
              stream_mismatch(config_.expect_seed, received_, read_buf_.data(), got, scratch_)) {
        mismatch_ = received_ + *bad;
      }
      received_ += got;
    }
    return moved;
  }

  std::string name_;
  SocketApi& api_;
  int fd_;
  SideConfig config_;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  bool shut_ = false;
  bool eof_ = false;
  bool closed_ = false;
  bool overrun_ = false;
  int error_ = 0;
  std::optional<std::uint64_t> mismatch_;
  std::vector<std::uint8_t> pending_;
  std::size_t pending_pos_ = 0;
  std::vector<std::uint8_t> read_buf_;
  std::vector<std::uint8_t> scratch_;
};

// ---------------------------------------------------------------------------------------------
// Connections

// A non-blocking listening socket on address:port.
inline int tcp_listener(SocketApi& api, Ipv4Address address, std::uint16_t port,
                        int backlog = 128) {
  const int fd = api.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  const sockaddr_in local = inet(address, port);
  EXPECT_EQ(api.bind(fd, sa(local), sizeof local), 0) << std::strerror(errno);
  EXPECT_EQ(api.listen(fd, backlog), 0) << std::strerror(errno);
  return fd;
}

// A non-blocking socket on which connect() to `to` has started (-1 on failure).
inline int tcp_connect_start(SocketApi& api, Ipv4Address address, std::uint16_t port) {
  const int fd = api.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  const sockaddr_in to = inet(address, port);
  const int r = api.connect(fd, sa(to), sizeof to);
  if (r != 0 && errno != EINPROGRESS) {
    ADD_FAILURE() << "connect: " << std::strerror(errno);
    return -1;
  }
  return fd;
}

struct Connection {
  int listener = -1;  // on B
  int client = -1;    // on A
  int server = -1;    // on B
};

// A connects to B:port; steps (at most `limit` of virtual time) until B accepted it. The
// listener stays open (the caller closes it).
inline Connection open_connection(ApiPair& pair, std::uint16_t port, Duration limit = 120s,
                                  Duration step = 1ms) {
  Connection c;
  c.listener = tcp_listener(pair.b(), kIpB, port);
  c.client = tcp_connect_start(pair.a(), kIpB, port);
  if (c.client < 0) return c;
  const bool accepted = pair.run_until(
      [&] {
        c.server = pair.b().accept4(c.listener, nullptr, nullptr, SOCK_NONBLOCK);
        return c.server >= 0;
      },
      limit, step);
  EXPECT_TRUE(accepted) << "B accepted no connection within the limit";
  return c;
}

// The connection of stack `s` between these ends (null if none).
inline tcp::TcpSocket* find_connection(Stack& s, Endpoint local, Endpoint remote) {
  return s.tcp().find(local, remote);
}

// One line about a connection's TCB, for failure messages.
inline std::string describe_tcb(const tcp::TcpSocket* s) {
  if (s == nullptr) return "no connection";
  const tcp::Tcb& t = s->tcb;
  return fmt::format(
      "{} snd_una {} snd_nxt {} snd_max {} snd_wnd {} cwnd {} in_recovery {} retransmits {} "
      "persist {} retransmit_at {} rcv_nxt {} rcv_adv {} send_buffer {} receive_buffer {} "
      "fin_queued {} fin_sent {} fin_received {}",
      t.state, t.snd_una.raw(), t.snd_nxt.raw(), t.snd_max.raw(), t.snd_wnd, t.cc.cwnd(),
      t.in_recovery, t.retransmits, t.persist, t.retransmit_at, t.rcv_nxt.raw(), t.rcv_adv.raw(),
      t.send_buffer.size(), t.receive_buffer.readable(), t.fin_queued, t.fin_sent, t.fin_received);
}

// The counters of a stack that are not zero, "name=value" separated by spaces (for failure
// messages), those of one layer if `prefix` is given ("tcp.").
inline std::string nonzero_counters(const Stack& s, std::string_view prefix = {}) {
  std::string out;
  s.stats().for_each([&](std::string_view name, std::uint64_t value) {
    if (value == 0 || name.substr(0, prefix.size()) != prefix) return;
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", name, value);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running

struct RunResult {
  bool finished = false;  // every side done (or `until` true)
  bool failed = false;    // a side failed (stopped early)
  Duration elapsed{0};    // virtual time
  std::uint64_t steps = 0;
};

// Frames the two stacks' devices received and sent so far.
inline std::uint64_t frames_moved(ApiPair& pair) {
  return pair.counter_a("dev.rx_frames") + pair.counter_a("dev.tx_frames") +
         pair.counter_b("dev.rx_frames") + pair.counter_b("dev.tx_frames");
}

// The earlier of the two stacks' next deadlines (timers, and frames held by the injector).
inline Instant next_deadline(ApiPair& pair) {
  std::scoped_lock lock(pair.runtime_a().core_lock(), pair.runtime_b().core_lock());
  return std::min(pair.stack_a().next_deadline(), pair.stack_b().next_deadline());
}

// Services every side, then steps the pair by `step`, until every side is done (or `until`,
// if given, returns true), a side fails, or `limit` of virtual time has passed. A step in which
// no frame moved and no application made progress is followed by a jump straight to the next
// deadline of either stack (a retransmission timeout, say), so idle waits cost one step.
inline RunResult run_sides(ApiPair& pair, const std::vector<Side*>& sides, Duration limit,
                           Duration step = 1ms, const std::function<bool()>& until = nullptr) {
  RunResult run;
  const Instant start = pair.clock().now();
  const Instant end = start + limit;
  while (true) {
    const std::uint64_t frames_before = frames_moved(pair);
    bool all_done = true;
    bool moved = false;
    for (Side* s : sides) {
      moved |= s->service();
      if (s->failed()) run.failed = true;
      all_done = all_done && s->done();
    }
    const bool stop = until ? until() : all_done;
    const Instant now = pair.clock().now();
    if (stop || run.failed || now >= end) {
      run.finished = stop;
      break;
    }
    pair.step(step);
    ++run.steps;
    if (!moved && frames_moved(pair) == frames_before) {
      // Idle: nothing happens before the next deadline.
      const Instant at = pair.clock().now();
      const Instant next = std::min(next_deadline(pair), end);
      if (next > at + step) pair.step(next - at);
    }
  }
  run.elapsed = pair.clock().now() - start;
  return run;
}

// Steps (100 ms at a time) until neither stack has a connection left, as after TIME-WAIT.
inline bool drain(ApiPair& pair, Duration limit = 300s) {
  return pair.run_until(
      [&] {
        return pair.stack_a().tcp().connection_count() == 0 &&
               pair.stack_b().tcp().connection_count() == 0;
      },
      limit, 100ms);
}

// ---------------------------------------------------------------------------------------------
// Counters

// TCP counters of both stacks together, as a snapshot.
struct TcpCounters {
  std::uint64_t retransmits = 0;
  std::uint64_t rto = 0;
  std::uint64_t fast_retransmits = 0;
  std::uint64_t window_probes = 0;
  std::uint64_t bad_checksum = 0;  // tcp and ip
  std::uint64_t out_of_order = 0;

  static TcpCounters of(ApiPair& pair) {
    TcpCounters c;
    for (auto get : {&ApiPair::counter_a, &ApiPair::counter_b}) {
      c.retransmits += (pair.*get)("tcp.retransmits");
      c.rto += (pair.*get)("tcp.rto");
      c.fast_retransmits += (pair.*get)("tcp.fast_retransmits");
      c.window_probes += (pair.*get)("tcp.window_probes");
      c.bad_checksum += (pair.*get)("tcp.bad_checksum") + (pair.*get)("ip.bad_checksum");
      c.out_of_order += (pair.*get)("tcp.out_of_order");
    }
    return c;
  }
  TcpCounters operator-(const TcpCounters& o) const {
    return {retransmits - o.retransmits,           rto - o.rto,
            fast_retransmits - o.fast_retransmits, window_probes - o.window_probes,
            bad_checksum - o.bad_checksum,         out_of_order - o.out_of_order};
  }
};

}  // namespace ustack::test

namespace ustack::test {

// ---------------------------------------------------------------------------------------------
// Throughput, printed (never asserted: timing belongs in the benchmarks)

struct ThroughputRow {
  std::string scenario;
  std::uint64_t bytes = 0;  // application bytes delivered, both directions
  Duration elapsed{0};      // virtual time of the transfer
  double wall_seconds = 0;
  TcpCounters counters;           // during the transfer, both stacks
  std::uint64_t frames_lost = 0;  // thrown away by the FaultInjector
};

inline std::string format_row(const ThroughputRow& r) {
  const double seconds = std::chrono::duration<double>(r.elapsed).count();
  const double mbps = seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / seconds : 0.0;
  return fmt::format("{:<34} {:>11} {:>9.3f} {:>9.2f} {:>7} {:>6} {:>6} {:>7} {:>7.2f}", r.scenario,
                     r.bytes, seconds, mbps, r.counters.retransmits, r.counters.rto,
                     r.counters.fast_retransmits, r.frames_lost, r.wall_seconds);
}

inline std::string table_header() {
  return fmt::format("{:<34} {:>11} {:>9} {:>9} {:>7} {:>6} {:>6} {:>7} {:>7}", "scenario", "bytes",
                     "virt s", "virt MB/s", "rexmit", "rto", "fast", "lost", "wall s");
}

// Rows of every transfer this process ran; a test environment prints them at the end.
inline std::vector<ThroughputRow>& throughput_rows() {
  static std::vector<ThroughputRow> rows;
  return rows;
}

class ThroughputTable : public ::testing::Environment {
 public:
  void TearDown() override {
    if (throughput_rows().empty()) return;
    std::string out =
        "\nTCP transfers (virtual time; counters of both stacks)\n" + table_header() + "\n";
    for (const ThroughputRow& r : throughput_rows()) out += format_row(r) + "\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }
};

}  // namespace ustack::test
