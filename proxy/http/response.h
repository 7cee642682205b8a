// The protocol-neutral response a handler produces. The HTTP/1.1 writer (and later HTTP/2)
// turns it into bytes; handlers never format a status line themselves.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace askr::http {

struct Response {
  struct Field {
    std::string_view name;
    std::string_view value;
  };
  enum class Body : uint8_t { kNone, kInline, kFile };

  Response() = default;
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  int status = 200;

  Body body = Body::kNone;
  std::string_view inline_body;  // kInline: static storage or the arena
  int file_fd = -1;              // kFile: the writer owns it from here and closes it
  uint64_t file_offset = 0;
  uint64_t content_length = 0;  // kInline and kFile: body size (also sent for HEAD)
  bool close = false;           // the handler wants the connection closed after this
  // kFile: the writer closes file_fd when done. False when body_owner keeps the file open.
  bool file_owned = true;
  // kInline from a cached file that is also kept open: the same bytes are at
  // inline_file_offset in this file (body_owner keeps it open), for a writer whose transport
  // would rather sendfile them from the page cache than copy them. -1: no such file.
  int inline_file_fd = -1;
  uint64_t inline_file_offset = 0;
  // Keeps the inline body or the file alive until the writer has sent it (a cache entry that
  // may be dropped meanwhile). Null when the body is static text or in the arena.
  std::shared_ptr<const void> body_owner;

  // Adds a field; the views must outlive the response (static text or keep()). Beyond the
  // inline slots the fields move to the heap: nothing is ever dropped. Defined here: every
  // response gets a few, and the common case is a store.
  void add(std::string_view name, std::string_view value) {
    if (nfields_ < kInlineFields) [[likely]] {  // more_ is used once these are full
      fields_.at[nfields_++] = {name, value};
      return;
    }
    add_more(name, value);
  }
  std::span<const Field> fields() const {
    return more_.empty() ? std::span<const Field>(fields_.at, nfields_)
                         : std::span<const Field>(more_);
  }
  // Copies `s` into the response's own storage, for values built on the stack. Values that do
  // not fit the inline arena get a heap block of their own, so earlier views stay valid.
  std::string_view keep(std::string_view s);
  // Makes `body_text` the body. A file that held the bytes of an earlier inline body does not
  // hold these: it is forgotten, so that no writer sends it instead.
  void set_inline(std::string_view body_text, std::string_view content_type) {
    body = Body::kInline;
    inline_body = body_text;
    inline_file_fd = -1;
    inline_file_offset = 0;
    content_length = body_text.size();
    add("Content-Type", content_type);
  }

 private:
  static constexpr size_t kInlineFields = 16;
  void add_more(std::string_view name, std::string_view value);

  // The inline slots, each written as add() fills it: a response does not clear all 16 (512
  // bytes) first. Field's assignment is trivial, so the first one begins the array's life.
  union Slots {
    Slots() {}
    Field at[kInlineFields];
  } fields_;
  uint8_t nfields_ = 0;
  std::vector<Field> more_;  // all fields, once there are more than kInlineFields
  char arena_[1024];
  size_t arena_used_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;  // keep() beyond the arena
};

// The registered reason phrase: "Not Found" for 404, "" for codes not registered.
std::string_view reason_phrase(int status);

// A short text body for a status, as the status line names it: "404 Not Found\n" (a
// redirect's "301 Moved Permanently\n"); "error\n" for a status without a reason phrase.
std::string_view error_body(int status);

}  // namespace askr::http
