#include "shared/fastcgi/decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/fastcgi/encoder.h"

namespace askr::fastcgi {
namespace {

using namespace std::string_literals;
using Status = Decoder::Status;
using PStatus = ParamsParser::Status;

struct Record {
  RecordType type;
  uint16_t request_id;
  std::string content;
  size_t events = 0;
  bool operator==(const Record& o) const {
    return type == o.type && request_id == o.request_id && content == o.content;
  }
};

struct Decoded {
  std::vector<Record> records;  // complete records only
  bool error = false;
  bool boundary = false;  // decoder at a record boundary after the last byte
};

// Feeds `input` in pieces of the given sizes (the last piece takes the rest), joining the
// content pieces of each record, and checks the step contract on the way.
Decoded decode(std::string_view input, const std::vector<size_t>& sizes) {
  Decoder d;
  Decoded out;
  Record current{};
  bool open = false;
  size_t offset = 0;
  size_t piece = 0;
  do {
    const size_t rest = input.size() - offset;
    const size_t len = piece < sizes.size() ? std::min(sizes[piece], rest) : rest;
    ++piece;
    std::string_view in = input.substr(offset, len);
    offset += len;
    for (;;) {
      const Decoder::Step s = d.next(in);
      EXPECT_LE(s.consumed, in.size());
      in.remove_prefix(s.consumed);
      if (s.status == Status::kError) {
        out.error = true;
        return out;
      }
      if (s.status == Status::kNeedMore) {
        EXPECT_TRUE(in.empty());
        break;
      }
      if (open) {
        EXPECT_EQ(s.type, current.type);
        EXPECT_EQ(s.request_id, current.request_id);
      } else {
        current = Record{s.type, s.request_id, {}, 0};
        open = true;
      }
      EXPECT_TRUE(!s.content.empty() || s.end_of_record) << "empty piece mid-record";
      current.content.append(s.content);
      ++current.events;
      if (s.end_of_record) {
        out.records.push_back(std::move(current));
        open = false;
      }
    }
  } while (offset < input.size());
  out.boundary = d.at_record_boundary() && !open;
  return out;
}

Decoded decode_bytewise(std::string_view input) {
  return decode(input, std::vector<size_t>(input.size(), 1));
}

// A whole request as a proxy sends it.
std::string sample_request(uint16_t id, std::string_view body) {
  std::string out;
  begin_request(out, id, Role::kResponder, true);
  const std::string length = std::to_string(body.size());
  const NameValue pairs[] = {{"SCRIPT_FILENAME", "/srv/www/index.php"},
                             {"REQUEST_METHOD", "POST"},
                             {"QUERY_STRING", "a=1&b=2"},
                             {"CONTENT_LENGTH", length}};
  params(out, id, pairs);
  end_params(out, id);
  stream(out, RecordType::kStdin, id, body);
  end_stream(out, RecordType::kStdin, id);
  return out;
}

std::string sample_response(uint16_t id) {
  std::string out;
  stream(out, RecordType::kStdout, id, "Status: 201 Created\r\nContent-type: text/plain\r\n\r\n");
  stream(out, RecordType::kStderr, id, "PHP Notice: something");
  end_stream(out, RecordType::kStderr, id);
  stream(out, RecordType::kStdout, id, "hello");
  end_stream(out, RecordType::kStdout, id);
  end_request(out, id, 0, ProtocolStatus::kRequestComplete);
  return out;
}

// ---- Decoder ------------------------------------------------------------------------------------

TEST(Decoder, WholeRequest) {
  const std::string wire = sample_request(1, "x=1");
  const Decoded d = decode(wire, {});
  ASSERT_FALSE(d.error);
  EXPECT_TRUE(d.boundary);
  ASSERT_EQ(d.records.size(), 5u);
  EXPECT_EQ(d.records[0].type, RecordType::kBeginRequest);
  const std::optional<BeginRequest> b = parse_begin_request(d.records[0].content);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->role, Role::kResponder);
  EXPECT_TRUE(b->keep_conn());
  EXPECT_EQ(d.records[1].type, RecordType::kParams);
  EXPECT_FALSE(d.records[1].content.empty());
  EXPECT_EQ(d.records[2].type, RecordType::kParams);  // the empty PARAMS that ends them
  EXPECT_TRUE(d.records[2].content.empty());
  EXPECT_EQ(d.records[3].type, RecordType::kStdin);
  EXPECT_EQ(d.records[3].content, "x=1");
  EXPECT_EQ(d.records[4].type, RecordType::kStdin);
  EXPECT_TRUE(d.records[4].content.empty());
  for (const Record& r : d.records) EXPECT_EQ(r.request_id, 1);
}

TEST(Decoder, EverySplitAndByteByByte) {
  const std::string wire = sample_request(300, "payload") + sample_response(300);
  const Decoded whole = decode(wire, {});
  ASSERT_FALSE(whole.error);
  ASSERT_TRUE(whole.boundary);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    const Decoded two = decode(wire, {cut});
    ASSERT_FALSE(two.error) << cut;
    EXPECT_EQ(two.records, whole.records) << "split at " << cut;
    EXPECT_TRUE(two.boundary);
  }
  const Decoded bytes = decode_bytewise(wire);
  EXPECT_EQ(bytes.records, whole.records);
  EXPECT_TRUE(bytes.boundary);
}

TEST(Decoder, RandomSplits) {
  std::string body(5000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i % 251);
  const std::string wire = sample_request(2, body) + sample_response(2);
  const Decoded whole = decode(wire, {});
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> sizes;
    for (size_t n = 0; n < wire.size();) {
      sizes.push_back(1 + rng() % 40);
      n += sizes.back();
    }
    const Decoded d = decode(wire, sizes);
    ASSERT_EQ(d.records, whole.records) << "round " << round;
  }
}

// Content comes out piece by piece, as views into the caller's buffer, without waiting for the
// rest of the record.
TEST(Decoder, DeliversFragmentsWithoutBuffering) {
  const std::string data(kMaxAlignedContentLength, 'd');
  std::string wire;
  stream(wire, RecordType::kStdout, 1, data);
  Decoder d;
  std::string_view in(wire);
  size_t events = 0;
  size_t bytes = 0;
  for (size_t off = 0; off < wire.size(); off += 4096) {
    std::string_view piece = in.substr(off, 4096);
    while (true) {
      const Decoder::Step s = d.next(piece);
      if (s.status == Status::kNeedMore) break;
      ASSERT_EQ(s.status, Status::kContent);
      ASSERT_FALSE(s.content.empty());
      EXPECT_GE(s.content.data(), piece.data());
      EXPECT_LE(s.content.data() + s.content.size(), piece.data() + piece.size());
      bytes += s.content.size();
      ++events;
      EXPECT_EQ(s.end_of_record, bytes == data.size());
      piece.remove_prefix(s.consumed);
    }
  }
  EXPECT_EQ(bytes, data.size());
  EXPECT_EQ(events, (data.size() + kHeaderLength + 4095) / 4096);
  EXPECT_TRUE(d.at_record_boundary());
}

TEST(Decoder, LargeStreamRoundTrip) {
  std::string data(200 * 1024, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13 + i / 7);
  std::string wire;
  stream(wire, RecordType::kStdin, 9, data);
  end_stream(wire, RecordType::kStdin, 9);
  for (size_t read : {1000u, 4096u, 65536u, 200000u}) {
    const Decoded d = decode(wire, std::vector<size_t>(wire.size() / read + 1, read));
    ASSERT_FALSE(d.error);
    ASSERT_EQ(d.records.size(), 5u);  // 200 KiB = 3 full records + rest, then the empty one
    std::string joined;
    for (const Record& r : d.records) joined += r.content;
    EXPECT_EQ(joined, data);
  }
}

TEST(Decoder, SkipsPaddingInAnySplit) {
  // Hand-made records with odd padding, including the maximum of 255 and padding on an empty
  // record.
  std::string wire;
  record_header(wire, RecordType::kStdout, 1, 3, 255);
  wire += "abc" + std::string(255, '\xee');
  record_header(wire, RecordType::kStdout, 1, 0, 5);
  wire += std::string(5, '\xee');
  record_header(wire, RecordType::kEndRequest, 1, 8, 1);
  wire += "\0\0\0\x05\0\0\0\0\xee"s;
  const Decoded whole = decode(wire, {});
  ASSERT_FALSE(whole.error);
  ASSERT_EQ(whole.records.size(), 3u);
  EXPECT_EQ(whole.records[0].content, "abc");
  EXPECT_EQ(whole.records[1].content, "");
  const std::optional<EndRequest> e = parse_end_request(whole.records[2].content);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->app_status, 5u);
  EXPECT_EQ(e->protocol_status, ProtocolStatus::kRequestComplete);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    EXPECT_EQ(decode(wire, {cut}).records, whole.records) << cut;
  }
  EXPECT_EQ(decode_bytewise(wire).records, whole.records);
}

TEST(Decoder, EndOfRecordBeforePaddingArrives) {
  std::string wire;
  record_header(wire, RecordType::kStdout, 1, 2, 6);
  wire += "hi" + std::string(6, '\0');
  Decoder d;
  Decoder::Step s = d.next(std::string_view(wire).substr(0, 10));
  ASSERT_EQ(s.status, Status::kContent);
  EXPECT_EQ(s.content, "hi");
  EXPECT_TRUE(s.end_of_record);
  EXPECT_FALSE(d.at_record_boundary());  // padding still to come
  s = d.next(std::string_view(wire).substr(10));
  EXPECT_EQ(s.status, Status::kNeedMore);
  EXPECT_EQ(s.consumed, 6u);
  EXPECT_TRUE(d.at_record_boundary());
}

TEST(Decoder, FixedBodiesComeWholeEvenByteByByte) {
  std::string wire;
  begin_request(wire, 77, Role::kAuthorizer, false);
  end_request(wire, 77, 0xdeadbeef, ProtocolStatus::kUnknownRole);
  unknown_type(wire, 200);
  Decoder d;
  std::vector<std::string> bodies;
  for (char c : wire) {
    const Decoder::Step s = d.next(std::string_view(&c, 1));
    if (s.status == Status::kContent) {
      EXPECT_TRUE(s.end_of_record);
      bodies.emplace_back(s.content);
      // A fixed body ends on its last byte; nothing is left in this one-byte piece.
      EXPECT_EQ(s.consumed, 1u);
      EXPECT_EQ(d.next(std::string_view(&c, 1).substr(1)).status, Status::kNeedMore);
    } else {
      ASSERT_EQ(s.status, Status::kNeedMore);
    }
  }
  ASSERT_EQ(bodies.size(), 3u);
  const std::optional<BeginRequest> b = parse_begin_request(bodies[0]);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->role, Role::kAuthorizer);
  EXPECT_FALSE(b->keep_conn());
  const std::optional<EndRequest> e = parse_end_request(bodies[1]);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->app_status, 0xdeadbeef);
  EXPECT_EQ(e->protocol_status, ProtocolStatus::kUnknownRole);
  EXPECT_EQ(parse_unknown_type(bodies[2]), 200);
}

TEST(Decoder, ParseFixedBodiesCheckLength) {
  EXPECT_FALSE(parse_begin_request("1234567"));
  EXPECT_FALSE(parse_end_request("123456789"));
  EXPECT_FALSE(parse_unknown_type(""));
  const std::optional<BeginRequest> b = parse_begin_request("\x12\x34\x03\0\0\0\0\0"s);
  ASSERT_TRUE(b);
  EXPECT_EQ(static_cast<uint16_t>(b->role), 0x1234);  // an unknown role is passed up
  EXPECT_EQ(b->flags, 3);
}

TEST(Decoder, BadVersionIsAStickyError) {
  std::string wire;
  stream(wire, RecordType::kStdout, 1, "ok");
  std::string bad;
  stream(bad, RecordType::kStdout, 1, "no");
  bad[0] = 2;
  wire += bad;
  Decoder d;
  std::string_view in(wire);
  Decoder::Step s = d.next(in);
  ASSERT_EQ(s.status, Status::kContent);
  EXPECT_EQ(s.content, "ok");
  in.remove_prefix(s.consumed);
  s = d.next(in);
  EXPECT_EQ(s.status, Status::kError);
  EXPECT_STREQ(d.error(), "unsupported FastCGI version");
  EXPECT_EQ(d.next("\x01\x06\0\x01\0\0\0\0"s).status, Status::kError);
  d.reset();
  EXPECT_EQ(d.next("\x01\x06\0\x01\0\0\0\0"s).status, Status::kContent);
  EXPECT_TRUE(decode_bytewise(bad).error);
}

TEST(Decoder, BadFixedBodyLength) {
  std::string wire;
  record_header(wire, RecordType::kBeginRequest, 1, 7, 1);
  wire += std::string(8, '\0');
  EXPECT_TRUE(decode(wire, {}).error);
  wire.clear();
  record_header(wire, RecordType::kEndRequest, 1, 0, 0);
  EXPECT_TRUE(decode(wire, {}).error);
}

TEST(Decoder, UnknownTypesArePassedUp) {
  std::string wire;
  record_header(wire, static_cast<RecordType>(42), 3, 4, 4);
  wire += "\x01\x02\x03\x04\0\0\0\0"s;
  record_header(wire, static_cast<RecordType>(0), 0, 0, 0);
  const Decoded d = decode_bytewise(wire);
  ASSERT_FALSE(d.error);
  ASSERT_EQ(d.records.size(), 2u);
  EXPECT_EQ(static_cast<int>(d.records[0].type), 42);
  EXPECT_EQ(d.records[0].content, "\x01\x02\x03\x04");
  EXPECT_EQ(static_cast<int>(d.records[1].type), 0);
}

TEST(Decoder, TruncatedInputNeedsMore) {
  const std::string wire = sample_response(1);
  ASSERT_EQ(decode(wire, {}).records.size(), 6u);
  for (size_t len = 0; len < wire.size(); ++len) {
    const Decoded d = decode(std::string_view(wire).substr(0, len), {});
    EXPECT_FALSE(d.error);
    EXPECT_LT(d.records.size(), 6u) << len;  // the last record, END_REQUEST, is never whole
  }
}

// ---- ParamsParser -------------------------------------------------------------------------------

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct ParsedParams {
  Pairs pairs;
  bool error = false;
  bool finished = false;  // finish() said the stream ended on a pair boundary
};

ParsedParams parse_params(ParamsParser& p, const std::vector<std::string_view>& pieces) {
  ParsedParams out;
  for (std::string_view in : pieces) {
    for (;;) {
      const ParamsParser::Step s = p.next(in);
      EXPECT_LE(s.consumed, in.size());
      in.remove_prefix(s.consumed);
      if (s.status == PStatus::kError) {
        out.error = true;
        return out;
      }
      if (s.status == PStatus::kNeedMore) {
        EXPECT_TRUE(in.empty());
        break;
      }
      out.pairs.emplace_back(s.name, s.value);
    }
  }
  out.finished = p.finish();
  return out;
}

ParsedParams parse_params(std::string_view data, const std::vector<size_t>& sizes,
                          size_t max = ParamsParser::kDefaultMaxSize) {
  std::vector<std::string_view> pieces;
  for (size_t s : sizes) {
    const size_t n = std::min(s, data.size());
    pieces.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  pieces.push_back(data);
  ParamsParser p(max);
  return parse_params(p, pieces);
}

// The PARAMS content of `pairs` as one string, records stripped.
std::string params_content(const Pairs& pairs) {
  std::string wire;
  ParamsWriter w(wire, 1);
  for (const auto& [n, v] : pairs) w.add(n, v);
  w.finish();
  std::string content;
  Decoder d;
  std::string_view in(wire);
  for (Decoder::Step s = d.next(in); s.status == Status::kContent; s = d.next(in)) {
    content.append(s.content);
    in.remove_prefix(s.consumed);
  }
  return content;
}

Pairs sample_pairs() {
  return {{"SCRIPT_FILENAME", "/srv/www/index.php"},
          {"EMPTY", ""},
          {"", "empty name"},
          {std::string(127, 'N'), std::string(128, 'V')},
          {std::string(128, 'n'), std::string(127, 'v')},
          {"HTTP_COOKIE", std::string(3000, 'c')},
          {"BIN", "\0\x01\xff\n"s}};
}

TEST(ParamsParser, EverySplitAndByteByByte) {
  const Pairs pairs = sample_pairs();
  const std::string content = params_content(pairs);
  for (size_t cut = 0; cut <= content.size(); ++cut) {
    const ParsedParams r = parse_params(content, {cut});
    ASSERT_FALSE(r.error) << cut;
    EXPECT_TRUE(r.finished) << cut;
    EXPECT_EQ(r.pairs, pairs) << cut;
  }
  const ParsedParams r = parse_params(content, std::vector<size_t>(content.size(), 1));
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.pairs, pairs);
}

// Pairs straddling record boundaries, fed as the decoder delivers them.
TEST(ParamsParser, PairsStraddlingRecords) {
  Pairs pairs;
  for (int i = 0; i < 30; ++i)
    pairs.emplace_back("NAME_" + std::to_string(i), std::string(5000, 'a' + i % 26));
  pairs.emplace_back("HUGE", std::string(100000, 'h'));  // split across two records
  std::string wire;
  ParamsWriter w(wire, 1);
  for (const auto& [n, v] : pairs) w.add(n, v);
  w.finish();
  end_params(wire, 1);
  for (size_t read : {size_t{1}, size_t{7}, size_t{1000}, wire.size()}) {
    Decoder d;
    ParamsParser p(1 << 20);
    Pairs got;
    bool ended = false;
    for (size_t off = 0; off < wire.size(); off += read) {
      std::string_view in = std::string_view(wire).substr(off, read);
      for (Decoder::Step s = d.next(in); s.status == Status::kContent; s = d.next(in)) {
        in.remove_prefix(s.consumed);
        ASSERT_EQ(s.type, RecordType::kParams);
        if (s.content.empty()) {
          ended = true;
          EXPECT_TRUE(p.finish());
          continue;
        }
        std::string_view c = s.content;
        for (ParamsParser::Step ps = p.next(c); ps.status == PStatus::kPair; ps = p.next(c)) {
          got.emplace_back(ps.name, ps.value);
          c.remove_prefix(ps.consumed);
        }
      }
    }
    EXPECT_TRUE(ended);
    EXPECT_EQ(got, pairs) << "read " << read;
  }
}

TEST(ParamsParser, WholePairsAreViewsIntoTheInput) {
  const std::string content = params_content({{"A", "1"}, {"B", "2"}});
  ParamsParser p;
  const ParamsParser::Step s = p.next(content);
  ASSERT_EQ(s.status, PStatus::kPair);
  EXPECT_EQ(s.name.data(), content.data() + 2);
  EXPECT_EQ(s.value.data(), content.data() + 3);
  EXPECT_EQ(s.consumed, 4u);
}

TEST(ParamsParser, LimitIsInclusive) {
  const std::string content = params_content({{"ABC", "12345"}, {"X", "Y"}});  // 10 + 4 bytes
  EXPECT_FALSE(parse_params(content, {}, 14).error);
  EXPECT_TRUE(parse_params(content, {}, 13).error);
  EXPECT_TRUE(parse_params(content, std::vector<size_t>(content.size(), 1), 13).error);
  EXPECT_TRUE(parse_params(content, {}, 9).error);
}

TEST(ParamsParser, HugeAnnouncedLengthFailsBeforeBuffering) {
  ParamsParser p;
  // Name of 0x7fffffff bytes: refused on the length alone.
  const std::string head = "\xff\xff\xff\xff\x01"s;
  ParamsParser::Step s{};
  for (char c : head) {
    s = p.next(std::string_view(&c, 1));
    if (s.status == PStatus::kError) break;
  }
  EXPECT_EQ(s.status, PStatus::kError);
  EXPECT_STREQ(p.error(), "FastCGI params larger than the limit");
  EXPECT_EQ(p.next("\x01\x01xy").status, PStatus::kError);  // sticky
  EXPECT_FALSE(p.finish());
  p.reset();
  EXPECT_EQ(p.next("\x01\x01xy").status, PStatus::kPair);
}

TEST(ParamsParser, LimitCountsAcrossPairs) {
  Pairs pairs;
  for (int i = 0; i < 100; ++i) pairs.emplace_back("NAME", std::string(1000, 'v'));
  const std::string content = params_content(pairs);  // 100 * 1009 bytes
  const ParsedParams r = parse_params(content, {});
  EXPECT_TRUE(r.error);
  EXPECT_EQ(r.pairs.size(), 64u);  // 64 * 1009 <= 65536 < 65 * 1009
}

TEST(ParamsParser, TruncatedPairs) {
  const std::string cases[] = {
      "\x80"s,          // 4-byte name length cut short
      "\x80\x00\x00"s,  // still cut
      "\x05"s,          // value length missing
      "\x05\x80\x00"s,  // 4-byte value length cut short
      "\x05\x03"
      "abc"s,  // name cut
      "\x01\x03"
      "ab"s,              // value cut
      "\x01\x01xy\x02"s,  // a whole pair, then a cut one
  };
  for (const std::string& c : cases) {
    const ParsedParams r = parse_params(c, {});
    EXPECT_FALSE(r.error) << "not an error until the stream ends";
    EXPECT_FALSE(r.finished) << testing::PrintToString(c);
  }
  EXPECT_TRUE(parse_params("\x01\x01xy"s, {}).finished);
  EXPECT_TRUE(parse_params(""s, {}).finished);
}

TEST(ParamsParser, ReusableAfterReset) {
  ParamsParser p;
  EXPECT_EQ(p.next("\x03\x03"
                   "ab")
                .status,
            PStatus::kNeedMore);
  p.reset();
  const ParsedParams r = parse_params(p, {"\x01\x01"
                                          "ab"});
  EXPECT_EQ(r.pairs, (Pairs{{"a", "b"}}));
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(p.total_size(), 4u);
}

// A caller that takes a record's content from the stream itself (splice) tells the decoder,
// which then expects the padding and the next header.
TEST(Decoder, SkippedContentKeepsTheFraming) {
  std::string in;
  stream(in, RecordType::kStdout, 1, std::string(13, 'x'));  // 13 bytes + 3 padding
  stream(in, RecordType::kStderr, 1, "e");
  Decoder d;
  EXPECT_EQ(d.framing_left(), kHeaderLength);
  Decoder::Step s = d.next(std::string_view(in).substr(0, kHeaderLength));
  EXPECT_EQ(s.status, Status::kNeedMore);
  EXPECT_EQ(d.record_type(), RecordType::kStdout);
  EXPECT_EQ(d.content_left(), 13u);
  EXPECT_EQ(d.framing_left(), 0u);
  d.skip_content(10);
  EXPECT_EQ(d.content_left(), 3u);
  d.skip_content(3);
  EXPECT_EQ(d.content_left(), 0u);
  EXPECT_EQ(d.framing_left(), 3u);  // the padding
  s = d.next(std::string_view(in).substr(kHeaderLength + 13));
  ASSERT_EQ(s.status, Status::kContent);
  EXPECT_EQ(s.type, RecordType::kStderr);
  EXPECT_EQ(s.content, "e");
}

}  // namespace
}  // namespace askr::fastcgi
