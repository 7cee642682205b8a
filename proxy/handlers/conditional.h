// Validators and the request fields that test them: ETag, If-None-Match, If-Match, Range,
// If-Range, Accept-Encoding. Pure functions over header values; no I/O, no allocation.
//
// Header values are expected as the request parser hands them over (leading and trailing
// whitespace already trimmed), but each function also tolerates surrounding OWS. A field that
// appears more than once must be joined with ", " by the caller first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string_view>

namespace askr::handlers {

// Room for the longest ETag make_etag writes: 2 quotes + 16 + '-' + 16 hex digits, and a
// '-' and coding of up to 12 characters.
inline constexpr size_t kEtagMax = 48;
inline constexpr size_t kEtagCodingMax = 12;

// Writes a strong ETag derived from the file's identity, nginx style: "<mtime hex>-<size hex>"
// including the double quotes, lower-case hex without leading zeros (a negative mtime is written
// as its two's-complement). A precompressed file's content `coding` ("gzip", "br"; at most
// kEtagCodingMax characters) is added ("<mtime>-<size>-gzip"): a strong tag must differ between
// representations (RFC 9110 §8.8.3), and a file and its sibling may share size and time. Returns
// the length written (no terminating NUL).
size_t make_etag(time_t mtime, uint64_t size, char out[kEtagMax], std::string_view coding = {});

// If-None-Match (RFC 9110 §13.1.2): true when the field is "*" or lists an entity-tag that
// matches `etag` by weak comparison (W/ ignored on both sides). `etag` is a full entity-tag as
// make_etag writes it. A malformed field matches nothing, so the caller serves the full
// response. Empty list elements (", ,") are allowed.
bool if_none_match_matches(std::string_view header, std::string_view etag);

// If-Match (RFC 9110 §13.1.1): true when the field is "*" or lists an entity-tag that matches
// `etag` by strong comparison (neither side weak, opaque-tags equal). The caller answers 412 when
// this is false. A malformed field matches nothing (412).
bool if_match_matches(std::string_view header, std::string_view etag);

struct ByteRange {
  uint64_t first;
  uint64_t last;  // inclusive
};

enum class RangeOutcome : uint8_t {
  kIgnore,         // no usable Range: serve 200 with the whole representation
  kSatisfiable,    // serve 206 with `out`
  kUnsatisfiable,  // serve 416 with "Content-Range: bytes */size"
};

// Interprets a Range field for a representation of `size` bytes. Only a single range is
// honoured: "bytes=a-b", "bytes=a-" and the suffix form "bytes=-n". The unit is
// case-insensitive and OWS around the list commas is allowed, as are empty list elements.
//  - Several ranges: kIgnore. nginx answers multipart/byteranges; we answer 200 with the whole
//    body, which RFC 9110 §14.2 permits and which avoids the multi-range amplification attacks.
//  - Any syntax error, a last < first, or a unit other than "bytes": kIgnore (§14.2: a
//    recipient ignores a Range it does not understand or finds invalid).
//  - first >= size (so any "a-b" or "a-" on an empty representation), or a suffix of 0:
//    kUnsatisfiable.
//  - A suffix on an empty representation: kIgnore. RFC 9110 §14.1.1 calls it satisfiable (by
//    the whole, empty, representation), and a 206 cannot describe zero bytes.
//  - Otherwise kSatisfiable, with `out.last` clamped to size - 1 and a suffix longer than the
//    representation covering all of it; then out.first <= out.last < size.
// Numbers too large for uint64_t saturate (so they behave as "very large"). `out` is written
// only on kSatisfiable.
RangeOutcome parse_range(std::string_view header, uint64_t size, ByteRange& out);

// If-Range (RFC 9110 §13.1.5): true when the Range applies. The field is either an entity-tag,
// compared strongly with `etag` (a weak tag never matches), or an HTTP-date, which must equal
// `mtime` exactly. Anything malformed: false (serve the whole representation).
bool if_range_allows(std::string_view header, std::string_view etag, time_t mtime);

// Accept-Encoding (RFC 9110 §12.5.3): does the client accept content coding `coding` (given in
// lower case, e.g. "br", "gzip")? Codings compare case-insensitively, and "x-gzip" counts as
// "gzip". An explicit entry for the coding decides (the first one, if repeated); otherwise "*"
// decides; otherwise no. An entry is refused when its weight is q=0 (any of "0", "0.", "0.000")
// and also when the weight is malformed, so that a garbled field never earns a compressed body.
// Parameters other than q are ignored. An empty or absent field accepts nothing but identity.
bool accepts_encoding(std::string_view accept_encoding, std::string_view coding);

}  // namespace askr::handlers
