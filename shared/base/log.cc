#include "shared/base/log.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>

namespace askr::log {
namespace {

std::atomic<int> g_level{int(Level::kInfo)};
std::atomic<int> g_fd{2};
const char* const kNames[] = {"error", "warn", "info", "debug"};

}  // namespace

bool parse_level(std::string_view name, Level& out) {
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) {
      out = Level(i);
      return true;
    }
  }
  return false;
}

void set_level(Level level) {
  g_level.store(int(level), std::memory_order_relaxed);
}
void set_fd(int fd) {
  g_fd.store(fd, std::memory_order_relaxed);
}
bool enabled(Level level) {
  return int(level) <= g_level.load(std::memory_order_relaxed);
}

void write(Level level, const char* fmt, ...) {
  char line[2048];
  time_t now = time(nullptr);
  struct tm tm;
  localtime_r(&now, &tm);
  size_t n = strftime(line, sizeof line, "%Y/%m/%d %H:%M:%S", &tm);
  static thread_local long tid = syscall(SYS_gettid);
  n += size_t(
      snprintf(line + n, sizeof line - n, " [%s] %d#%ld: ", kNames[int(level)], getpid(), tid));
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  n = m < 0 ? n : std::min(sizeof line - 2, n + size_t(m));
  line[n++] = '\n';
  [[maybe_unused]] ssize_t w = ::write(g_fd.load(std::memory_order_relaxed), line, n);
}

}  // namespace askr::log
