// httpd's server: static files over HTTP/1.1 (RFC 9110, RFC 9112), GET and HEAD, written only
// against ustack's socket API.
//
// One thread serves every connection from one ustack::poll loop over non-blocking sockets, so a
// slow client holds up no one. Each connection reads one request at a time (pipelined ones wait
// in its parser), answers it, and streams a file's bytes with pread as the socket becomes
// writable, never holding a whole file in memory. Timeouts bound what a client can hold:
// an idle keep-alive connection closes after idle_timeout; a request whose head (and any body
// to discard) is not complete within request_timeout of its first byte gets 408 and the
// connection closes, so one byte a minute (slowloris) gets nowhere. Beyond max_connections a
// new connection gets 503 with `Connection: close` instead of being dropped.
//
// Every response is logged on ustack's "http" log layer (stdout; `--log http=warn` silences it):
// client "request line" status body-bytes duration.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

#include "apps/http/request.h"

namespace ustack::http {

struct HttpServerConfig {
  std::string root;  // the document root; must be a directory
  RequestLimits limits;
  // A keep-alive connection with no request under way, or a response the client does not read,
  // is closed after this long without progress.
  std::chrono::milliseconds idle_timeout{15000};
  // From a request's first byte until it is complete; then 408 and close.
  std::chrono::milliseconds request_timeout{10000};
  // After the last response and our FIN, how long to read and discard what the client still
  // sends before closing: closing with unread data would reset the connection and could destroy
  // the response before the client has read it (RFC 9112 9.6).
  std::chrono::milliseconds linger_timeout{2000};
  std::size_t max_connections = 256;
  std::string server_name = "ustack-httpd";
};

// Serves `listen_fd` (a listening ustack TCP socket) until it is closed by another thread (poll
// reports POLLNVAL) or within 200 ms of `*stop` becoming true; then closes its connections,
// never `listen_fd`. Returns at once, with an error on the "http" log layer, if the root is not an
// accessible directory or `listen_fd` cannot be made non-blocking.
void serve_http(int listen_fd, const HttpServerConfig& config,
                const std::atomic<bool>* stop = nullptr);

}  // namespace ustack::http
