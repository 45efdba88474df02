// The HTTP/1.1 request parser (apps/http/request.h): well-formed requests, every error status it
// can answer with, limits, and requests split across segments or pipelined.
#include "apps/http/request.h"

#include <gtest/gtest.h>

#include <string>

namespace ustack::http {
namespace {

using State = RequestParser::State;
using namespace std::literals;

struct Parsed {
  State state;
  Request request;
  RequestError error;
};

Parsed parse(std::string_view text, const RequestLimits& limits = {}) {
  RequestParser p(limits);
  p.feed(text);
  const State s = p.next();
  return {s, p.request(), p.error()};
}

int error_status(std::string_view text, const RequestLimits& limits = {}) {
  const Parsed r = parse(text, limits);
  EXPECT_EQ(r.state, State::error) << text;
  return r.error.status;
}

TEST(HttpRequest, ParsesASimpleGet) {
  const Parsed r = parse("GET /index.html?x=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(r.state, State::complete) << r.error.detail;
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.target, "/index.html?x=1");
  EXPECT_EQ(r.request.path, "/index.html");
  EXPECT_EQ(r.request.query, "x=1");
  EXPECT_EQ(r.request.version_text(), "HTTP/1.1");
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_EQ(r.request.header("ACCEPT"), "*/*");
  EXPECT_EQ(r.request.header("host"), "example");
  EXPECT_FALSE(r.request.header("range").has_value());
}

TEST(HttpRequest, TrimsFieldValuesAndAcceptsBareLf) {
  const Parsed r = parse("HEAD / HTTP/1.1\nHost:\t example \t\nX-Empty:\n\n");
  ASSERT_EQ(r.state, State::complete) << r.error.detail;
  EXPECT_TRUE(r.request.is_head());
  EXPECT_EQ(r.request.header("Host"), "example");
  EXPECT_EQ(r.request.header("x-empty"), "");
}

TEST(HttpRequest, SkipsEmptyLinesBeforeTheRequestLine) {
  EXPECT_EQ(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").state, State::complete);
  EXPECT_EQ(error_status(std::string(40, '\n') + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequest, AbsoluteFormKeepsPathAndQuery) {
  Parsed r = parse("GET http://example.com:8080/a/b?c HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_EQ(r.state, State::complete);
  EXPECT_EQ(r.request.path, "/a/b");
  EXPECT_EQ(r.request.query, "c");
  r = parse("GET HTTP://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_EQ(r.state, State::complete);
  EXPECT_EQ(r.request.path, "/");
}

TEST(HttpRequest, PersistenceFollowsVersionAndConnection) {
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(
      parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: te, close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  const Parsed r = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(r.state, State::complete);
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_EQ(r.request.version_minor, 0);
}

TEST(HttpRequest, MalformedRequestLinesAre400) {
  EXPECT_EQ(error_status("GET /\r\n\r\n"), 400);                       // HTTP/0.9
  EXPECT_EQ(error_status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);  // double space
  EXPECT_EQ(error_status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"sv), 400);
}

TEST(HttpRequest, OtherMajorVersionsAre505) {
  EXPECT_EQ(error_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(error_status("GET / HTTP/0.9\r\n\r\n"), 505);
  // A later minor version of 1 is understood as the highest this server speaks (RFC 9110 2.5).
  EXPECT_EQ(parse("GET / HTTP/1.7\r\nHost: a\r\n\r\n").state, State::complete);
}

TEST(HttpRequest, MethodsOtherThanGetAndHead) {
  EXPECT_EQ(error_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"), 405);
  EXPECT_EQ(error_status("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
  EXPECT_EQ(error_status("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
  EXPECT_EQ(error_status("CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
  EXPECT_EQ(error_status("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
  EXPECT_EQ(error_status("get / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);  // methods are case-sensitive
  EXPECT_EQ(error_status(std::string(100, 'X') + " / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
}

TEST(HttpRequest, HostIsRequiredOnceIn11) {
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"), 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n").state, State::complete);
}

TEST(HttpRequest, MalformedFieldsAre400) {
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n  two\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"sv), 400);
}

TEST(HttpRequest, ContentLengthFraming) {
  EXPECT_EQ(
      error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
      400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx"), 400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400);
  EXPECT_EQ(
      error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
      413);
  RequestLimits small;
  small.max_body = 10;
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", small), 413);
}

TEST(HttpRequest, TransferEncoding) {
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         "Content-Length: 3\r\n\r\n"),
            400);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"),
            411);
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
}

TEST(HttpRequest, BodyOfAGetIsReadAndDiscarded) {
  RequestParser p;
  p.feed("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123");
  EXPECT_EQ(p.next(), State::incomplete);
  p.feed("456789GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(p.next(), State::complete);
  EXPECT_EQ(p.request().path, "/a");
  EXPECT_EQ(p.request().content_length, 10u);
  p.reset();
  ASSERT_EQ(p.next(), State::complete);
  EXPECT_EQ(p.request().path, "/b");
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(HttpRequest, OversizedTargetIs414EvenBeforeTheLineEnds) {
  RequestLimits limits;
  limits.max_request_line = 64;
  EXPECT_EQ(error_status("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", limits),
            414);
  RequestParser p(limits);
  p.feed("GET /" + std::string(40, 'a'));
  EXPECT_EQ(p.next(), State::incomplete);
  p.feed(std::string(40, 'a'));
  ASSERT_EQ(p.next(), State::error);
  EXPECT_EQ(p.error().status, 414);
}

TEST(HttpRequest, OversizedHeaderSectionIs431) {
  RequestLimits limits;
  limits.max_header_bytes = 100;
  EXPECT_EQ(
      error_status("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'v') + "\r\n\r\n", limits),
      431);
  RequestParser p(limits);
  p.feed("GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 0; i < 20 && p.next() == State::incomplete; ++i) p.feed("X-Pad: 0123456789\r\n");
  ASSERT_EQ(p.next(), State::error);
  EXPECT_EQ(p.error().status, 431);

  limits = RequestLimits{};
  limits.max_header_count = 3;
  EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), 431);
}

TEST(HttpRequest, AnySplitGivesTheSameRequest) {
  const std::string text =
      "GET /split/path?q HTTP/1.1\r\nHost: example\r\nRange: bytes=0-9\r\n"
      "Content-Length: 4\r\n\r\nbody";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    RequestParser p;
    p.feed(text.substr(0, cut));
    State s = p.next();
    if (cut < text.size()) {
      EXPECT_EQ(s, State::incomplete) << cut;
      p.feed(text.substr(cut));
      s = p.next();
    }
    ASSERT_EQ(s, State::complete) << cut;
    EXPECT_EQ(p.request().path, "/split/path");
    EXPECT_EQ(p.request().header("range"), "bytes=0-9");
    EXPECT_EQ(p.buffered(), 0u);
  }
}

TEST(HttpRequest, OneByteAtATime) {
  const std::string text = "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  RequestParser p;
  State s = State::incomplete;
  for (char c : text) {
    EXPECT_EQ(s, State::incomplete);
    p.feed(std::string_view(&c, 1));
    s = p.next();
  }
  ASSERT_EQ(s, State::complete);
  EXPECT_FALSE(p.request().keep_alive);
}

TEST(HttpRequest, PipelinedRequestsComeOutOneByOne) {
  RequestParser p;
  p.feed(
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /4 HT");
  std::vector<std::string> paths;
  while (p.next() == State::complete) {
    paths.push_back(p.request().method + " " + p.request().path);
    p.reset();
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"GET /1", "HEAD /2", "GET /3"}));
  EXPECT_TRUE(p.started());
  EXPECT_EQ(p.buffered(), 9u);
}

TEST(HttpRequest, ErrorIsSticky) {
  RequestParser p;
  p.feed("BAD LINE\r\n\r\n");
  ASSERT_EQ(p.next(), State::error);
  p.reset();
  p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p.next(), State::error);
}

TEST(HttpRequest, ListTokens) {
  EXPECT_TRUE(list_contains_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(list_contains_token(" close ", "close"));
  EXPECT_FALSE(list_contains_token("closed", "close"));
  EXPECT_FALSE(list_contains_token("", "close"));
}

}  // namespace
}  // namespace ustack::http
