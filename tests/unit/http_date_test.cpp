// HTTP-date (apps/http/date.h, RFC 9110 5.6.7): the IMF-fixdate it writes and the three formats
// it reads.
#include "apps/http/date.h"

#include <gtest/gtest.h>

namespace ustack::http {
namespace {

// RFC 9110 5.6.7's example instant.
constexpr std::int64_t kExample = 784111777;
// 2024-06-01T00:00:00Z, for deciding RFC 850 centuries.
constexpr std::int64_t kNow = 1717200000;

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(format_http_date(kExample), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(format_http_date(4102444799), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(HttpDate, ParsesAllThreeFormats) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", kNow), kExample);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", kNow), kExample);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994", kNow), kExample);
  EXPECT_EQ(parse_http_date("Thu Feb 29 00:00:00 2024", kNow), 1709164800);
}

TEST(HttpDate, RoundTrips) {
  for (std::int64_t t : {0LL, 1LL, 86399LL, 86400LL, 951782400LL, 1709164800LL, 4102444799LL}) {
    EXPECT_EQ(parse_http_date(format_http_date(t), kNow), t) << t;
  }
}

TEST(HttpDate, TwoDigitYearsAreNeverMoreThan50YearsAhead) {
  // In 2024, "74" is 2074 (50 years ahead), "75" is 1975.
  EXPECT_EQ(format_http_date(*parse_http_date("Monday, 01-Jan-74 00:00:00 GMT", kNow)),
            "Mon, 01 Jan 2074 00:00:00 GMT");
  EXPECT_EQ(format_http_date(*parse_http_date("Wednesday, 01-Jan-75 00:00:00 GMT", kNow)),
            "Wed, 01 Jan 1975 00:00:00 GMT");
  EXPECT_EQ(format_http_date(*parse_http_date("Friday, 01-Jan-24 00:00:00 GMT", kNow)),
            "Mon, 01 Jan 2024 00:00:00 GMT");
}

TEST(HttpDate, RejectsAnythingElse) {
  for (const char* bad :
       {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 31 Apr 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
        "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:3x GMT"}) {
    EXPECT_FALSE(parse_http_date(bad, kNow).has_value()) << bad;
  }
}

}  // namespace
}  // namespace ustack::http
