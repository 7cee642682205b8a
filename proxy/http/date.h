// HTTP-date (RFC 9110 §5.6.7) formatting and parsing. Pure computation: no locale, no time zone
// database, no global state, so both functions are safe to call from any thread.
#pragma once

#include <cstddef>
#include <ctime>
#include <string_view>

namespace askr::http {

// Length of an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr size_t kHttpDateLen = 29;

// Writes `t` (seconds since the epoch, UTC) as an IMF-fixdate into `out`: exactly 29 bytes, no
// terminating NUL. Returns 29, or 0 (leaving `out` untouched) when the year falls outside
// 0000..9999 and cannot be written with four digits.
size_t format_http_date(time_t t, char out[kHttpDateLen]);

// Parses an HTTP-date in any of the three forms a recipient must accept:
//   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
//   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"
//   asctime      "Sun Nov  6 08:49:37 1994"   (day as " 6" or "06")
// Day and month names and "GMT" are case-sensitive, as the grammar says. The day-of-week name
// must be a valid name but is not checked against the date. The day must exist in its month
// (no "31 Feb"); second 60 (leap second) is accepted and counts as the next minute's 00. The
// whole string must match: no surrounding whitespace, no trailing text.
// A two-digit RFC 850 year is placed in the current century unless that lands more than 50
// years in the future, in which case the previous century is used (RFC 9110 §5.6.7); this is the
// only place the current clock is read. Returns false and leaves `out` untouched on failure.
bool parse_http_date(std::string_view s, time_t& out);

}  // namespace askr::http
