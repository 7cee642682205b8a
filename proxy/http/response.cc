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

// IANA's HTTP Status Code Registry, with RFC 9110's names (413 "Content Too Large", 422
// "Unprocessable Content"). 306 and 418 are registered as unused: no phrase, as nginx sends none.
std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 207:
      return "Multi-Status";
    case 208:
      return "Already Reported";
    case 226:
      return "IM Used";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 423:
      return "Locked";
    case 424:
      return "Failed Dependency";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
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
    case 506:
      return "Variant Also Negotiates";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 510:
      return "Not Extended";
    case 511:
      return "Network Authentication Required";
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
