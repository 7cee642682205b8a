// Opening a request path inside a document root so that nothing outside the root is reachable.
#pragma once

#include <string_view>

namespace askr::handlers {

// Opens `rel` beneath the directory `root_fd` with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS) and flags O_RDONLY | O_CLOEXEC | `extra_flags` (for example
// O_DIRECTORY, O_PATH or O_NONBLOCK).
//
// `rel` is a path as normalize_path returns it minus the leading '/': "" (or ".") names the root
// itself; it must contain no NUL. Symlinks are followed as long as every step of the resolution
// stays beneath the root; one that leaves it (absolute target, or ".." past the root) fails with
// -EXDEV, and /proc-style magic links fail with -ELOOP. Mount points inside the root are crossed.
//
// Returns the new fd, owned by the caller, or -errno: -ENOENT, -ENOTDIR, -EACCES, -EXDEV,
// -ELOOP, -ENAMETOOLONG (rel longer than PATH_MAX), -EINVAL (NUL in rel), ...
// A kernel-side race with a concurrent rename (EAGAIN) and EINTR are retried here.
//
// Beware FIFOs and devices: without O_NONBLOCK or O_PATH, opening a FIFO under the root blocks
// until a writer appears. A caller that serves only regular files should pass O_NONBLOCK, fstat
// the fd, and clear O_NONBLOCK (fcntl F_SETFL) on a regular file before reading it.
//
// On kernels without openat2 (before 5.6) the first -ENOSYS switches this process, for good, to
// open_beneath_walk below.
int open_beneath(int root_fd, std::string_view rel, int extra_flags = 0);

// The fallback for kernels without openat2, exposed so that tests can prove it. Walks `rel`
// one component at a time with O_NOFOLLOW and fails closed: any symlink component, even one that
// stays inside the root, gives -ELOOP, and a ".." component gives -EXDEV. Same flags, ownership
// and other errors as open_beneath. Mount points are crossed.
int open_beneath_walk(int root_fd, std::string_view rel, int extra_flags = 0);

}  // namespace askr::handlers
