#include "http/date.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace askr::http {
namespace {

std::string format(time_t t) {
  char buf[kHttpDateLen];
  const size_t n = format_http_date(t, buf);
  return std::string(buf, n);
}

// The reference answer from libc, in the C locale.
std::string reference(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  const size_t n = strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

TEST(FormatHttpDate, RfcExample) {
  EXPECT_EQ(format(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(FormatHttpDate, Epoch) {
  EXPECT_EQ(format(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(FormatHttpDate, BeforeEpoch) {
  EXPECT_EQ(format(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(format(-86400), "Wed, 31 Dec 1969 00:00:00 GMT");
}

TEST(FormatHttpDate, LeapDayAndYearEnds) {
  EXPECT_EQ(format(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(format(4133980799), "Fri, 31 Dec 2100 23:59:59 GMT");
  EXPECT_EQ(format(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST(FormatHttpDate, RefusesYearsBeyondFourDigits) {
  char buf[kHttpDateLen] = {'x'};
  EXPECT_EQ(format_http_date(253402300800, buf), 0u);
  EXPECT_EQ(buf[0], 'x');
  EXPECT_EQ(format_http_date(-62167219201, buf), 0u);  // 31 Dec of year -1
  EXPECT_EQ(format(-62167219200), "Sat, 01 Jan 0000 00:00:00 GMT");
}

TEST(FormatHttpDate, MatchesLibcAcrossCenturies) {
  // A stride that is not a multiple of a day or a week walks through every field combination.
  for (int64_t t = -2208988800; t < 4102444800; t += 7777777 + 12345) {
    ASSERT_EQ(format(static_cast<time_t>(t)), reference(static_cast<time_t>(t))) << t;
  }
}

TEST(ParseHttpDate, RoundTripsFormat) {
  for (int64_t t = -2208988800; t < 4102444800; t += 9876543 + 321) {
    time_t back = 0;
    ASSERT_TRUE(parse_http_date(format(static_cast<time_t>(t)), back)) << t;
    ASSERT_EQ(back, t);
  }
}

struct Good {
  std::string_view text;
  time_t want;
};

class ParseGood : public ::testing::TestWithParam<Good> {};

TEST_P(ParseGood, Parses) {
  time_t t = -1;
  ASSERT_TRUE(parse_http_date(GetParam().text, t)) << GetParam().text;
  EXPECT_EQ(t, GetParam().want) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(ThreeForms, ParseGood,
                         ::testing::Values(Good{"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
                                           Good{"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
                                           Good{"Sun Nov  6 08:49:37 1994", 784111777},
                                           Good{"Sun Nov 06 08:49:37 1994", 784111777},
                                           Good{"Thu, 01 Jan 1970 00:00:00 GMT", 0},
                                           Good{"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},
                                           Good{"Wed, 31 Dec 1969 23:59:59 GMT", -1},
                                           Good{"Mon, 01 Jan 1990 23:59:60 GMT",
                                                631238400},  // leap second
                                           // The weekday name is not checked against the date.
                                           Good{"Mon, 06 Nov 1994 08:49:37 GMT", 784111777},
                                           Good{"Wednesday, 01-Jan-30 00:00:00 GMT", 1893456000},
                                           Good{"Fri Dec 31 23:59:59 9999", 253402300799}));

// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future means the previous century.
TEST(ParseHttpDate, TwoDigitYearFollowsTheFiftyYearRule) {
  const time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  const int year = tm.tm_year + 1900;
  for (int yy = 0; yy < 100; ++yy) {
    int want = year - year % 100 + yy;
    if (want > year + 50) want -= 100;
    char text[64];
    snprintf(text, sizeof(text), "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
    time_t t = 0;
    ASSERT_TRUE(parse_http_date(text, t)) << text;
    struct tm got;
    gmtime_r(&t, &got);
    EXPECT_EQ(got.tm_year + 1900, want) << text;
  }
}

class ParseBad : public ::testing::TestWithParam<std::string_view> {};

TEST_P(ParseBad, Refuses) {
  time_t t = 42;
  EXPECT_FALSE(parse_http_date(GetParam(), t)) << GetParam();
  EXPECT_EQ(t, 42);
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, ParseBad,
    ::testing::Values("", "S", "Sun,", "garbage", "Sun, 06 Nov 1994 08:49:37 GMT ",
                      " Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
                      "Sun, 06 Nov 1994 08:49:37 gmt", "sun, 06 Nov 1994 08:49:37 GMT",
                      "Sun, 06 nov 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
                      "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
                      "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
                      "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
                      "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 32 Jan 1994 08:49:37 GMT",
                      "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
                      "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 06 Nov 1994 08:49:37 GMT; length=1",
                      "Sun, 06 Nov 1994 08:49:37", "Sun, 06-Nov-94 08:49:37 GMT",
                      "Sunday, 06 Nov 1994 08:49:37 GMT", "Sundae, 06-Nov-94 08:49:37 GMT",
                      "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov  6 08:49:37 94",
                      "Sun Nov 6 08:49:37 1994", "Sun Nov   6 08:49:37 1994",
                      "Sun Nov  6 08:49:37 1994 GMT", "Sun, +6 Nov 1994 08:49:37 GMT",
                      "Sun, 06 Nov -994 08:49:37 GMT", std::string_view("Sun, 06 Nov 1994\0", 17),
                      "784111777"));

}  // namespace
}  // namespace askr::http
