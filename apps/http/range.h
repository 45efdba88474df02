// Byte ranges (RFC 9110 14.1.2 and 14.2) of a representation of known length.
//
// Choices: only a single range is served as 206; a request for several ranges gets the whole
// representation as 200, which RFC 9110 14.2 allows ("a server MAY ignore the Range header
// field"), and spares multipart/byteranges. A Range that does not parse, or uses another unit,
// is ignored the same way (RFC 9110 14.2).
#pragma once

#include <cstdint>
#include <string_view>

namespace ustack::http {

struct ByteRange {
  enum class Kind {
    none,           // serve the whole representation (200)
    satisfiable,    // 206 with Content-Range: bytes first-last/length
    unsatisfiable,  // 416 with Content-Range: bytes */length
  };
  Kind kind = Kind::none;
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive

  std::uint64_t size() const { return last - first + 1; }
};

// Interprets the value of a Range field for a representation of `length` bytes.
ByteRange parse_range(std::string_view value, std::uint64_t length);

}  // namespace ustack::http
