#include "handlers/path.h"

#include <array>
#include <cstdint>

#include "shared/base/hex.h"

namespace askr::handlers {

namespace {

// The bytes normalize_path() looks at twice: '%', NUL and '/' (a path is plain unless a '/' is
// followed by '/' or '.').
constexpr std::array<bool, 256> kPathMark = [] {
  std::array<bool, 256> t{};
  t['%'] = t['\0'] = t['/'] = true;
  return t;
}();

// Closes the segment that starts at out[seg] (just after a '/'). A "." segment is dropped; a
// ".." segment is dropped together with the segment before it. Either way `out` is left ending
// in '/'.
PathError close_segment(std::string& out, size_t seg) {
  const std::string_view s = std::string_view(out).substr(seg);
  if (s == ".") {
    out.resize(seg);
  } else if (s == "..") {
    if (seg == 1) return PathError::kAboveRoot;
    // out[seg - 1] is the '/' that ends the parent segment; cut back to the '/' before it.
    out.resize(out.rfind('/', seg - 2) + 1);
  }
  return PathError::kNone;
}

// Decodes the byte at raw[i] (a '%' escape or a plain byte) into `c`, advancing `i`.
PathError decode_byte(std::string_view raw, size_t& i, char& c) {
  c = raw[i];
  if (c == '%') {
    if (raw.size() - i < 3) return PathError::kBadEscape;
    const int hi = base::hex_value(raw[i + 1]);
    const int lo = base::hex_value(raw[i + 2]);
    if (hi < 0 || lo < 0) return PathError::kBadEscape;
    c = static_cast<char>(hi << 4 | lo);
    i += 3;
    if (c == '/') {
      c = kEncodedSlash;
      return PathError::kNone;
    }
  } else {
    ++i;
  }
  return c == '\0' ? PathError::kNul : PathError::kNone;
}

// Whether `path`, normalized, climbs above the root with its encoded slashes taken as '/', as
// nginx takes them: such a "..%2f" is refused (400) as a plain one is, though it is a name
// otherwise.
bool climbs_as_nginx(std::string_view path) {
  int depth = 0;
  for (size_t i = 1, start = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/' && path[i] != kEncodedSlash) continue;
    const std::string_view piece = path.substr(start, i - start);
    if (piece == "..") {
      if (--depth < 0) return true;
    } else if (!piece.empty() && piece != ".") {
      ++depth;
    }
    start = i + 1;
  }
  return false;
}

// pchar (RFC 3986 §3.3) and '/', less pct-encoded: the bytes a URI path carries as they are.
bool is_path_char(unsigned char c) {
  constexpr std::string_view kPunct = "-._~!$&'()*+,;=:@/";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && kPunct.find(char(c)) != std::string_view::npos);
}

// True when `raw` (absolute) is its own normal form: no escape, no NUL and no empty or dot
// segment. Most bytes cost one look-up.
bool is_plain(std::string_view raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (!kPathMark[static_cast<uint8_t>(c)]) continue;
    if (c != '/' || (i + 1 < raw.size() && (raw[i + 1] == '/' || raw[i + 1] == '.'))) {
      return false;
    }
  }
  return true;
}

// normalize_path() of a path that is not plain, byte by byte (out of line: the plain path
// then needs none of its registers).
[[gnu::noinline]] PathError normalize_bytes(std::string_view raw, std::string& out) {
  out.reserve(raw.size());
  out.push_back('/');
  size_t seg = 1;  // where the current segment starts in `out`
  size_t i = 1;
  bool slashed = false;  // an encoded slash was decoded
  for (;;) {
    if (i == raw.size() || raw[i] == '/') {
      if (PathError e = close_segment(out, seg); e != PathError::kNone) return e;
      if (i == raw.size()) {
        return slashed && climbs_as_nginx(out) ? PathError::kAboveRoot : PathError::kNone;
      }
      if (out.back() != '/') out.push_back('/');
      seg = out.size();
      ++i;
      continue;
    }
    char c;
    if (PathError e = decode_byte(raw, i, c); e != PathError::kNone) return e;
    out.push_back(c);
    slashed = slashed || c == kEncodedSlash;
  }
}

}  // namespace

const char* path_error_name(PathError e) {
  switch (e) {
    case PathError::kNone:
      return "none";
    case PathError::kNotAbsolute:
      return "path not absolute";
    case PathError::kBadEscape:
      return "bad percent-escape";
    case PathError::kNul:
      return "NUL in path";
    case PathError::kAboveRoot:
      return "path climbs above root";
  }
  return "unknown";
}

PathError normalize_path(std::string_view raw, std::string& out) {
  out.clear();
  if (raw.empty() || raw[0] != '/') return PathError::kNotAbsolute;
  // The usual path is its own normal form: copied in one piece rather than byte by byte.
  if (is_plain(raw)) {
    out.assign(raw);
    return PathError::kNone;
  }
  return normalize_bytes(raw, out);
}

PathError decode_slashes(std::string_view part, std::string& out) {
  out.clear();
  if (part.find(kEncodedSlash) == std::string_view::npos) {
    out.assign(part);  // the usual PATH_INFO: normalized already
    return PathError::kNone;
  }
  out.push_back('/');
  size_t seg = 1;
  for (size_t i = 1;; ++i) {
    if (i == part.size() || part[i] == '/' || part[i] == kEncodedSlash) {
      if (PathError e = close_segment(out, seg); e != PathError::kNone) return e;
      if (i == part.size()) return PathError::kNone;
      if (out.back() != '/') out.push_back('/');
      seg = out.size();
    } else {
      out.push_back(part[i]);
    }
  }
}

void append_encoded_path(std::string_view path, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_path_char(c)) {
      out += ch;
    } else if (ch == kEncodedSlash) {
      out += "%2F";
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
}

}  // namespace askr::handlers
