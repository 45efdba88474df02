#include "stack/base/time.h"

namespace ustack {

Instant SteadyClock::now() const {
  auto d = std::chrono::steady_clock::now().time_since_epoch();
  return Instant{std::chrono::duration_cast<Duration>(d)};
}

}  // namespace ustack
