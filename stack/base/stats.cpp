#include "stack/base/stats.h"

namespace ustack {
namespace {

struct CounterInfo {
  std::string_view name;
  log::Layer layer;
};

constexpr CounterInfo kCounters[] = {
#define USTACK_COUNTER_INFO(id, name, layer) {name, log::Layer::layer},
    USTACK_COUNTERS(USTACK_COUNTER_INFO)
#undef USTACK_COUNTER_INFO
};

static_assert(std::size(kCounters) == kCounterCount);

}  // namespace

std::string_view counter_name(Counter c) { return kCounters[static_cast<std::size_t>(c)].name; }

log::Layer counter_layer(Counter c) { return kCounters[static_cast<std::size_t>(c)].layer; }

std::uint64_t Stats::get(std::string_view name) const {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (kCounters[i].name == name) return values_[i];
  }
  return 0;
}

void Stats::drop(Counter reason, std::string_view detail) {
  add(reason);
  auto& logger = log::get(counter_layer(reason));
  if (logger.should_log(spdlog::level::debug)) {
    if (detail.empty()) {
      logger.debug("drop {}", counter_name(reason));
    } else {
      logger.debug("drop {}: {}", counter_name(reason), detail);
    }
  }
}

}  // namespace ustack
