#include "stack/base/log.h"

#include <array>
#include <cstdlib>
#include <memory>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace ustack::log {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(Layer::count)> kNames = {
    "eth", "arp", "ip", "icmp", "udp", "tcp", "socket", "dev", "stack", "http"};

struct Loggers {
  std::array<std::shared_ptr<spdlog::logger>, kNames.size()> by_layer;

  Loggers() {
    // All layers share one stderr sink so their lines interleave in order.
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (size_t i = 0; i < kNames.size(); ++i) {
      by_layer[i] = std::make_shared<spdlog::logger>(std::string(kNames[i]), sink);
      by_layer[i]->set_level(spdlog::level::info);
      by_layer[i]->set_pattern("%H:%M:%S.%f %^%-5l%$ [%n] %v");
    }
    // The access log: its own stream, and no level column (its lines are all info).
    auto& http = by_layer[static_cast<size_t>(Layer::http)];
    http = std::make_shared<spdlog::logger>(
        "http", std::make_shared<spdlog::sinks::stdout_color_sink_mt>());
    http->set_level(spdlog::level::info);
    http->set_pattern("%H:%M:%S.%f [%n] %v");
  }
};

Loggers& loggers() {
  static Loggers instance;
  return instance;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view name(Layer layer) {
  return kNames[static_cast<size_t>(layer)];
}

spdlog::logger& get(Layer layer) {
  return *loggers().by_layer[static_cast<size_t>(layer)];
}

std::string set_levels(std::string_view spec) {
  while (!spec.empty()) {
    auto comma = spec.find(',');
    std::string_view item = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;

    auto eq = item.find('=');
    std::string_view layer_name = eq == std::string_view::npos ? "" : trim(item.substr(0, eq));
    std::string_view level_name = eq == std::string_view::npos ? item : trim(item.substr(eq + 1));
    auto level = spdlog::level::from_str(std::string(level_name));
    // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
    if (level == spdlog::level::off && level_name != "off") {
      return fmt::format("unknown log level '{}' (trace, debug, info, warn, error, off)",
                         level_name);
    }
    if (layer_name.empty()) {
      for (auto& l : loggers().by_layer) l->set_level(level);
      continue;
    }
    bool found = false;
    for (size_t i = 0; i < kNames.size(); ++i) {
      if (kNames[i] == layer_name) {
        loggers().by_layer[i]->set_level(level);
        found = true;
      }
    }
    if (!found) {
      return fmt::format(
          "unknown log layer '{}' (eth, arp, ip, icmp, udp, tcp, socket, dev, stack, http)",
          layer_name);
    }
  }
  return {};
}

std::string set_levels_from_env() {
  const char* env = std::getenv("USTACK_LOG");
  if (env == nullptr) return {};
  return set_levels(env);
}

}  // namespace ustack::log
