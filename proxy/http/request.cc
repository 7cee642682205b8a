#include "http/request.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "http/h1_parser.h"
#include "shared/base/hex.h"

namespace askr::http {
namespace {

// One base64 character's value, or -1.
int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes base64 up to the first '=' (as nginx does); false on a character outside the alphabet
// or a length no encoding gives.
bool decode_base64(std::string_view in, std::string& out) {
  in = in.substr(0, std::min(in.find('='), in.size()));
  if (in.size() % 4 == 1) return false;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    int v = base64_value(c);
    if (v < 0) return false;
    bits = (bits << 6) | uint32_t(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(char((bits >> count) & 0xff));
    }
  }
  return true;
}

// What valid_host() makes of each octet: a host's unreserved characters (A-Z a-z 0-9 - _ ~),
// those it looks at further, or anything else (invalid).
enum : uint8_t { kHostBad, kHostPlain, kHostDot, kHostColon, kHostOpen, kHostClose, kHostPercent };

constexpr std::array<uint8_t, 256> make_host_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (alnum || c == '-' || c == '_' || c == '~') t[size_t(c)] = kHostPlain;
  }
  t['.'] = kHostDot;
  t[':'] = kHostColon;
  t['['] = kHostOpen;
  t[']'] = kHostClose;
  t['%'] = kHostPercent;
  return t;
}

constexpr std::array<uint8_t, 256> kHostClass = make_host_classes();

}  // namespace

std::string remote_user(std::string_view authorization) {
  constexpr std::string_view kBasic = "basic ";
  if (authorization.size() < kBasic.size() ||
      !http::iequals(authorization.substr(0, kBasic.size()), kBasic)) {
    return {};
  }
  authorization.remove_prefix(kBasic.size());
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  std::string decoded;
  if (authorization.empty() || !decode_base64(authorization, decoded)) return {};
  size_t colon = decoded.find(':');
  if (colon == 0 || colon == std::string::npos) return {};
  decoded.resize(colon);
  return decoded;
}

bool valid_host(std::string_view host) {
  constexpr size_t kNone = std::string_view::npos;
  // One pass: the characters, and where the delimiters of a port and an IP literal are. Most
  // characters of a host are kHostPlain and cost one look-up each.
  size_t first_delim = kNone, last_colon = kNone, last_close = kNone;
  int brackets = 0;
  bool dots = false;  // ".." was seen
  for (size_t i = 0; i < host.size(); ++i) {
    const uint8_t cls = kHostClass[static_cast<uint8_t>(host[i])];
    if (cls == kHostPlain) [[likely]] {
      continue;
    }
    switch (cls) {
      case kHostDot:
        // A '.' is never part of a valid escape: the one before it was a '.' character.
        dots |= i > 0 && host[i - 1] == '.';
        continue;
      case kHostColon:
        if (first_delim == kNone) first_delim = i;
        last_colon = i;
        continue;
      case kHostOpen:
      case kHostClose:
        if (first_delim == kNone) first_delim = i;
        ++brackets;
        if (cls == kHostClose) last_close = i;
        continue;
      case kHostPercent:
        // pct-encoded = "%" HEXDIG HEXDIG (RFC 3986 §2.1), kept as sent.
        if (i + 2 >= host.size() || base::hex_value(host[i + 1]) < 0 ||
            base::hex_value(host[i + 2]) < 0) {
          return false;
        }
        i += 2;
        continue;
      default:
        return false;
    }
  }
  if (first_delim != kNone) {
    // A port is digits (RFC 3986 §3.2.3: port = *DIGIT), and a colon elsewhere is only within
    // an IP literal's brackets: "h:abc" and "a:b:80" are invalid, which RFC 9112 §3.2 answers
    // 400 (nginx ignores what follows the colon).
    if (last_colon != kNone && (last_close == kNone || last_close < last_colon)) {
      for (char c : host.substr(last_colon + 1)) {
        if (c < '0' || c > '9') return false;
      }
      host = host.substr(0, last_colon);
    }
    if (first_delim < host.size() &&
        (host[0] != '[' || host.back() != ']' || brackets != 2 || last_close != host.size() - 1)) {
      return false;
    }
  }
  // The name without its port and one final dot must be there, with no empty label: nginx
  // refuses ":80", "." and "a..b", and RFC 9110 §4.2.1 an empty host.
  if (dots) return false;
  if (host.ends_with('.')) host.remove_suffix(1);
  return !host.empty();
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

std::string_view Request::lines(std::string_view first, std::string_view name,
                                std::string& joined) const {
  size_t count = 0;
  for (const Header& h : headers) count += iequals(h.name, name);
  if (count < 2) return first;
  joined.clear();
  for (const Header& h : headers) {
    if (!iequals(h.name, name)) continue;
    if (!joined.empty()) joined += ", ";
    joined += h.value;
  }
  return joined;
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
  known_ = {};  // in wide stores, not a loop of two stores a view
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
