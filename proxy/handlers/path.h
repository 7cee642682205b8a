// Request-path normalization for handlers that map a URL onto a file tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace askr::handlers {

// Why a request path was refused. Every error except kNone should be answered with 400.
enum class PathError : uint8_t {
  kNone,
  kNotAbsolute,   // does not start with '/'
  kBadEscape,     // '%' not followed by two hex digits
  kNul,           // raw NUL or %00
  kEncodedSlash,  // %2F or %2f: refused so decoding can never create a segment boundary
  kAboveRoot,     // a ".." segment would climb above "/"
};

// A short constant name for logs ("bad escape", ...). Never null.
const char* path_error_name(PathError e);

// Percent-decodes and normalizes the path part of a request target into `out`.
//
// `raw` is the path only: the caller has split off "?query" (and any "#fragment"). The steps are
// decode first, then resolve dot-segments, so "%2e%2e" and ".%2e" are ".." like the plain form.
// Because an encoded slash is refused, decoding never invents a segment boundary, and a
// segment is a dot-segment exactly when its decoded bytes are "." or "..".
//
//  - collapses runs of '/' ("//" -> "/"),
//  - removes "." segments and resolves ".." segments against the preceding segment,
//  - keeps a trailing '/' ("/a/" stays "/a/", and "/a/b/.." becomes "/a/"),
//  - leaves every other byte as decoded, including '\\' (from a raw backslash or %5C): on Linux
//    a backslash is an ordinary file-name byte, as nginx treats it, so it cannot climb a level.
//    Bytes >= 0x80 are passed through; checking UTF-8 is not this function's business.
//
// On kNone, `out` starts with '/', and contains no "//", no "/./" or "/../" (nor ends with "/."
// or "/.."), and no NUL; it is never longer than `raw`. On an error `out` holds garbage.
// Does not allocate when `out` already has capacity for `raw.size()` bytes.
PathError normalize_path(std::string_view raw, std::string& out);

// Appends `path` (a decoded path, as normalize_path writes it) to `out` as the path of a URI:
// every byte but the unreserved ones, the sub-delims, ':', '@' and '/' is percent-encoded
// (upper-case hex), so '%', '?', '#', spaces, controls and bytes >= 0x80 cannot change what the
// URI means. Decoding the result gives `path` back.
void append_encoded_path(std::string_view path, std::string& out);

}  // namespace askr::handlers
