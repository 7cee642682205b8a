// The access log, buffered per loop: lines collect in memory and go out when the buffer fills or
// the loop ticks, in one write(2) to a file, in writes of whole lines to a pipe or a socket.
// Formats: nginx's "combined" or JSON lines.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "handlers/stream.h"
#include "shared/config/config.h"

namespace askr::server {

// What a request lacks is left empty: the combined format writes it "-", JSON as "" (nginx writes
// a variable that is not found so, without and with escape=json).
struct AccessEntry {
  const sockaddr* peer = nullptr;
  std::string_view method;  // empty (with `target`) when the head could not be read
  std::string_view target;
  std::string_view protocol;  // "HTTP/1.1": the connection's, even when the head was not read
  int status = 0;
  uint64_t bytes = 0;  // body bytes sent
  std::string_view referer;
  std::string_view user_agent;
  // A PHP request's stages (JSON format only): written as upstream_time_us (the total),
  // upstream_queue_time_us, upstream_php_time_us and upstream_io_time_us, integers in µs.
  const handlers::BackendTiming* timing = nullptr;
  // A head refused while parsing: its request line as sent (nginx's $request then), written
  // in place of method, target and protocol by the combined format. With it, `method` and
  // `protocol` empty (only blank lines came), the request is written empty, as nginx's "".
  std::string_view request_line;
  // The Authorization field, whose Basic user name is the combined format's $remote_user.
  std::string_view authorization;
};

class AccessLog {
 public:
  // fd < 0 disables the log. The log does not own the fd; `path` names it in error lines and
  // must outlive the log.
  AccessLog(int fd, config::LogFormat format, std::string_view path);
  ~AccessLog() { flush(); }

  bool enabled() const { return fd_ >= 0; }
  void add(const AccessEntry& e, time_t now);
  void flush();

 private:
  void add_combined(const AccessEntry& e);
  void add_json(const AccessEntry& e);
  void refresh_time(time_t now);
  size_t next_write(size_t from) const;

  int fd_;
  config::LogFormat format_;
  std::string_view path_;
  // The most one write(2) takes, in whole lines (a longer line alone): PIPE_BUF where the log is
  // not a regular file, since a pipe or a socket (stderr under a container runtime or a
  // supervisor) keeps only a write that size in one piece, and a longer one may take the other
  // loops' lines (or the error log's) into the middle of a line. A file takes any size whole.
  size_t max_write_ = SIZE_MAX;
  std::string buf_;
  time_t stamp_time_ = 0;
  char stamp_[40] = {};  // "23/Nov/2026:05:30:00 +0000" or ISO 8601 for JSON
};

}  // namespace askr::server
