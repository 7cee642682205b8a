#include "http/h1_request.h"

namespace askr::http {

void h1_to_request(const RequestHead& head, std::string_view raw, bool secure, Request& out) {
  out.reset();
  const char* from = raw.data();
  const char* to = out.adopt(raw);
  auto re = [&](std::string_view v) { return out.rebase(v, from, to); };
  out.method = re(head.method);
  out.target = re(head.target);
  out.path = re(head.path);
  out.query = re(head.query);
  out.authority = re(head.host);
  out.scheme = secure ? "https" : "http";
  out.protocol = head.version_minor ? "HTTP/1.1" : "HTTP/1.0";
  out.headers.reserve(head.headers.size());
  for (const Header& h : head.headers) out.headers.push_back({re(h.name), re(h.value)});
  switch (head.framing) {
    case BodyFraming::kNone:
      break;
    case BodyFraming::kContentLength:
      out.length_sent = true;
      if (head.content_length > 0) {
        out.body = BodyKind::kLength;
        out.content_length = head.content_length;
      }
      break;
    case BodyFraming::kChunked:
      out.body = BodyKind::kUnknown;
      break;
  }
  out.is_head = head.is_head;
  for (size_t i = 0; i < kFieldCount; ++i) out.set_known(Known(i), re(head.fields[i]));
}

}  // namespace askr::http
