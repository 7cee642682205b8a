// Opening a request path inside a document root, with the site's rule for symbolic links.
#pragma once

#include <cstdint>
#include <string_view>

namespace askr::handlers {

// How symlinks met while opening a path under a root are treated (config::Symlinks; nginx's
// disable_symlinks with from=$document_root: the root itself was resolved when the config was
// loaded and is never checked again).
enum class Symlinks : uint8_t {
  kFollow,   // followed wherever they lead (nginx's disable_symlinks off)
  kOwner,    // followed when the link and what it leads to have the same owner (if_not_owner)
  kBeneath,  // followed while every step stays beneath the root (openat2 RESOLVE_BENEATH)
};

// Opens `rel` under the directory `root_fd` with flags O_RDONLY | O_CLOEXEC | `extra_flags`
// (for example O_DIRECTORY, O_PATH or O_NONBLOCK), following symlinks as `mode` allows.
//
// `rel` is a path as normalize_path returns it minus the leading '/' (or the part after an
// alias's prefix): "" (or ".") names the root itself; it must contain no NUL. In every mode a
// ".." component or a leading '/' in `rel` is refused with -EXDEV, so the request path itself
// never climbs out of the root, and /proc-style magic links are refused with -ELOOP. A symlink
// the mode refuses gives -EXDEV (kBeneath: it leaves the root) or -ELOOP (kOwner: owners
// differ). A loop of symlinks is -ELOOP, a dangling one -ENOENT. Mount points are crossed.
//
// Returns the new fd, owned by the caller, or -errno: -ENOENT, -ENOTDIR, -EACCES, -EXDEV,
// -ELOOP, -ENAMETOOLONG (rel longer than PATH_MAX), -EINVAL (NUL in rel), ...
// A kernel-side race with a concurrent rename (EAGAIN) and EINTR are retried here.
//
// Beware FIFOs and devices: without O_NONBLOCK or O_PATH, opening a FIFO under the root blocks
// until a writer appears. A caller that serves only regular files should pass O_NONBLOCK, fstat
// the fd, and clear O_NONBLOCK (fcntl F_SETFL) on a regular file before reading it. Links are
// followed with O_PATH opens, which never block.
//
// On kernels without openat2 (before 5.6) the first -ENOSYS switches this process, for good, to
// open_beneath_walk below, in every mode, and logs that once.
int open_beneath(int root_fd, std::string_view rel, Symlinks mode, int extra_flags = 0);

// The fallback for kernels without openat2, exposed so that tests can prove it. It fails closed
// in every mode, because without openat2 a followed link could not be kept off /proc's magic
// links: it walks `rel` one component at a time with O_NOFOLLOW, and any symlink component,
// even one that stays inside the root, gives -ELOOP; a ".." component gives -EXDEV. Same flags,
// ownership and other errors as open_beneath. Mount points are crossed.
int open_beneath_walk(int root_fd, std::string_view rel, int extra_flags = 0);

}  // namespace askr::handlers
