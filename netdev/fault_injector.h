// FaultInjector: a NetDevice decorator that makes a clean link lossy, in a repeatable way, for
// tests that must show the stack survives what real networks do (the idea of Linux netem and
// smoltcp's FaultInjector, with everything seeded and driven by the caller's Clock).
//
// Every frame travelling in a configured direction goes through these stages, in this order:
//
//   drop ─> corrupt ─> duplicate ─> reorder ─> delay (+ jitter) ─> rate limit ─> out
//
// - drop:      the frame is lost.
// - corrupt:   one random bit of the frame is flipped (then the checksums must catch it).
// - duplicate: a copy follows the frame through the remaining stages.
// - reorder:   the frame is held back and let go right after the next frame, or at its hold
//              deadline if no frame comes; one frame is held at a time.
// - delay:     the frame is held for `delay` plus a uniform random part of `jitter`. Jitter never
//              reorders: a frame is not let go before the one ahead of it.
// - rate:      a token bucket of `rate_burst_bytes` filling at `rate_bytes_per_second` paces
//              frames out; frames arriving while `rate_queue_limit` frames wait are dropped.
//
// Held frames are released by whichever call comes next once they are due: transmit() and
// flush() for the tx direction, receive() for rx. next_deadline() says when that is, so the
// Runtime (or a test with a ManualClock) knows when to call. Release times are computed from the
// times the frames became due, never from when the call happened, so a run depends only on the
// seed, the configuration, the frames and the clock readings at which they arrive.
//
// Every queue is bounded; every frame the injector throws away is counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "netdev/net_device.h"
#include "stack/base/rng.h"
#include "stack/base/time.h"

namespace ustack {

enum class FaultDirection : std::uint8_t {
  tx = 1,    // frames the stack transmits
  rx = 2,    // frames the stack receives
  both = 3,  // each direction with its own queues; one random sequence for both
};

struct FaultConfig {
  // Seeds the injector's Rng; read only at construction.
  std::uint64_t seed = 1;
  FaultDirection direction = FaultDirection::both;

  // Probabilities in [0, 1], drawn independently for each frame.
  double drop = 0.0;
  double corrupt = 0.0;
  double duplicate = 0.0;
  double reorder = 0.0;
  // How long a reordered frame waits for a successor before it goes out alone.
  Duration reorder_hold = 10ms;

  Duration delay = Duration::zero();
  Duration jitter = Duration::zero();  // extra delay, uniform in [0, jitter]
  std::size_t delay_queue_limit = 4096;

  std::uint64_t rate_bytes_per_second = 0;  // 0: no rate limit
  // Bucket size: how many bytes may leave back to back after the link was idle. A frame larger
  // than the bucket waits for a full bucket and leaves the bucket in debt.
  std::uint64_t rate_burst_bytes = 1514;
  std::size_t rate_queue_limit = 256;
};

// What the injector did; each frame is counted once per stage it went through.
struct FaultCounters {
  std::uint64_t dropped = 0;  // by the drop probability
  std::uint64_t corrupted = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;      // held back by the reorder stage
  std::uint64_t delayed = 0;        // held by the delay stage
  std::uint64_t delay_dropped = 0;  // the delay queue was full
  std::uint64_t rate_dropped = 0;   // the rate limiter's queue was full
  std::uint64_t tx_refused = 0;     // released frames the inner device did not take
};

class FaultInjector final : public NetDevice {
 public:
  FaultInjector(NetDevice& inner, const Clock& clock, const FaultConfig& config);

  // Frames from the inner device, after the rx faults; at most `max`. Frames released by the
  // faults but beyond `max` wait for the next call.
  std::size_t receive(std::vector<Packet>& out, std::size_t max) override;
  // Takes the frame into the tx faults and returns true, even if it is dropped (it was lost on
  // the wire). Without tx faults (and nothing held) the frame goes straight to the inner device,
  // whose answer is returned.
  bool transmit(Packet frame) override;
  // Hands due tx frames to the inner device, then flushes it.
  void flush() override;
  int fd() const override { return inner_.fd(); }
  std::size_t mtu() const override { return inner_.mtu(); }
  std::string_view name() const override { return inner_.name(); }
  // The earliest of the inner device's deadline and the next held frame's release.
  Instant next_deadline() const override;
  // None: the injector stands for a link of MTU-sized frames with finished checksums (a rate
  // limit or a drop of a 64 KB TSO frame would not be one frame's worth), so TCP behind it makes
  // neither. Received frames keep the marks the inner device gave them, except corrupted ones.
  DeviceOffloads offloads() const override { return {}; }
  void attach(Stats& stats) override { inner_.attach(stats); }

  const FaultCounters& counters() const { return counters_; }
  const FaultConfig& config() const { return config_; }
  // Changes the faults from now on (a test may heal a partition, say); frames already held keep
  // their release times and the random sequence goes on.
  void set_config(const FaultConfig& config);

  // Frames currently held by the reorder, delay and rate stages, in both directions.
  std::size_t held_frames() const;

 private:
  struct Timed {
    Instant at;
    Packet frame;
  };

  // The stages of one direction.
  struct Lane {
    explicit Lane(FaultDirection d) : direction(d) {}

    const FaultDirection direction;
    std::optional<Timed> reorder_held;  // at: release deadline
    std::deque<Timed> delay_queue;      // at: release time, non-decreasing
    std::deque<Timed> rate_queue;       // at: arrival time, non-decreasing
    // Token bucket, in bytes scaled by 1e9 so that refills are exact integers of rate * ns.
    std::int64_t tokens_scaled = 0;
    Instant tokens_at{};
    bool bucket_started = false;
    std::deque<Packet> released;  // out of all stages, not yet handed on

    std::size_t held() const {
      return (reorder_held ? 1 : 0) + delay_queue.size() + rate_queue.size() + released.size();
    }
  };

  bool applies_to(FaultDirection direction) const;
  // The configuration for frames in `lane`: config_, or no faults if its direction is not hit.
  const FaultConfig& rules(const Lane& lane) const;
  // True when frames in `lane` meet no fault and nothing is held: they go straight through.
  bool passes_straight(const Lane& lane) const;
  // Runs a new frame through the stages of `lane` at time `now`.
  void inject(Lane& lane, Packet frame, Instant now);
  // Passes frames whose time has come on to the following stage, up to `now`.
  void advance(Lane& lane, Instant now);
  void after_reorder(Lane& lane, Packet frame, Instant at);
  void after_delay(Lane& lane, Packet frame, Instant at);
  // When the rate stage lets its first frame go.
  Instant rate_departure(const Lane& lane) const;
  // The lane's bucket refilled up to `at` (not before its last departure), in bytes * 1e9.
  std::int64_t bucket_tokens(const Lane& lane, Instant at) const;
  std::int64_t rate_per_ns(const Lane& lane) const;
  void send_released(Lane& lane);

  NetDevice& inner_;
  const Clock& clock_;
  FaultConfig config_;
  Rng rng_;
  FaultCounters counters_;
  Lane tx_{FaultDirection::tx};
  Lane rx_{FaultDirection::rx};
  std::vector<Packet> scratch_;  // frames read from the inner device before the rx faults
  Instant last_now_{};
};

}  // namespace ustack
