// Fuzzes the HTTP/1.1 response parser, ResponseParser, as http-get feeds it: whatever a server
// sends, in whatever pieces the connection delivers it, then the close.
//
// Input format:
//   u8 mode; the bytes of the response.
// mode bit 0: the request was HEAD; bit 1: small limits (so the limit paths are reached);
// bits 2-7: the size of the pieces the bytes are fed in (1 to 64).
//
// Checks, beyond "no crash, no hang, no sanitizer report": feed() never claims more bytes than
// it was given, makes progress until done, and stops consuming once done; the sink sees exactly
// body_bytes(); a complete Content-Length body has that length; and feeding in pieces gives the
// same result, body and error as feeding everything at once.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "apps/http/response.h"

using ustack::http::Framing;
using ustack::http::ResponseLimits;
using ustack::http::ResponseParser;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  bool complete;
  bool failed;
  std::string error;
  std::string body;
  int status;
};

Outcome run(std::string_view input, std::size_t piece, bool head, const ResponseLimits& limits) {
  ResponseParser parser(head, limits);
  std::string body;
  const ustack::http::BodySink sink = [&](std::string_view bytes) {
    check(!bytes.empty());
    body.append(bytes);
    return true;
  };
  while (!input.empty() && !parser.done()) {
    std::string_view rest = input.substr(0, piece);
    input.remove_prefix(rest.size());
    while (!rest.empty() && !parser.done()) {
      const std::size_t used = parser.feed(rest, sink);
      check(used <= rest.size());
      check(used > 0 || parser.done());
      rest.remove_prefix(used);
    }
  }
  if (parser.done()) {
    const std::uint64_t before = parser.body_bytes();
    check(parser.feed("HTTP/1.1 200 OK\r\n\r\n", sink) == 0);
    check(parser.body_bytes() == before);
  } else {
    parser.finish();
    check(parser.done());
  }
  check(parser.body_bytes() == body.size());
  check(parser.complete() != parser.failed());
  check(parser.failed() == !parser.error().empty());
  const auto& r = parser.response();
  if (parser.complete()) {
    check(r.status >= 200 && r.status <= 599);
    if (r.framing == Framing::content_length) check(body.size() == r.content_length);
    if (r.framing == Framing::none) check(body.empty());
  }
  return {parser.complete(), parser.failed(), parser.error(), body, r.status};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  const bool head = (mode & 1) != 0;
  ResponseLimits limits;
  if ((mode & 2) != 0) {
    limits = {.max_line = 40,
              .max_header_bytes = 120,
              .max_fields = 3,
              .max_trailer_bytes = 60,
              .max_interim_responses = 2};
  }
  const std::size_t piece = 1 + (mode >> 2);
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const Outcome whole = run(input, input.size() + 1, head, limits);
  const Outcome pieces = run(input, piece, head, limits);
  check(whole.complete == pieces.complete && whole.failed == pieces.failed);
  check(whole.error == pieces.error && whole.body == pieces.body && whole.status == pieces.status);
  return 0;
}
