#include "handlers/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

namespace askr::handlers {

namespace {

constexpr int kRetries = 8;

// Copies `rel` into `buf` as a C string; "" becomes ".". Returns 0 or -errno.
int to_c_path(std::string_view rel, char (&buf)[PATH_MAX]) {
  if (rel.empty()) rel = ".";
  if (rel.size() >= sizeof(buf)) return -ENAMETOOLONG;
  if (rel.find('\0') != std::string_view::npos) return -EINVAL;
  std::memcpy(buf, rel.data(), rel.size());
  buf[rel.size()] = '\0';
  return 0;
}

int openat2_beneath(int root_fd, const char* path, int flags) {
  open_how how{};
  how.flags = static_cast<__u64>(static_cast<unsigned int>(flags));
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    const long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    if (fd >= 0) return static_cast<int>(fd);
    if ((errno != EAGAIN && errno != EINTR) || attempt == kRetries) return -errno;
  }
}

int openat_retry(int dir_fd, const char* name, int flags) {
  for (int attempt = 0;; ++attempt) {
    const int fd = openat(dir_fd, name, flags);
    if (fd >= 0) return fd;
    if (errno != EINTR || attempt == kRetries) return -errno;
  }
}

// Opens one component below `dir_fd` without following a symlink: a symlink gives -ELOOP, a
// ".." gives -EXDEV. O_PATH|O_NOFOLLOW hands back the link itself instead of failing, so an
// O_PATH open is checked with fstat, which also enforces `want_dir`.
int open_component(int dir_fd, const char* name, int flags, bool want_dir) {
  if (std::strcmp(name, "..") == 0) return -EXDEV;
  const int fd = openat_retry(dir_fd, *name == '\0' ? "." : name, flags | O_NOFOLLOW);
  if (fd < 0 || !(flags & O_PATH)) return fd;
  struct stat st;
  int err = fstat(fd, &st) == 0 ? 0 : -errno;
  if (err == 0 && S_ISLNK(st.st_mode)) err = -ELOOP;
  if (err == 0 && want_dir && !S_ISDIR(st.st_mode)) err = -ENOTDIR;
  if (err == 0) return fd;
  close(fd);
  return err;
}

std::atomic<bool> g_no_openat2{false};

}  // namespace

int open_beneath_walk(int root_fd, std::string_view rel, int extra_flags) {
  char buf[PATH_MAX];
  if (int err = to_c_path(rel, buf); err < 0) return err;
  const int final_flags = O_RDONLY | O_CLOEXEC | extra_flags;
  int dir = root_fd;
  char* name = buf;
  for (;;) {
    while (*name == '/') ++name;  // tolerates a leading '/' and repeated slashes
    char* end = name + std::strcspn(name, "/");
    char* next = end;
    while (*next == '/') ++next;
    const bool last = *next == '\0';
    const bool want_dir = !last || end != next;  // a trailing '/' demands a directory
    *end = '\0';
    const int flags = last ? final_flags | (want_dir ? O_DIRECTORY : 0) : O_PATH | O_CLOEXEC;
    const int fd = open_component(dir, name, flags, want_dir);
    if (dir != root_fd) close(dir);
    if (fd < 0 || last) return fd;
    dir = fd;
    name = next;
  }
}

int open_beneath(int root_fd, std::string_view rel, int extra_flags) {
  if (!g_no_openat2.load(std::memory_order_relaxed)) {
    char buf[PATH_MAX];
    if (int err = to_c_path(rel, buf); err < 0) return err;
    const int fd = openat2_beneath(root_fd, buf, O_RDONLY | O_CLOEXEC | extra_flags);
    if (fd != -ENOSYS) return fd;
    g_no_openat2.store(true, std::memory_order_relaxed);
  }
  return open_beneath_walk(root_fd, rel, extra_flags);
}

}  // namespace askr::handlers
