#include "backend/stdin_splice.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "shared/fastcgi/protocol.h"

namespace askr::backend {
namespace {

constexpr size_t kPipeSize = 1 << 20;
constexpr uint64_t kStepBudget = 4 << 20;  // bytes moved per step before yielding

}  // namespace

Result<std::unique_ptr<StdinSplice>> StdinSplice::create(uint64_t length, uint16_t request_id) {
  std::unique_ptr<StdinSplice> s(new StdinSplice());
  if (pipe2(s->pipe_, O_NONBLOCK | O_CLOEXEC) < 0) return errno_error("pipe2");
  fcntl(s->pipe_[1], F_SETPIPE_SZ, int(kPipeSize));  // best effort; the size is read back
  int size = fcntl(s->pipe_[1], F_GETPIPE_SZ);
  s->pipe_size_ = size > 0 ? size_t(size) : 65536;
  s->left_ = length;
  s->request_id_ = request_id;
  return s;
}

StdinSplice::~StdinSplice() {
  for (int fd : pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

StdinSplice::Status StdinSplice::step(int client_fd, int backend_fd) {
  uint64_t moved = 0;
  for (;;) {
    bool progress = false, read_blocked = false, write_blocked = false;
    if (record_left_ == 0 && left_ > 0 && pipe_size_ - in_pipe_ >= fastcgi::kHeaderLength) {
      // No padding: it is optional, and the pipe then carries header + payload only.
      uint32_t n = uint32_t(std::min<uint64_t>(left_, fastcgi::kMaxContentLength));
      char hdr[fastcgi::kHeaderLength];
      fastcgi::write_header(
          {fastcgi::kVersion1, fastcgi::RecordType::kStdin, request_id_, uint16_t(n), 0}, hdr);
      if (::write(pipe_[1], hdr, sizeof hdr) != ssize_t(sizeof hdr)) {
        error_ = "pipe write failed";
        return Status::kError;
      }
      in_pipe_ += sizeof hdr;
      record_left_ = n;
      progress = true;
    }
    if (record_left_ > 0 && in_pipe_ < pipe_size_) {
      size_t want = std::min<size_t>(record_left_, pipe_size_ - in_pipe_);
      ssize_t k =
          splice(client_fd, nullptr, pipe_[1], nullptr, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (k > 0) {
        record_left_ -= uint32_t(k);
        left_ -= uint64_t(k);
        in_pipe_ += size_t(k);
        progress = true;
      } else if (k == 0) {
        error_ = "client closed the connection in the middle of the request body";
        return Status::kError;
      } else if (errno == EAGAIN) {
        read_blocked = true;  // the socket is empty, or the pipe's slots are used up
      } else if (errno != EINTR) {
        error_ = "splice from the client failed";
        return Status::kError;
      }
    }
    if (in_pipe_ > 0) {
      ssize_t k = splice(pipe_[0], nullptr, backend_fd, nullptr, in_pipe_,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (k > 0) {
        in_pipe_ -= size_t(k);
        moved += uint64_t(k);
        progress = true;
      } else if (k < 0 && errno == EAGAIN) {
        write_blocked = true;
      } else if (k < 0 && errno != EINTR) {
        error_ = "splice to the backend failed";
        return Status::kError;
      }
    }
    if (left_ == 0 && record_left_ == 0 && in_pipe_ == 0) return Status::kDone;
    if (write_blocked && !progress) return Status::kWaitWrite;
    if (read_blocked && !progress) return in_pipe_ > 0 ? Status::kWaitWrite : Status::kWaitRead;
    if (!progress) return Status::kWaitRead;
    if (moved >= kStepBudget) return Status::kWaitWrite;  // yield: the backend socket is writable
  }
}

}  // namespace askr::backend
