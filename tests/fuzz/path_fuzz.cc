// libFuzzer target for the static-file building blocks: normalize_path, parse_range,
// accepts_encoding, the entity-tag lists and parse_http_date. Every input is fed to each of them
// and their documented invariants are checked; a violation aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "handlers/conditional.h"
#include "handlers/mime.h"
#include "handlers/path.h"
#include "http/date.h"

namespace {

using askr::handlers::PathError;

void check(bool ok) {
  if (!ok) std::abort();
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The encoded slashes in `in`, which alone may leave a NUL (kEncodedSlash) in a normalized path.
size_t encoded_slashes(std::string_view in) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < in.size(); ++i) {
    n += in[i] == '%' && in[i + 1] == '2' && (in[i + 2] == 'f' || in[i + 2] == 'F');
  }
  return n;
}

void fuzz_path(std::string_view in) {
  std::string out;
  if (askr::handlers::normalize_path(in, out) != PathError::kNone) return;
  check(!out.empty() && out[0] == '/');
  check(out.size() <= in.size());
  check(size_t(std::count(out.begin(), out.end(), '\0')) <= encoded_slashes(in));
  // Decoding never invents a segment boundary.
  check(std::count(out.begin(), out.end(), '/') <= std::count(in.begin(), in.end(), '/'));
  check(out.find("//") == std::string::npos);
  check(out.find("/./") == std::string::npos);
  check(out.find("/../") == std::string::npos);
  check(!ends_with(out, "/.") && !ends_with(out, "/.."));
  // With its encoded slashes as '/', as nginx has them, it climbs no higher than the root.
  std::string decoded;
  check(askr::handlers::decode_slashes(out, decoded) == PathError::kNone);
  // Encoded again, it normalizes back to itself: an encoded slash stays one.
  std::string encoded, again;
  askr::handlers::append_encoded_path(out, encoded);
  check(askr::handlers::normalize_path(encoded, again) == PathError::kNone && again == out);
  // Any tail of it, as PATH_INFO, decodes to a path without dot-segments or NUL, or climbs.
  const size_t tail = out.find('/', out.size() / 2);
  if (tail != std::string::npos &&
      askr::handlers::decode_slashes(std::string_view(out).substr(tail), again) ==
          PathError::kNone) {
    check(again.find('\0') == std::string::npos && again.find("//") == std::string::npos);
    check(again.find("/../") == std::string::npos && again.find("/./") == std::string::npos);
    check(!ends_with(again, "/.") && !ends_with(again, "/.."));
  }
  check(!askr::handlers::mime_type(out).empty());
}

void fuzz_range(std::string_view in) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, ~uint64_t{0}}) {
    askr::handlers::ByteRange r{7, 3};
    const auto outcome = askr::handlers::parse_range(in, size, r);
    if (outcome == askr::handlers::RangeOutcome::kSatisfiable) {
      check(r.first <= r.last && r.last < size);
    } else {
      check(r.first == 7 && r.last == 3);
    }
  }
}

void fuzz_date(std::string_view in) {
  time_t t = 0;
  if (!askr::http::parse_http_date(in, t)) return;
  char buf[askr::http::kHttpDateLen];
  if (askr::http::format_http_date(t, buf) == 0) return;
  time_t back = 0;
  check(askr::http::parse_http_date(std::string_view(buf, sizeof(buf)), back) && back == t);
}

void fuzz_conditionals(std::string_view in) {
  constexpr std::string_view kTag = "\"5f5e1000-1a2b\"";
  const bool strong = askr::handlers::if_match_matches(in, kTag);
  const bool weak = askr::handlers::if_none_match_matches(in, kTag);
  check(!strong || weak);  // a strong match is also a weak one
  askr::handlers::if_range_allows(in, kTag, 784111777);
  askr::handlers::accepts_encoding(in, "br");
  askr::handlers::accepts_encoding(in, "gzip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  fuzz_path(in);
  fuzz_range(in);
  fuzz_date(in);
  fuzz_conditionals(in);
  return 0;
}
