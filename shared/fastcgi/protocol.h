// FastCGI 1.0 wire constants and the 8-byte record header (FastCGI Specification, 1996, §3 and
// §8). Shared by the proxy's FastCGI client and askr-worker's FastCGI server; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace askr::fastcgi {

inline constexpr uint8_t kVersion1 = 1;        // FCGI_VERSION_1, the only version there is
inline constexpr size_t kHeaderLength = 8;     // FCGI_HEADER_LEN
inline constexpr uint16_t kNullRequestId = 0;  // FCGI_NULL_REQUEST_ID: management records
inline constexpr size_t kMaxContentLength = 65535;
// The largest multiple of 8 that fits in a record: stream records of this size need no padding
// and keep every following header 8-byte aligned (PHP's own FastCGI code writes 0xfff8 too).
inline constexpr size_t kMaxAlignedContentLength = 65528;

// FCGI_* record types. The enum has a fixed underlying type, so a decoded header can carry any
// value (types this enum does not name are passed up as they are).
enum class RecordType : uint8_t {
  kBeginRequest = 1,
  kAbortRequest = 2,
  kEndRequest = 3,
  kParams = 4,
  kStdin = 5,
  kStdout = 6,
  kStderr = 7,
  kData = 8,
  kGetValues = 9,
  kGetValuesResult = 10,
  kUnknownType = 11,
};

// Role requested by BEGIN_REQUEST. Askr implements kResponder only.
enum class Role : uint16_t {
  kResponder = 1,
  kAuthorizer = 2,
  kFilter = 3,
};

// BEGIN_REQUEST flags.
inline constexpr uint8_t kKeepConn = 1;  // FCGI_KEEP_CONN: do not close after END_REQUEST

// END_REQUEST protocolStatus.
enum class ProtocolStatus : uint8_t {
  kRequestComplete = 0,
  kCantMpxConn = 1,
  kOverloaded = 2,
  kUnknownRole = 3,
};

// Variable names of GET_VALUES / GET_VALUES_RESULT.
inline constexpr std::string_view kMaxConns = "FCGI_MAX_CONNS";
inline constexpr std::string_view kMaxReqs = "FCGI_MAX_REQS";
inline constexpr std::string_view kMpxsConns = "FCGI_MPXS_CONNS";

// A param askr-proxy sends to its own workers: it ends the client's response at the end of
// STDOUT, and takes END_REQUEST for "this worker is free". A worker told so may send END_REQUEST
// after the end of STDOUT, once the script is over (fastcgi_finish_request()). The worker does
// not pass it on to PHP.
inline constexpr std::string_view kStdoutEndsResponse = "ASKR_STDOUT_ENDS_RESPONSE";

// Length of the fixed bodies of BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE.
inline constexpr size_t kFixedBodyLength = 8;

struct RecordHeader {
  uint8_t version = kVersion1;
  RecordType type = RecordType::kStdout;
  uint16_t request_id = 0;
  uint16_t content_length = 0;
  uint8_t padding_length = 0;
};

// Padding that brings `content_length` to a multiple of 8, as the specification recommends.
constexpr uint8_t padding_for(size_t content_length) {
  return static_cast<uint8_t>((8 - content_length % 8) % 8);
}

// Writes the header into exactly kHeaderLength bytes at `out`.
inline void write_header(const RecordHeader& h, char* out) {
  out[0] = static_cast<char>(h.version);
  out[1] = static_cast<char>(h.type);
  out[2] = static_cast<char>(h.request_id >> 8);
  out[3] = static_cast<char>(h.request_id & 0xff);
  out[4] = static_cast<char>(h.content_length >> 8);
  out[5] = static_cast<char>(h.content_length & 0xff);
  out[6] = static_cast<char>(h.padding_length);
  out[7] = 0;  // reserved
}

// Reads a header from exactly kHeaderLength bytes at `in`. No validation: the caller checks
// the version.
inline RecordHeader read_header(const char* in) {
  const auto* b = reinterpret_cast<const unsigned char*>(in);
  RecordHeader h;
  h.version = b[0];
  h.type = static_cast<RecordType>(b[1]);
  h.request_id = static_cast<uint16_t>(b[2] << 8 | b[3]);
  h.content_length = static_cast<uint16_t>(b[4] << 8 | b[5]);
  h.padding_length = b[6];
  return h;
}

}  // namespace askr::fastcgi
