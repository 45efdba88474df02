// An incremental HTTP/1.1 response parser (RFC 9112): status line, header section, and the
// body framed as RFC 9112 6.3 says, in its order. Bytes come in as the connection delivers them,
// split anywhere; body bytes go to a sink as they arrive, so a body is never held whole.
//
//   ResponseParser parser(/*head_request=*/false);
//   while (!parser.done()) {
//     n = recv(...);
//     if (n == 0) { parser.finish(); break; }
//     for (std::string_view rest(buf, n); !rest.empty() && !parser.done();)
//       rest.remove_prefix(parser.feed(rest, sink));
//   }
//   if (parser.failed()) ... parser.error()
//
// feed() pauses once the header section is complete, so the caller can look at the status and
// fields before it chooses where the body goes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ustack::http {

struct Field {
  std::string name;   // as received
  std::string value;  // without leading and trailing whitespace
};

// How the body's end is found (RFC 9112 6.3).
enum class Framing { none, content_length, chunked, until_close };

struct Response {
  int version_minor = 1;  // HTTP/1.0 or HTTP/1.1
  int status = 0;
  std::string reason;
  std::vector<Field> fields;
  Framing framing = Framing::none;
  std::uint64_t content_length = 0;  // with Framing::content_length

  // The first field of that name (compared case-insensitively, RFC 9110 5.1).
  const std::string* field(std::string_view name) const;
};

// Bounds on what a hostile or broken server can make the parser keep in memory.
struct ResponseLimits {
  std::size_t max_line = 8 * 1024;           // status line, field line, chunk-size line
  std::size_t max_header_bytes = 64 * 1024;  // the whole header section
  std::size_t max_fields = 100;
  std::size_t max_trailer_bytes = 16 * 1024;  // chunked trailer section
  std::size_t max_interim_responses = 16;     // 1xx before the final response
};

// Receives body bytes in order; returning false stops the parse (failed(), "body sink refused").
using BodySink = std::function<bool(std::string_view)>;

class ResponseParser {
 public:
  // A response to HEAD has no body whatever its fields say (RFC 9112 6.3 rule 1).
  explicit ResponseParser(bool head_request = false, ResponseLimits limits = {});

  // Consumes bytes from `data` and returns how many. Stops early when the header section of the
  // final response is complete (headers_complete() turns true), when the message is complete,
  // or on an error; then the remaining bytes are not consumed.
  std::size_t feed(std::string_view data, const BodySink& sink);
  // The connection closed: ends a body delimited by the close; anything else still open is a
  // truncated response and fails.
  void finish();

  bool headers_complete() const { return state_ >= State::body; }
  bool complete() const { return state_ == State::complete; }
  bool failed() const { return state_ == State::failed; }
  bool done() const { return complete() || failed(); }
  const std::string& error() const { return error_; }
  const Response& response() const { return response_; }
  // Body bytes handed to the sink so far (after chunked decoding).
  std::uint64_t body_bytes() const { return body_bytes_; }

 private:
  enum class State {
    status_line,
    fields,
    body,  // every state from here on has the header section complete
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailers,
    complete,
    failed,
  };

  // Takes bytes up to a line end into line_; true when a whole line is there (line_ then holds
  // it without CR LF). Fails when the line grows past max_line.
  bool take_line(std::string_view data, std::size_t& used);
  bool fail(std::string message);
  bool on_status_line();
  bool on_field_line(std::vector<Field>& into, std::size_t& section_bytes, std::size_t max_bytes);
  bool on_header_section_end();
  bool choose_framing();
  bool on_chunk_size_line();
  bool deliver(std::string_view bytes, const BodySink& sink);

  bool head_request_;
  ResponseLimits limits_;
  State state_ = State::status_line;
  std::string error_;
  Response response_;
  std::string line_;
  std::size_t header_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t interim_responses_ = 0;
  std::vector<Field> trailers_;
  std::uint64_t remaining_ = 0;  // Content-Length or current chunk bytes still to come
  std::uint64_t body_bytes_ = 0;
};

}  // namespace ustack::http
