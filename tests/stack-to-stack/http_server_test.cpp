// httpd's server (apps/http/server.h) on stack B, serving a temporary document root, with
// clients on stack A speaking HTTP/1.1 through A's socket API: what each response says, which
// connections stay open, and which the server closes.
#include "apps/http/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "apps/http/date.h"
#include "apps/http/request.h"
#include "support/socket_pair.h"

namespace ustack::http {
namespace {

using test::ApiPair;
using test::ApiPairOptions;
using test::inet;
using test::kIpB;
using test::sa;

constexpr std::uint16_t kPort = 80;
// Recorded as every file's mtime, so that If-Modified-Since has a known answer.
constexpr std::int64_t kMtime = 1700000000;

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string("<none>") : it->second;
  }
};

// One HTTP client connection over stack A; responses are read with their Content-Length, so
// pipelined responses come apart.
class Client {
 public:
  explicit Client(SocketApi& api) : api_(api) {
    fd_ = api_.socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd_, 0);
    // A hang guard only: a test that waits this long has already failed.
    timeval tv{5, 0};
    api_.setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const sockaddr_in to = inet(kIpB, kPort);
    connected_ = api_.connect(fd_, sa(to), sizeof to) == 0;
    EXPECT_TRUE(connected_) << std::strerror(errno);
  }
  ~Client() { api_.close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = api_.send(fd_, text.data(), text.size(), 0);
      ASSERT_GT(n, 0) << std::strerror(errno);
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads one response; status 0 if the connection ended first. `head` for a HEAD request,
  // whose response has no body whatever its Content-Length says.
  Response read(bool head = false) {
    Response r;
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return r;
    }
    std::string_view lines(buffer_.data(), end);
    const auto first_end = lines.find("\r\n");
    const std::string_view status_line = lines.substr(0, first_end);
    EXPECT_TRUE(status_line.starts_with("HTTP/1.1 ")) << status_line;
    r.status = std::stoi(std::string(status_line.substr(9, 3)));
    lines.remove_prefix(first_end == std::string_view::npos ? lines.size() : first_end + 2);
    while (!lines.empty()) {
      const auto eol = lines.find("\r\n");
      const std::string_view line = lines.substr(0, eol);
      const auto colon = line.find(':');
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(line.substr(colon + 2));
      lines.remove_prefix(eol == std::string_view::npos ? lines.size() : eol + 2);
    }
    buffer_.erase(0, end + 4);
    std::size_t length = 0;
    if (!head && r.status != 304 && r.headers.contains("content-length")) {
      length = std::stoul(r.headers["content-length"]);
    }
    while (buffer_.size() < length) {
      if (!fill()) {
        ADD_FAILURE() << "connection ended inside a body";
        return r;
      }
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  Response get(const std::string& path, const std::string& extra = "") {
    send("GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n");
    return read();
  }

  // Whether the server closes the connection (recv returns 0 or a reset) with nothing more
  // to read; false if bytes arrive or the hang guard runs out.
  bool closed_by_server() {
    if (!buffer_.empty()) return false;
    char c;
    const ssize_t n = api_.recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  int fd() const { return fd_; }

 private:
  bool fill() {
    char buf[16384];
    const ssize_t n = api_.recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  SocketApi& api_;
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ustack-httpd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    www_ = base_ / "www";
    std::filesystem::create_directories(www_ / "dir");
    std::filesystem::create_directories(base_ / "outside");
    write_file(www_ / "index.html", "<h1>home</h1>\n");
    write_file(www_ / "hello.txt", "hello, world\n");
    write_file(www_ / "dir" / "index.html", "dir index\n");
    write_file(www_ / "digits.txt", "0123456789");
    write_file(base_ / "outside" / "secret.txt", "secret\n");
    std::filesystem::create_symlink(base_ / "outside" / "secret.txt", www_ / "escape.txt");
    for (const char* name : {"a", "b", "c"})
      write_file(www_ / name, std::string("body of ") + name);
    config_.root = www_.string();
  }
  void TearDown() override {
    stop_server();
    std::filesystem::remove_all(base_);
  }

  static void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
    const timespec times[2] = {{kMtime, 0}, {kMtime, 0}};
    ::utimensat(AT_FDCWD, path.c_str(), times, 0);
  }

  // Starts the server on B with config_ (tests adjust it first).
  void start_server() {
    pair_.start();
    listen_fd_ = pair_.b().socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listen_fd_, 0);
    const sockaddr_in local = inet(kIpB, kPort);
    ASSERT_EQ(pair_.b().bind(listen_fd_, sa(local), sizeof local), 0) << std::strerror(errno);
    ASSERT_EQ(pair_.b().listen(listen_fd_, 16), 0);
    // The server uses the free functions, which act on the last Runtime constructed: B's.
    server_ = std::thread([this] { serve_http(listen_fd_, config_, &stop_); });
  }
  void stop_server() {
    stop_ = true;
    if (server_.joinable()) server_.join();
    if (listen_fd_ >= 0) pair_.b().close(listen_fd_);
    listen_fd_ = -1;
  }

  static ApiPairOptions real_time() {
    ApiPairOptions o;
    o.real_time = true;
    return o;
  }

  ApiPair pair_{real_time()};
  std::filesystem::path base_;
  std::filesystem::path www_;
  HttpServerConfig config_;
  std::atomic<bool> stop_{false};
  int listen_fd_ = -1;
  std::thread server_;
};

TEST_F(HttpServerTest, GetServesAFile) {
  start_server();
  Client client(pair_.a());
  const Response r = client.get("/hello.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello, world\n");
  EXPECT_EQ(r.header("content-length"), "13");
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("last-modified"), format_http_date(kMtime));
  EXPECT_EQ(r.header("accept-ranges"), "bytes");
  EXPECT_TRUE(parse_http_date(r.header("date")).has_value()) << r.header("date");
  EXPECT_EQ(r.header("connection"), "<none>");  // HTTP/1.1 persists by default
}

TEST_F(HttpServerTest, DirectoriesServeTheirIndex) {
  start_server();
  Client client(pair_.a());
  Response r = client.get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<h1>home</h1>\n");
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  r = client.get("/dir/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "dir index\n");
  r = client.get("/dir?x=1");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/dir/?x=1");
}

TEST_F(HttpServerTest, HeadSendsHeadersWithoutBody) {
  start_server();
  Client client(pair_.a());
  client.send("HEAD /hello.txt HTTP/1.1\r\nHost: test\r\n\r\n");
  const Response head = client.read(true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "13");
  EXPECT_EQ(head.body, "");
  // Had a body followed, this GET's response would be read out of it.
  const Response get = client.get("/digits.txt");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "0123456789");
}

TEST_F(HttpServerTest, MissingFileIs404AndKeepsTheConnection) {
  start_server();
  Client client(pair_.a());
  const Response r = client.get("/nope.html");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(client.get("/hello.txt").status, 200);
}

TEST_F(HttpServerTest, OtherMethodsAre405WithAllow) {
  start_server();
  Client client(pair_.a());
  client.send("POST /hello.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello");
  const Response r = client.read();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, MalformedRequestIs400AndCloses) {
  start_server();
  Client client(pair_.a());
  client.send("GET /hello.txt HTTP/1.1\r\nHost: test\r\nBad Header: x\r\n\r\n");
  const Response r = client.read();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, TraversalIsRefused) {
  start_server();
  Client client(pair_.a());
  for (const char* target : {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                             "/dir/../../outside/secret.txt", "/..%2f..%2fetc%2fpasswd"}) {
    const Response r = client.get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
  const Response r = client.get("/escape.txt");  // a symlink out of the root
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start_server();
  Client client(pair_.a());
  EXPECT_EQ(client.get("/a").body, "body of a");
  EXPECT_EQ(client.get("/b").body, "body of b");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start_server();
  Client client(pair_.a());
  client.send(
      "GET /a HTTP/1.1\r\nHost: test\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: test\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(client.read().body, "body of a");
  EXPECT_EQ(client.read().body, "body of b");
  const Response last = client.read();
  EXPECT_EQ(last.body, "body of c");
  EXPECT_EQ(last.header("connection"), "close");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  start_server();
  {
    Client client(pair_.a());
    client.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const Response r = client.read();
    EXPECT_EQ(r.body, "body of a");
    EXPECT_EQ(r.header("connection"), "keep-alive");
    client.send("GET /b HTTP/1.0\r\n\r\n");
    EXPECT_EQ(client.read().body, "body of b");
    EXPECT_TRUE(client.closed_by_server());
  }
}

TEST_F(HttpServerTest, ByteRanges) {
  start_server();
  Client client(pair_.a());
  Response r = client.get("/digits.txt", "Range: bytes=2-5\r\n");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "2345");
  EXPECT_EQ(r.header("content-range"), "bytes 2-5/10");
  r = client.get("/digits.txt", "Range: bytes=-3\r\n");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "789");
  r = client.get("/digits.txt", "Range: bytes=10-\r\n");
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range"), "bytes */10");
  r = client.get("/digits.txt", "Range: bytes=0-1,4-5\r\n");  // documented: several -> whole
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "0123456789");
  // If-Range with a date that no longer matches: the whole file.
  r = client.get("/digits.txt",
                 "Range: bytes=2-5\r\nIf-Range: " + format_http_date(kMtime - 60) + "\r\n");
  EXPECT_EQ(r.status, 200);
  r = client.get("/digits.txt",
                 "Range: bytes=2-5\r\nIf-Range: " + format_http_date(kMtime) + "\r\n");
  EXPECT_EQ(r.status, 206);
}

TEST_F(HttpServerTest, IfModifiedSince) {
  start_server();
  Client client(pair_.a());
  Response r = client.get("/hello.txt", "If-Modified-Since: " + format_http_date(kMtime) + "\r\n");
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("last-modified"), format_http_date(kMtime));
  r = client.get("/hello.txt", "If-Modified-Since: " + format_http_date(kMtime - 1) + "\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello, world\n");
  r = client.get("/hello.txt", "If-Modified-Since: not a date\r\n");
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpServerTest, LargeFileIsStreamedWhole) {
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i * 7 % 26);
  write_file(www_ / "big.bin", big);
  start_server();
  Client client(pair_.a());
  const Response r = client.get("/big.bin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_TRUE(r.body == big) << "got " << r.body.size() << " bytes";
}

TEST_F(HttpServerTest, SlowRequestGets408AndIsClosed) {
  config_.request_timeout = std::chrono::milliseconds(300);
  start_server();
  Client client(pair_.a());
  client.send("GET /hello.txt HT");  // and nothing more: a slowloris
  const Response r = client.read();
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, ASlowClientDoesNotHoldUpOthers) {
  start_server();
  Client slow(pair_.a());
  slow.send("GET /a HTTP/1.1\r\nHo");
  for (int i = 0; i < 3; ++i) {
    Client quick(pair_.a());
    EXPECT_EQ(quick.get("/b").body, "body of b");
  }
  slow.send("st: test\r\n\r\n");
  EXPECT_EQ(slow.read().body, "body of a");
}

TEST_F(HttpServerTest, IdleConnectionIsClosed) {
  config_.idle_timeout = std::chrono::milliseconds(300);
  start_server();
  Client client(pair_.a());
  EXPECT_EQ(client.get("/a").status, 200);
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(HttpServerTest, BeyondMaxConnectionsIs503) {
  config_.max_connections = 1;
  start_server();
  Client first(pair_.a());
  EXPECT_EQ(first.get("/a").status, 200);  // accepted and counted
  Client second(pair_.a());
  const Response refused = second.read();
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.header("connection"), "close");
  EXPECT_TRUE(second.closed_by_server());
  EXPECT_EQ(first.get("/b").body, "body of b");  // the first one is unaffected
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  config_.limits.max_header_bytes = 256;
  start_server();
  Client client(pair_.a());
  client.send("GET / HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(1000, 'x') + "\r\n\r\n");
  EXPECT_EQ(client.read().status, 431);
  EXPECT_TRUE(client.closed_by_server());
}

}  // namespace
}  // namespace ustack::http
