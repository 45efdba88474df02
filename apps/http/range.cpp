#include "apps/http/range.h"

#include <optional>

namespace ustack::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// 1*DIGIT; nothing if empty, not digits, or beyond 2^63 (no file is that long, so such a
// position is treated as malformed rather than wrapped).
std::optional<std::uint64_t> parse_position(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

bool equals_bytes(std::string_view unit) {
  if (unit.size() != 5) return false;
  for (std::size_t i = 0; i < 5; ++i) {
    const char c = unit[i] >= 'A' && unit[i] <= 'Z' ? static_cast<char>(unit[i] + 32) : unit[i];
    if (c != "bytes"[i]) return false;
  }
  return true;
}

}  // namespace

ByteRange parse_range(std::string_view value, std::uint64_t length) {
  ByteRange none;
  // ranges-specifier = range-unit "=" range-set; range units are case-insensitive (14.1).
  const auto eq = value.find('=');
  if (eq == std::string_view::npos || !equals_bytes(trim(value.substr(0, eq)))) return none;
  const std::string_view set = trim(value.substr(eq + 1));
  if (set.empty() || set.find(',') != std::string_view::npos) return none;

  const auto dash = set.find('-');
  if (dash == std::string_view::npos) return none;
  const std::string_view first_text = set.substr(0, dash);
  const std::string_view last_text = set.substr(dash + 1);
  ByteRange r;
  if (first_text.empty()) {
    // suffix-range: the last N bytes; N = 0 can never be satisfied (14.1.3).
    const auto suffix = parse_position(last_text);
    if (!suffix) return none;
    if (*suffix == 0 || length == 0) {
      r.kind = ByteRange::Kind::unsatisfiable;
      return r;
    }
    r.kind = ByteRange::Kind::satisfiable;
    r.first = *suffix >= length ? 0 : length - *suffix;
    r.last = length - 1;
    return r;
  }
  const auto first = parse_position(first_text);
  if (!first) return none;
  std::uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    const auto l = parse_position(last_text);
    // int-range with last < first is invalid syntax (14.1.2): ignore the field.
    if (!l || *l < *first) return none;
    last = *l;
  }
  // 14.1.2: satisfiable when first-pos is below the length; last-pos is clamped to it.
  if (*first >= length) {
    r.kind = ByteRange::Kind::unsatisfiable;
    return r;
  }
  r.kind = ByteRange::Kind::satisfiable;
  r.first = *first;
  r.last = last >= length ? length - 1 : last;
  return r;
}

}  // namespace ustack::http
