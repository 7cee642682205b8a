#include "handlers/conditional.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace askr::handlers {
namespace {

std::string etag(time_t mtime, uint64_t size) {
  char buf[kEtagMax];
  return std::string(buf, make_etag(mtime, size, buf));
}

TEST(MakeEtag, NginxFormat) {
  EXPECT_EQ(etag(0x5f5e1000, 0x1a2b), "\"5f5e1000-1a2b\"");
  EXPECT_EQ(etag(0, 0), "\"0-0\"");
  EXPECT_EQ(etag(1, 15), "\"1-f\"");
  EXPECT_EQ(etag(16, 16), "\"10-10\"");
}

TEST(MakeEtag, ExtremesFit) {
  const std::string e = etag(-1, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(e, "\"ffffffffffffffff-ffffffffffffffff\"");
  EXPECT_LE(e.size(), kEtagMax);
  char buf[kEtagMax];
  EXPECT_LE(make_etag(-1, std::numeric_limits<uint64_t>::max(), buf, "gzip"), kEtagMax);
}

// A content coding makes another representation, with a tag of its own (RFC 9110 §8.8.3).
TEST(MakeEtag, CodingNamed) {
  char buf[kEtagMax];
  EXPECT_EQ(std::string(buf, make_etag(0x5f5e1000, 0x1a2b, buf, "gzip")), "\"5f5e1000-1a2b-gzip\"");
  EXPECT_EQ(std::string(buf, make_etag(1, 15, buf, "br")), "\"1-f-br\"");
  EXPECT_EQ(std::string(buf, make_etag(1, 15, buf, "")), "\"1-f\"");
}

constexpr std::string_view kTag = "\"5f5e1000-1a2b\"";

struct ListCase {
  std::string_view header;
  bool none_match;  // If-None-Match (weak comparison)
  bool match;       // If-Match (strong comparison)
};

class EtagLists : public ::testing::TestWithParam<ListCase> {};

TEST_P(EtagLists, Compare) {
  EXPECT_EQ(if_none_match_matches(GetParam().header, kTag), GetParam().none_match)
      << GetParam().header;
  EXPECT_EQ(if_match_matches(GetParam().header, kTag), GetParam().match) << GetParam().header;
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, EtagLists,
    ::testing::Values(
        ListCase{"*", true, true}, ListCase{"  *  ", true, true},
        ListCase{"\"5f5e1000-1a2b\"", true, true}, ListCase{"W/\"5f5e1000-1a2b\"", true, false},
        ListCase{"\"other\", \"5f5e1000-1a2b\"", true, true},
        ListCase{"\"other\",W/\"5f5e1000-1a2b\"", true, false},
        ListCase{"\"a\" ,\t\"5f5e1000-1a2b\" , ", true, true},
        ListCase{", ,\"5f5e1000-1a2b\"", true, true}, ListCase{"\"other\"", false, false},
        ListCase{"\"5F5E1000-1A2B\"", false, false}, ListCase{"\"\"", false, false},
        ListCase{"", false, false}, ListCase{" , ", false, false},
        // Malformed fields match nothing, even when a good tag is listed.
        ListCase{"5f5e1000-1a2b", false, false}, ListCase{"\"5f5e1000-1a2b\" junk", false, false},
        ListCase{"\"5f5e1000-1a2b\", junk", false, false},
        ListCase{"\"5f5e1000-1a2b", false, false}, ListCase{"w/\"5f5e1000-1a2b\"", false, false},
        ListCase{"\"5f5e1000-1a2b\"\"x\"", false, false},
        ListCase{"\"a b\", \"5f5e1000-1a2b\"", false, false},
        ListCase{"*, \"5f5e1000-1a2b\"", false, false}));

TEST(EtagCompare, WeakServerTagNeverMatchesStrongly) {
  EXPECT_FALSE(if_match_matches("W/\"x\"", "W/\"x\""));
  EXPECT_TRUE(if_none_match_matches("\"x\"", "W/\"x\""));
  EXPECT_TRUE(if_match_matches("*", "W/\"x\""));
}

struct RangeCase {
  std::string_view header;
  uint64_t size;
  RangeOutcome outcome;
  uint64_t first = 0;
  uint64_t last = 0;
};

class ParseRange : public ::testing::TestWithParam<RangeCase> {};

TEST_P(ParseRange, Outcome) {
  const RangeCase& c = GetParam();
  ByteRange r{12345, 12345};
  ASSERT_EQ(parse_range(c.header, c.size, r), c.outcome) << c.header << " size " << c.size;
  if (c.outcome == RangeOutcome::kSatisfiable) {
    EXPECT_EQ(r.first, c.first) << c.header;
    EXPECT_EQ(r.last, c.last) << c.header;
  } else {
    EXPECT_EQ(r.first, 12345u) << "out written on " << c.header;
  }
}

constexpr auto kSat = RangeOutcome::kSatisfiable;
constexpr auto kUnsat = RangeOutcome::kUnsatisfiable;
constexpr auto kIgn = RangeOutcome::kIgnore;

INSTANTIATE_TEST_SUITE_P(
    Single, ParseRange,
    ::testing::Values(
        RangeCase{"bytes=0-499", 1000, kSat, 0, 499},
        RangeCase{"bytes=500-999", 1000, kSat, 500, 999},
        RangeCase{"bytes=500-1500", 1000, kSat, 500, 999},
        RangeCase{"bytes=999-999", 1000, kSat, 999, 999},
        RangeCase{"bytes=9500-", 10000, kSat, 9500, 9999}, RangeCase{"bytes=0-", 1, kSat, 0, 0},
        RangeCase{"bytes=-500", 10000, kSat, 9500, 9999}, RangeCase{"bytes=-1", 10, kSat, 9, 9},
        RangeCase{"bytes=-20", 10, kSat, 0, 9}, RangeCase{"Bytes=0-0", 10, kSat, 0, 0},
        RangeCase{"BYTES=1-2", 10, kSat, 1, 2}, RangeCase{"  bytes=1-2  ", 10, kSat, 1, 2},
        RangeCase{"bytes=1-2,", 10, kSat, 1, 2}, RangeCase{"bytes= , 1-2 ,", 10, kSat, 1, 2},
        RangeCase{"bytes=0-99999999999999999999999", 10, kSat, 0, 9},
        RangeCase{"bytes=-99999999999999999999999", 10, kSat, 0, 9},
        RangeCase{"bytes=0-18446744073709551615", 18446744073709551615u, kSat, 0,
                  18446744073709551614u}));

INSTANTIATE_TEST_SUITE_P(
    Unsatisfiable, ParseRange,
    ::testing::Values(RangeCase{"bytes=1000-", 1000, kUnsat},
                      RangeCase{"bytes=1000-2000", 1000, kUnsat},
                      RangeCase{"bytes=-0", 1000, kUnsat}, RangeCase{"bytes=0-", 0, kUnsat},
                      RangeCase{"bytes=-0", 0, kUnsat}, RangeCase{"bytes=0-0", 0, kUnsat},
                      RangeCase{"bytes=99999999999999999999999-", 10, kUnsat}));

INSTANTIATE_TEST_SUITE_P(
    Ignored, ParseRange,
    ::testing::Values(RangeCase{"", 10, kIgn}, RangeCase{"bytes", 10, kIgn},
                      RangeCase{"bytes=", 10, kIgn}, RangeCase{"bytes=,", 10, kIgn},
                      RangeCase{"bytes=-", 10, kIgn}, RangeCase{"bytes=a-b", 10, kIgn},
                      RangeCase{"bytes=5-3", 10, kIgn}, RangeCase{"bytes=1-2-3", 10, kIgn},
                      RangeCase{"bytes=1 -2", 10, kIgn}, RangeCase{"bytes=+1-2", 10, kIgn},
                      RangeCase{"bytes=0x1-2", 10, kIgn}, RangeCase{"bytes=0-1;x", 10, kIgn},
                      RangeCase{"bytes 0-1", 10, kIgn}, RangeCase{"items=0-1", 10, kIgn},
                      RangeCase{"byte=0-1", 10, kIgn}, RangeCase{"bytes=0-1,2-3", 10, kIgn},
                      RangeCase{"bytes=0-1, -2", 10, kIgn}, RangeCase{"bytes=0-,0-", 10, kIgn},
                      RangeCase{"bytes=0-1,x", 10, kIgn}, RangeCase{"bytes=--1", 10, kIgn},
                      // RFC 9110 §14.1.1: a suffix is satisfiable on an empty representation,
                      // which no 206 can describe: the whole (empty) body, 200.
                      RangeCase{"bytes=-5", 0, kIgn}));

TEST(IfRange, EntityTagNeedsStrongMatch) {
  EXPECT_TRUE(if_range_allows("\"5f5e1000-1a2b\"", kTag, 0));
  EXPECT_TRUE(if_range_allows(" \"5f5e1000-1a2b\" ", kTag, 0));
  EXPECT_FALSE(if_range_allows("W/\"5f5e1000-1a2b\"", kTag, 0));
  EXPECT_FALSE(if_range_allows("\"other\"", kTag, 0));
  EXPECT_FALSE(if_range_allows("\"5f5e1000-1a2b\", \"x\"", kTag, 0));
  EXPECT_FALSE(if_range_allows("\"5f5e1000-1a2b", kTag, 0));
}

TEST(IfRange, DateMustEqualLastModified) {
  EXPECT_TRUE(if_range_allows("Sun, 06 Nov 1994 08:49:37 GMT", kTag, 784111777));
  EXPECT_TRUE(if_range_allows("Sunday, 06-Nov-94 08:49:37 GMT", kTag, 784111777));
  EXPECT_FALSE(if_range_allows("Sun, 06 Nov 1994 08:49:37 GMT", kTag, 784111778));
  EXPECT_FALSE(if_range_allows("Sun, 06 Nov 1994 08:49:38 GMT", kTag, 784111777));
}

TEST(IfRange, GarbageRefuses) {
  EXPECT_FALSE(if_range_allows("", kTag, 0));
  EXPECT_FALSE(if_range_allows("   ", kTag, 0));
  EXPECT_FALSE(if_range_allows("yesterday", kTag, 0));
  EXPECT_FALSE(if_range_allows("*", kTag, 0));
}

struct EncodingCase {
  std::string_view header;
  std::string_view coding;
  bool accepted;
};

class AcceptsEncoding : public ::testing::TestWithParam<EncodingCase> {};

TEST_P(AcceptsEncoding, Decides) {
  EXPECT_EQ(accepts_encoding(GetParam().header, GetParam().coding), GetParam().accepted)
      << GetParam().header << " / " << GetParam().coding;
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, AcceptsEncoding,
    ::testing::Values(
        EncodingCase{"gzip, deflate, br, zstd", "br", true},
        EncodingCase{"gzip, deflate, br, zstd", "gzip", true},
        EncodingCase{"gzip, deflate", "br", false}, EncodingCase{"", "gzip", false},
        EncodingCase{"identity", "gzip", false}, EncodingCase{"GZIP", "gzip", true},
        EncodingCase{"Br", "br", true}, EncodingCase{"x-gzip", "gzip", true},
        EncodingCase{"x-gzip", "br", false}, EncodingCase{"  br  ", "br", true},
        EncodingCase{"br;q=0", "br", false}, EncodingCase{"br; q=0", "br", false},
        EncodingCase{"br ;q=0.", "br", false}, EncodingCase{"br;q=0.000", "br", false},
        EncodingCase{"br;Q=0", "br", false}, EncodingCase{"br;q=0.001", "br", true},
        EncodingCase{"br;q=0.5", "br", true}, EncodingCase{"br;q=1", "br", true},
        EncodingCase{"br;q=1.000", "br", true}, EncodingCase{"br;q=1.5", "br", false},
        EncodingCase{"br;q=2", "br", false}, EncodingCase{"br;q=0.0001", "br", false},
        EncodingCase{"br;q=", "br", false}, EncodingCase{"br;q=abc", "br", false},
        EncodingCase{"br;level=5", "br", true}, EncodingCase{"br;level=5;q=0", "br", false},
        EncodingCase{"brotli", "br", false}, EncodingCase{"b", "br", false},
        EncodingCase{"gzip;q=0, br", "br", true}, EncodingCase{"gzip;q=0, br", "gzip", false},
        EncodingCase{"*", "br", true}, EncodingCase{"*;q=0", "br", false},
        EncodingCase{"*;q=0, br", "br", true}, EncodingCase{"br;q=0, *", "br", false},
        EncodingCase{"gzip, *;q=0", "br", false}, EncodingCase{"gzip, *;q=0", "gzip", true},
        EncodingCase{",,, br ,,", "br", true}, EncodingCase{"gzip,br;q=0.8", "br", true}));

}  // namespace
}  // namespace askr::handlers
