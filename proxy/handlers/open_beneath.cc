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

#include "shared/base/log.h"

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

// Whether `rel` starts with '/' or holds a ".." component. A normalized request path never does;
// without RESOLVE_BENEATH such a path would leave the root before any symlink is met.
bool climbs(std::string_view rel) {
  if (rel.starts_with('/')) return true;
  for (size_t start = 0; start <= rel.size();) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    if (rel.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

int openat2_retry(int dir_fd, const char* path, int flags, __u64 resolve) {
  open_how how{};
  how.flags = static_cast<__u64>(static_cast<unsigned int>(flags));
  how.resolve = resolve;
  for (int attempt = 0;; ++attempt) {
    const long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
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

// Closes `fd` and returns `err` when it is an error, else returns `fd`.
int keep_or_close(int fd, int err) {
  if (err == 0) return fd;
  close(fd);
  return err;
}

// Opens one component below `dir_fd` without following a symlink: a symlink gives -ELOOP, a
// ".." gives -EXDEV. O_PATH|O_NOFOLLOW hands back the link itself instead of failing, so an
// O_PATH open is checked with fstat, which also enforces `want_dir`.
int open_component(int dir_fd, const char* name, int flags, bool want_dir) {
  if (std::strcmp(name, "..") == 0) return -EXDEV;
  const int fd = openat_retry(dir_fd, name, flags | O_NOFOLLOW);
  if (fd < 0 || !(flags & O_PATH)) return fd;
  struct stat st;
  int err = fstat(fd, &st) == 0 ? 0 : -errno;
  if (err == 0 && S_ISLNK(st.st_mode)) err = -ELOOP;
  if (err == 0 && want_dir && !S_ISDIR(st.st_mode)) err = -ENOTDIR;
  return keep_or_close(fd, err);
}

// Opens, with `flags`, what the symlink `link_fd` (an O_PATH | O_NOFOLLOW descriptor of a link
// in `dir_fd`, owned by `owner`) leads to, when that has the same owner; else -ELOOP. The
// target is read from the link that was looked at, so a link swapped meanwhile is not
// followed; the owner is checked on what was opened, whatever the chain of links to it.
int follow_same_owner(int dir_fd, int link_fd, uid_t owner, int flags) {
  char target[PATH_MAX];
  const ssize_t n = readlinkat(link_fd, "", target, sizeof target);
  if (n < 0) return -errno;
  if (size_t(n) == sizeof target) return -ENAMETOOLONG;
  target[n] = '\0';
  const int fd = openat2_retry(dir_fd, target, flags, RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return fd;
  struct stat st;
  int err = fstat(fd, &st) == 0 ? 0 : -errno;
  if (err == 0 && st.st_uid != owner) err = -ELOOP;
  return keep_or_close(fd, err);
}

// One component of a Symlinks::kOwner walk. Looks at `name` without following it (O_PATH opens
// never block), then either follows the link under the owner rule or opens the object itself
// with `flags`; one swapped for a link in between is refused (-ELOOP).
int open_owned_component(int dir_fd, const char* name, int flags, bool want_dir) {
  const int path_fd = openat_retry(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (path_fd < 0) return path_fd;
  struct stat st;
  int fd = fstat(path_fd, &st) == 0 ? 0 : -errno;
  if (fd == 0 && S_ISLNK(st.st_mode)) {
    fd = follow_same_owner(dir_fd, path_fd, st.st_uid, flags | (want_dir ? O_DIRECTORY : 0));
  } else if (fd == 0 && flags == (O_PATH | O_CLOEXEC)) {
    return path_fd;  // a directory on the way: the next component's open checks that it is one
  } else if (fd == 0) {
    fd = openat_retry(dir_fd, name, flags | O_NOFOLLOW);
  }
  close(path_fd);
  return fd;
}

using StepFn = int (*)(int dir_fd, const char* name, int flags, bool want_dir);

// Walks `path` (modified in place) below `root_fd` one component at a time, opening each with
// `step`: O_PATH for the directories on the way, `final_flags` for the last one.
int walk(int root_fd, char* path, int final_flags, StepFn step) {
  int dir = root_fd;
  char* name = path;
  for (;;) {
    while (*name == '/') ++name;  // tolerates a leading '/' and repeated slashes
    char* end = name + std::strcspn(name, "/");
    char* next = end;
    while (*next == '/') ++next;
    const bool last = *next == '\0';
    const bool want_dir = !last || end != next;  // a trailing '/' demands a directory
    *end = '\0';
    const int flags = last ? final_flags | (want_dir ? O_DIRECTORY : 0) : O_PATH | O_CLOEXEC;
    const int fd = step(dir, *name == '\0' ? "." : name, flags, want_dir);
    if (dir != root_fd) close(dir);
    if (fd < 0 || last) return fd;
    dir = fd;
    name = next;
  }
}

// Symlinks::kOwner: one openat2 when the path holds no symlink at all (the usual case), else
// the walk that checks each link's owner, as nginx's disable_symlinks if_not_owner does.
int open_owned(int root_fd, char* path, int flags) {
  const int fd = openat2_retry(root_fd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  if (fd != -ELOOP) return fd;
  return walk(root_fd, path, flags, open_owned_component);
}

std::atomic<bool> g_no_openat2{false};

}  // namespace

int open_beneath_walk(int root_fd, std::string_view rel, int extra_flags) {
  char buf[PATH_MAX];
  if (int err = to_c_path(rel, buf); err < 0) return err;
  return walk(root_fd, buf, O_RDONLY | O_CLOEXEC | extra_flags, open_component);
}

int open_beneath(int root_fd, std::string_view rel, Symlinks mode, int extra_flags) {
  if (!g_no_openat2.load(std::memory_order_relaxed)) {
    char buf[PATH_MAX];
    if (int err = to_c_path(rel, buf); err < 0) return err;
    const int flags = O_RDONLY | O_CLOEXEC | extra_flags;
    int fd = -EXDEV;
    if (mode == Symlinks::kBeneath) {
      fd = openat2_retry(root_fd, buf, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    } else if (climbs(rel)) {
      return -EXDEV;
    } else if (mode == Symlinks::kFollow) {
      fd = openat2_retry(root_fd, buf, flags, RESOLVE_NO_MAGICLINKS);
    } else {
      fd = open_owned(root_fd, buf, flags);
    }
    if (fd != -ENOSYS) return fd;
    if (!g_no_openat2.exchange(true)) {
      LOG_WARN(
          "openat2 is not available (Linux before 5.6): every symlink under a root is now "
          "refused, whatever the site's 'symlinks' says");
    }
  }
  return open_beneath_walk(root_fd, rel, extra_flags);
}

}  // namespace askr::handlers
