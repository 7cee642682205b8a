#include "shared/fastcgi/cgi_response.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace askr::fastcgi {
namespace {

using namespace std::string_literals;
using State = CgiResponseParser::State;
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Outcome {
  State state = State::kNeedMore;
  int status = 0;
  std::string reason;
  Fields headers;
  std::string body;  // every body byte handed back, joined
  std::string error;
};

// Feeds `input` in pieces of the given sizes (the last piece takes the rest).
Outcome parse(std::string_view input, const std::vector<size_t>& sizes,
              size_t max = CgiResponseParser::kDefaultMaxHeadSize) {
  CgiResponseParser p(max);
  Outcome out;
  size_t piece = 0;
  do {
    const size_t len = piece < sizes.size() ? std::min(sizes[piece], input.size()) : input.size();
    ++piece;
    std::string_view body;
    out.state = p.feed(input.substr(0, len), body);
    input.remove_prefix(len);
    out.body.append(body);
    if (out.state != State::kDone) {
      EXPECT_TRUE(body.empty());
    }
    if (out.state == State::kError) break;
  } while (!input.empty());
  EXPECT_EQ(out.state, p.state());
  if (out.state == State::kDone) {
    out.status = p.status();
    out.reason = std::string(p.reason());
    for (const CgiHeader& h : p.headers()) out.headers.emplace_back(h.name, h.value);
  }
  if (out.state == State::kError) out.error = p.error();
  return out;
}

Outcome parse(std::string_view input) {
  return parse(input, {});
}

// Every two-piece split and byte by byte give the same outcome as one piece.
void expect_split_invariant(std::string_view input) {
  const Outcome whole = parse(input);
  auto same = [&](const Outcome& o, const std::string& how) {
    EXPECT_EQ(o.state, whole.state) << how;
    EXPECT_EQ(o.status, whole.status) << how;
    EXPECT_EQ(o.reason, whole.reason) << how;
    EXPECT_EQ(o.headers, whole.headers) << how;
    EXPECT_EQ(o.body, whole.body) << how;
    EXPECT_EQ(o.error, whole.error) << how;
  };
  for (size_t cut = 0; cut <= input.size(); ++cut)
    same(parse(input, {cut}), "cut " + std::to_string(cut));
  same(parse(input, std::vector<size_t>(input.size(), 1)), "byte by byte");
}

TEST(CgiResponse, PhpStyleHead) {
  const std::string in =
      "Status: 404 Not Found\r\n"
      "X-Powered-By: PHP/8.2.7\r\n"
      "Content-type: text/html; charset=UTF-8\r\n"
      "\r\n"
      "<h1>Not here</h1>";
  const Outcome o = parse(in);
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 404);
  EXPECT_EQ(o.reason, "Not Found");
  EXPECT_EQ(o.headers,
            (Fields{{"X-Powered-By", "PHP/8.2.7"}, {"Content-type", "text/html; charset=UTF-8"}}));
  EXPECT_EQ(o.body, "<h1>Not here</h1>");
  expect_split_invariant(in);
}

TEST(CgiResponse, DefaultStatusIs200) {
  const Outcome o = parse("Content-Type: text/plain\r\n\r\nhi");
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.reason, "");
}

TEST(CgiResponse, LocationWithoutStatusIs302) {
  Outcome o = parse("Location: /login\r\n\r\n");
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 302);
  EXPECT_EQ(o.headers, (Fields{{"Location", "/login"}}));
  o = parse("location: https://example.com/\r\n\r\n");
  EXPECT_EQ(o.status, 302);
  // An explicit Status wins, before or after Location.
  EXPECT_EQ(parse("Status: 301 Moved Permanently\r\nLocation: /a\r\n\r\n").status, 301);
  EXPECT_EQ(parse("Location: /a\r\nStatus: 201\r\n\r\n").status, 201);
}

TEST(CgiResponse, RepeatedFieldsKeptInOrder) {
  const std::string in =
      "Set-Cookie: a=1; Path=/\r\n"
      "Content-Type: text/html\r\n"
      "Set-Cookie: b=2\r\n"
      "set-cookie: c=3; HttpOnly\r\n"
      "\r\n";
  const Outcome o = parse(in);
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.headers, (Fields{{"Set-Cookie", "a=1; Path=/"},
                               {"Content-Type", "text/html"},
                               {"Set-Cookie", "b=2"},
                               {"set-cookie", "c=3; HttpOnly"}}));
  expect_split_invariant(in);
}

TEST(CgiResponse, BareLfTerminator) {
  const std::string in = "Status: 500 Oops\nContent-Type: text/plain\n\nbody\r\n\r\nmore";
  const Outcome o = parse(in);
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 500);
  EXPECT_EQ(o.reason, "Oops");
  EXPECT_EQ(o.headers, (Fields{{"Content-Type", "text/plain"}}));
  EXPECT_EQ(o.body, "body\r\n\r\nmore");
  expect_split_invariant(in);
  // Mixed line ends.
  EXPECT_EQ(parse("A: 1\r\nB: 2\n\r\nx").body, "x");
  EXPECT_EQ(parse("A: 1\nB: 2\r\n\nx").body, "x");
}

TEST(CgiResponse, ValuesAreTrimmed) {
  const Outcome o = parse("X-A:  \t spaced \t \r\nX-B:\r\nX-C:tight\r\n\r\n");
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.headers, (Fields{{"X-A", "spaced"}, {"X-B", ""}, {"X-C", "tight"}}));
}

TEST(CgiResponse, StatusForms) {
  EXPECT_EQ(parse("Status: 200\r\n\r\n").status, 200);
  EXPECT_EQ(parse("status:418 I'm a teapot\r\n\r\n").status, 418);
  EXPECT_EQ(parse("STATUS: 503\tBusy\r\n\r\n").reason, "Busy");
  EXPECT_EQ(parse("Status: 599\r\n\r\n").status, 599);
  EXPECT_EQ(parse("Status: 100\r\n\r\n").status, 100);
  for (const char* bad : {"Status: \r\n\r\n", "Status: 20\r\n\r\n", "Status: 2000\r\n\r\n",
                          "Status: abc\r\n\r\n", "Status: 099\r\n\r\n", "Status: 600\r\n\r\n",
                          "Status: 200OK\r\n\r\n", "Status: -20\r\n\r\n"}) {
    EXPECT_EQ(parse(bad).state, State::kError) << bad;
  }
  const Outcome twice = parse("Status: 200\r\nStatus: 404\r\n\r\n");
  EXPECT_EQ(twice.state, State::kError);
  EXPECT_EQ(twice.error, "repeated CGI Status header");
}

TEST(CgiResponse, MalformedLines) {
  const std::pair<std::string, std::string> cases[] = {
      {": empty name\r\n\r\n", "bad CGI header name"},
      {"Bad Name: x\r\n\r\n", "bad CGI header name"},
      {"Name : x\r\n\r\n", "bad CGI header name"},
      {"Name\t: x\r\n\r\n", "bad CGI header name"},
      {"N\0: x\r\n\r\n"s, "bad CGI header name"},
      {"A: 1\r\n folded\r\n\r\n", "obsolete line folding in CGI header block"},
      {"A: nul\0here\r\n\r\n"s, "control character in CGI header value"},
      {"A: bare\rcr\r\n\r\n", "control character in CGI header value"},
      {"A: x\r\r\n\r\n", "control character in CGI header value"},
      {"A\r: x\r\n\r\n", "bad CGI header name"},
      {"Status: 404 Not\x01Found\r\n\r\n", "bad CGI Status header"},
  };
  for (const auto& [in, why] : cases) {
    const Outcome o = parse(in);
    EXPECT_EQ(o.state, State::kError) << testing::PrintToString(in);
    EXPECT_EQ(o.error, why) << testing::PrintToString(in);
    expect_split_invariant(in);
  }
  // HTAB and obs-text are fine in values.
  EXPECT_EQ(parse("A: tab\there \xc3\xa9\r\n\r\n").state, State::kDone);
}

// PHP's header('Invalid') writes a line without a colon: it is skipped and counted, the rest of
// the head and the body stay as sent.
TEST(CgiResponse, LineWithoutAColonIsSkipped) {
  CgiResponseParser p;
  std::string_view body;
  EXPECT_EQ(p.feed("Status: 404\r\nInvalid\r\nX-A: 1\r\nno colon here\r\n\r\nbody", body),
            State::kDone);
  EXPECT_EQ(body, "body");
  EXPECT_EQ(p.status(), 404);
  ASSERT_EQ(p.headers().size(), 1u);
  EXPECT_EQ(p.headers()[0].name, "X-A");
  EXPECT_EQ(p.skipped_lines(), 2u);
  p.reset();
  EXPECT_EQ(p.skipped_lines(), 0u);
  expect_split_invariant("Invalid\r\nContent-Type: text/html\r\n\r\nbody");
  // Folding is still refused, with or without a colon.
  EXPECT_EQ(parse("A: 1\r\n folded\r\n\r\n").state, State::kError);
}

// PHP's header() passes any byte but CR, LF and NUL: a field whose name is not a token, or whose
// value has another control character, is skipped and counted; the head goes on without it and
// the page is passed on, as nginx passes it on.
TEST(CgiResponse, FieldNoClientMaySeeIsSkipped) {
  const std::string head =
      "Status: 201\r\nN\x01: x\r\nX(Paren): y\r\nX-\xc3\xa9: utf8\r\nX-Esc: \x1b[31mred\r\n"
      "X-Del: a\x7f\r\nLocation: /\x02x\r\nX-A: 1\r\n\r\nbody";
  CgiResponseParser p;
  std::string_view body;
  EXPECT_EQ(p.feed(head, body), State::kDone);
  EXPECT_EQ(body, "body");
  EXPECT_EQ(p.status(), 201);  // a skipped Location is no redirect
  ASSERT_EQ(p.headers().size(), 1u);
  EXPECT_EQ(p.headers()[0].name, "X-A");
  EXPECT_EQ(p.skipped_fields(), 6u);
  EXPECT_EQ(p.skipped_lines(), 0u);
  p.reset();
  EXPECT_EQ(p.skipped_fields(), 0u);
  expect_split_invariant(head);
  const Outcome o = parse("Set-Cookie: a=\x01\r\nSet-Cookie: b=2\r\n\r\n");
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.headers, (Fields{{"Set-Cookie", "b=2"}}));
}

// Values are checked several bytes at a time: a control byte or DEL is found at any place in a
// value of any length, next to any other byte, while a tab and bytes from 0x80 up are kept.
TEST(CgiResponse, ControlByteAnywhereInALongValueIsFound) {
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (int b : {0x01, 0x08, 0x0a, 0x0d, 0x1f, 0x7f, 0x09, 0x20, 0x80, 0xff}) {
        std::string value(len, 'v');
        if (at > 0) value[at - 1] = char(0xfe);  // a high byte next to it: no borrow hides it
        value[at] = char(b);
        if (b == 0x0a || b == 0x0d) continue;  // those end the line (tested elsewhere)
        const bool bad = b < 0x20 ? b != 0x09 : b == 0x7f;
        // Trimming takes a tab or space at either end: keep them inside.
        const std::string head = "X-V: <" + value + ">\r\nX-A: 1\r\n\r\n";
        CgiResponseParser p;
        std::string_view body;
        ASSERT_EQ(p.feed(head, body), State::kDone) << len << " " << at << " " << b;
        EXPECT_EQ(p.skipped_fields(), bad ? 1u : 0u) << len << " " << at << " " << b;
        EXPECT_EQ(p.headers().size(), bad ? 1u : 2u) << len << " " << at << " " << b;
      }
    }
  }
}

TEST(CgiResponse, HeadSizeLimit) {
  const std::string line = "X-Fill: " + std::string(90, 'f') + "\r\n";  // 100 bytes
  std::string head;
  for (int i = 0; i < 10; ++i) head += line;
  head += "\r\n";  // 1002 bytes in all
  EXPECT_EQ(parse(head + "body", {}, 1002).state, State::kDone);
  const Outcome o = parse(head + "body", {}, 1001);
  EXPECT_EQ(o.state, State::kError);
  EXPECT_EQ(o.error, "CGI header block too large");
  // A line that never ends fails as soon as the limit is passed.
  CgiResponseParser p(1000);
  std::string_view body;
  const std::string chunk(600, 'a');
  EXPECT_EQ(p.feed(chunk, body), State::kNeedMore);
  EXPECT_EQ(p.feed(chunk, body), State::kError);
  // Default limit: 32 KiB.
  EXPECT_EQ(parse("X: " + std::string(40000, 'x') + "\r\n\r\n").state, State::kError);
  EXPECT_EQ(parse("X: " + std::string(30000, 'x') + "\r\n\r\n").state, State::kDone);
}

TEST(CgiResponse, AfterDoneEverythingIsBody) {
  CgiResponseParser p;
  std::string_view body;
  EXPECT_EQ(p.feed("A: 1\r\n\r", body), State::kNeedMore);
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(p.feed("\n", body), State::kDone);
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(p.feed("Status: 500\r\n\r\n", body), State::kDone);
  EXPECT_EQ(body, "Status: 500\r\n\r\n");
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.head_size(), 8u);
  ASSERT_NE(p.find("a"), nullptr);
  EXPECT_EQ(p.find("a")->value, "1");
  EXPECT_EQ(p.find("b"), nullptr);
}

TEST(CgiResponse, ErrorIsStickyUntilReset) {
  CgiResponseParser p;
  std::string_view body;
  EXPECT_EQ(p.feed("Bad Name: x\r\n", body), State::kError);
  EXPECT_EQ(p.feed("A: 1\r\n\r\n", body), State::kError);
  p.reset();
  EXPECT_EQ(p.feed("Status: 204\r\nA: 1\r\n\r\n", body), State::kDone);
  EXPECT_EQ(p.status(), 204);
  EXPECT_EQ(p.headers().size(), 1u);
  p.reset();
  EXPECT_EQ(p.feed("\r\n", body), State::kDone);  // an empty head: 200, no fields
  EXPECT_EQ(p.status(), 200);
  EXPECT_TRUE(p.headers().empty());
}

TEST(CgiResponse, BodyBytesComeFromThePiece) {
  CgiResponseParser p;
  const std::string piece = "Content-Type: text/plain\r\n\r\n0123456789";
  std::string_view body;
  ASSERT_EQ(p.feed(piece, body), State::kDone);
  EXPECT_EQ(body.data(), piece.data() + piece.size() - 10);
  EXPECT_EQ(body.size(), 10u);
}

}  // namespace
}  // namespace askr::fastcgi
