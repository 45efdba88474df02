// Request paths to files (apps/http/path.h): normalization without a file system, then
// resolution against a temporary document root with symlinks inside and out of it.
#include "apps/http/path.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ustack::http {
namespace {

std::string normalized(std::string_view target) {
  const NormalizedPath n = normalize_path(target);
  return n.ok ? n.path : "error: " + n.error;
}

TEST(HttpPath, RemovesDotSegmentsPerRfc3986) {
  // RFC 3986 5.2.4's own examples, absolute.
  bool escaped = false;
  EXPECT_EQ(remove_dot_segments("/a/b/c/./../../g", escaped), "/a/g");
  EXPECT_FALSE(escaped);
  EXPECT_EQ(remove_dot_segments("/mid/content=5/../6", escaped), "/mid/6");
  EXPECT_EQ(remove_dot_segments("/a/b/..", escaped), "/a/");
  EXPECT_EQ(remove_dot_segments("/a/./b/.", escaped), "/a/b/");
  EXPECT_EQ(remove_dot_segments("/..", escaped), "/");
  EXPECT_TRUE(escaped);
}

TEST(HttpPath, Normalizes) {
  EXPECT_EQ(normalized("/"), "/");
  EXPECT_EQ(normalized("/index.html"), "/index.html");
  EXPECT_EQ(normalized("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalized("/a/./b/"), "/a/b/");
  EXPECT_EQ(normalized("/a//b"), "/a//b");  // empty segments are left to the file system
  EXPECT_EQ(normalized("/a/b?x=../../y"), "/a/b");
  EXPECT_EQ(normalized("/hello%20world.txt"), "/hello world.txt");
  EXPECT_EQ(normalized("/%7euser/%41"), "/~user/A");
  EXPECT_EQ(normalized("/a/%2e%2E/b"), "/b");
  EXPECT_EQ(normalized("/...."), "/....");  // a name, not a dot-segment
}

TEST(HttpPath, RefusesWhatCouldLeaveTheRoot) {
  EXPECT_EQ(normalized("/../../etc/passwd"), "error: path climbs above the root");
  EXPECT_EQ(normalized("/a/../../etc/passwd"), "error: path climbs above the root");
  EXPECT_EQ(normalized("/%2e%2e/%2e%2e/etc/passwd"), "error: path climbs above the root");
  EXPECT_EQ(normalized("/%2E%2E"), "error: path climbs above the root");
  EXPECT_EQ(normalized("/..%2f..%2fetc/passwd"), "error: encoded '/' in path");
  EXPECT_EQ(normalized("/a%2Fb"), "error: encoded '/' in path");
  EXPECT_EQ(normalized("/a%00.html"), "error: NUL in path");
  EXPECT_EQ(normalized("/a%"), "error: malformed percent-encoding");
  EXPECT_EQ(normalized("/a%4"), "error: malformed percent-encoding");
  EXPECT_EQ(normalized("/a%zz"), "error: malformed percent-encoding");
  EXPECT_EQ(normalized("relative"), "error: path must start with '/'");
  EXPECT_EQ(normalized(""), "error: path must start with '/'");
}

class HttpPathFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ustack-http-path-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    const auto www = base_ / "www";
    std::filesystem::create_directories(www / "dir");
    std::filesystem::create_directories(www / "empty");
    std::filesystem::create_directories(base_ / "outside");
    std::ofstream(www / "file.txt") << "file";
    std::ofstream(www / "dir" / "index.html") << "index";
    std::ofstream(base_ / "outside" / "secret") << "secret";
    std::filesystem::create_symlink("file.txt", www / "inside-link");
    std::filesystem::create_symlink(base_ / "outside" / "secret", www / "outside-link");
    std::filesystem::create_directory_symlink(base_ / "outside", www / "outside-dir");
    root_fd_ = open_root(www.string());
    ASSERT_GE(root_fd_, 0);
  }
  void TearDown() override {
    if (root_fd_ >= 0) ::close(root_fd_);
    std::filesystem::remove_all(base_);
  }

  OpenedFile resolve(std::string_view target) {
    const NormalizedPath n = normalize_path(target);
    EXPECT_TRUE(n.ok) << n.error;
    return open_file(root_fd_, n.path);
  }

  // What an opened file holds.
  static std::string contents(const OpenedFile& f) {
    std::string s(64, '\0');
    const ssize_t n = ::pread(f.fd, s.data(), s.size(), 0);
    s.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return s;
  }

  std::filesystem::path base_;
  int root_fd_ = -1;
};

TEST_F(HttpPathFiles, ResolvesFilesAndIndexes) {
  OpenedFile f = resolve("/file.txt");
  ASSERT_EQ(f.status, FileStatus::ok);
  EXPECT_EQ(f.path, "/file.txt");
  EXPECT_EQ(contents(f), "file");
  EXPECT_EQ(f.st.st_size, 4);
  f = resolve("/dir/");
  ASSERT_EQ(f.status, FileStatus::ok);
  EXPECT_EQ(f.path, "/dir/index.html");
  EXPECT_EQ(contents(f), "index");
  EXPECT_EQ(resolve("/dir").status, FileStatus::is_directory_without_slash);
  EXPECT_EQ(resolve("/empty/").status, FileStatus::not_found);
  EXPECT_EQ(resolve("/missing").status, FileStatus::not_found);
  EXPECT_EQ(resolve("/file.txt/x").status, FileStatus::not_found);
}

TEST_F(HttpPathFiles, FollowsSymlinksOnlyInsideTheRoot) {
  OpenedFile f = resolve("/inside-link");
  ASSERT_EQ(f.status, FileStatus::ok);
  EXPECT_EQ(f.path, "/inside-link");  // named as requested (its type comes from that name)
  EXPECT_EQ(contents(f), "file");
  EXPECT_EQ(resolve("/outside-link").status, FileStatus::forbidden);
  EXPECT_EQ(resolve("/outside-dir/secret").status, FileStatus::forbidden);
  EXPECT_EQ(resolve("/outside-dir/").status, FileStatus::forbidden);
}

// RESOLVE_BENEATH judges every step of the resolution, not only where it ends: a relative
// symlink that climbs out is refused, and so is any absolute symlink, even one that points back
// inside (nginx's disable_symlinks if_not_owner is stricter still). A FIFO opens without waiting
// for a writer and is refused as no document.
TEST_F(HttpPathFiles, RefusesEveryWayOutAndNonFiles) {
  const auto www = base_ / "www";
  std::filesystem::create_symlink("../outside/secret", www / "climbing-link");
  std::filesystem::create_symlink(www / "file.txt", www / "absolute-link");
  ASSERT_EQ(::mkfifo((www / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(resolve("/climbing-link").status, FileStatus::forbidden);
  EXPECT_EQ(resolve("/absolute-link").status, FileStatus::forbidden);
  EXPECT_EQ(resolve("/fifo").status, FileStatus::forbidden);
  EXPECT_EQ(resolve("/").status, FileStatus::not_found);  // the root has no index.html
}

TEST(HttpPathRoot, OpenRootNeedsADirectory) {
  EXPECT_EQ(open_root("/nonexistent/ustack/www"), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(open_root("/etc/hostname"), -1);
  EXPECT_EQ(errno, ENOTDIR);
  const int fd = open_root("/tmp/../tmp");
  EXPECT_GE(fd, 0);
  if (fd >= 0) ::close(fd);
}

}  // namespace
}  // namespace ustack::http
