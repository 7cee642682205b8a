#include "shared/fastcgi/decoder.h"

#include <algorithm>
#include <cstring>

namespace askr::fastcgi {
namespace {

bool has_fixed_body(RecordType type) {
  return type == RecordType::kBeginRequest || type == RecordType::kEndRequest ||
         type == RecordType::kUnknownType;
}

uint8_t byte(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]);
}

// Reads one 1- or 4-byte length at `pos`; false when `p` ends before it does.
bool read_length(std::string_view p, size_t& pos, size_t& length) {
  if (pos >= p.size()) return false;
  if (byte(p, pos) < 0x80) {
    length = byte(p, pos);
    pos += 1;
    return true;
  }
  if (p.size() - pos < 4) return false;
  length = size_t{byte(p, pos) & 0x7fu} << 24 | size_t{byte(p, pos + 1)} << 16 |
           size_t{byte(p, pos + 2)} << 8 | byte(p, pos + 3);
  pos += 4;
  return true;
}

// The lengths at the start of a pair: false when `p` ends before they do.
bool read_lengths(std::string_view p, size_t& header, size_t& name, size_t& value) {
  if (p.size() >= 2 && byte(p, 0) < 0x80 && byte(p, 1) < 0x80) {  // the usual pair: 1 byte each
    header = 2;
    name = byte(p, 0);
    value = byte(p, 1);
    return true;
  }
  header = 0;
  return read_length(p, header, name) && read_length(p, header, value);
}

}  // namespace

// ---- Decoder ------------------------------------------------------------------------------------

Decoder::Step Decoder::next(std::string_view in) {
  size_t used = 0;
  for (;;) {
    switch (state_) {
      case State::kError:
        return Step{Status::kError, used};
      case State::kHeader: {
        if (have_ == 0 && in.size() - used >= kHeaderLength) {
          // The usual case, a header whole in `in`: read in place, without a copy.
          header_ = read_header(in.data() + used);
          used += kHeaderLength;
        } else {
          const size_t n = std::min(kHeaderLength - have_, in.size() - used);
          std::memcpy(buf_ + have_, in.data() + used, n);
          have_ += n;
          used += n;
          if (have_ < kHeaderLength) return Step{Status::kNeedMore, used};
          have_ = 0;
          header_ = read_header(buf_);
        }
        if (header_.version != kVersion1) return fail("unsupported FastCGI version", used);
        content_left_ = header_.content_length;
        padding_left_ = header_.padding_length;
        if (has_fixed_body(header_.type)) {
          if (content_left_ != kFixedBodyLength) return fail("bad fixed-size record body", used);
          state_ = State::kFixedBody;
          break;
        }
        if (content_left_ == 0) {  // an empty record: one event with empty content
          used += skip_padding(in.substr(used));
          return content_event({}, used);
        }
        state_ = State::kContent;
        break;
      }
      case State::kContent: {
        if (used == in.size()) return Step{Status::kNeedMore, used};
        const size_t n = std::min(content_left_, in.size() - used);
        const std::string_view piece = in.substr(used, n);
        content_left_ -= n;
        used += n;
        if (content_left_ == 0) used += skip_padding(in.substr(used));
        return content_event(piece, used);
      }
      case State::kFixedBody: {
        if (have_ == 0 && in.size() - used >= kFixedBodyLength) {
          std::memcpy(buf_, in.data() + used, kFixedBodyLength);  // a copy of constant size
          used += kFixedBodyLength;
        } else {
          const size_t n = std::min(kFixedBodyLength - have_, in.size() - used);
          std::memcpy(buf_ + have_, in.data() + used, n);
          have_ += n;
          used += n;
          if (have_ < kFixedBodyLength) return Step{Status::kNeedMore, used};
          have_ = 0;
        }
        content_left_ = 0;
        used += skip_padding(in.substr(used));
        return content_event({buf_, kFixedBodyLength}, used);
      }
      case State::kPadding:
        used += skip_padding(in.substr(used));
        if (state_ == State::kPadding) return Step{Status::kNeedMore, used};
        break;
    }
  }
}

void Decoder::skip_content(size_t n) {
  if (state_ != State::kContent) return;
  content_left_ -= std::min(n, content_left_);
  if (content_left_ == 0) skip_padding({});
}

size_t Decoder::framing_left() const {
  if (state_ == State::kHeader) return kHeaderLength - have_;
  if (state_ == State::kPadding) return padding_left_;
  return 0;
}

Decoder::Step Decoder::content_event(std::string_view piece, size_t consumed) {
  Step step{Status::kContent, consumed, header_.type, header_.request_id, piece};
  step.end_of_record = content_left_ == 0;
  return step;
}

// Skips what it can of the padding; moves to kHeader when there is no padding left.
size_t Decoder::skip_padding(std::string_view in) {
  const size_t n = std::min(padding_left_, in.size());
  padding_left_ -= n;
  state_ = padding_left_ ? State::kPadding : State::kHeader;
  return n;
}

Decoder::Step Decoder::fail(const char* why, size_t consumed) {
  state_ = State::kError;
  error_ = why;
  return Step{Status::kError, consumed};
}

// ---- Fixed bodies -------------------------------------------------------------------------------

std::optional<BeginRequest> parse_begin_request(std::string_view content) {
  if (content.size() != kFixedBodyLength) return std::nullopt;
  BeginRequest r;
  r.role = static_cast<Role>(byte(content, 0) << 8 | byte(content, 1));
  r.flags = byte(content, 2);
  return r;
}

std::optional<EndRequest> parse_end_request(std::string_view content) {
  if (content.size() != kFixedBodyLength) return std::nullopt;
  EndRequest r;
  r.app_status = uint32_t{byte(content, 0)} << 24 | uint32_t{byte(content, 1)} << 16 |
                 uint32_t{byte(content, 2)} << 8 | byte(content, 3);
  r.protocol_status = static_cast<ProtocolStatus>(byte(content, 4));
  return r;
}

std::optional<uint8_t> parse_unknown_type(std::string_view content) {
  if (content.size() != kFixedBodyLength) return std::nullopt;
  return byte(content, 0);
}

// ---- ParamsParser -------------------------------------------------------------------------------

// Any pair: the inline next() takes the usual one without a call.
ParamsParser::Step ParamsParser::next_slow(std::string_view in) {
  if (error_) return Step{Status::kError, 0};
  if (clear_pending_) {
    pending_.clear();
    pending_size_ = 0;
    clear_pending_ = false;
  }
  size_t header, name, value;
  if (pending_.empty() && read_lengths(in, header, name, value) &&
      in.size() - header >= name + value) {
    // The whole pair is in `in`: no copy.
    const size_t size = header + name + value;
    if (!account(size)) return fail("FastCGI params larger than the limit", 0);
    return Step{
        Status::kPair, size, {in.data() + header, name}, {in.data() + header + name, value}};
  }
  // Gather a pair that straddles pieces: its lengths byte by byte, then the rest in one go.
  size_t used = 0;
  while (used < in.size()) {
    if (pending_size_ == 0) {
      pending_.push_back(in[used++]);
      if (read_lengths(pending_, header, name, value)) {
        if (!account(header + name + value)) {
          return fail("FastCGI params larger than the limit", used);
        }
        pending_size_ = header + name + value;
      }
    } else {
      const size_t n = std::min(pending_size_ - pending_.size(), in.size() - used);
      pending_.append(in.data() + used, n);
      used += n;
    }
    if (pending_size_ != 0 && pending_.size() == pending_size_) {
      read_lengths(pending_, header, name, value);
      clear_pending_ = true;
      const std::string_view p = pending_;
      return Step{Status::kPair, used, p.substr(header, name), p.substr(header + name, value)};
    }
  }
  return Step{Status::kNeedMore, used};
}

bool ParamsParser::finish() {
  if (error_) return false;
  if (!clear_pending_ && !pending_.empty()) {
    error_ = "truncated FastCGI name-value pair";
    return false;
  }
  return true;
}

void ParamsParser::reset() {
  total_ = 0;
  pending_.clear();
  pending_size_ = 0;
  clear_pending_ = false;
  error_ = nullptr;
}

ParamsParser::Step ParamsParser::fail(const char* why, size_t consumed) {
  error_ = why;
  return Step{Status::kError, consumed};
}

}  // namespace askr::fastcgi
