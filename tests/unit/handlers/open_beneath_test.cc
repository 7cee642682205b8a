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

// Runs each test against the openat2 path in each symlink mode and the pre-5.6 component walk.
using OpenFn = int (*)(int, std::string_view, int);

template <Symlinks mode>
int open_in_mode(int root_fd, std::string_view rel, int flags) {
  return open_beneath(root_fd, rel, mode, flags);
}

struct Opener {
  const char* name;
  OpenFn fn;
};

void PrintTo(const Opener& o, std::ostream* os) {
  *os << o.name;
}

constexpr Opener kFollow{"follow", &open_in_mode<Symlinks::kFollow>};
constexpr Opener kOwner{"owner", &open_in_mode<Symlinks::kOwner>};
constexpr Opener kBeneath{"beneath", &open_in_mode<Symlinks::kBeneath>};
constexpr Opener kWalk{"walk", &open_beneath_walk};

// A temporary tree:
//   <base>/outside.txt              "secret"
//   <base>/outdir/f.txt             "out"
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
//   <base>/root/dir_out   -> ../outdir
//   <base>/root/owner_in  -> file.txt      (the link owned by 65534, when run as root)
//   <base>/root/owner_out -> ../outside.txt  (likewise)
//   <base>/root/owner_dir -> sub           (likewise)
//   <base>/root/dangling  -> nothing.txt
//   <base>/root/loop      -> loop
class OpenBeneath : public ::testing::TestWithParam<Opener> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/askr-open-beneath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/sub").c_str(), 0755), 0);
    write_file(base_ + "/outside.txt", "secret");
    ASSERT_EQ(mkdir((base_ + "/outdir").c_str(), 0755), 0);
    write_file(base_ + "/outdir/f.txt", "out");
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
    link("../outdir", "dir_out");
    link("file.txt", "owner_in");
    link("../outside.txt", "owner_out");
    link("sub", "owner_dir");
    link("nothing.txt", "dangling");
    link("loop", "loop");
    if (geteuid() == 0) {
      for (const char* name : {"owner_in", "owner_out", "owner_dir"}) {
        ASSERT_EQ(lchown((root_ + "/" + name).c_str(), 65534, 65534), 0) << name;
      }
    }
    root_fd_ = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
  }

  void TearDown() override {
    if (root_fd_ >= 0) close(root_fd_);
    for (const char* name : {"link_in", "link_sub", "sub/link_up", "link_passwd", "link_out",
                             "link_dir_out", "link_proc", "fifo", "file.txt", "sub/inner.txt",
                             "dir_out", "owner_in", "owner_out", "owner_dir", "dangling", "loop"}) {
      unlink((root_ + "/" + name).c_str());
    }
    rmdir((root_ + "/sub").c_str());
    rmdir(root_.c_str());
    unlink((base_ + "/outside.txt").c_str());
    unlink((base_ + "/outdir/f.txt").c_str());
    rmdir((base_ + "/outdir").c_str());
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

  bool is(const Opener& o) const { return GetParam().fn == o.fn; }
  bool is_walk() const { return is(kWalk); }
  int open_rel(std::string_view rel, int flags = 0) { return GetParam().fn(root_fd_, rel, flags); }

  // Opens `rel`, reads it whole, closes it; "" with the -errno on failure.
  std::string read_rel(std::string_view rel, int* err = nullptr) {
    const int fd = GetParam().fn(root_fd_, rel, 0);
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
    const int fd = GetParam().fn(root_fd_, rel, O_DIRECTORY);
    ASSERT_GE(fd, 0) << rel;
    struct stat a, b;
    ASSERT_EQ(fstat(fd, &a), 0);
    ASSERT_EQ(fstat(root_fd_, &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    close(fd);
  }
}

TEST_P(OpenBeneath, DirectoryFlagAndTrailingSlash) {
  int fd = GetParam().fn(root_fd_, "sub", O_DIRECTORY);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  fd = GetParam().fn(root_fd_, "sub/", 0);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  EXPECT_EQ(GetParam().fn(root_fd_, "file.txt", O_DIRECTORY), -ENOTDIR);
  EXPECT_EQ(GetParam().fn(root_fd_, "file.txt/", 0), -ENOTDIR);
  EXPECT_EQ(GetParam().fn(root_fd_, "file.txt/x", 0), -ENOTDIR);
}

TEST_P(OpenBeneath, MissingFile) {
  int err = 0;
  read_rel("nope.txt", &err);
  EXPECT_EQ(err, -ENOENT);
  read_rel("nope/x", &err);
  EXPECT_EQ(err, -ENOENT);
}

TEST_P(OpenBeneath, InsideSymlinksFollowedInEveryModeButTheWalk) {
  int err = 0;
  if (is_walk()) {
    read_rel("link_in", &err);
    EXPECT_EQ(err, -ELOOP);
    read_rel("link_sub/inner.txt", &err);
    EXPECT_EQ(err, -ELOOP);
    read_rel("sub/link_up", &err);
    EXPECT_EQ(err, -ELOOP);
    EXPECT_EQ(GetParam().fn(root_fd_, "link_in", O_PATH), -ELOOP);
  } else {
    EXPECT_EQ(read_rel("link_in"), "hello");
    EXPECT_EQ(read_rel("link_sub/inner.txt"), "inner");
    EXPECT_EQ(read_rel("sub/link_up"), "hello");
  }
}

// The modes that never leave the root, whatever a link says (follow and owner do, by design).
class OpenConfined : public OpenBeneath {};

TEST_P(OpenConfined, EscapingSymlinksRefused) {
  for (std::string_view rel :
       {"link_passwd", "link_out", "link_dir_out/outside.txt", "link_dir_out/root/file.txt",
        "link_proc/etc/passwd", "dir_out/f.txt", "owner_out"}) {
    int err = 0;
    EXPECT_EQ(read_rel(rel, &err), "") << rel;
    EXPECT_EQ(err, is_walk() ? -ELOOP : -EXDEV) << rel;
  }
  EXPECT_LT(open_rel("link_dir_out", O_DIRECTORY), 0);
  EXPECT_LT(open_rel("link_passwd", O_PATH), 0);
}

// What each mode does with each kind of link: the file's text when it is opened, else the
// error. (nginx answers these paths the same way with disable_symlinks off and if_not_owner:
// 200 for a file, 403 for -ELOOP, 404 for -ENOENT; it does follow /proc's magic links.)
struct LinkCase {
  const char* rel;
  const char* follow;
  const char* owner;
  const char* beneath;
};

std::string outcome(int err, const std::string& text) {
  if (err == 0) return text;
  return err == -ELOOP ? "ELOOP" : err == -EXDEV ? "EXDEV" : err == -ENOENT ? "ENOENT" : "other";
}

TEST_P(OpenBeneath, EachModeTreatsEachLinkAsDocumented) {
  const bool as_root = geteuid() == 0;
  const LinkCase cases[] = {
      {"link_out", "secret", "secret", "EXDEV"},          // a file outside
      {"dir_out/f.txt", "out", "out", "EXDEV"},           // a directory outside
      {"link_in", "hello", "hello", "hello"},             // inside
      {"link_sub/inner.txt", "inner", "inner", "inner"},  // a directory inside
      {"sub/link_up", "hello", "hello", "hello"},         // inside, through ".."
      {"owner_in", "hello", as_root ? "ELOOP" : "hello", "hello"},
      {"owner_out", "secret", as_root ? "ELOOP" : "secret", "EXDEV"},
      {"owner_dir/inner.txt", "inner", as_root ? "ELOOP" : "inner", "inner"},
      {"dangling", "ENOENT", "ENOENT", "ENOENT"},
      {"loop", "ELOOP", "ELOOP", "ELOOP"},
      {"link_proc/etc/passwd", "ELOOP", "ELOOP", "EXDEV"},  // a magic link, never followed
  };
  for (const LinkCase& c : cases) {
    int err = 0;
    const std::string text = read_rel(c.rel, &err);
    const char* want = is(kFollow) ? c.follow : is(kOwner) ? c.owner : c.beneath;
    if (is_walk()) want = "ELOOP";  // fails closed: no symlink at all
    EXPECT_EQ(outcome(err, text), want) << c.rel;
  }
}

TEST_P(OpenBeneath, DirectoriesThroughLinks) {
  const bool follows_out = is(kFollow) || is(kOwner);
  for (std::string_view rel : {"dir_out", "dir_out/"}) {
    const int fd = open_rel(rel, O_PATH | O_DIRECTORY);
    EXPECT_EQ(fd >= 0, follows_out) << rel << " " << fd;
    if (fd >= 0) close(fd);
  }
  const int fd = open_rel("link_sub/", O_DIRECTORY);
  EXPECT_EQ(fd >= 0, !is_walk()) << fd;
  if (fd >= 0) close(fd);
  EXPECT_EQ(open_rel("link_in/", 0), -ENOTDIR);
}

TEST_P(OpenBeneath, DotDotAndAbsoluteRefused) {
  // normalize_path never produces these; the opener refuses them anyway.
  EXPECT_EQ(GetParam().fn(root_fd_, "../outside.txt", 0), -EXDEV);
  EXPECT_EQ(GetParam().fn(root_fd_, "sub/../../outside.txt", 0), -EXDEV);
  EXPECT_EQ(GetParam().fn(root_fd_, "link_sub/../../outside.txt", 0), is_walk() ? -ELOOP : -EXDEV);
  if (is_walk()) {
    // The walk reads a leading '/' as the root itself, so this names <root>/etc/passwd.
    EXPECT_EQ(GetParam().fn(root_fd_, "/etc/passwd", 0), -ENOENT);
  } else {
    EXPECT_EQ(GetParam().fn(root_fd_, "/etc/passwd", 0), -EXDEV);
  }
}

TEST_P(OpenBeneath, BadNames) {
  EXPECT_EQ(GetParam().fn(root_fd_, std::string_view("file.txt\0x", 10), 0), -EINVAL);
  EXPECT_EQ(GetParam().fn(root_fd_, std::string(PATH_MAX, 'a'), 0), -ENAMETOOLONG);
}

TEST_P(OpenBeneath, NonblockingOpenOfFifoDoesNotHang) {
  const int fd = GetParam().fn(root_fd_, "fifo", O_NONBLOCK);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  close(fd);
}

TEST_P(OpenBeneath, ResultIsCloseOnExec) {
  const int fd = GetParam().fn(root_fd_, "file.txt", 0);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  close(fd);
}

INSTANTIATE_TEST_SUITE_P(Modes, OpenBeneath, ::testing::Values(kFollow, kOwner, kBeneath, kWalk),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Modes, OpenConfined, ::testing::Values(kBeneath, kWalk),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace askr::handlers
