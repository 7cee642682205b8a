#include "http/h1_request.h"

namespace askr::http {
namespace {

// The head's host came from its target (absolute-form, or CONNECT's authority), not from Host.
bool host_from_target(const RequestHead& head) {
  const char* t = head.target.data();
  return !head.host.empty() && head.host.data() >= t && head.host.data() < t + head.target.size();
}

}  // namespace

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
  // RFC 9112 §3.2.2: the authority of an absolute-form target wins, and a Host sent with it is
  // ignored: handlers (PHP's HTTP_HOST) see the authority as Host, as nginx passes it and as
  // HTTP/2 gives :authority.
  bool replace_host = host_from_target(head);
  bool host_seen = false;
  out.headers.reserve(head.headers.size() + replace_host);
  for (const Header& h : head.headers) {
    if (replace_host && iequals(h.name, "host")) {
      out.headers.push_back({re(h.name), out.authority});
      host_seen = true;
      continue;
    }
    out.headers.push_back({re(h.name), re(h.value)});
  }
  if (replace_host && !host_seen) out.headers.push_back({"Host", out.authority});
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
