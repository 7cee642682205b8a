#include "backend/stdout_splice.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace askr::backend {
namespace {

constexpr size_t kPipeSize = 1 << 20;
constexpr uint64_t kStepBudget = 4 << 20;  // bytes moved per step before yielding

}  // namespace

Result<std::unique_ptr<StdoutSplice>> StdoutSplice::create() {
  std::unique_ptr<StdoutSplice> s(new StdoutSplice());
  if (pipe2(s->pipe_, O_NONBLOCK | O_CLOEXEC) < 0) return errno_error("pipe2");
  fcntl(s->pipe_[1], F_SETPIPE_SZ, int(kPipeSize));  // best effort; the size is read back
  int size = fcntl(s->pipe_[1], F_GETPIPE_SZ);
  s->pipe_size_ = size > 0 ? size_t(size) : 65536;
  return s;
}

StdoutSplice::~StdoutSplice() {
  for (int fd : pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

// Takes the next bytes from the backend socket: STDOUT content into the pipe, a record's header
// or padding into the decoder. Never reads past what the decoder expects, so whatever is not
// STDOUT content stays in the socket for the link's ordinary reading.
StdoutSplice::Read StdoutSplice::fill(fastcgi::Decoder& dec, int backend_fd) {
  size_t content = dec.content_left();
  if (content > 0) {
    if (dec.record_type() != fastcgi::RecordType::kStdout || allowed_ == 0) return Read::kOver;
    if (in_pipe_ >= pipe_size_) return Read::kBlocked;
    size_t want = std::min<uint64_t>({content, pipe_size_ - in_pipe_, allowed_});
    ssize_t k =
        splice(backend_fd, nullptr, pipe_[1], nullptr, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (k > 0) {
      dec.skip_content(size_t(k));
      in_pipe_ += size_t(k);
      allowed_ -= uint64_t(k);
      return Read::kProgress;
    }
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) return Read::kBlocked;
    return Read::kOver;  // the end of the stream, or an error: the link's reading reports it
  }
  size_t framing = dec.framing_left();
  if (framing == 0) return Read::kOver;  // a fixed body: not ours
  char buf[256];
  ssize_t k = ::recv(backend_fd, buf, std::min(framing, sizeof buf), MSG_DONTWAIT);
  if (k < 0 && (errno == EAGAIN || errno == EINTR)) return Read::kBlocked;
  if (k <= 0) return Read::kOver;
  fastcgi::Decoder::Step s = dec.next({buf, size_t(k)});
  // A header alone yields at most an empty record's event, which carries nothing to pass on.
  if (s.status == fastcgi::Decoder::Status::kError) return Read::kOver;
  // A whole header read: splicing goes on only into the content of a STDOUT record.
  if (dec.framing_left() == 0 && dec.content_left() == 0) return Read::kOver;
  if (dec.content_left() > 0 && dec.record_type() != fastcgi::RecordType::kStdout)
    return Read::kOver;
  return Read::kProgress;
}

StdoutSplice::Status StdoutSplice::step(fastcgi::Decoder& dec, int backend_fd, int client_fd,
                                        uint64_t limit) {
  // `limit` counts from the last byte sent: what is in the pipe already is part of it.
  allowed_ = limit > in_pipe_ ? limit - in_pipe_ : 0;
  uint64_t moved = 0;
  for (;;) {
    bool progress = false, write_blocked = false, read_blocked = false;
    if (in_pipe_ > 0) {
      ssize_t k = splice(pipe_[0], nullptr, client_fd, nullptr, in_pipe_,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (k > 0) {
        in_pipe_ -= size_t(k);
        sent_ += uint64_t(k);
        moved += uint64_t(k);
        progress = true;
      } else if (k < 0 && errno == EAGAIN) {
        write_blocked = true;
      } else if (k < 0 && errno != EINTR) {
        client_error_ = errno;
        return Status::kClientError;
      }
    }
    if (reading_) {
      Read r = fill(dec, backend_fd);
      if (r == Read::kProgress) progress = true;
      if (r == Read::kBlocked) read_blocked = true;
      if (r == Read::kOver) reading_ = false;
    }
    if (!reading_ && in_pipe_ == 0) return Status::kDone;
    if (!progress) {
      if (write_blocked || in_pipe_ > 0) return Status::kWaitWrite;
      if (read_blocked) return Status::kWaitRead;
    }
    if (moved >= kStepBudget) return Status::kWaitWrite;  // yield: the client socket is writable
  }
}

}  // namespace askr::backend
