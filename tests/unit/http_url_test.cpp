// http-get's URLs: parsing what a user types, and resolving a redirect's Location against the
// URL it answered (RFC 3986 5.2, with the examples of RFC 3986 5.4 where they apply to http).
#include <gtest/gtest.h>

#include <string>

#include "apps/http/url.h"

namespace ustack::http {
namespace {

Url parse_ok(std::string_view text) {
  std::string error;
  const auto url = parse_url(text, error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(Url{});
}

std::string parse_error(std::string_view text) {
  std::string error;
  const auto url = parse_url(text, error);
  EXPECT_FALSE(url.has_value()) << text << " parsed as " << url->to_string();
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(HttpUrl, ParsesHostPortPathAndQuery) {
  const Url url = parse_ok("http://10.0.1.1:8000/dir/file.txt?a=1&b=2");
  EXPECT_EQ(url.host, Ipv4Address(10, 0, 1, 1));
  EXPECT_EQ(url.port, 8000);
  EXPECT_EQ(url.path, "/dir/file.txt");
  EXPECT_EQ(url.query, "a=1&b=2");
  EXPECT_EQ(url.target(), "/dir/file.txt?a=1&b=2");
  EXPECT_EQ(url.authority(), "10.0.1.1:8000");
  EXPECT_EQ(url.to_string(), "http://10.0.1.1:8000/dir/file.txt?a=1&b=2");
}

TEST(HttpUrl, DefaultsPortAndPath) {
  const Url url = parse_ok("http://10.0.0.1");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.target(), "/");
  EXPECT_EQ(url.authority(), "10.0.0.1");              // RFC 9110 7.2: the default port is left out
  EXPECT_EQ(parse_ok("http://10.0.0.1:/x").port, 80);  // RFC 3986 3.2.3: empty port
  EXPECT_EQ(parse_ok("http://10.0.0.1?q").target(), "/?q");
}

TEST(HttpUrl, SchemeIsCaseInsensitiveAndFragmentIsDropped) {
  const Url url = parse_ok("HTTP://10.0.0.1/a#section");
  EXPECT_EQ(url.target(), "/a");
  EXPECT_EQ(parse_ok("http://10.0.0.1/a?x#f").query, "x");
}

TEST(HttpUrl, EmptyQueryDiffersFromNone) {
  EXPECT_EQ(parse_ok("http://10.0.0.1/p?").target(), "/p?");
  EXPECT_EQ(parse_ok("http://10.0.0.1/p").target(), "/p");
}

TEST(HttpUrl, RemovesDotSegments) {
  EXPECT_EQ(parse_ok("http://10.0.0.1/a/b/../c/./d").path, "/a/c/d");
  EXPECT_EQ(parse_ok("http://10.0.0.1/../../x").path, "/x");
}

TEST(HttpUrl, PercentEncodesWhatARequestLineCannotCarry) {
  EXPECT_EQ(parse_ok("http://10.0.0.1/a b").path, "/a%20b");
  EXPECT_EQ(parse_ok("http://10.0.0.1/\xc3\xa9").path, "/%C3%A9");
  EXPECT_EQ(parse_ok("http://10.0.0.1/%41?x=%7e").target(), "/%41?x=%7e");  // kept as given
}

TEST(HttpUrl, RejectsHttpsAndOtherSchemes) {
  EXPECT_NE(parse_error("https://10.0.0.1/").find("no TLS"), std::string::npos);
  EXPECT_NE(parse_error("ftp://10.0.0.1/").find("only http://"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.1/file").find("absolute"), std::string::npos);
  parse_error("");
  parse_error("1http://10.0.0.1/");
}

TEST(HttpUrl, RejectsHostNamesWithAClearMessage) {
  EXPECT_NE(parse_error("http://example.com/").find("only literal IPv4 hosts: ustack has no DNS"),
            std::string::npos);
  parse_error("http://[::1]/");
  parse_error("http://10.0.0/");
  parse_error("http://10.0.0.256/");
  parse_error("http://010.0.0.1/");
  EXPECT_NE(parse_error("http:///path").find("no host"), std::string::npos);
  EXPECT_NE(parse_error("http://user:pw@10.0.0.1/").find("user names"), std::string::npos);
}

TEST(HttpUrl, RejectsBadPorts) {
  for (const char* text : {"http://10.0.0.1:0/", "http://10.0.0.1:65536/", "http://10.0.0.1:x/",
                           "http://10.0.0.1:+80/", "http://10.0.0.1:99999999999999999999/",
                           "http://10.0.0.1:80:80/"}) {
    parse_error(text);
  }
  EXPECT_EQ(parse_ok("http://10.0.0.1:65535/").port, 65535);
}

TEST(HttpUrl, RejectsControlCharactersAndBrokenEscapes) {
  parse_error("http://10.0.0.1/a\r\nX-Injected: 1");
  parse_error(std::string("http://10.0.0.1/a\0b", 19));
  parse_error("http://10.0.0.1/a%4");
  parse_error("http://10.0.0.1/a%zz");
  parse_error("http://10.0.0.1/?%");
}

TEST(HttpUrl, RemoveDotSegmentsFollowsRfc3986) {
  // RFC 3986 5.2.4's own examples.
  EXPECT_EQ(remove_url_dot_segments("/a/b/c/./../../g"), "/a/g");
  EXPECT_EQ(remove_url_dot_segments("mid/content=5/../6"), "mid/6");
  EXPECT_EQ(remove_url_dot_segments("/.."), "/");
  EXPECT_EQ(remove_url_dot_segments("/."), "/");
  EXPECT_EQ(remove_url_dot_segments("/a/.."), "/");
  EXPECT_EQ(remove_url_dot_segments("/a/b/"), "/a/b/");
  EXPECT_EQ(remove_url_dot_segments(""), "");
}

// RFC 3986 5.4.1 and 5.4.2, base "http://a/b/c/d;p?q" with the host a literal address.
TEST(HttpUrl, ResolvesReferencesAsRfc3986Examples) {
  const Url base = parse_ok("http://10.0.0.1/b/c/d;p?q");
  const std::pair<const char*, const char*> cases[] = {
      {"g", "http://10.0.0.1/b/c/g"},
      {"./g", "http://10.0.0.1/b/c/g"},
      {"g/", "http://10.0.0.1/b/c/g/"},
      {"/g", "http://10.0.0.1/g"},
      {"//10.0.0.2/g", "http://10.0.0.2/g"},
      {"?y", "http://10.0.0.1/b/c/d;p?y"},
      {"g?y", "http://10.0.0.1/b/c/g?y"},
      {"#s", "http://10.0.0.1/b/c/d;p?q"},
      {"g#s", "http://10.0.0.1/b/c/g"},
      {";x", "http://10.0.0.1/b/c/;x"},
      {"", "http://10.0.0.1/b/c/d;p?q"},
      {".", "http://10.0.0.1/b/c/"},
      {"./", "http://10.0.0.1/b/c/"},
      {"..", "http://10.0.0.1/b/"},
      {"../g", "http://10.0.0.1/b/g"},
      {"../..", "http://10.0.0.1/"},
      {"../../g", "http://10.0.0.1/g"},
      {"../../../g", "http://10.0.0.1/g"},
      {"../../../../g", "http://10.0.0.1/g"},
      {"/./g", "http://10.0.0.1/g"},
      {"/../g", "http://10.0.0.1/g"},
      {"g.", "http://10.0.0.1/b/c/g."},
      {".g", "http://10.0.0.1/b/c/.g"},
      {"g..", "http://10.0.0.1/b/c/g.."},
      {"..g", "http://10.0.0.1/b/c/..g"},
      {"./../g", "http://10.0.0.1/b/g"},
      {"./g/.", "http://10.0.0.1/b/c/g/"},
      {"g/./h", "http://10.0.0.1/b/c/g/h"},
      {"g/../h", "http://10.0.0.1/b/c/h"},
      {"g;x=1/./y", "http://10.0.0.1/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://10.0.0.1/b/c/y"},
      {"g?y/./x", "http://10.0.0.1/b/c/g?y/./x"},
      {"g?y/../x", "http://10.0.0.1/b/c/g?y/../x"},
      {"http://10.9.9.9:81/z", "http://10.9.9.9:81/z"},
  };
  for (const auto& [reference, expected] : cases) {
    std::string error;
    const auto url = resolve_url(base, reference, error);
    ASSERT_TRUE(url.has_value()) << reference << ": " << error;
    EXPECT_EQ(url->to_string(), expected) << "reference \"" << reference << "\"";
  }
}

TEST(HttpUrl, ResolvingKeepsThePortOfTheBase) {
  const Url base = parse_ok("http://10.0.0.1:8000/dir");
  std::string error;
  EXPECT_EQ(resolve_url(base, "dir/", error)->to_string(), "http://10.0.0.1:8000/dir/");
}

TEST(HttpUrl, RefusesRedirectsItCannotFollow) {
  const Url base = parse_ok("http://10.0.0.1/");
  for (const char* reference :
       {"https://10.0.0.1/", "http://example.com/", "//example.com/x", "mailto:a@b", "/a%zz"}) {
    std::string error;
    EXPECT_FALSE(resolve_url(base, reference, error).has_value()) << reference;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace ustack::http
