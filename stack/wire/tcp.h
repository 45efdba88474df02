// TCP header (RFC 9293 3.1) and options.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                        Sequence Number                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Acknowledgment Number                      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Data |       |C|E|U|A|P|R|S|F|                               |
//   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//   |       |       |R|E|G|K|H|T|N|N|                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           Checksum            |         Urgent Pointer        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                           [Options]                           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                             data ...                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Data Offset counts 32-bit words of header, 5..15, so options take 0..40 bytes. The checksum
// covers a pseudo-header (source, destination, protocol 6, TCP length), the header and the data;
// unlike UDP it is mandatory and always verified.
//
// Options (RFC 9293 3.2): kinds 0 (end of list) and 1 (no-op) are one byte; every other option is
// kind, length (counting both bytes), data:
//
//   kind 2  MSS             len 4   2-byte maximum segment size        RFC 9293 3.7.1
//   kind 3  window scale    len 3   1-byte shift count, at most 14     RFC 7323 2
//   kind 4  SACK permitted  len 2                                      RFC 2018 2
//   kind 5  SACK            len 2+8n  n blocks of (left, right) edges  RFC 2018 3
//   kind 8  timestamps      len 10  TSval, TSecr (4 bytes each)        RFC 7323 3
//
// Parsing is defensive (CHECKLISTS.md "TCP"): a length of 0 or 1, a length past the option space,
// or a kind other than 0/1 in the last byte (no room for its length) fail the whole parse with
// tcp.bad_options — the loop always advances, so it cannot spin. A known kind with the wrong
// length is ignored (counted in TcpOptions::ignored) and unknown kinds are skipped (RFC 9293
// 3.2 MUST-6).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/tcp/seq.h"
#include "stack/wire/address.h"
#include "stack/wire/parsed.h"

namespace ustack::wire {

// The flag bits of header byte 13.
namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
}  // namespace tcp_flag

// Option kinds (IANA "TCP Option Kind Numbers").
enum class TcpOptionKind : std::uint8_t {
  end = 0,
  nop = 1,
  mss = 2,
  window_scale = 3,
  sack_permitted = 4,
  sack = 5,
  timestamps = 8,
};

// One SACK block: the bytes [left, right) the receiver holds (RFC 2018 3).
struct SackBlock {
  tcp::Seq left;
  tcp::Seq right;
  friend constexpr bool operator==(const SackBlock&, const SackBlock&) = default;
};

struct TcpTimestamps {
  std::uint32_t value = 0;       // TSval
  std::uint32_t echo_reply = 0;  // TSecr
  friend constexpr bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

struct TcpOptions {
  static constexpr std::size_t kMaxSize = 40;
  static constexpr std::uint8_t kMaxWindowScale = 14;  // RFC 7323 2.3
  static constexpr std::size_t kMaxSackBlocks = 4;     // 2 + 8 * 4 = 34 bytes

  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // already clamped to kMaxWindowScale
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps;
  std::array<SackBlock, kMaxSackBlocks> sack_blocks{};
  std::uint8_t sack_count = 0;  // blocks in use
  // Parse only: options of a known kind with the wrong length (or a SACK option with a length
  // that is not 2 + 8n, n in 1..4), skipped.
  std::uint8_t ignored = 0;

  std::span<const SackBlock> sacks() const { return std::span(sack_blocks).first(sack_count); }
  bool empty() const {
    return !mss && !window_scale && !sack_permitted && !timestamps && sack_count == 0;
  }

  // Parses the option bytes between the fixed header and the data. Fails with tcp.bad_options
  // only for a malformed list (see the file comment); every other problem skips the option.
  // A later copy of an option replaces an earlier one.
  static Parsed<TcpOptions> parse(std::span<const std::uint8_t> options);

  // The bytes emit() writes: a multiple of 4, at most kMaxSize.
  std::size_t emit_size() const;
  // SACK blocks that fit in the option space after the other options (the first ones win).
  std::size_t sacks_that_fit() const;
  // Writes the options in the layout Linux uses, so that each sits on its natural alignment and
  // no padding is needed:
  //   MSS | SACK-permitted TS (or NOP NOP TS) | NOP NOP SACK-permitted (no TS) | NOP WS |
  //   NOP NOP SACK blocks
  // Returns emit_size(). `out` must have room for kMaxSize bytes.
  std::size_t emit(std::uint8_t* out) const;

  friend bool operator==(const TcpOptions&, const TcpOptions&) = default;
};

struct TcpHeader {
  static constexpr std::size_t kMinSize = 20;
  static constexpr std::size_t kMaxSize = kMinSize + TcpOptions::kMaxSize;

  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  tcp::Seq seq;
  tcp::Seq ack;
  std::uint8_t header_length = kMinSize;  // bytes, data offset * 4; as received, emit computes it
  std::uint8_t flags = 0;                 // tcp_flag bits
  std::uint16_t window = 0;               // as sent: not yet scaled
  std::uint16_t checksum = 0;             // as received; emit computes a fresh one
  std::uint16_t urgent_pointer = 0;
  TcpOptions options;
  std::uint16_t payload_length = 0;  // parse only: segment bytes after the header

  bool fin() const { return (flags & tcp_flag::fin) != 0; }
  bool syn() const { return (flags & tcp_flag::syn) != 0; }
  bool rst() const { return (flags & tcp_flag::rst) != 0; }
  bool psh() const { return (flags & tcp_flag::psh) != 0; }
  bool has_ack() const { return (flags & tcp_flag::ack) != 0; }
  bool urg() const { return (flags & tcp_flag::urg) != 0; }
  bool ece() const { return (flags & tcp_flag::ece) != 0; }
  bool cwr() const { return (flags & tcp_flag::cwr) != 0; }

  // SEG.LEN (RFC 9293 3.3.1): the data plus one for SYN and one for FIN.
  std::uint32_t segment_length() const {
    return std::uint32_t{payload_length} + (syn() ? 1u : 0u) + (fin() ? 1u : 0u);
  }

  // `segment` is the IP payload (already trimmed to the IP total length). Checks, in order:
  // tcp.short (under 20 bytes), tcp.bad_offset (data offset < 5 or past the segment),
  // tcp.bad_checksum (over the pseudo-header and the whole segment; also a segment longer than
  // the pseudo-header's 16-bit length can say), tcp.bad_options. verify_checksum is false only
  // for a segment whose checksum the local kernel vouches for (PacketOffload::checksum_trusted).
  static Parsed<TcpHeader> parse(std::span<const std::uint8_t> segment, Ipv4Address src,
                                 Ipv4Address dst, bool verify_checksum = true);

  // The header bytes emit() writes: 20 plus the options.
  std::size_t emit_size() const { return kMinSize + options.emit_size(); }

  // Writes the header and options at segment[0..emit_size()) and the checksum over the
  // pseudo-header and the whole segment, whose data must already be in place after the header.
  // header_length, checksum and payload_length are ignored (computed from the options and the
  // span). segment.size() must be at least emit_size() and at most 65535. Returns emit_size().
  // With checksum_partial the field gets only the pseudo-header sum, for a device that
  // finishes it (PacketOffload::csum_partial), and the data is not read.
  std::size_t emit(std::span<std::uint8_t> segment, Ipv4Address src, Ipv4Address dst,
                   bool checksum_partial = false) const;
};

}  // namespace ustack::wire

template <>
struct fmt::formatter<ustack::wire::TcpOptions> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::TcpOptions& o, Ctx& ctx) const {
    auto out = ctx.out();
    const char* sep = "";
    auto next = [&] {
      const char* s = sep;
      sep = ",";
      return s;
    };
    if (o.mss) out = fmt::format_to(out, "{}mss {}", next(), *o.mss);
    if (o.sack_permitted) out = fmt::format_to(out, "{}sackOK", next());
    if (o.timestamps) {
      out =
          fmt::format_to(out, "{}ts {} {}", next(), o.timestamps->value, o.timestamps->echo_reply);
    }
    if (o.window_scale) out = fmt::format_to(out, "{}wscale {}", next(), *o.window_scale);
    if (o.sack_count != 0) {
      out = fmt::format_to(out, "{}sack {} ", next(), o.sack_count);
      for (const auto& b : o.sacks()) out = fmt::format_to(out, "{{{}:{}}}", b.left, b.right);
    }
    return out;
  }
};

// Like tcpdump: "tcp 1234 > 80 [S.] seq 100 ack 200 win 65535 len 0 <mss 1460,wscale 7>".
// Flags in tcpdump's letters and order: F S R P . (ACK) U E (ECE) W (CWR); "none" for none.
// The ack is printed only with ACK, the urgent pointer only with URG, options only when present.
template <>
struct fmt::formatter<ustack::wire::TcpHeader> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const ustack::wire::TcpHeader& h, Ctx& ctx) const {
    namespace f = ustack::wire::tcp_flag;
    constexpr std::pair<std::uint8_t, char> kLetters[] = {
        {f::fin, 'F'}, {f::syn, 'S'}, {f::rst, 'R'}, {f::psh, 'P'},
        {f::ack, '.'}, {f::urg, 'U'}, {f::ece, 'E'}, {f::cwr, 'W'}};
    char letters[9] = {};
    std::size_t n = 0;
    for (auto [bit, letter] : kLetters) {
      if ((h.flags & bit) != 0) letters[n++] = letter;
    }
    auto out =
        fmt::format_to(ctx.out(), "tcp {} > {} [{}] seq {}", h.src_port, h.dst_port,
                       n == 0 ? std::string_view("none") : std::string_view(letters, n), h.seq);
    if (h.has_ack()) out = fmt::format_to(out, " ack {}", h.ack);
    out = fmt::format_to(out, " win {}", h.window);
    if (h.urg()) out = fmt::format_to(out, " urg {}", h.urgent_pointer);
    out = fmt::format_to(out, " len {}", h.payload_length);
    if (!h.options.empty()) out = fmt::format_to(out, " <{}>", h.options);
    return out;
  }
};
