// The HTTP/1.1 response parser (RFC 9112): every response is also fed split at each byte
// position and one byte at a time, and must come out the same.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/http/response.h"

namespace ustack::http {
namespace {

struct Outcome {
  bool complete = false;
  bool failed = false;
  std::string error;
  int status = 0;
  Framing framing = Framing::none;
  std::string body;
  std::size_t unconsumed = 0;  // bytes left over once the message was complete

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{complete " << o.complete << ", failed " << o.failed << " (" << o.error
            << "), status " << o.status << ", body \"" << o.body << "\", unconsumed "
            << o.unconsumed << "}";
}

struct Run {
  bool eof = true;  // the connection closes after the bytes
  bool head = false;
  ResponseLimits limits{};
};

Outcome parse_pieces(const std::vector<std::string_view>& pieces, const Run& run) {
  ResponseParser parser(run.head, run.limits);
  Outcome o;
  const BodySink sink = [&](std::string_view bytes) {
    o.body.append(bytes);
    return true;
  };
  for (std::string_view rest : pieces) {
    while (!rest.empty() && !parser.done()) {
      const std::size_t used = parser.feed(rest, sink);
      if (used == 0 && !parser.done()) {
        ADD_FAILURE() << "feed() consumed nothing while not done";
        break;
      }
      rest.remove_prefix(used);
    }
    o.unconsumed += rest.size();
  }
  if (run.eof) parser.finish();
  o.complete = parser.complete();
  o.failed = parser.failed();
  if (o.failed) o.unconsumed = 0;  // where a parse stops on an error depends on the split
  o.error = parser.error();
  o.status = parser.response().status;
  o.framing = parser.response().framing;
  EXPECT_EQ(parser.body_bytes(), o.body.size());
  return o;
}

// Parses `text` whole, then split in two at every position, then byte by byte; all must agree.
Outcome parse(std::string_view text, const Run& run = {}) {
  const Outcome whole = parse_pieces({text}, run);
  for (std::size_t at = 0; at <= text.size(); ++at) {
    const Outcome split = parse_pieces({text.substr(0, at), text.substr(at)}, run);
    EXPECT_EQ(split, whole) << "split at " << at;
    if (split != whole) break;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < text.size(); ++i) bytes.push_back(text.substr(i, 1));
  EXPECT_EQ(parse_pieces(bytes, run), whole) << "byte by byte";
  return whole;
}

void expect_body(std::string_view text, std::string_view body, const Run& run = {}) {
  const Outcome o = parse(text, run);
  EXPECT_TRUE(o.complete) << o;
  EXPECT_EQ(o.body, body);
}

std::string expect_error(std::string_view text, const Run& run = {}) {
  const Outcome o = parse(text, run);
  EXPECT_TRUE(o.failed) << o;
  EXPECT_FALSE(o.error.empty());
  return o.error;
}

TEST(HttpResponse, ContentLengthBody) {
  const Outcome o = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello");
  EXPECT_TRUE(o.complete);
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.framing, Framing::content_length);
  EXPECT_EQ(o.body, "hello");
}

TEST(HttpResponse, ContentLengthEndsTheMessageWithoutWaitingForClose) {
  const Outcome o = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", {.eof = false});
  EXPECT_TRUE(o.complete);
  EXPECT_EQ(o.body, "ok");
  EXPECT_EQ(o.unconsumed, 5u);
}

TEST(HttpResponse, FieldsAndReasonAreKept) {
  ResponseParser parser;
  const std::string_view text =
      "HTTP/1.0 301 Moved Permanently\r\nlocation:  /new \r\nX-A: 1\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(parser.feed(text, {}), text.size());
  ASSERT_TRUE(parser.complete());
  const Response& r = parser.response();
  EXPECT_EQ(r.version_minor, 0);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.reason, "Moved Permanently");
  ASSERT_NE(r.field("Location"), nullptr);
  EXPECT_EQ(*r.field("LOCATION"), "/new");
  EXPECT_EQ(r.field("Missing"), nullptr);
}

TEST(HttpResponse, FeedPausesAfterTheHeaderSection) {
  ResponseParser parser;
  std::string body;
  const BodySink sink = [&](std::string_view b) {
    body.append(b);
    return true;
  };
  const std::string_view head = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n";
  std::string_view text = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
  EXPECT_EQ(parser.feed(text, sink), head.size());
  EXPECT_TRUE(parser.headers_complete());
  EXPECT_FALSE(parser.done());
  EXPECT_EQ(body, "");
  text.remove_prefix(head.size());
  EXPECT_EQ(parser.feed(text, sink), 4u);
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(body, "body");
}

TEST(HttpResponse, BodyIsStreamedAsItArrives) {
  ResponseParser parser;
  std::size_t calls = 0;
  std::size_t largest = 0;
  const BodySink sink = [&](std::string_view b) {
    ++calls;
    largest = std::max(largest, b.size());
    return true;
  };
  std::string_view head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
  while (!head.empty()) head.remove_prefix(parser.feed(head, sink));
  const std::string piece(1000, 'x');
  for (int i = 0; i < 100; ++i) EXPECT_EQ(parser.feed(piece, sink), piece.size());
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.body_bytes(), 100000u);
  EXPECT_EQ(calls, 100u);
  EXPECT_EQ(largest, 1000u);
}

TEST(HttpResponse, ChunkedWithExtensionsAndTrailers) {
  const Outcome o = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value;q=\"a\\\"b;c\"\r\nhello\r\n"
      "6 ; flag\r\n world\r\n"
      "0;last\r\nX-Checksum: abc\r\nX-More: 1\r\n\r\n");
  EXPECT_TRUE(o.complete) << o;
  EXPECT_EQ(o.framing, Framing::chunked);
  EXPECT_EQ(o.body, "hello world");
}

TEST(HttpResponse, ChunkSizesAreHexOfAnyCaseWithLeadingZeros) {
  expect_body(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "000A\r\n0123456789\r\nb\r\nabcdefghijk\r\n000\r\n\r\n",
      "0123456789abcdefghijk");
}

TEST(HttpResponse, ChunkedEndsAtTheLastChunkNotAtClose) {
  const Outcome o = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", {.eof = false});
  EXPECT_TRUE(o.complete);
  EXPECT_EQ(o.body, "x");
}

TEST(HttpResponse, BodyUntilCloseWithoutFraming) {
  expect_body("HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this\r\nuntil close",
              "all of this\r\nuntil close");
  const Outcome open = parse("HTTP/1.1 200 OK\r\n\r\npartial", {.eof = false});
  EXPECT_FALSE(open.complete || open.failed);
  EXPECT_EQ(open.framing, Framing::until_close);
  EXPECT_EQ(open.body, "partial");
}

TEST(HttpResponse, NoBodyForHead204And304) {
  const Outcome head =
      parse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", {.eof = false, .head = true});
  EXPECT_TRUE(head.complete);
  EXPECT_EQ(head.framing, Framing::none);
  for (const char* text : {"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
                           "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    const Outcome o = parse(text, {.eof = false});
    EXPECT_TRUE(o.complete) << text;
    EXPECT_EQ(o.body, "");
  }
}

TEST(HttpResponse, InterimResponsesAreSkipped) {
  const Outcome o = parse(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_TRUE(o.complete);
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.body, "ok");
}

TEST(HttpResponse, TooManyInterimResponsesFail) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_NE(expect_error(text).find("interim"), std::string::npos);
  expect_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n");
}

TEST(HttpResponse, AcceptsBareLfAndAMissingReason) {
  expect_body("HTTP/1.1 200\nContent-Length: 3\n\nabc", "abc");
  expect_body("HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nz", "z");
}

TEST(HttpResponse, ObsoleteLineFoldingBecomesASpace) {
  ResponseParser parser;
  const std::string_view text =
      "HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\tthree\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(parser.feed(text, {}), text.size());
  ASSERT_TRUE(parser.complete());
  EXPECT_EQ(*parser.response().field("x-long"), "one two three");
}

TEST(HttpResponse, BadStatusLinesFail) {
  for (const char* text :
       {"HTTP/2 200 OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1 600 Nope\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n", "\r\nHTTP/1.1 200 OK\r\n\r\n"}) {
    expect_error(text);
  }
}

TEST(HttpResponse, BadFieldLinesFail) {
  for (const char* text :
       {"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx",  // RFC 9112 5.1
        "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded first\r\n\r\n", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", "HTTP/1.1 200 OK\r\nX(y): 1\r\n\r\n"}) {
    expect_error(text);
  }
  constexpr char kNulInValue[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
  expect_error(std::string(kNulInValue, sizeof kNulInValue - 1));
}

TEST(HttpResponse, InvalidOrConflictingContentLengthFails) {
  for (const char* value :
       {"abc", "-1", "+1", "1 2", "", "0x10", "5, 6", "1.0", "99999999999999999999999"}) {
    const std::string text =
        std::string("HTTP/1.1 200 OK\r\nContent-Length: ") + value + "\r\n\r\n";
    EXPECT_NE(expect_error(text).find("Content-Length"), std::string::npos) << value;
  }
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
}

TEST(HttpResponse, IdenticalContentLengthsAreOne) {
  expect_body("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", "abc");
}

TEST(HttpResponse, LargestContentLengthIsFramedThenTruncated) {
  const Outcome o = parse("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nab");
  EXPECT_TRUE(o.failed);
  EXPECT_EQ(o.framing, Framing::content_length);
  EXPECT_EQ(o.body, "ab");
  EXPECT_NE(o.error.find("truncated"), std::string::npos);
}

TEST(HttpResponse, TransferEncodingThatCannotBeTrustedFails) {
  EXPECT_NE(
      expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                   "3\r\nabc\r\n0\r\n\r\n")
          .find("both"),
      std::string::npos);
  EXPECT_NE(
      expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").find("gzip"),
      std::string::npos);
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n");
  expect_error(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n");
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx");
  expect_error("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");
}

TEST(HttpResponse, StrictChunkSizes) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const char* line : {"0x5", "-1", "+5", " 5", "", "g", "5;", "5;=x", "5;a=", "5;a=\"open",
                           "5;a=b c", "5,6", "5\x01", "10000000000000000"}) {
    expect_error(head + line + "\r\nhello\r\n0\r\n\r\n");
  }
}

TEST(HttpResponse, HugeChunkSizeIsFramedThenTruncated) {
  const Outcome o =
      parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc");
  EXPECT_TRUE(o.failed);
  EXPECT_EQ(o.body, "abc");
  EXPECT_NE(o.error.find("truncated chunked body"), std::string::npos);
}

TEST(HttpResponse, ChunkDataLongerThanItsSizeFails) {
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n");
}

TEST(HttpResponse, TruncatedBodiesFail) {
  EXPECT_NE(expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345").find("5 of 10"),
            std::string::npos);
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const char* rest : {"", "5\r\nhel", "5\r\nhello", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n",
                           "5\r\nhello\r\n0\r\nX-T: 1\r\n"}) {
    EXPECT_NE(expect_error(chunked + rest).find("truncated chunked body"), std::string::npos)
        << rest;
  }
}

TEST(HttpResponse, ClosingBeforeTheBodyFails) {
  EXPECT_NE(expect_error("").find("without sending a response"), std::string::npos);
  expect_error("HTTP/1.1 200");
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n");
}

TEST(HttpResponse, LimitsBoundWhatIsHeld) {
  const ResponseLimits small{.max_line = 64,
                             .max_header_bytes = 256,
                             .max_fields = 4,
                             .max_trailer_bytes = 64,
                             .max_interim_responses = 2};
  expect_error("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a') + "\r\n\r\n", {.limits = small});
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  expect_error(many + "\r\n", {.limits = small});
  std::string big = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 4; ++i) big += "X: " + std::string(60, 'b') + "\r\n";
  expect_error(big + "\r\n", {.limits = small});
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: " +
                   std::string(40, 'x') + "\r\nB: " + std::string(40, 'y') + "\r\n\r\n",
               {.limits = small});
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(100, 'e') +
                   "\r\nx\r\n0\r\n\r\n",
               {.limits = small});
  // A line with no end at all fails as soon as it passes the limit, not at close.
  EXPECT_TRUE(parse(std::string(100, 'H'), {.eof = false, .limits = small}).failed);
}

TEST(HttpResponse, ASinkThatRefusesStopsTheParse) {
  ResponseParser parser;
  std::string_view text = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  text.remove_prefix(parser.feed(text, {}));
  parser.feed(text, [](std::string_view) { return false; });
  EXPECT_TRUE(parser.failed());
  EXPECT_FALSE(parser.error().empty());
}

}  // namespace
}  // namespace ustack::http
