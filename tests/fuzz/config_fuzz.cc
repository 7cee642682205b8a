// libFuzzer target for the config's nesting pre-scan (check_nesting), which reads any bytes of a
// config file before toml++ does. Invariants: a refusal's position lies in the text (line and
// column from 1, no line past the last); a bound that refuses the text, any lower bound refuses
// too, no later in it (the scan counts levels the same way whatever the bound). The sizes and
// durations of the config's values too: what parses prints back to the same value, and what
// prints parses back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "shared/config/nesting.h"
#include "shared/config/units.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// A value's text, and the first 8 bytes as a number, through parse and format both ways.
void check_units(std::string_view text) {
  using askr::Result;
  using askr::config::format_duration, askr::config::format_size;
  using askr::config::parse_duration, askr::config::parse_size;
  if (Result<uint64_t> bytes = parse_size(text)) {
    check(!text.empty());
    Result<uint64_t> again = parse_size(format_size(*bytes));
    check(again.ok() && *again == *bytes);
  } else {
    check(!bytes.error().message.empty());
  }
  if (Result<std::chrono::milliseconds> d = parse_duration(text)) {
    check(d->count() >= 0);
    Result<std::chrono::milliseconds> again = parse_duration(format_duration(*d));
    check(again.ok() && *again == *d);
  } else {
    check(!d.error().message.empty());
  }
  uint64_t n = 0;
  std::memcpy(&n, text.data(), std::min(text.size(), sizeof n));
  Result<uint64_t> bytes = parse_size(format_size(n));
  check(bytes.ok() && *bytes == n);
  std::chrono::milliseconds ms(int64_t(n >> 1));  // every non-negative duration
  Result<std::chrono::milliseconds> d = parse_duration(format_duration(ms));
  check(d.ok() && *d == ms);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using askr::config::check_nesting;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t lines = 1 + size_t(std::count(text.begin(), text.end(), '\n'));
  std::optional<askr::config::NestingError> shallow = check_nesting(text, 3);
  std::optional<askr::config::NestingError> deeper = check_nesting(text, 4);
  for (const auto* e : {&shallow, &deeper}) {
    if (!*e) continue;
    check((*e)->line >= 1 && (*e)->line <= lines && (*e)->column >= 1);
    check(!(*e)->message.empty());
  }
  if (deeper) {
    check(shallow.has_value());
    check(std::pair(shallow->line, shallow->column) <= std::pair(deeper->line, deeper->column));
  }
  check_nesting(text);  // the default bound, as the loader uses it
  check_units(text.substr(0, 64));
  return 0;
}
