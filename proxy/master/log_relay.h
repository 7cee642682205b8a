// What askr-worker processes write to their stderr (PHP's start-up errors, why a worker stopped,
// a script's php://stderr), relayed to askr-proxy's error log: their stderr is the write end of
// a pipe that a thread of askr-proxy reads, writing what it reads to log::fd(). SIGUSR1 reopens
// the log under that same descriptor (dup2), so the workers' lines follow the reopen as
// askr-proxy's own do; a descriptor of their own to the file, inherited at their start, could
// not (php-fpm's master catches its children's output the same way). Each write of a worker up
// to PIPE_BUF bytes (a log line) arrives whole, never mixed with another's.
#pragma once

#include <thread>

#include "shared/base/result.h"

namespace askr::master {

class LogRelay {
 public:
  LogRelay() = default;
  ~LogRelay() { stop(); }
  LogRelay(const LogRelay&) = delete;
  LogRelay& operator=(const LogRelay&) = delete;

  // Makes the pipe and starts the thread that reads it.
  Result<void> start();
  // The pipe's write end, to be a child's stderr (close-on-exec here: dup2 it), -1 before
  // start().
  int write_fd() const { return pipe_[1]; }
  // Writes what is left in the pipe and ends the thread; lines written after it are lost. A
  // process that keeps the write end open (one a PHP script started in the background) does not
  // hold it up.
  void stop();

 private:
  void run();

  int pipe_[2] = {-1, -1};
  int stop_fd_ = -1;  // an eventfd: readable once stop() was called
  std::thread thread_;
};

}  // namespace askr::master
