// Initial sequence numbers (RFC 6528) and SYN cookies (RFC 4987 3.6).
//
// ISN = M + F(localip, localport, remoteip, remoteport, secretkey)          RFC 6528 3
//   M: a timer ticking every 4 microseconds (RFC 9293 3.4.1), here from the stack's Instant.
//   F: SipHash-2-4 keyed with 128 random bits drawn once from the stack's Rng, so a peer cannot
//      predict the ISN of another connection (blind injection, RFC 9293 MUST-8/9).
//
// A SYN cookie is the ISN of a SYN-ACK sent without keeping state, when the half-open queue is
// full. It must prove on the returning ACK (ACK = cookie + 1) that we sent it recently to this
// four-tuple, and carry the MSS we chose:
//
//    31            24 23          21 20                                            0
//   +----------------+--------------+-----------------------------------------------+
//   |  minute count  |  MSS index   |  hash(4-tuple, peer ISN, minute, MSS index)   |
//   |  (low 8 bits)  |              |  low 21 bits                                  |
//   +----------------+--------------+-----------------------------------------------+
//
// A cookie is accepted in the minute it was made in and the next one (so for at least 60 s).
// The hash covers the MSS index, so a forged index fails like a forged hash, and the full minute
// count, so a cookie replayed when the 8-bit field comes round again (256 minutes on) fails too.
// The hash is SipHash-2-4 with a key of its own, drawn from the Rng apart from the ISN key.
// Options other than MSS (window scale, SACK, timestamps) cannot be carried and are off for a
// connection made from a cookie.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "stack/base/rng.h"
#include "stack/base/time.h"
#include "stack/socket/socket.h"
#include "stack/tcp/seq.h"

namespace ustack::tcp {

// SipHash-2-4 (Aumasson and Bernstein) over `words`, keyed with `key`. Each word is one 8-byte
// block fed in little-endian order and the length byte is count * 8, so the result equals the
// reference implementation's over the words' little-endian bytes, keyed with key[0] then key[1]
// in little-endian order.
std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, const std::uint64_t* words,
                        std::size_t count);

class IsnGenerator {
 public:
  explicit IsnGenerator(Rng& rng);
  Seq isn(Endpoint local, Endpoint remote, Instant now) const;

 private:
  std::array<std::uint64_t, 2> key_;
};

class SynCookies {
 public:
  // The MSS values a cookie can carry (Linux's table): the chosen MSS is rounded down to one.
  static constexpr std::array<std::uint16_t, 8> kMssTable = {536,  1300, 1440, 1460,
                                                             4312, 8960, 9000, 65495};

  explicit SynCookies(Rng& rng);
  // The ISN for our SYN-ACK to a SYN with sequence number peer_isn.
  Seq make(Endpoint local, Endpoint remote, Seq peer_isn, std::uint16_t mss, Instant now) const;
  // Checks the ACK of a connection we kept no state for: `cookie` is SEG.ACK - 1 and `peer_isn`
  // is SEG.SEQ - 1. Returns the MSS encoded, or nothing if the cookie is not ours or too old.
  std::optional<std::uint16_t> check(Endpoint local, Endpoint remote, Seq peer_isn, Seq cookie,
                                     Instant now) const;

 private:
  // Low 21 bits of SipHash-2-4 over the 4-tuple, the peer's ISN, the full minute count (mod 2^32)
  // and the MSS index.
  std::uint32_t hash(Endpoint local, Endpoint remote, Seq peer_isn, std::uint32_t minute,
                     std::uint32_t mss_index) const;
  std::array<std::uint64_t, 2> key_;
};

}  // namespace ustack::tcp
