// http-get: fetches one http:// URL over ustack, as a small curl/wget.
//
//   http-get --tap tap1 --ip 10.0.1.2/24 --host-ip 10.0.1.1/24 http://10.0.1.1:8000/file -o file
//
// The host must be a literal IPv4 address (ustack has no DNS) and the scheme http (no TLS).
// Redirects (301, 302, 303, 307, 308) are followed, --max-redirects at most. The body goes to
// stdout, or with -o FILE to a temporary file next to FILE that is renamed to FILE only when
// the whole body arrived and the status is below 400; otherwise it is removed.
//
// On stderr: the status line, the final URL, the bytes received, the time taken and MB/s.
//
// Exit status:
//   0  the body arrived complete with a status below 400
//   1  the transfer failed: connection refused, timed out, reset, truncated or malformed
//      response, too many redirects, the output could not be written
//   2  usage: bad flags or a URL http-get cannot fetch
//   3  the server answered with a status of 400 or above (its body still goes to stdout)
//   128+N  stopped by signal N (SIGINT, SIGTERM)
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "apps/http/client.h"
#include "apps/http/url.h"
#include "apps/tap_host.h"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitHttpError = 3;

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Where the body goes: stdout, or a temporary file that becomes the output file on commit().
class Output {
 public:
  ~Output() {
    if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  }

  bool open(const std::string& path, std::string& error) {
    if (path.empty() || path == "-") {
      fd_ = STDOUT_FILENO;
      return true;
    }
    path_ = path;
    // Same directory as the target, so that rename() replaces it atomically.
    temp_path_ = fmt::format("{}.http-get-{}.part", path, ::getpid());
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      error = fmt::format("cannot create {}: {}", temp_path_, std::strerror(errno));
      temp_path_.clear();
      return false;
    }
    return true;
  }

  bool write(std::string_view data) {
    if (write_all(fd_, data)) return true;
    if (write_error_.empty()) write_error_ = std::strerror(errno);
    return false;
  }

  // Moves the temporary file into place. False with a message if that fails.
  bool commit(std::string& error) {
    if (fd_ == STDOUT_FILENO || path_.empty()) return true;
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) < 0) {
      error = fmt::format("writing {}: {}", temp_path_, std::strerror(errno));
      return false;
    }
    if (::rename(temp_path_.c_str(), path_.c_str()) < 0) {
      error = fmt::format("renaming {} to {}: {}", temp_path_, path_, std::strerror(errno));
      return false;
    }
    temp_path_.clear();
    return true;
  }

  const std::string& write_error() const { return write_error_; }
  std::string name() const { return path_.empty() ? "stdout" : path_; }

 private:
  int fd_ = -1;
  std::string path_;
  std::string temp_path_;
  std::string write_error_;
};

// Runs the fetch on its own thread while this one waits for it or for SIGINT/SIGTERM (which
// TapHost::start() blocked in every thread, so sigtimedwait is where they arrive). A signal
// cancels the fetch, which closes its socket and so wakes it. Returns the signal, or 0.
int fetch_until_signal(const std::function<void()>& run, ustack::http::FetchCancel& cancel) {
  std::atomic<bool> finished{false};
  std::thread worker([&] {
    run();
    finished = true;
  });
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  const timespec tick{0, 50 * 1000 * 1000};
  int signal = 0;
  while (!finished) {
    const int s = sigtimedwait(&signals, nullptr, &tick);
    if (s > 0) {
      signal = s;
      cancel.cancel();
      break;
    }
  }
  worker.join();
  return signal;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"http-get: fetch an http:// URL over ustack"};
  app.footer(
      "Exit status: 0 success; 1 transfer failed (refused, timeout, reset, truncated or bad\n"
      "response, too many redirects, output error); 2 usage or unsupported URL; 3 the server\n"
      "answered 400 or above.");
  ustack::apps::TapHost host("tap1");
  host.add_options(app);
  std::string url_text;
  std::string output_path;
  int max_redirects = 5;
  double timeout_seconds = 30;
  bool verbose = false;
  app.add_option("-o,--output", output_path, "write the body to FILE (default: stdout)");
  app.add_option("--max-redirects", max_redirects, "redirects to follow at most")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--timeout", timeout_seconds,
                 "seconds to wait for the connection and for each read or write")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "say what happens on stderr (connects, redirects)");
  app.add_option("url", url_text, "http://IPv4[:port]/path")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : kExitUsage;
  }

  std::string error;
  const auto url = ustack::http::parse_url(url_text, error);
  if (!url) {
    std::fprintf(stderr, "http-get: %s: %s\n", url_text.c_str(), error.c_str());
    return kExitUsage;
  }
  Output output;
  if (!output.open(output_path, error)) {
    std::fprintf(stderr, "http-get: %s\n", error.c_str());
    return kExitFailed;
  }
  if (!host.start(error)) {
    std::fprintf(stderr, "http-get: %s\n", error.c_str());
    return kExitFailed;
  }

  ustack::http::FetchCancel cancel;
  ustack::http::FetchOptions options;
  options.max_redirects = max_redirects;
  options.timeout =
      std::chrono::milliseconds(static_cast<long>(std::llround(timeout_seconds * 1000)));
  options.cancel = &cancel;
  if (verbose) {
    options.trace = [](std::string_view line) { fmt::print(stderr, "http-get: {}\n", line); };
  }
  ustack::http::FetchResult result;
  const auto start = std::chrono::steady_clock::now();
  const int signal = fetch_until_signal(
      [&] {
        result = ustack::http::fetch(host.runtime().api(), *url, options,
                                     [&](std::string_view bytes) { return output.write(bytes); });
      },
      cancel);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  host.stop();

  if (signal > 0) {
    std::fprintf(stderr, "http-get: stopped by signal %d\n", signal);
    return 128 + signal;
  }
  if (result.status != 0) {
    fmt::print(stderr, "HTTP/1.{} {} {}\n", result.version_minor, result.status, result.reason);
  }
  fmt::print(stderr, "URL: {}{}\n", result.final_url.to_string(),
             result.redirects == 0   ? std::string()
             : result.redirects == 1 ? std::string(" (after 1 redirect)")
                                     : fmt::format(" (after {} redirects)", result.redirects));
  fmt::print(stderr, "{} bytes in {:.3f} s ({:.2f} MB/s)\n", result.body_bytes, elapsed,
             elapsed > 0 ? static_cast<double>(result.body_bytes) / elapsed / 1e6 : 0.0);
  if (!result.ok) {
    if (!output.write_error().empty()) {
      fmt::print(stderr, "http-get: writing {}: {}\n", output.name(), output.write_error());
    } else {
      fmt::print(stderr, "http-get: {}\n", result.error);
    }
    return kExitFailed;
  }
  if (result.status >= 400) {
    fmt::print(stderr, "http-get: the server answered {} {}\n", result.status, result.reason);
    return kExitHttpError;
  }
  if (!output.commit(error)) {
    fmt::print(stderr, "http-get: {}\n", error);
    return kExitFailed;
  }
  return 0;
}
