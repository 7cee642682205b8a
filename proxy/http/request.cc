#include "http/request.h"

#include "http/h1_parser.h"

namespace askr::http {

std::string_view Request::find(std::string_view name) const {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

void Request::reset() {
  method = scheme = authority = target = path = query = protocol = {};
  headers.clear();
  body = BodyKind::kNone;
  content_length = 0;
  is_head = false;
  conn = nullptr;
  start_ms = 0;
  normalized.clear();
  path_ok = false;
  for (std::string_view& v : known_) v = {};
  storage_.clear();
}

void Request::trim() {
  constexpr size_t kKeepBytes = 16384, kKeepHeaders = 128;
  if (storage_.capacity() > kKeepBytes) std::string().swap(storage_);
  if (normalized.capacity() > kKeepBytes) std::string().swap(normalized);
  if (headers.capacity() > kKeepHeaders) std::vector<Header>().swap(headers);
}

const char* Request::adopt(std::string_view bytes) {
  storage_.assign(bytes);
  return storage_.data();
}

}  // namespace askr::http
