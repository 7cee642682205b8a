// Loading askr.toml into a Config, with every problem reported the way `nginx -t` does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/config.h"

namespace askr::config {

// One problem in a config file, located like a compiler error.
struct Diagnostic {
  std::string file;     // the path as given to load_file() / load_string()
  uint32_t line = 0;    // 1-based; 0 only when the file could not be read at all
  uint32_t column = 0;  // 1-based; 0 when line is 0
  std::string message;  // one line, no trailing newline

  // "FILE:LINE:COLUMN: message", or "FILE: message" when there is no position.
  std::string to_string() const;
};

// `config` is set if and only if `errors` is empty. Errors are sorted by position.
struct LoadResult {
  std::optional<Config> config;
  std::vector<Diagnostic> errors;
  std::string text;  // load_file(): the bytes it read
};

// Reads and validates the file at `path`. Every problem is reported, not only the first: TOML
// syntax (one diagnostic, as the parser stops there), unknown keys, wrong types, values out of
// range, missing required entries, site roots and temp_dir that are not directories, duplicate
// listen addresses, server names, pool names and route prefixes, a 'php' naming no [[pool]].
// Relative paths in the file are resolved against the directory of `path`. Touches the file
// system only to read `path` and to resolve site roots and temp_dir (realpath); log files are
// neither opened nor created, and FastCGI sockets are not looked at.
LoadResult load_file(const std::string& path);

// As load_file(), with the document given as `text`. `path` names it in diagnostics and its
// directory (relative to the current directory when `path` is relative) anchors relative paths;
// the file need not exist.
LoadResult load_string(std::string_view text, const std::string& path);

}  // namespace askr::config
