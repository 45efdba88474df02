#include "stack/wire/checksum.h"

#include <bit>
#include <cstring>

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

// Sum of the bytes as native-order 16-bit words, folded to 16 bits (still native order).
std::uint16_t native_sum(const std::uint8_t* p, std::size_t n) {
  std::uint64_t sum = 0;
  // 32 bytes a round with four independent accumulators. Each 64-bit add may carry out; adding
  // the carry back (end-around carry) keeps the one's complement sum exact.
  while (n >= 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, 32);
    for (std::uint64_t x : w) {
      sum += x;
      sum += (sum < x);
    }
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    sum += x;
    sum += (sum < x);
    p += 8;
    n -= 8;
  }
  // The odd byte, if any, pads with zero as RFC 1071 says. memcpy needs a non-null source even
  // for 0 bytes, and an empty span's data() may be null.
  if (n != 0) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    sum += tail;
    sum += (sum < tail);
  }
  return fold(sum);
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
