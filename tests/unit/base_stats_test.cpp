// Stats: named counters by enum and by dotted name, drop(), for_each.
#include "stack/base/stats.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "stack/base/log.h"

namespace {

// A value whose formatting is observable, to prove drop() formats only when it will log.
struct Expensive {
  int* formatted;
};

}  // namespace

template <>
struct fmt::formatter<Expensive> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const Expensive& e, Ctx& ctx) const {
    ++*e.formatted;
    return fmt::format_to(ctx.out(), "expensive");
  }
};

namespace ustack {
namespace {

// Captures one layer's log lines as "level message".
class LogCapture {
 public:
  explicit LogCapture(log::Layer layer) : logger_(log::get(layer)) {
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
    sink_->set_pattern("%l %v");
    logger_.sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = logger_.sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    log::set_levels("info");
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const { return out_.str(); }

 private:
  spdlog::logger& logger_;
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_st> sink_;
};

TEST(Stats, StartsAtZero) {
  Stats s;
  for (std::size_t i = 0; i < kCounterCount; ++i) EXPECT_EQ(s.get(static_cast<Counter>(i)), 0u);
  int visited = 0;
  s.for_each([&](std::string_view, std::uint64_t v) {
    EXPECT_EQ(v, 0u);
    ++visited;
  });
  EXPECT_EQ(visited, static_cast<int>(kCounterCount));
}

TEST(Stats, GetByEnumAndByName) {
  Stats s;
  s.add(Counter::ip_bad_checksum);
  s.add(Counter::ip_bad_checksum);
  s.add(Counter::eth_rx, 40);
  EXPECT_EQ(s.get(Counter::ip_bad_checksum), 2u);
  EXPECT_EQ(s.get("ip.bad_checksum"), 2u);
  EXPECT_EQ(s.get(Counter::eth_rx), 40u);
  EXPECT_EQ(s.get("eth.rx"), 40u);
  EXPECT_EQ(s.get(Counter::eth_tx), 0u);
  EXPECT_EQ(s.get("eth.tx"), 0u);
  // Unknown names read as 0 rather than failing.
  EXPECT_EQ(s.get("ip.no_such_counter"), 0u);
  EXPECT_EQ(s.get(""), 0u);
  EXPECT_EQ(s.get("ip_bad_checksum"), 0u);  // the identifier, not the name
  EXPECT_EQ(s.get("IP.BAD_CHECKSUM"), 0u);
  EXPECT_EQ(s.get("ip.bad_checksum "), 0u);
  // First and last counters.
  s.add(Counter::dev_rx_frames, 3);
  s.add(Counter::icmp_reply_queue_full, 4);
  EXPECT_EQ(s.get("dev.rx_frames"), 3u);
  EXPECT_EQ(s.get("icmp.reply_queue_full"), 4u);
}

TEST(Stats, EveryCounterByNameMatchesByEnum) {
  Stats s;
  for (std::size_t i = 0; i < kCounterCount; ++i) s.add(static_cast<Counter>(i), i + 1);
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    auto c = static_cast<Counter>(i);
    EXPECT_EQ(s.get(c), i + 1) << counter_name(c);
    EXPECT_EQ(s.get(counter_name(c)), i + 1) << counter_name(c);
  }
  s.reset();
  for (std::size_t i = 0; i < kCounterCount; ++i) EXPECT_EQ(s.get(static_cast<Counter>(i)), 0u);
}

TEST(Stats, NamesAreUniqueAndPrefixedByTheirLayer) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    auto c = static_cast<Counter>(i);
    std::string_view name = counter_name(c);
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
    std::string prefix = std::string(log::name(counter_layer(c))) + ".";
    EXPECT_EQ(name.substr(0, prefix.size()), prefix) << name;
    EXPECT_GT(name.size(), prefix.size()) << name;
    EXPECT_EQ(name.find(' '), std::string_view::npos) << name;
  }
  EXPECT_EQ(counter_name(Counter::ip_bad_checksum), "ip.bad_checksum");
  EXPECT_EQ(counter_layer(Counter::ip_bad_checksum), log::Layer::ip);
  EXPECT_EQ(counter_name(Counter::arp_bad_op), "arp.bad_op");
  EXPECT_EQ(counter_layer(Counter::arp_bad_op), log::Layer::arp);
  EXPECT_EQ(counter_layer(Counter::dev_tx_full), log::Layer::dev);
  EXPECT_EQ(counter_layer(Counter::icmp_short), log::Layer::icmp);
  EXPECT_EQ(counter_layer(Counter::eth_runt), log::Layer::eth);
}

TEST(Stats, ForEachVisitsAllInDeclarationOrder) {
  Stats s;
  s.add(Counter::eth_runt, 5);
  s.add(Counter::icmp_short, 6);
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  s.for_each([&](std::string_view name, std::uint64_t v) { seen.emplace_back(name, v); });
  ASSERT_EQ(seen.size(), kCounterCount);
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    EXPECT_EQ(seen[i].first, counter_name(static_cast<Counter>(i)));
  }
  EXPECT_EQ(seen.front().first, "dev.rx_frames");
  std::uint64_t total = 0;
  for (const auto& [name, v] : seen) {
    total += v;
    if (name == "eth.runt") {
      EXPECT_EQ(v, 5u);
    }
    if (name == "icmp.short") {
      EXPECT_EQ(v, 6u);
    }
  }
  EXPECT_EQ(total, 11u);
}

TEST(Stats, DropIncrementsTheReason) {
  Stats s;
  s.drop(Counter::arp_short);
  s.drop(Counter::arp_short, "12 bytes");
  s.drop(Counter::ip_bad_checksum, "from {} len {}", "10.0.0.1", 84);
  EXPECT_EQ(s.get(Counter::arp_short), 2u);
  EXPECT_EQ(s.get("arp.short"), 2u);
  EXPECT_EQ(s.get(Counter::ip_bad_checksum), 1u);
  std::uint64_t total = 0;
  s.for_each([&](std::string_view, std::uint64_t v) { total += v; });
  EXPECT_EQ(total, 3u);
}

TEST(Stats, DropLogsAtDebugOnTheReasonsLayer) {
  LogCapture ip(log::Layer::ip);
  LogCapture arp(log::Layer::arp);
  Stats s;
  // At the default level (info) nothing is logged.
  s.drop(Counter::ip_bad_checksum, "quiet");
  EXPECT_EQ(ip.text(), "");

  ASSERT_EQ(log::set_levels("ip=debug"), "");
  s.drop(Counter::ip_bad_checksum);
  s.drop(Counter::ip_truncated, "84 > 60");
  s.drop(Counter::ip_bad_options, "kind {} length {}", 148, 0);
  s.drop(Counter::arp_bad_op, "op 3");  // arp is still at info
  EXPECT_EQ(ip.text(),
            "debug drop ip.bad_checksum\n"
            "debug drop ip.truncated: 84 > 60\n"
            "debug drop ip.bad_options: kind 148 length 0\n");
  EXPECT_EQ(arp.text(), "");
  EXPECT_EQ(s.get(Counter::arp_bad_op), 1u);
}

TEST(Stats, DropFormatsOnlyWhenLogging) {
  LogCapture ip(log::Layer::ip);
  Stats s;
  int formatted = 0;
  s.drop(Counter::ip_short, "{}", Expensive{&formatted});
  EXPECT_EQ(formatted, 0);
  EXPECT_EQ(s.get(Counter::ip_short), 1u);

  ASSERT_EQ(log::set_levels("ip=debug"), "");
  s.drop(Counter::ip_short, "{}", Expensive{&formatted});
  EXPECT_EQ(formatted, 1);
  EXPECT_EQ(ip.text(), "debug drop ip.short: expensive\n");
  EXPECT_EQ(s.get(Counter::ip_short), 2u);
}

TEST(Stats, DetailWithBracesIsNotAFormatString) {
  LogCapture ip(log::Layer::ip);
  ASSERT_EQ(log::set_levels("ip=debug"), "");
  Stats s;
  std::string detail = "odd {} braces {";
  s.drop(Counter::ip_short, std::string_view(detail));
  EXPECT_EQ(ip.text(), "debug drop ip.short: odd {} braces {\n");
}

}  // namespace
}  // namespace ustack
