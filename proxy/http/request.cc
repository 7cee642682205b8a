#include "http/request.h"

#include <algorithm>

#include "http/h1_parser.h"

namespace askr::http {

bool valid_host(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(),
                                      [](char c) { return chars::is(c, chars::kHostChar); });
}

void split_target(std::string_view target, std::string_view& path, std::string_view& query) {
  target = target.substr(0, target.find('#'));
  size_t q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

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
  length_sent = false;
  is_head = false;
  conn = nullptr;
  start_ms = 0;
  normalized.clear();
  path_ok = false;
  refused = nullptr;
  for (std::string_view& v : known_) v = {};
  storage_.clear();
}

void Request::recycle(size_t room) {
  reset();
  base::keep_or_free(storage_, 4096, room);
  base::keep_or_free(normalized, 1024, room);
  base::keep_or_free(headers, 64 * sizeof(Header), room);
}

const char* Request::adopt(std::string_view bytes) {
  storage_.assign(bytes);
  return storage_.data();
}

}  // namespace askr::http
