#include "handlers/open_beneath.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>

namespace askr::handlers {
namespace {

// Runs each test against both the openat2 path and the pre-5.6 component walk.
using OpenFn = int (*)(int, std::string_view, int);

// A temporary tree:
//   <base>/outside.txt
//   <base>/root/file.txt            "hello"
//   <base>/root/sub/inner.txt
//   <base>/root/link_in   -> file.txt
//   <base>/root/link_sub  -> sub
//   <base>/root/sub/link_up -> ../file.txt   (stays inside)
//   <base>/root/link_passwd -> /etc/passwd
//   <base>/root/link_out  -> ../outside.txt
//   <base>/root/link_dir_out -> ..           (directory, escapes)
//   <base>/root/link_proc -> /proc/self/root (absolute; escapes)
//   <base>/root/fifo                 a named pipe
class OpenBeneath : public ::testing::TestWithParam<OpenFn> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/askr-open-beneath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/sub").c_str(), 0755), 0);
    write_file(base_ + "/outside.txt", "secret");
    write_file(root_ + "/file.txt", "hello");
    write_file(root_ + "/sub/inner.txt", "inner");
    link("file.txt", "link_in");
    link("sub", "link_sub");
    link("../file.txt", "sub/link_up");
    link("/etc/passwd", "link_passwd");
    link("../outside.txt", "link_out");
    link("..", "link_dir_out");
    link("/proc/self/root", "link_proc");
    ASSERT_EQ(mkfifo((root_ + "/fifo").c_str(), 0644), 0);
    root_fd_ = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
  }

  void TearDown() override {
    if (root_fd_ >= 0) close(root_fd_);
    for (const char* name : {"link_in", "link_sub", "sub/link_up", "link_passwd", "link_out",
                             "link_dir_out", "link_proc", "fifo", "file.txt", "sub/inner.txt"}) {
      unlink((root_ + "/" + name).c_str());
    }
    rmdir((root_ + "/sub").c_str());
    rmdir(root_.c_str());
    unlink((base_ + "/outside.txt").c_str());
    rmdir(base_.c_str());
  }

  static void write_file(const std::string& path, std::string_view text) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
  }

  void link(const char* target, const char* name) {
    ASSERT_EQ(symlink(target, (root_ + "/" + name).c_str()), 0) << name;
  }

  bool is_walk() const { return GetParam() == &open_beneath_walk; }

  // Opens `rel`, reads it whole, closes it; "" with the -errno on failure.
  std::string read_rel(std::string_view rel, int* err = nullptr) {
    const int fd = GetParam()(root_fd_, rel, 0);
    if (err != nullptr) *err = fd < 0 ? fd : 0;
    if (fd < 0) return "";
    char buf[64];
    const ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  std::string base_;
  std::string root_;
  int root_fd_ = -1;
};

TEST_P(OpenBeneath, OpensPlainFiles) {
  EXPECT_EQ(read_rel("file.txt"), "hello");
  EXPECT_EQ(read_rel("sub/inner.txt"), "inner");
}

TEST_P(OpenBeneath, EmptyPathIsTheRoot) {
  for (std::string_view rel : {"", "."}) {
    const int fd = GetParam()(root_fd_, rel, O_DIRECTORY);
    ASSERT_GE(fd, 0) << rel;
    struct stat a, b;
    ASSERT_EQ(fstat(fd, &a), 0);
    ASSERT_EQ(fstat(root_fd_, &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    close(fd);
  }
}

TEST_P(OpenBeneath, DirectoryFlagAndTrailingSlash) {
  int fd = GetParam()(root_fd_, "sub", O_DIRECTORY);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  fd = GetParam()(root_fd_, "sub/", 0);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  EXPECT_EQ(GetParam()(root_fd_, "file.txt", O_DIRECTORY), -ENOTDIR);
  EXPECT_EQ(GetParam()(root_fd_, "file.txt/", 0), -ENOTDIR);
  EXPECT_EQ(GetParam()(root_fd_, "file.txt/x", 0), -ENOTDIR);
}

TEST_P(OpenBeneath, MissingFile) {
  int err = 0;
  read_rel("nope.txt", &err);
  EXPECT_EQ(err, -ENOENT);
  read_rel("nope/x", &err);
  EXPECT_EQ(err, -ENOENT);
}

TEST_P(OpenBeneath, InsideSymlinksFollowedByOpenat2Only) {
  int err = 0;
  if (is_walk()) {
    read_rel("link_in", &err);
    EXPECT_EQ(err, -ELOOP);
    read_rel("link_sub/inner.txt", &err);
    EXPECT_EQ(err, -ELOOP);
    read_rel("sub/link_up", &err);
    EXPECT_EQ(err, -ELOOP);
    EXPECT_EQ(GetParam()(root_fd_, "link_in", O_PATH), -ELOOP);
  } else {
    EXPECT_EQ(read_rel("link_in"), "hello");
    EXPECT_EQ(read_rel("link_sub/inner.txt"), "inner");
    EXPECT_EQ(read_rel("sub/link_up"), "hello");
  }
}

TEST_P(OpenBeneath, EscapingSymlinksRefused) {
  for (std::string_view rel : {"link_passwd", "link_out", "link_dir_out/outside.txt",
                               "link_dir_out/root/file.txt", "link_proc/etc/passwd"}) {
    int err = 0;
    EXPECT_EQ(read_rel(rel, &err), "") << rel;
    EXPECT_LT(err, 0) << rel;
    if (!is_walk()) {
      EXPECT_EQ(err, -EXDEV) << rel;
    }
  }
  EXPECT_LT(GetParam()(root_fd_, "link_dir_out", O_DIRECTORY), 0);
  EXPECT_LT(GetParam()(root_fd_, "link_passwd", O_PATH), 0);
}

TEST_P(OpenBeneath, DotDotAndAbsoluteRefused) {
  // normalize_path never produces these; the opener refuses them anyway.
  EXPECT_EQ(GetParam()(root_fd_, "../outside.txt", 0), -EXDEV);
  EXPECT_EQ(GetParam()(root_fd_, "sub/../../outside.txt", 0), -EXDEV);
  if (is_walk()) {
    // The walk reads a leading '/' as the root itself, so this names <root>/etc/passwd.
    EXPECT_EQ(GetParam()(root_fd_, "/etc/passwd", 0), -ENOENT);
  } else {
    EXPECT_EQ(GetParam()(root_fd_, "/etc/passwd", 0), -EXDEV);
  }
}

TEST_P(OpenBeneath, BadNames) {
  EXPECT_EQ(GetParam()(root_fd_, std::string_view("file.txt\0x", 10), 0), -EINVAL);
  EXPECT_EQ(GetParam()(root_fd_, std::string(PATH_MAX, 'a'), 0), -ENAMETOOLONG);
}

TEST_P(OpenBeneath, NonblockingOpenOfFifoDoesNotHang) {
  const int fd = GetParam()(root_fd_, "fifo", O_NONBLOCK);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  close(fd);
}

TEST_P(OpenBeneath, ResultIsCloseOnExec) {
  const int fd = GetParam()(root_fd_, "file.txt", 0);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  close(fd);
}

INSTANTIATE_TEST_SUITE_P(Openat2, OpenBeneath, ::testing::Values(OpenFn{&open_beneath}));
INSTANTIATE_TEST_SUITE_P(ComponentWalk, OpenBeneath, ::testing::Values(OpenFn{&open_beneath_walk}));

}  // namespace
}  // namespace askr::handlers
