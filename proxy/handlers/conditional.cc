#include "handlers/conditional.h"

#include <algorithm>
#include <limits>

#include "http/date.h"

namespace askr::handlers {

namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

bool is_etagc(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

bool is_weak(std::string_view tag) {
  return tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/';
}

std::string_view opaque(std::string_view tag) {
  return is_weak(tag) ? tag.substr(2) : tag;
}

bool weak_match(std::string_view a, std::string_view b) {
  return opaque(a) == opaque(b);
}

bool strong_match(std::string_view a, std::string_view b) {
  return !is_weak(a) && !is_weak(b) && a == b;
}

// Reads one entity-tag (`[W/]"etagc*"`) at s[i], leaving `i` after it. Returns false if there is
// none.
bool read_etag(std::string_view s, size_t& i, std::string_view& tag) {
  const size_t start = i;
  if (s.substr(i, 2) == "W/") i += 2;
  if (i >= s.size() || s[i] != '"') return false;
  for (++i; i < s.size() && s[i] != '"'; ++i) {
    if (!is_etagc(static_cast<unsigned char>(s[i]))) return false;
  }
  if (i >= s.size()) return false;
  ++i;
  tag = s.substr(start, i - start);
  return true;
}

enum class ListStep : uint8_t { kItem, kEnd, kError };

// Skips OWS and empty elements of a comma list; kEnd at the end of `s`, kItem before an item.
ListStep skip_to_item(std::string_view s, size_t& i) {
  for (; i < s.size(); ++i) {
    if (!is_ows(s[i]) && s[i] != ',') return ListStep::kItem;
  }
  return ListStep::kEnd;
}

// After an item: OWS, then the end or a comma.
bool at_item_end(std::string_view s, size_t& i) {
  while (i < s.size() && is_ows(s[i])) ++i;
  return i == s.size() || s[i] == ',';
}

// Walks an If-Match / If-None-Match field; true when it is well formed and some tag satisfies
// `match(tag, etag)`.
template <class Match>
bool etag_list_matches(std::string_view header, std::string_view etag, Match match) {
  header = trim(header);
  if (header == "*") return true;
  bool found = false;
  size_t i = 0;
  while (skip_to_item(header, i) == ListStep::kItem) {
    std::string_view tag;
    if (!read_etag(header, i, tag) || !at_item_end(header, i)) return false;
    found = found || match(tag, etag);
  }
  return found;
}

// Reads decimal digits at s[i], saturating at UINT64_MAX. False when there are none.
bool read_u64(std::string_view s, size_t& i, uint64_t& v) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const size_t start = i;
  v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    v = v > (kMax - d) / 10 ? kMax : v * 10 + d;
  }
  return i > start;
}

struct RangeSpec {
  bool suffix = false;  // "-n": `last` holds n
  bool open = false;    // "a-": no last
  uint64_t first = 0;
  uint64_t last = 0;
};

bool read_range_spec(std::string_view s, size_t& i, RangeSpec& r) {
  if (s[i] == '-') {
    r.suffix = true;
    ++i;
    return read_u64(s, i, r.last);
  }
  if (!read_u64(s, i, r.first) || i >= s.size() || s[i] != '-') return false;
  ++i;
  r.open = !read_u64(s, i, r.last);
  return r.open || r.last >= r.first;
}

RangeOutcome resolve_range(const RangeSpec& r, uint64_t size, ByteRange& out) {
  if (r.suffix) {
    if (r.last == 0) return RangeOutcome::kUnsatisfiable;
    // RFC 9110 §14.1.1: satisfiable even on an empty representation, by all of it, which no
    // Content-Range can describe: the whole (empty) body instead.
    if (size == 0) return RangeOutcome::kIgnore;
    out = {r.last >= size ? 0 : size - r.last, size - 1};
    return RangeOutcome::kSatisfiable;
  }
  if (r.first >= size) return RangeOutcome::kUnsatisfiable;
  out = {r.first, r.open || r.last >= size ? size - 1 : r.last};
  return RangeOutcome::kSatisfiable;
}

// True unless `weight` (the text after "q=") is a valid non-zero qvalue.
bool weight_refuses(std::string_view w) {
  if (w.empty() || (w[0] != '0' && w[0] != '1')) return true;
  if (w.size() > 1 && (w[1] != '.' || w.size() > 5)) return true;
  bool nonzero = w[0] == '1';
  for (size_t k = 2; k < w.size(); ++k) {
    if (w[k] < '0' || w[k] > '9' || (w[0] == '1' && w[k] != '0')) return true;
    nonzero = nonzero || w[k] != '0';
  }
  return !nonzero;
}

// Splits one Accept-Encoding element "coding *(OWS ; OWS param)" into its coding and whether
// its weight allows it.
std::string_view read_coding(std::string_view element, bool& allowed) {
  size_t semi = element.find(';');
  const std::string_view name = trim(element.substr(0, semi));
  allowed = true;
  while (semi != std::string_view::npos) {
    element.remove_prefix(semi + 1);
    semi = element.find(';');
    const std::string_view param = trim(element.substr(0, semi));
    if (param.size() >= 2 && to_lower(param[0]) == 'q' && param[1] == '=') {
      allowed = !weight_refuses(param.substr(2));
    }
  }
  return name;
}

bool coding_matches(std::string_view name, std::string_view coding) {
  return iequals(name, coding) || (coding == "gzip" && iequals(name, "x-gzip"));
}

}  // namespace

size_t make_etag(time_t mtime, uint64_t size, char out[kEtagMax], std::string_view coding) {
  static constexpr char kHex[] = "0123456789abcdef";
  char* p = out;
  *p++ = '"';
  for (uint64_t v : {static_cast<uint64_t>(mtime), size}) {
    int shift = 60;
    while (shift > 0 && (v >> shift) == 0) shift -= 4;
    for (; shift >= 0; shift -= 4) *p++ = kHex[(v >> shift) & 0xf];
    *p++ = '-';
  }
  coding = coding.substr(0, kEtagCodingMax);
  if (coding.empty()) --p;  // the last '-'
  p = std::copy(coding.begin(), coding.end(), p);
  *p++ = '"';
  return static_cast<size_t>(p - out);
}

bool if_none_match_matches(std::string_view header, std::string_view etag) {
  return etag_list_matches(header, etag, weak_match);
}

bool if_match_matches(std::string_view header, std::string_view etag) {
  return etag_list_matches(header, etag, strong_match);
}

RangeOutcome parse_range(std::string_view header, uint64_t size, ByteRange& out) {
  header = trim(header);
  if (header.size() < 6 || !iequals(header.substr(0, 6), "bytes=")) return RangeOutcome::kIgnore;
  const std::string_view set = header.substr(6);
  RangeSpec spec;
  int count = 0;
  size_t i = 0;
  while (skip_to_item(set, i) == ListStep::kItem) {
    if (++count > 1 || !read_range_spec(set, i, spec) || !at_item_end(set, i)) {
      return RangeOutcome::kIgnore;
    }
  }
  if (count == 0) return RangeOutcome::kIgnore;
  return resolve_range(spec, size, out);
}

bool if_range_allows(std::string_view header, std::string_view etag, time_t mtime) {
  header = trim(header);
  if (header.empty()) return false;
  if (header[0] == '"' || is_weak(header)) {
    size_t i = 0;
    std::string_view tag;
    return read_etag(header, i, tag) && i == header.size() && strong_match(tag, etag);
  }
  time_t t;
  return http::parse_http_date(header, t) && t == mtime;
}

bool accepts_encoding(std::string_view accept_encoding, std::string_view coding) {
  bool star_seen = false;
  bool star_allowed = false;
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    const std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding.remove_prefix(comma == std::string_view::npos ? accept_encoding.size()
                                                                  : comma + 1);
    bool allowed;
    const std::string_view name = read_coding(element, allowed);
    if (coding_matches(name, coding)) return allowed;
    if (name == "*" && !star_seen) {
      star_seen = true;
      star_allowed = allowed;
    }
  }
  return star_seen && star_allowed;
}

}  // namespace askr::handlers
