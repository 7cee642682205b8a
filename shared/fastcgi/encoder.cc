#include "shared/fastcgi/encoder.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "shared/base/copy.h"

namespace askr::fastcgi {

using base::put;

namespace {

constexpr char kZeros[8] = {};

[[maybe_unused]] bool is_stream(RecordType type) {  // for assert()s only
  return type == RecordType::kStdin || type == RecordType::kStdout || type == RecordType::kStderr ||
         type == RecordType::kData || type == RecordType::kParams;
}

// One whole record: header, content, padding.
void record(std::string& out, RecordType type, uint16_t request_id, std::string_view content) {
  assert(content.size() <= kMaxContentLength);
  const uint8_t padding = padding_for(content.size());
  if (content.size() <= 8) {  // an empty record ending a stream, BEGIN_REQUEST: one append
    char bytes[kHeaderLength + 8] = {};
    record_header(bytes, type, request_id, static_cast<uint16_t>(content.size()), padding);
    if (!content.empty()) std::memcpy(bytes + kHeaderLength, content.data(), content.size());
    out.append(bytes, kHeaderLength + content.size() + padding);
    return;
  }
  record_header(out, type, request_id, static_cast<uint16_t>(content.size()), padding);
  base::append_bytes(out, content.data(), content.size());
  out.append(kZeros, padding);
}

// Writes both lengths of a pair into `p` (8 bytes at most); returns the bytes written.
size_t put_lengths(char* p, size_t name_length, size_t value_length) {
  return size_t(put_pair_length(put_pair_length(p, name_length), value_length) - p);
}

void append_pair(std::string& out, std::string_view name, std::string_view value) {
  char lengths[8];
  out.append(lengths, put_lengths(lengths, name.size(), value.size()));
  out.append(name);
  out.append(value);
}

// A management record whose content is name-value pairs; it must fit one record.
template <class Pairs, class Name, class Value>
bool pairs_record(std::string& out, RecordType type, const Pairs& pairs, Name name, Value value) {
  size_t length = 0;
  for (const auto& p : pairs) length += encoded_pair_size(name(p), value(p));
  if (length > kMaxContentLength) return false;
  const uint8_t padding = padding_for(length);
  record_header(out, type, kNullRequestId, static_cast<uint16_t>(length), padding);
  for (const auto& p : pairs) append_pair(out, name(p), value(p));
  out.append(kZeros, padding);
  return true;
}

}  // namespace

void record_header(char* out, RecordType type, uint16_t request_id, uint16_t content_length,
                   uint8_t padding_length) {
  write_header(RecordHeader{kVersion1, type, request_id, content_length, padding_length}, out);
}

void record_header(std::string& out, RecordType type, uint16_t request_id, uint16_t content_length,
                   uint8_t padding_length) {
  char header[kHeaderLength];
  record_header(header, type, request_id, content_length, padding_length);
  out.append(header, kHeaderLength);
}

void begin_request(std::string& out, uint16_t request_id, Role role, bool keep_conn) {
  const auto r = static_cast<uint16_t>(role);
  const char body[kFixedBodyLength] = {static_cast<char>(r >> 8), static_cast<char>(r & 0xff),
                                       static_cast<char>(keep_conn ? kKeepConn : 0)};
  record(out, RecordType::kBeginRequest, request_id, {body, sizeof body});
}

void params(std::string& out, uint16_t request_id, std::span<const NameValue> pairs) {
  ParamsWriter writer(out, request_id);
  for (const NameValue& p : pairs) writer.add(p.first, p.second);
  writer.finish();
}

void end_params(std::string& out, uint16_t request_id) {
  record(out, RecordType::kParams, request_id, {});
}

void stream(std::string& out, RecordType type, uint16_t request_id, std::string_view data) {
  assert(is_stream(type));
  while (!data.empty()) {
    const size_t n = std::min(data.size(), kMaxAlignedContentLength);
    record(out, type, request_id, data.substr(0, n));
    data.remove_prefix(n);
  }
}

void end_stream(std::string& out, RecordType type, uint16_t request_id) {
  assert(is_stream(type));
  record(out, type, request_id, {});
}

void end_request(std::string& out, uint16_t request_id, uint32_t app_status,
                 ProtocolStatus protocol_status) {
  const char body[kFixedBodyLength] = {
      static_cast<char>(app_status >> 24), static_cast<char>(app_status >> 16 & 0xff),
      static_cast<char>(app_status >> 8 & 0xff), static_cast<char>(app_status & 0xff),
      static_cast<char>(protocol_status)};
  record(out, RecordType::kEndRequest, request_id, {body, sizeof body});
}

void abort_request(std::string& out, uint16_t request_id) {
  record(out, RecordType::kAbortRequest, request_id, {});
}

bool get_values(std::string& out, std::span<const std::string_view> names) {
  return pairs_record(
      out, RecordType::kGetValues, names, [](std::string_view n) { return n; },
      [](std::string_view) { return std::string_view(); });
}

bool get_values_result(std::string& out, std::span<const NameValue> pairs) {
  return pairs_record(
      out, RecordType::kGetValuesResult, pairs, [](const NameValue& p) { return p.first; },
      [](const NameValue& p) { return p.second; });
}

void unknown_type(std::string& out, uint8_t type) {
  const char body[kFixedBodyLength] = {static_cast<char>(type)};
  record(out, RecordType::kUnknownType, kNullRequestId, {body, sizeof body});
}

// ---- ParamsWriter -------------------------------------------------------------------------------

void ParamsWriter::add(std::string_view name, std::string_view value, std::string_view more) {
  const size_t value_length = value.size() + more.size();
  const size_t size =
      (name.size() < 128 ? 1 : 4) + (value_length < 128 ? 1 : 4) + name.size() + value_length;
  if (size < size_t(end_ - at_)) {
    at_ =
        put(put(put(put_pair_length(put_pair_length(at_, name.size()), value_length), name), value),
            more);
    return;
  }
  add_slow(name, value, more);
}

// A pair that needs a record opened or closed first, a wider window, that fills its record, or
// that takes more than one record.
void ParamsWriter::add_slow(std::string_view name, std::string_view value, std::string_view more) {
  trim();
  const size_t value_length = value.size() + more.size();
  const size_t size =
      (name.size() < 128 ? 1 : 4) + (value_length < 128 ? 1 : 4) + name.size() + value_length;
  // Start a fresh record rather than cut a pair that fits in one.
  if (record_ != kNoRecord && size > room() && size <= kMaxContentLength) close_record();
  if (record_ == kNoRecord && size <= kMaxContentLength) open_record();
  if (record_ != kNoRecord && size <= room()) {
    widen(size);
    at_ =
        put(put(put(put_pair_length(put_pair_length(at_, name.size()), value_length), name), value),
            more);
    if (room() == 0) close_record();
    return;
  }
  if (split_name_.empty()) split_name_.assign(name);
  char lengths[8];
  append({lengths, put_lengths(lengths, name.size(), value_length)});
  append(name);
  append(value);
  append(more);
}

void ParamsWriter::finish() {
  trim();
  if (record_ != kNoRecord) close_record();
}

void ParamsWriter::trim() {
  if (!at_) return;
  out_.resize(size_t(at_ - out_.data()));
  at_ = end_ = nullptr;
}

void ParamsWriter::widen(size_t bytes) {
  const size_t used = out_.size();
  const size_t record_end = record_ + kHeaderLength + kMaxContentLength;
  // Cleared once by resize(): a few pairs' worth, within the capacity the caller reserved where
  // the pair fits in it (no allocation), else more.
  size_t window = std::max(bytes, kWindow);
  if (size_t spare = out_.capacity() - used; spare >= bytes) window = std::min(window, spare);
  out_.resize(used + window);
  at_ = out_.data() + used;
  end_ = out_.data() + std::min(used + window, record_end);
}

// open_record(), close_record() and append() work on out_ without a window.
void ParamsWriter::open_record() {
  record_ = out_.size();
  record_header(out_, RecordType::kParams, request_id_, 0, 0);
}

void ParamsWriter::close_record() {
  trim();
  const size_t length = out_.size() - record_ - kHeaderLength;
  const uint8_t padding = padding_for(length);
  record_header(out_.data() + record_, RecordType::kParams, request_id_,
                static_cast<uint16_t>(length), padding);
  out_.append(kZeros, padding);
  record_ = kNoRecord;
}

void ParamsWriter::append(std::string_view bytes) {
  while (!bytes.empty()) {
    if (record_ == kNoRecord) open_record();
    const size_t n = std::min(bytes.size(), room());
    out_.append(bytes.data(), n);
    bytes.remove_prefix(n);
    if (room() == 0) close_record();
  }
}

}  // namespace askr::fastcgi
