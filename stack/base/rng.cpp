#include "stack/base/rng.h"

#include <sys/random.h>

#include <cstring>

namespace ustack {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(std::uint64_t seed) {
  // Expand the seed with splitmix64 so that small seeds (0, 1, 2 …) still give a full state.
  for (auto& word : s_) word = splitmix64(seed);
}

namespace {

// getrandom never returns short for requests of up to 256 bytes once the pool is initialized;
// the loop only covers EINTR.
std::uint64_t entropy_u64() {
  std::uint64_t value = 0;
  std::size_t got = 0;
  auto* p = reinterpret_cast<unsigned char*>(&value);
  for (int tries = 0; got < sizeof value && tries < 16; ++tries) {
    ssize_t n = getrandom(p + got, sizeof value - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  return value;
}

}  // namespace

Rng Rng::from_entropy() {
  Rng rng(0);
  // The whole 256-bit state from the kernel, not a 64-bit seed expanded.
  for (auto& word : rng.s_) word = entropy_u64();
  if (rng.s_ == std::array<std::uint64_t, 4>{}) rng.s_[0] = 1;  // xoshiro's one bad state
  rng.from_entropy_ = true;
  return rng;
}

std::uint64_t Rng::secret_u64() { return from_entropy_ ? entropy_u64() : next_u64(); }

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Rng::below(std::uint64_t bound) {
  // Lemire's multiply-shift; the tiny bias is irrelevant for simulation and port choice.
  __extension__ using u128 = unsigned __int128;
  return static_cast<std::uint64_t>((static_cast<u128>(next_u64()) * bound) >> 64);
}

bool Rng::chance(double probability) {
  if (probability <= 0.0) return false;
  if (probability >= 1.0) return true;
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53 < probability;
}

}  // namespace ustack
