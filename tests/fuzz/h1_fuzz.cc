// libFuzzer target for the HTTP/1.1 request parser and the chunked body decoder.
//
// The input is parsed as a request head; when the head announces a chunked body, what follows
// it is decoded as that body. The whole input is also decoded as a chunked body on its own.
// Beyond memory safety (ASan/UBSan), the target checks the contracts: consumed counts stay
// within the input, every view lies inside the input, the one-shot parser agrees with itself
// on prefixes, the resumable parser fed the input in pieces (split at points the input chooses,
// each piece in a new buffer) answers what the one-shot parser answers and reads each byte a
// bounded number of times, the field index agrees with find(), and the decoder gives the same
// result for any split of its input and agrees with a plain whole-buffer reading of the chunked
// grammar. The Host check agrees with a plain reading of RFC 3986's host [ ":" port ] as nginx
// and Askr narrow it (no empty host or label, one final dot allowed).

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../support/same_head.h"
#include "http/chunked.h"
#include "http/h1_parser.h"
#include "http/request.h"

namespace {

using askr::http::BodyFraming;
using askr::http::ChunkedDecoder;
using askr::http::Field;
using askr::http::Header;
using askr::http::ParseLimits;
using askr::http::ParseProgress;
using askr::http::ParseResult;
using askr::http::ParseState;
using askr::http::RequestHead;
using Status = ChunkedDecoder::Status;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

bool inside(std::string_view view, std::string_view buf) {
  if (view.empty()) return true;
  return view.data() >= buf.data() && view.data() + view.size() <= buf.data() + buf.size();
}

bool known_status(int status) {
  return status == 400 || status == 414 || status == 417 || status == 431 || status == 501 ||
         status == 505;
}

void check_done_head(std::string_view data, const ParseResult& r, const RequestHead& head,
                     const ParseLimits& limits) {
  FUZZ_CHECK(r.head_length > 0 && r.head_length <= data.size());
  std::string_view bytes = data.substr(0, r.head_length);
  for (std::string_view v : {head.method, head.target, head.path, head.query, head.host}) {
    FUZZ_CHECK(inside(v, bytes));
  }
  FUZZ_CHECK(!head.method.empty() && !head.target.empty());
  FUZZ_CHECK(head.version_minor <= 1);
  FUZZ_CHECK(head.headers.size() <= limits.max_headers);
  for (const Header& h : head.headers) {
    FUZZ_CHECK(!h.name.empty() && inside(h.name, bytes) && inside(h.value, bytes));
    FUZZ_CHECK(h.value.find_first_of("\r\n") == std::string_view::npos);
  }
  if (head.framing == BodyFraming::kChunked) FUZZ_CHECK(head.version_minor == 1);
  if (head.version_minor == 1) FUZZ_CHECK(!head.host.empty());
  FUZZ_CHECK(head.is_head == (head.method == "HEAD"));
  for (size_t i = 0; i < askr::http::kFieldCount; ++i) {
    std::string_view want = head.find(askr::http::field_name(static_cast<Field>(i)));
    FUZZ_CHECK(head.fields[i] == want && head.fields[i].data() == want.data());
  }
}

using askr::test_support::same_head;

// The input delivered in pieces through the resumable parser, each call with a new copy of the
// bytes so far: it stops at the first prefix with an answer, which the one-shot parse of the
// whole input shares (the prefix property checked below), or needs more when the one-shot does.
void check_resumable(std::string_view data, const ParseResult& full, const RequestHead& want,
                     const ParseLimits& limits) {
  RequestHead head;
  ParseProgress progress;
  std::string bufs[2];
  ParseResult r{ParseState::kNeedMore};
  size_t offset = 0;
  size_t calls = 0;
  do {
    // Piece sizes come from the input itself, read from its end backwards.
    uint8_t b =
        data.empty() ? 0 : static_cast<uint8_t>(data[data.size() - 1 - calls % data.size()]);
    size_t len = b & 0x80 ? 1 : 1 + b % 61;
    offset = std::min(data.size(), offset + len);
    std::string& buf = bufs[calls++ % 2];
    buf.assign(data.substr(0, offset));
    r = parse_request(buf, limits, head, progress);
    FUZZ_CHECK(progress.examined <= 4 * offset + 16);
    if (r.state == ParseState::kDone) check_done_head(buf, r, head, limits);
  } while (r.state == ParseState::kNeedMore && offset < data.size());
  FUZZ_CHECK(r.state == full.state && r.status == full.status);
  FUZZ_CHECK(r.head_length == full.head_length);
  if (r.state == ParseState::kDone) FUZZ_CHECK(same_head(head, want));
}

// The parser is stateless: the head alone parses the same, one byte less needs more.
void check_prefixes(std::string_view data, const ParseResult& full, const ParseLimits& limits) {
  RequestHead head;
  if (full.state == ParseState::kDone) {
    ParseResult exact = parse_request(data.substr(0, full.head_length), limits, head);
    FUZZ_CHECK(exact.state == ParseState::kDone && exact.head_length == full.head_length);
    ParseResult shorter = parse_request(data.substr(0, full.head_length - 1), limits, head);
    FUZZ_CHECK(shorter.state == ParseState::kNeedMore);
  }
  // What a prefix already decided, the whole input decides the same way.
  ParseResult half = parse_request(data.substr(0, data.size() / 2), limits, head);
  if (half.state == ParseState::kError) {
    FUZZ_CHECK(full.state == ParseState::kError && full.status == half.status);
  } else if (half.state == ParseState::kDone) {
    FUZZ_CHECK(full.state == ParseState::kDone && full.head_length == half.head_length);
  }
}

struct Decoded {
  Status status = Status::kNeedMore;
  std::string payload;
  size_t consumed = 0;
  int error = 0;
};

// Feeds `in` to a fresh decoder in pieces of `piece` bytes (0: all at once).
Decoded decode(std::string_view in, size_t piece, ChunkedDecoder d) {
  Decoded out;
  size_t offset = 0;
  do {
    size_t len = piece == 0 ? in.size() - offset : std::min(piece, in.size() - offset);
    std::string_view chunk = in.substr(offset, len);
    offset += len;
    for (;;) {
      ChunkedDecoder::Step s = d.next(chunk);
      FUZZ_CHECK(s.consumed <= chunk.size());
      out.consumed += s.consumed;
      if (s.status == Status::kData) {
        FUZZ_CHECK(!s.data.empty() && inside(s.data, chunk.substr(0, s.consumed)));
        out.payload.append(s.data);
        chunk.remove_prefix(s.consumed);
        continue;
      }
      FUZZ_CHECK(s.data.empty());
      if (s.status == Status::kNeedMore) {
        FUZZ_CHECK(s.consumed == chunk.size());
        break;
      }
      if (s.status == Status::kError) {
        FUZZ_CHECK(d.error_status() == 400 || d.error_status() == 413);
      } else {
        FUZZ_CHECK(d.error_status() == 0 && s.consumed > 0);
      }
      out.status = s.status;
      out.error = d.error_status();
      FUZZ_CHECK(d.body_bytes() == out.payload.size());
      return out;
    }
  } while (offset < in.size());
  FUZZ_CHECK(out.consumed == in.size());
  FUZZ_CHECK(d.body_bytes() == out.payload.size());
  return out;
}

// A plain whole-buffer reading of the chunked grammar, written apart from the decoder, to
// compare outcomes with: kDone (with payload and length), kError for a complete but malformed
// line, kNeedMore when the input ends first. It knows no limits.
class ReferenceChunked {
 public:
  explicit ReferenceChunked(std::string_view in) : in_(in) {}

  Decoded run() {
    for (;;) {
      std::string_view line;
      if (!next_line(line)) return result(Status::kNeedMore);
      uint64_t size = 0;
      if (!size_line(line, size)) return result(Status::kError);
      if (size == 0) break;
      if (in_.size() - pos_ < 2 || in_.size() - pos_ - 2 < size) return result(Status::kNeedMore);
      out_.payload.append(in_.substr(pos_, size));
      if (in_.substr(pos_ + size, 2) != "\r\n") return result(Status::kError);
      pos_ += size + 2;
    }
    for (;;) {
      std::string_view line;
      if (!next_line(line)) return result(Status::kNeedMore);
      if (line.empty()) break;
      if (!field_line(line)) return result(Status::kError);
    }
    out_.consumed = pos_;
    return result(Status::kDone);
  }

 private:
  static bool ws(char c) { return c == ' ' || c == '\t'; }
  static bool tchar(char c) { return askr::http::chars::is_tchar(c); }
  static bool vchar_or_obs(char c) { return static_cast<uint8_t>(c) > 0x20 && c != 0x7f; }

  Decoded result(Status s) {
    out_.status = s;
    return out_;
  }

  bool next_line(std::string_view& line) {
    size_t crlf = in_.find("\r\n", pos_);
    if (crlf == std::string_view::npos) return false;
    line = in_.substr(pos_, crlf - pos_);
    pos_ = crlf + 2;
    return true;
  }

  static size_t skip_ws(std::string_view s, size_t i) {
    while (i < s.size() && ws(s[i])) ++i;
    return i;
  }

  static size_t skip_token(std::string_view s, size_t i) {
    while (i < s.size() && tchar(s[i])) ++i;
    return i;
  }

  // Index after a quoted-string starting at i, or npos.
  static size_t skip_quoted(std::string_view s, size_t i) {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '"') return i + 1;
      if (s[i] == '\\') {
        if (++i == s.size() || !(ws(s[i]) || vchar_or_obs(s[i]))) return std::string_view::npos;
      } else if (!(ws(s[i]) || vchar_or_obs(s[i]))) {
        return std::string_view::npos;
      }
    }
    return std::string_view::npos;
  }

  static bool size_line(std::string_view s, uint64_t& size) {
    size_t i = 0;
    for (; i < s.size() && std::isxdigit(static_cast<uint8_t>(s[i])); ++i) {
      if (size > UINT64_MAX >> 4) return false;  // past 64 bits; leading zeros are fine
      char c = static_cast<char>(std::tolower(static_cast<uint8_t>(s[i])));
      size = size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (i == 0) return false;
    while (i < s.size()) {
      i = skip_ws(s, i);
      if (i == s.size() || s[i] != ';') return false;
      i = skip_ws(s, i + 1);
      size_t name_end = skip_token(s, i);
      if (name_end == i) return false;
      i = name_end;
      size_t eq = skip_ws(s, i);
      if (eq < s.size() && s[eq] == '=') {
        size_t v = skip_ws(s, eq + 1);
        if (v == s.size()) return false;
        i = s[v] == '"' ? skip_quoted(s, v) : skip_token(s, v);
        if (i == std::string_view::npos || i == v) return false;
      }
    }
    return true;
  }

  static bool field_line(std::string_view s) {
    size_t colon = skip_token(s, 0);
    if (colon == 0 || colon == s.size() || s[colon] != ':') return false;
    for (char c : s.substr(colon + 1)) {
      if (!ws(c) && !vchar_or_obs(c)) return false;
    }
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  Decoded out_;
};

void check_against_reference(std::string_view in, const Decoded& got) {
  Decoded want = ReferenceChunked(in).run();
  if (want.status == Status::kDone || got.status == Status::kDone) {
    FUZZ_CHECK(got.status == want.status);
    FUZZ_CHECK(got.payload == want.payload);
    FUZZ_CHECK(got.consumed == want.consumed);
  } else if (want.status == Status::kError) {
    FUZZ_CHECK(got.status == Status::kError);
  } else {
    // The reference waits for whole lines; the decoder may see an error in a partial one.
    FUZZ_CHECK(got.status != Status::kDone);
  }
}

// Any split of the input decodes to the same payload and outcome.
void check_chunked(std::string_view in, const ChunkedDecoder& proto, size_t piece, bool reference) {
  Decoded whole = decode(in, 0, proto);
  if (reference) check_against_reference(in, whole);
  for (size_t p : {size_t{1}, piece}) {
    Decoded split = decode(in, p, proto);
    FUZZ_CHECK(split.status == whole.status);
    FUZZ_CHECK(split.payload == whole.payload);
    FUZZ_CHECK(split.consumed == whole.consumed);
    FUZZ_CHECK(split.error == whole.error);
  }
}

}  // namespace

// A reg-name's or an IP literal's characters, as Askr takes them: unreserved, '%' HEXDIG HEXDIG,
// and within brackets ':' too.
bool reference_name_chars(std::string_view s, bool literal) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (literal && c == ':')) {
      continue;
    }
    if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

// Host = uri-host [ ":" port ], read plainly: the port after the last colon that no ']' follows.
bool reference_host(std::string_view s) {
  std::string_view name = s;
  size_t colon = s.rfind(':'), close = s.rfind(']');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    name = s.substr(0, colon);
    for (char c : s.substr(colon + 1)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  if (!name.empty() && name.front() == '[') {
    if (name.size() < 2 || name.back() != ']') return false;
    if (!reference_name_chars(name.substr(1, name.size() - 2), true)) return false;
  } else if (!reference_name_chars(name, false)) {
    return false;
  }
  if (name.find("..") != std::string_view::npos) return false;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return !name.empty();
}

// Standard base64 with padding (RFC 4648 §4), as clients encode Basic credentials.
std::string reference_base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) n |= uint32_t(uint8_t(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= uint8_t(in[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// REMOTE_USER from an Authorization value: any bytes in, and a round trip through the encoding
// a client uses: the user is what precedes the first colon of the credentials, never empty.
void check_remote_user(std::string_view data) {
  std::string user = askr::http::remote_user(data);
  FUZZ_CHECK(user.find(':') == std::string::npos);
  if (!user.empty()) {
    FUZZ_CHECK(data.size() > 6);
    std::string scheme(data.substr(0, 6));
    for (char& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
    FUZZ_CHECK(scheme == "basic ");
  }
  size_t colon = data.find(':');
  std::string expected(colon == std::string_view::npos ? std::string_view()
                                                       : data.substr(0, colon));
  FUZZ_CHECK(askr::http::remote_user("Basic " + reference_base64(data)) == expected);
  FUZZ_CHECK(askr::http::remote_user("bAsIc   " + reference_base64(data)) == expected);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  size_t piece = size == 0 ? 1 : 1 + bytes[0] % 13;

  // Default limits, and small ones so that the limit paths are reached too.
  const ParseLimits limits_list[] = {ParseLimits{}, ParseLimits{64, 256, 4}};
  for (const ParseLimits& limits : limits_list) {
    RequestHead head;
    ParseResult r = parse_request(data, limits, head);
    if (r.state == ParseState::kError) {
      FUZZ_CHECK(known_status(r.status) && r.reason != nullptr && r.reason[0] != '\0');
    } else if (r.state == ParseState::kDone) {
      check_done_head(data, r, head, limits);
    }
    check_prefixes(data, r, limits);
    check_resumable(data, r, head, limits);
    if (r.state == ParseState::kDone && head.framing == BodyFraming::kChunked) {
      check_chunked(data.substr(r.head_length), ChunkedDecoder(), piece, true);
    }
  }

  // Default limits are out of reach of inputs of libFuzzer's usual sizes (up to 4096 bytes),
  // so the limit-free reference applies; the small limits are checked for split invariance.
  check_chunked(data, ChunkedDecoder(), piece, size <= 4096);
  check_chunked(data, ChunkedDecoder(64, 16, 64), piece, false);

  // The Host check, on the input up to its first line end (a Host value's length).
  std::string_view host = data.substr(0, std::min(data.find('\n'), size_t{512}));
  FUZZ_CHECK(askr::http::valid_host(host) == reference_host(host));
  check_remote_user(data.substr(0, std::min(size, size_t{1024})));
  return 0;
}
