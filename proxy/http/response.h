// The protocol-neutral response a handler produces. The HTTP/1.1 writer (and later HTTP/2)
// turns it into bytes; handlers never format a status line themselves.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace askr::http {

struct Response {
  struct Field {
    std::string_view name;
    std::string_view value;
  };
  enum class Body : uint8_t { kNone, kInline, kFile };

  int status = 200;
  Field fields[16];
  uint8_t nfields = 0;

  Body body = Body::kNone;
  std::string_view inline_body;  // kInline: static storage or the arena
  int file_fd = -1;              // kFile: the writer owns it from here and closes it
  uint64_t file_offset = 0;
  uint64_t content_length = 0;  // kInline and kFile: body size (also sent for HEAD)
  bool close = false;           // the handler wants the connection closed after this

  void add(std::string_view name, std::string_view value) {
    if (nfields < sizeof fields / sizeof fields[0]) fields[nfields++] = {name, value};
  }
  // Copies `s` into the response's own storage, for values built on the stack.
  std::string_view keep(std::string_view s) {
    if (s.size() > sizeof arena_ - arena_used_) return {};
    char* p = arena_ + arena_used_;
    std::memcpy(p, s.data(), s.size());
    arena_used_ += s.size();
    return {p, s.size()};
  }
  void set_inline(std::string_view body_text, std::string_view content_type) {
    body = Body::kInline;
    inline_body = body_text;
    content_length = body_text.size();
    add("Content-Type", content_type);
  }

 private:
  char arena_[1024];
  size_t arena_used_ = 0;
};

// "Not Found" for 404, "" for codes it does not know.
std::string_view reason_phrase(int status);

// A short text body for an error status: "404 Not Found\n".
std::string_view error_body(int status);

}  // namespace askr::http
