#include "shared/fastcgi/cgi_response.h"

#include <array>
#include <cstdint>
#include <cstring>

using namespace std::string_view_literals;

namespace askr::fastcgi {
namespace {

// tchar of RFC 9110 §5.6.2.
constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> t{};
  for (size_t c = '0'; c <= '9'; ++c) t[c] = true;
  for (size_t c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (size_t c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kToken = make_token_table();

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kToken[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// Field-value octets: anything but control characters (HTAB excepted) and DEL. Eight bytes at
// a time while no byte is below 0x20 or DEL (the usual value); from a word that has one (a tab,
// say), byte by byte.
bool is_field_value(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    const uint64_t del = w ^ (kOnes * 0x7f);
    if (((w - kOnes * 0x20) & ~w & kHigh) | ((del - kOnes) & ~del & kHigh)) break;
  }
  for (; n > 0; ++p, --n) {
    const auto u = static_cast<unsigned char>(*p);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

CgiResponseParser::State CgiResponseParser::feed(std::string_view piece,
                                                 std::string_view& body_rest) {
  body_rest = {};
  if (state_ == State::kDone) body_rest = piece;
  if (state_ != State::kNeedMore) return state_;
  size_t pos = 0;
  while (pos < piece.size()) {
    const size_t lf = piece.find('\n', pos);
    const size_t end = lf == std::string_view::npos ? piece.size() : lf + 1;
    head_size_ += end - pos;
    if (head_size_ > max_head_size_) return fail("CGI header block too large");
    if (lf == std::string_view::npos) {
      line_.append(piece.substr(pos));
      return State::kNeedMore;
    }
    std::string_view line = piece.substr(pos, lf - pos);
    if (!line_.empty()) line = line_.append(line);
    pos = end;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (status_ == 0) status_ = has_location_ ? 302 : 200;
      state_ = State::kDone;
      body_rest = piece.substr(pos);
      return state_;
    }
    if (!parse_line(line)) return State::kError;
    line_.clear();
  }
  return State::kNeedMore;
}

const CgiHeader* CgiResponseParser::find(std::string_view name) const {
  for (const CgiHeader& h : headers()) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

namespace {
constexpr size_t kMaxKeptField = 256;  // bytes of a field's name or value kept by reset()
constexpr size_t kMaxKeptFields = 16;  // fields kept by reset()
constexpr size_t kMaxKeptLine = 4096;  // bytes of a cut line's buffer kept by reset()
}  // namespace

void CgiResponseParser::reset() {
  state_ = State::kNeedMore;
  head_size_ = 0;
  skipped_lines_ = 0;
  skipped_fields_ = 0;
  line_.clear();
  if (line_.capacity() > kMaxKeptLine) std::string().swap(line_);  // a head of large lines
  // Fields kept for the next head, unless one grew large.
  for (size_t i = 0; i < used_; ++i) {
    for (std::string* s : {&headers_[i].name, &headers_[i].value}) {
      if (s->capacity() > kMaxKeptField) std::string().swap(*s);
    }
  }
  if (headers_.size() > kMaxKeptFields) headers_.resize(kMaxKeptFields);
  used_ = 0;
  reason_.clear();
  status_ = 0;
  has_location_ = false;
  error_ = nullptr;
}

size_t CgiResponseParser::kept_bytes() const {
  size_t n = headers_.capacity() * sizeof(CgiHeader) + line_.capacity();
  for (const CgiHeader& h : headers_) n += h.name.capacity() + h.value.capacity();
  return n;
}

void CgiResponseParser::drop_kept() {
  reset();
  std::vector<CgiHeader>().swap(headers_);
}

bool CgiResponseParser::parse_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    fail("obsolete line folding in CGI header block");
    return false;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    ++skipped_lines_;
    return true;
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  // The usual field is one a client may be sent: one pass over each part decides.
  const bool sendable = is_token(name) && is_field_value(value);
  if (!sendable) {
    if (name.empty() || name.find_first_of(" \t\r"sv) != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
      fail("bad CGI header name");
      return false;
    }
    if (value.find_first_of("\r\0"sv) != std::string_view::npos) {
      fail("control character in CGI header value");
      return false;
    }
  }
  if (iequals(name, "Status")) {
    if (sendable) return parse_status(value);
    fail("bad CGI Status header");
    return false;
  }
  // PHP's header() lets any other byte through: a field no client may be sent is dropped, and
  // the page goes on without it, as for a line without a colon.
  if (!sendable) {
    ++skipped_fields_;
    return true;
  }
  if (iequals(name, "Location")) has_location_ = true;
  if (headers_.capacity() == 0) headers_.reserve(8);  // one allocation for a usual head
  if (used_ == headers_.size()) headers_.emplace_back();
  CgiHeader& h = headers_[used_++];
  h.name.assign(name);
  h.value.assign(value);
  return true;
}

// "Status:" SP 3DIGIT [ SP reason-phrase ]
bool CgiResponseParser::parse_status(std::string_view value) {
  if (status_ != 0) {
    fail("repeated CGI Status header");
    return false;
  }
  const bool digits = value.size() >= 3 && is_digit(value[0]) && is_digit(value[1]) &&
                      is_digit(value[2]) &&
                      (value.size() == 3 || value[3] == ' ' || value[3] == '\t');
  const int status = digits ? (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0') : 0;
  if (status < 100 || status > 599) {
    fail("bad CGI Status header");
    return false;
  }
  status_ = status;
  reason_.assign(trim(value.substr(3)));
  return true;
}

CgiResponseParser::State CgiResponseParser::fail(const char* why) {
  state_ = State::kError;
  error_ = why;
  return state_;
}

}  // namespace askr::fastcgi
