// HTTP/1.1 request head parser (RFC 9112 §2-§7). Protocol code only: bytes in, a parsed head or
// a status to answer out; no I/O, no allocation beyond the reused headers vector.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace askr::http {

enum class BodyFraming : uint8_t { kNone, kContentLength, kChunked };

struct ParseLimits {
  size_t max_request_line = 8192;  // longer request line -> 414
  size_t max_header_size = 32768;  // whole head (request line + headers) longer -> 431
  size_t max_headers = 100;        // more header fields -> 431
};

// One parsed request head. All views point into the buffer given to parse_request and are valid
// as long as that buffer is alive and unchanged.
struct RequestHead {
  std::string_view method;  // as sent (case-sensitive token)
  std::string_view target;  // request-target as sent
  // origin-form: target before '?'; absolute-form: its path (the '/' of "://" when empty);
  // asterisk-form: "*"; authority-form (CONNECT): empty.
  std::string_view path;
  std::string_view query;       // after '?', without it; empty if none
  uint8_t version_minor = 1;    // 0 or 1 (HTTP/1.2..1.9 are read as 1)
  std::vector<Header> headers;  // cleared (capacity kept) by each parse
  // Host header, or the authority of an absolute-form target (wins over Host), or the
  // authority-form target of CONNECT.
  std::string_view host;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;   // valid when framing == kContentLength (may be 0)
  bool keep_alive = true;        // 1.1: unless "Connection: close"; 1.0: only with keep-alive
  bool expect_continue = false;  // "Expect: 100-continue" on an HTTP/1.1 request
  bool is_head = false;          // method == "HEAD"

  // Case-insensitive lookup of the first header with this name, or an empty view.
  std::string_view find(std::string_view name) const;
};

enum class ParseState : uint8_t { kDone, kNeedMore, kError };

struct ParseResult {
  ParseState state;
  size_t head_length = 0;   // kDone: bytes of the head, including the final empty line
  int status = 0;           // kError: HTTP status to answer (400, 414, 417, 431, 501, 505)
  const char* reason = "";  // kError: short static text for the log
};

// Parses one request head at the start of `data`. Stateless: when more bytes arrive the caller
// calls again with the whole (longer) buffer; `head` is overwritten by every call and is
// meaningful only after kDone. Up to 8 empty lines before the request line are skipped (and
// counted in head_length). On kNeedMore the limits are checked against what is there so far
// (request line longer than max_request_line with no LF yet -> 414; head longer than
// max_header_size -> 431), so a caller can reject without waiting for the end. Any kError means
// the connection must be closed after answering `status`.
ParseResult parse_request(std::string_view data, const ParseLimits& limits, RequestHead& head);

// Character classes of RFC 9110 §5.6.2 and §5.5, shared with the chunked decoder.
namespace chars {

enum : uint8_t {
  kTchar = 1,      // token character
  kFieldChar = 2,  // field-value octet: VCHAR / obs-text / SP / HTAB
  kHostChar = 4,   // A-Z a-z 0-9 - . _ ~ : [ ]
};

constexpr std::array<uint8_t, 256> make_table() {
  std::array<uint8_t, 256> t{};
  constexpr std::string_view kTcharPunct = "!#$%&'*+-.^_`|~";
  constexpr std::string_view kHostPunct = "-._~:[]";
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    uint8_t v = 0;
    if (alnum || kTcharPunct.find(static_cast<char>(c)) != std::string_view::npos) v |= kTchar;
    if ((c > 0x20 && c != 0x7f) || c == ' ' || c == '\t') v |= kFieldChar;
    if (alnum || kHostPunct.find(static_cast<char>(c)) != std::string_view::npos) v |= kHostChar;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kTable = make_table();

inline bool is(char c, uint8_t cls) {
  return (kTable[static_cast<uint8_t>(c)] & cls) != 0;
}
inline bool is_tchar(char c) {
  return is(c, kTchar);
}
inline bool is_field_char(char c) {
  return is(c, kFieldChar);
}
inline bool is_ws(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace chars

// ASCII case-insensitive equality (header names, coding names and tokens are ASCII).
bool iequals(std::string_view a, std::string_view b);

}  // namespace askr::http
