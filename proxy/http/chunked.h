// Incremental decoder of a chunked request body (RFC 9112 §7.1). Protocol code only: bytes in,
// payload views out; no I/O and no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace askr::http {

// Decodes chunk-size lines, chunk data, the last chunk and the trailer section. Every framing
// line must end in CRLF (a bare LF is refused inside the body, unlike in the head, because
// disagreeing on line ends between hops is a request-smuggling vector). Chunk extensions are
// checked against the RFC grammar and ignored; trailer fields are checked like header fields
// and discarded. The decoder keeps its state between calls, so any split of the input decodes
// to the same payload.
class ChunkedDecoder {
 public:
  // max_body: payload bytes allowed (more -> 413, detected from the chunk size, before the data
  // arrives). max_line: length of a chunk-size line, extensions included, CRLF excluded.
  // max_trailers: bytes of the trailer section, its final CRLF included.
  explicit ChunkedDecoder(uint64_t max_body = UINT64_MAX, size_t max_line = 4096,
                          size_t max_trailers = 32768);

  enum class Status : uint8_t { kData, kNeedMore, kDone, kError };

  struct Step {
    Status status;
    size_t consumed;        // bytes of `in` used up by this call
    std::string_view data;  // kData: the next piece of payload, a view into `in`
  };

  // Consumes bytes from `in`. kData: `data` is the next piece of payload (non-empty, inside the
  // first `consumed` bytes of `in`); call again with the rest. kNeedMore: all of `in` was used,
  // need more input. kDone: the last chunk and trailers are complete after `consumed` bytes
  // (what follows is the next pipelined request); later calls return kDone consuming nothing.
  // kError: see error_status(); the error is sticky until reset().
  Step next(std::string_view in);

  int error_status() const { return error_status_; }  // 400 malformed, 413 over max_body; else 0
  const char* error_reason() const { return error_reason_; }
  uint64_t body_bytes() const { return body_bytes_; }  // payload bytes decoded so far
  bool done() const { return state_ == State::kDone; }

  // Forgets everything but the limits, ready for the next body.
  void reset();

 private:
  // The order matters: next() dispatches on ranges (size line, data end, trailers).
  enum class State : uint8_t {
    // chunk-size [ chunk-ext ] CRLF
    kSize,
    kSizeWs,      // BWS after the size, before ';'
    kExtPreName,  // after ';'
    kExtName,
    kExtPostName,  // BWS after a name
    kExtPreValue,  // after '='
    kExtToken,
    kExtQuoted,
    kExtQuotedPair,  // after '\' inside a quoted-string
    kExtAfterQuote,  // right after the closing '"'
    kExtPostValue,   // BWS after a value
    kSizeLf,
    // chunk-data CRLF
    kData,
    kDataCr,
    kDataLf,
    // trailer-section CRLF
    kTrailerStart,
    kTrailerName,
    kTrailerValue,
    kTrailerLf,
    kFinalLf,
    kDone,
    kError,
  };

  // Each step_* consumes one byte; false (with the error recorded) on bad input.
  bool fail(int status, const char* reason);
  bool step_size_line(char c);
  bool step_data_end(char c);
  bool step_ext(char c);
  bool step_trailer(char c);
  bool end_size_line();

  uint64_t max_body_;
  size_t max_line_;
  size_t max_trailers_;
  State state_ = State::kSize;
  bool size_digit_seen_ = false;
  uint64_t remaining_ = 0;  // chunk size while reading the line, then data bytes still due
  size_t line_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  int error_status_ = 0;
  const char* error_reason_ = "";
};

}  // namespace askr::http
