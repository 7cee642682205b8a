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

// Header fields the server itself reads (http::Known), indexed while parsing so that nobody
// scans the header list for them (see RequestHead::get).
using Field = Known;

inline constexpr size_t kFieldCount = static_cast<size_t>(Field::kCount);

// The lowercase name of an indexed field ("content-type", ...).
std::string_view field_name(Field f);

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
  // Values of the indexed fields, by Field: the first occurrence of each, exactly what
  // find(field_name(f)) returns; empty when absent. Reset by each parse.
  std::array<std::string_view, kFieldCount> fields{};

  // Case-insensitive lookup of the first header with this name, or an empty view.
  std::string_view find(std::string_view name) const;
  // The indexed field `f` (no scan).
  std::string_view get(Field f) const { return fields[static_cast<size_t>(f)]; }
};

enum class ParseState : uint8_t { kDone, kNeedMore, kError };

struct ParseResult {
  ParseState state;
  size_t head_length = 0;   // kDone: bytes of the head, including the final empty line
  int status = 0;           // kError: HTTP status to answer (400, 414, 417, 431, 501, 505)
  const char* reason = "";  // kError: short static text for the log
};

// What the header fields said so far about framing, connection handling and the index. Owned by
// the parser (kept in ParseProgress between calls); callers do not read it.
struct FieldState {
  bool has_content_length = false;
  bool has_host = false;
  bool has_te = false;
  bool te_last_chunked = false;
  bool te_other_coding = false;
  bool expect_other = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  int te_elements = 0;
  int te_chunked = 0;
  uint16_t indexed = 0;  // bit per Field already seen (first occurrence wins)
};

// Where a resumable parse of one request head stands between calls. Default-construct one for
// each new request; reset it (assign {}) after kDone or kError. Holds offsets into the caller's
// buffer, never pointers, so the buffer may move between calls.
struct ParseProgress {
  // Bytes the parser scanned for this request, over all calls (always counted, one add per scan).
  // For a head of N bytes whose request line has L bytes it stays within 2(N + L) + a few,
  // however the head arrives (N + L when it arrives in one call).
  uint64_t examined = 0;

  // The parser's own state; do not touch.
  uint8_t phase = 0;        // which part of the head is being read
  uint8_t empty_lines = 0;  // empty lines skipped before the request line
  bool resumed = false;     // an earlier call saw this request: views it wrote are stale
  size_t start = 0;         // offset of the request line
  size_t line = 0;          // offset of the first field line not yet complete
  size_t pos = 0;           // offset where scanning resumes
  size_t name_end = 0;      // offset of the ':' of the current field line
  size_t value = 0;         // offset of the current field value (after leading OWS)
  size_t field_count = 0;   // complete field lines so far
  FieldState fs;
};

// Parses one request head at the start of `data`, one-shot: `head` is overwritten by every call
// and is meaningful only after kDone. When more bytes arrive the caller may call again with the
// whole (longer) buffer, but each call reads everything again: use the resumable form below for
// a head that arrives in pieces. Up to 8 empty lines before the request line are skipped (and
// counted in head_length). On kNeedMore the limits are checked against what is there so far
// (request line longer than max_request_line with no LF yet -> 414; head longer than
// max_header_size -> 431), and every complete line (and any complete part of a line) has been
// checked, so a caller can reject without waiting for the end. Any kError means the connection
// must be closed after answering `status`.
ParseResult parse_request(std::string_view data, const ParseLimits& limits, RequestHead& head);

// Resumable form. Each call returns exactly what the one-shot form returns for the same `data`,
// but reads only what earlier calls have not (total work O(N) for an N-byte head, however it is
// split). Contract:
//  - `progress` is default-constructed for each new request and passed to every call for that
//    request; the caller resets it after kDone or kError (and then must not call again with it
//    before resetting).
//  - Each call passes the same bytes as the call before, possibly followed by more: a growing
//    buffer whose old bytes are unchanged. It may have been moved or reallocated between calls;
//    the parser keeps only offsets. `limits` must be the same on every call.
//  - `head` is written on every call and is meaningful only after kDone; then all its views
//    point into the `data` of that last call. Pass the same RequestHead each time (a different
//    one is harmless, but its header vector's capacity is what gets reused).
//  - When the head completes in a call after the first, the complete head is parsed once more
//    to fill `head` with views into the current buffer (counted in progress.examined).
ParseResult parse_request(std::string_view data, const ParseLimits& limits, RequestHead& head,
                          ParseProgress& progress);

// Character classes of RFC 9110 §5.6.2 and §5.5, shared with the chunked decoder.
namespace chars {

enum : uint8_t {
  kTchar = 1,      // token character
  kFieldChar = 2,  // field-value octet: VCHAR / obs-text / SP / HTAB
  kHostChar = 4,   // A-Z a-z 0-9 - . _ ~ : [ ]
  kHostDelim = 8,  // : [ ] (a port's, an IP literal's)
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
    if (c == ':' || c == '[' || c == ']') v |= kHostDelim;
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
