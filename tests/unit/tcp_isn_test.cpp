// Initial sequence numbers (RFC 6528) and SYN cookies (RFC 4987 3.6): SipHash-2-4 against the
// reference vectors, the ISN clock and its per-tuple offset, and the cookie's encoding, checks
// and lifetime across the wrap of its 8-bit minute counter.
#include "stack/tcp/isn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <ostream>
#include <set>
#include <vector>

#include "stack/base/rng.h"
#include "stack/base/time.h"

namespace ustack::tcp {
inline void PrintTo(Seq s, std::ostream* os) {
  *os << "Seq(" << s.raw() << ")";
}

namespace {

// The reference implementation's vectors (Aumasson and Bernstein, vectors.h / the paper's
// appendix) for key 00 01 .. 0f and the messages 00 01 .. (n-1), n = 0, 8, 16, .. 56: the
// lengths that are whole 64-bit words. Each is the output's little-endian bytes.
constexpr std::array<std::array<std::uint8_t, 8>, 8> kSipVectors = {{
    {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72},  // n = 0
    {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93},  // n = 8
    {0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f},  // n = 16
    {0x94, 0xaf, 0x49, 0xf6, 0xc6, 0x50, 0xad, 0xb8},  // n = 24
    {0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71},  // n = 32
    {0xd0, 0xa7, 0x04, 0x53, 0x6b, 0xa9, 0x3e, 0x0e},  // n = 40
    {0x51, 0xa9, 0xcb, 0x9e, 0xcb, 0xa3, 0x12, 0xe6},  // n = 48
    {0xbd, 0x83, 0x8d, 0x3a, 0xaf, 0xbf, 0x8d, 0xb7},  // n = 56
}};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

constexpr std::array<std::uint64_t, 2> kSipKey = {0x0706050403020100, 0x0f0e0d0c0b0a0908};

TEST(SipHash24, MatchesReferenceVectorForEightBytes) {
  // The bytes 00 01 .. 07 as one little-endian word.
  const std::uint64_t word = 0x0706050403020100;
  EXPECT_EQ(siphash24(kSipKey, &word, 1), 0x93f5f5799a932462u);
  EXPECT_EQ(siphash24(kSipKey, nullptr, 0), 0x726fdb47dd0e0e31u);
}

TEST(SipHash24, MatchesReferenceVectorsForWholeWords) {
  std::array<std::uint8_t, 64> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i);
  std::array<std::uint64_t, 8> words{};
  for (std::size_t i = 0; i < words.size(); ++i) words[i] = load_le64(&bytes[8 * i]);
  for (std::size_t n = 0; n < kSipVectors.size(); ++n) {
    EXPECT_EQ(siphash24(kSipKey, words.data(), n), load_le64(kSipVectors[n].data()))
        << n << " words";
  }
}

TEST(SipHash24, DependsOnKeyAndEveryWord) {
  const std::array<std::uint64_t, 3> words = {1, 2, 3};
  const std::uint64_t h = siphash24(kSipKey, words.data(), 3);
  EXPECT_NE(h, siphash24({kSipKey[0] ^ 1, kSipKey[1]}, words.data(), 3));
  EXPECT_NE(h, siphash24({kSipKey[0], kSipKey[1] ^ (std::uint64_t{1} << 63)}, words.data(), 3));
  for (std::size_t i = 0; i < words.size(); ++i) {
    auto changed = words;
    changed[i] ^= std::uint64_t{1} << 40;
    EXPECT_NE(h, siphash24(kSipKey, changed.data(), 3)) << i;
  }
  // The length is hashed: a trailing zero word is not the same message.
  const std::array<std::uint64_t, 4> longer = {1, 2, 3, 0};
  EXPECT_NE(h, siphash24(kSipKey, longer.data(), 4));
}

const Endpoint kLocal{Ipv4Address(10, 0, 0, 2), 80};
const Endpoint kRemote{Ipv4Address(10, 0, 0, 1), 40000};

std::uint32_t ticks(Instant t) {
  // The RFC 6528 timer M, computed independently: 4 us ticks, mod 2^32.
  return static_cast<std::uint32_t>(t.time_since_epoch().count() / 4000);
}

TEST(IsnGenerator, DiffersPerFourTuple) {
  Rng rng(1);
  IsnGenerator gen(rng);
  const Instant now = Instant{} + 5s;
  const Seq base = gen.isn(kLocal, kRemote, now);
  const std::vector<std::pair<Endpoint, Endpoint>> others = {
      {{Ipv4Address(10, 0, 0, 3), 80}, kRemote},
      {{kLocal.address, 81}, kRemote},
      {kLocal, {Ipv4Address(10, 0, 0, 4), 40000}},
      {kLocal, {kRemote.address, 40001}},
      {kRemote, kLocal},  // the same pair of endpoints, the other way round
  };
  std::set<std::uint32_t> seen = {base.raw()};
  for (const auto& [local, remote] : others) {
    seen.insert(gen.isn(local, remote, now).raw());
  }
  EXPECT_EQ(seen.size(), others.size() + 1);
}

TEST(IsnGenerator, DiffersPerKey) {
  Rng a(1);
  Rng b(2);
  IsnGenerator gen_a(a);
  IsnGenerator gen_b(b);
  const Instant now = Instant{} + 5s;
  EXPECT_NE(gen_a.isn(kLocal, kRemote, now), gen_b.isn(kLocal, kRemote, now));
  // A second generator from the same Rng draws a fresh key.
  IsnGenerator gen_a2(a);
  EXPECT_NE(gen_a.isn(kLocal, kRemote, now), gen_a2.isn(kLocal, kRemote, now));
}

TEST(IsnGenerator, SameSeedSameIsn) {
  Rng a(42);
  Rng b(42);
  IsnGenerator gen_a(a);
  IsnGenerator gen_b(b);
  for (int i = 0; i < 100; ++i) {
    const Instant now = Instant{} + std::chrono::milliseconds(i * 37);
    const Endpoint remote{kRemote.address, static_cast<std::uint16_t>(30000 + i)};
    EXPECT_EQ(gen_a.isn(kLocal, remote, now), gen_b.isn(kLocal, remote, now));
  }
}

TEST(IsnGenerator, AdvancesEveryFourMicroseconds) {
  Rng rng(7);
  IsnGenerator gen(rng);
  const Instant t0 = Instant{} + 1s + 123ns;
  const Seq base = gen.isn(kLocal, kRemote, t0);

  // RFC 9293 3.4.1: about 250000 per second.
  EXPECT_EQ(gen.isn(kLocal, kRemote, t0 + 1s) - base, 250000);
  EXPECT_EQ(gen.isn(kLocal, kRemote, t0 + 4us) - base, 1);
  EXPECT_EQ(gen.isn(kLocal, kRemote, t0 + 1ms) - base, 250);
  EXPECT_EQ(gen.isn(kLocal, kRemote, t0 + 1h) - base, static_cast<std::int32_t>(900'000'000u));

  // Exactly the tick count between the two instants, mod 2^32, at any offset and any distance
  // (2^32 ticks is about 4.77 hours, so the longer ones wrap).
  Rng steps(8);
  for (int i = 0; i < 1000; ++i) {
    const Instant a =
        Instant{} + Duration{static_cast<Duration::rep>(steps.below(1'000'000'000'000))};
    const Instant b = a + Duration{static_cast<Duration::rep>(steps.below(100'000'000'000'000))};
    const std::uint32_t delta =
        gen.isn(kLocal, kRemote, b).raw() - gen.isn(kLocal, kRemote, a).raw();
    ASSERT_EQ(delta, ticks(b) - ticks(a)) << i;
  }
  // Within one tick the ISN stands still.
  const Instant tick_start = Instant{} + 4000us;
  EXPECT_EQ(gen.isn(kLocal, kRemote, tick_start), gen.isn(kLocal, kRemote, tick_start + 3999ns));
  EXPECT_NE(gen.isn(kLocal, kRemote, tick_start), gen.isn(kLocal, kRemote, tick_start + 4us));
}

// SYN cookies.

constexpr auto kTable = SynCookies::kMssTable;
constexpr Seq kPeerIsn{0x12345678};

std::uint32_t minute_field(Seq cookie) {
  return cookie.raw() >> 24;
}
std::uint32_t index_field(Seq cookie) {
  return (cookie.raw() >> 21) & 0x7;
}

TEST(SynCookies, CarriesEachTableMss) {
  Rng rng(3);
  SynCookies cookies(rng);
  const Instant now = Instant{} + 10min + 5s;
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    const Seq c = cookies.make(kLocal, kRemote, kPeerIsn, kTable[i], now);
    EXPECT_EQ(index_field(c), i);
    EXPECT_EQ(minute_field(c), 10u);
    EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, now), kTable[i]) << kTable[i];
  }
}

TEST(SynCookies, RoundsMssDownToTheTable) {
  Rng rng(3);
  SynCookies cookies(rng);
  const Instant now = Instant{} + 10min;
  struct Case {
    std::uint16_t mss;
    std::uint16_t carried;
  };
  const std::vector<Case> cases = {
      {0, 536},      {1, 536},       {100, 536},     {535, 536},   {537, 536},   {1299, 536},
      {1301, 1300},  {1439, 1300},   {1441, 1440},   {1459, 1440}, {1461, 1460}, {1500, 1460},
      {4311, 1460},  {4313, 4312},   {8959, 4312},   {8961, 8960}, {8999, 8960}, {9001, 9000},
      {65494, 9000}, {65496, 65495}, {65535, 65495},
  };
  for (const Case& c : cases) {
    const Seq cookie = cookies.make(kLocal, kRemote, kPeerIsn, c.mss, now);
    EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, cookie, now), c.carried) << c.mss;
  }
}

TEST(SynCookies, RejectsAnotherTupleOrPeerIsn) {
  Rng rng(4);
  SynCookies cookies(rng);
  const Instant now = Instant{} + 1h;
  const Seq c = cookies.make(kLocal, kRemote, kPeerIsn, 1460, now);
  ASSERT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, now), 1460);

  EXPECT_FALSE(cookies.check({Ipv4Address(10, 0, 0, 3), 80}, kRemote, kPeerIsn, c, now));
  EXPECT_FALSE(cookies.check({kLocal.address, 81}, kRemote, kPeerIsn, c, now));
  EXPECT_FALSE(cookies.check(kLocal, {Ipv4Address(10, 0, 0, 9), 40000}, kPeerIsn, c, now));
  EXPECT_FALSE(cookies.check(kLocal, {kRemote.address, 40001}, kPeerIsn, c, now));
  EXPECT_FALSE(cookies.check(kRemote, kLocal, kPeerIsn, c, now));
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn + 1, c, now));
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn - 1, c, now));
  for (int bit = 0; bit < 32; ++bit) {
    EXPECT_FALSE(cookies.check(kLocal, kRemote, Seq(kPeerIsn.raw() ^ (1u << bit)), c, now))
        << "peer ISN bit " << bit;
  }
}

TEST(SynCookies, RejectsEverySingleBitFlip) {
  // A flipped hash bit, a flipped MSS index (the hash covers the index, so a forged MSS fails
  // like a forged hash) or a flipped minute bit: none may pass, and in particular none may come
  // back with another MSS.
  Rng rng(5);
  SynCookies cookies(rng);
  Rng tuples(6);
  for (int n = 0; n < 40; ++n) {
    const Endpoint remote{Ipv4Address::from_u32(tuples.next_u32()),
                          static_cast<std::uint16_t>(tuples.below(65536))};
    const Seq peer_isn{tuples.next_u32()};
    const auto mss = kTable[static_cast<std::size_t>(n) % kTable.size()];
    // Spread over minutes, both odd and even, so flips of the low minute bit land on the
    // previous minute as well as on the next.
    const Instant now = Instant{} + std::chrono::minutes(n) + 30s;
    const Seq c = cookies.make(kLocal, remote, peer_isn, mss, now);
    ASSERT_EQ(cookies.check(kLocal, remote, peer_isn, c, now), mss);
    for (int bit = 0; bit < 32; ++bit) {
      const Seq flipped{c.raw() ^ (1u << bit)};
      EXPECT_EQ(cookies.check(kLocal, remote, peer_isn, flipped, now), std::nullopt)
          << "cookie " << n << " bit " << bit;
      // Still rejected a minute on, when the previous minute is valid too.
      EXPECT_EQ(cookies.check(kLocal, remote, peer_isn, flipped, now + 1min), std::nullopt)
          << "cookie " << n << " bit " << bit << " a minute later";
    }
  }
}

TEST(SynCookies, ValidThisMinuteAndTheNext) {
  Rng rng(9);
  SynCookies cookies(rng);
  const Instant minute_start = Instant{} + 100min;

  // Made at the start of a minute: good until the end of the next one.
  Seq c = cookies.make(kLocal, kRemote, kPeerIsn, 1460, minute_start);
  EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start), 1460);
  EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 59s), 1460);
  EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 60s), 1460);
  EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 120s - 1ns), 1460);
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 120s));
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 3min));
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 255min));
  // 256 minutes on the 8-bit counter reads the same again, but the hash covers the full count.
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 256min));
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start + 257min));
  // A cookie from the future (a clock that went back, or a forged minute) is refused.
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, minute_start - 1ns));

  // Made at the last instant of a minute: still good 60 s later (RFC 4987 3.6 wants cookies to
  // outlive a round trip; the guarantee is at least one minute).
  const Instant late = minute_start + 60s - 1ns;
  c = cookies.make(kLocal, kRemote, kPeerIsn, 9000, late);
  EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, late + 59s), 9000);
  EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, late + 60s), 9000);
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, late + 61s));
}

TEST(SynCookies, MinuteCounterWraps) {
  Rng rng(10);
  SynCookies cookies(rng);
  for (const int minute : {255, 511, 767, 256 * 1000 + 255}) {
    const Instant made = Instant{} + std::chrono::minutes(minute) + 45s;
    const Seq c = cookies.make(kLocal, kRemote, kPeerIsn, 1300, made);
    EXPECT_EQ(minute_field(c), 255u);
    // The next minute's counter reads 0.
    EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, made + 30s), 1300) << minute;
    EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, made + 74s), 1300) << minute;
    EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, made + 75s)) << minute;
    EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, made + 2min)) << minute;
  }
  // And a cookie made in minute 0 of a cycle is good in minute 0 and 1, not in 255 before it.
  const Instant zero = Instant{} + 512min;
  const Seq c = cookies.make(kLocal, kRemote, kPeerIsn, 1300, zero);
  EXPECT_EQ(minute_field(c), 0u);
  EXPECT_EQ(cookies.check(kLocal, kRemote, kPeerIsn, c, zero + 61s), 1300);
  EXPECT_FALSE(cookies.check(kLocal, kRemote, kPeerIsn, c, zero - 1s));
}

TEST(SynCookies, SameSeedSameCookie) {
  Rng a(11);
  Rng b(11);
  SynCookies ca(a);
  SynCookies cb(b);
  const Instant now = Instant{} + 3min;
  EXPECT_EQ(ca.make(kLocal, kRemote, kPeerIsn, 1460, now),
            cb.make(kLocal, kRemote, kPeerIsn, 1460, now));
  // Another key does not accept it.
  Rng other(12);
  SynCookies cc(other);
  const Seq c = ca.make(kLocal, kRemote, kPeerIsn, 1460, now);
  EXPECT_FALSE(cc.check(kLocal, kRemote, kPeerIsn, c, now));
}

TEST(SynCookies, KeyIsSeparateFromIsnGenerators) {
  // The Stack makes both from one Rng: each draws its own key, so the cookie key is not the
  // ISN key. A SynCookies made from a fresh Rng with the same seed has the ISN generator's key.
  Rng shared(13);
  IsnGenerator isn(shared);
  SynCookies cookies(shared);
  Rng fresh(13);
  SynCookies with_isn_key(fresh);
  const Instant now = Instant{} + 3min;
  const Seq c = cookies.make(kLocal, kRemote, kPeerIsn, 1460, now);
  EXPECT_NE(c, with_isn_key.make(kLocal, kRemote, kPeerIsn, 1460, now));
  EXPECT_FALSE(with_isn_key.check(kLocal, kRemote, kPeerIsn, c, now));
}

TEST(SynCookies, DifferPerTupleAndPeerIsn) {
  Rng rng(14);
  SynCookies cookies(rng);
  const Instant now = Instant{} + 3min;
  std::set<std::uint32_t> hashes;
  for (std::uint16_t port = 1000; port < 1100; ++port) {
    const Seq c = cookies.make(kLocal, {kRemote.address, port}, kPeerIsn, 1460, now);
    hashes.insert(c.raw() & 0x1fffff);
  }
  for (std::uint32_t i = 0; i < 100; ++i) {
    const Seq c = cookies.make(kLocal, kRemote, Seq(i), 1460, now);
    hashes.insert(c.raw() & 0x1fffff);
  }
  // 200 draws from 2^21 values: a collision or two at most.
  EXPECT_GE(hashes.size(), 198u);
}

}  // namespace
}  // namespace ustack::tcp
