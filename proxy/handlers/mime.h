// Content-Type by file-name extension.
#pragma once

#include <string_view>

namespace askr::handlers {

// The Content-Type for `path`, chosen by the extension of its last segment (the bytes after the
// last '.' that follows the last '/'), compared case-insensitively against a built-in table of
// common web types. Text types carry "; charset=utf-8". Unknown or missing extensions, and a
// name that is only a dot-prefix ("/.profile" has extension "profile" and is unknown), give
// "application/octet-stream". Pre-compressed siblings are the caller's concern: look up the
// original name, not "x.css.br" ("br" is not in the table).
// The returned view points at static storage. Does not allocate.
std::string_view mime_type(std::string_view path);

}  // namespace askr::handlers
