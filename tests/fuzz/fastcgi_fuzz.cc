// libFuzzer target for the FastCGI codec: the record decoder, the name-value pair parser and
// the CGI response header parser.
//
// The input is read three ways: as a FastCGI byte stream (its PARAMS and STDOUT streams are
// then parsed further), as bare name-value pair content, and as a CGI response head. Each
// reading is done once with the whole input in one piece and again in pieces whose sizes come
// from a generator seeded by a hash of the input (and byte by byte for short inputs). Beyond
// memory safety (ASan/UBSan), the target checks that every split gives the same records,
// content, pairs, status, fields, body and errors as the whole-buffer reading, that content
// pieces are views into the piece fed, and that pairs re-encoded with ParamsWriter decode to
// the same pairs.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/fastcgi/cgi_response.h"
#include "shared/fastcgi/decoder.h"
#include "shared/fastcgi/encoder.h"

namespace {

using askr::fastcgi::CgiHeader;
using askr::fastcgi::CgiResponseParser;
using askr::fastcgi::Decoder;
using askr::fastcgi::ParamsParser;
using askr::fastcgi::ParamsWriter;
using askr::fastcgi::RecordType;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

bool inside(std::string_view view, std::string_view buf) {
  if (view.empty()) return true;
  return view.data() >= buf.data() && view.data() + view.size() <= buf.data() + buf.size();
}

// Piece sizes: everything at once, one byte at a time, or pseudo-random sizes.
class Splitter {
 public:
  enum class Mode { kWhole, kBytes, kRandom };
  Splitter(Mode mode, uint64_t seed) : mode_(mode), state_(seed | 1) {}

  size_t next(size_t left) {
    switch (mode_) {
      case Mode::kWhole:
        return left;
      case Mode::kBytes:
        return left ? 1 : 0;
      case Mode::kRandom:
        break;
    }
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    const size_t n = (state_ >> 8) % 8 == 0 ? (state_ >> 16) % 4096 : (state_ >> 16) % 17;
    return std::min(left, n);  // zero-size pieces too
  }

 private:
  Mode mode_;
  uint64_t state_;
};

uint64_t hash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// ---- Records ------------------------------------------------------------------------------------

struct Record {
  uint8_t type = 0;
  uint16_t id = 0;
  std::string content;
  bool operator==(const Record&) const = default;
};

struct Stream {
  std::vector<std::string> pieces;  // content pieces as the decoder delivered them
  bool ended = false;               // an empty record came
};

struct Decoded {
  std::vector<Record> records;  // whole records
  Record partial;               // content so far of a record cut by the end of the input
  bool error = false;
  size_t consumed = 0;
  // PARAMS and STDOUT streams by request id, up to the first empty record of each.
  std::map<uint16_t, Stream> params, stdout_;
};

void collect(Stream& s, std::string_view piece) {
  if (s.ended) return;
  if (piece.empty()) {
    s.ended = true;
  } else {
    s.pieces.emplace_back(piece);
  }
}

Decoded decode(std::string_view input, Splitter split) {
  Decoder d;
  Decoded out;
  bool open = false;
  do {
    const size_t n = split.next(input.size());
    std::string_view piece = input.substr(0, n);
    input.remove_prefix(n);
    for (;;) {
      const Decoder::Step s = d.next(piece);
      FUZZ_CHECK(s.consumed <= piece.size());
      out.consumed += s.consumed;
      if (s.status == Decoder::Status::kError) {
        FUZZ_CHECK(d.error() != nullptr);
        out.error = true;
        return out;
      }
      if (s.status == Decoder::Status::kNeedMore) {
        FUZZ_CHECK(s.consumed == piece.size());
        break;
      }
      if (s.content.size() != askr::fastcgi::kFixedBodyLength) {
        FUZZ_CHECK(inside(s.content, piece.substr(0, s.consumed)));
      }
      FUZZ_CHECK(!s.content.empty() || s.end_of_record);
      if (open) {
        FUZZ_CHECK(static_cast<uint8_t>(s.type) == out.partial.type);
        FUZZ_CHECK(s.request_id == out.partial.id);
      } else {
        out.partial = Record{static_cast<uint8_t>(s.type), s.request_id, {}};
        open = true;
      }
      out.partial.content.append(s.content);
      if (s.type == RecordType::kParams) collect(out.params[s.request_id], s.content);
      if (s.type == RecordType::kStdout) collect(out.stdout_[s.request_id], s.content);
      if (s.end_of_record) {
        out.records.push_back(std::move(out.partial));
        out.partial = Record{};
        open = false;
      }
      piece.remove_prefix(s.consumed);
    }
  } while (!input.empty());
  return out;
}

// ---- Name-value pairs ---------------------------------------------------------------------------

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct ParsedParams {
  Pairs pairs;
  bool error = false;
  bool finished = false;
  bool operator==(const ParsedParams&) const = default;
};

ParsedParams parse_params(const std::vector<std::string_view>& pieces, size_t max) {
  ParamsParser p(max);
  ParsedParams out;
  for (std::string_view in : pieces) {
    for (;;) {
      const ParamsParser::Step s = p.next(in);
      FUZZ_CHECK(s.consumed <= in.size());
      if (s.status == ParamsParser::Status::kError) {
        out.error = true;
        FUZZ_CHECK(!p.finish());
        return out;
      }
      if (s.status == ParamsParser::Status::kNeedMore) {
        FUZZ_CHECK(s.consumed == in.size());
        break;
      }
      FUZZ_CHECK(s.consumed > 0);
      out.pairs.emplace_back(s.name, s.value);
      in.remove_prefix(s.consumed);
    }
  }
  FUZZ_CHECK(p.total_size() <= max);
  out.finished = p.finish();
  return out;
}

std::vector<std::string_view> cut(std::string_view data, Splitter split) {
  std::vector<std::string_view> pieces;
  do {
    const size_t n = split.next(data.size());
    pieces.push_back(data.substr(0, n));
    data.remove_prefix(n);
  } while (!data.empty());
  return pieces;
}

// Pairs written by ParamsWriter come back unchanged, records and all.
void check_reencode(const Pairs& pairs) {
  std::string wire;
  ParamsWriter w(wire, 1);
  for (const auto& [n, v] : pairs) w.add(n, v);
  w.finish();
  askr::fastcgi::end_params(wire, 1);
  const Decoded d = decode(wire, Splitter(Splitter::Mode::kWhole, 0));
  FUZZ_CHECK(!d.error && d.params.count(1) == 1);
  const Stream& s = d.params.at(1);
  FUZZ_CHECK(s.ended);
  std::vector<std::string_view> pieces(s.pieces.begin(), s.pieces.end());
  const ParsedParams back = parse_params(pieces, SIZE_MAX);
  FUZZ_CHECK(!back.error && back.finished && back.pairs == pairs);
}

// ---- CGI response head --------------------------------------------------------------------------

struct ParsedCgi {
  CgiResponseParser::State state = CgiResponseParser::State::kNeedMore;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;
  bool operator==(const ParsedCgi&) const = default;
};

ParsedCgi parse_cgi(const std::vector<std::string_view>& pieces, size_t max) {
  CgiResponseParser p(max);
  ParsedCgi out;
  for (std::string_view piece : pieces) {
    std::string_view body;
    out.state = p.feed(piece, body);
    FUZZ_CHECK(inside(body, piece));
    if (out.state != CgiResponseParser::State::kDone) FUZZ_CHECK(body.empty());
    out.body.append(body);
    if (out.state == CgiResponseParser::State::kError) break;
  }
  FUZZ_CHECK(p.head_size() <= max || out.state == CgiResponseParser::State::kError);
  if (out.state == CgiResponseParser::State::kDone) {
    out.status = p.status();
    FUZZ_CHECK(out.status >= 100 && out.status <= 599);
    for (const CgiHeader& h : p.headers()) {
      FUZZ_CHECK(!h.name.empty() && h.name.find_first_of(" \t\r\n:") == std::string::npos);
      FUZZ_CHECK(h.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
      out.headers.emplace_back(h.name, h.value);
    }
  }
  if (out.state == CgiResponseParser::State::kError) out.error = p.error();
  return out;
}

std::vector<std::string_view> views(const Stream& s) {
  return std::vector<std::string_view>(s.pieces.begin(), s.pieces.end());
}

std::string join(const Stream& s) {
  std::string all;
  for (const std::string& p : s.pieces) all += p;
  return all;
}

void check_streams(const Decoded& whole, const Decoded& split) {
  for (const auto& [id, s] : whole.params) {
    const std::string all = join(s);
    const ParsedParams a = parse_params({all}, ParamsParser::kDefaultMaxSize);
    const ParsedParams b = parse_params(views(split.params.at(id)), ParamsParser::kDefaultMaxSize);
    FUZZ_CHECK(a == b);
  }
  for (const auto& [id, s] : whole.stdout_) {
    const std::string all = join(s);
    const ParsedCgi a = parse_cgi({all}, CgiResponseParser::kDefaultMaxHeadSize);
    const ParsedCgi b =
        parse_cgi(views(split.stdout_.at(id)), CgiResponseParser::kDefaultMaxHeadSize);
    FUZZ_CHECK(a == b);
  }
}

void check_records(std::string_view input, uint64_t seed) {
  const Decoded whole = decode(input, Splitter(Splitter::Mode::kWhole, 0));
  if (!whole.error) FUZZ_CHECK(whole.consumed == input.size());
  std::vector<Splitter> splits = {Splitter(Splitter::Mode::kRandom, seed)};
  if (input.size() <= 4096) splits.emplace_back(Splitter::Mode::kBytes, 0);
  for (const Splitter& split : splits) {
    const Decoded d = decode(input, split);
    FUZZ_CHECK(d.error == whole.error);
    FUZZ_CHECK(d.consumed == whole.consumed);
    FUZZ_CHECK(d.records == whole.records);
    FUZZ_CHECK(d.partial == whole.partial);
    for (const auto& [id, s] : whole.params) FUZZ_CHECK(join(s) == join(d.params.at(id)));
    for (const auto& [id, s] : whole.stdout_) FUZZ_CHECK(join(s) == join(d.stdout_.at(id)));
    check_streams(whole, d);
  }
}

void check_raw(std::string_view input, uint64_t seed) {
  for (size_t max : {size_t{ParamsParser::kDefaultMaxSize}, size_t{64}}) {
    const ParsedParams whole = parse_params({input}, max);
    const ParsedParams split =
        parse_params(cut(input, Splitter(Splitter::Mode::kRandom, seed)), max);
    FUZZ_CHECK(whole == split);
    if (!whole.error) check_reencode(whole.pairs);
  }
  for (size_t max : {size_t{CgiResponseParser::kDefaultMaxHeadSize}, size_t{100}}) {
    const ParsedCgi whole = parse_cgi({input}, max);
    const ParsedCgi split = parse_cgi(cut(input, Splitter(Splitter::Mode::kRandom, ~seed)), max);
    FUZZ_CHECK(whole == split);
    if (input.size() <= 4096) {
      FUZZ_CHECK(whole == parse_cgi(cut(input, Splitter(Splitter::Mode::kBytes, 0)), max));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint64_t seed = hash(input);
  check_records(input, seed);
  check_raw(input, seed);
  return 0;
}
