#include "sapi/stray_output.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "shared/base/log.h"

namespace askr::worker::sapi {
namespace {

std::string g_pool;
std::string g_line;      // the line so far, its first kMaxStrayLine bytes
size_t g_line_size = 0;  // its whole size

void log_line() {
  std::string text;
  text.reserve(g_line.size());
  for (unsigned char c : g_line) {
    if (c < 0x20 || c == 0x7f) {
      char esc[5];
      snprintf(esc, sizeof esc, "\\x%02x", c);
      text += esc;
    } else {
      text += char(c);
    }
  }
  std::string pool = g_pool.empty() ? std::string() : "pool " + g_pool + ": ";
  if (g_line_size > g_line.size()) {
    LOG_WARN("%sworker %d said into stdout: \"%s...\" (%zu bytes, cut)", pool.c_str(),
             int(getpid()), text.c_str(), g_line_size);
  } else {
    LOG_WARN("%sworker %d said into stdout: \"%s\"", pool.c_str(), int(getpid()), text.c_str());
  }
}

// Ends the line under way: logged unless it is empty (an empty line says nothing).
void end_line() {
  if (g_line_size > 0) log_line();
  g_line.clear();
  g_line_size = 0;
}

}  // namespace

void set_pool_name(std::string_view name) {
  g_pool.assign(name);
}

void stray_output(std::string_view data) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    if (!piece.empty() && piece.back() == '\r' && nl != std::string_view::npos)
      piece.remove_suffix(1);
    g_line.append(piece.substr(0, kMaxStrayLine - g_line.size()));
    g_line_size += piece.size();
    if (nl == std::string_view::npos) return;
    end_line();
    data.remove_prefix(nl + 1);
  }
}

void flush_stray_output() {
  end_line();
}

}  // namespace askr::worker::sapi
