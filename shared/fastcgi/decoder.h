// Incremental FastCGI record decoder and name-value pair parser. Protocol code only: bytes in,
// events out; no I/O, and no allocation in the decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/fastcgi/protocol.h"

namespace askr::fastcgi {

// Splits a byte stream into records and hands their content up piece by piece, as it arrives:
// a 64 KiB STDOUT record fed in 4 KiB reads comes out as 16 pieces, none of them copied. The
// decoder keeps its state between calls, so any split of the input (one byte at a time
// included) yields the same records with the same content.
//
// BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE are the exception: their content must be exactly
// kFixedBodyLength bytes (anything else is an error), and it is delivered whole, in one event,
// from a small internal buffer, so parse_begin_request() and friends always see all of it.
//
// Records of every type are passed up, types this code does not know included; which types are
// acceptable is the caller's business. Padding is skipped. The only framing error is a version
// other than 1 (every 16-bit content length is valid).
class Decoder {
 public:
  enum class Status : uint8_t { kContent, kNeedMore, kError };

  struct Step {
    Status status = Status::kNeedMore;
    size_t consumed = 0;  // bytes of `in` used up by this call
    // kContent only:
    RecordType type = RecordType::kStdout;
    uint16_t request_id = 0;
    // The next piece of the record's content: a view into `in`, or, for the fixed-body types,
    // into the decoder (valid until the next call). Empty only for an empty record, which
    // comes as one event with end_of_record set (the end of a stream).
    std::string_view content{};
    // This piece ends the record's content. The record's padding may still be on its way; the
    // decoder skips it when it comes.
    bool end_of_record = false;
  };

  // Consumes bytes from `in`. kContent: one event; call again with the rest of `in` (an empty
  // rest is fine: call until kNeedMore). kNeedMore: all of `in` was used. kError: see error();
  // sticky until reset().
  Step next(std::string_view in);

  const char* error() const { return error_; }
  // True between records: no partial header, content or padding pending. Where a connection
  // is handed to the next request, this says the previous answer was read to its end.
  bool at_record_boundary() const { return state_ == State::kHeader && have_ == 0; }

  void reset() { *this = Decoder(); }

  // For a caller that reads part of the stream itself (STDOUT content spliced from the socket
  // to a pipe), so that the decoder still knows where each record ends:
  // The type and content bytes still to come of the record whose content is being read; 0 in
  // any other state (header, padding, a fixed body).
  RecordType record_type() const { return header_.type; }
  size_t content_left() const { return state_ == State::kContent ? content_left_ : 0; }
  // `n` (<= content_left()) content bytes were taken from the stream without passing through
  // next(). At the record's end the decoder expects its padding, then the next header.
  void skip_content(size_t n);
  // Header or padding bytes the decoder needs next (feed them through next()); 0 while a
  // content or fixed body is being read, or after an error.
  size_t framing_left() const;

 private:
  enum class State : uint8_t { kHeader, kContent, kFixedBody, kPadding, kError };

  Step content_event(std::string_view piece, size_t consumed);
  size_t skip_padding(std::string_view in);
  Step fail(const char* why, size_t consumed);

  State state_ = State::kHeader;
  RecordHeader header_;
  size_t have_ = 0;          // header or fixed-body bytes collected in buf_
  size_t content_left_ = 0;  // content bytes of the current record still to come
  size_t padding_left_ = 0;
  char buf_[kHeaderLength] = {};  // kHeaderLength == kFixedBodyLength
  const char* error_ = nullptr;
};

struct BeginRequest {
  Role role = Role::kResponder;  // may hold a value Role does not name (answer kUnknownRole)
  uint8_t flags = 0;
  bool keep_conn() const { return (flags & kKeepConn) != 0; }
};

struct EndRequest {
  uint32_t app_status = 0;
  ProtocolStatus protocol_status = ProtocolStatus::kRequestComplete;  // may hold any value
};

// Parse the fixed bodies delivered by the Decoder; nullopt when `content` is not exactly
// kFixedBodyLength bytes.
std::optional<BeginRequest> parse_begin_request(std::string_view content);
std::optional<EndRequest> parse_end_request(std::string_view content);
std::optional<uint8_t> parse_unknown_type(std::string_view content);  // the unknown type

// Parses name-value pairs from the content of a PARAMS (or GET_VALUES) stream fed in pieces of
// any size; a pair may straddle pieces and records. A pair that lies whole inside one piece is
// returned as views into it; one that straddles pieces is gathered in an internal buffer (its
// capacity is kept across reset(), so a warm parser does not allocate).
//
// `max_size` bounds the encoded size of all pairs since the last reset(), length bytes
// included. The check is made as soon as a pair's lengths are known, before its bytes are
// buffered, so a huge announced length fails at once.
class ParamsParser {
 public:
  static constexpr size_t kDefaultMaxSize = 64 * 1024;

  explicit ParamsParser(size_t max_size = kDefaultMaxSize) : max_size_(max_size) {}

  enum class Status : uint8_t { kPair, kNeedMore, kError };

  struct Step {
    Status status = Status::kNeedMore;
    size_t consumed = 0;  // bytes of `in` used up by this call
    // kPair: views into `in` or into the parser, valid until the next call.
    std::string_view name{};
    std::string_view value{};
  };

  // Consumes bytes from `in`. kPair: call again with the rest of `in`. kNeedMore: all of `in`
  // was used. kError: see error(); sticky until reset().
  Step next(std::string_view in) {
    // Inline for the usual pair: whole in `in`, both lengths one byte, within the limit.
    if (in.size() >= 2 && !error_ && !clear_pending_ && pending_.empty()) {
      const size_t name = static_cast<uint8_t>(in[0]), value = static_cast<uint8_t>(in[1]);
      if (name < 0x80 && value < 0x80 && in.size() - 2 >= name + value &&
          account(2 + name + value)) {
        return Step{
            Status::kPair, 2 + name + value, {in.data() + 2, name}, {in.data() + 2 + name, value}};
      }
    }
    return next_slow(in);
  }

  // Call at the end of the stream (the empty PARAMS record): false, with error() set, when a
  // pair was cut short.
  bool finish();

  const char* error() const { return error_; }
  size_t total_size() const { return total_; }  // encoded bytes of the pairs so far

  void reset();

 private:
  Step next_slow(std::string_view in);
  Step fail(const char* why, size_t consumed);
  // Counts a pair of `pair_size` encoded bytes; false, counting nothing, past the limit.
  bool account(size_t pair_size) {
    if (pair_size > max_size_ - total_) return false;
    total_ += pair_size;
    return true;
  }

  size_t max_size_;
  size_t total_ = 0;
  std::string pending_;      // bytes of a pair that straddles pieces
  size_t pending_size_ = 0;  // encoded size of that pair once its lengths are known, else 0
  bool clear_pending_ = false;
  const char* error_ = nullptr;
};

}  // namespace askr::fastcgi
