#include "apps/http/date.h"

#include <array>
#include <ctime>

#include <fmt/format.h>

namespace ustack::http {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr std::int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), so no
// time zone or locale of the process can get in the way as with timegm or strptime.
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  std::int64_t year;
  int month;
  int day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const auto d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(std::int64_t y, int m) {
  constexpr std::array<int, 12> kDaysIn = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDaysIn[static_cast<std::size_t>(m - 1)];
}

// A cursor over the text that consumes expected pieces; any mismatch makes ok false.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  bool at_end() const { return s_.empty(); }

  void literal(std::string_view lit) {
    if (ok_ && s_.starts_with(lit)) {
      s_.remove_prefix(lit.size());
    } else {
      ok_ = false;
    }
  }
  // Exactly `n` digits (a leading space in place of a digit if `space_padded`).
  int digits(std::size_t n, bool space_padded = false) {
    if (!ok_ || s_.size() < n) {
      ok_ = false;
      return 0;
    }
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[i];
      if (c == ' ' && space_padded && i == 0) continue;
      if (c < '0' || c > '9') {
        ok_ = false;
        return 0;
      }
      v = v * 10 + (c - '0');
    }
    s_.remove_prefix(n);
    return v;
  }
  template <std::size_t N>
  int name(const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i) {
      if (ok_ && s_.starts_with(names[i])) {
        s_.remove_prefix(names[i].size());
        return static_cast<int>(i);
      }
    }
    ok_ = false;
    return 0;
  }

 private:
  std::string_view s_;
  bool ok_ = true;
};

struct Fields {
  std::int64_t year = 0;
  int month = 0;  // 0-based
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

void read_time(Reader& r, Fields& f) {
  f.hour = r.digits(2);
  r.literal(":");
  f.minute = r.digits(2);
  r.literal(":");
  f.second = r.digits(2);
}

std::optional<std::int64_t> to_seconds(const Fields& f) {
  if (f.year < 1 || f.year > 9999 || f.day < 1 || f.day > days_in_month(f.year, f.month + 1) ||
      f.hour > 23 || f.minute > 59 || f.second > 60) {
    return std::nullopt;
  }
  return days_from_civil(f.year, f.month + 1, f.day) * kSecondsPerDay + f.hour * 3600 +
         f.minute * 60 + f.second;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<Fields> parse_imf(std::string_view text) {
  Reader r(text);
  Fields f;
  r.name(kDays);
  r.literal(", ");
  f.day = r.digits(2);
  r.literal(" ");
  f.month = r.name(kMonths);
  r.literal(" ");
  f.year = r.digits(4);
  r.literal(" ");
  read_time(r, f);
  r.literal(" GMT");
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return f;
}

// rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT".
std::optional<Fields> parse_rfc850(std::string_view text, std::int64_t now) {
  Reader r(text);
  Fields f;
  r.name(kLongDays);
  r.literal(", ");
  f.day = r.digits(2);
  r.literal("-");
  f.month = r.name(kMonths);
  r.literal("-");
  const int yy = r.digits(2);
  r.literal(" ");
  read_time(r, f);
  r.literal(" GMT");
  if (!r.ok() || !r.at_end()) return std::nullopt;
  const std::int64_t this_year = civil_from_days(now / kSecondsPerDay).year;
  f.year = this_year - this_year % 100 + yy;
  if (f.year > this_year + 50) f.year -= 100;
  return f;
}

// asctime-date: "Sun Nov  6 08:49:37 1994".
std::optional<Fields> parse_asctime(std::string_view text) {
  Reader r(text);
  Fields f;
  r.name(kDays);
  r.literal(" ");
  f.month = r.name(kMonths);
  r.literal(" ");
  f.day = r.digits(2, true);
  r.literal(" ");
  read_time(r, f);
  r.literal(" ");
  f.year = r.digits(4);
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return f;
}

}  // namespace

std::string format_http_date(std::int64_t unix_seconds) {
  std::int64_t days = unix_seconds / kSecondsPerDay;
  std::int64_t rest = unix_seconds % kSecondsPerDay;
  if (rest < 0) {
    rest += kSecondsPerDay;
    --days;
  }
  const Civil c = civil_from_days(days);
  // 1970-01-01 was a Thursday.
  const auto weekday = static_cast<std::size_t>(((days % 7) + 7 + 4) % 7);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[weekday], c.day,
                     kMonths[static_cast<std::size_t>(c.month - 1)], c.year, rest / 3600,
                     rest / 60 % 60, rest % 60);
}

std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now) {
  std::optional<Fields> f = parse_imf(text);
  if (!f) f = parse_rfc850(text, now);
  if (!f) f = parse_asctime(text);
  if (!f) return std::nullopt;
  return to_seconds(*f);
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  return parse_http_date(text, static_cast<std::int64_t>(std::time(nullptr)));
}

}  // namespace ustack::http
