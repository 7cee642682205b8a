// The pool zygote: an askr-worker that starts PHP once (extensions, OPcache and its shared
// memory, opcache.preload) and then only forks workers on its supervisor's request, so that the
// workers of a pool share one OPcache and a replacement starts warm. No PHP here: the caller
// starts the engine first. Nothing of PHP's needs redoing after the fork: OPcache is built for
// it (php-fpm forks its children the same way), and PHP marks mt_rand()/rand() and lcg_value()
// unseeded at every request start (the random extension's RINIT), so each worker seeds its own,
// whatever opcache.preload drew from them in the zygote.
//
// Control protocol, on a SOCK_SEQPACKET socket shared with the supervisor:
//   supervisor -> zygote  one byte, with SCM_RIGHTS carrying the new worker's fds, in this order:
//                         its listening socket, its readiness pipe (see WorkerFds)
//   zygote -> supervisor  an int32: the new worker's pid, or -errno when it could not fork
// The worker is forked with CLONE_PARENT: it is the supervisor's child, not the zygote's, so
// the supervisor reaps it and signals it through a pidfd like any worker it started, and the
// zygote's own exit leaves the workers running.
#pragma once

#include <optional>

namespace askr::worker {

// The fds a forked worker serves with, as an exec'd worker finds them as fds 3 and 4.
struct WorkerFds {
  int listen_fd = -1;
  int ready_fd = -1;
};

// Answers fork requests on `control_fd` until the supervisor closes it or a stop signal arrives
// (then returns nullopt, in the zygote). In each forked worker it returns that worker's fds
// (close-on-exec), with the control socket closed, a wake pipe of its own (a stop signal to one
// worker must not wake its siblings) and PR_SET_PDEATHSIG set against the supervisor; a worker
// whose supervisor is already gone exits 1 instead of returning.
std::optional<WorkerFds> serve_fork_requests(int control_fd);

}  // namespace askr::worker
