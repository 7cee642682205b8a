#include "http/date.h"

#include <cstdint>

namespace askr::http {

namespace {

constexpr std::string_view kDays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kLongDays[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                           "Thursday", "Friday", "Saturday"};
constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct Civil {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

// Proleptic Gregorian calendar conversions (H. Hinnant's days_from_civil / civil_from_days).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static constexpr int kLen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kLen[m - 1];
}

// A cursor over the input; every read checks bounds and fails soft.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool ok = true;

  void lit(std::string_view want) {
    if (ok && s.substr(i, want.size()) == want) {
      i += want.size();
    } else {
      ok = false;
    }
  }
  // `n` decimal digits; a leading space stands for '0' when `space_pad` (asctime's " 6").
  int digits(size_t n, bool space_pad = false) {
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = ok && i < s.size() ? s[i] : 'x';
      if (c >= '0' && c <= '9') {
        v = v * 10 + (c - '0');
      } else if (!(space_pad && k == 0 && c == ' ')) {
        ok = false;
        return 0;
      }
      ++i;
    }
    return v;
  }
  // Index of the 3-letter name at the cursor in `names`, or -1.
  template <size_t N>
  int name(const std::string_view (&names)[N]) {
    for (size_t k = 0; ok && k < N; ++k) {
      if (s.substr(i, names[k].size()) == names[k]) {
        i += names[k].size();
        return static_cast<int>(k);
      }
    }
    ok = false;
    return -1;
  }
  bool done() const { return ok && i == s.size(); }
};

struct Fields {
  int64_t year = 0;
  int month = 0;  // 0-based while parsing
  int day = 0;
  int hour = 0, minute = 0, second = 0;
};

void read_time(Cursor& c, Fields& f) {
  f.hour = c.digits(2);
  c.lit(":");
  f.minute = c.digits(2);
  c.lit(":");
  f.second = c.digits(2);
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
bool parse_imf(Cursor& c, Fields& f) {
  c.name(kDays);
  c.lit(", ");
  f.day = c.digits(2);
  c.lit(" ");
  f.month = c.name(kMonths);
  c.lit(" ");
  f.year = c.digits(4);
  c.lit(" ");
  read_time(c, f);
  c.lit(" GMT");
  return c.done();
}

int64_t expand_two_digit_year(int yy) {
  const int64_t now_year = civil_from_days(floor_div(time(nullptr), 86400)).year;
  int64_t y = now_year - now_year % 100 + yy;
  if (y > now_year + 50) y -= 100;
  return y;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
bool parse_rfc850(Cursor& c, Fields& f) {
  c.name(kLongDays);
  c.lit(", ");
  f.day = c.digits(2);
  c.lit("-");
  f.month = c.name(kMonths);
  c.lit("-");
  const int yy = c.digits(2);
  c.lit(" ");
  read_time(c, f);
  c.lit(" GMT");
  if (!c.done()) return false;
  f.year = expand_two_digit_year(yy);
  return true;
}

// "Sun Nov  6 08:49:37 1994"
bool parse_asctime(Cursor& c, Fields& f) {
  c.name(kDays);
  c.lit(" ");
  f.month = c.name(kMonths);
  c.lit(" ");
  f.day = c.digits(2, /*space_pad=*/true);
  c.lit(" ");
  read_time(c, f);
  c.lit(" ");
  f.year = c.digits(4);
  return c.done();
}

bool fields_valid(const Fields& f) {
  return f.month >= 0 && f.month < 12 && f.day >= 1 &&
         f.day <= days_in_month(f.year, f.month + 1) && f.hour <= 23 && f.minute <= 59 &&
         f.second <= 60;
}

}  // namespace

size_t format_http_date(time_t t, char out[kHttpDateLen]) {
  const int64_t days = floor_div(t, 86400);
  const int64_t secs = static_cast<int64_t>(t) - days * 86400;
  const Civil c = civil_from_days(days);
  if (c.year < 0 || c.year > 9999) return 0;
  const int64_t wd = (days % 7 + 7 + 4) % 7;  // 1970-01-01 was a Thursday
  char* p = out;
  for (char ch : kDays[wd]) *p++ = ch;
  *p++ = ',';
  *p++ = ' ';
  put2(p, c.day);
  p[2] = ' ';
  p += 3;
  for (char ch : kMonths[c.month - 1]) *p++ = ch;
  *p++ = ' ';
  put2(p, static_cast<int>(c.year / 100));
  put2(p + 2, static_cast<int>(c.year % 100));
  p[4] = ' ';
  p += 5;
  put2(p, static_cast<int>(secs / 3600));
  p[2] = ':';
  put2(p + 3, static_cast<int>(secs / 60 % 60));
  p[5] = ':';
  put2(p + 6, static_cast<int>(secs % 60));
  p += 8;
  for (char ch : std::string_view(" GMT")) *p++ = ch;
  return kHttpDateLen;
}

bool parse_http_date(std::string_view s, time_t& out) {
  if (s.size() < 4) return false;
  Cursor c{s};
  Fields f;
  bool parsed;
  if (s[3] == ',') {
    parsed = parse_imf(c, f);
  } else if (s[3] == ' ') {
    parsed = parse_asctime(c, f);
  } else {
    parsed = parse_rfc850(c, f);
  }
  if (!parsed || !fields_valid(f)) return false;
  const int64_t days = days_from_civil(f.year, f.month + 1, f.day);
  out = static_cast<time_t>(days * 86400 + f.hour * 3600 + f.minute * 60 + f.second);
  return true;
}

}  // namespace askr::http
