#include "shared/fastcgi/encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "shared/fastcgi/protocol.h"

namespace askr::fastcgi {
namespace {

using namespace std::string_literals;

// A record as read back from the wire, checked against the specification's layout.
struct Rec {
  RecordHeader header;
  std::string content;
};

std::vector<Rec> split_records(std::string_view wire) {
  std::vector<Rec> out;
  while (!wire.empty()) {
    EXPECT_GE(wire.size(), kHeaderLength);
    if (wire.size() < kHeaderLength) break;
    Rec r{read_header(wire.data()), {}};
    EXPECT_EQ(r.header.version, kVersion1);
    EXPECT_EQ(wire[7], '\0') << "reserved byte";
    wire.remove_prefix(kHeaderLength);
    const size_t total = size_t{r.header.content_length} + r.header.padding_length;
    EXPECT_GE(wire.size(), total);
    if (wire.size() < total) break;
    r.content.assign(wire.substr(0, r.header.content_length));
    EXPECT_EQ(wire.substr(r.header.content_length, r.header.padding_length),
              std::string(r.header.padding_length, '\0'));
    wire.remove_prefix(total);
    out.push_back(std::move(r));
  }
  return out;
}

// ---- Golden bytes (FastCGI Specification §3.3, §5.1, §5.5, §8)
// ------------------------------------

TEST(Encoder, BeginRequestGolden) {
  std::string out;
  begin_request(out, 1, Role::kResponder, true);
  // version, type, requestIdB1, requestIdB0, contentLengthB1, contentLengthB0, paddingLength,
  // reserved; then roleB1, roleB0, flags, reserved[5].
  const std::string expected =
      "\x01\x01\x00\x01\x00\x08\x00\x00"
      "\x00\x01\x01\x00\x00\x00\x00\x00"s;
  EXPECT_EQ(out, expected);

  out.clear();
  begin_request(out, 0x1234, Role::kFilter, false);
  EXPECT_EQ(out,
            "\x01\x01\x12\x34\x00\x08\x00\x00"
            "\x00\x03\x00\x00\x00\x00\x00\x00"s);
}

TEST(Encoder, EndRequestGolden) {
  std::string out;
  end_request(out, 7, 0x01020304, ProtocolStatus::kOverloaded);
  EXPECT_EQ(out,
            "\x01\x03\x00\x07\x00\x08\x00\x00"
            "\x01\x02\x03\x04\x02\x00\x00\x00"s);
}

TEST(Encoder, SmallRecordsGolden) {
  std::string out;
  abort_request(out, 2);
  EXPECT_EQ(out, "\x01\x02\x00\x02\x00\x00\x00\x00"s);
  out.clear();
  end_params(out, 2);
  EXPECT_EQ(out, "\x01\x04\x00\x02\x00\x00\x00\x00"s);
  out.clear();
  end_stream(out, RecordType::kStdin, 2);
  EXPECT_EQ(out, "\x01\x05\x00\x02\x00\x00\x00\x00"s);
  out.clear();
  unknown_type(out, 42);
  EXPECT_EQ(out,
            "\x01\x0b\x00\x00\x00\x08\x00\x00"
            "\x2a\x00\x00\x00\x00\x00\x00\x00"s);
}

TEST(Encoder, RecordHeaderOnly) {
  char header[kHeaderLength];
  record_header(header, RecordType::kStdin, 0x0102, 0xfff8, 0);
  EXPECT_EQ(std::string(header, kHeaderLength), "\x01\x05\x01\x02\xff\xf8\x00\x00"s);
  std::string out = "x";
  record_header(out, RecordType::kStdout, 1, 65535, 1);
  EXPECT_EQ(out, "x\x01\x06\x00\x01\xff\xff\x01\x00"s);
}

TEST(Encoder, PaddingFor) {
  EXPECT_EQ(padding_for(0), 0);
  EXPECT_EQ(padding_for(1), 7);
  EXPECT_EQ(padding_for(8), 0);
  EXPECT_EQ(padding_for(13), 3);
  EXPECT_EQ(padding_for(65535), 1);
  EXPECT_EQ(padding_for(kMaxAlignedContentLength), 0);
}

// ---- Name-value pairs ---------------------------------------------------------------------------

TEST(Encoder, ShortPairGolden) {
  std::string out;
  const NameValue pairs[] = {{"A", "bc"}};
  params(out, 1, pairs);
  // 1 + 1 + 1 + 2 = 5 content bytes, 3 bytes of padding.
  EXPECT_EQ(out,
            "\x01\x04\x00\x01\x00\x05\x03\x00"
            "\x01\x02\x41\x62\x63\x00\x00\x00"s);
}

TEST(Encoder, LengthEncodingBoundary) {
  const std::string n127(127, 'n');
  const std::string v128(128, 'v');
  std::string out;
  const NameValue pairs[] = {{n127, v128}};
  params(out, 1, pairs);
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 1u);
  const std::string& c = recs[0].content;
  ASSERT_EQ(c.size(), 1 + 4 + 127 + 128u);
  EXPECT_EQ(c.substr(0, 5), "\x7f\x80\x00\x00\x80"s);
  EXPECT_EQ(c.substr(5, 127), n127);
  EXPECT_EQ(c.substr(132), v128);
  EXPECT_EQ(encoded_pair_size(n127, v128), c.size());
}

TEST(Encoder, FourByteLengthGolden) {
  const std::string value(0x12345, 'x');
  std::string out;
  const NameValue pairs[] = {{"N", value}};
  params(out, 3, pairs);
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 2u);  // 0x12345 + 6 bytes do not fit one record
  EXPECT_EQ(recs[0].content.substr(0, 6), "\x01\x80\x01\x23\x45N"s);
}

TEST(Encoder, ParamsWriterMatchesParams) {
  std::vector<std::string> storage;
  for (int i = 0; i < 40; ++i) storage.push_back(std::string(i * 7, char('a' + i % 26)));
  std::vector<NameValue> pairs;
  for (int i = 0; i < 40; ++i) pairs.emplace_back(storage[i], storage[39 - i]);
  std::string a;
  params(a, 9, pairs);
  std::string b;
  ParamsWriter w(b, 9);
  for (const NameValue& p : pairs) w.add(p.first, p.second);
  w.finish();
  EXPECT_EQ(a, b);
}

// A value given in two parts is encoded as the joined value: lengths (including a part that
// takes the value past 127 bytes, to the 4-byte length), records and their boundaries alike.
TEST(Encoder, ParamsWriterTwoPartValueMatchesJoined) {
  const std::string big(70000, 'p');
  const std::pair<std::string, std::string> parts[] = {
      {"/index.php", ""}, {"/index.php", "/a/b"},
      {"", ""},           {std::string(100, 's'), std::string(40, 'i')},
      {"/x", big},        {big, "/y"}};
  std::string joined, split;
  ParamsWriter a(joined, 3);
  ParamsWriter b(split, 3);
  for (const auto& [first, more] : parts) {
    a.add("DOCUMENT_URI", first + more);
    b.add("DOCUMENT_URI", first, more);
  }
  a.finish();
  b.finish();
  EXPECT_EQ(joined, split);
}

// Pairs are written into a window of the output opened ahead of them; a writer that ends, with
// or without finish(), leaves only the bytes it wrote, after what the output held before.
TEST(Encoder, ParamsWriterLeavesNoWindowBehind) {
  std::string out = "before";
  {
    ParamsWriter w(out, 1);
    w.add("A", "1");
    w.add("BB", std::string(300, 'v'));
  }
  EXPECT_EQ(out.size(), 6 + kHeaderLength + (2 + 1 + 1) + (1 + 4 + 2 + 300));
  EXPECT_EQ(out.substr(0, 6), "before");
  EXPECT_EQ(out.substr(6 + kHeaderLength, 4),
            "\x01\x01"
            "A1");
  std::string finished = "before";
  ParamsWriter w(finished, 1);
  w.add("A", "1");
  w.add("BB", std::string(300, 'v'));
  w.finish();
  EXPECT_EQ(finished.size() % 8, 6u);  // the record is padded to a multiple of 8
  EXPECT_EQ(finished.substr(0, out.size()).substr(6 + kHeaderLength),
            out.substr(6 + kHeaderLength));
}

TEST(Encoder, ParamsWriterNothingForNoPairs) {
  std::string out = "keep";
  ParamsWriter w(out, 1);
  w.finish();
  EXPECT_EQ(out, "keep");
}

TEST(Encoder, ParamsWriterAppendsAfterExistingBytes) {
  std::string out;
  begin_request(out, 5, Role::kResponder, true);
  ParamsWriter w(out, 5);
  w.add("SCRIPT_FILENAME", "/srv/index.php");
  w.add("REQUEST_METHOD", "GET");
  w.finish();
  end_params(out, 5);
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].header.type, RecordType::kParams);
  EXPECT_EQ(recs[1].header.request_id, 5);
  EXPECT_EQ(recs[1].content, "\x0f\x0eSCRIPT_FILENAME/srv/index.php\x0e\x03REQUEST_METHODGET"s);
  EXPECT_EQ(recs[2].header.content_length, 0);
  EXPECT_EQ(out.size() % 8, 0u);
}

// Many params fill several records; no pair that fits a record is cut (php-fpm parses each
// PARAMS record on its own).
TEST(Encoder, ParamsSpanRecordsWithoutCuttingPairs) {
  const std::string value(1000, 'v');
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back("HTTP_X_HEADER_" + std::to_string(i));
  std::string out;
  ParamsWriter w(out, 1);
  for (const std::string& n : names) w.add(n, value);
  w.finish();
  EXPECT_EQ(w.split_name(), "");
  const std::vector<Rec> recs = split_records(out);
  ASSERT_GE(recs.size(), 4u);
  size_t pairs = 0;
  for (const Rec& r : recs) {
    EXPECT_LE(r.content.size(), kMaxContentLength);
    EXPECT_EQ((r.content.size() + r.header.padding_length) % 8, 0u);
    // Walk the pairs of this record alone: they must end exactly at its end.
    size_t pos = 0;
    while (pos < r.content.size()) {
      const size_t name_len = static_cast<unsigned char>(r.content[pos]);
      ASSERT_EQ(static_cast<unsigned char>(r.content[pos + 1]), 0x80);  // 1000 -> 4 bytes
      pos += 1 + 4 + name_len + value.size();
      ++pairs;
    }
    EXPECT_EQ(pos, r.content.size());
  }
  EXPECT_EQ(pairs, names.size());
}

// Small pairs that fill a record to its last byte close it there; the next pair opens another.
TEST(Encoder, ParamsFillARecordExactly) {
  std::string out;
  ParamsWriter w(out, 1);
  for (size_t i = 0; i < kMaxContentLength / 8; ++i) w.add("AB", "CDEF");  // 8 bytes each
  w.add("A", "BCDE");                                                      // the last 7
  w.add("x", "y");
  w.finish();
  EXPECT_EQ(w.split_name(), "");
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].content.size(), kMaxContentLength);
  EXPECT_EQ(recs[0].content.substr(kMaxContentLength - 7),
            "\x01\x04"
            "ABCDE"s);
  EXPECT_EQ(recs[1].content,
            "\x01\x01"
            "xy"s);
}

TEST(Encoder, PairLargerThanARecordIsSplit) {
  const std::string value(150000, 'z');
  std::string out;
  ParamsWriter w(out, 1);
  w.add("a", "b");
  w.add("BIG", value);
  w.add("c", "d");
  w.finish();
  EXPECT_EQ(w.split_name(), "BIG");
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].content.size(), kMaxContentLength);
  EXPECT_EQ(recs[1].content.size(), kMaxContentLength);
  std::string all;
  for (const Rec& r : recs) all += r.content;
  EXPECT_EQ(all,
            "\x01\x01"
            "ab"
            "\x03\x80\x02\x49\xf0"
            "BIG"s +
                value +
                "\x01\x01"
                "cd");
}

// ---- Streams ------------------------------------------------------------------------------------

TEST(Encoder, StreamSplitsIntoAlignedRecords) {
  std::string data(200001, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  std::string out;
  stream(out, RecordType::kStdout, 4, data);
  end_stream(out, RecordType::kStdout, 4);
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 5u);  // 3 full, the rest, the empty end
  std::string joined;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(recs[i].content.size(), kMaxAlignedContentLength);
    EXPECT_EQ(recs[i].header.padding_length, 0);
  }
  EXPECT_EQ(recs[3].content.size(), 200001 - 3 * kMaxAlignedContentLength);
  EXPECT_EQ(recs[3].header.padding_length, padding_for(recs[3].content.size()));
  EXPECT_EQ(recs[4].content.size(), 0u);
  for (const Rec& r : recs) {
    EXPECT_EQ(r.header.type, RecordType::kStdout);
    EXPECT_EQ(r.header.request_id, 4);
    joined += r.content;
  }
  EXPECT_EQ(joined, data);
  EXPECT_EQ(out.size() % 8, 0u);
}

TEST(Encoder, EmptyStreamWritesNothing) {
  std::string out;
  stream(out, RecordType::kStdin, 1, "");
  EXPECT_TRUE(out.empty());
}

// ---- Management records -------------------------------------------------------------------------

TEST(Encoder, GetValues) {
  std::string out;
  const std::string_view names[] = {kMaxConns, kMpxsConns};
  ASSERT_TRUE(get_values(out, names));
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].header.type, RecordType::kGetValues);
  EXPECT_EQ(recs[0].header.request_id, kNullRequestId);
  EXPECT_EQ(recs[0].content,
            "\x0e\x00"
            "FCGI_MAX_CONNS"
            "\x0f\x00"
            "FCGI_MPXS_CONNS"s);
}

TEST(Encoder, GetValuesResult) {
  std::string out;
  const NameValue pairs[] = {{kMaxConns, "10"}, {kMaxReqs, "10"}, {kMpxsConns, "0"}};
  ASSERT_TRUE(get_values_result(out, pairs));
  const std::vector<Rec> recs = split_records(out);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].header.type, RecordType::kGetValuesResult);
  EXPECT_EQ(recs[0].content,
            "\x0e\x02"
            "FCGI_MAX_CONNS10"
            "\x0d\x02"
            "FCGI_MAX_REQS10"
            "\x0f\x01"
            "FCGI_MPXS_CONNS0"s);

  const std::string big(70000, 'x');
  const NameValue too_big[] = {{"X", big}};
  std::string untouched = "u";
  EXPECT_FALSE(get_values_result(untouched, too_big));
  EXPECT_EQ(untouched, "u");
}

}  // namespace
}  // namespace askr::fastcgi
