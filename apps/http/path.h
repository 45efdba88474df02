// From a request target's path to a file under the document root, with no way out of the root.
//
// Two steps, so that the first can be tested without a file system:
//  1. normalize_path: percent-decode (RFC 3986 2.1), refuse what cannot name a file safely (NUL,
//     an encoded '/', a bad escape), remove dot-segments (RFC 3986 5.2.4), and refuse a path
//     whose ".." would climb above the root rather than quietly clamping it.
//  2. open_file: open it beneath the root with openat2(RESOLVE_BENEATH), so the kernel refuses
//     any resolution that would leave the root (a "..", an absolute symlink, a symlink pointing
//     out) while it resolves, with no window between a check and the open; a directory means its
//     index.html.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

namespace ustack::http {

struct NormalizedPath {
  bool ok = false;
  std::string path;   // decoded, starts with '/', no "." or ".." segments
  std::string error;  // why not, when !ok
};

// `target_path` is the path of a request target without its query (the query is stripped here
// too, if present).
NormalizedPath normalize_path(std::string_view target_path);

// RFC 3986 5.2.4 remove_dot_segments on an absolute path. Sets `escaped` when a ".." had no
// segment left to remove, i.e. the path tried to climb above its root.
std::string remove_dot_segments(std::string_view path, bool& escaped);

enum class FileStatus { ok, not_found, forbidden, is_directory_without_slash };

// A regular file opened for reading, or why not. Move-only: it closes its descriptor.
class OpenedFile {
 public:
  OpenedFile() = default;
  explicit OpenedFile(FileStatus why) : status(why) {}
  OpenedFile(OpenedFile&& other) noexcept;
  OpenedFile& operator=(OpenedFile&& other) noexcept;
  ~OpenedFile();

  // Hands the descriptor over to the caller, who closes it.
  int release();

  FileStatus status = FileStatus::not_found;
  int fd = -1;        // read-only, when ok
  struct stat st {};  // its fstat, when ok
  std::string path;   // the path served under the root ("/dir/index.html"), when ok
};

// Opens `normalized_path` (from normalize_path) beneath the directory `root_fd` (see
// open_root). A directory is served as its index.html; a directory named without a trailing
// '/' is reported so that the server can redirect, since relative links inside its index.html
// need the '/'. Anything that is not a regular file (a device, a FIFO, a socket) is forbidden;
// so is any path whose resolution leaves the root. A symlink that stays inside is followed.
OpenedFile open_file(int root_fd, const std::string& normalized_path);

// Opens the document root as a directory (O_PATH), or returns -1 with errno set.
int open_root(const std::string& root);

}  // namespace ustack::http
