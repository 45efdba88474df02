// Byte ranges (apps/http/range.h, RFC 9110 14.1.2) and Content-Type by extension
// (apps/http/mime.h).
#include "apps/http/range.h"

#include <gtest/gtest.h>

#include "apps/http/mime.h"

namespace ustack::http {
namespace {

using Kind = ByteRange::Kind;

TEST(HttpRange, SingleRanges) {
  ByteRange r = parse_range("bytes=0-499", 10000);
  ASSERT_EQ(r.kind, Kind::satisfiable);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 499u);
  EXPECT_EQ(r.size(), 500u);

  r = parse_range("bytes=9500-", 10000);
  ASSERT_EQ(r.kind, Kind::satisfiable);
  EXPECT_EQ(r.first, 9500u);
  EXPECT_EQ(r.last, 9999u);

  r = parse_range("bytes=-500", 10000);  // the last 500 bytes
  ASSERT_EQ(r.kind, Kind::satisfiable);
  EXPECT_EQ(r.first, 9500u);
  EXPECT_EQ(r.last, 9999u);

  r = parse_range("Bytes=5-100000", 10);  // last-pos is clamped to the length
  ASSERT_EQ(r.kind, Kind::satisfiable);
  EXPECT_EQ(r.first, 5u);
  EXPECT_EQ(r.last, 9u);

  r = parse_range("bytes=-20", 10);  // a suffix longer than the file is the whole file
  ASSERT_EQ(r.kind, Kind::satisfiable);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 9u);
}

TEST(HttpRange, Unsatisfiable) {
  EXPECT_EQ(parse_range("bytes=10-", 10).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=100-200", 10).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 10).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-5", 0).kind, Kind::unsatisfiable);
}

TEST(HttpRange, IgnoredMeansWholeRepresentation) {
  EXPECT_EQ(parse_range("bytes=0-1,5-6", 10).kind, Kind::none);  // documented: several -> 200
  EXPECT_EQ(parse_range("items=0-1", 10).kind, Kind::none);
  EXPECT_EQ(parse_range("bytes=5-1", 10).kind, Kind::none);
  EXPECT_EQ(parse_range("bytes=a-b", 10).kind, Kind::none);
  EXPECT_EQ(parse_range("bytes=", 10).kind, Kind::none);
  EXPECT_EQ(parse_range("bytes=-", 10).kind, Kind::none);
  EXPECT_EQ(parse_range("bytes 0-1", 10).kind, Kind::none);
  EXPECT_EQ(parse_range("bytes=99999999999999999999-", 10).kind, Kind::none);
  EXPECT_EQ(parse_range("", 10).kind, Kind::none);
}

TEST(HttpMime, ByExtension) {
  EXPECT_EQ(content_type_for("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("/a/b.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("/x.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(content_type_for("/img.png"), "image/png");
  EXPECT_EQ(content_type_for("/data.json"), "application/json");
  EXPECT_EQ(content_type_for("/archive.tar.gz"), "application/gzip");
  EXPECT_EQ(content_type_for("/.hidden"), "application/octet-stream");
  EXPECT_EQ(content_type_for("/dir.d/README"), "application/octet-stream");
  EXPECT_EQ(content_type_for("/blob.unknownext"), "application/octet-stream");
}

}  // namespace
}  // namespace ustack::http
