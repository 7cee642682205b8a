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
std::atomic<bool> g_echo{false};
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
int fd() {
  return g_fd.load(std::memory_order_relaxed);
}
void set_echo_to_stderr(bool on) {
  g_echo.store(on, std::memory_order_relaxed);
}
bool enabled(Level level) {
  return int(level) <= g_level.load(std::memory_order_relaxed);
}

namespace {

void vwrite(Level level, uint64_t suppressed, const char* fmt, va_list ap) {
  char line[2048];
  time_t now = time(nullptr);
  struct tm tm;
  localtime_r(&now, &tm);
  size_t n = strftime(line, sizeof line, "%Y/%m/%d %H:%M:%S", &tm);
  static thread_local long tid = syscall(SYS_gettid);
  n += size_t(
      snprintf(line + n, sizeof line - n, " [%s] %d#%ld: ", kNames[int(level)], getpid(), tid));
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  n = m < 0 ? n : std::min(sizeof line - 2, n + size_t(m));
  if (suppressed > 0) {
    m = snprintf(line + n, sizeof line - n - 1, " (%llu similar messages suppressed)",
                 (unsigned long long)suppressed);
    n = m < 0 ? n : std::min(sizeof line - 2, n + size_t(m));
  }
  line[n++] = '\n';
  const int fd = g_fd.load(std::memory_order_relaxed);
  [[maybe_unused]] ssize_t w = ::write(fd, line, n);
  if (fd != 2 && level <= Level::kWarn && g_echo.load(std::memory_order_relaxed)) {
    w = ::write(2, line, n);
  }
}

}  // namespace

void write(Level level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwrite(level, 0, fmt, ap);
  va_end(ap);
}

void write_counted(Level level, uint64_t suppressed, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwrite(level, suppressed, fmt, ap);
  va_end(ap);
}

int64_t monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The thread that moves next_ms_ forward owns the line; the others count themselves.
bool RateLimit::admit(int64_t now_ms, uint64_t& suppressed) {
  int64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now_ms >= next &&
      next_ms_.compare_exchange_strong(next, now_ms + window_ms_, std::memory_order_relaxed)) {
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace askr::log
