// Fuzzes the HTTP/1.1 request parser (apps/http/request.h) and what the server does next with a
// request's fields: path normalization, Range and HTTP-date parsing.
//
// Input format: u8 split; the bytes a client sends. The bytes are fed in pieces of
// (split % 61) + 1 bytes, so that one input also exercises requests split across segments;
// the parser works with small limits so that inputs reach them.
//
// Checks, beyond "no crash, no hang, no sanitizer report": feeding the same bytes in one piece
// gives the same requests and the same failure or not; a complete request has a path that starts
// with '/' and a method that is GET or HEAD; an error status is one the parser documents; the
// buffer never holds more than the limits allow plus one piece; a normalized path never contains a
// ".." segment; a satisfiable range lies inside the representation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "apps/http/date.h"
#include "apps/http/path.h"
#include "apps/http/range.h"
#include "apps/http/request.h"

using ustack::http::ByteRange;
using ustack::http::RequestLimits;
using ustack::http::RequestParser;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

RequestLimits small_limits() {
  RequestLimits l;
  l.max_method = 8;
  l.max_request_line = 256;
  l.max_header_bytes = 512;
  l.max_header_count = 16;
  l.max_body = 300;
  return l;
}

void check_request(const ustack::http::Request& r) {
  check(r.method == "GET" || r.method == "HEAD");
  check(!r.path.empty() && r.path.front() == '/');
  check(r.version_major == 1);
  const auto normalized = ustack::http::normalize_path(r.path);
  if (normalized.ok) {
    check(normalized.path.front() == '/');
    check(normalized.path.find("/../") == std::string::npos);
    check(!normalized.path.ends_with("/.."));
    check(normalized.path.find('\0') == std::string::npos);
  }
  if (const auto range = r.header("range")) {
    for (std::uint64_t length : {0ULL, 1ULL, 100ULL}) {
      const ByteRange b = ustack::http::parse_range(*range, length);
      if (b.kind == ByteRange::Kind::satisfiable) check(b.first <= b.last && b.last < length);
    }
  }
  if (const auto since = r.header("if-modified-since")) {
    if (const auto t = ustack::http::parse_http_date(*since, 1700000000)) {
      check(ustack::http::parse_http_date(ustack::http::format_http_date(*t), 1700000000) == t);
    }
  }
}

// Parses `input` fed in pieces of `piece` bytes; returns one entry per request or error.
std::vector<std::string> run(std::string_view input, std::size_t piece) {
  const RequestLimits limits = small_limits();
  RequestParser parser(limits);
  std::vector<std::string> outcomes;
  std::size_t at = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    const RequestParser::State s = parser.next();
    if (s == RequestParser::State::error) {
      const int status = parser.error().status;
      check(status == 400 || status == 405 || status == 411 || status == 413 || status == 414 ||
            status == 431 || status == 501 || status == 505);
      // A limit can stop a split run before the syntax error a whole run finds further on, so
      // runs are compared on their requests and on whether they failed, not on the status.
      outcomes.push_back("error");
      return outcomes;
    }
    if (s == RequestParser::State::complete) {
      check_request(parser.request());
      outcomes.push_back(parser.request().method + " " + parser.request().target);
      parser.reset();
      continue;
    }
    check(parser.buffered() <= limits.max_request_line + limits.max_header_bytes + 64 + piece);
    if (at >= input.size()) return outcomes;
    const std::size_t n = std::min(piece, input.size() - at);
    parser.feed(input.substr(at, n));
    at += n;
  }
  check(false);  // more iterations than bytes can explain: the parser made no progress
  return outcomes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] % 61 + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<std::string> split = run(input, piece);
  const std::vector<std::string> whole = run(input, input.size() + 1);
  check(split == whole);
  return 0;
}
