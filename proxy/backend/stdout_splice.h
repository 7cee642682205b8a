// Moves the content of a backend's STDOUT records from the backend socket to the client's
// socket with splice(2) through a pipe: the response body never enters user space. The record
// headers and padding are read with small reads and fed to the link's decoder, so that it
// always knows where the stream stands and the link can go back to ordinary reading at any
// record boundary (or in the middle of a record) when the splice ends.
#pragma once

#include <cstdint>
#include <memory>

#include "shared/base/result.h"
#include "shared/fastcgi/decoder.h"

namespace askr::backend {

class StdoutSplice {
 public:
  enum class Status : uint8_t {
    kDone,         // the pipe is empty and splicing is over: read the stream as usual again
    kWaitRead,     // the backend socket is empty: call step() when it is readable
    kWaitWrite,    // the client socket is full (or we yield to other work): when writable
    kClientError,  // writing to the client failed: see client_error()
  };

  static Result<std::unique_ptr<StdoutSplice>> create();
  ~StdoutSplice();

  // Moves what it can without blocking, at most `limit` content bytes in all calls together
  // (what the response's Content-Length still allows), and a bounded amount per call so that
  // one large response does not hold up the loop. Splicing ends (kDone, once the pipe is
  // drained) at the first record that is not STDOUT with content, at the end of the backend's
  // stream or a read error (the link's ordinary reading then sees them), or at `limit`.
  Status step(fastcgi::Decoder& dec, int backend_fd, int client_fd, uint64_t limit);
  // Body bytes that reached the client socket since the last call.
  uint64_t take_sent() {
    uint64_t n = sent_;
    sent_ = 0;
    return n;
  }
  int client_error() const { return client_error_; }

 private:
  StdoutSplice() = default;
  enum class Read : uint8_t { kProgress, kBlocked, kOver };
  Read fill(fastcgi::Decoder& dec, int backend_fd);

  int pipe_[2] = {-1, -1};
  size_t pipe_size_ = 0;
  size_t in_pipe_ = 0;    // content bytes in the pipe
  uint64_t allowed_ = 0;  // content bytes that may still be taken from the backend socket
  uint64_t sent_ = 0;     // bytes spliced to the client not yet reported
  bool reading_ = true;   // false once splicing from the backend is over
  int client_error_ = 0;
};

}  // namespace askr::backend
