// Request-path normalization for handlers that map a URL onto a file tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace askr::handlers {

// Why a request path was refused. Every error except kNone should be answered with 400.
enum class PathError : uint8_t {
  kNone,
  kNotAbsolute,  // does not start with '/'
  kBadEscape,    // '%' not followed by two hex digits
  kNul,          // raw NUL or %00
  kAboveRoot,    // a ".." segment would climb above "/", or would with encoded slashes as '/'
};

// What normalize_path writes for an encoded slash (%2F or %2f): a NUL, which a normalized path
// holds no other way (a NUL is refused) and which no file name can hold. It is an ordinary byte
// of its segment, never a segment boundary, so "..%2f" is no dot-segment and decoding never
// invents a boundary; a path holding it names no file (StaticSite::relative). Only PATH_INFO
// has it as '/' (decode_slashes), as nginx gives it.
inline constexpr char kEncodedSlash = '\0';

// A short constant name for logs ("bad escape", ...). Never null.
const char* path_error_name(PathError e);

// Percent-decodes and normalizes the path part of a request target into `out`.
//
// `raw` is the path only: the caller has split off "?query" (and any "#fragment"). The steps are
// decode first, then resolve dot-segments, so "%2e%2e" and ".%2e" are ".." like the plain form.
// An encoded slash becomes kEncodedSlash, not '/': decoding never invents a segment boundary,
// and a segment is a dot-segment exactly when its decoded bytes are "." or "..".
//
//  - collapses runs of '/' ("//" -> "/"),
//  - removes "." segments and resolves ".." segments against the preceding segment,
//  - keeps a trailing '/' ("/a/" stays "/a/", and "/a/b/.." becomes "/a/"),
//  - leaves every other byte as decoded, including '\\' (from a raw backslash or %5C): on Linux
//    a backslash is an ordinary file-name byte, as nginx treats it, so it cannot climb a level.
//    Bytes >= 0x80 are passed through; checking UTF-8 is not this function's business.
//
// On kNone, `out` starts with '/', and contains no "//", no "/./" or "/../" (nor ends with "/."
// or "/.."), and no NUL but kEncodedSlash where `raw` had an encoded slash; decode_slashes(out)
// does not climb above its root either (nginx answers 400 for "/..%2f" too); it is never longer
// than `raw`. On an error `out` holds garbage.
// Does not allocate when `out` already has capacity for `raw.size()` bytes.
PathError normalize_path(std::string_view raw, std::string& out);

// Writes `part` (the tail of a normalized path from one of its '/', such as PATH_INFO) into `out`
// with each kEncodedSlash as '/', the dot-segments that this makes resolved as normalize_path
// resolves them, and the empty segments it makes collapsed: "/a%2F..%2Fb" is "/b", as nginx
// decodes and merges it. kAboveRoot when a ".." would climb above the start of `part`.
PathError decode_slashes(std::string_view part, std::string& out);

// Appends `path` (a decoded path, as normalize_path writes it) to `out` as the path of a URI:
// every byte but the unreserved ones, the sub-delims, ':', '@' and '/' is percent-encoded
// (upper-case hex, kEncodedSlash as "%2F"), so '%', '?', '#', spaces, controls and bytes >= 0x80
// cannot change what the URI means. Decoding the result gives `path` back.
void append_encoded_path(std::string_view path, std::string& out);

}  // namespace askr::handlers
