#include "stack/tcp/isn.h"

#include <bit>
#include <chrono>

namespace ustack::tcp {

namespace {

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  // One message block, with c = 2 rounds (the "2" of SipHash-2-4).
  void compress(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

// Floor division, so that instants before the timeline's epoch still tick evenly.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::uint64_t pack_addresses(Endpoint local, Endpoint remote) {
  return (std::uint64_t{local.address.to_u32()} << 32) | remote.address.to_u32();
}

std::uint64_t pack_ports(Endpoint local, Endpoint remote) {
  return (std::uint64_t{local.port} << 16) | remote.port;
}

constexpr std::int64_t kNsPerIsnTick = 4000;  // RFC 9293 3.4.1: the clock ticks every 4 us
constexpr std::int64_t kNsPerMinute = 60'000'000'000;

// Minutes on the stack's timeline, mod 2^32: the full count goes into the hash so that a cookie
// replayed when the 8-bit field comes round again (256 minutes later) still fails.
std::uint32_t minute_of(Instant now) {
  return static_cast<std::uint32_t>(floor_div(now.time_since_epoch().count(), kNsPerMinute));
}

constexpr std::uint32_t kHashBits = 21;
constexpr std::uint32_t kHashMask = (std::uint32_t{1} << kHashBits) - 1;
constexpr std::uint32_t kIndexShift = 21;
constexpr std::uint32_t kMinuteShift = 24;

}  // namespace

// SipHash-2-4 as specified in Aumasson and Bernstein, "SipHash: a fast short-input PRF" (2012),
// section 2, for a message of whole 8-byte blocks: each word is one block m_i, i.e. the word's
// little-endian encoding is the byte stream the paper hashes, and the final block carries only
// the length byte (count * 8) mod 256 in its top byte. So siphash24({k0, k1}, {w}, 1) equals the
// reference implementation's output for the 8 bytes of w in little-endian order, keyed with the
// 16 bytes of k0 then k1 in little-endian order.
std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, const std::uint64_t* words,
                        std::size_t count) {
  SipState s{key[0] ^ 0x736f6d6570736575, key[1] ^ 0x646f72616e646f6d, key[0] ^ 0x6c7967656e657261,
             key[1] ^ 0x7465646279746573};
  for (std::size_t i = 0; i < count; ++i) s.compress(words[i]);
  s.compress(static_cast<std::uint64_t>(count * 8) << 56);
  // Finalization: d = 4 rounds.
  s.v2 ^= 0xff;
  s.round();
  s.round();
  s.round();
  s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

IsnGenerator::IsnGenerator(Rng& rng) : key_{rng.secret_u64(), rng.secret_u64()} {}

// RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey).
Seq IsnGenerator::isn(Endpoint local, Endpoint remote, Instant now) const {
  const auto m =
      static_cast<std::uint32_t>(floor_div(now.time_since_epoch().count(), kNsPerIsnTick));
  const std::uint64_t words[2] = {pack_addresses(local, remote), pack_ports(local, remote)};
  const auto f = static_cast<std::uint32_t>(siphash24(key_, words, 2));
  return Seq(m + f);
}

SynCookies::SynCookies(Rng& rng) : key_{rng.secret_u64(), rng.secret_u64()} {}

std::uint32_t SynCookies::hash(Endpoint local, Endpoint remote, Seq peer_isn, std::uint32_t minute,
                               std::uint32_t mss_index) const {
  const std::uint64_t words[3] = {
      pack_addresses(local, remote),
      (pack_ports(local, remote) << 32) | peer_isn.raw(),
      (std::uint64_t{minute} << 32) | mss_index,
  };
  return static_cast<std::uint32_t>(siphash24(key_, words, 3)) & kHashMask;
}

Seq SynCookies::make(Endpoint local, Endpoint remote, Seq peer_isn, std::uint16_t mss,
                     Instant now) const {
  // The largest table entry not above the MSS we chose; an MSS under 536 (which RFC 9293 3.7.1
  // makes the default anyway) still gets index 0.
  std::uint32_t index = 0;
  for (std::uint32_t i = 1; i < kMssTable.size(); ++i) {
    if (kMssTable[i] <= mss) index = i;
  }
  const std::uint32_t minute = minute_of(now);
  return Seq(((minute & 0xff) << kMinuteShift) | (index << kIndexShift) |
             hash(local, remote, peer_isn, minute, index));
}

std::optional<std::uint16_t> SynCookies::check(Endpoint local, Endpoint remote, Seq peer_isn,
                                               Seq cookie, Instant now) const {
  const std::uint32_t current = minute_of(now);
  // How many minutes ago the cookie was made, from the 8-bit counter; unsigned arithmetic
  // handles its wrap from 255 to 0.
  const std::uint32_t age = (current - (cookie.raw() >> kMinuteShift)) & 0xff;
  if (age > 1) return std::nullopt;
  const std::uint32_t index = (cookie.raw() >> kIndexShift) & 0x7;
  if ((cookie.raw() & kHashMask) != hash(local, remote, peer_isn, current - age, index)) {
    return std::nullopt;
  }
  return kMssTable[index];
}

}  // namespace ustack::tcp
