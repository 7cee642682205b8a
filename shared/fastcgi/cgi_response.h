// Parser of the CGI response header block (RFC 3875 §6) that a FastCGI responder writes at the
// start of its STDOUT stream. Protocol code only: bytes in, status and header fields out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace askr::fastcgi {

struct CgiHeader {
  std::string name;   // as sent (case preserved)
  std::string value;  // leading and trailing SP/HTAB trimmed
};

// Feed it the STDOUT content pieces as they come, split anywhere. Lines end in CRLF or a bare
// LF (PHP writes CRLF); the block ends with an empty line. Then:
//  - status(): from `Status: 404 Not Found` (three digits, 100-599, then an optional reason);
//    without Status, 302 when a Location field is present (RFC 3875 §6.2.3-§6.2.4: the proxy
//    answers a local redirect like a client redirect, as nginx does), else 200;
//  - headers(): every other field, in order, repeats kept as separate fields (Set-Cookie);
//  - skipped_lines(): lines without a colon, which are dropped: PHP's header('Invalid') writes
//    one, and nginx passes such a page on too. Such a line names no field, so dropping it
//    cannot change what another field means.
//  - skipped_fields(): fields no client may be sent, which are dropped with the page passed
//    on, as nginx passes it on: a name with a byte that is not a token character (other than
//    those below), or a value with a control character other than HTAB (other than those
//    below). PHP's header() lets these through (header("X-Debug: \e[31m...")).
// Errors (the proxy answers 502, as nginx does): an empty name, whitespace or CR or NUL in a
// name (whitespace before the colon), obsolete line folding, NUL or a bare CR in a value, a
// malformed or repeated Status, a block larger than `max_head_size` bytes (line ends included).
class CgiResponseParser {
 public:
  static constexpr size_t kDefaultMaxHeadSize = 32 * 1024;

  explicit CgiResponseParser(size_t max_head_size = kDefaultMaxHeadSize)
      : max_head_size_(max_head_size) {}

  enum class State : uint8_t { kNeedMore, kDone, kError };

  // Consumes `piece`. kNeedMore: all of it belongs to the header block. kDone: the block ended
  // inside `piece`; `body_rest` is what followed it there (a view into `piece`, maybe empty).
  // Once done, every later feed returns kDone with the whole piece as `body_rest`. kError: see
  // error(); sticky until reset(). `body_rest` is empty except on kDone.
  State feed(std::string_view piece, std::string_view& body_rest);

  State state() const { return state_; }
  int status() const { return status_; }               // after kDone
  std::string_view reason() const { return reason_; }  // reason from Status, maybe empty
  std::span<const CgiHeader> headers() const { return {headers_.data(), used_}; }
  // The first field named `name` (case-insensitive), or nullptr.
  const CgiHeader* find(std::string_view name) const;
  size_t head_size() const { return head_size_; }  // bytes of the block read so far
  size_t skipped_lines() const { return skipped_lines_; }
  size_t skipped_fields() const { return skipped_fields_; }
  const char* error() const { return error_; }

  // Forgets the response, keeping the limit and the capacity of its buffers.
  void reset();
  // A new limit for the next head; only before the first feed() after construction or reset().
  void set_max_head_size(size_t max_head_size) { max_head_size_ = max_head_size; }
  // What reset() keeps for the next head (string and vector capacity), and freeing it.
  size_t kept_bytes() const;
  void drop_kept();

 private:
  bool parse_line(std::string_view line);
  bool parse_status(std::string_view value);
  State fail(const char* why);

  size_t max_head_size_;
  State state_ = State::kNeedMore;
  size_t head_size_ = 0;
  size_t skipped_lines_ = 0;
  size_t skipped_fields_ = 0;
  std::string line_;  // a line cut by the end of a piece
  // The head's fields are the first used_; the strings of the rest keep their capacity from one
  // response to the next (a parser reset and reused allocates nothing for a usual head).
  std::vector<CgiHeader> headers_;
  size_t used_ = 0;
  std::string reason_;
  int status_ = 0;  // from Status while parsing, the final status once done
  bool has_location_ = false;
  const char* error_ = nullptr;
};

}  // namespace askr::fastcgi
