// Request paths to files (apps/http/path.h): normalization without a file system, then
// resolution against a temporary document root with symlinks inside and out of it.
#include "apps/http/path.h"

#include <gtest/gtest.h>
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
    root_ = real_root(www.string());
    ASSERT_FALSE(root_.empty());
  }
  void TearDown() override { std::filesystem::remove_all(base_); }

  ResolvedFile resolve(std::string_view target) {
    const NormalizedPath n = normalize_path(target);
    EXPECT_TRUE(n.ok) << n.error;
    return resolve_file(root_, n.path);
  }

  std::filesystem::path base_;
  std::string root_;
};

TEST_F(HttpPathFiles, ResolvesFilesAndIndexes) {
  ResolvedFile f = resolve("/file.txt");
  ASSERT_EQ(f.status, FileStatus::ok);
  EXPECT_EQ(f.path, root_ + "/file.txt");
  f = resolve("/dir/");
  ASSERT_EQ(f.status, FileStatus::ok);
  EXPECT_EQ(f.path, root_ + "/dir/index.html");
  EXPECT_EQ(resolve("/dir").status, FileStatus::is_directory_without_slash);
  EXPECT_EQ(resolve("/empty/").status, FileStatus::not_found);
  EXPECT_EQ(resolve("/missing").status, FileStatus::not_found);
  EXPECT_EQ(resolve("/file.txt/x").status, FileStatus::not_found);
}

TEST_F(HttpPathFiles, FollowsSymlinksOnlyInsideTheRoot) {
  ResolvedFile f = resolve("/inside-link");
  ASSERT_EQ(f.status, FileStatus::ok);
  EXPECT_EQ(f.path, root_ + "/file.txt");
  EXPECT_EQ(resolve("/outside-link").status, FileStatus::forbidden);
  EXPECT_EQ(resolve("/outside-dir/secret").status, FileStatus::forbidden);
  EXPECT_EQ(resolve("/outside-dir/").status, FileStatus::forbidden);
}

TEST(HttpPathRoot, RealRootNeedsADirectory) {
  EXPECT_EQ(real_root("/nonexistent/ustack/www"), "");
  EXPECT_EQ(real_root("/etc/hostname"), "");
  EXPECT_EQ(real_root("/tmp/../tmp"), std::filesystem::canonical("/tmp").string());
}

}  // namespace
}  // namespace ustack::http
