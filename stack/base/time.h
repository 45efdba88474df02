// Time as the core sees it: a monotonic Instant handed in by the caller.
//
// The core never reads a clock itself (DESIGN.md, "Rules of the core"); Stack::poll(now) and the
// socket calls pass the current Instant in. Production uses SteadyClock, tests a ManualClock they
// advance by hand so that protocol timers run in virtual time.
#pragma once

#include <chrono>
#include <cstdint>

#include "stack/base/fmt.h"

namespace ustack {

using Duration = std::chrono::nanoseconds;
using namespace std::chrono_literals;

// The clock tag of the stack's timeline. Its epoch is arbitrary (the steady clock's, or zero for a
// ManualClock); only differences between Instants mean anything.
struct StackTime {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = Duration;
  using time_point = std::chrono::time_point<StackTime, Duration>;
  static constexpr bool is_steady = true;
};

using Instant = StackTime::time_point;

constexpr Instant kNever = Instant::max();

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
  // True for a clock that only moves when told to: waiting for it in real time is meaningless.
  virtual bool is_manual() const { return false; }
};

// std::chrono::steady_clock, for the Runtime.
class SteadyClock final : public Clock {
 public:
  Instant now() const override;
};

// A clock that only moves when a test says so.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Instant start = Instant{} + 1s) : now_(start) {}
  Instant now() const override { return now_; }
  bool is_manual() const override { return true; }
  void advance(Duration d) { now_ += d; }
  void set(Instant t) { now_ = t; }

 private:
  Instant now_;
};

}  // namespace ustack

// Instants print as seconds on the stack's timeline ("12.000345s").
template <>
struct fmt::formatter<ustack::Instant> : fmt::formatter<double> {
  template <typename Ctx>
  auto format(ustack::Instant t, Ctx& ctx) const {
    if (t == ustack::kNever) return fmt::format_to(ctx.out(), "never");
    double s = static_cast<double>(t.time_since_epoch().count()) / 1e9;
    return fmt::format_to(ctx.out(), "{:.6f}s", s);
  }
};
