// Randomness for the core, always injected (DESIGN.md): seeded in tests so runs repeat exactly,
// seeded from getrandom(2) in production. The generator is xoshiro256** (Blackman and Vigna),
// which is fast and statistically strong; it is not a cryptographic generator, so secrets such as
// the RFC 6528 ISN key come from secret_u64(), which reads getrandom directly in production.
#pragma once

#include <array>
#include <cstdint>

namespace ustack {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  // Seeded from the kernel's entropy pool.
  static Rng from_entropy();

  std::uint64_t next_u64();
  // 64 bits for a key that must stay secret (the RFC 6528 ISN key, the SYN cookie key): straight
  // from getrandom for a generator made by from_entropy(), so no output of this generator tells
  // anything about it; from the sequence itself for a seeded one, so tests stay repeatable.
  std::uint64_t secret_u64();
  std::uint32_t next_u32() { return static_cast<std::uint32_t>(next_u64() >> 32); }
  // Uniform in [0, bound); bound must be > 0.
  std::uint64_t below(std::uint64_t bound);
  // True with the given probability in [0, 1].
  bool chance(double probability);

 private:
  std::array<std::uint64_t, 4> s_{};
  bool from_entropy_ = false;
};

}  // namespace ustack
