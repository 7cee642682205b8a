#include "http/response.h"

namespace askr::http {

void Response::add(std::string_view name, std::string_view value) {
  if (more_.empty() && nfields_ < kInlineFields) {
    fields_[nfields_++] = {name, value};
    return;
  }
  if (more_.empty()) more_.assign(fields_, fields_ + nfields_);
  more_.push_back({name, value});
}

std::string_view Response::keep(std::string_view s) {
  char* p;
  if (s.size() <= sizeof arena_ - arena_used_) {
    p = arena_ + arena_used_;
    arena_used_ += s.size();
  } else {
    blocks_.push_back(std::make_unique<char[]>(s.size()));
    p = blocks_.back().get();
  }
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

std::string_view error_body(int status) {
  switch (status) {
#define ASKR_BODY(code, text) \
  case code:                  \
    return #code " " text "\n";
    ASKR_BODY(400, "Bad Request")
    ASKR_BODY(403, "Forbidden")
    ASKR_BODY(404, "Not Found")
    ASKR_BODY(405, "Method Not Allowed")
    ASKR_BODY(408, "Request Timeout")
    ASKR_BODY(411, "Length Required")
    ASKR_BODY(412, "Precondition Failed")
    ASKR_BODY(413, "Content Too Large")
    ASKR_BODY(414, "URI Too Long")
    ASKR_BODY(416, "Range Not Satisfiable")
    ASKR_BODY(417, "Expectation Failed")
    ASKR_BODY(431, "Request Header Fields Too Large")
    ASKR_BODY(500, "Internal Server Error")
    ASKR_BODY(501, "Not Implemented")
    ASKR_BODY(502, "Bad Gateway")
    ASKR_BODY(503, "Service Unavailable")
    ASKR_BODY(504, "Gateway Timeout")
    ASKR_BODY(505, "HTTP Version Not Supported")
#undef ASKR_BODY
    default:
      return "error\n";
  }
}

}  // namespace askr::http
