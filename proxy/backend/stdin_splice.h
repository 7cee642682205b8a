// Moves a request body from the client socket to a FastCGI backend socket as STDIN records,
// with splice(2) through a pipe: the payload never enters user space. The record headers go
// into the same pipe between the payload pieces, so the backend sees ordinary records.
#pragma once

#include <cstdint>
#include <memory>

#include "shared/base/result.h"

namespace askr::backend {

class StdinSplice {
 public:
  enum class Status : uint8_t {
    kDone,       // every byte is on the backend socket
    kWaitRead,   // the client socket is empty: call step() when it is readable
    kWaitWrite,  // the backend socket is full (or we yield to other work): when writable
    kError,      // see error()
  };

  // Prepares to move `length` bytes for FastCGI request `request_id`.
  static Result<std::unique_ptr<StdinSplice>> create(uint64_t length, uint16_t request_id);
  ~StdinSplice();

  // Moves what it can without blocking, at most a bounded amount per call so that one large
  // body does not hold up the loop.
  Status step(int client_fd, int backend_fd);
  uint64_t remaining() const { return left_; }
  const char* error() const { return error_; }

 private:
  StdinSplice() = default;

  int pipe_[2] = {-1, -1};
  size_t pipe_size_ = 0;
  size_t in_pipe_ = 0;        // bytes (headers and payload) in the pipe
  uint64_t left_ = 0;         // payload bytes still in the client socket
  uint32_t record_left_ = 0;  // payload bytes of the open record still to come
  uint16_t request_id_ = 1;
  const char* error_ = "";
};

}  // namespace askr::backend
