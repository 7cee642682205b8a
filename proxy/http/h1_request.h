// HTTP/1.1 head -> protocol-neutral request. Protocol code: no I/O.
#pragma once

#include <string_view>

#include "http/h1_parser.h"
#include "http/request.h"

namespace askr::http {

// Fills `out` from a parsed head whose views point into `raw` (the head's bytes, as parsed):
// the bytes are copied into the request's storage, the views rebased onto the copy, and the
// parser's index of the fields the server reads carried over. `out` is reset first; its conn is
// left to the caller.
void h1_to_request(const RequestHead& head, std::string_view raw, bool secure, Request& out);

}  // namespace askr::http
