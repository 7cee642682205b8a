// The error log: one line per event, written with a single write(2) so lines from several
// threads never interleave. Format like nginx's: "2026/11/23 05:30:00 [warn] 12#3: message".
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <limits>
#include <string_view>

namespace askr::log {

enum class Level : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Parses "error" | "warn" | "info" | "debug".
bool parse_level(std::string_view name, Level& out);
void set_level(Level level);
// Where lines go (default 2, stderr). The log does not own the fd.
void set_fd(int fd);
int fd();
// While on, lines at warn and above go to stderr as well when the log is elsewhere (a file):
// what stops a start is then said where the one who started it looks, as nginx says its
// start-up problems on the terminal. Off by default.
void set_echo_to_stderr(bool on);
bool enabled(Level level);

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// As write(), with " (N similar messages suppressed)" appended when `suppressed` > 0.
void write_counted(Level level, uint64_t suppressed, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// CLOCK_MONOTONIC_COARSE in milliseconds: the clock LOG_LIMITED reads.
int64_t monotonic_ms();

// Lets one line per window through and counts the lines held back, so that a cause which
// repeats with every request (a full queue, a refusing backend) logs at most once a window
// however heavy the load. One RateLimit stands for one cause, usually one call site
// (LOG_LIMITED). Threads may share it: lock-free; when they race, a held-back line may be
// counted in the next window, never lost, and at most one line per window passes.
class RateLimit {
 public:
  explicit constexpr RateLimit(int64_t window_ms = 1000) : window_ms_(window_ms) {}

  // True when a line may be written at `now_ms` (any monotonic clock); `suppressed` is then
  // set to the number of lines held back since the previous one that passed. False: the line
  // is counted and must not be written.
  bool admit(int64_t now_ms, uint64_t& suppressed);

 private:
  const int64_t window_ms_;
  std::atomic<int64_t> next_ms_{std::numeric_limits<int64_t>::min()};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace askr::log

#define ASKR_LOG(level, ...)                                      \
  do {                                                            \
    if (::askr::log::enabled(::askr::log::Level::level))          \
      ::askr::log::write(::askr::log::Level::level, __VA_ARGS__); \
  } while (0)
#define LOG_ERROR(...) ASKR_LOG(kError, __VA_ARGS__)
#define LOG_WARN(...) ASKR_LOG(kWarn, __VA_ARGS__)
#define LOG_INFO(...) ASKR_LOG(kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) ASKR_LOG(kDebug, __VA_ARGS__)

// A RateLimit of its own for the place where this is written (one static per expansion, for
// the whole process). For code that logs on behalf of its callers: each caller passes
// LOG_LIMIT_SITE() so that each cause keeps its own window.
#define LOG_LIMIT_SITE()                             \
  ([]() -> ::askr::log::RateLimit& {                 \
    static constinit ::askr::log::RateLimit site_{}; \
    return site_;                                    \
  }())

// For lines that can repeat with every request: at most one line a second through `limit` (a
// RateLimit&), the next one after that says how many were suppressed meanwhile.
// LOG_LIMITED(kWarn, "pool %s: queue full", name) limits per call site.
#define LOG_LIMITED_AT(limit, level, ...)                                                   \
  do {                                                                                      \
    uint64_t askr_suppressed_ = 0;                                                          \
    if (::askr::log::enabled(::askr::log::Level::level) &&                                  \
        (limit).admit(::askr::log::monotonic_ms(), askr_suppressed_))                       \
      ::askr::log::write_counted(::askr::log::Level::level, askr_suppressed_, __VA_ARGS__); \
  } while (0)
#define LOG_LIMITED(level, ...) LOG_LIMITED_AT(LOG_LIMIT_SITE(), level, __VA_ARGS__)
