#include "server/access_log.h"

#include <limits.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "http/request.h"
#include "net/listener.h"
#include "shared/base/log.h"

namespace askr::server {
namespace {

constexpr size_t kFlushAt = 32 * 1024;

constexpr char kHex[] = "0123456789ABCDEF";

void append_hex_escape(std::string& out, const char* prefix, unsigned char c) {
  out += prefix;
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

// Combined format: quotes, backslashes, control bytes and bytes >= 0x80 are written as \xHH,
// as nginx does, so a line stays one line.
void append_escaped(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
      append_hex_escape(out, "\\x", c);
    } else {
      out += char(c);
    }
  }
}

// The length (2 to 4) of the well-formed UTF-8 sequence that starts at s[i], or 0 when none
// does: overlong forms, surrogates, code points past U+10FFFF, stray continuation bytes and
// truncated sequences are not well-formed (Unicode table 3-7).
size_t utf8_sequence(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return len;
}

// JSON strings: well-formed UTF-8 passes through unchanged; quotes, backslashes, control bytes,
// DEL and every byte that is not part of a well-formed UTF-8 sequence are written as \u00HH,
// so each line is valid JSON whatever bytes the client sent.
void append_json_escaped(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (size_t len = utf8_sequence(s, i)) {
        out.append(s.substr(i, len));
        i += len;
        continue;
      }
    }
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
      append_hex_escape(out, "\\u00", c);
    } else {
      out += char(c);
    }
    ++i;
  }
}

std::string_view or_dash(std::string_view s) {
  return s.empty() ? "-" : s;
}

}  // namespace

AccessLog::AccessLog(int fd, config::LogFormat format, std::string_view path)
    : fd_(fd), format_(format), path_(path) {
  struct stat st {};
  if (fd_ >= 0 && ::fstat(fd_, &st) == 0 && !S_ISREG(st.st_mode)) max_write_ = PIPE_BUF;
}

void AccessLog::refresh_time(time_t now) {
  if (now == stamp_time_) return;
  stamp_time_ = now;
  struct tm tm;
  localtime_r(&now, &tm);
  if (format_ != config::LogFormat::kJson) {
    strftime(stamp_, sizeof stamp_, "%d/%b/%Y:%H:%M:%S %z", &tm);  // nginx's $time_local
    return;
  }
  // nginx's $time_iso8601, RFC 3339: the zone's offset as "+05:30", not strftime's "+0530".
  size_t n = strftime(stamp_, sizeof stamp_, "%Y-%m-%dT%H:%M:%S%z", &tm);
  if (n == 24) {
    std::memmove(stamp_ + 23, stamp_ + 22, 3);  // "MM" and the NUL
    stamp_[22] = ':';
  }
}

void AccessLog::add(const AccessEntry& e, time_t now) {
  if (fd_ < 0) return;
  refresh_time(now);
  if (format_ == config::LogFormat::kJson) {
    add_json(e);
  } else {
    add_combined(e);
  }
  if (buf_.size() >= kFlushAt) flush();
}

void AccessLog::add_combined(const AccessEntry& e) {
  char host[net::kHostTextMax];
  buf_ += net::format_host(e.peer, host);
  buf_ += " - ";
  if (e.authorization.empty()) {
    buf_ += '-';
  } else {
    append_escaped(buf_, or_dash(http::remote_user(e.authorization)));
  }
  buf_ += " [";
  buf_ += stamp_;
  buf_ += "] \"";
  if (!e.request_line.empty()) {
    append_escaped(buf_, e.request_line);
  } else if (!e.method.empty() || !e.protocol.empty()) {
    append_escaped(buf_, or_dash(e.method));
    buf_ += ' ';
    append_escaped(buf_, or_dash(e.target));
    buf_ += ' ';
    buf_ += e.protocol;
  }
  buf_ += "\" ";
  buf_ += std::to_string(e.status);
  buf_ += ' ';
  buf_ += std::to_string(e.bytes);
  buf_ += " \"";
  append_escaped(buf_, or_dash(e.referer));
  buf_ += "\" \"";
  append_escaped(buf_, or_dash(e.user_agent));
  buf_ += "\"\n";
}

void AccessLog::add_json(const AccessEntry& e) {
  buf_ += "{\"time\":\"";
  buf_ += stamp_;
  char host[net::kHostTextMax];
  buf_ += "\",\"remote\":\"";
  buf_ += net::format_host(e.peer, host);
  buf_ += "\",\"remote_port\":";
  buf_ += std::to_string(net::address_port(e.peer));
  buf_ += ",\"method\":\"";
  append_json_escaped(buf_, e.method);
  buf_ += "\",\"uri\":\"";
  append_json_escaped(buf_, e.target);
  buf_ += "\",\"protocol\":\"";
  buf_ += e.protocol;
  if (!e.request_line.empty()) {
    buf_ += "\",\"request\":\"";
    append_json_escaped(buf_, e.request_line);
  }
  buf_ += "\",\"status\":";
  buf_ += std::to_string(e.status);
  buf_ += ",\"bytes\":";
  buf_ += std::to_string(e.bytes);
  buf_ += ",\"referer\":\"";
  append_json_escaped(buf_, e.referer);
  buf_ += "\",\"user_agent\":\"";
  append_json_escaped(buf_, e.user_agent);
  buf_ += '"';
  if (const handlers::BackendTiming* t = e.timing) {
    buf_ += ",\"upstream_time_us\":";
    buf_ += std::to_string(t->total_us);
    buf_ += ",\"upstream_queue_time_us\":";
    buf_ += std::to_string(t->queued_us);
    buf_ += ",\"upstream_php_time_us\":";
    buf_ += std::to_string(t->php_us);
    buf_ += ",\"upstream_io_time_us\":";
    buf_ += std::to_string(t->io_us);
  }
  buf_ += "}\n";
}

// How many bytes from `from` the next write takes: all that is left, or as many whole lines as
// max_write_ holds (at least the line under way, whatever its length).
size_t AccessLog::next_write(size_t from) const {
  const size_t left = buf_.size() - from;
  if (left <= max_write_) return left;
  size_t end = buf_.rfind('\n', from + max_write_ - 1);
  if (end == std::string::npos || end < from) end = buf_.find('\n', from);
  return end == std::string::npos ? left : end + 1 - from;
}

void AccessLog::flush() {
  size_t off = 0;
  while (off < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + off, next_write(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // A full disk must not stop serving: the lines are lost, and the error log says so.
      LOG_LIMITED(kError, "access log \"%.*s\": write failed: %s; %zu bytes of lines lost",
                  int(path_.size()), path_.data(), n < 0 ? std::strerror(errno) : "nothing written",
                  buf_.size() - off);
      break;
    }
    off += size_t(n);
  }
  buf_.clear();
}

}  // namespace askr::server
