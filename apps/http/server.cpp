#include "apps/http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apps/http/date.h"
#include "apps/http/mime.h"
#include "apps/http/path.h"
#include "apps/http/range.h"
#include "stack/base/log.h"
#include "stack/socket/api.h"

namespace ustack::http {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// How often the loop rechecks `stop` and the timeouts when nothing happens.
constexpr int kPollTimeoutMs = 200;
// Bytes read from a socket, or from a file, at a time.
constexpr std::size_t kChunk = 64 * 1024;
// File bytes sent to one connection per wakeup, so one fast reader cannot starve the others.
constexpr std::size_t kSendBudget = 256 * 1024;
// Bodies up to this size are read into the response's buffer and sent with its head.
constexpr std::size_t kInlineBody = 16 * 1024;
// Accepts per wakeup, so a flood of connection attempts cannot starve established connections.
constexpr int kAcceptBurst = 64;
// Connections being refused with 503 at once, beyond max_connections; more are closed at once.
constexpr std::size_t kMaxRefusing = 64;
// What a lingering close reads and discards before it gives up and closes.
constexpr std::size_t kMaxLingerBytes = 1 << 20;

spdlog::logger& access_log() {
  return log::http();
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool would_block(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

enum class Phase { reading, writing, lingering };

struct Connection {
  int fd = -1;
  std::string peer;
  RequestParser parser;
  Phase phase = Phase::reading;
  bool refused = false;  // accepted beyond max_connections, answered with 503
  SteadyTime last_progress;
  std::optional<SteadyTime> request_started;  // first byte of the request being read
  SteadyTime linger_until;
  std::size_t lingered = 0;

  // The response being sent: `out` (head and any in-memory body), then file bytes.
  std::string out;
  std::size_t out_sent = 0;
  std::size_t head_size = 0;
  int file_fd = -1;
  std::uint64_t file_offset = 0;
  std::uint64_t file_left = 0;
  bool close_after = false;

  // For the access log line.
  std::string request_line;
  int status = 0;
  std::uint64_t body_sent = 0;
  SteadyTime response_started;

  explicit Connection(const RequestLimits& limits) : parser(limits) {}
  ~Connection() {
    if (file_fd >= 0) ::close(file_fd);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

std::string peer_name(const sockaddr_in& a) {
  char text[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  return fmt::format("{}:{}", text, ntohs(a.sin_port));
}

int set_nonblocking(int fd) {
  const int flags = ustack::fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  return ustack::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

class Server {
 public:
  Server(int listen_fd, const HttpServerConfig& config, int root_fd)
      : listen_fd_(listen_fd), config_(config), root_fd_(root_fd), scratch_(kChunk) {}

  void run(const std::atomic<bool>* stop);

 private:
  using Clock = std::chrono::steady_clock;

  void accept_new(SteadyTime now);
  // Serves a connection poll reported on; false once it is closed.
  bool serve(Connection& c, short revents, SteadyTime now);
  bool read_request(Connection& c, SteadyTime now);
  // Answers every complete request in the parser until one needs more bytes or the socket's
  // send buffer is full. False once the connection is closed.
  bool answer_requests(Connection& c, SteadyTime now);
  bool write_response(Connection& c, SteadyTime now);
  void finish_response(Connection& c, SteadyTime now);
  bool linger(Connection& c, SteadyTime now);
  bool check_timeouts(Connection& c, SteadyTime now);
  void close_connection(Connection& c);

  void respond_to(Connection& c, const Request& r);
  void respond_with_file(Connection& c, const Request& r, OpenedFile file);
  void start_error(Connection& c, int status, std::string_view detail, bool head_only, bool close);
  void start_response(Connection& c, int status, std::string_view extra_headers,
                      std::uint64_t content_length, bool send_content_length);

  std::size_t active_count() const {
    return static_cast<std::size_t>(std::count_if(connections_.begin(), connections_.end(),
                                                  [](const auto& c) { return !c->refused; }));
  }

  int listen_fd_;
  const HttpServerConfig& config_;
  int root_fd_;  // the document root, O_PATH: every file is opened beneath it
  std::vector<char> scratch_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::int64_t now_seconds_ = 0;  // wall clock of the current wakeup, for Date and 304
};

void Server::run(const std::atomic<bool>* stop) {
  std::vector<pollfd> fds;
  auto stopping = [stop] { return stop != nullptr && stop->load(); };
  while (!stopping()) {
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : connections_) {
      fds.push_back({c->fd, static_cast<short>(c->phase == Phase::writing ? POLLOUT : POLLIN), 0});
    }
    if (ustack::poll(fds.data(), fds.size(), kPollTimeoutMs) < 0) {
      if (errno == EINTR) continue;
      access_log().error("poll: {}", std::strerror(errno));
      break;
    }
    if (stopping() || (fds[0].revents & POLLNVAL) != 0) break;
    const SteadyTime now = Clock::now();
    now_seconds_ = unix_now();

    for (std::size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = *connections_[i];
      const short revents = fds[i + 1].revents;
      const bool open = revents == 0 ? check_timeouts(c, now) : serve(c, revents, now);
      if (!open) c.fd = -1;
    }
    std::erase_if(connections_, [](const auto& c) { return c->fd < 0; });

    if ((fds[0].revents & POLLIN) != 0) accept_new(now);
  }
  for (const auto& c : connections_) close_connection(*c);
}

void Server::accept_new(SteadyTime now) {
  for (int i = 0; i < kAcceptBurst; ++i) {
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    const int fd =
        ustack::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK);
    if (fd < 0) {
      if (!would_block(errno) && errno != ECONNABORTED) {
        access_log().debug("accept: {}", std::strerror(errno));
      }
      return;
    }
    const bool refuse = active_count() >= config_.max_connections;
    if (refuse && connections_.size() >= config_.max_connections + kMaxRefusing) {
      ustack::close(fd);  // even refusing politely has to stay bounded
      continue;
    }
    // Responses are written whole, so Nagle's algorithm could only delay the last segment of
    // each one until the client's delayed acknowledgement.
    const int one = 1;
    ustack::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Connection>(config_.limits);
    c->fd = fd;
    c->peer = peer_name(peer);
    c->last_progress = now;
    if (refuse) {
      c->refused = true;
      c->request_line = "-";
      c->response_started = now;
      start_error(*c, 503, "too many connections, try again later", false, true);
      if (!write_response(*c, now)) continue;
    }
    connections_.push_back(std::move(c));
  }
}

bool Server::serve(Connection& c, short revents, SteadyTime now) {
  if ((revents & POLLNVAL) != 0) return false;
  switch (c.phase) {
    case Phase::reading:
      return read_request(c, now);
    case Phase::writing:
      if (!write_response(c, now)) return false;
      return c.phase != Phase::reading || answer_requests(c, now);
    case Phase::lingering:
      return linger(c, now);
  }
  return false;
}

bool Server::read_request(Connection& c, SteadyTime now) {
  const ssize_t n = ustack::recv(c.fd, scratch_.data(), scratch_.size(), 0);
  if (n == 0) {
    // The client closed. With half a request there is no one left to answer.
    close_connection(c);
    return false;
  }
  if (n < 0) {
    if (would_block(errno)) return check_timeouts(c, now);
    access_log().debug("{}: recv: {}", c.peer, std::strerror(errno));
    close_connection(c);
    return false;
  }
  c.last_progress = now;
  if (!c.request_started) c.request_started = now;
  c.parser.feed(std::string_view(scratch_.data(), static_cast<std::size_t>(n)));
  return answer_requests(c, now);
}

bool Server::answer_requests(Connection& c, SteadyTime now) {
  while (c.phase == Phase::reading) {
    const RequestParser::State state = c.parser.next();
    if (state == RequestParser::State::incomplete) return check_timeouts(c, now);
    c.response_started = now;
    if (state == RequestParser::State::error) {
      // Every parse error closes the connection: what follows can no longer be framed.
      const RequestError& e = c.parser.error();
      const Request& partial = c.parser.request();
      c.request_line = partial.method.empty() ? "-"
                                              : fmt::format("{} {} {}", partial.method,
                                                            partial.target, partial.version_text());
      start_error(c, e.status, e.detail, partial.is_head(), true);
    } else {
      const Request& r = c.parser.request();
      c.request_line = fmt::format("{} {} {}", r.method, r.target, r.version_text());
      respond_to(c, r);
    }
    if (!write_response(c, now)) return false;
  }
  return true;
}

void Server::start_response(Connection& c, int status, std::string_view extra_headers,
                            std::uint64_t content_length, bool send_content_length) {
  c.status = status;
  c.out =
      fmt::format("HTTP/1.1 {} {}\r\nDate: {}\r\nServer: {}\r\n{}", status, reason_phrase(status),
                  format_http_date(now_seconds_), config_.server_name, extra_headers);
  if (send_content_length) c.out += fmt::format("Content-Length: {}\r\n", content_length);
  if (c.close_after) {
    c.out += "Connection: close\r\n";
  } else if (c.parser.request().version_minor == 0) {
    c.out += "Connection: keep-alive\r\n";  // RFC 9112 9.3: HTTP/1.0 persists only if told so
  }
  c.out += "\r\n";
  c.head_size = c.out.size();
  c.out_sent = 0;
  c.body_sent = 0;
  c.phase = Phase::writing;
}

void Server::start_error(Connection& c, int status, std::string_view detail, bool head_only,
                         bool close) {
  c.close_after = close;
  const std::string body = fmt::format("{} {}: {}\n", status, reason_phrase(status), detail);
  std::string extra = "Content-Type: text/plain; charset=utf-8\r\n";
  // RFC 9110 15.5.6: a 405 lists the methods the resource supports.
  if (status == 405) extra += "Allow: GET, HEAD\r\n";
  start_response(c, status, extra, body.size(), true);
  if (!head_only) c.out += body;
}

void Server::respond_to(Connection& c, const Request& r) {
  c.close_after = !r.keep_alive;
  const NormalizedPath normalized = normalize_path(r.path);
  if (!normalized.ok) {
    start_error(c, 400, normalized.error, r.is_head(), c.close_after);
    return;
  }
  OpenedFile file = open_file(root_fd_, normalized.path);
  switch (file.status) {
    case FileStatus::ok:
      respond_with_file(c, r, std::move(file));
      return;
    case FileStatus::not_found:
      start_error(c, 404, "no such file", r.is_head(), c.close_after);
      return;
    case FileStatus::forbidden:
      start_error(c, 403, "not served", r.is_head(), c.close_after);
      return;
    case FileStatus::is_directory_without_slash: {
      // Relative links in the directory's index.html resolve against the URL with its '/'.
      std::string location = r.path + "/";
      if (!r.query.empty()) location += "?" + r.query;
      const std::string body = "301 Moved Permanently: " + location + "\n";
      start_response(
          c, 301,
          fmt::format("Location: {}\r\nContent-Type: text/plain; charset=utf-8\r\n", location),
          body.size(), true);
      if (!r.is_head()) c.out += body;
      return;
    }
  }
}

void Server::respond_with_file(Connection& c, const Request& r, OpenedFile file) {
  const std::string& path = file.path;
  const struct stat& st = file.st;
  const int fd = file.release();
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // RFC 9110 8.8.2.1: never a Last-Modified later than the response's Date.
  const std::int64_t modified = std::min<std::int64_t>(st.st_mtim.tv_sec, now_seconds_);
  const std::string validators =
      fmt::format("Last-Modified: {}\r\nAccept-Ranges: bytes\r\n", format_http_date(modified));

  // RFC 9110 13.2.2: If-Modified-Since (ignored beside If-None-Match, 13.1.3) before Range.
  if (!r.header("if-none-match")) {
    if (const auto since = r.header("if-modified-since")) {
      const auto when = parse_http_date(*since, now_seconds_);
      if (when && modified <= *when) {
        ::close(fd);
        start_response(c, 304, validators, 0, false);
        return;
      }
    }
  }

  ByteRange range;
  // RFC 9110 14.2: range handling is defined for GET only.
  if (const auto value = r.header("range"); value && r.method == "GET") {
    bool honour = true;
    // RFC 9110 13.1.5: with If-Range, the range applies only if the validator still matches.
    // This server has no entity tags, so only a date equal to Last-Modified matches.
    if (const auto if_range = r.header("if-range")) {
      const auto when = parse_http_date(*if_range, now_seconds_);
      honour = when && *when == modified;
    }
    if (honour) range = parse_range(*value, size);
  }
  const std::string type = fmt::format("Content-Type: {}\r\n", content_type_for(path));
  switch (range.kind) {
    case ByteRange::Kind::unsatisfiable: {
      ::close(fd);
      const std::string body = "416 Range Not Satisfiable\n";
      start_response(c, 416,
                     fmt::format("Content-Range: bytes */{}\r\nContent-Type: text/plain; "
                                 "charset=utf-8\r\n{}",
                                 size, validators),
                     body.size(), true);
      c.out += body;
      return;
    }
    case ByteRange::Kind::satisfiable:
      start_response(c, 206,
                     fmt::format("{}Content-Range: bytes {}-{}/{}\r\n{}", type, range.first,
                                 range.last, size, validators),
                     range.size(), true);
      c.file_offset = range.first;
      c.file_left = range.size();
      break;
    case ByteRange::Kind::none:
      start_response(c, 200, type + validators, size, true);
      c.file_offset = 0;
      c.file_left = size;
      break;
  }
  if (!r.is_head() && c.file_left > 0 && c.file_left <= kInlineBody) {
    // A small body goes out with its head in one send: one segment instead of two, the second
    // of which Nagle's algorithm would hold until the first is acknowledged.
    const std::size_t head = c.out.size();
    c.out.resize(head + static_cast<std::size_t>(c.file_left));
    const ssize_t got = ::pread(fd, c.out.data() + head, static_cast<std::size_t>(c.file_left),
                                static_cast<off_t>(c.file_offset));
    if (got == static_cast<ssize_t>(c.file_left)) {
      c.file_left = 0;
    } else {
      c.out.resize(head);  // short read: stream it, and fail there as for any file
    }
  }
  if (r.is_head() || c.file_left == 0) {
    ::close(fd);
    c.file_left = 0;
  } else {
    c.file_fd = fd;
  }
}

bool Server::write_response(Connection& c, SteadyTime now) {
  // The last bytes of a response before the connection closes go with MSG_MORE, so that the
  // FIN finish_response sends next shares their segment. Sent apart, the client often reads
  // the response and closes first, and the TIME-WAIT lands on its side, where a client
  // opening connection after connection runs out of ports.
  const bool fin_follows = c.close_after;
  while (c.out_sent < c.out.size()) {
    const int more = fin_follows && c.file_left == 0 ? MSG_MORE : 0;
    const ssize_t n =
        ustack::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, more);
    if (n < 0) {
      if (would_block(errno)) return true;
      access_log().debug("{}: send: {}", c.peer, std::strerror(errno));
      close_connection(c);
      return false;
    }
    c.out_sent += static_cast<std::size_t>(n);
    c.last_progress = now;
  }
  std::size_t budget = kSendBudget;
  while (c.file_left > 0 && budget > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>({c.file_left, scratch_.size(), budget}));
    const ssize_t got =
        ::pread(c.file_fd, scratch_.data(), want, static_cast<off_t>(c.file_offset));
    if (got <= 0) {
      // The file shrank or failed under us: the promised length cannot be kept, so the
      // connection must end for the client to notice (RFC 9112 8).
      if (got < 0 && errno == EINTR) continue;
      access_log().warn("{}: reading file: {}", c.peer, got < 0 ? std::strerror(errno) : "EOF");
      close_connection(c);
      return false;
    }
    // Bytes read but not accepted by send are read again next time; the page cache makes that
    // cheap, and it spares a buffer per connection.
    const int more = fin_follows && static_cast<std::uint64_t>(got) == c.file_left ? MSG_MORE : 0;
    const ssize_t n = ustack::send(c.fd, scratch_.data(), static_cast<std::size_t>(got), more);
    if (n < 0) {
      if (would_block(errno)) return true;
      access_log().debug("{}: send: {}", c.peer, std::strerror(errno));
      close_connection(c);
      return false;
    }
    const auto sent = static_cast<std::size_t>(n);
    c.file_offset += sent;
    c.file_left -= sent;
    c.body_sent += sent;
    budget -= std::min(budget, sent);
    c.last_progress = now;
    if (sent < static_cast<std::size_t>(got)) return true;
  }
  if (c.file_left > 0) return true;  // budget spent; poll says when to go on
  finish_response(c, now);
  return true;
}

void Server::finish_response(Connection& c, SteadyTime now) {
  // The FIN first, before the log line, while it can still join the last data (MSG_MORE).
  if (c.close_after) ustack::shutdown(c.fd, SHUT_WR);
  const std::uint64_t body = c.body_sent + (c.out.size() - c.head_size);
  const auto ms =
      std::chrono::duration<double, std::milli>(Clock::now() - c.response_started).count();
  access_log().info("{} \"{}\" {} {} {:.3f}ms", c.peer, c.request_line, c.status, body, ms);
  if (c.file_fd >= 0) {
    ::close(c.file_fd);
    c.file_fd = -1;
  }
  c.out.clear();
  c.out_sent = c.head_size = 0;
  if (c.close_after) {
    c.phase = Phase::lingering;
    c.linger_until = now + config_.linger_timeout;
    return;
  }
  c.parser.reset();
  c.phase = Phase::reading;
  // A pipelined request already begun is timed from now, not from when it arrived.
  c.request_started = c.parser.started() ? std::optional<SteadyTime>(now) : std::nullopt;
  c.last_progress = now;
}

bool Server::linger(Connection& c, SteadyTime now) {
  const ssize_t n = ustack::recv(c.fd, scratch_.data(), scratch_.size(), 0);
  if (n > 0) {
    c.lingered += static_cast<std::size_t>(n);
    if (c.lingered <= kMaxLingerBytes) return check_timeouts(c, now);
  } else if (n < 0 && would_block(errno)) {
    return check_timeouts(c, now);
  }
  close_connection(c);  // FIN, error, or too much
  return false;
}

bool Server::check_timeouts(Connection& c, SteadyTime now) {
  switch (c.phase) {
    case Phase::reading:
      if (c.request_started && now - *c.request_started >= config_.request_timeout) {
        c.response_started = now;
        c.request_line = "-";
        start_error(c, 408, "request not received in time", false, true);
        return write_response(c, now);
      }
      if (!c.request_started && now - c.last_progress >= config_.idle_timeout) {
        close_connection(c);  // RFC 9112 9.5: an idle connection may close at any time
        return false;
      }
      return true;
    case Phase::writing:
      if (now - c.last_progress >= config_.idle_timeout) {
        access_log().debug("{}: response not read in time, closing", c.peer);
        close_connection(c);
        return false;
      }
      return true;
    case Phase::lingering:
      if (now >= c.linger_until) {
        close_connection(c);
        return false;
      }
      return true;
  }
  return true;
}

void Server::close_connection(Connection& c) {
  if (c.fd >= 0) ustack::close(c.fd);
  c.fd = -1;
}

}  // namespace

void serve_http(int listen_fd, const HttpServerConfig& config, const std::atomic<bool>* stop) {
  const int root_fd = open_root(config.root);
  if (root_fd < 0) {
    access_log().error("document root {}: {}", config.root,
                       errno == ENOSYS ? "this kernel has no openat2 (Linux 5.6 or later needed)"
                                       : std::strerror(errno));
    return;
  }
  if (set_nonblocking(listen_fd) < 0) {
    access_log().error("listening socket {}: {}", listen_fd, std::strerror(errno));
    ::close(root_fd);
    return;
  }
  Server server(listen_fd, config, root_fd);
  server.run(stop);
  ::close(root_fd);
}

}  // namespace ustack::http
