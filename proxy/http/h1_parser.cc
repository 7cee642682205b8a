#include "http/h1_parser.h"

#include <algorithm>
#include <cstring>

namespace askr::http {

namespace {

// RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
constexpr int kMaxLeadingEmptyLines = 8;

// Largest Content-Length accepted: it must fit in an off_t.
constexpr uint64_t kMaxContentLength = static_cast<uint64_t>(INT64_MAX);

constexpr std::array<uint8_t, 256> make_lower() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[static_cast<size_t>(c)] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  return t;
}

constexpr std::array<uint8_t, 256> kLower = make_lower();

// Returns the first octet in [p, end) below `Below` or equal to DEL, or `end`. Eight octets at a
// time: header values and targets are long runs of printable text.
template <uint8_t Below>
const char* find_ctl(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  while (end - p >= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    uint64_t del = x ^ (kOnes * 0x7f);
    // Exact "some byte < n" tests (n <= 128), the classic has_less() bit trick.
    if ((((x - kOnes * Below) & ~x) | ((del - kOnes) & ~del)) & kHighs) break;
    p += 8;
  }
  while (p < end && static_cast<uint8_t>(*p) >= Below && *p != 0x7f) ++p;
  return p;
}

// Returns the first non-token octet in [p, end), or `end`.
const char* skip_token(const char* p, const char* end) {
  while (end - p >= 4 && chars::is_tchar(p[0]) && chars::is_tchar(p[1]) && chars::is_tchar(p[2]) &&
         chars::is_tchar(p[3])) {
    p += 4;
  }
  while (p < end && chars::is_tchar(*p)) ++p;
  return p;
}

ParseResult error(int status, const char* reason) {
  return ParseResult{ParseState::kError, 0, status, reason};
}

ParseResult need_more() {
  return ParseResult{ParseState::kNeedMore};
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && chars::is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && chars::is_ws(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1).
template <class Fn>
void for_each_element(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// Parses 1*DIGIT into `out`; false on anything else or on a value above kMaxContentLength.
bool parse_content_length(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (kMaxContentLength - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

void scan_transfer_encoding(std::string_view value, FieldState& fs) {
  fs.has_te = true;
  for_each_element(value, [&fs](std::string_view coding) {
    ++fs.te_elements;
    if (iequals(coding, "chunked")) {
      ++fs.te_chunked;
      fs.te_last_chunked = true;
    } else {
      fs.te_last_chunked = false;
      fs.te_other_coding = true;
    }
  });
}

void scan_connection(std::string_view value, FieldState& fs) {
  for_each_element(value, [&fs](std::string_view option) {
    if (iequals(option, "close")) fs.conn_close = true;
    if (iequals(option, "keep-alive")) fs.conn_keep_alive = true;
  });
}

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "content-type", "referer",         "user-agent",        "cookie",
    "if-match",     "if-none-match",   "if-modified-since", "if-range",
    "range",        "accept-encoding", "authorization",     "if-unmodified-since",
};

// Records the value of an indexed field unless an earlier occurrence was recorded.
void index_field(Field f, const Header& h, RequestHead& head, FieldState& fs) {
  auto bit = static_cast<uint16_t>(1u << static_cast<unsigned>(f));
  if ((fs.indexed & bit) != 0) return;
  fs.indexed |= bit;
  head.fields[static_cast<size_t>(f)] = h.value;
}

// Indexes `h` if its name is `f`'s; true when it was.
bool index_if(Field f, const Header& h, RequestHead& head, FieldState& fs) {
  if (!iequals(h.name, kFieldNames[static_cast<size_t>(f)])) return false;
  index_field(f, h, head, fs);
  return true;
}

// Applies the meaning of the header fields the parser cares about and indexes the fields the
// server reads. Returns an error result, or a kDone result (whose fields are otherwise unused)
// when the field is acceptable.
ParseResult apply_field(const Header& h, RequestHead& head, FieldState& fs) {
  constexpr ParseResult kOk{ParseState::kDone};
  switch (h.name.size()) {
    case 4:
      if (!iequals(h.name, "host")) return kOk;
      if (fs.has_host) return error(400, "duplicate Host");
      if (h.value.empty()) return error(400, "empty Host");
      if (!valid_host(h.value)) return error(400, "invalid Host");
      fs.has_host = true;
      if (head.host.empty()) head.host = h.value;  // an absolute-form authority wins
      return kOk;
    case 5:
      index_if(Field::kRange, h, head, fs);
      return kOk;
    case 6:
      if (index_if(Field::kCookie, h, head, fs) || !iequals(h.name, "expect")) return kOk;
      if (iequals(h.value, "100-continue")) {
        head.expect_continue = true;
      } else {
        fs.expect_other = true;
      }
      return kOk;
    case 7:
      index_if(Field::kReferer, h, head, fs);
      return kOk;
    case 8:
      if (!index_if(Field::kIfMatch, h, head, fs)) index_if(Field::kIfRange, h, head, fs);
      return kOk;
    case 10:
      if (iequals(h.name, "connection")) {
        scan_connection(h.value, fs);
      } else {
        index_if(Field::kUserAgent, h, head, fs);
      }
      return kOk;
    case 12:
      index_if(Field::kContentType, h, head, fs);
      return kOk;
    case 13:
      if (!index_if(Field::kIfNoneMatch, h, head, fs)) index_if(Field::kAuthorization, h, head, fs);
      return kOk;
    case 14:
      if (!iequals(h.name, "content-length")) return kOk;
      if (fs.has_content_length) return error(400, "duplicate Content-Length");
      if (!parse_content_length(h.value, head.content_length)) {
        return error(400, "invalid Content-Length");
      }
      fs.has_content_length = true;
      return kOk;
    case 15:
      index_if(Field::kAcceptEncoding, h, head, fs);
      return kOk;
    case 17:
      if (iequals(h.name, "transfer-encoding")) {
        scan_transfer_encoding(h.value, fs);
      } else {
        index_if(Field::kIfModifiedSince, h, head, fs);
      }
      return kOk;
    case 19:
      index_if(Field::kIfUnmodifiedSince, h, head, fs);
      return kOk;
    default:
      return kOk;
  }
}

// Judges framing, Host and expectations once all fields are known (RFC 9112 §6.1, §6.3).
ParseResult finish_head(RequestHead& head, const FieldState& fs) {
  if (head.version_minor == 1 && !fs.has_host) return error(400, "missing Host");
  if (fs.has_te) {
    if (fs.has_content_length) return error(400, "Transfer-Encoding with Content-Length");
    if (head.version_minor == 0) return error(400, "Transfer-Encoding in HTTP/1.0");
    if (fs.te_elements == 0) return error(400, "empty Transfer-Encoding");
    if (fs.te_chunked > 1) return error(400, "chunked applied twice");
    if (!fs.te_last_chunked) return error(400, "chunked is not the final coding");
    if (fs.te_other_coding) return error(501, "unsupported transfer coding");
    head.framing = BodyFraming::kChunked;
  } else if (fs.has_content_length) {
    head.framing = BodyFraming::kContentLength;
  }
  if (fs.expect_other) return error(417, "unsupported expectation");
  // RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request.
  if (head.version_minor == 0) head.expect_continue = false;
  head.keep_alive = !fs.conn_close && (head.version_minor == 1 || fs.conn_keep_alive);
  return ParseResult{ParseState::kDone};
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// authority-form (RFC 9112 §3.2.3): uri-host ":" port, used only by CONNECT.
bool parse_authority_form(std::string_view t, RequestHead& head) {
  size_t colon = t.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == t.size()) return false;
  if (t.size() - colon - 1 > 5 || !valid_host(t)) return false;
  for (char c : t.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
  }
  head.host = t;
  return true;
}

// absolute-form (RFC 9112 §3.2.2) for the http and https schemes. userinfo is refused.
bool parse_absolute_form(std::string_view t, RequestHead& head) {
  size_t scheme = starts_with_icase(t, "http://") ? 7 : starts_with_icase(t, "https://") ? 8 : 0;
  if (scheme == 0) return false;
  std::string_view rest = t.substr(scheme);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (!valid_host(authority)) return false;
  head.host = authority;
  if (end == std::string_view::npos) {
    head.path = t.substr(scheme - 1, 1);  // the last '/' of "://", so the view stays in the buffer
    return true;
  }
  split_target(rest.substr(end), head.path, head.query);
  if (head.path.empty()) head.path = t.substr(scheme - 1, 1);
  return true;
}

// Classifies the request-target (RFC 9112 §3.2) and fills path, query and possibly host.
ParseResult parse_target(RequestHead& head) {
  std::string_view t = head.target;
  if (head.method == "CONNECT") {
    if (!parse_authority_form(t, head)) return error(400, "CONNECT needs authority-form");
  } else if (t[0] == '/') {
    split_target(t, head.path, head.query);
  } else if (t == "*") {
    if (head.method != "OPTIONS") return error(400, "asterisk-form outside OPTIONS");
    head.path = t;
  } else if (!parse_absolute_form(t, head)) {
    return error(400, "invalid request target");
  }
  return ParseResult{ParseState::kDone};
}

// "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
ParseResult parse_version(std::string_view v, RequestHead& head) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    return error(400, "invalid HTTP version");
  }
  if (v[5] != '1') return error(505, "unsupported HTTP version");
  head.version_minor = v[7] == '0' ? 0 : 1;
  return ParseResult{ParseState::kDone};
}

// method SP request-target SP HTTP-version, the line without its terminator.
ParseResult parse_request_line(const char* p, const char* end, RequestHead& head) {
  const char* begin = p;
  p = skip_token(p, end);
  if (p == begin || p == end || *p != ' ') return error(400, "invalid method");
  head.method = std::string_view(begin, static_cast<size_t>(p - begin));
  begin = ++p;
  p = find_ctl<0x21>(p, end);
  if (p == begin || p == end || *p != ' ') return error(400, "invalid request target");
  head.target = std::string_view(begin, static_cast<size_t>(p - begin));
  ++p;
  if (std::memchr(p, ' ', static_cast<size_t>(end - p)) != nullptr) {
    return error(400, "extra space in request line");
  }
  ParseResult r = parse_version(std::string_view(p, static_cast<size_t>(end - p)), head);
  if (r.state == ParseState::kError) return r;
  head.is_head = head.method == "HEAD";
  return parse_target(head);
}

void reset_head(RequestHead& head) {
  head.method = head.target = head.path = head.query = head.host = {};
  head.version_minor = 1;
  head.headers.clear();
  head.framing = BodyFraming::kNone;
  head.content_length = 0;
  head.keep_alive = true;
  head.expect_continue = false;
  head.is_head = false;
  head.fields = {};
}

// Length of a line's content without its optional CR; `lf` points at its LF or at the end.
const char* content_end(const char* begin, const char* lf) {
  return lf > begin && lf[-1] == '\r' ? lf - 1 : lf;
}

ParseResult request_line_too_long_or_more(const char* p, const char* end,
                                          const ParseLimits& limits) {
  const char* c_end = content_end(p, end);
  if (static_cast<size_t>(c_end - p) > limits.max_request_line) {
    return error(414, "request line too long");
  }
  if (static_cast<size_t>(end - p) > limits.max_header_size) return error(431, "head too large");
  return need_more();
}

// What part of the head a resumable parse is reading (ParseProgress::phase).
enum Phase : uint8_t {
  kLeading,      // empty lines before the request line
  kRequestLine,  // looking for the request line's LF
  kLineStart,    // at the start of a field line or of the final empty line
  kName,         // in a field name
  kValueOws,     // in the OWS after the colon
  kValue,        // in a field value, looking for its end
};

// One call of the resumable parser: the buffer of this call and the state kept between calls.
// Each step resumes at an offset saved by the call before and reads only bytes not yet read,
// except for O(1) bytes re-read at the point where the previous call stopped.
class Call {
 public:
  Call(std::string_view data, const ParseLimits& limits, RequestHead& head, ParseProgress& pr)
      : buf_(data.data()), end_(buf_ + data.size()), limits_(limits), head_(head), pr_(pr) {}

  // Runs until the head's final LF (true, at offset pr.pos) or a result to return (false,
  // result()).
  bool run() {
    if (pr_.phase == kLeading && !leading()) return false;
    if (pr_.phase == kRequestLine && !request_line()) return false;
    return field_lines();
  }

  const ParseResult& result() const { return r_; }

 private:
  size_t off(const char* p) const { return static_cast<size_t>(p - buf_); }
  void count(const char* from, const char* to) { pr_.examined += static_cast<uint64_t>(to - from); }
  bool stop(ParseResult r) {
    r_ = r;
    return false;
  }

  // Skips empty lines before the request line (at most kMaxLeadingEmptyLines).
  bool leading() {
    const char* p = buf_ + pr_.pos;
    for (;; ++pr_.empty_lines) {
      if (p == end_ || (*p == '\r' && p + 1 == end_)) {
        pr_.pos = off(p);
        return stop(need_more());
      }
      if (*p != '\r' && *p != '\n') break;
      if (*p == '\r' && p[1] != '\n') return stop(error(400, "bare CR"));
      if (pr_.empty_lines == kMaxLeadingEmptyLines) {
        return stop(error(400, "too many empty lines before request"));
      }
      const char* next = p + (*p == '\r' ? 2 : 1);
      count(p, next);
      p = next;
    }
    pr_.start = pr_.pos = off(p);
    pr_.phase = kRequestLine;
    return true;
  }

  // Looks for the request line's LF only as far as the limit allows, then parses the line once.
  // A control octet before it, other than the CR of its CRLF, has no place in any part of the
  // line: it is refused at once, not after an LF that binary input (a TLS ClientHello sent to a
  // plaintext port) may never bring.
  bool request_line() {
    const char* start = buf_ + pr_.start;
    size_t available = static_cast<size_t>(end_ - start);
    size_t window = std::min(available, std::min(available, limits_.max_request_line) + 2);
    const char* from = buf_ + pr_.pos;
    const char* window_end = std::max(from, start + window);
    const char* lf = find_ctl<0x20>(from, window_end);
    bool cr_last = lf + 1 == window_end && *lf == '\r';
    if (lf + 1 < window_end && *lf == '\r' && lf[1] == '\n') ++lf;  // the CR of the CRLF
    if (lf < window_end && *lf != '\n' && !cr_last) {
      // Past the longest line allowed, the line is too long whatever it holds, as it is when
      // the first byte past the limit arrives alone.
      if (static_cast<size_t>(lf - start) >= limits_.max_request_line) {
        return stop(error(414, "request line too long"));
      }
      return stop(error(400, "control character in request line"));
    }
    if (lf == window_end || cr_last) {
      count(from, window_end);
      pr_.pos = off(cr_last ? lf : window_end);  // a final CR is read again with what follows
      return stop(request_line_too_long_or_more(start, end_, limits_));
    }
    count(from, lf + 1);
    const char* line_end = content_end(start, lf);
    if (static_cast<size_t>(line_end - start) > limits_.max_request_line) {
      return stop(error(414, "request line too long"));
    }
    count(start, line_end);
    ParseResult r = parse_request_line(start, line_end, head_);
    if (r.state == ParseState::kError) return stop(r);
    if (static_cast<size_t>(lf + 1 - start) > limits_.max_header_size) {
      return stop(error(431, "head too large"));
    }
    pr_.line = pr_.pos = off(lf + 1);
    pr_.phase = kLineStart;
    return true;
  }

  // Field lines, never read at or past the head limit: running into it means 431 when there is
  // more data, or that more is needed.
  bool field_lines() {
    const char* start = buf_ + pr_.start;
    const char* limit = static_cast<size_t>(end_ - start) > limits_.max_header_size
                            ? start + limits_.max_header_size
                            : end_;
    const ParseResult out_of_bytes = limit == end_ ? need_more() : error(431, "head too large");
    for (;;) {
      if (pr_.phase == kLineStart) {
        const char* p = buf_ + pr_.line;
        if (p == limit) return stop(out_of_bytes);
        if (*p == '\n' || *p == '\r') {
          if (*p == '\r') {
            if (p + 1 == limit) return stop(out_of_bytes);
            if (p[1] != '\n') return stop(error(400, "bare CR"));
            ++p;
          }
          count(buf_ + pr_.line, p + 1);
          pr_.pos = off(p);
          return true;
        }
        if (pr_.field_count >= limits_.max_headers) return stop(error(431, "too many headers"));
        if (chars::is_ws(*p)) return stop(error(400, "obs-fold or leading whitespace"));
        pr_.pos = pr_.line;
        pr_.phase = kName;
      }
      Header h;
      ParseResult r = field_line(limit, h);
      if (r.state == ParseState::kNeedMore) return stop(out_of_bytes);
      if (r.state == ParseState::kError) return stop(r);
      r = apply_field(h, head_, pr_.fs);
      if (r.state == ParseState::kError) return stop(r);
      head_.headers.push_back(h);
      ++pr_.field_count;
    }
  }

  // field-name ":" OWS field-value OWS (CR) LF (RFC 9112 §5), from the line at pr.line (not an
  // empty line), resuming at pr.pos in pr.phase and not reading at or past `limit`. kNeedMore
  // when the line does not end before `limit`; kDone with `out` filled and the next line begun.
  ParseResult field_line(const char* limit, Header& out) {
    const char* const begin = buf_ + pr_.line;
    const char* p = buf_ + pr_.pos;
    if (pr_.phase == kName) {
      const char* q = skip_token(p, limit);
      count(p, q);
      pr_.pos = off(q);
      if (q == limit) return need_more();
      if (*q != ':') {
        if (*q == '\r' || *q == '\n') return error(400, "header without colon");
        return error(400, chars::is_ws(*q) ? "whitespace in header name" : "invalid header name");
      }
      if (q == begin) return error(400, "empty header name");
      count(q, q + 1);
      pr_.name_end = off(q);
      p = q + 1;
      pr_.phase = kValueOws;
    }
    if (pr_.phase == kValueOws) {
      const char* q = p;
      while (q < limit && chars::is_ws(*q)) ++q;
      count(p, q);
      pr_.pos = off(q);
      if (q == limit) return need_more();
      pr_.value = off(q);
      p = q;
      pr_.phase = kValue;
    }
    const char* q = find_ctl<0x20>(p, limit);
    while (q < limit && *q == '\t') q = find_ctl<0x20>(q + 1, limit);
    count(p, q);
    pr_.pos = off(q);
    if (q == limit) return need_more();
    const char* value_end = q;
    if (*q == '\r') {
      if (q + 1 == limit) return need_more();
      if (q[1] != '\n') return error(400, "bare CR");
      ++q;
    } else if (*q != '\n') {
      return error(400, "invalid header value");
    }
    count(value_end, q + 1);
    const char* value = buf_ + pr_.value;
    while (value_end > value && chars::is_ws(value_end[-1])) --value_end;
    out.name = std::string_view(begin, pr_.name_end - pr_.line);
    out.value = std::string_view(value, static_cast<size_t>(value_end - value));
    pr_.line = pr_.pos = off(q + 1);
    pr_.phase = kLineStart;
    return ParseResult{ParseState::kDone};
  }

  const char* const buf_;
  const char* const end_;
  const ParseLimits& limits_;
  RequestHead& head_;
  ParseProgress& pr_;
  ParseResult r_{ParseState::kNeedMore};
};

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kLower[static_cast<uint8_t>(a[i])] != kLower[static_cast<uint8_t>(b[i])]) return false;
  }
  return true;
}

std::string_view field_name(Field f) {
  return kFieldNames[static_cast<size_t>(f)];
}

std::string_view RequestHead::find(std::string_view name) const {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

ParseResult parse_request(std::string_view data, const ParseLimits& limits, RequestHead& head) {
  ParseProgress progress;
  return parse_request(data, limits, head, progress);
}

ParseResult parse_request(std::string_view data, const ParseLimits& limits, RequestHead& head,
                          ParseProgress& progress) {
  if (!progress.resumed) reset_head(head);
  Call call(data, limits, head, progress);
  if (!call.run()) {
    progress.resumed = true;
    return call.result();
  }
  if (progress.resumed) {
    // Views written by earlier calls point into older buffers: parse the complete head again,
    // in one pass, so that every view points into `data`.
    ParseProgress once;
    ParseResult r = parse_request(data, limits, head, once);
    progress.examined += once.examined;
    return r;
  }
  ParseResult r = finish_head(head, progress.fs);
  if (r.state == ParseState::kError) return r;
  r.head_length = progress.pos + 1;
  return r;
}

}  // namespace askr::http
