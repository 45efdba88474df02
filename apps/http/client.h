// The client side of http-get: one GET over ustack's socket API, following redirects.
//
// Each request opens a connection and sends "Connection: close" (RFC 9112 9.6), so a body that
// is neither chunked nor sized ends when the server closes. Redirects (301, 302, 303, 307, 308
// with a Location) are followed up to a bound, to http:// URLs only. A response with status 400
// or above is still a successful fetch: its status is in the result, for the caller to judge.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "apps/http/response.h"
#include "apps/http/url.h"

namespace ustack {
class SocketApi;
}

namespace ustack::http {

inline constexpr std::string_view kUserAgent = "ustack-http-get/1";

// Lets another thread stop a fetch (on SIGINT, say): cancel() closes the socket the fetch is
// blocked on, which wakes it (EBADF), and keeps any later connection from opening. The socket
// is closed under the lock, exactly once, by whichever side comes first.
class FetchCancel {
 public:
  void cancel();
  bool cancelled() const;

  // For fetch(): records the open socket; false (and the socket closed) if already cancelled.
  bool attach(SocketApi& api, int fd);
  // For fetch(): closes the socket unless cancel() already did.
  void close(SocketApi& api, int fd);

 private:
  mutable std::mutex mutex_;
  SocketApi* api_ = nullptr;
  int fd_ = -1;
  bool cancelled_ = false;
};

struct FetchOptions {
  int max_redirects = 5;
  // Bounds connect and each send and recv (SO_SNDTIMEO, SO_RCVTIMEO); not the whole transfer.
  std::chrono::milliseconds timeout{30'000};
  // Called with a line of progress ("connecting to ...", "redirected to ..."), for -v.
  std::function<void(std::string_view)> trace;
  FetchCancel* cancel = nullptr;
};

struct FetchResult {
  bool ok = false;    // a complete final response arrived (whatever its status)
  std::string error;  // why not, for the user
  int status = 0;     // of the last response seen (0 if none)
  std::string reason;
  int version_minor = 1;
  Url final_url;                 // the URL the last request went to
  int redirects = 0;             // how many were followed
  std::uint64_t body_bytes = 0;  // of the final response, as handed to the sink
};

// GETs `url` and hands the final response's body to `sink` as it arrives; bodies of redirects
// are not read. The sink returning false stops the transfer (result error "the body could not
// be stored").
FetchResult fetch(SocketApi& api, const Url& url, const FetchOptions& options,
                  const BodySink& sink);

// The request fetch() sends for `url`.
std::string build_request(const Url& url);

// 301, 302, 303, 307, 308 (RFC 9110 15.4).
bool is_redirect(int status);

}  // namespace ustack::http
