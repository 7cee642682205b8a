// The text forms of sizes and durations in askr.toml, parsed and printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/base/result.h"

namespace askr::config {

// Parses a size: decimal digits with an optional binary unit, case-insensitive: "512" = 512,
// "8k" = 8192, "1m" = 1 << 20, "1g" = 1 << 30. No sign, spaces or fractions. The error message
// says why, without repeating the text ("expected ...", "too large").
Result<uint64_t> parse_size(std::string_view text);

// Parses a duration: decimal digits with an optional unit, case-insensitive: "500ms", "60s",
// "2m", "1h"; without a unit, seconds ("60" = 60 s). No sign, spaces, fractions or compound
// forms ("1m30s"). The error message is as for parse_size.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact form parse_size() reads back: 8192 -> "8k", 1000 -> "1000".
std::string format_size(uint64_t bytes);

// The shortest exact form parse_duration() reads back: 60000 ms -> "1m", 1500 ms -> "1500ms".
// Negative durations print with a '-' (parse_duration() does not read those).
std::string format_duration(std::chrono::milliseconds d);

}  // namespace askr::config
