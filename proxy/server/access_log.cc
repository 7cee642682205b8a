#include "server/access_log.h"

#include <unistd.h>

#include <cstdio>

#include "net/listener.h"

namespace askr::server {
namespace {

constexpr size_t kFlushAt = 32 * 1024;

// Quotes and control bytes are written as \xHH, as nginx does, so a line stays one line.
void append_escaped(std::string& out, std::string_view s, bool json) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f || (!json && c >= 0x80)) {
      out += json ? "\\u00" : "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
}

std::string_view or_dash(std::string_view s) {
  return s.empty() ? "-" : s;
}

}  // namespace

void AccessLog::refresh_time(time_t now) {
  if (now == stamp_time_) return;
  stamp_time_ = now;
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(stamp_, sizeof stamp_,
           format_ == config::LogFormat::kJson ? "%Y-%m-%dT%H:%M:%S%z" : "%d/%b/%Y:%H:%M:%S %z",
           &tm);
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
  std::string addr = net::format_address(e.peer);
  if (addr.front() == '[') {
    addr = addr.substr(1, addr.rfind(']') - 1);
  } else {
    addr.resize(addr.rfind(':'));
  }
  buf_ += addr;
  buf_ += " - - [";
  buf_ += stamp_;
  buf_ += "] \"";
  append_escaped(buf_, e.method, false);
  buf_ += ' ';
  append_escaped(buf_, e.target, false);
  buf_ += ' ';
  buf_ += e.protocol;
  buf_ += "\" ";
  buf_ += std::to_string(e.status);
  buf_ += ' ';
  buf_ += std::to_string(e.bytes);
  buf_ += " \"";
  append_escaped(buf_, or_dash(e.referer), false);
  buf_ += "\" \"";
  append_escaped(buf_, or_dash(e.user_agent), false);
  buf_ += "\"\n";
}

void AccessLog::add_json(const AccessEntry& e) {
  std::string addr = net::format_address(e.peer);
  buf_ += "{\"time\":\"";
  buf_ += stamp_;
  buf_ += "\",\"remote\":\"";
  buf_ += addr;
  buf_ += "\",\"method\":\"";
  append_escaped(buf_, e.method, true);
  buf_ += "\",\"uri\":\"";
  append_escaped(buf_, e.target, true);
  buf_ += "\",\"protocol\":\"";
  buf_ += e.protocol;
  buf_ += "\",\"status\":";
  buf_ += std::to_string(e.status);
  buf_ += ",\"bytes\":";
  buf_ += std::to_string(e.bytes);
  buf_ += ",\"referer\":\"";
  append_escaped(buf_, e.referer, true);
  buf_ += "\",\"user_agent\":\"";
  append_escaped(buf_, e.user_agent, true);
  buf_ += "\"}\n";
}

void AccessLog::flush() {
  size_t off = 0;
  while (off < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n <= 0) break;  // a full disk must not stop serving; the lines are lost
    off += size_t(n);
  }
  buf_.clear();
}

}  // namespace askr::server
