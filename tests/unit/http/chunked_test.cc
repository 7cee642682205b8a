#include "http/chunked.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace askr::http {
namespace {

using namespace std::string_literals;
using Status = ChunkedDecoder::Status;

struct Outcome {
  Status status = Status::kNeedMore;  // kDone, kError, or kNeedMore when the input ran out
  std::string payload;
  size_t consumed = 0;  // bytes of the whole input used up
  int error = 0;
};

// Feeds `input` to `d` in pieces of the given sizes (the last piece takes the rest), calling
// next() until each piece is used up, and checks the step contract on the way.
Outcome decode(ChunkedDecoder& d, std::string_view input, const std::vector<size_t>& sizes) {
  Outcome out;
  size_t offset = 0;
  size_t piece = 0;
  do {
    size_t rest = input.size() - offset;
    size_t len = piece < sizes.size() ? std::min(sizes[piece], rest) : rest;
    ++piece;
    std::string_view in = input.substr(offset, len);
    offset += len;
    for (;;) {
      ChunkedDecoder::Step s = d.next(in);
      EXPECT_LE(s.consumed, in.size());
      out.consumed += s.consumed;
      if (s.status == Status::kData) {
        EXPECT_FALSE(s.data.empty());
        EXPECT_GE(s.data.data(), in.data());
        EXPECT_LE(s.data.data() + s.data.size(), in.data() + s.consumed);
        out.payload.append(s.data);
        in.remove_prefix(s.consumed);
        continue;
      }
      if (s.status == Status::kNeedMore) {
        EXPECT_EQ(s.consumed, in.size());
        break;
      }
      out.status = s.status;
      out.error = d.error_status();
      return out;
    }
  } while (offset < input.size());
  return out;
}

Outcome decode_whole(std::string_view input, ChunkedDecoder d = ChunkedDecoder()) {
  return decode(d, input, {});
}

Outcome decode_bytewise(std::string_view input, ChunkedDecoder d = ChunkedDecoder()) {
  return decode(d, input, std::vector<size_t>(input.size(), 1));
}

std::string case_name(const char* name) {
  std::string s;
  for (const char* p = name; *p != '\0'; ++p) {
    s += std::isalnum(static_cast<uint8_t>(*p)) ? *p : '_';
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Bodies that decode, each followed by a pipelined "NEXT" that must be left alone.

struct OkCase {
  const char* name;
  std::string body;
  std::string payload;
};

const OkCase kOkCases[] = {
    {"empty body", "0\r\n\r\n", ""},
    {"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
    {"hex sizes", "a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij"},
    {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
    {"sixteen digit size", "0000000000000003\r\nabc\r\n0\r\n\r\n", "abc"},
    {"leading zeros past sixteen digits", "00000000000000000005\r\nhello\r\n0\r\n\r\n", "hello"},
    {"zero-padded last chunk", "5\r\nhello\r\n00000000000000000000\r\n\r\n", "hello"},
    {"binary data with CRLF inside", "6\r\n\r\n\0\xff\r\n\r\n0\r\n\r\n"s, "\r\n\0\xff\r\n"s},
    {"extension name", "3;foo\r\nabc\r\n0;bar\r\n\r\n", "abc"},
    {"extension token value", "3;foo=bar\r\nabc\r\n0\r\n\r\n", "abc"},
    {"extension quoted value", "3;foo=\"b a;r\"\r\nabc\r\n0\r\n\r\n", "abc"},
    {"extension quoted pair", "3;foo=\"a\\\"b\\\\\"\r\nabc\r\n0\r\n\r\n", "abc"},
    {"extension empty quoted", "3;foo=\"\"\r\nabc\r\n0\r\n\r\n", "abc"},
    {"several extensions", "3;a;b=1;c=\"x\"\r\nabc\r\n0\r\n\r\n", "abc"},
    {"extension BWS", "3 \t; a = 1 ;b\t=\t\"x\"\r\nabc\r\n0\r\n\r\n", "abc"},
    {"extension obs-text in quoted", "3;a=\"\xe9\"\r\nabc\r\n0\r\n\r\n", "abc"},
    {"one trailer", "3\r\nabc\r\n0\r\nX-Sum: 1234\r\n\r\n", "abc"},
    {"trailers", "3\r\nabc\r\n0\r\nA: 1\r\nB:\r\nC:  x y \t\r\n\r\n", "abc"},
    {"trailer obs-text", "0\r\nA: \xe4\xbd\xa0\r\n\r\n", ""},
};

class ChunkedOkTest : public testing::TestWithParam<OkCase> {};

TEST_P(ChunkedOkTest, Whole) {
  const OkCase& c = GetParam();
  std::string input = c.body + "NEXT";
  Outcome o = decode_whole(input);
  EXPECT_EQ(o.status, Status::kDone) << o.error;
  EXPECT_EQ(o.payload, c.payload);
  EXPECT_EQ(o.consumed, c.body.size());
}

TEST_P(ChunkedOkTest, ByteByByte) {
  const OkCase& c = GetParam();
  std::string input = c.body + "NEXT";
  ChunkedDecoder d;
  Outcome o = decode(d, input, std::vector<size_t>(input.size(), 1));
  EXPECT_EQ(o.status, Status::kDone) << o.error;
  EXPECT_EQ(o.payload, c.payload);
  EXPECT_EQ(o.consumed, c.body.size());
  EXPECT_EQ(d.body_bytes(), c.payload.size());
  EXPECT_TRUE(d.done());
}

TEST_P(ChunkedOkTest, RandomSplits) {
  const OkCase& c = GetParam();
  std::string input = c.body + "NEXT";
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> sizes;
    for (size_t total = 0; total < input.size();) {
      sizes.push_back(std::uniform_int_distribution<size_t>(0, 7)(rng));
      total += sizes.back();
    }
    ChunkedDecoder d;
    Outcome o = decode(d, input, sizes);
    ASSERT_EQ(o.status, Status::kDone) << "round " << round;
    ASSERT_EQ(o.payload, c.payload) << "round " << round;
    ASSERT_EQ(o.consumed, c.body.size()) << "round " << round;
  }
}

TEST_P(ChunkedOkTest, EveryPrefixNeedsMore) {
  const OkCase& c = GetParam();
  for (size_t n = 0; n < c.body.size(); ++n) {
    Outcome o = decode_whole(std::string_view(c.body).substr(0, n));
    ASSERT_EQ(o.status, Status::kNeedMore) << "prefix " << n;
    EXPECT_EQ(o.consumed, n);
  }
}

INSTANTIATE_TEST_SUITE_P(Chunked, ChunkedOkTest, testing::ValuesIn(kOkCases),
                         [](const auto& tp) { return case_name(tp.param.name); });

// ---------------------------------------------------------------------------------------------
// Bodies that must be refused, one row per rule.

struct ErrorCase {
  const char* name;
  std::string body;
  int status;
};

const ErrorCase kErrorCases[] = {
    {"empty size", "\r\nabc\r\n0\r\n\r\n", 400},
    {"non-hex size", "g\r\n", 400},
    {"size with sign", "+3\r\nabc\r\n0\r\n\r\n", 400},
    {"size with 0x", "0x3\r\nabc\r\n0\r\n\r\n", 400},
    {"leading space", " 3\r\nabc\r\n0\r\n\r\n", 400},
    {"trailing space before CRLF", "3 \r\nabc\r\n0\r\n\r\n", 400},
    {"size overflow", "10000000000000000\r\n", 400},
    {"zero-padded size overflow", "00010000000000000000\r\n", 400},
    {"bare LF after size", "3\nabc\r\n0\r\n\r\n", 400},
    {"bare CR after size", "3\rabc\r\n0\r\n\r\n", 400},
    {"NUL in size line", "3\0\r\nabc\r\n0\r\n\r\n"s, 400},
    {"missing CRLF after data", "3\r\nabcd\r\n0\r\n\r\n", 400},
    {"bare LF after data", "3\r\nabc\n0\r\n\r\n", 400},
    {"CR without LF after data", "3\r\nabc\rx0\r\n\r\n", 400},
    {"extension without name", "3;\r\nabc\r\n0\r\n\r\n", 400},
    {"extension name not token", "3;a@b\r\nabc\r\n0\r\n\r\n", 400},
    {"extension without value", "3;a=\r\nabc\r\n0\r\n\r\n", 400},
    {"extension unterminated quote", "3;a=\"x\r\nabc\r\n0\r\n\r\n", 400},
    {"extension CTL in quoted", "3;a=\"\x01\"\r\nabc\r\n0\r\n\r\n", 400},
    {"extension junk after quote", "3;a=\"x\"y\r\nabc\r\n0\r\n\r\n", 400},
    {"extension space inside token", "3;a=b c\r\nabc\r\n0\r\n\r\n", 400},
    {"extension trailing BWS", "3;a \r\nabc\r\n0\r\n\r\n", 400},
    {"extension bare LF", "3;a\nabc\r\n0\r\n\r\n", 400},
    {"trailer obs-fold", "0\r\nA: 1\r\n 2\r\n\r\n", 400},
    {"trailer without colon", "0\r\nA 1\r\n\r\n", 400},
    {"trailer space before colon", "0\r\nA : 1\r\n\r\n", 400},
    {"trailer empty name", "0\r\n: 1\r\n\r\n", 400},
    {"trailer CTL in value", "0\r\nA: \x01\r\n\r\n", 400},
    {"trailer NUL in value", "0\r\nA: \0\r\n\r\n"s, 400},
    {"trailer bare CR", "0\r\nA: 1\r2\r\n\r\n", 400},
    {"trailer bare LF", "0\r\nA: 1\n\r\n", 400},
    {"final bare LF", "0\r\n\n", 400},
    {"final CR without LF", "0\r\n\rx", 400},
};

class ChunkedErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ChunkedErrorTest, Refused) {
  const ErrorCase& c = GetParam();
  ChunkedDecoder whole;
  Outcome a = decode(whole, c.body, {});
  EXPECT_EQ(a.status, Status::kError);
  EXPECT_EQ(a.error, c.status);
  EXPECT_STRNE(whole.error_reason(), "");
  Outcome b = decode_bytewise(c.body);
  EXPECT_EQ(b.status, Status::kError);
  EXPECT_EQ(b.error, c.status);
  EXPECT_EQ(b.consumed, a.consumed);
  // The error is sticky.
  ChunkedDecoder::Step s = whole.next("0\r\n\r\n");
  EXPECT_EQ(s.status, Status::kError);
  EXPECT_EQ(s.consumed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Chunked, ChunkedErrorTest, testing::ValuesIn(kErrorCases),
                         [](const auto& tp) { return case_name(tp.param.name); });

// ---------------------------------------------------------------------------------------------
// Limits.

struct LimitCase {
  const char* name;
  std::string body;
  uint64_t max_body;
  size_t max_line;
  size_t max_trailers;
  Status status;
  int error;
};

const LimitCase kLimitCases[] = {
    {"body at limit", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 5, 4096, 32768, Status::kDone, 0},
    {"body over limit", "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 5, 4096, 32768, Status::kError, 413},
    {"huge chunk refused before data", "ffffffffffffffff\r\n", 1000, 4096, 32768, Status::kError,
     413},
    {"zero-padded chunk over limit", "000000000000000003e9\r\n", 1000, 4096, 32768, Status::kError,
     413},
    {"empty body with zero limit", "0\r\n\r\n", 0, 4096, 32768, Status::kDone, 0},
    {"line at limit", "3;abcd\r\nabc\r\n0\r\n\r\n", UINT64_MAX, 6, 32768, Status::kDone, 0},
    {"line over limit", "3;abcde\r\nabc\r\n0\r\n\r\n", UINT64_MAX, 6, 32768, Status::kError, 400},
    {"leading zeros over line limit", "0000003\r\nabc\r\n0\r\n\r\n", UINT64_MAX, 6, 32768,
     Status::kError, 400},
    {"trailers at limit", "0\r\nA: 12\r\n\r\n", UINT64_MAX, 4096, 9, Status::kDone, 0},
    {"trailers over limit", "0\r\nA: 123\r\n\r\n", UINT64_MAX, 4096, 9, Status::kError, 400},
};

class ChunkedLimitTest : public testing::TestWithParam<LimitCase> {};

TEST_P(ChunkedLimitTest, Enforced) {
  const LimitCase& c = GetParam();
  for (bool bytewise : {false, true}) {
    ChunkedDecoder d(c.max_body, c.max_line, c.max_trailers);
    Outcome o = bytewise ? decode_bytewise(c.body, d) : decode_whole(c.body, d);
    EXPECT_EQ(o.status, c.status) << (bytewise ? "bytewise" : "whole");
    EXPECT_EQ(o.error, c.error) << (bytewise ? "bytewise" : "whole");
  }
}

INSTANTIATE_TEST_SUITE_P(Chunked, ChunkedLimitTest, testing::ValuesIn(kLimitCases),
                         [](const auto& tp) { return case_name(tp.param.name); });

// ---------------------------------------------------------------------------------------------
// Other behaviour.

TEST(Chunked, DataPieceFollowsInputBoundaries) {
  ChunkedDecoder d;
  ChunkedDecoder::Step s = d.next("a\r\n01234");
  EXPECT_EQ(s.status, Status::kData);
  EXPECT_EQ(s.consumed, 8u);
  EXPECT_EQ(s.data, "01234");
  s = d.next("56789\r\n0\r\n\r\nGET");
  EXPECT_EQ(s.status, Status::kData);
  EXPECT_EQ(s.consumed, 5u);
  EXPECT_EQ(s.data, "56789");
  s = d.next("\r\n0\r\n\r\nGET");
  EXPECT_EQ(s.status, Status::kDone);
  EXPECT_EQ(s.consumed, 7u);
  EXPECT_EQ(d.body_bytes(), 10u);
}

TEST(Chunked, NeedMoreWithEmptyInput) {
  ChunkedDecoder d;
  ChunkedDecoder::Step s = d.next("");
  EXPECT_EQ(s.status, Status::kNeedMore);
  EXPECT_EQ(s.consumed, 0u);
  s = d.next("3\r\n");
  EXPECT_EQ(s.status, Status::kNeedMore);
  EXPECT_EQ(s.consumed, 3u);
  s = d.next("");
  EXPECT_EQ(s.status, Status::kNeedMore);
}

TEST(Chunked, DoneIsStickyAndResetStartsOver) {
  ChunkedDecoder d(10);
  EXPECT_EQ(d.next("1\r\nx\r\n0\r\n\r\n").status, Status::kData);
  EXPECT_EQ(d.next("\r\n0\r\n\r\n").status, Status::kDone);
  ChunkedDecoder::Step s = d.next("1\r\ny\r\n");
  EXPECT_EQ(s.status, Status::kDone);
  EXPECT_EQ(s.consumed, 0u);
  d.reset();
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.body_bytes(), 0u);
  Outcome o = decode(d, "2\r\nyz\r\n0\r\n\r\n", {});
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.payload, "yz");
  // The limits survive reset().
  d.reset();
  o = decode(d, "b\r\n", {});
  EXPECT_EQ(o.status, Status::kError);
  EXPECT_EQ(o.error, 413);
  d.reset();
  EXPECT_EQ(d.error_status(), 0);
}

TEST(Chunked, LargeChunkDeliveredAcrossManyReads) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::string body = "186a0\r\n" + data + "\r\n0\r\n\r\n";
  ChunkedDecoder d;
  Outcome o = decode(d, body, std::vector<size_t>(body.size() / 4096 + 1, 4096));
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.payload, data);
  EXPECT_EQ(o.consumed, body.size());
}

}  // namespace
}  // namespace askr::http
