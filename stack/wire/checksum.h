// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum.
//
// Sums are kept in a wide accumulator and folded once at the end. Because one's complement
// addition is byte-order independent (RFC 1071 section 2(B)), the bytes are summed as native
// words and the result swapped once, which lets the loop read 8 bytes at a time.
//
// Values returned here are ordinary numbers to be written with store_be16; a received header
// whose checksum field is included verifies when checksum(...) == 0.
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/address.h"

namespace ustack::wire {

// A running sum that has not been folded or complemented yet; combine partial sums by adding.
struct ChecksumAccumulator {
  std::uint64_t sum = 0;
  // Adds bytes as if they started at an even offset of the checksummed data.
  void add(std::span<const std::uint8_t> bytes);
  void add_u16(std::uint16_t v) { sum += v; }
  void add_u32(std::uint32_t v) { sum += (v >> 16) + (v & 0xffff); }
  // The final checksum value (complemented).
  std::uint16_t finish() const;
};

// The checksum of a contiguous buffer.
std::uint16_t checksum(std::span<const std::uint8_t> bytes);

// The UDP/TCP pseudo-header sum (RFC 768, RFC 9293 3.1) for a transport segment of `length`.
inline void add_pseudo_header(ChecksumAccumulator& acc, Ipv4Address src, Ipv4Address dst,
                              std::uint8_t protocol, std::uint16_t length) {
  acc.add_u32(src.to_u32());
  acc.add_u32(dst.to_u32());
  acc.add_u16(protocol);
  acc.add_u16(length);
}

// RFC 1624 eqn. 3: the new checksum after one 16-bit field changed from old_field to new_field,
// without summing the data again: HC' = ~(~HC + ~m + m').
std::uint16_t checksum_adjust(std::uint16_t old_checksum, std::uint16_t old_field,
                              std::uint16_t new_field);

}  // namespace ustack::wire
