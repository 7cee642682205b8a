// FastCGI record encoder: appends whole records to a std::string. Protocol code only: no I/O.
//
// Every record the encoder writes is padded to a multiple of 8 bytes, as the specification
// recommends (record_header() alone leaves the padding to the caller). The output string is
// only ever appended to; callers that reuse one string across requests keep its capacity, so
// encoding allocates nothing once the string has grown to its working size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

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
size_t encoded_pair_size(std::string_view name, std::string_view value);

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

  void add(std::string_view name, std::string_view value) { add(name, value, {}); }
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
  size_t written() const { return window_ ? used_ : out_.size(); }  // bytes of out_ that count
  size_t room() const { return kMaxContentLength - (written() - record_ - kHeaderLength); }

  std::string& out_;
  uint16_t request_id_;
  size_t record_ = kNoRecord;  // offset in out_ of the open record's header
  size_t used_ = 0;            // bytes of out_ written, while a window is open
  bool window_ = false;        // out_ is longer than used_ (only while a record is open)
  std::string split_name_;
};

}  // namespace askr::fastcgi
