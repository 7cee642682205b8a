#include "http/chunked.h"

#include <algorithm>

#include "http/h1_parser.h"
#include "shared/base/hex.h"

namespace askr::http {

namespace {

// qdtext (RFC 9110 §5.6.4): HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
bool is_qdtext(char c) {
  return c != '"' && c != '\\' && chars::is_field_char(c);
}

}  // namespace

ChunkedDecoder::ChunkedDecoder(uint64_t max_body, size_t max_line, size_t max_trailers)
    : max_body_(max_body), max_line_(max_line), max_trailers_(max_trailers) {}

void ChunkedDecoder::reset() {
  *this = ChunkedDecoder(max_body_, max_line_, max_trailers_);
}

bool ChunkedDecoder::fail(int status, const char* reason) {
  state_ = State::kError;
  error_status_ = status;
  error_reason_ = reason;
  return false;
}

ChunkedDecoder::Step ChunkedDecoder::next(std::string_view in) {
  if (state_ == State::kDone) return Step{Status::kDone, 0, {}};
  if (state_ == State::kError) return Step{Status::kError, 0, {}};
  size_t i = 0;
  while (i < in.size()) {
    if (state_ == State::kData) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - i));
      remaining_ -= take;
      body_bytes_ += take;
      if (remaining_ == 0) state_ = State::kDataCr;
      return Step{Status::kData, i + take, in.substr(i, take)};
    }
    char c = in[i++];
    bool ok;
    if (state_ <= State::kSizeLf) {
      ok = step_size_line(c);
    } else if (state_ <= State::kDataLf) {
      ok = step_data_end(c);
    } else {
      ok = step_trailer(c);
    }
    if (!ok) return Step{Status::kError, i, {}};
    if (state_ == State::kDone) return Step{Status::kDone, i, {}};
  }
  return Step{Status::kNeedMore, in.size(), {}};
}

// The CRLF after chunk data; then a new chunk-size line starts.
bool ChunkedDecoder::step_data_end(char c) {
  if (state_ == State::kDataCr) {
    state_ = State::kDataLf;
    return c == '\r' || fail(400, "missing CRLF after chunk data");
  }
  if (c != '\n') return fail(400, "missing CRLF after chunk data");
  state_ = State::kSize;
  size_digit_seen_ = false;
  remaining_ = 0;
  line_bytes_ = 0;
  return true;
}

// chunk-size [ chunk-ext ] CRLF, one byte at a time. False (with the error set) on bad input.
bool ChunkedDecoder::step_size_line(char c) {
  bool ok = true;
  if (state_ == State::kSize) {
    int d = base::hex_value(c);
    if (d >= 0) {
      // Leading zeros are digits like any other (RFC 9112 §7.1): only a value past 64 bits is
      // refused; the line limit bounds how many come.
      if (remaining_ > UINT64_MAX >> 4) {
        return fail(400, "chunk size too long");
      }
      remaining_ = (remaining_ << 4) | static_cast<uint64_t>(d);
      size_digit_seen_ = true;
    } else if (!size_digit_seen_) {
      ok = false;
    } else if (chars::is_ws(c)) {
      state_ = State::kSizeWs;
    } else if (c == ';') {
      state_ = State::kExtPreName;
    } else if (c == '\r') {
      state_ = State::kSizeLf;
    } else {
      ok = false;
    }
  } else if (state_ == State::kSizeWs) {
    if (c == ';') {
      state_ = State::kExtPreName;
    } else {
      ok = chars::is_ws(c);
    }
  } else if (state_ == State::kSizeLf) {
    if (c != '\n') {
      return fail(400, "bare CR in chunk line");
    }
    return end_size_line();
  } else {
    ok = step_ext(c);
  }
  if (!ok) {
    return fail(400, "invalid chunk line");
  }
  if (state_ != State::kSizeLf && ++line_bytes_ > max_line_) {
    return fail(400, "chunk line too long");
  }
  return true;
}

// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token /
// quoted-string. Whitespace is allowed only where the grammar has BWS.
bool ChunkedDecoder::step_ext(char c) {
  bool ws = chars::is_ws(c);
  switch (state_) {
    case State::kExtPreName:
      if (chars::is_tchar(c)) state_ = State::kExtName;
      return ws || chars::is_tchar(c);
    case State::kExtName:
    case State::kExtToken:
      if (chars::is_tchar(c)) return true;
      if (c == '=' && state_ == State::kExtName) {
        state_ = State::kExtPreValue;
        return true;
      }
      [[fallthrough]];
    case State::kExtAfterQuote:
      if (ws) {
        state_ = state_ == State::kExtName ? State::kExtPostName : State::kExtPostValue;
      } else if (c == ';') {
        state_ = State::kExtPreName;
      } else if (c == '\r') {
        state_ = State::kSizeLf;
      } else {
        return false;
      }
      return true;
    case State::kExtPostName:
      if (c == '=') state_ = State::kExtPreValue;
      if (c == ';') state_ = State::kExtPreName;
      return ws || c == '=' || c == ';';
    case State::kExtPreValue:
      if (c == '"') state_ = State::kExtQuoted;
      if (chars::is_tchar(c)) state_ = State::kExtToken;
      return ws || c == '"' || chars::is_tchar(c);
    case State::kExtQuoted:
      if (c == '"') state_ = State::kExtAfterQuote;
      if (c == '\\') state_ = State::kExtQuotedPair;
      return c == '"' || c == '\\' || is_qdtext(c);
    case State::kExtQuotedPair:
      state_ = State::kExtQuoted;
      return chars::is_field_char(c);
    case State::kExtPostValue:
      if (c == ';') state_ = State::kExtPreName;
      return ws || c == ';';
    default:
      return false;
  }
}

// The LF of a chunk-size line: the last chunk starts the trailers, others start their data.
bool ChunkedDecoder::end_size_line() {
  if (remaining_ == 0) {
    state_ = State::kTrailerStart;
    return true;
  }
  if (remaining_ > max_body_ - body_bytes_) {
    return fail(413, "body too large");
  }
  state_ = State::kData;
  return true;
}

// trailer-section = *( field-line CRLF ) CRLF, fields checked as in the head and discarded.
bool ChunkedDecoder::step_trailer(char c) {
  if (++trailer_bytes_ > max_trailers_) {
    return fail(400, "trailer section too large");
  }
  bool ok = true;
  switch (state_) {
    case State::kTrailerStart:
      if (c == '\r') {
        state_ = State::kFinalLf;
      } else if (chars::is_tchar(c)) {
        state_ = State::kTrailerName;
      } else {
        ok = false;
      }
      break;
    case State::kTrailerName:
      if (c == ':') state_ = State::kTrailerValue;
      ok = c == ':' || chars::is_tchar(c);
      break;
    case State::kTrailerValue:
      if (c == '\r') state_ = State::kTrailerLf;
      ok = c == '\r' || chars::is_field_char(c);
      break;
    case State::kTrailerLf:
      state_ = State::kTrailerStart;
      ok = c == '\n';
      break;
    case State::kFinalLf:
      state_ = State::kDone;
      ok = c == '\n';
      break;
    default:
      ok = false;
  }
  return ok || fail(400, "invalid trailer field");
}

}  // namespace askr::http
