// From a request target's path to a file under the document root, with no way out of the root.
//
// Two steps, so that the first can be tested without a file system:
//  1. normalize_path: percent-decode (RFC 3986 2.1), refuse what cannot name a file safely (NUL,
//     an encoded '/', a bad escape), remove dot-segments (RFC 3986 5.2.4), and refuse a path
//     whose ".." would climb above the root rather than quietly clamping it.
//  2. resolve_file: join it to the root, resolve every symlink (realpath) and refuse a result
//     outside the root; a directory means its index.html.
#pragma once

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

struct ResolvedFile {
  FileStatus status = FileStatus::not_found;
  std::string path;  // the real path of a regular file, when ok
};

// `root` must be the real path of the document root (see real_root). A directory is served as
// its index.html; a directory named without a trailing '/' is reported so that the server can
// redirect, since relative links inside its index.html need the '/'.
ResolvedFile resolve_file(const std::string& root, const std::string& normalized_path);

// The root's real path, or empty if it is not an accessible directory.
std::string real_root(const std::string& root);

}  // namespace ustack::http
