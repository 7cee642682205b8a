// The access log, buffered per loop: lines collect in memory and go out in one write(2) when
// the buffer fills or the loop ticks. Formats: nginx's "combined" or JSON lines.
#pragma once

#include <sys/socket.h>

#include <ctime>
#include <string>
#include <string_view>

#include "handlers/stream.h"
#include "shared/config/config.h"

namespace askr::server {

struct AccessEntry {
  const sockaddr* peer = nullptr;
  std::string_view method;
  std::string_view target;
  std::string_view protocol;  // "HTTP/1.1"
  int status = 0;
  uint64_t bytes = 0;  // body bytes sent
  std::string_view referer;
  std::string_view user_agent;
  // A PHP request's stages (JSON format only): written as upstream_time_us (the total),
  // upstream_queue_time_us, upstream_php_time_us and upstream_io_time_us, integers in µs.
  const handlers::BackendTiming* timing = nullptr;
  // A head refused while parsing: its request line as sent (nginx's $request then), written
  // in place of method, target and protocol.
  std::string_view request_line;
};

class AccessLog {
 public:
  // fd < 0 disables the log. The log does not own the fd; `path` names it in error lines and
  // must outlive the log.
  AccessLog(int fd, config::LogFormat format, std::string_view path)
      : fd_(fd), format_(format), path_(path) {}
  ~AccessLog() { flush(); }

  bool enabled() const { return fd_ >= 0; }
  void add(const AccessEntry& e, time_t now);
  void flush();

 private:
  void add_combined(const AccessEntry& e);
  void add_json(const AccessEntry& e);
  void refresh_time(time_t now);

  int fd_;
  config::LogFormat format_;
  std::string_view path_;
  std::string buf_;
  time_t stamp_time_ = 0;
  char stamp_[40] = {};  // "23/Nov/2026:05:30:00 +0000" or ISO 8601 for JSON
};

}  // namespace askr::server
