#include "apps/http/request.h"

#include <algorithm>
#include <array>

namespace ustack::http {
namespace {

// Empty lines tolerated before a request line (RFC 9112 2.2 asks for at least one).
constexpr int kMaxLeadingEmptyLines = 8;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// RFC 9110 5.6.2: tchar.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 9110 5.5: field-value is VCHAR, obs-text, SP and HTAB; CR, LF, NUL and other controls are
// invalid.
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

// RFC 3986 3.2.2 and 3.2.3: what a Host value (uri-host [":" port]) may contain.
bool is_host_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("-._~%!$&'()*+,;=:[]").find(c) != std::string_view::npos;
  });
}

// RFC 9110 section 9 and RFC 5789 (PATCH): methods this server knows and does not allow.
bool is_known_method(std::string_view m) {
  constexpr std::array<std::string_view, 7> kKnown = {"POST",    "PUT",   "DELETE", "CONNECT",
                                                      "OPTIONS", "TRACE", "PATCH"};
  return std::find(kKnown.begin(), kKnown.end(), m) != kKnown.end();
}

std::string_view without_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool list_contains_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (equals_ignore_case(trim_ows(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (equals_ignore_case(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::string Request::version_text() const {
  return "HTTP/" + std::to_string(version_major) + "." + std::to_string(version_minor);
}

RequestParser::RequestParser(const RequestLimits& limits) : limits_(limits) {}

void RequestParser::feed(std::string_view bytes) {
  buffer_.append(bytes);
}

void RequestParser::reset() {
  if (phase_ == Phase::failed) return;
  compact();
  scanned_ = 0;
  line_start_ = 0;
  fields_start_ = std::string::npos;
  empty_lines_ = 0;
  field_lines_ = 0;
  phase_ = Phase::head;
  body_left_ = 0;
  request_ = Request{};
}

// Only called between requests or while a body is discarded, when no line offsets are in use.
void RequestParser::compact() {
  buffer_.erase(0, consumed_);
  consumed_ = 0;
}

RequestParser::State RequestParser::fail(int status, std::string detail) {
  phase_ = Phase::failed;
  error_ = RequestError{status, std::move(detail)};
  return State::error;
}

RequestParser::State RequestParser::next() {
  switch (phase_) {
    case Phase::failed:
      return State::error;
    case Phase::done:
      return State::complete;
    case Phase::head: {
      const State s = parse_head();
      if (s != State::complete) return s;
      if (body_left_ == 0) {
        phase_ = Phase::done;
        return State::complete;
      }
      phase_ = Phase::body;
      [[fallthrough]];
    }
    case Phase::body: {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, buffered()));
      consumed_ += take;
      body_left_ -= take;
      compact();  // a discarded body never accumulates in the buffer
      if (body_left_ > 0) return State::incomplete;
      phase_ = Phase::done;
      return State::complete;
    }
  }
  return State::incomplete;
}

RequestParser::State RequestParser::parse_head() {
  // Each byte is looked at once however the bytes were split: scanned_ and the line offsets
  // remember where the search for the empty line that ends the head (RFC 9112 2.1) stopped.
  for (; scanned_ < buffer_.size(); ++scanned_) {
    if (buffer_[scanned_] != '\n') continue;
    const std::string_view line =
        without_cr(std::string_view(buffer_).substr(line_start_, scanned_ - line_start_));
    const std::size_t next_line = scanned_ + 1;
    if (fields_start_ == std::string::npos) {
      if (line.empty()) {
        if (++empty_lines_ > kMaxLeadingEmptyLines) return fail(400, "too many empty lines");
      } else {
        fields_start_ = next_line;
        if (parse_request_line(line) == State::error) return State::error;
      }
    } else if (line.empty()) {
      const std::string_view block =
          std::string_view(buffer_).substr(fields_start_, line_start_ - fields_start_);
      scanned_ = next_line;
      consumed_ = next_line;
      if (parse_fields(block) == State::error) return State::error;
      return check_framing();
    } else if (++field_lines_ > limits_.max_header_count) {
      return fail(431, "too many header fields");
    }
    line_start_ = next_line;
  }
  // The limits apply before the line or the head ends, so that a client cannot make the buffer
  // grow without bound. A trailing CR may still become part of a line end, so it does not count.
  const std::string_view partial = without_cr(std::string_view(buffer_).substr(line_start_));
  if (fields_start_ == std::string::npos) {
    if (partial.size() > limits_.max_request_line) return parse_request_line(partial);
  } else if (line_start_ - fields_start_ + partial.size() > limits_.max_header_bytes) {
    return fail(431, "header section too large");
  }
  return State::incomplete;
}

RequestParser::State RequestParser::parse_request_line(std::string_view line) {
  // RFC 9112 3: method SP request-target SP HTTP-version, single spaces.
  const auto sp1 = line.find(' ');
  const std::string_view method = line.substr(0, sp1);
  if (method.size() > limits_.max_method) {
    return is_token(method.substr(0, limits_.max_method)) ? fail(501, "method too long")
                                                          : fail(400, "malformed method");
  }
  if (!is_token(method)) return fail(400, "malformed method");
  if (line.size() > limits_.max_request_line) return fail(414, "request target too long");
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  const std::string_view rest = line.substr(sp1 + 1);
  const auto sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos) return fail(400, "missing HTTP version");
  const std::string_view target = rest.substr(0, sp2);
  const std::string_view version = rest.substr(sp2 + 1);

  // RFC 9112 2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) ||
      version[6] != '.' || !digit(version[7])) {
    return fail(400, "malformed HTTP version");
  }
  request_.version_major = version[5] - '0';
  request_.version_minor = version[7] - '0';
  if (request_.version_major != 1) return fail(505, "only HTTP/1.x is supported");

  if (target.empty()) return fail(400, "empty request target");
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return fail(400, "invalid character in request target");
  }
  std::string_view origin = target;
  if (target.front() != '/') {
    // RFC 9112 3.2.2: a server accepts absolute-form; only its path and query matter here.
    const auto scheme_end = target.find("://");
    const std::string_view scheme = target.substr(0, scheme_end);
    if (scheme_end == std::string_view::npos ||
        !(equals_ignore_case(scheme, "http") || equals_ignore_case(scheme, "https"))) {
      // asterisk-form and authority-form belong to OPTIONS and CONNECT, refused with 405 below.
      if (!is_known_method(method)) return fail(400, "malformed request target");
      origin = "/";
    } else {
      const auto path_start = target.find_first_of("/?", scheme_end + 3);
      origin =
          path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
    }
  }
  request_.method = std::string(method);
  request_.target = std::string(origin);
  const auto q = origin.find('?');
  request_.path = std::string(origin.substr(0, q));
  if (request_.path.empty()) request_.path = "/";
  request_.query = q == std::string_view::npos ? std::string() : std::string(origin.substr(q + 1));
  return State::incomplete;
}

RequestParser::State RequestParser::parse_fields(std::string_view block) {
  if (block.size() > limits_.max_header_bytes) return fail(431, "header section too large");
  while (!block.empty()) {
    const auto lf = block.find('\n');
    const std::string_view line = without_cr(block.substr(0, lf));
    block.remove_prefix(lf == std::string_view::npos ? block.size() : lf + 1);
    if (line.find('\r') != std::string_view::npos) return fail(400, "bare CR in header");
    // RFC 9112 5.2: obs-fold is rejected with 400.
    if (is_ows(line.front())) return fail(400, "obsolete line folding");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "header field without colon");
    // RFC 9112 5.1: no whitespace between field name and colon.
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return fail(400, "malformed header field name");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!is_field_value(value)) return fail(400, "invalid character in header field");
    request_.headers.emplace_back(name, value);
  }
  return State::incomplete;
}

RequestParser::State RequestParser::check_framing() {
  Request& r = request_;
  int hosts = 0;
  int lengths = 0;
  std::optional<std::string_view> length_text;
  std::optional<std::string_view> transfer_encoding;
  bool close = false;
  bool keep_alive = false;
  for (const auto& [name, value] : r.headers) {
    if (equals_ignore_case(name, "host")) {
      ++hosts;
      if (!is_host_value(value)) return fail(400, "malformed Host");
    } else if (equals_ignore_case(name, "content-length")) {
      ++lengths;
      length_text = value;
    } else if (equals_ignore_case(name, "transfer-encoding")) {
      transfer_encoding = value;
    } else if (equals_ignore_case(name, "connection")) {
      close = close || list_contains_token(value, "close");
      keep_alive = keep_alive || list_contains_token(value, "keep-alive");
    }
  }
  // RFC 9112 3.2: exactly one Host in HTTP/1.1, never more than one.
  if (hosts > 1) return fail(400, "more than one Host");
  if (hosts == 0 && r.version_minor >= 1) return fail(400, "missing Host");
  // RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
  r.keep_alive = !close && (r.version_minor >= 1 || keep_alive);

  // RFC 9112 6.3 item 3: Transfer-Encoding with Content-Length is a smuggling attempt.
  if (transfer_encoding && lengths > 0) {
    return fail(400, "both Transfer-Encoding and Content-Length");
  }
  if (transfer_encoding) {
    std::string_view last = *transfer_encoding;
    if (const auto comma = last.rfind(','); comma != std::string_view::npos) {
      last.remove_prefix(comma + 1);
    }
    if (equals_ignore_case(trim_ows(last), "chunked")) {
      return fail(411, "chunked request bodies are not accepted; send Content-Length");
    }
    return fail(400, "unsupported Transfer-Encoding");
  }
  if (lengths > 1) return fail(400, "more than one Content-Length");
  std::uint64_t length = 0;
  bool too_large = false;
  if (length_text) {
    // RFC 9110 8.6: Content-Length = 1*DIGIT.
    if (length_text->empty()) return fail(400, "malformed Content-Length");
    for (char c : *length_text) {
      if (c < '0' || c > '9') return fail(400, "malformed Content-Length");
      if (length > (UINT64_MAX - 9) / 10) {
        too_large = true;
      } else {
        length = length * 10 + static_cast<std::uint64_t>(c - '0');
      }
    }
  }
  if (r.method != "GET" && r.method != "HEAD") {
    if (is_known_method(r.method)) return fail(405, "method not allowed");
    return fail(501, "method not implemented");
  }
  if (too_large || length > limits_.max_body) return fail(413, "request body too large");
  r.content_length = length;
  body_left_ = length;
  return State::complete;
}

}  // namespace ustack::http
