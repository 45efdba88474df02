#include "apps/http/response.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace ustack::http {
namespace {

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 9110 5.6.2: tchar.
bool is_tchar(char c) {
  if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// A control byte other than HTAB: invalid in a field value or reason phrase (RFC 9110 5.5; CR,
// LF and NUL are dangerous, the rest this client refuses as well). obs-text (0x80-0xff) is fine.
bool is_forbidden_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte < 0x20 && c != '\t') || byte == 0x7f;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// The elements of a comma-separated list (RFC 9110 5.6.1), empty elements skipped.
template <typename Visit>
void for_each_element(std::string_view list, Visit visit) {
  while (true) {
    const auto comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty()) visit(element);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// 1*DIGIT without overflow.
std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kMaxU64 - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// What follows the chunk size (RFC 9112 7.1.1):
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-val = token / quoted-string
// Extensions are checked and ignored, as RFC 9112 7.1.1 asks of recipients.
bool valid_chunk_extensions(std::string_view s) {
  std::size_t i = 0;
  auto skip_ows = [&] {
    while (i < s.size() && is_ows(s[i])) ++i;
  };
  auto token = [&] {
    const std::size_t start = i;
    while (i < s.size() && is_tchar(s[i])) ++i;
    return i > start;
  };
  auto quoted_string = [&] {
    if (i >= s.size() || s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"') {
        ++i;
        return true;
      }
      if (c == '\\') {
        ++i;
        if (i >= s.size() || is_forbidden_control(s[i])) return false;
      } else if (is_forbidden_control(c)) {
        return false;
      }
    }
    return false;
  };
  while (true) {
    skip_ows();
    if (i == s.size()) return true;  // trailing whitespace after the size is tolerated
    if (s[i] != ';') return false;
    ++i;
    skip_ows();
    if (!token()) return false;
    skip_ows();
    if (i < s.size() && s[i] == '=') {
      ++i;
      skip_ows();
      if (!token() && !quoted_string()) return false;
    }
  }
}

}  // namespace

const std::string* Response::field(std::string_view name) const {
  for (const Field& f : fields) {
    if (equal_ignoring_case(f.name, name)) return &f.value;
  }
  return nullptr;
}

ResponseParser::ResponseParser(bool head_request, ResponseLimits limits)
    : head_request_(head_request), limits_(limits) {}

bool ResponseParser::fail(std::string message) {
  state_ = State::failed;
  error_ = std::move(message);
  line_.clear();
  return false;
}

bool ResponseParser::take_line(std::string_view data, std::size_t& used) {
  const std::string_view rest = data.substr(used);
  const auto lf = rest.find('\n');
  const std::size_t take = lf == std::string_view::npos ? rest.size() : lf;
  // +1: room for the CR that may precede the LF.
  if (line_.size() + take > limits_.max_line + 1) {
    return fail(fmt::format("a line of the response is longer than {} bytes", limits_.max_line));
  }
  line_.append(rest.substr(0, take));
  used += lf == std::string_view::npos ? take : take + 1;
  if (lf == std::string_view::npos) return false;
  // RFC 9112 2.2: a lone LF may end a line; a CR is only part of the line end right before it.
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (line_.find('\r') != std::string::npos) return fail("bare CR in the response");
  return true;
}

std::size_t ResponseParser::feed(std::string_view data, const BodySink& sink) {
  std::size_t used = 0;
  while (used < data.size() && !done()) {
    switch (state_) {
      case State::status_line:
        if (take_line(data, used)) on_status_line();
        break;
      case State::fields:
        if (!take_line(data, used)) break;
        if (line_.empty()) {
          on_header_section_end();
          // Pause so that the caller sees the header section before any body byte.
          if (headers_complete()) return used;
        } else {
          on_field_line(response_.fields, header_bytes_, limits_.max_header_bytes);
        }
        break;
      case State::body: {
        std::size_t n = data.size() - used;
        if (response_.framing == Framing::content_length) {
          n = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
          remaining_ -= n;
        }
        if (!deliver(data.substr(used, n), sink)) break;
        used += n;
        if (response_.framing == Framing::content_length && remaining_ == 0) {
          state_ = State::complete;
        }
        break;
      }
      case State::chunk_size:
        if (take_line(data, used)) on_chunk_size_line();
        break;
      case State::chunk_data: {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(data.size() - used, remaining_));
        if (!deliver(data.substr(used, n), sink)) break;
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::chunk_data_end;
        break;
      }
      case State::chunk_data_end:
        if (!take_line(data, used)) break;
        if (!line_.empty()) {
          fail("chunk data is longer than its chunk size says");
          break;
        }
        line_.clear();
        state_ = State::chunk_size;
        break;
      case State::trailers:
        if (!take_line(data, used)) break;
        if (line_.empty()) {
          state_ = State::complete;
        } else {
          on_field_line(trailers_, trailer_bytes_, limits_.max_trailer_bytes);
        }
        break;
      case State::complete:
      case State::failed:
        break;
    }
  }
  return used;
}

void ResponseParser::finish() {
  switch (state_) {
    case State::status_line:
      fail(line_.empty() && interim_responses_ == 0
               ? "the server closed the connection without sending a response"
               : "the connection closed in the middle of the status line");
      break;
    case State::fields:
      fail("the connection closed before the end of the response header section");
      break;
    case State::body:
      if (response_.framing == Framing::until_close) {
        state_ = State::complete;
      } else {
        fail(fmt::format("truncated body: the connection closed after {} of {} bytes", body_bytes_,
                         response_.content_length));
      }
      break;
    case State::chunk_size:
    case State::chunk_data:
    case State::chunk_data_end:
    case State::trailers:
      fail(fmt::format(
          "truncated chunked body: the connection closed after {} bytes, before the last chunk",
          body_bytes_));
      break;
    case State::complete:
    case State::failed:
      break;
  }
}

// RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
bool ResponseParser::on_status_line() {
  const std::string_view line = line_;
  if (!line.starts_with("HTTP/") || line.size() < 12 || !is_digit(line[5]) || line[6] != '.' ||
      !is_digit(line[7]) || line[8] != ' ') {
    return fail("not an HTTP/1.x response (bad status line)");
  }
  if (line[5] != '1') return fail(fmt::format("unsupported HTTP version {}", line.substr(0, 8)));
  const std::string_view code = line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), is_digit) || code[0] < '1' || code[0] > '5') {
    return fail("invalid status code in the status line");
  }
  // The SP before an empty reason is sometimes left out; accept the line without it.
  if (line.size() > 12 && line[12] != ' ') return fail("invalid status code in the status line");
  const std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  if (std::any_of(reason.begin(), reason.end(), is_forbidden_control)) {
    return fail("control character in the reason phrase");
  }
  response_.version_minor = line[7] - '0';
  response_.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  response_.reason = reason;
  header_bytes_ = line.size() + 2;
  line_.clear();
  state_ = State::fields;
  return true;
}

// RFC 9112 5: field-line = field-name ":" OWS field-value OWS
bool ResponseParser::on_field_line(std::vector<Field>& into, std::size_t& section_bytes,
                                   std::size_t max_bytes) {
  const std::string_view line = line_;
  section_bytes += line.size() + 2;
  if (section_bytes > max_bytes) {
    return fail(
        fmt::format("the response's header or trailer section is larger than {} bytes", max_bytes));
  }
  if (is_ows(line.front())) {
    // obs-fold (RFC 9112 5.2): a user agent replaces it with SP and keeps the value.
    if (into.empty()) return fail("a field line starts with whitespace");
    const std::string_view more = trim_ows(line);
    if (std::any_of(more.begin(), more.end(), is_forbidden_control)) {
      return fail("control character in a field value");
    }
    if (!more.empty()) into.back().value.append(" ").append(more);
    line_.clear();
    return true;
  }
  const auto colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  if (colon == std::string_view::npos || name.empty() ||
      !std::all_of(name.begin(), name.end(), is_tchar)) {
    // Whitespace before the colon included: RFC 9112 5.1 makes that a hard error.
    return fail("invalid field line in the response");
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), is_forbidden_control)) {
    return fail("control character in a field value");
  }
  if (into.size() >= limits_.max_fields) {
    return fail(fmt::format("the response has more than {} fields", limits_.max_fields));
  }
  into.push_back({std::string(name), std::string(value)});
  line_.clear();
  return true;
}

bool ResponseParser::on_header_section_end() {
  line_.clear();
  const int status = response_.status;
  if (status >= 100 && status < 200) {
    if (status == 101) return fail("unexpected 101 Switching Protocols: no upgrade was asked for");
    // An interim response (RFC 9110 15.2): the final one follows on the same connection.
    if (++interim_responses_ > limits_.max_interim_responses) {
      return fail("too many interim (1xx) responses");
    }
    response_ = Response{};
    state_ = State::status_line;
    return true;
  }
  if (!choose_framing()) return false;
  switch (response_.framing) {
    case Framing::none:
      state_ = State::complete;
      break;
    case Framing::content_length:
      remaining_ = response_.content_length;
      state_ = remaining_ == 0 ? State::complete : State::body;
      break;
    case Framing::chunked:
      state_ = State::chunk_size;
      break;
    case Framing::until_close:
      state_ = State::body;
      break;
  }
  return true;
}

// RFC 9112 6.3, rules 1, 3, 4, 5 and 7 in that order (2 and 6 concern CONNECT and requests).
bool ResponseParser::choose_framing() {
  Response& r = response_;
  if (head_request_ || r.status == 204 || r.status == 304) {
    r.framing = Framing::none;
    return true;
  }
  bool has_transfer_encoding = false;
  bool has_content_length = false;
  std::vector<std::string> codings;
  std::optional<std::uint64_t> length;
  bool bad_length = false;
  for (const Field& f : r.fields) {
    if (equal_ignoring_case(f.name, "Transfer-Encoding")) {
      has_transfer_encoding = true;
      for_each_element(f.value, [&](std::string_view coding) { codings.emplace_back(coding); });
    } else if (equal_ignoring_case(f.name, "Content-Length")) {
      has_content_length = true;
      // RFC 9110 8.6: a list of identical values may stand for one; differing ones may not.
      std::size_t elements = 0;
      for_each_element(f.value, [&](std::string_view element) {
        ++elements;
        const auto value = parse_decimal(element);
        if (!value || (length && *length != *value)) bad_length = true;
        if (value) length = value;
      });
      if (elements == 0) bad_length = true;
    }
  }
  if (has_transfer_encoding) {
    if (r.version_minor == 0) {
      return fail("an HTTP/1.0 response with Transfer-Encoding: its framing cannot be trusted");
    }
    if (has_content_length) {
      return fail("the response has both Transfer-Encoding and Content-Length (RFC 9112 6.3)");
    }
    // No TE field was sent, so chunked is the only coding a server may use (RFC 9112 7.4).
    if (codings.size() != 1 || !equal_ignoring_case(codings.front(), "chunked")) {
      std::string list;
      for (const auto& c : codings) list += (list.empty() ? "" : ", ") + c;
      return fail(fmt::format("unsupported Transfer-Encoding \"{}\"", list));
    }
    r.framing = Framing::chunked;
    return true;
  }
  if (has_content_length) {
    if (bad_length || !length) return fail("invalid or conflicting Content-Length");
    r.framing = Framing::content_length;
    r.content_length = *length;
    return true;
  }
  r.framing = Framing::until_close;
  return true;
}

// RFC 9112 7.1: chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG
bool ResponseParser::on_chunk_size_line() {
  const std::string_view line = line_;
  std::uint64_t size = 0;
  std::size_t digits = 0;
  for (; digits < line.size(); ++digits) {
    const int v = hex_value(line[digits]);
    if (v < 0) break;
    if (size > (kMaxU64 >> 4)) return fail("chunk size too large");
    size = (size << 4) | static_cast<std::uint64_t>(v);
  }
  if (digits == 0 || !valid_chunk_extensions(line.substr(digits))) {
    return fail("invalid chunk size line");
  }
  line_.clear();
  if (size == 0) {
    state_ = State::trailers;  // last-chunk; the trailer section and CRLF follow
  } else {
    remaining_ = size;
    state_ = State::chunk_data;
  }
  return true;
}

bool ResponseParser::deliver(std::string_view bytes, const BodySink& sink) {
  if (bytes.empty()) return true;
  body_bytes_ += bytes.size();
  if (sink && !sink(bytes)) return fail("the body could not be stored");
  return true;
}

}  // namespace ustack::http
