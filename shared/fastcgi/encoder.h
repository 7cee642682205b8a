// FastCGI record encoder: appends whole records to a std::string. Protocol code only: no I/O.
//
// Every record the encoder writes is padded to a multiple of 8 bytes, as the specification
// recommends (record_header() alone leaves the padding to the caller). The output string is
// only ever appended to; callers that reuse one string across requests keep its capacity, so
// encoding allocates nothing once the string has grown to its working size.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "shared/base/copy.h"
#include "shared/fastcgi/protocol.h"

namespace askr::fastcgi {

using NameValue = std::pair<std::string_view, std::string_view>;

// Writes one 8-byte record header into `out` (exactly kHeaderLength bytes). For a payload that
// is spliced after the header: the caller then sends `content_length` bytes of content and
// `padding_length` bytes of padding (any value; zero is fine).
void record_header(char* out, RecordType type, uint16_t request_id, uint16_t content_length,
                   uint8_t padding_length);
// The same, appended to `out`.
void record_header(std::string& out, RecordType type, uint16_t request_id, uint16_t content_length,
                   uint8_t padding_length);

void begin_request(std::string& out, uint16_t request_id, Role role, bool keep_conn);

// Appends the pairs as PARAMS records (see ParamsWriter for the record layout) but not the
// empty PARAMS record that ends the stream: call end_params() after the last pair.
void params(std::string& out, uint16_t request_id, std::span<const NameValue> pairs);
void end_params(std::string& out, uint16_t request_id);

// Appends `data` as records of `type` (STDIN, STDOUT, STDERR or DATA). Full records carry
// kMaxAlignedContentLength bytes (no padding), the last one the rest, padded. Empty `data`
// writes nothing, since an empty record would end the stream: that is end_stream().
void stream(std::string& out, RecordType type, uint16_t request_id, std::string_view data);
void end_stream(std::string& out, RecordType type, uint16_t request_id);

void end_request(std::string& out, uint16_t request_id, uint32_t app_status,
                 ProtocolStatus protocol_status);
void abort_request(std::string& out, uint16_t request_id);

// Management records (request id 0). GET_VALUES carries names with empty values; its answer
// must fit one record: get_values_result() returns false and writes nothing when the encoded
// pairs exceed kMaxContentLength.
bool get_values(std::string& out, std::span<const std::string_view> names);
bool get_values_result(std::string& out, std::span<const NameValue> pairs);
void unknown_type(std::string& out, uint8_t type);

// Bytes a name-value pair takes on the wire: 1 length byte per length below 128, else 4.
inline size_t encoded_pair_size(std::string_view name, std::string_view value) {
  return (name.size() < 128 ? 1 : 4) + (value.size() < 128 ? 1 : 4) + name.size() + value.size();
}

// Writes the 1- or 4-byte length of the name-value pair encoding at `p`; returns its end.
inline char* put_pair_length(char* p, size_t length) {
  if (length < 128) {
    *p = static_cast<char>(length);
    return p + 1;
  }
  assert(length <= 0x7fffffff);
  p[0] = static_cast<char>(0x80 | (length >> 24));
  p[1] = static_cast<char>(length >> 16 & 0xff);
  p[2] = static_cast<char>(length >> 8 & 0xff);
  p[3] = static_cast<char>(length & 0xff);
  return p + 4;
}

// Appends name-value pairs one at a time as PARAMS records, without building a list first.
//
// A record is opened with a placeholder header, filled, then closed by patching its content
// length and appending its padding. A pair never straddles two records when it fits in one:
// php-fpm parses each PARAMS record on its own and drops the connection, unanswered, when a
// pair is cut in two. A pair larger than kMaxContentLength is split across records (legal for
// the stream, but php-fpm refuses it). Names and values must be shorter than 2^31 bytes (the
// 4-byte length has 31 bits). The writer writes nothing until the first add(), so zero pairs
// give zero bytes.
//
// Pairs are copied into a window of `out` sized once (its reserved capacity, at least), not
// appended one by one: between the first add() and finish() (or the writer's end) `out` holds
// that window past the pairs written, and must not be read or modified by anyone else.
class ParamsWriter {
 public:
  ParamsWriter(std::string& out, uint16_t request_id) : out_(out), request_id_(request_id) {}
  ParamsWriter(const ParamsWriter&) = delete;
  ParamsWriter& operator=(const ParamsWriter&) = delete;
  ~ParamsWriter() { trim(); }

  // Inline, so that a name (or value) known at compile time is copied as a constant: the usual
  // pair fits in the open record, short of filling it, and in the window.
  void add(std::string_view name, std::string_view value) {
    if (encoded_pair_size(name, value) < size_t(end_ - at_)) {
      at_ = base::put(
          base::put(put_pair_length(put_pair_length(at_, name.size()), value.size()), name), value);
      return;
    }
    add_slow(name, value, {});
  }
  // One pair whose value is `value` followed by `more`, without joining them first.
  void add(std::string_view name, std::string_view value, std::string_view more);
  // Closes the open record, if any, and leaves `out` ending with it. Does not write the empty
  // PARAMS record (end_params()).
  void finish();
  // The name of the first pair that was larger than a record, and so split; "" when none was.
  std::string_view split_name() const { return split_name_; }

 private:
  static constexpr size_t kNoRecord = SIZE_MAX;
  static constexpr size_t kWindow = 2048;  // bytes of window opened at a time, at least

  void add_slow(std::string_view name, std::string_view value, std::string_view more);
  void open_record();
  void close_record();
  void append(std::string_view bytes);  // into records, opening new ones as they fill up
  void trim();                          // `out` back to the bytes written: no window
  void widen(size_t bytes);             // a window of at least `bytes` past the bytes written
  // Bytes of out_ that count.
  size_t written() const { return at_ ? size_t(at_ - out_.data()) : out_.size(); }
  size_t room() const { return kMaxContentLength - (written() - record_ - kHeaderLength); }

  std::string& out_;
  uint16_t request_id_;
  size_t record_ = kNoRecord;  // offset in out_ of the open record's header
  // While a window is open (only while a record is open): where the next pair goes in out_,
  // and the window's end or the record's, whichever comes first. Both null otherwise.
  char* at_ = nullptr;
  char* end_ = nullptr;
  std::string split_name_;
};

}  // namespace askr::fastcgi
