// http:// URLs for http-get: parsing what the user typed and resolving a redirect's Location
// against the URL it answered (RFC 3986). ustack has no resolver, so the host must be a literal
// IPv4 address; https is out of reach (no TLS).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stack/wire/address.h"

namespace ustack::http {

struct Url {
  Ipv4Address host;
  std::uint16_t port = 80;
  // Absolute path ("/" when the URL had none) with its dot segments removed (RFC 3986 5.2.4),
  // still percent-encoded as it came.
  std::string path = "/";
  // Without the "?"; absent and empty differ ("http://h/p" and "http://h/p?").
  std::optional<std::string> query;

  // The request-target in origin-form (RFC 9112 3.2.1): path and query.
  std::string target() const;
  // The Host field value (RFC 9110 7.2): the port only when it is not the default 80.
  std::string authority() const;
  // "http://" authority target.
  std::string to_string() const;

  bool operator==(const Url&) const = default;
};

// Parses an absolute http URL. On failure returns nothing and sets `error` to a message for the
// user (https, a host name, a bad port, a character a request-target cannot carry). A fragment
// is dropped: it never goes to the server (RFC 3986 3.5).
std::optional<Url> parse_url(std::string_view text, std::string& error);

// Resolves a URI reference (a Location field value) against `base`, RFC 3986 5.2.2; the result
// must again be an http URL with a literal IPv4 host.
std::optional<Url> resolve_url(const Url& base, std::string_view reference, std::string& error);

// RFC 3986 5.2.4 (the server side has its own, for file paths, in path.h).
std::string remove_url_dot_segments(std::string_view path);

}  // namespace ustack::http
