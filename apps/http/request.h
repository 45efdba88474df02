// An incremental HTTP/1.1 request parser (RFC 9112) for a server that serves static files with
// GET and HEAD.
//
// Bytes are fed as they arrive, in pieces of any size; next() reports whether a whole request is
// there. One request is parsed at a time: whatever follows it (pipelined requests, RFC 9112 9.3.2)
// stays buffered for the next call after reset(). The buffer never holds much more than one
// request head plus the last piece fed, because the server stops feeding once a request is
// complete, and next() fails with an error status as soon as a limit is crossed.
//
// Decisions where RFC 9112 leaves a choice:
//  - A body announced by Content-Length is read and discarded (GET and HEAD bodies have no
//    meaning here, RFC 9110 9.3.1); beyond RequestLimits::max_body the answer is 413.
//  - Chunked request bodies are not decoded: Transfer-Encoding ending in chunked gets 411 Length
//    Required, any other Transfer-Encoding 400 (RFC 9112 6.3 item 4), and either with
//    Content-Length 400 (RFC 9112 6.3 item 3). The connection closes after each.
//  - The methods RFC 9110 section 9 and RFC 5789 define, other than GET and HEAD, get 405 with
//    `Allow: GET, HEAD` (RFC 9110 15.5.6); any other token, or a method longer than
//    max_method, gets 501 (RFC 9110 9.1); a method that is not a token gets 400.
//  - A single LF ends a line as CRLF does (RFC 9112 2.2 allows it); a bare CR is 400.
//  - Empty lines before the request line are skipped (RFC 9112 2.2).
//  - Duplicate Content-Length fields are 400 even when their values agree.
// Every error status means the connection closes after the response (RFC 9112 9.6 lets the
// server decide), since the framing of what follows can no longer be trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ustack::http {

struct RequestLimits {
  std::size_t max_method = 16;
  // The request line (method, target and version); a longer one is 414 URI Too Long.
  std::size_t max_request_line = 8192;
  // The whole header section after the request line; more is 431 (RFC 6585 5).
  std::size_t max_header_bytes = 16384;
  std::size_t max_header_count = 100;
  // The largest Content-Length body read and discarded; more is 413 Content Too Large.
  std::uint64_t max_body = 1 << 20;
};

struct Request {
  std::string method;
  std::string target;  // as received: origin-form, or the path and query of absolute-form
  std::string path;    // target up to '?', still percent-encoded
  std::string query;   // after '?', without it
  int version_major = 1;
  int version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // names as received
  std::uint64_t content_length = 0;
  // RFC 9112 9.3: whether the connection stays open after the response.
  bool keep_alive = true;

  // The value of the first field named `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  bool is_head() const { return method == "HEAD"; }
  // "HTTP/1.1" and so on, for responses and the access log.
  std::string version_text() const;
};

struct RequestError {
  int status = 400;
  std::string detail;  // one line for the error page and the log
};

class RequestParser {
 public:
  enum class State { incomplete, complete, error };

  explicit RequestParser(const RequestLimits& limits = {});

  // Appends bytes received from the connection.
  void feed(std::string_view bytes);
  // Parses as far as the buffered bytes allow. After `complete`, request() is the request and
  // its body has been consumed; after `error`, error() says why, and the parser stays in error.
  State next();
  const Request& request() const { return request_; }
  const RequestError& error() const { return error_; }
  // Forgets the request that was complete and gets ready for the next one, keeping any
  // pipelined bytes that followed it.
  void reset();

  // Bytes buffered and not yet consumed by a request.
  std::size_t buffered() const { return buffer_.size() - consumed_; }
  // Whether any byte of the next request has arrived (for telling idle from slow).
  bool started() const { return phase_ != Phase::head || buffered() > 0; }

 private:
  enum class Phase { head, body, done, failed };

  State fail(int status, std::string detail);
  State parse_head();
  State parse_request_line(std::string_view line);
  State parse_fields(std::string_view block);
  State check_framing();
  void compact();

  RequestLimits limits_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ that belong to requests already handled
  // Where the search for the end of the head has got, as offsets into buffer_.
  std::size_t scanned_ = 0;
  std::size_t line_start_ = 0;
  std::size_t fields_start_ = std::string::npos;  // npos until the request line has arrived
  int empty_lines_ = 0;
  std::size_t field_lines_ = 0;
  Phase phase_ = Phase::head;
  std::uint64_t body_left_ = 0;
  Request request_;
  RequestError error_;
};

// RFC 9110 5.6.1: the comma-separated list `value` contains `token` (case-insensitive).
bool list_contains_token(std::string_view value, std::string_view token);
bool equals_ignore_case(std::string_view a, std::string_view b);

}  // namespace ustack::http
