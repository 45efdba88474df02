#include "apps/http/url.h"

#include <fmt/format.h>

#include <charconv>

namespace ustack::http {
namespace {

// The five components of RFC 3986 Appendix B, each absent or present (possibly empty).
struct Components {
  std::optional<std::string_view> scheme;
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
};

// The regular expression of RFC 3986 Appendix B, by hand:
//   ^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?
Components split(std::string_view text) {
  Components c;
  text = text.substr(0, text.find('#'));  // the fragment stays with the user agent (3.5)
  const auto colon = text.find_first_of(":/?");
  if (colon != std::string_view::npos && colon > 0 && text[colon] == ':') {
    c.scheme = text.substr(0, colon);
    text.remove_prefix(colon + 1);
  }
  if (text.starts_with("//")) {
    text.remove_prefix(2);
    const auto end = text.find_first_of("/?");
    c.authority = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end);
  }
  const auto question = text.find('?');
  c.path = text.substr(0, question);
  if (question != std::string_view::npos) c.query = text.substr(question + 1);
  return c;
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), compared case-insensitively.
std::string lower_scheme(std::string_view scheme) {
  std::string out;
  for (char c : scheme) {
    const bool ok =
        is_alpha(c) || (!out.empty() && (is_digit(c) || c == '+' || c == '-' || c == '.'));
    if (!ok) return {};
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

bool check_scheme(std::optional<std::string_view> scheme, std::string& error) {
  if (!scheme) {
    error = "not an absolute URL: give it as http://ADDRESS[:PORT]/PATH";
    return false;
  }
  const std::string name = lower_scheme(*scheme);
  if (name == "http") return true;
  if (name == "https") {
    error = "https is not supported: ustack has no TLS (use http://)";
  } else {
    error = fmt::format("unsupported scheme \"{}\": only http:// URLs", *scheme);
  }
  return false;
}

// The bytes a path or query may carry as they are (RFC 3986 3.3, 3.4): unreserved, sub-delims,
// ":", "@", "/", "?", and "%" opening a pct-encoded triplet.
bool is_uri_char(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':  // unreserved
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':  // sub-delims
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
    case '?':
      return true;
    default:
      return false;
  }
}

// Copies a path or query for the request line. Bytes a URI may not hold but a request-target
// can carry once percent-encoded (space, non-ASCII, "<" ...) are encoded, as browsers do with
// what users type and servers send; control bytes and a "%" that opens no triplet are refused.
std::optional<std::string> encode_component(std::string_view text, std::string& error) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      error = fmt::format("URL holds a control character (0x{:02x})", byte);
      return std::nullopt;
    }
    if (c == '%') {
      if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) {
        error = "URL holds a \"%\" that is not followed by two hex digits (write it as %25)";
        return std::nullopt;
      }
      out += c;
    } else if (is_uri_char(c)) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return std::uint16_t{80};  // RFC 3986 3.2.3: an empty port is the default
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535 ||
      !is_digit(text.front())) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

bool parse_authority(std::optional<std::string_view> authority, Url& url, std::string& error) {
  if (!authority || authority->empty()) {
    error = "URL has no host";
    return false;
  }
  if (authority->find('@') != std::string_view::npos) {
    error = "user names and passwords in URLs are not supported";
    return false;
  }
  std::string_view host = *authority;
  std::string_view port;
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  const auto address = Ipv4Address::parse(host);
  if (!address) {
    error = fmt::format("only literal IPv4 hosts: ustack has no DNS (got \"{}\")", host);
    return false;
  }
  const auto number = parse_port(port);
  if (!number) {
    error = fmt::format("invalid port \"{}\" (1 to 65535)", port);
    return false;
  }
  url.host = *address;
  url.port = *number;
  return true;
}

// Sets the path (dot segments removed, "/" when empty) and query, encoded for the request line.
bool set_path_and_query(Url& url, std::string_view path, std::optional<std::string_view> query,
                        std::string& error) {
  auto encoded_path = encode_component(remove_url_dot_segments(path), error);
  if (!encoded_path) return false;
  url.path = encoded_path->empty() ? "/" : std::move(*encoded_path);
  url.query.reset();
  if (query) {
    auto encoded_query = encode_component(*query, error);
    if (!encoded_query) return false;
    url.query = std::move(*encoded_query);
  }
  return true;
}

// RFC 3986 5.2.3, for a base URI that has an authority.
std::string merge(std::string_view base_path, std::string_view reference_path) {
  const auto slash = base_path.rfind('/');
  if (slash == std::string_view::npos) return "/" + std::string(reference_path);
  return std::string(base_path.substr(0, slash + 1)) + std::string(reference_path);
}

}  // namespace

std::string Url::target() const {
  return query ? path + "?" + *query : path;
}

std::string Url::authority() const {
  return port == 80 ? fmt::format("{}", host) : fmt::format("{}:{}", host, port);
}

std::string Url::to_string() const {
  return "http://" + authority() + target();
}

std::optional<Url> parse_url(std::string_view text, std::string& error) {
  const Components c = split(text);
  Url url;
  if (!check_scheme(c.scheme, error) || !parse_authority(c.authority, url, error) ||
      !set_path_and_query(url, c.path, c.query, error)) {
    return std::nullopt;
  }
  return url;
}

std::optional<Url> resolve_url(const Url& base, std::string_view reference, std::string& error) {
  const Components r = split(reference);
  if (r.scheme) return parse_url(reference, error);
  if (r.authority) return parse_url("http:" + std::string(reference), error);
  Url url = base;
  bool ok;
  if (r.path.empty()) {
    // Only the query (or nothing) changes: the base path stays as it is.
    ok = r.query ? set_path_and_query(url, base.path, r.query, error) : true;
  } else if (r.path.front() == '/') {
    ok = set_path_and_query(url, r.path, r.query, error);
  } else {
    ok = set_path_and_query(url, merge(base.path, r.path), r.query, error);
  }
  if (!ok) return std::nullopt;
  return url;
}

std::string remove_url_dot_segments(std::string_view path) {
  std::string_view in = path;
  std::string out;
  // Each pass removes at least one byte from `in` (RFC 3986 5.2.4 step 2).
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const auto slash = out.rfind('/');
      out.erase(slash == std::string::npos ? 0 : slash);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const auto next = in.find('/', 1);
      const std::string_view segment = in.substr(0, next);
      out += segment;
      in.remove_prefix(segment.size());
    }
  }
  return out;
}

}  // namespace ustack::http
