// A bound on how deep a TOML document nests, checked before toml++ parses it: toml++ builds and
// frees nested tables recursively, so a table header of a few hundred thousand dotted parts
// ("[a.a.a...]") overflows the stack. Inline arrays and tables it bounds itself, at 256.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace askr::config {

// Deeper than any real askr.toml ([[site.route]] keys are 3 levels down) by far, and far below
// what the stack takes (tens of thousands of levels).
constexpr size_t kMaxNesting = 64;

struct NestingError {
  uint32_t line = 0;    // 1-based
  uint32_t column = 0;  // 1-based, in code points as toml++ counts them
  std::string message;
};

// Where `text` first nests deeper than `max_depth` levels: each part of a dotted key (in a table
// header or before '='), each table of an array of tables, each inline array or table is one
// level. Strings and comments are skipped; anything that is not TOML is left for toml++ to
// report.
std::optional<NestingError> check_nesting(std::string_view text, size_t max_depth = kMaxNesting);

}  // namespace askr::config
