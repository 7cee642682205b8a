#include "shared/config/units.h"

#include <array>
#include <utility>

namespace askr::config {

namespace {

constexpr char kSizeForm[] = "expected a number of bytes, optionally followed by k, m or g";
constexpr char kDurationForm[] =
    "expected a number of seconds, or a number followed by ms, s, m or h";

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_lower(std::string_view text, std::string_view lower_word) {
  if (text.size() != lower_word.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (lower(text[i]) != lower_word[i]) return false;
  }
  return true;
}

// Splits "123abc" into its leading digits and the rest. Returns false when there are no digits
// or the number does not fit in 64 bits (`overflow` tells which).
bool split_number(std::string_view text, uint64_t& number, std::string_view& unit, bool& overflow) {
  size_t i = 0;
  number = 0;
  overflow = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (__builtin_mul_overflow(number, 10u, &number) ||
        __builtin_add_overflow(number, static_cast<uint64_t>(text[i] - '0'), &number)) {
      overflow = true;
      return false;
    }
  }
  unit = text.substr(i);
  return i > 0;
}

// Parses digits followed by one of `units` (factor per unit), the empty unit included.
template <size_t N>
Result<uint64_t> parse_scaled(std::string_view text,
                              const std::array<std::pair<std::string_view, uint64_t>, N>& units,
                              const char* form) {
  uint64_t number = 0;
  std::string_view unit;
  bool overflow = false;
  if (!split_number(text, number, unit, overflow)) {
    return Error{EINVAL, overflow ? "too large" : form};
  }
  for (const auto& [name, factor] : units) {
    if (!equals_lower(unit, name)) continue;
    uint64_t scaled = 0;
    if (__builtin_mul_overflow(number, factor, &scaled)) return Error{ERANGE, "too large"};
    return scaled;
  }
  return Error{EINVAL, form};
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 4> kUnits = {{
      {"", 1},
      {"k", uint64_t{1} << 10},
      {"m", uint64_t{1} << 20},
      {"g", uint64_t{1} << 30},
  }};
  return parse_scaled(text, kUnits, kSizeForm);
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 5> kUnits = {{
      {"", 1000},
      {"ms", 1},
      {"s", 1000},
      {"m", 60 * 1000},
      {"h", 60 * 60 * 1000},
  }};
  Result<uint64_t> ms = parse_scaled(text, kUnits, kDurationForm);
  if (!ms) return ms.error();
  if (*ms > static_cast<uint64_t>(std::chrono::milliseconds::max().count())) {
    return Error{ERANGE, "too large"};
  }
  return std::chrono::milliseconds(static_cast<int64_t>(*ms));
}

std::string format_size(uint64_t bytes) {
  static constexpr std::array<std::pair<char, unsigned>, 3> kUnits = {{
      {'g', 30},
      {'m', 20},
      {'k', 10},
  }};
  if (bytes == 0) return "0";
  for (const auto& [unit, shift] : kUnits) {
    const uint64_t factor = uint64_t{1} << shift;
    if (bytes % factor == 0) return std::to_string(bytes / factor) + unit;
  }
  return std::to_string(bytes);
}

std::string format_duration(std::chrono::milliseconds d) {
  static constexpr std::array<std::pair<std::string_view, int64_t>, 3> kUnits = {{
      {"h", 60 * 60 * 1000},
      {"m", 60 * 1000},
      {"s", 1000},
  }};
  const int64_t ms = d.count();
  if (ms == 0) return "0s";
  for (const auto& [unit, factor] : kUnits) {
    if (ms % factor == 0) return std::to_string(ms / factor) + std::string(unit);
  }
  return std::to_string(ms) + "ms";
}

}  // namespace askr::config
