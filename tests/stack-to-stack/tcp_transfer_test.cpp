// TCP transfers between two Stacks over a MemoryLink in ManualClock time, with a seeded
// FaultInjector on A's end: bulk data both ways at once at 0, 1, 5 and 10% loss (and 10% with
// several seeds), with 25% duplication and 25% reordering, and with 1% corruption; an outage of
// the link in both directions; many connections at once; a reader that stops reading (zero
// window, probes, lost window updates and ACKs); NewReno and each TCP option switched off; a
// small MTU (MSS clamp); a half-close. Every byte is checked against the sender's seeded stream
// (support/tcp_transfer.h), every connection must close without a RST, and none may be left
// once TIME-WAIT is over.
//
// Bulk sizes: 100 MB each way in an NDEBUG build (tools/test's Release step) or with
// USTACK_FULL=1; 16 MB each way in builds with assertions (Debug, sanitizers), to stay fast.
// A table of virtual throughput and retransmissions per scenario is printed at the end of the
// run (and a row after each test); it is never asserted on.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <string>

#include "support/tcp_transfer.h"

namespace ustack::test {
namespace {

#ifdef NDEBUG
constexpr std::uint64_t kDefaultBulk = 100ull * 1000 * 1000;
#else
constexpr std::uint64_t kDefaultBulk = 16ull * 1000 * 1000;
#endif

// Each way, in the bulk tests.
const std::uint64_t kBulk = bulk_bytes(kDefaultBulk);
// Each way, in the tests of one feature.
const std::uint64_t kFeature = std::max<std::uint64_t>(kBulk / 8, 2ull * 1000 * 1000);

[[maybe_unused]] auto* const kTable = ::testing::AddGlobalTestEnvironment(new ThroughputTable);

FaultConfig faults(std::uint64_t seed, double drop, double duplicate = 0, double reorder = 0,
                   double corrupt = 0) {
  FaultConfig f;
  f.seed = seed;
  f.drop = drop;
  f.duplicate = duplicate;
  f.reorder = reorder;
  f.corrupt = corrupt;
  return f;
}

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

// Frames the injector threw away (0 without one).
std::uint64_t frames_lost(ApiPair& pair, const ApiPairOptions& options) {
  if (!options.faults) return 0;
  const FaultCounters& c = pair.injector().counters();
  return c.dropped + c.delay_dropped + c.rate_dropped;
}

std::string connection_counts(ApiPair& pair) {
  return fmt::format("connections left: A {}, B {}", pair.stack_a().tcp().connection_count(),
                     pair.stack_b().tcp().connection_count());
}

// Both TCBs of a connection, for failure messages.
std::string describe_both(ApiPair& pair, Endpoint client, Endpoint server) {
  return "\n  A " + describe_tcb(pair.stack_a().tcp().find(client, server)) + "\n  B " +
         describe_tcb(pair.stack_b().tcp().find(server, client)) + "\n  A counters " +
         nonzero_counters(pair.stack_a(), "tcp.") + "\n  B counters " +
         nonzero_counters(pair.stack_b(), "tcp.");
}

// Closed cleanly: no connection was reset, and neither stack received a RST. A stray duplicate
// (the peer's last ACK, say) may still meet a connection that is gone and draw a RST, as it
// would from any stack; that RST is counted under tcp.listen_ack or tcp.no_connection.
void expect_no_resets(ApiPair& pair) {
  for (auto get : {&ApiPair::counter_a, &ApiPair::counter_b}) {
    // A RST may only answer a stray segment that found no connection (a late duplicate of
    // the peer's last ACK reaching the listener once the connection is gone); no connection
    // itself was reset.
    EXPECT_EQ((pair.*get)("tcp.tx_reset"),
              (pair.*get)("tcp.listen_ack") + (pair.*get)("tcp.no_connection"))
        << (get == &ApiPair::counter_a ? "A" : "B") << " sent a RST\n  A "
        << nonzero_counters(pair.stack_a(), "tcp.") << "\n  B "
        << nonzero_counters(pair.stack_b(), "tcp.");
    EXPECT_EQ((pair.*get)("tcp.rx_reset"), 0u)
        << (get == &ApiPair::counter_a ? "A" : "B") << " received a RST";
  }
}

ThroughputRow row_of(std::string scenario, std::uint64_t bytes, Duration elapsed,
                     const TcpCounters& counters, std::uint64_t lost) {
  return {.scenario = std::move(scenario),
          .bytes = bytes,
          .elapsed = elapsed,
          .counters = counters,
          .frames_lost = lost};
}

// Prints the row (with its header) and keeps it for the table at the end.
void record(ThroughputRow row) {
  std::printf("%s\n%s\n", table_header().c_str(), format_row(row).c_str());
  throughput_rows().push_back(std::move(row));
}

struct TransferSpec {
  std::string name;
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
  Duration limit = 3600s;  // virtual
  // Called once the connection is established, with A's and B's sockets.
  std::function<void(tcp::TcpSocket*, tcp::TcpSocket*)> check_connection = nullptr;
  // Called once the transfer is over (before the drain).
  std::function<void(ApiPair&)> check_after = nullptr;
};

// One connection from A to B:80 that moves spec's bytes both ways at once; each side shuts down
// its sending when done and closes after the peer's EOF. Checks the bytes, the clean close and
// that no connection is left after TIME-WAIT; prints a row of the throughput table.
void transfer(const ApiPairOptions& options, const TransferSpec& spec) {
  const auto wall_start = std::chrono::steady_clock::now();
  ApiPair pair(options);
  const Connection c = open_connection(pair, 80);
  ASSERT_GE(c.server, 0);
  const Endpoint client = local_endpoint(pair.a(), c.client);
  const Endpoint server = local_endpoint(pair.b(), c.server);
  if (spec.check_connection) {
    spec.check_connection(pair.stack_a().tcp().find(client, server),
                          pair.stack_b().tcp().find(server, client));
  }
  Side a(
      "A", pair.a(), c.client,
      {.send_bytes = spec.a_to_b, .send_seed = 1, .expect_bytes = spec.b_to_a, .expect_seed = 2});
  Side b(
      "B", pair.b(), c.server,
      {.send_bytes = spec.b_to_a, .send_seed = 2, .expect_bytes = spec.a_to_b, .expect_seed = 1});
  const TcpCounters before = TcpCounters::of(pair);
  const std::uint64_t lost_before = frames_lost(pair, options);

  const RunResult run = run_sides(pair, {&a, &b}, spec.limit);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << spec.name << " did not finish in " << seconds(run.elapsed)
                            << " s virtual\n  " << a.describe() << "\n  " << b.describe()
                            << describe_both(pair, client, server);
  EXPECT_TRUE(a.intact()) << a.describe();
  EXPECT_TRUE(b.intact()) << b.describe();

  ThroughputRow row =
      row_of(spec.name, a.received() + b.received(), run.elapsed, TcpCounters::of(pair) - before,
             frames_lost(pair, options) - lost_before);
  if (spec.check_after) spec.check_after(pair);
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair)) << connection_counts(pair) << describe_both(pair, client, server);
  row.wall_seconds = seconds(std::chrono::steady_clock::now() - wall_start);
  record(std::move(row));
}

// ---------------------------------------------------------------------------------------------
// Bulk, both ways at once, under loss

class TcpBulkLoss : public ::testing::TestWithParam<int> {};

TEST_P(TcpBulkLoss, BothWaysAtOnce) {
  const int percent = GetParam();
  ApiPairOptions o;
  if (percent > 0) o.faults = faults(100 + static_cast<std::uint64_t>(percent), percent / 100.0);
  transfer(o,
           {.name = fmt::format("both ways, {}% loss", percent), .a_to_b = kBulk, .b_to_a = kBulk});
}

INSTANTIATE_TEST_SUITE_P(Loss, TcpBulkLoss, ::testing::Values(0, 1, 5, 10),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return fmt::format("Percent{}", param_info.param);
                         });

// Heavy loss with several seeds, both ways at once: each seed loses a different set of frames
// (data, ACKs, FINs), so together they cover more of the recovery paths than one long run.
class TcpHeavyLoss : public ::testing::TestWithParam<int> {};

TEST_P(TcpHeavyLoss, BothWaysAtOnce) {
  const int seed = GetParam();
  ApiPairOptions o;
  o.seed = static_cast<std::uint64_t>(seed);
  o.faults = faults(1000 + static_cast<std::uint64_t>(seed), 0.10);
  transfer(o, {.name = fmt::format("both ways, 10% loss, seed {}", seed),
               .a_to_b = 2000000,
               .b_to_a = 2000000});
}

INSTANTIATE_TEST_SUITE_P(Seeds, TcpHeavyLoss, ::testing::Range(1, 9),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return fmt::format("Seed{}", param_info.param);
                         });

// Both directions of the link go dark for 3 s in the middle of a transfer both ways, with 5 ms
// of delay each way, so that frames cross in flight: each side has received data whose ACK is
// lost, both retransmit by timeout during the outage, and once the link is back the transfer
// must resume and finish.
TEST(TcpOutage, BothWaysDuringTransferThenResume) {
  const auto wall_start = std::chrono::steady_clock::now();
  ApiPairOptions o;
  FaultConfig healthy = faults(800, 0.0);
  healthy.delay = 5ms;
  o.faults = healthy;
  ApiPair pair(o);
  const Connection c = open_connection(pair, 80);
  ASSERT_GE(c.server, 0);
  const Endpoint client = local_endpoint(pair.a(), c.client);
  const Endpoint server = local_endpoint(pair.b(), c.server);
  const std::uint64_t size = 4000000;
  Side a("A", pair.a(), c.client,
         {.send_bytes = size, .send_seed = 21, .expect_bytes = size, .expect_seed = 22});
  Side b("B", pair.b(), c.server,
         {.send_bytes = size, .send_seed = 22, .expect_bytes = size, .expect_seed = 21});
  const TcpCounters before = TcpCounters::of(pair);
  const Instant start = pair.clock().now();
  ASSERT_TRUE(run_sides(pair, {&a, &b}, 600s, 1ms, [&] {
                return a.failed() || b.failed() ||
                       (a.received() >= size / 4 && b.received() >= size / 4);
              }).finished);
  FaultConfig dark = healthy;
  dark.drop = 1.0;
  pair.injector().set_config(dark);
  run_sides(pair, {&a, &b}, 3s, 1ms, [] { return false; });
  pair.injector().set_config(healthy);
  const std::string at_heal = describe_both(pair, client, server);
  const RunResult run = run_sides(pair, {&a, &b}, 120s);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << "not finished 120 s after the outage\n  " << a.describe() << "\n  "
                            << b.describe() << "\nwhen the link came back:" << at_heal
                            << "\nnow:" << describe_both(pair, client, server);
  EXPECT_TRUE(a.intact()) << a.describe();
  EXPECT_TRUE(b.intact()) << b.describe();
  ThroughputRow row =
      row_of("both ways, 3 s outage", a.received() + b.received(), pair.clock().now() - start,
             TcpCounters::of(pair) - before, frames_lost(pair, o));
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair, 1200s)) << connection_counts(pair);
  row.wall_seconds = seconds(std::chrono::steady_clock::now() - wall_start);
  record(std::move(row));
}

TEST(TcpBulk, OneWayClean) {
  transfer({}, {.name = "one way A->B, clean", .a_to_b = kBulk});
}

TEST(TcpBulk, DuplicationAndReordering) {
  ApiPairOptions o;
  o.faults = faults(201, 0.0, 0.25, 0.25);
  transfer(o, {.name = "both ways, 25% dup + 25% reorder", .a_to_b = kBulk, .b_to_a = kBulk});
}

TEST(TcpBulk, Corruption) {
  ApiPairOptions o;
  o.faults = faults(202, 0.0, 0.0, 0.0, 0.01);
  transfer(o, {.name = "both ways, 1% corruption",
               .a_to_b = kBulk,
               .b_to_a = kBulk,
               .check_after = [](ApiPair& pair) {
                 // Flipped bits were caught by the IP and TCP checksums (others, in the
                 // Ethernet header, make frames that are not for us).
                 EXPECT_GT(pair.injector().counters().corrupted, 0u);
                 EXPECT_GT(TcpCounters::of(pair).bad_checksum, 0u);
               }});
}

// ---------------------------------------------------------------------------------------------
// Many connections

TEST(TcpMany, ConcurrentConnectionsBothWaysWithLoss) {
  constexpr int kConnections = 64;
  const auto wall_start = std::chrono::steady_clock::now();
  ApiPairOptions o;
  o.faults = faults(301, 0.01);
  ApiPair pair(o);
  const int listener = tcp_listener(pair.b(), kIpB, 80, 128);
  // Each connection's sizes and seeds follow from the client's port, which B learns from
  // getpeername.
  auto bytes_of = [](std::uint16_t port, int way) -> std::uint64_t {
    return 20000 +
           (static_cast<std::uint64_t>(port) * 7919 + static_cast<std::uint64_t>(way) * 104729) %
               300000;
  };
  auto seed_of = [](std::uint16_t port, int way) -> std::uint64_t {
    return static_cast<std::uint64_t>(port) * 2 + static_cast<std::uint64_t>(way);
  };
  std::deque<Side> sides;
  std::vector<Side*> running;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = tcp_connect_start(pair.a(), kIpB, 80);
    ASSERT_GE(fd, 0);
    const std::uint16_t port = local_endpoint(pair.a(), fd).port;
    sides.emplace_back(fmt::format("A:{}", port), pair.a(), fd,
                       SideConfig{.send_bytes = bytes_of(port, 0),
                                  .send_seed = seed_of(port, 0),
                                  .expect_bytes = bytes_of(port, 1),
                                  .expect_seed = seed_of(port, 1)});
    running.push_back(&sides.back());
  }
  int accepted = 0;
  int accept_error = 0;
  auto accept_all = [&] {
    while (true) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      const int fd = pair.b().accept4(listener, sa(peer), &len, SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno != EAGAIN) accept_error = errno;
        break;
      }
      const std::uint16_t port = endpoint(peer).port;
      sides.emplace_back(fmt::format("B:{}", port), pair.b(), fd,
                         SideConfig{.send_bytes = bytes_of(port, 1),
                                    .send_seed = seed_of(port, 1),
                                    .expect_bytes = bytes_of(port, 0),
                                    .expect_seed = seed_of(port, 0)});
      running.push_back(&sides.back());
      ++accepted;
    }
    return accept_error != 0 ||
           (accepted == kConnections &&
            std::all_of(running.begin(), running.end(), [](Side* s) { return s->done(); }));
  };
  const TcpCounters before = TcpCounters::of(pair);
  const RunResult run = run_sides(pair, running, 3600s, 1ms, accept_all);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << "not finished after " << seconds(run.elapsed) << " s virtual";
  EXPECT_EQ(accept_error, 0) << std::strerror(accept_error);
  EXPECT_EQ(accepted, kConnections);
  std::uint64_t bytes = 0;
  int broken = 0;
  for (const Side& s : sides) {
    bytes += s.received();
    if (!s.intact() && ++broken <= 5) ADD_FAILURE() << s.describe();
  }
  EXPECT_EQ(broken, 0);
  ThroughputRow row = row_of(fmt::format("{} connections, 1% loss", kConnections), bytes,
                             run.elapsed, TcpCounters::of(pair) - before, frames_lost(pair, o));
  EXPECT_EQ(pair.b().close(listener), 0);
  EXPECT_TRUE(drain(pair)) << connection_counts(pair);
  row.wall_seconds = seconds(std::chrono::steady_clock::now() - wall_start);
  record(std::move(row));
}

// ---------------------------------------------------------------------------------------------
// A reader that stops: the window closes, the sender probes, the transfer resumes

class TcpSlowReader : public ::testing::TestWithParam<int> {};

TEST_P(TcpSlowReader, ZeroWindowProbesThenResume) {
  const int percent = GetParam();
  const auto wall_start = std::chrono::steady_clock::now();
  ApiPairOptions o;
  o.config.tcp.default_receive_buffer = 32768;
  if (percent > 0) o.faults = faults(400 + static_cast<std::uint64_t>(percent), percent / 100.0);
  ApiPair pair(o);
  const Connection c = open_connection(pair, 80);
  ASSERT_GE(c.server, 0);
  const Endpoint client = local_endpoint(pair.a(), c.client);
  const Endpoint server = local_endpoint(pair.b(), c.server);
  const std::uint64_t size = 1000 * 1000;
  Side a("A", pair.a(), c.client, {.send_bytes = size, .send_seed = 5});
  Side b("B", pair.b(), c.server,
         {.expect_bytes = size, .expect_seed = 5, .read_budget = 0, .shutdown_when_sent = false});
  const TcpCounters before = TcpCounters::of(pair);
  const Instant start = pair.clock().now();

  // B reads nothing for 10 s: its window closes and A must probe it.
  run_sides(pair, {&a, &b}, 10s, 10ms, [] { return false; });
  {
    tcp::TcpSocket* sa_ = pair.stack_a().tcp().find(client, server);
    tcp::TcpSocket* sb = pair.stack_b().tcp().find(server, client);
    ASSERT_NE(sa_, nullptr);
    ASSERT_NE(sb, nullptr);
    EXPECT_EQ(sa_->tcb.snd_wnd, 0u) << describe_both(pair, client, server);
    EXPECT_TRUE(sa_->tcb.persist) << describe_both(pair, client, server);
    // B's buffer is full, up to less than one unit of its window scale (which it cannot offer).
    EXPECT_LT(sb->tcb.receive_buffer.window(), 1u << sb->tcb.rcv_wscale)
        << describe_both(pair, client, server);
    EXPECT_GT(pair.counter_a("tcp.window_probes"), 0u);
    EXPECT_EQ(b.received(), 0u);
    EXPECT_LT(a.sent(), size);
  }
  // Then 2000 bytes per 10 ms (about 200 KB/s), with a second stop of 5 s half way.
  b.set_read_budget(2000);
  run_sides(pair, {&a, &b}, 600s, 10ms, [&] { return b.received() >= size / 2; });
  b.set_read_budget(0);
  const std::uint64_t probes_before = pair.counter_a("tcp.window_probes");
  run_sides(pair, {&a, &b}, 5s, 10ms, [] { return false; });
  EXPECT_GT(pair.counter_a("tcp.window_probes"), probes_before);
  b.set_read_budget(2000);
  const RunResult run = run_sides(pair, {&a, &b}, 600s, 10ms);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << a.describe() << "\n  " << b.describe()
                            << describe_both(pair, client, server);
  EXPECT_TRUE(b.intact()) << b.describe();
  EXPECT_TRUE(a.done()) << a.describe();

  ThroughputRow row =
      row_of(fmt::format("slow reader, {}% loss", percent), b.received(),
             pair.clock().now() - start, TcpCounters::of(pair) - before, frames_lost(pair, o));
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair)) << connection_counts(pair) << describe_both(pair, client, server);
  row.wall_seconds = seconds(std::chrono::steady_clock::now() - wall_start);
  record(std::move(row));
}

INSTANTIATE_TEST_SUITE_P(Loss, TcpSlowReader, ::testing::Values(0, 5),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return fmt::format("Percent{}", param_info.param);
                         });

// A reader that stops for 30 minutes: the sender probes the zero window for as long as the
// receiver answers, and never gives up on the connection (RFC 9293 3.8.6.1).
TEST(TcpSlowReader, LongStopKeepsTheConnection) {
  ApiPairOptions o;
  o.config.tcp.default_receive_buffer = 32768;
  ApiPair pair(o);
  const Connection c = open_connection(pair, 80);
  ASSERT_GE(c.server, 0);
  const Endpoint client = local_endpoint(pair.a(), c.client);
  const Endpoint server = local_endpoint(pair.b(), c.server);
  const std::uint64_t size = 300000;
  Side a("A", pair.a(), c.client, {.send_bytes = size, .send_seed = 6});
  Side b("B", pair.b(), c.server,
         {.expect_bytes = size, .expect_seed = 6, .read_budget = 0, .shutdown_when_sent = false});
  run_sides(pair, {&a, &b}, std::chrono::minutes(30), 10ms, [&] { return a.failed(); });
  EXPECT_FALSE(a.failed()) << a.describe() << describe_both(pair, client, server);
  tcp::TcpSocket* sa_ = pair.stack_a().tcp().find(client, server);
  ASSERT_NE(sa_, nullptr) << "A's connection is gone" << describe_both(pair, client, server);
  EXPECT_EQ(sa_->state(), tcp::TcpState::established) << describe_both(pair, client, server);
  EXPECT_GT(pair.counter_a("tcp.window_probes"), 5u) << describe_both(pair, client, server);
  b.set_read_budget(SIZE_MAX);
  const RunResult run = run_sides(pair, {&a, &b}, 600s, 10ms);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << a.describe() << "\n  " << b.describe()
                            << describe_both(pair, client, server);
  EXPECT_TRUE(b.intact()) << b.describe();
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair)) << connection_counts(pair);
}

// The window update that reopens a full window is lost: the sender must find out by itself
// (zero-window probe, or the sender SWS override timeout of RFC 1122 4.2.3.4 / RFC 9293
// 3.8.6.2.1), since the receiver, its buffer empty, has nothing more to say.
TEST(TcpSlowReader, LostWindowUpdateIsRecovered) {
  ApiPairOptions o;
  o.config.tcp.default_receive_buffer = 32768;
  o.faults = FaultConfig{};
  ApiPair pair(o);
  const Connection c = open_connection(pair, 80);
  ASSERT_GE(c.server, 0);
  const Endpoint client = local_endpoint(pair.a(), c.client);
  const Endpoint server = local_endpoint(pair.b(), c.server);
  const std::uint64_t size = 300000;
  Side a("A", pair.a(), c.client, {.send_bytes = size, .send_seed = 7});
  Side b("B", pair.b(), c.server,
         {.expect_bytes = size, .expect_seed = 7, .read_budget = 0, .shutdown_when_sent = false});
  run_sides(pair, {&a, &b}, 2s, 10ms, [] { return false; });
  const std::string stalled = describe_both(pair, client, server);
  // B empties its buffer; its window update is lost on the way to A.
  FaultConfig lose_to_a;
  lose_to_a.direction = FaultDirection::rx;
  lose_to_a.drop = 1.0;
  pair.injector().set_config(lose_to_a);
  b.set_read_budget(SIZE_MAX);
  b.service();
  pair.step(1ms);
  EXPECT_GT(pair.injector().counters().dropped, 0u);
  pair.injector().set_config(FaultConfig{});
  const RunResult run = run_sides(pair, {&a, &b}, 300s, 10ms);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << "stuck after the lost window update\n  " << a.describe() << "\n  "
                            << b.describe() << "\nbefore B read:" << stalled
                            << "\nnow:" << describe_both(pair, client, server);
  EXPECT_TRUE(b.intact()) << b.describe();
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair)) << connection_counts(pair);
}

// The ACK for the last bytes that fit in a closing window is lost while the reader has
// stopped: the sender's retransmission timeout must resend them (drawing an ACK with the
// zero window), and the sender must then probe for as long as the receiver answers — 30
// minutes here — and finish once the reader reads again.
TEST(TcpSlowReader, LostAckOfTheLastSegmentBeforeAZeroWindow) {
  ApiPairOptions o;
  o.config.tcp.default_receive_buffer = 32768;
  o.faults = FaultConfig{};
  ApiPair pair(o);
  const Connection c = open_connection(pair, 80);
  ASSERT_GE(c.server, 0);
  const Endpoint client = local_endpoint(pair.a(), c.client);
  const Endpoint server = local_endpoint(pair.b(), c.server);
  const std::uint64_t size = 300000;
  Side a("A", pair.a(), c.client, {.send_bytes = size, .send_seed = 8});
  Side b("B", pair.b(), c.server,
         {.expect_bytes = size, .expect_seed = 8, .read_budget = 0, .shutdown_when_sent = false});
  // Until A has nothing in flight (the window it was offered is full, or too small to use).
  tcp::TcpSocket* sa_ = pair.stack_a().tcp().find(client, server);
  tcp::TcpSocket* sb = pair.stack_b().tcp().find(server, client);
  ASSERT_NE(sa_, nullptr);
  ASSERT_NE(sb, nullptr);
  ASSERT_TRUE(run_sides(pair, {&a, &b}, 10s, 1ms, [&] {
                return a.sent() > 0 && sa_->tcb.snd_una == sa_->tcb.snd_max;
              }).finished);
  // From now on B's answers are lost, until B has taken in more data (whatever A sends next
  // into what is left of the window).
  const tcp::Seq rcv_nxt = sb->tcb.rcv_nxt;
  FaultConfig lose_to_a;
  lose_to_a.direction = FaultDirection::rx;
  lose_to_a.drop = 1.0;
  pair.injector().set_config(lose_to_a);
  const bool more =
      run_sides(pair, {&a, &b}, 60s, 1ms, [&] { return sb->tcb.rcv_nxt != rcv_nxt; }).finished;
  // Long enough for B's (delayed) ACK to be lost too, not for A's retransmission timeout.
  run_sides(pair, {&a, &b}, 100ms, 1ms, [] { return false; });
  EXPECT_GT(pair.injector().counters().dropped, 0u);
  pair.injector().set_config(FaultConfig{});
  const std::string at_heal = describe_both(pair, client, server);
  EXPECT_TRUE(more) << "A sent nothing more into the rest of the window" << at_heal;

  run_sides(pair, {&a, &b}, std::chrono::minutes(30), 10ms, [&] { return a.failed(); });
  EXPECT_FALSE(a.failed()) << a.describe() << "\nwhen the link came back:" << at_heal
                           << "\nnow:" << describe_both(pair, client, server);
  ASSERT_NE(pair.stack_a().tcp().find(client, server), nullptr)
      << "A's connection is gone\nwhen the link came back:" << at_heal;
  EXPECT_GT(pair.counter_a("tcp.window_probes"), 5u) << describe_both(pair, client, server);
  b.set_read_budget(SIZE_MAX);
  const RunResult run = run_sides(pair, {&a, &b}, 600s, 10ms);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << a.describe() << "\n  " << b.describe()
                            << describe_both(pair, client, server);
  EXPECT_TRUE(b.intact()) << b.describe();
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair)) << connection_counts(pair);
}

// ---------------------------------------------------------------------------------------------
// Congestion control and options

struct OptionCase {
  const char* name;
  tcp::CongestionAlgorithm congestion;
  bool sack;
  bool timestamps;
  bool window_scaling;
};

class TcpOptions : public ::testing::TestWithParam<OptionCase> {};

TEST_P(TcpOptions, BothWaysWithLoss) {
  const OptionCase& oc = GetParam();
  ApiPairOptions o;
  o.config.tcp.congestion = oc.congestion;
  o.config.tcp.sack = oc.sack;
  o.config.tcp.timestamps = oc.timestamps;
  o.config.tcp.window_scaling = oc.window_scaling;
  o.faults = faults(500, 0.02);
  transfer(o, {.name = fmt::format("{}, 2% loss", oc.name),
               .a_to_b = kFeature,
               .b_to_a = kFeature,
               .check_connection = [&](tcp::TcpSocket* a, tcp::TcpSocket* b) {
                 ASSERT_NE(a, nullptr);
                 ASSERT_NE(b, nullptr);
                 for (tcp::TcpSocket* s : {a, b}) {
                   EXPECT_EQ(s->tcb.cc.algorithm(), oc.congestion);
                   EXPECT_EQ(s->tcb.sack_enabled, oc.sack);
                   EXPECT_EQ(s->tcb.ts_enabled, oc.timestamps);
                   EXPECT_EQ(s->tcb.ws_enabled, oc.window_scaling);
                 }
               }});
}

INSTANTIATE_TEST_SUITE_P(
    Config, TcpOptions,
    ::testing::Values(
        OptionCase{"NewReno", tcp::CongestionAlgorithm::new_reno, true, true, true},
        OptionCase{"CubicNoSack", tcp::CongestionAlgorithm::cubic, false, true, true},
        OptionCase{"CubicNoTimestamps", tcp::CongestionAlgorithm::cubic, true, false, true},
        OptionCase{"CubicNoWindowScaling", tcp::CongestionAlgorithm::cubic, true, true, false},
        OptionCase{"NewRenoNoOptions", tcp::CongestionAlgorithm::new_reno, false, false, false}),
    [](const ::testing::TestParamInfo<OptionCase>& param_info) {
      return std::string(param_info.param.name);
    });

// ---------------------------------------------------------------------------------------------
// A small MTU: both ends clamp their MSS, nothing is fragmented

TEST(TcpMss, Mtu576ClampsTheMssAndNothingIsFragmented) {
  ApiPairOptions o;
  o.mtu = 576;
  o.faults = faults(600, 0.01);
  // 576 - 20 (IP) - 20 (TCP) = 536 bytes, less the 12 bytes of the timestamp option per segment.
  transfer(o, {.name = "MTU 576, 1% loss",
               .a_to_b = kFeature / 2,
               .b_to_a = kFeature / 2,
               .check_connection =
                   [](tcp::TcpSocket* a, tcp::TcpSocket* b) {
                     ASSERT_NE(a, nullptr);
                     ASSERT_NE(b, nullptr);
                     for (tcp::TcpSocket* s : {a, b}) {
                       EXPECT_EQ(s->tcb.rcv_mss, 536u);
                       EXPECT_LE(s->tcb.snd_mss, 536u);
                       EXPECT_GE(s->tcb.snd_mss, 500u);
                     }
                   },
               .check_after =
                   [](ApiPair& pair) {
                     for (auto get : {&ApiPair::counter_a, &ApiPair::counter_b}) {
                       EXPECT_EQ((pair.*get)("ip.frag_tx"), 0u);
                       EXPECT_EQ((pair.*get)("ip.frag_rx"), 0u);
                       EXPECT_EQ((pair.*get)("eth.oversize"), 0u);
                     }
                   }});
}

// ---------------------------------------------------------------------------------------------
// Half-close: A shuts down its sending, B goes on sending

TEST(TcpHalfClose, PeerKeepsSendingAfterOurShutdown) {
  const auto wall_start = std::chrono::steady_clock::now();
  ApiPairOptions o;
  o.faults = faults(700, 0.01);
  ApiPair pair(o);
  const Connection c = open_connection(pair, 80);
  ASSERT_GE(c.server, 0);
  const Endpoint client = local_endpoint(pair.a(), c.client);
  const Endpoint server = local_endpoint(pair.b(), c.server);
  const std::uint64_t up = 500000;
  const std::uint64_t down = kFeature;
  Side a("A", pair.a(), c.client,
         {.send_bytes = up, .send_seed = 11, .expect_bytes = down, .expect_seed = 12});
  // B sends only once it has read A's EOF.
  Side b("B", pair.b(), c.server,
         {.send_bytes = down,
          .send_seed = 12,
          .expect_bytes = up,
          .expect_seed = 11,
          .send_after_eof = true});
  const TcpCounters before = TcpCounters::of(pair);
  const Instant start = pair.clock().now();

  // Until A has read a good part of B's data, sent after A's FIN.
  ASSERT_TRUE(run_sides(pair, {&a, &b}, 600s, 1ms,
                        [&] { return a.failed() || b.failed() || a.received() >= down / 4; })
                  .finished)
      << a.describe() << "\n  " << b.describe() << describe_both(pair, client, server);
  EXPECT_TRUE(b.eof());
  EXPECT_EQ(b.received(), up);
  {
    tcp::TcpSocket* sa_ = pair.stack_a().tcp().find(client, server);
    tcp::TcpSocket* sb = pair.stack_b().tcp().find(server, client);
    ASSERT_NE(sa_, nullptr);
    ASSERT_NE(sb, nullptr);
    EXPECT_EQ(sa_->state(), tcp::TcpState::fin_wait_2) << describe_both(pair, client, server);
    EXPECT_EQ(sb->state(), tcp::TcpState::close_wait) << describe_both(pair, client, server);
  }
  // A may not send after its shutdown (Linux: EPIPE).
  const std::uint8_t byte = 0;
  EXPECT_EQ(pair.a().send(c.client, &byte, 1, 0), -1);
  EXPECT_EQ(errno, EPIPE);

  const RunResult run = run_sides(pair, {&a, &b}, 3600s);
  expect_no_resets(pair);
  EXPECT_TRUE(run.finished) << a.describe() << "\n  " << b.describe()
                            << describe_both(pair, client, server);
  EXPECT_TRUE(a.intact()) << a.describe();
  EXPECT_TRUE(b.intact()) << b.describe();
  ThroughputRow row =
      row_of("half-close, 1% loss", a.received() + b.received(), pair.clock().now() - start,
             TcpCounters::of(pair) - before, frames_lost(pair, o));
  EXPECT_EQ(pair.b().close(c.listener), 0);
  EXPECT_TRUE(drain(pair)) << connection_counts(pair) << describe_both(pair, client, server);
  row.wall_seconds = seconds(std::chrono::steady_clock::now() - wall_start);
  record(std::move(row));
}

}  // namespace
}  // namespace ustack::test
