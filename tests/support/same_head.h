// Field-by-field equality of two parsed HTTP/1.1 heads, for the parser's tests and fuzz target
// (resumable parsing must give what one-shot parsing gives).
#pragma once

#include "http/h1_parser.h"

namespace askr::test_support {

inline bool same_head(const http::RequestHead& a, const http::RequestHead& b) {
  if (a.headers.size() != b.headers.size()) return false;
  for (size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) {
      return false;
    }
  }
  return a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query &&
         a.version_minor == b.version_minor && a.host == b.host && a.framing == b.framing &&
         a.content_length == b.content_length && a.keep_alive == b.keep_alive &&
         a.expect_continue == b.expect_continue && a.is_head == b.is_head && a.fields == b.fields;
}

}  // namespace askr::test_support
