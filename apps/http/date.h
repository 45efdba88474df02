// HTTP-date (RFC 9110 5.6.7): written as IMF-fixdate, read in all three formats a recipient must
// accept — IMF-fixdate, the obsolete RFC 850 form and asctime() — always in GMT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ustack::http {

// Seconds since 1970-01-01T00:00:00Z, e.g. 784111777 -> "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::int64_t unix_seconds);

// Nothing if `text` is not an HTTP-date (a recipient then ignores the field, RFC 9110 13.1.3).
// `now` decides the century of an RFC 850 two-digit year: one that would be more than 50 years
// in the future is taken from the century before.
std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now);
std::optional<std::int64_t> parse_http_date(std::string_view text);

}  // namespace ustack::http
