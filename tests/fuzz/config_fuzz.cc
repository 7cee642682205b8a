// libFuzzer target for the config's nesting pre-scan (check_nesting), which reads any bytes of a
// config file before toml++ does. Invariants: a refusal's position lies in the text (line and
// column from 1, no line past the last); a bound that refuses the text, any lower bound refuses
// too, no later in it (the scan counts levels the same way whatever the bound).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

#include "shared/config/nesting.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
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
  return 0;
}
