// The error log: one line per event, written with a single write(2) so lines from several
// threads never interleave. Format like nginx's: "2026/11/23 05:30:00 [warn] 12#3: message".
#pragma once

#include <cstdarg>
#include <string_view>

namespace askr::log {

enum class Level : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Parses "error" | "warn" | "info" | "debug".
bool parse_level(std::string_view name, Level& out);
void set_level(Level level);
// Where lines go (default 2, stderr). The log does not own the fd.
void set_fd(int fd);
bool enabled(Level level);

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

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
