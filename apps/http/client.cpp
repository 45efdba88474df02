#include "apps/http/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "stack/socket/socket_api.h"

namespace ustack::http {
namespace {

constexpr std::size_t kReceiveBuffer = 64 * 1024;

std::string seconds_text(std::chrono::milliseconds d) {
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

// One connection: its socket, closed on every way out.
class Connection {
 public:
  Connection(SocketApi& api, const FetchOptions& options) : api_(api), options_(options) {}
  ~Connection() {
    if (fd_ < 0) return;
    if (options_.cancel) {
      options_.cancel->close(api_, fd_);
    } else {
      api_.close(fd_);
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool open(const Url& url, std::string& error) {
    const std::string peer = fmt::format("{}:{}", url.host, url.port);
    const int fd = api_.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      error = fmt::format("socket: {}", std::strerror(errno));
      return false;
    }
    if (options_.cancel && !options_.cancel->attach(api_, fd)) {
      error = "cancelled";
      return false;
    }
    fd_ = fd;
    if (options_.timeout.count() > 0) {
      const auto ms = options_.timeout.count();
      timeval tv{};
      tv.tv_sec = static_cast<time_t>(ms / 1000);
      tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
      if (api_.setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
          api_.setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        error = fmt::format("setting the socket timeouts: {}", std::strerror(errno));
        return false;
      }
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(url.port);
    to.sin_addr.s_addr = htonl(url.host.to_u32());
    if (api_.connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) return true;
    const int e = errno;
    if (cancelled()) {
      error = "cancelled";
    } else if (e == EINPROGRESS || e == ETIMEDOUT) {
      // A blocking connect that SO_SNDTIMEO cut short says EINPROGRESS (as Linux).
      error =
          fmt::format("connecting to {} timed out after {}", peer, seconds_text(options_.timeout));
    } else if (e == ECONNREFUSED) {
      error = fmt::format("connection refused by {}", peer);
    } else {
      error = fmt::format("connecting to {}: {}", peer, std::strerror(e));
    }
    return false;
  }

  bool send_all(std::string_view data, std::string& error) {
    while (!data.empty()) {
      const ssize_t n = api_.send(fd_, data.data(), data.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = describe_errno("sending the request", errno);
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // recv: bytes, 0 at end of stream, -1 with errno.
  ssize_t receive(char* buf, std::size_t size) {
    while (true) {
      const ssize_t n = api_.recv(fd_, buf, size, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }

  std::string describe_errno(std::string_view doing, int e) const {
    if (cancelled()) return "cancelled";
    if (e == EAGAIN || e == EWOULDBLOCK) {
      return fmt::format("{}: timed out (nothing for {})", doing, seconds_text(options_.timeout));
    }
    if (e == ECONNRESET) return fmt::format("{}: the connection was reset by the server", doing);
    return fmt::format("{}: {}", doing, std::strerror(e));
  }

 private:
  bool cancelled() const { return options_.cancel && options_.cancel->cancelled(); }

  SocketApi& api_;
  const FetchOptions& options_;
  int fd_ = -1;
};

void trace(const FetchOptions& options, std::string_view line) {
  if (options.trace) options.trace(line);
}

// One request and its response. When the response is a redirect that will be followed,
// `location` is set and the body is left unread.
struct Exchange {
  bool ok = false;
  std::string error;
  Response response;
  std::uint64_t body_bytes = 0;
  std::optional<std::string> location;
};

Exchange exchange(SocketApi& api, const Url& url, const FetchOptions& options,
                  const BodySink& sink) {
  Exchange result;
  Connection connection(api, options);
  trace(options, fmt::format("connecting to {}:{}", url.host, url.port));
  if (!connection.open(url, result.error)) return result;
  trace(options, fmt::format("GET {} HTTP/1.1", url.target()));
  if (!connection.send_all(build_request(url), result.error)) return result;

  ResponseParser parser;
  std::vector<char> buf(kReceiveBuffer);
  while (!parser.done()) {
    const ssize_t n = connection.receive(buf.data(), buf.size());
    if (n < 0) {
      const int e = errno;
      result.error =
          parser.headers_complete()
              ? connection.describe_errno(
                    fmt::format("receiving the body (after {} bytes)", parser.body_bytes()), e)
              : connection.describe_errno("waiting for the response", e);
      result.body_bytes = parser.body_bytes();
      result.response = parser.response();
      return result;
    }
    if (n == 0) {
      parser.finish();
      break;
    }
    std::string_view rest(buf.data(), static_cast<std::size_t>(n));
    while (!rest.empty() && !parser.done()) {
      const bool had_headers = parser.headers_complete();
      rest.remove_prefix(parser.feed(rest, sink));
      if (had_headers || !parser.headers_complete()) continue;
      const Response& r = parser.response();
      trace(options, fmt::format("HTTP/1.{} {} {}", r.version_minor, r.status, r.reason));
      const std::string* location = r.field("Location");
      if (is_redirect(r.status) && location) {
        // With "Connection: close" the connection ends here; its body is of no use.
        result.ok = true;
        result.response = r;
        result.location = *location;
        return result;
      }
    }
  }
  result.response = parser.response();
  result.body_bytes = parser.body_bytes();
  result.ok = parser.complete();
  if (!result.ok) result.error = parser.error();
  return result;
}

}  // namespace

void FetchCancel::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (fd_ >= 0) api_->close(fd_);
  fd_ = -1;
}

bool FetchCancel::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

bool FetchCancel::attach(SocketApi& api, int fd) {
  std::lock_guard lock(mutex_);
  if (cancelled_) {
    api.close(fd);
    return false;
  }
  api_ = &api;
  fd_ = fd;
  return true;
}

void FetchCancel::close(SocketApi& api, int fd) {
  std::lock_guard lock(mutex_);
  if (fd_ != fd) return;  // cancel() closed it
  api.close(fd);
  fd_ = -1;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string build_request(const Url& url) {
  return fmt::format(
      "GET {} HTTP/1.1\r\n"
      "Host: {}\r\n"
      "User-Agent: {}\r\n"
      "Accept: */*\r\n"
      "Connection: close\r\n"
      "\r\n",
      url.target(), url.authority(), kUserAgent);
}

FetchResult fetch(SocketApi& api, const Url& url, const FetchOptions& options,
                  const BodySink& sink) {
  FetchResult result;
  result.final_url = url;
  // Bounded: each pass follows one redirect, and there are at most max_redirects of them.
  while (true) {
    Exchange e = exchange(api, result.final_url, options, sink);
    result.status = e.response.status;
    result.reason = e.response.reason;
    result.version_minor = e.response.version_minor;
    result.body_bytes = e.body_bytes;
    if (!e.ok) {
      result.error = std::move(e.error);
      return result;
    }
    if (!e.location) {
      result.ok = true;
      return result;
    }
    if (result.redirects >= options.max_redirects) {
      result.error = fmt::format("too many redirects (more than {}); the last went to \"{}\"",
                                 options.max_redirects, *e.location);
      return result;
    }
    std::string error;
    const auto next = resolve_url(result.final_url, *e.location, error);
    if (!next) {
      result.error = fmt::format("cannot follow the redirect to \"{}\": {}", *e.location, error);
      return result;
    }
    ++result.redirects;
    result.final_url = *next;
    trace(options, fmt::format("redirected to {}", result.final_url.to_string()));
  }
}

}  // namespace ustack::http
