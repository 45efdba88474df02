#include "apps/http/path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

namespace ustack::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// openat2(2) with RESOLVE_BENEATH: the kernel fails the open (EXDEV) if resolving `path`
// would leave `dir_fd` by "..", an absolute path or a symlink, checked while it resolves.
// RESOLVE_NO_MAGICLINKS keeps /proc-style links out too. glibc 2.36 has no wrapper.
int open_beneath(int dir_fd, const char* path, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, path, &how, sizeof how));
}

// What a failed open means for the client: a path that leaves the root (EXDEV), a symlink loop
// (ELOOP) or a permission (EACCES) is forbidden; everything else is not found.
FileStatus status_for(int error) {
  switch (error) {
    case EXDEV:
    case ELOOP:
    case EACCES:
    case EPERM:
      return FileStatus::forbidden;
    default:
      return FileStatus::not_found;
  }
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

OpenedFile::OpenedFile(OpenedFile&& other) noexcept
    : status(other.status),
      fd(std::exchange(other.fd, -1)),
      st(other.st),
      path(std::move(other.path)) {}

OpenedFile& OpenedFile::operator=(OpenedFile&& other) noexcept {
  if (this != &other) {
    if (fd >= 0) ::close(fd);
    status = other.status;
    fd = std::exchange(other.fd, -1);
    st = other.st;
    path = std::move(other.path);
  }
  return *this;
}

OpenedFile::~OpenedFile() {
  if (fd >= 0) ::close(fd);
}

int OpenedFile::release() {
  return std::exchange(fd, -1);
}

int open_root(const std::string& root) {
  const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  // openat2 is Linux 5.6: refuse to start on a kernel without it rather than serve unchecked.
  if (open_beneath(fd, ".", O_RDONLY | O_DIRECTORY) < 0 && errno == ENOSYS) {
    ::close(fd);
    errno = ENOSYS;
    return -1;
  }
  return fd;
}

OpenedFile open_file(int root_fd, const std::string& normalized_path) {
  if (normalized_path.empty() || normalized_path.front() != '/') return {};
  std::string relative = normalized_path.substr(1);
  OpenedFile f;
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  f.fd = open_beneath(root_fd, relative.empty() ? "." : relative.c_str(), O_RDONLY | O_NONBLOCK);
  if (f.fd < 0) return OpenedFile(status_for(errno));
  if (::fstat(f.fd, &f.st) != 0) return {};
  f.path = normalized_path;
  if (S_ISDIR(f.st.st_mode)) {
    if (normalized_path.back() != '/') return OpenedFile(FileStatus::is_directory_without_slash);
    relative += "index.html";
    f = OpenedFile();
    f.fd = open_beneath(root_fd, relative.c_str(), O_RDONLY | O_NONBLOCK);
    if (f.fd < 0) return OpenedFile(status_for(errno));
    if (::fstat(f.fd, &f.st) != 0) return {};
    f.path = normalized_path + "index.html";
  }
  // Devices, FIFOs and sockets are no documents (a FIFO would block the server's thread).
  if (!S_ISREG(f.st.st_mode)) return OpenedFile(FileStatus::forbidden);
  f.status = FileStatus::ok;
  return f;
}

}  // namespace ustack::http
