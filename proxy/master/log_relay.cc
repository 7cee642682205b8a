#include "master/log_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "shared/base/log.h"

namespace askr::master {

Result<void> LogRelay::start() {
  if (pipe2(pipe_, O_CLOEXEC) < 0) return errno_error("workers' log pipe");
  // Only our end is non-blocking: a worker writing to a full pipe waits for the relay.
  fcntl(pipe_[0], F_SETFL, O_NONBLOCK);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return errno_error("workers' log pipe");
  thread_ = std::thread([this] { run(); });
  return {};
}

// Relays until stop(): what the pipe holds then is written before the thread ends.
void LogRelay::run() {
  pollfd fds[2] = {{pipe_[0], POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  char buf[16384];
  for (;;) {
    poll(fds, 2, -1);
    ssize_t n;
    while ((n = read(pipe_[0], buf, sizeof buf)) > 0) {
      // Lost when the log cannot take it (a full disk), as askr-proxy's own lines are.
      for (ssize_t at = 0, w; at < n; at += w) {
        if ((w = write(log::fd(), buf + at, size_t(n - at))) <= 0) break;
      }
    }
    if (fds[1].revents & POLLIN) return;
  }
}

void LogRelay::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
  thread_.join();
  for (int fd : {pipe_[0], pipe_[1], stop_fd_}) close(fd);
  pipe_[0] = pipe_[1] = stop_fd_ = -1;
}

}  // namespace askr::master
