#include "zygote.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "process.h"
#include "shared/base/log.h"

namespace askr::worker {
namespace {

constexpr int kFdsPerWorker = 2;

enum class Wait { kRequest, kDone };

// Waits until the control socket has a request, or the zygote should stop.
Wait wait_for_request(int control_fd) {
  pollfd fds[2] = {{control_fd, POLLIN, 0}, {wake_fd(), POLLIN, 0}};
  while (!stop_requested()) {
    if (poll(fds, 2, -1) > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      return stop_requested() ? Wait::kDone : Wait::kRequest;
    }
  }
  return Wait::kDone;
}

// Receives one request: true with the fds it carried, false when the supervisor is gone.
// A request without exactly kFdsPerWorker fds is answered -EINVAL and skipped (fds[0] = -1).
bool receive_request(int control_fd, int* fds) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * kFdsPerWorker)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = space;
  msg.msg_controllen = sizeof space;
  ssize_t n;
  do {
    n = recvmsg(control_fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  fds[0] = -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int got[kFdsPerWorker];
    std::memcpy(got, CMSG_DATA(c), std::min(count, size_t(kFdsPerWorker)) * sizeof(int));
    if (count == kFdsPerWorker && !(msg.msg_flags & MSG_CTRUNC)) {
      std::memcpy(fds, got, sizeof(int) * kFdsPerWorker);
    } else {
      for (size_t i = 0; i < std::min(count, size_t(kFdsPerWorker)); ++i) close(got[i]);
    }
  }
  return true;
}

void answer(int control_fd, int32_t value) {
  if (send(control_fd, &value, sizeof value, MSG_NOSIGNAL) != ssize_t(sizeof value)) {
    LOG_ERROR("zygote: cannot answer the supervisor: %s", strerror(errno));
  }
}

// In the forked worker: what a freshly started worker sets up for itself.
void become_worker(int control_fd) {
  close(control_fd);
  if (!renew_wake_pipe()) {
    LOG_ERROR("pipe: %s", strerror(errno));
    _exit(1);
  }
  if (!die_with_parent()) {
    LOG_ERROR("the parent process is gone; not starting");
    _exit(1);
  }
}

}  // namespace

std::optional<WorkerFds> serve_fork_requests(int control_fd) {
  while (wait_for_request(control_fd) == Wait::kRequest) {
    int fds[kFdsPerWorker];
    if (!receive_request(control_fd, fds)) break;
    if (fds[0] < 0) {
      LOG_ERROR("zygote: a request without the worker's %d fds; ignored", kFdsPerWorker);
      answer(control_fd, -EINVAL);
      continue;
    }
    fflush(nullptr);  // nothing buffered here is written twice
    // A stop signal sent to the new worker before it has a wake pipe of its own waits, blocked,
    // instead of waking the zygote and the worker's siblings through the shared one.
    sigset_t stops, old;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGQUIT);
    sigprocmask(SIG_BLOCK, &stops, &old);
    pid_t pid = fork_sibling();
    int err = errno;
    if (pid == 0) become_worker(control_fd);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (pid == 0) return WorkerFds{fds[0], fds[1]};
    for (int fd : fds) close(fd);
    if (pid < 0) LOG_ERROR("zygote: cannot fork a worker: %s", strerror(err));
    answer(control_fd, pid < 0 ? -err : pid);
  }
  return std::nullopt;
}

}  // namespace askr::worker
