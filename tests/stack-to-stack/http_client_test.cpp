// http-get's fetch() over two stacks in real time: stack A runs the client, stack B a tiny HTTP
// responder written here, which answers each request from a table of canned responses and so
// can send what a real server would not (truncated bodies, resets, silence).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apps/http/client.h"
#include "support/socket_pair.h"

namespace ustack::test {
namespace {

using http::FetchOptions;
using http::FetchResult;

constexpr std::uint16_t kPort = 80;

enum class Ending { close, reset, stay_silent };

struct Reply {
  std::string bytes;
  Ending ending = Ending::close;
};

// Serves one connection at a time on B: reads a request header section, records its text, sends
// the reply for its target (404 if none) and ends the connection as the reply says.
class Responder {
 public:
  Responder(SocketApi& api, std::map<std::string, Reply> routes)
      : api_(api), routes_(std::move(routes)) {
    listener_ = api_.socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(listener_, 0);
    const int one = 1;
    api_.setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in local = inet(kIpB, kPort);
    EXPECT_EQ(api_.bind(listener_, sa(local), sizeof local), 0) << std::strerror(errno);
    EXPECT_EQ(api_.listen(listener_, 8), 0) << std::strerror(errno);
    thread_ = std::thread([this] { serve(); });
  }
  ~Responder() {
    api_.close(listener_);  // wakes accept (EBADF)
    thread_.join();
    for (int fd : silent_) api_.close(fd);
  }

  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    // Bounded by the test: it ends when the listener is closed.
    while (true) {
      const int fd = api_.accept4(listener_, nullptr, nullptr, 0);
      if (fd < 0) return;
      const std::string request = read_request(fd);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      const std::string target = request.substr(4, request.find(' ', 4) - 4);
      const auto route = routes_.find(target);
      const Reply reply =
          route != routes_.end()
              ? route->second
              : Reply{"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"};
      send_all(fd, reply.bytes);
      if (reply.ending == Ending::stay_silent) {
        silent_.push_back(fd);
        continue;
      }
      if (reply.ending == Ending::reset) {
        const linger abort{1, 0};  // close with RST (RFC 9293 3.10.4 ABORT)
        api_.setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
      }
      api_.close(fd);
    }
  }

  std::string read_request(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const ssize_t n = api_.recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    return request.size() >= 4 ? request : "GET ? HTTP/1.1";
  }

  void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = api_.send(fd, data.data(), data.size(), 0);
      if (n <= 0) return;  // the client went away (after a redirect, say)
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  SocketApi& api_;
  std::map<std::string, Reply> routes_;
  int listener_ = -1;
  std::vector<int> silent_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

std::string chunked(std::string_view body, std::size_t chunk) {
  std::string out;
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    const std::string_view piece = body.substr(at, chunk);
    out += fmt::format("{:x};n={}\r\n", piece.size(), at) + std::string(piece) + "\r\n";
  }
  return out;
}

const std::string kLarge = pattern(300'000);
const std::string kMedium = pattern(50'000);

std::map<std::string, Reply> routes() {
  std::map<std::string, Reply> r;
  r["/cl"] = {fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", kLarge.size()) + kLarge};
  r["/chunked"] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   chunked(kMedium, 3000) + "0\r\nX-Trailer: done\r\n\r\n"};
  r["/close"] = {"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + kMedium};
  r["/r1"] = {"HTTP/1.1 302 Found\r\nLocation: /r2\r\nContent-Length: 0\r\n\r\n"};
  r["/r2"] = {
      "HTTP/1.1 301 Moved Permanently\r\nLocation: http://10.1.0.2/dir/\r\n"
      "Content-Length: 5\r\n\r\nmoved"};
  r["/dir/"] = {"HTTP/1.1 307 Temporary Redirect\r\nLocation: ../cl\r\n\r\nbody until close"};
  r["/loop"] = {"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n"};
  r["/to-https"] = {
      "HTTP/1.1 302 Found\r\nLocation: https://10.1.0.2/\r\nContent-Length: 0\r\n\r\n"};
  r["/truncated"] = {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + kMedium.substr(0, 500)};
  r["/truncated-chunked"] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             chunked(kMedium.substr(0, 9000), 3000)};
  r["/reset"] = {"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + kMedium.substr(0, 2000),
                 Ending::reset};
  r["/silent"] = {"", Ending::stay_silent};
  return r;
}

class HttpClient : public ::testing::Test {
 protected:
  HttpClient() : pair_(real_time()) { pair_.start(); }

  static ApiPairOptions real_time() {
    ApiPairOptions options;
    options.real_time = true;
    return options;
  }

  FetchResult get(const std::string& path, FetchOptions options = {}) {
    std::string error;
    const auto url = http::parse_url("http://10.1.0.2" + path, error);
    EXPECT_TRUE(url.has_value()) << error;
    body_.clear();
    return http::fetch(pair_.a(), *url, options, [this](std::string_view bytes) {
      body_.append(bytes);
      return true;
    });
  }

  ApiPair pair_;
  Responder responder_{pair_.b(), routes()};
  std::string body_;
};

TEST_F(HttpClient, ContentLengthBody) {
  const FetchResult r = get("/cl");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.redirects, 0);
  EXPECT_EQ(r.body_bytes, kLarge.size());
  EXPECT_TRUE(body_ == kLarge);
}

TEST_F(HttpClient, SendsAMinimalHttp11Request) {
  ASSERT_TRUE(get("/cl?x=1").ok);
  const auto requests = responder_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0],
            "GET /cl?x=1 HTTP/1.1\r\nHost: 10.1.0.2\r\nUser-Agent: ustack-http-get/1\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n");
}

TEST_F(HttpClient, ChunkedBody) {
  const FetchResult r = get("/chunked");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(body_ == kMedium);
}

TEST_F(HttpClient, BodyDelimitedByClose) {
  const FetchResult r = get("/close");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.version_minor, 0);
  EXPECT_TRUE(body_ == kMedium);
}

TEST_F(HttpClient, FollowsARedirectChain) {
  std::vector<std::string> trace;
  FetchOptions options;
  options.trace = [&](std::string_view line) { trace.emplace_back(line); };
  const FetchResult r = get("/r1", options);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.redirects, 3);
  EXPECT_EQ(r.final_url.to_string(), "http://10.1.0.2/cl");
  EXPECT_TRUE(body_ == kLarge);  // only the final response's body
  const auto requests = responder_.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_TRUE(requests[2].starts_with("GET /dir/ HTTP/1.1\r\n"));
  EXPECT_NE(std::find(trace.begin(), trace.end(), "redirected to http://10.1.0.2/dir/"),
            trace.end());
}

TEST_F(HttpClient, RedirectLoopIsBounded) {
  FetchOptions options;
  options.max_redirects = 3;
  const FetchResult r = get("/loop", options);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 302);
  EXPECT_NE(r.error.find("too many redirects"), std::string::npos) << r.error;
  EXPECT_EQ(responder_.requests().size(), 4u);  // the first request and 3 redirects
}

TEST_F(HttpClient, ZeroRedirectsAllowedStopsAtTheFirst) {
  FetchOptions options;
  options.max_redirects = 0;
  const FetchResult r = get("/r1", options);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("too many redirects"), std::string::npos) << r.error;
}

TEST_F(HttpClient, RedirectToHttpsIsAnError) {
  const FetchResult r = get("/to-https");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no TLS"), std::string::npos) << r.error;
}

TEST_F(HttpClient, TruncatedBodyFails) {
  const FetchResult r = get("/truncated");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body_bytes, 500u);
  EXPECT_NE(r.error.find("truncated body"), std::string::npos) << r.error;
}

TEST_F(HttpClient, ChunkedBodyWithoutTheLastChunkFails) {
  const FetchResult r = get("/truncated-chunked");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.body_bytes, 9000u);
  EXPECT_NE(r.error.find("truncated chunked body"), std::string::npos) << r.error;
}

TEST_F(HttpClient, ResetMidBodyFails) {
  const FetchResult r = get("/reset");
  EXPECT_FALSE(r.ok);
  EXPECT_LE(r.body_bytes, 2000u);
  EXPECT_NE(r.error.find("reset"), std::string::npos) << r.error;
}

TEST_F(HttpClient, ErrorStatusIsReported) {
  const FetchResult r = get("/missing");
  ASSERT_TRUE(r.ok) << r.error;  // the fetch worked; the status says the rest
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.reason, "Not Found");
  EXPECT_EQ(body_, "not found");
}

TEST_F(HttpClient, SilentServerTimesOut) {
  FetchOptions options;
  options.timeout = std::chrono::milliseconds(300);
  const FetchResult r = get("/silent", options);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
}

TEST_F(HttpClient, ConnectionRefused) {
  std::string error;
  const auto url = http::parse_url("http://10.1.0.2:81/", error);
  ASSERT_TRUE(url);
  const FetchResult r = http::fetch(pair_.a(), *url, {}, {});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("connection refused by 10.1.0.2:81"), std::string::npos) << r.error;
}

TEST_F(HttpClient, CancelStopsABlockedFetch) {
  http::FetchCancel cancel;
  FetchOptions options;
  options.cancel = &cancel;
  FetchResult r;
  std::thread fetcher([&] { r = get("/silent", options); });
  ASSERT_TRUE(wait_until_blocked(pair_.runtime_a()));
  cancel.cancel();
  fetcher.join();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "cancelled");
}

TEST_F(HttpClient, ASinkThatFailsStopsTheTransfer) {
  std::string error;
  const auto url = http::parse_url("http://10.1.0.2/cl", error);
  std::size_t seen = 0;
  const FetchResult r = http::fetch(pair_.a(), *url, {}, [&](std::string_view bytes) {
    seen += bytes.size();
    return seen < 10'000;
  });
  EXPECT_FALSE(r.ok);
  EXPECT_LT(seen, kLarge.size());
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace ustack::test
