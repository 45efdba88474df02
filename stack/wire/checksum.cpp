#include "stack/wire/checksum.h"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// native_sum relies on the host being little-endian (x86-64, arm64 Linux).
static_assert(std::endian::native == std::endian::little);

namespace ustack::wire {
namespace {

std::uint16_t fold(std::uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

// sum + x in one's complement arithmetic: a carry out of bit 63 wraps around to bit 0
// (RFC 1071 section 2(C): the end-around carry), so the 64-bit sum stays exact.
std::uint64_t add_carry(std::uint64_t sum, std::uint64_t x) {
  sum += x;
  return sum + (sum < x);
}

#if defined(__x86_64__)
// The sum of the N bytes at p added to sum, as one chain of add-with-carry: each 8-byte word
// costs one instruction (adc with a memory operand), and the carry of one addition goes into
// the next instead of being tested. The portable loop needs four instructions a word.
template <std::size_t N>
std::uint64_t add_block(std::uint64_t sum, const std::uint8_t* p) {
  unsigned long long s = sum;
  unsigned char carry = 0;
  for (std::size_t i = 0; i < N; i += 8) carry = _addcarry_u64(carry, s, load64(p + i), &s);
  _addcarry_u64(carry, s, 0, &s);
  return s;
}
#else
template <std::size_t N>
std::uint64_t add_block(std::uint64_t sum, const std::uint8_t* p) {
  for (std::size_t i = 0; i < N; i += 8) sum = add_carry(sum, load64(p + i));
  return sum;
}
#endif

// Sums whole 64-byte blocks; returns the sum and advances p and n past them.
std::uint64_t sum_blocks(const std::uint8_t*& p, std::size_t& n, std::uint64_t sum) {
  // 128 bytes a round, so that the loop's own bookkeeping is spread over 16 words.
  while (n >= 128) {
    sum = add_block<128>(sum, p);
    p += 128;
    n -= 128;
  }
  if (n >= 64) {
    sum = add_block<64>(sum, p);
    p += 64;
    n -= 64;
  }
  return sum;
}

// Sum of the bytes as native-order 16-bit words, folded to 16 bits (still native order).
std::uint16_t native_sum(const std::uint8_t* p, std::size_t n) {
  std::uint64_t sum = sum_blocks(p, n, 0);
  while (n >= 8) {
    sum = add_carry(sum, load64(p));
    p += 8;
    n -= 8;
  }
  // Fewer than 8 bytes left: gather them into one little-endian word with fixed-size loads
  // (a memcpy of a variable length would be a library call). The odd byte, if any, lands in the
  // low half of its 16-bit word, which is zero padding as RFC 1071 says. No load happens for
  // n == 0, where an empty span's data() may be null.
  std::uint64_t tail = 0;
  std::size_t shift = 0;
  if (n & 4) {
    std::uint32_t x;
    std::memcpy(&x, p, 4);
    tail = x;
    p += 4;
    shift = 32;
  }
  if (n & 2) {
    std::uint16_t x;
    std::memcpy(&x, p, 2);
    tail |= std::uint64_t{x} << shift;
    p += 2;
    shift += 16;
  }
  if (n & 1) tail |= std::uint64_t{*p} << shift;
  return fold(add_carry(sum, tail));
}

}  // namespace

void ChecksumAccumulator::add(std::span<const std::uint8_t> bytes) {
  std::uint16_t native = native_sum(bytes.data(), bytes.size());
  sum += __builtin_bswap16(native);
}

std::uint16_t ChecksumAccumulator::finish() const {
  return static_cast<std::uint16_t>(~fold(sum));
}

std::uint16_t checksum(std::span<const std::uint8_t> bytes) {
  ChecksumAccumulator acc;
  acc.add(bytes);
  return acc.finish();
}

std::uint16_t checksum_adjust(std::uint16_t old_checksum, std::uint16_t old_field,
                              std::uint16_t new_field) {
  std::uint64_t sum = static_cast<std::uint16_t>(~old_checksum);
  sum += static_cast<std::uint16_t>(~old_field);
  sum += new_field;
  return static_cast<std::uint16_t>(~fold(sum));
}

}  // namespace ustack::wire
