#include "netdev/fault_injector.h"

#include <algorithm>

namespace ustack {
namespace {

// Token bucket arithmetic is in bytes * 1e9, so that `rate` bytes per second add exactly `rate`
// units per nanosecond. The limits below keep every product inside int64_t: a bucket of at most
// 1 GB is 1e18 units, and a frame or a nanosecond of refill adds far less than the remaining
// 8e18.
constexpr std::int64_t kScale = 1'000'000'000;
constexpr std::uint64_t kMaxRate = 1'000'000'000'000;  // 1 TB/s
constexpr std::uint64_t kMaxBurst = 1'000'000'000;     // 1 GB
constexpr Duration kMaxHold = std::chrono::hours(24);

FaultConfig normalized(FaultConfig config) {
  config.rate_bytes_per_second = std::min(config.rate_bytes_per_second, kMaxRate);
  config.rate_burst_bytes = std::clamp<std::uint64_t>(config.rate_burst_bytes, 1, kMaxBurst);
  // Holding times beyond a day make no sense for a test link, and the cap keeps Instant + delay
  // far from overflowing.
  config.delay = std::clamp<Duration>(config.delay, Duration::zero(), kMaxHold);
  config.jitter = std::clamp<Duration>(config.jitter, Duration::zero(), kMaxHold);
  config.reorder_hold = std::clamp<Duration>(config.reorder_hold, Duration::zero(), kMaxHold);
  return config;
}

// Tokens after `elapsed` more nanoseconds of refill, capped at `capacity`.
std::int64_t refilled(std::int64_t tokens, Duration elapsed, std::int64_t rate,
                      std::int64_t capacity) {
  // The cap also applies when set_config() made the bucket smaller than what it holds.
  if (tokens >= capacity) return capacity;
  if (elapsed <= Duration::zero()) return tokens;
  std::int64_t missing = capacity - tokens;
  // Compare before multiplying, so that a long idle time cannot overflow.
  if (elapsed.count() >= missing / rate + 1) return capacity;
  return std::min(capacity, tokens + elapsed.count() * rate);
}

}  // namespace

FaultInjector::FaultInjector(NetDevice& inner, const Clock& clock, const FaultConfig& config)
    : inner_(inner), clock_(clock), config_(normalized(config)), rng_(config.seed) {}

void FaultInjector::set_config(const FaultConfig& config) {
  config_ = normalized(config);
}

bool FaultInjector::applies_to(FaultDirection direction) const {
  return (static_cast<std::uint8_t>(config_.direction) & static_cast<std::uint8_t>(direction)) != 0;
}

const FaultConfig& FaultInjector::rules(const Lane& lane) const {
  // A direction without faults still runs its held frames out through the stages, in order.
  static const FaultConfig kNoFaults{};
  return applies_to(lane.direction) ? config_ : kNoFaults;
}

bool FaultInjector::passes_straight(const Lane& lane) const {
  if (lane.held() > 0) return false;  // new frames must queue behind held ones
  if (!applies_to(lane.direction)) return true;
  return config_.drop <= 0.0 && config_.corrupt <= 0.0 && config_.duplicate <= 0.0 &&
         config_.reorder <= 0.0 && config_.delay <= Duration::zero() &&
         config_.jitter <= Duration::zero() && config_.rate_bytes_per_second == 0;
}

std::size_t FaultInjector::held_frames() const {
  return tx_.held() + rx_.held();
}

std::size_t FaultInjector::receive(std::vector<Packet>& out, std::size_t max) {
  if (passes_straight(rx_)) return inner_.receive(out, max);

  Instant now = clock_.now();
  last_now_ = now;
  advance(rx_, now);
  // Only read what can be handed on in this call, so that `released` stays bounded.
  if (rx_.released.size() < max) {
    scratch_.clear();
    inner_.receive(scratch_, max - rx_.released.size());
    for (Packet& frame : scratch_) inject(rx_, std::move(frame), now);
    scratch_.clear();
    advance(rx_, now);
  }
  std::size_t handed = 0;
  while (handed < max && !rx_.released.empty()) {
    out.push_back(std::move(rx_.released.front()));
    rx_.released.pop_front();
    ++handed;
  }
  return handed;
}

bool FaultInjector::transmit(Packet frame) {
  if (passes_straight(tx_)) return inner_.transmit(std::move(frame));
  Instant now = clock_.now();
  last_now_ = now;
  advance(tx_, now);
  inject(tx_, std::move(frame), now);
  advance(tx_, now);
  send_released(tx_);
  return true;
}

void FaultInjector::flush() {
  if (tx_.held() > 0) {
    Instant now = clock_.now();
    last_now_ = now;
    advance(tx_, now);
    send_released(tx_);
  }
  inner_.flush();
}

void FaultInjector::send_released(Lane& lane) {
  while (!lane.released.empty()) {
    if (!inner_.transmit(std::move(lane.released.front()))) ++counters_.tx_refused;
    lane.released.pop_front();
  }
}

void FaultInjector::inject(Lane& lane, Packet frame, Instant now) {
  const FaultConfig& c = rules(lane);
  // The random draws happen in a fixed order, one per enabled fault, so that a given seed and
  // configuration always treat the n-th frame the same way.
  if (rng_.chance(c.drop)) {
    ++counters_.dropped;
    return;
  }
  if (!frame.empty() && rng_.chance(c.corrupt)) {
    std::size_t byte = rng_.below(frame.size());
    auto bit = static_cast<unsigned>(rng_.below(8));
    frame.data()[byte] ^= static_cast<std::uint8_t>(1u << bit);
    // The flip happened on the "wire", after the device vouched for the checksum: the stack
    // must verify it (and a partial checksum then fails, as it should).
    frame.offload.csum_partial = false;
    frame.offload.csum_valid = false;
    ++counters_.corrupted;
  }
  std::optional<Packet> copy;
  if (rng_.chance(c.duplicate)) {
    copy = frame.clone();
    ++counters_.duplicated;
  }

  for (Packet* p : {&frame, copy ? &*copy : nullptr}) {
    if (p == nullptr) continue;
    if (lane.reorder_held) {
      // The held frame is overtaken by this one and follows right after it.
      Packet held = std::move(lane.reorder_held->frame);
      lane.reorder_held.reset();
      after_reorder(lane, std::move(*p), now);
      after_reorder(lane, std::move(held), now);
    } else if (rng_.chance(c.reorder)) {
      lane.reorder_held = Timed{now + c.reorder_hold, std::move(*p)};
      ++counters_.reordered;
    } else {
      after_reorder(lane, std::move(*p), now);
    }
  }
}

void FaultInjector::after_reorder(Lane& lane, Packet frame, Instant at) {
  const FaultConfig& c = rules(lane);
  // Frames go through the delay queue while it holds any, even after the delay was configured
  // away, so that they never overtake the ones already in it.
  bool delaying = c.delay > Duration::zero() || c.jitter > Duration::zero();
  if (!delaying && lane.delay_queue.empty()) {
    after_delay(lane, std::move(frame), at);
    return;
  }
  if (lane.delay_queue.size() >= c.delay_queue_limit) {
    ++counters_.delay_dropped;
    return;
  }
  Duration extra = Duration::zero();
  if (c.jitter > Duration::zero()) {
    extra = Duration(
        static_cast<Duration::rep>(rng_.below(static_cast<std::uint64_t>(c.jitter.count()) + 1)));
  }
  Instant due = at + c.delay + extra;
  if (!lane.delay_queue.empty()) due = std::max(due, lane.delay_queue.back().at);
  lane.delay_queue.push_back(Timed{due, std::move(frame)});
  if (delaying) ++counters_.delayed;
}

void FaultInjector::after_delay(Lane& lane, Packet frame, Instant at) {
  const FaultConfig& c = rules(lane);
  if (c.rate_bytes_per_second == 0 && lane.rate_queue.empty()) {
    lane.released.push_back(std::move(frame));
    return;
  }
  if (lane.rate_queue.size() >= c.rate_queue_limit) {
    ++counters_.rate_dropped;
    return;
  }
  if (!lane.rate_queue.empty()) at = std::max(at, lane.rate_queue.back().at);
  lane.rate_queue.push_back(Timed{at, std::move(frame)});
}

std::int64_t FaultInjector::bucket_tokens(const Lane& lane, Instant at) const {
  const FaultConfig& c = rules(lane);
  auto capacity = static_cast<std::int64_t>(c.rate_burst_bytes) * kScale;
  // A bucket that was never used is full.
  if (!lane.bucket_started) return capacity;
  return refilled(lane.tokens_scaled, at - lane.tokens_at, rate_per_ns(lane), capacity);
}

std::int64_t FaultInjector::rate_per_ns(const Lane& lane) const {
  // Bytes per second are bytes * 1e9 units per nanosecond.
  return static_cast<std::int64_t>(rules(lane).rate_bytes_per_second);
}

Instant FaultInjector::rate_departure(const Lane& lane) const {
  const FaultConfig& c = rules(lane);
  const Timed& head = lane.rate_queue.front();
  std::int64_t rate = rate_per_ns(lane);
  if (rate == 0) return head.at;  // the limit was configured away: drain what is queued

  Instant start = lane.bucket_started ? std::max(head.at, lane.tokens_at) : head.at;
  std::int64_t tokens = bucket_tokens(lane, start);
  // A frame larger than the bucket needs a full bucket (and leaves it in debt).
  auto capacity = static_cast<std::int64_t>(c.rate_burst_bytes) * kScale;
  std::int64_t need = std::min(static_cast<std::int64_t>(head.frame.size()) * kScale, capacity);
  if (tokens >= need) return start;
  return start + Duration((need - tokens + rate - 1) / rate);
}

void FaultInjector::advance(Lane& lane, Instant now) {
  if (lane.reorder_held && lane.reorder_held->at <= now) {
    Timed held = std::move(*lane.reorder_held);
    lane.reorder_held.reset();
    after_reorder(lane, std::move(held.frame), held.at);
  }
  while (!lane.delay_queue.empty() && lane.delay_queue.front().at <= now) {
    Timed due = std::move(lane.delay_queue.front());
    lane.delay_queue.pop_front();
    after_delay(lane, std::move(due.frame), due.at);
  }
  while (!lane.rate_queue.empty()) {
    Instant departure = rate_departure(lane);
    if (departure > now) break;
    if (rate_per_ns(lane) > 0) {
      auto size = static_cast<std::int64_t>(lane.rate_queue.front().frame.size());
      lane.tokens_scaled = bucket_tokens(lane, departure) - size * kScale;
      lane.tokens_at = departure;
      lane.bucket_started = true;
    }
    lane.released.push_back(std::move(lane.rate_queue.front().frame));
    lane.rate_queue.pop_front();
  }
}

Instant FaultInjector::next_deadline() const {
  Instant earliest = inner_.next_deadline();
  for (const Lane* lane : {&tx_, &rx_}) {
    // Frames already released but not handed on (more than `max` came due at once) are due now.
    if (!lane->released.empty()) earliest = std::min(earliest, last_now_);
    if (lane->reorder_held) earliest = std::min(earliest, lane->reorder_held->at);
    if (!lane->delay_queue.empty()) earliest = std::min(earliest, lane->delay_queue.front().at);
    if (!lane->rate_queue.empty()) earliest = std::min(earliest, rate_departure(*lane));
  }
  return earliest;
}

}  // namespace ustack
