// TCP sequence numbers: 32-bit counters that wrap (RFC 9293 3.4, RFC 1982 serial arithmetic).
//
//        0                            2^31                           2^32 = 0
//        |-----------------------------|------------------------------|
//                      a ---- "after a" for the next 2^31 - 1 numbers ---->
//
// "a < b" means a comes before b modulo 2^32: b lies in the 2^31 - 1 numbers after a. Computed
// as the sign of the 32-bit difference, which is well defined in C++20 (modular conversion).
// The comparisons are not a total order: numbers exactly 2^31 apart are each "before" the other
// (RFC 1982 3.2 leaves that case undefined), so never sort by them and never let a window reach
// 2^31. Ranges are tested with seq_in_range / seq_in_window, which compute an unsigned offset
// from the left edge and so stay right for any range shorter than 2^32.
//
// Seq is a strong type: it converts to and from uint32_t only explicitly (Seq{v}, s.raw()), adds
// uint32_t offsets, and the difference of two Seqs is a signed int32_t distance.
#pragma once

#include <cstdint>
#include <string_view>

#include "stack/base/fmt.h"

namespace ustack::tcp {

class Seq {
 public:
  constexpr Seq() = default;
  constexpr explicit Seq(std::uint32_t value) : value_(value) {}

  constexpr std::uint32_t raw() const { return value_; }

  friend constexpr bool operator==(Seq a, Seq b) = default;
  // a before b (RFC 9293 3.4 "<" meaning "less than modulo 2^32").
  friend constexpr bool operator<(Seq a, Seq b) {
    return static_cast<std::int32_t>(a.value_ - b.value_) < 0;
  }
  friend constexpr bool operator<=(Seq a, Seq b) {
    return static_cast<std::int32_t>(a.value_ - b.value_) <= 0;
  }
  friend constexpr bool operator>(Seq a, Seq b) { return b < a; }
  friend constexpr bool operator>=(Seq a, Seq b) { return b <= a; }

  friend constexpr Seq operator+(Seq a, std::uint32_t n) { return Seq(a.value_ + n); }
  friend constexpr Seq operator-(Seq a, std::uint32_t n) { return Seq(a.value_ - n); }
  // The signed distance from b to a: positive when a is after b. Meaningful while they are
  // less than 2^31 apart.
  friend constexpr std::int32_t operator-(Seq a, Seq b) {
    return static_cast<std::int32_t>(a.value_ - b.value_);
  }
  constexpr Seq& operator+=(std::uint32_t n) {
    value_ += n;
    return *this;
  }
  constexpr Seq& operator-=(std::uint32_t n) {
    value_ -= n;
    return *this;
  }
  constexpr Seq& operator++() {
    ++value_;
    return *this;
  }

 private:
  std::uint32_t value_ = 0;
};

// How far x is past `from`, as an unsigned count in [0, 2^32): the offset of x in a range that
// starts at `from`.
constexpr std::uint32_t seq_offset(Seq from, Seq x) {
  return x.raw() - from.raw();
}

// left <= x < right, modulo 2^32 (a half-open range; empty when left == right).
constexpr bool seq_in_range(Seq left, Seq x, Seq right) {
  return seq_offset(left, x) < seq_offset(left, right);
}

// left <= x <= right, modulo 2^32 (a closed range; just {left} when left == right). right must
// not be before left: right == left - 1 is the whole space, not an empty range.
constexpr bool seq_in_closed_range(Seq left, Seq x, Seq right) {
  return seq_offset(left, x) <= seq_offset(left, right);
}

// left < x <= right, modulo 2^32 (empty when left == right): the ACK test of RFC 9293 3.10.7.4,
// SND.UNA < SEG.ACK =< SND.NXT, is seq_in_open_closed_range(snd_una, seg_ack, snd_nxt).
// (Not seq_in_closed_range(una + 1, ack, nxt), which is the whole space when una == nxt.)
constexpr bool seq_in_open_closed_range(Seq left, Seq x, Seq right) {
  const std::uint32_t offset = seq_offset(left, x);
  return offset != 0 && offset <= seq_offset(left, right);
}

// start <= x < start + length: x lies in a window of `length` numbers (none when length is 0).
constexpr bool seq_in_window(Seq x, Seq start, std::uint32_t length) {
  return seq_offset(start, x) < length;
}

constexpr Seq seq_max(Seq a, Seq b) {
  return a < b ? b : a;
}
constexpr Seq seq_min(Seq a, Seq b) {
  return a < b ? a : b;
}

// RFC 9293 3.10.7.4, "first, check sequence number": is a segment occupying
// [seg_seq, seg_seq + seg_len) acceptable to a receiver expecting rcv_nxt with window rcv_wnd?
// seg_len counts SYN and FIN as one each. The four cases of the RFC's table:
//
//   Segment  Receive  Test
//   Length   Window
//   -------  -------  -------------------------------------------
//      0        0     SEG.SEQ = RCV.NXT
//      0       >0     RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//     >0        0     not acceptable
//     >0       >0     RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//                  or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
constexpr bool segment_acceptable(Seq seg_seq, std::uint32_t seg_len, Seq rcv_nxt,
                                  std::uint32_t rcv_wnd) {
  if (seg_len == 0) {
    if (rcv_wnd == 0) return seg_seq == rcv_nxt;
    return seq_in_window(seg_seq, rcv_nxt, rcv_wnd);
  }
  if (rcv_wnd == 0) return false;
  return seq_in_window(seg_seq, rcv_nxt, rcv_wnd) ||
         seq_in_window(seg_seq + (seg_len - 1), rcv_nxt, rcv_wnd);
}

}  // namespace ustack::tcp

template <>
struct fmt::formatter<ustack::tcp::Seq> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(ustack::tcp::Seq s, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "{}", s.raw());
  }
};
