#include "apps/http/path.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

namespace ustack::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// realpath(3), or empty with errno set.
std::string real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  return resolved ? std::string(resolved.get()) : std::string();
}

bool is_under(const std::string& root, const std::string& path) {
  if (path == root) return true;
  if (root == "/") return !path.empty() && path.front() == '/';
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         path[root.size()] == '/';
}

}  // namespace

std::string remove_dot_segments(std::string_view in, bool& escaped) {
  escaped = false;
  std::string out;
  // RFC 3986 5.2.4, step 2, one rule per branch; `in` is the input buffer.
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);  // A
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);  // A
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);  // B
    } else if (in == "/.") {
      in = "/";  // B
    } else if (in.starts_with("/../") || in == "/..") {
      // C: replace with "/" and drop the last output segment.
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const auto slash = out.rfind('/');
      if (slash == std::string::npos) {
        escaped = true;
      } else {
        out.erase(slash);
      }
    } else if (in == "." || in == "..") {
      in = {};  // D
    } else {
      // E: move the first segment, with its leading '/', to the output.
      const auto next = in.find('/', 1);
      const std::size_t n = next == std::string_view::npos ? in.size() : next;
      out.append(in.substr(0, n));
      in.remove_prefix(n);
    }
  }
  return out;
}

NormalizedPath normalize_path(std::string_view target_path) {
  NormalizedPath r;
  target_path = target_path.substr(0, target_path.find('?'));
  if (target_path.empty() || target_path.front() != '/') {
    r.error = "path must start with '/'";
    return r;
  }
  std::string decoded;
  decoded.reserve(target_path.size());
  for (std::size_t i = 0; i < target_path.size(); ++i) {
    char c = target_path[i];
    if (c == '%') {
      const int hi = i + 2 < target_path.size() ? hex_value(target_path[i + 1]) : -1;
      const int lo = i + 2 < target_path.size() ? hex_value(target_path[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        r.error = "malformed percent-encoding";
        return r;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      // An encoded '/' would let one segment name a file in another directory after decoding.
      if (c == '/') {
        r.error = "encoded '/' in path";
        return r;
      }
    }
    if (c == '\0') {
      r.error = "NUL in path";
      return r;
    }
    decoded.push_back(c);
  }
  bool escaped = false;
  r.path = remove_dot_segments(decoded, escaped);
  if (escaped) {
    r.error = "path climbs above the root";
    r.path.clear();
    return r;
  }
  // push_back, not = "/": GCC 12 at -O3 warns falsely (-Wrestrict) on the assignment.
  if (r.path.empty()) r.path.push_back('/');
  r.ok = true;
  return r;
}

std::string real_root(const std::string& root) {
  std::string real = real_path(root);
  struct stat st {};
  if (real.empty() || ::stat(real.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
  return real;
}

ResolvedFile resolve_file(const std::string& root, const std::string& normalized_path) {
  ResolvedFile r;
  if (normalized_path.empty() || normalized_path.front() != '/') return r;
  std::string real = real_path(root + normalized_path);
  if (real.empty()) {
    r.status = errno == EACCES ? FileStatus::forbidden : FileStatus::not_found;
    return r;
  }
  // A symlink anywhere along the path may point outside the root; realpath resolved them all.
  if (!is_under(root, real)) {
    r.status = FileStatus::forbidden;
    return r;
  }
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0) return r;
  if (S_ISDIR(st.st_mode)) {
    if (normalized_path.back() != '/') {
      r.status = FileStatus::is_directory_without_slash;
      return r;
    }
    real = real_path(real + "/index.html");
    if (real.empty()) return r;
    if (!is_under(root, real)) {
      r.status = FileStatus::forbidden;
      return r;
    }
    if (::stat(real.c_str(), &st) != 0) return r;
  }
  // Devices, FIFOs and sockets are no documents (a FIFO would block the server's thread).
  if (!S_ISREG(st.st_mode)) {
    r.status = FileStatus::forbidden;
    return r;
  }
  r.status = FileStatus::ok;
  r.path = std::move(real);
  return r;
}

}  // namespace ustack::http
