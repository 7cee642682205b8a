#include "http/h1_parser.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>
#include "../../support/same_head.h"

namespace askr::http {
namespace {

ParseResult parse(std::string_view data, RequestHead& head, const ParseLimits& limits = {}) {
  return parse_request(data, limits, head);
}

bool inside(std::string_view view, std::string_view buf) {
  if (view.empty()) return true;
  return view.data() >= buf.data() && view.data() + view.size() <= buf.data() + buf.size();
}

// ---------------------------------------------------------------------------------------------
// Requests that must be refused, one row per rule.

struct ErrorCase {
  const char* name;
  std::string raw;
  int status;
};

using namespace std::string_literals;

const ErrorCase kErrorCases[] = {
    // Request line.
    {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"method not a token", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"method with obs-text", "G\xc3\xa9T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"double space after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"double space before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"tab as separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"missing version", "GET /\r\nHost: a\r\n\r\n", 400},
    {"missing target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"space inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CTL in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s, 400},
    {"origin-form without slash", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"asterisk outside OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"authority-form outside CONNECT", "GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT with origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT with bad port", "CONNECT example.com:4x3 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"absolute-form other scheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"absolute-form empty authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"absolute-form userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
    {"version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
    {"version two digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"version garbage", "GET / FOO/1.1\r\nHost: a\r\n\r\n", 400},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
    {"HTTP/3.1", "GET / HTTP/3.1\r\nHost: a\r\n\r\n", 505},
    {"leading spaces", "  GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"nine leading CRLF", ("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     400},
    // Line endings and forbidden octets.
    {"bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
    {"bare CR before request", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"bare CR in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
    {"bare CR as line end", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400},
    {"bare CR as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n", 400},
    {"NUL in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, 400},
    {"NUL in method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n"s, 400},
    // Header fields.
    {"empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : v\r\n\r\n", 400},
    {"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\t: v\r\n\r\n", 400},
    {"header without colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A v\r\n\r\n", 400},
    {"header name not a token", "GET / HTTP/1.1\r\nHost: a\r\nX(A): v\r\n\r\n", 400},
    {"obs-fold with space", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400},
    {"obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400},
    {"whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
    {"CTL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400},
    {"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400},
    {"vertical tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\vb\r\n\r\n", 400},
    // Content-Length.
    {"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400},
    {"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
    {"CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400},
    {"CL inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400},
    {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400},
    {"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400},
    {"CL above 2^63-1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n",
     400},
    {"CL uint64 overflow",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
    {"CL huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
     400},
    {"CL duplicate identical",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
    {"CL duplicate different case",
     "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nCONTENT-LENGTH: 6\r\n\r\n", 400},
    // Transfer-Encoding.
    {"TE with CL",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
    {"CL with TE",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"TE chunked then gzip",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
    {"TE gzip alone", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
    {"TE unknown alone", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n\r\n", 400},
    {"TE chunked twice",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
    {"TE chunked twice in two headers",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     400},
    {"TE chunked then gzip header",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
     400},
    {"TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400},
    {"TE only commas", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n", 400},
    {"TE chunked with parameter",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400},
    {"TE gzip then chunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
    {"TE deflate then chunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: deflate, chunked\r\n\r\n", 501},
    {"TE compress then chunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: compress,chunked\r\n\r\n", 501},
    {"TE unknown then chunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501},
    {"TE gzip header then chunked header",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
     501},
    // Host.
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
    {"absolute-form without Host", "GET http://a/ HTTP/1.1\r\n\r\n", 400},
    {"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
    {"two Host headers in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400},
    {"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400},
    {"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
    {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
    {"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"Host with a cut percent-escape", "GET / HTTP/1.1\r\nHost: a%2\r\n\r\n", 400},
    {"Host with a non-hex percent-escape", "GET / HTTP/1.1\r\nHost: a%zzb\r\n\r\n", 400},
    {"Host with a bare percent", "GET / HTTP/1.1\r\nHost: a%\r\n\r\n", 400},
    {"absolute-form cut percent-escape", "GET http://a%4/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"Host with comma", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 400},
    {"Host with obs-text", "GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", 400},
    {"absolute-form bad authority", "GET http://a^b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    // No host is named (RFC 9110 §4.2.1 refuses an empty host), as nginx refuses.
    {"Host only a port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400},
    {"Host only a dot", "GET / HTTP/1.1\r\nHost: .\r\n\r\n", 400},
    {"Host only a dot and a port", "GET / HTTP/1.1\r\nHost: .:80\r\n\r\n", 400},
    {"Host two dots", "GET / HTTP/1.1\r\nHost: ..\r\n\r\n", 400},
    {"Host empty label", "GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", 400},
    {"absolute-form only a port", "GET http://:80/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"absolute-form only a dot", "GET http://./ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT only a dot", "CONNECT .:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    // A port is digits, and a colon elsewhere is only within an IP literal's brackets
    // (RFC 3986 §3.2.2-3): RFC 9112 §3.2 answers an invalid Host 400, where nginx ignores
    // what follows the colon.
    {"Host with a port of letters", "GET / HTTP/1.1\r\nHost: h:abc\r\n\r\n", 400},
    {"Host with two colons", "GET / HTTP/1.1\r\nHost: a:b:80\r\n\r\n", 400},
    {"Host with a bare IPv6 address", "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400},
    {"Host with an open bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
    {"Host with a bracket inside", "GET / HTTP/1.1\r\nHost: a[b]\r\n\r\n", 400},
    {"absolute-form port of letters", "GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    // Expect.
    {"Expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417},
    {"Expect continue with extra",
     "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n", 417},
    {"Expect empty", "POST / HTTP/1.1\r\nHost: a\r\nExpect: \r\n\r\n", 417},
    // A 400 wins over the semantic 501 and 417 answers.
    {"syntax error after Expect", "POST / HTTP/1.1\r\nExpect: x\r\nHost: a\r\nBad : x\r\n\r\n",
     400},
};

class ErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorTest, Refused) {
  const ErrorCase& c = GetParam();
  RequestHead head;
  ParseResult r = parse(c.raw, head);
  EXPECT_EQ(r.state, ParseState::kError) << c.name;
  EXPECT_EQ(r.status, c.status) << c.name << ": " << r.reason;
  EXPECT_STRNE(r.reason, "") << c.name;
}

std::string case_name(const char* name) {
  std::string s;
  for (const char* p = name; *p != '\0'; ++p)
    s += std::isalnum(static_cast<uint8_t>(*p)) ? *p : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(H1Parser, ErrorTest, testing::ValuesIn(kErrorCases),
                         [](const auto& tp) { return case_name(tp.param.name); });

// ---------------------------------------------------------------------------------------------
// Requests that must be accepted, with what the parser makes of them.

struct OkCase {
  const char* name;
  std::string raw;
  const char* method;
  const char* target;
  const char* path;
  const char* query;
  const char* host;
  int minor;
  BodyFraming framing;
  uint64_t content_length;
  bool keep_alive;
  bool expect_continue;
  size_t header_count;
};

constexpr auto kNone = BodyFraming::kNone;
constexpr auto kCl = BodyFraming::kContentLength;
constexpr auto kChunked = BodyFraming::kChunked;

const OkCase kOkCases[] = {
    {"simple GET", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", "/", "/", "",
     "example.com", 1, kNone, 0, true, false, 1},
    {"path and query", "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/a/b?x=1&y=2",
     "/a/b", "x=1&y=2", "h", 1, kNone, 0, true, false, 1},
    {"empty query", "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/a?", "/a", "", "h", 1, kNone, 0,
     true, false, 1},
    {"second question mark stays in query", "GET /a?b?c HTTP/1.1\r\nHost: h\r\n\r\n", "GET",
     "/a?b?c", "/a", "b?c", "h", 1, kNone, 0, true, false, 1},
    {"fragment cut from the path", "GET /a.txt#x HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/a.txt#x",
     "/a.txt", "", "h", 1, kNone, 0, true, false, 1},
    {"fragment cut from the query", "GET /a?q=1#f?g HTTP/1.1\r\nHost: h\r\n\r\n", "GET",
     "/a?q=1#f?g", "/a", "q=1", "h", 1, kNone, 0, true, false, 1},
    {"question mark in a fragment is no query", "GET /a#f?g HTTP/1.1\r\nHost: h\r\n\r\n", "GET",
     "/a#f?g", "/a", "", "h", 1, kNone, 0, true, false, 1},
    {"absolute-form fragment", "GET http://a/p#f HTTP/1.1\r\nHost: b\r\n\r\n", "GET",
     "http://a/p#f", "/p", "", "a", 1, kNone, 0, true, false, 1},
    {"absolute-form fragment without path", "GET http://a#f HTTP/1.1\r\nHost: b\r\n\r\n", "GET",
     "http://a#f", "/", "", "a", 1, kNone, 0, true, false, 1},
    {"obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/caf\xc3\xa9",
     "/caf\xc3\xa9", "", "h", 1, kNone, 0, true, false, 1},
    {"bare LF line ends", "GET / HTTP/1.1\nHost: h\n\n", "GET", "/", "/", "", "h", 1, kNone, 0,
     true, false, 1},
    {"mixed line ends", "GET / HTTP/1.1\r\nHost: h\n\r\n", "GET", "/", "/", "", "h", 1, kNone, 0,
     true, false, 1},
    {"leading CRLF", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/", "/", "", "h", 1,
     kNone, 0, true, false, 1},
    {"eight leading empty lines", "\r\n\n\r\n\n\r\n\n\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
     "GET", "/", "/", "", "h", 1, kNone, 0, true, false, 1},
    {"custom method", "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n", "PURGE", "/x", "/x", "", "h", 1,
     kNone, 0, true, false, 1},
    {"method case kept", "get / HTTP/1.1\r\nHost: h\r\n\r\n", "get", "/", "/", "", "h", 1, kNone, 0,
     true, false, 1},
    {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", "GET", "/", "/", "", "", 0, kNone, 0, false,
     false, 0},
    {"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET", "/", "/", "",
     "", 0, kNone, 0, true, false, 1},
    {"HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
     "GET", "/", "/", "", "", 0, kNone, 0, false, false, 1},
    {"HTTP/1.1 close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n", "GET", "/", "/",
     "", "h", 1, kNone, 0, false, false, 2},
    {"HTTP/1.1 close in list", "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade ,close\r\n\r\n",
     "GET", "/", "/", "", "h", 1, kNone, 0, false, false, 2},
    {"HTTP/1.1 close in second header",
     "GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\nConnection: close\r\n\r\n", "GET", "/", "/",
     "", "h", 1, kNone, 0, false, false, 3},
    {"HTTP/1.1 other connection option", "GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
     "GET", "/", "/", "", "h", 1, kNone, 0, true, false, 2},
    {"HTTP/1.2 read as 1.1", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", "GET", "/", "/", "", "h", 1,
     kNone, 0, true, false, 1},
    {"HTTP/1.9 read as 1.1", "GET / HTTP/1.9\r\nHost: h\r\n\r\n", "GET", "/", "/", "", "h", 1,
     kNone, 0, true, false, 1},
    {"POST with Content-Length", "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n",
     "POST", "/f", "/f", "", "h", 1, kCl, 12, true, false, 2},
    {"Content-Length zero", "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", "POST",
     "/f", "/f", "", "h", 1, kCl, 0, true, false, 2},
    {"Content-Length leading zeros", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n",
     "POST", "/", "/", "", "h", 1, kCl, 7, true, false, 2},
    {"Content-Length 2^63-1",
     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", "POST", "/", "/",
     "", "h", 1, kCl, 9223372036854775807ULL, true, false, 2},
    {"Content-Length with OWS", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\t 5 \t\r\n\r\n",
     "POST", "/", "/", "", "h", 1, kCl, 5, true, false, 2},
    {"HTTP/1.0 Content-Length", "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", "POST", "/", "/",
     "", "", 0, kCl, 3, false, false, 1},
    {"chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", "/",
     "/", "", "h", 1, kChunked, 0, true, false, 2},
    {"chunked case-insensitive", "POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: ChUnKeD\r\n\r\n",
     "POST", "/", "/", "", "h", 1, kChunked, 0, true, false, 2},
    {"chunked with empty list elements",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked ,\r\n\r\n", "POST", "/", "/", "",
     "h", 1, kChunked, 0, true, false, 2},
    {"Expect 100-continue",
     "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n", "PUT", "/",
     "/", "", "h", 1, kCl, 1, true, true, 3},
    {"Expect 100-continue ignored in 1.0",
     "PUT / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", "PUT", "/", "/", "", "",
     0, kCl, 1, false, false, 2},
    {"absolute-form", "GET http://Example.com:8080/p/q?x HTTP/1.1\r\nHost: other\r\n\r\n", "GET",
     "http://Example.com:8080/p/q?x", "/p/q", "x", "Example.com:8080", 1, kNone, 0, true, false, 1},
    {"absolute-form https upper scheme", "GET HTTPS://a/ HTTP/1.1\r\nHost: b\r\n\r\n", "GET",
     "HTTPS://a/", "/", "", "a", 1, kNone, 0, true, false, 1},
    {"absolute-form without path", "GET http://a HTTP/1.1\r\nHost: b\r\n\r\n", "GET", "http://a",
     "/", "", "a", 1, kNone, 0, true, false, 1},
    {"absolute-form query without path", "GET http://a?q=1 HTTP/1.1\r\nHost: b\r\n\r\n", "GET",
     "http://a?q=1", "/", "q=1", "a", 1, kNone, 0, true, false, 1},
    {"absolute-form IPv6", "GET http://[::1]:80/ HTTP/1.1\r\nHost: b\r\n\r\n", "GET",
     "http://[::1]:80/", "/", "", "[::1]:80", 1, kNone, 0, true, false, 1},
    {"absolute-form in HTTP/1.0", "GET http://a/x HTTP/1.0\r\n\r\n", "GET", "http://a/x", "/x", "",
     "a", 0, kNone, 0, false, false, 0},
    {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS", "*", "*", "", "h", 1,
     kNone, 0, true, false, 1},
    {"authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
     "CONNECT", "example.com:443", "", "", "example.com:443", 1, kNone, 0, true, false, 1},
    {"Host with a final dot", "GET / HTTP/1.1\r\nHost: a.:80\r\n\r\n", "GET", "/", "/", "", "a.:80",
     1, kNone, 0, true, false, 1},
    // RFC 3986 §3.2.2: a reg-name may hold pct-encoded octets; kept as sent, as nginx keeps them.
    {"Host with percent-escapes", "GET / HTTP/1.1\r\nHost: A%20b%2e:80\r\n\r\n", "GET", "/", "/",
     "", "A%20b%2e:80", 1, kNone, 0, true, false, 1},
    {"Host with a first dot", "GET / HTTP/1.1\r\nHost: .a\r\n\r\n", "GET", "/", "/", "", ".a", 1,
     kNone, 0, true, false, 1},
    {"Host with port and IPv6", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n", "GET", "/",
     "/", "", "[2001:db8::1]:8443", 1, kNone, 0, true, false, 1},
    {"Host with an empty port", "GET / HTTP/1.1\r\nHost: h:\r\n\r\n", "GET", "/", "/", "", "h:", 1,
     kNone, 0, true, false, 1},
    {"Host IPv6 without port", "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", "GET", "/", "/", "",
     "[::1]", 1, kNone, 0, true, false, 1},
    {"Host unreserved chars", "GET / HTTP/1.1\r\nHost: a-b.c_d~e\r\n\r\n", "GET", "/", "/", "",
     "a-b.c_d~e", 1, kNone, 0, true, false, 1},
    {"value with obs-text and inner spaces",
     "GET / HTTP/1.1\r\nHost: h\r\nX-Name: \xe4\xbd\xa0 a \t b\t \r\n\r\n", "GET", "/", "/", "",
     "h", 1, kNone, 0, true, false, 2},
    {"empty header value", "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n", "GET", "/", "/", "",
     "h", 1, kNone, 0, true, false, 2},
    {"header name punctuation", "GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^_`|~09aZ: v\r\n\r\n",
     "GET", "/", "/", "", "h", 1, kNone, 0, true, false, 2},
    {"HEAD", "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD", "/x", "/x", "", "h", 1, kNone, 0, true,
     false, 1},
};

class OkTest : public testing::TestWithParam<OkCase> {};

TEST_P(OkTest, Parsed) {
  const OkCase& c = GetParam();
  RequestHead head;
  ParseResult r = parse(c.raw, head);
  ASSERT_EQ(r.state, ParseState::kDone) << c.name << ": " << r.status << " " << r.reason;
  EXPECT_EQ(r.head_length, c.raw.size());
  EXPECT_EQ(head.method, c.method);
  EXPECT_EQ(head.target, c.target);
  EXPECT_EQ(head.path, c.path);
  EXPECT_EQ(head.query, c.query);
  EXPECT_EQ(head.host, c.host);
  EXPECT_EQ(head.version_minor, c.minor);
  EXPECT_EQ(head.framing, c.framing);
  EXPECT_EQ(head.content_length, c.content_length);
  EXPECT_EQ(head.keep_alive, c.keep_alive);
  EXPECT_EQ(head.expect_continue, c.expect_continue);
  EXPECT_EQ(head.is_head, std::string_view(c.method) == "HEAD");
  EXPECT_EQ(head.headers.size(), c.header_count);
  for (std::string_view v : {head.method, head.target, head.path, head.query, head.host}) {
    EXPECT_TRUE(inside(v, c.raw)) << v;
  }
  for (const Header& h : head.headers) {
    EXPECT_TRUE(inside(h.name, c.raw) && inside(h.value, c.raw));
    if (!h.value.empty()) {
      EXPECT_FALSE(chars::is_ws(h.value.front()) || chars::is_ws(h.value.back()));
    }
  }
}

// Every strict prefix of an accepted head needs more bytes; the whole head is then accepted.
TEST_P(OkTest, EveryPrefixNeedsMore) {
  const OkCase& c = GetParam();
  RequestHead head;
  for (size_t n = 0; n < c.raw.size(); ++n) {
    ParseResult r = parse(std::string_view(c.raw).substr(0, n), head);
    ASSERT_EQ(r.state, ParseState::kNeedMore) << c.name << " prefix " << n << ": " << r.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(H1Parser, OkTest, testing::ValuesIn(kOkCases),
                         [](const auto& tp) { return case_name(tp.param.name); });

// ---------------------------------------------------------------------------------------------
// Limits, also enforced before the head is complete.

struct LimitCase {
  const char* name;
  std::string raw;
  ParseLimits limits;
  ParseState state;
  int status;
};

std::string headers(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
  return s;
}

const LimitCase kLimitCases[] = {
    {"request line at limit",
     "GET /" + std::string(6, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
     {.max_request_line = 20},
     ParseState::kDone,
     0},
    {"request line over limit",
     "GET /" + std::string(7, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
     {.max_request_line = 20},
     ParseState::kError,
     414},
    {"partial request line over limit",
     "GET /" + std::string(16, 'a'),
     {.max_request_line = 20},
     ParseState::kError,
     414},
    {"partial request line at limit",
     "GET /" + std::string(15, 'a'),
     {.max_request_line = 20},
     ParseState::kNeedMore,
     0},
    {"partial request line at limit with CR",
     "GET /" + std::string(6, 'a') + " HTTP/1.1\r",
     {.max_request_line = 20},
     ParseState::kNeedMore,
     0},
    {"headers at count limit",
     "GET / HTTP/1.1\r\nHost: h\r\n" + headers(3) + "\r\n",
     {.max_headers = 4},
     ParseState::kDone,
     0},
    {"headers over count limit",
     "GET / HTTP/1.1\r\nHost: h\r\n" + headers(4) + "\r\n",
     {.max_headers = 4},
     ParseState::kError,
     431},
    {"partial headers over count limit",
     "GET / HTTP/1.1\r\nHost: h\r\n" + headers(4),
     {.max_headers = 4},
     ParseState::kError,
     431},
    {"head at size limit",
     "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(8, 'v') + "\r\n\r\n",
     {.max_header_size = 40},
     ParseState::kDone,
     0},
    {"head over size limit",
     "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9, 'v') + "\r\n\r\n",
     {.max_header_size = 40},
     ParseState::kError,
     431},
    {"partial head over size limit",
     "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(20, 'v'),
     {.max_header_size = 40},
     ParseState::kError,
     431},
    {"partial head at size limit",
     "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(8, 'v') + "\r\n\r",
     {.max_header_size = 40},
     ParseState::kNeedMore,
     0},
    {"body bytes do not count",
     "GET / HTTP/1.1\r\nHost: h\r\n\r\n" + std::string(100, 'b'),
     {.max_header_size = 40},
     ParseState::kDone,
     0},
};

class LimitTest : public testing::TestWithParam<LimitCase> {};

TEST_P(LimitTest, Enforced) {
  const LimitCase& c = GetParam();
  RequestHead head;
  ParseResult r = parse(c.raw, head, c.limits);
  EXPECT_EQ(r.state, c.state) << c.name << ": " << r.reason;
  EXPECT_EQ(r.status, c.status) << c.name;
}

INSTANTIATE_TEST_SUITE_P(H1Parser, LimitTest, testing::ValuesIn(kLimitCases),
                         [](const auto& tp) { return case_name(tp.param.name); });

// ---------------------------------------------------------------------------------------------
// Partial input.

struct NeedMoreCase {
  const char* name;
  std::string raw;
};

const NeedMoreCase kNeedMoreCases[] = {
    {"empty", ""},
    {"only CR", "\r"},
    {"leading CRLF only", "\r\n\r\n"},
    {"method only", "GET"},
    {"request line without LF", "GET / HTTP/1.1\r"},
    {"request line only", "GET / HTTP/1.1\r\n"},
    {"header without LF", "GET / HTTP/1.1\r\nHost: h"},
    {"no final empty line", "GET / HTTP/1.1\r\nHost: h\r\n"},
    {"final CR only", "GET / HTTP/1.1\r\nHost: h\r\n\r"},
    // Semantic checks wait for the whole head.
    {"missing Host so far", "GET / HTTP/1.1\r\nX: y\r\n"},
};

class NeedMoreTest : public testing::TestWithParam<NeedMoreCase> {};

TEST_P(NeedMoreTest, Waits) {
  RequestHead head;
  ParseResult r = parse(GetParam().raw, head);
  EXPECT_EQ(r.state, ParseState::kNeedMore) << r.reason;
}

INSTANTIATE_TEST_SUITE_P(H1Parser, NeedMoreTest, testing::ValuesIn(kNeedMoreCases),
                         [](const auto& tp) { return case_name(tp.param.name); });

// Syntax errors are reported as soon as their line is complete, before the head ends.
TEST(H1Parser, EarlyErrorBeforeHeadEnds) {
  RequestHead head;
  EXPECT_EQ(parse("GET / HTTP/2.0\r\n", head).status, 505);
  EXPECT_EQ(parse("GET  / HTTP/1.1\r\n", head).status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nBad Name: x\r\n", head).status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n", head).status, 400);
}

// A control octet in a request line is refused before its LF, which binary input (a TLS
// ClientHello sent to a plaintext port) may not bring for a long time; a CR waits for what
// follows it. In one piece or in several, as for every other error.
TEST(H1Parser, ControlOctetRefusedBeforeTheRequestLineEnds) {
  RequestHead head;
  EXPECT_EQ(parse("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s, head).status, 400);
  EXPECT_EQ(parse("GET /a\tb"s, head).status, 400);
  EXPECT_EQ(parse("GET /\x7f"s, head).status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\rX"s, head).status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r"s, head).state, ParseState::kNeedMore);
  ParseProgress progress;
  ParseLimits limits;
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r"s, limits, head, progress).state,
            ParseState::kNeedMore);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\x01"s, limits, head, progress).status, 400);
  progress = {};
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r"s, limits, head, progress).state,
            ParseState::kNeedMore);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n"s, limits, head, progress).state,
            ParseState::kDone);
}

// ---------------------------------------------------------------------------------------------
// Other behaviour.

TEST(H1Parser, PipelinedRequests) {
  std::string raw =
      "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string_view rest = raw;
  RequestHead head;
  ParseResult r = parse(rest, head);
  ASSERT_EQ(r.state, ParseState::kDone);
  EXPECT_EQ(head.path, "/one");
  rest.remove_prefix(r.head_length);
  r = parse(rest, head);
  ASSERT_EQ(r.state, ParseState::kDone);
  EXPECT_EQ(head.path, "/two");
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  rest.remove_prefix(r.head_length);
  EXPECT_EQ(rest.substr(0, head.content_length), "abc");
  rest.remove_prefix(head.content_length);
  r = parse(rest, head);
  ASSERT_EQ(r.state, ParseState::kDone);
  EXPECT_EQ(head.path, "/three");
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(r.head_length, rest.size());
}

TEST(H1Parser, HeadersKeptInOrderWithTrimmedValues) {
  std::string raw =
      "GET / HTTP/1.1\r\nHost:h\r\nX-A:  one  \r\nx-b:\ttwo words\t\r\nX-A: 3\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(raw, head).state, ParseState::kDone);
  ASSERT_EQ(head.headers.size(), 4u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[0].value, "h");
  EXPECT_EQ(head.headers[1].value, "one");
  EXPECT_EQ(head.headers[2].name, "x-b");
  EXPECT_EQ(head.headers[2].value, "two words");
  EXPECT_EQ(head.find("x-a"), "one");
  EXPECT_EQ(head.find("X-B"), "two words");
  EXPECT_EQ(head.find("HOST"), "h");
  EXPECT_EQ(head.find("missing"), "");
}

TEST(H1Parser, ReparseResetsHeadAndKeepsCapacity) {
  RequestHead head;
  std::string first =
      "POST http://a/x?y HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
      "Connection: close\r\nA: 1\r\nB: 2\r\n\r\n";
  ASSERT_EQ(parse(first, head).state, ParseState::kDone);
  size_t capacity = head.headers.capacity();
  std::string second = "HEAD / HTTP/1.1\r\nHost: c\r\n\r\n";
  ASSERT_EQ(parse(second, head).state, ParseState::kDone);
  EXPECT_EQ(head.headers.size(), 1u);
  EXPECT_EQ(head.headers.capacity(), capacity);
  EXPECT_EQ(head.host, "c");
  EXPECT_EQ(head.query, "");
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.content_length, 0u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_TRUE(head.is_head);
}

TEST(H1Parser, LeadingEmptyLinesCountInHeadLength) {
  std::string raw = "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\nNEXT";
  RequestHead head;
  ParseResult r = parse(raw, head);
  ASSERT_EQ(r.state, ParseState::kDone);
  EXPECT_EQ(r.head_length, raw.size() - 4);
}

TEST(H1Parser, AbsoluteFormPathStaysInsideBuffer) {
  std::string raw = "GET http://a HTTP/1.1\r\nHost: b\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(raw, head).state, ParseState::kDone);
  EXPECT_EQ(head.path, "/");
  EXPECT_TRUE(inside(head.path, raw));
}

// ---------------------------------------------------------------------------------------------
// Indexed fields.

TEST(H1Parser, IndexedFieldsMatchFind) {
  std::string raw =
      "GET / HTTP/1.1\r\nHost: h\r\nCONTENT-TYPE: text/plain\r\nReferer: http://r/\r\n"
      "user-agent: ua/1\r\nCookie: a=1\r\nIf-Match: \"e1\"\r\nIf-None-Match: \"e2\"\r\n"
      "If-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\nIf-Range: \"e3\"\r\n"
      "Range: bytes=0-1\r\nAccept-Encoding: gzip, br\r\nAuthorization: Basic x\r\n"
      "If-Unmodified-Since: Mon, 01 Jan 2029 00:00:00 GMT\r\n"
      "Cookie: b=2\r\nrange: bytes=5-\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(raw, head).state, ParseState::kDone);
  EXPECT_EQ(head.get(Field::kContentType), "text/plain");
  EXPECT_EQ(head.get(Field::kReferer), "http://r/");
  EXPECT_EQ(head.get(Field::kUserAgent), "ua/1");
  EXPECT_EQ(head.get(Field::kCookie), "a=1");  // first occurrence wins
  EXPECT_EQ(head.get(Field::kIfMatch), "\"e1\"");
  EXPECT_EQ(head.get(Field::kIfNoneMatch), "\"e2\"");
  EXPECT_EQ(head.get(Field::kIfModifiedSince), "Tue, 01 Jan 2030 00:00:00 GMT");
  EXPECT_EQ(head.get(Field::kIfRange), "\"e3\"");
  EXPECT_EQ(head.get(Field::kRange), "bytes=0-1");
  EXPECT_EQ(head.get(Field::kAcceptEncoding), "gzip, br");
  EXPECT_EQ(head.get(Field::kAuthorization), "Basic x");
  EXPECT_EQ(head.get(Field::kIfUnmodifiedSince), "Mon, 01 Jan 2029 00:00:00 GMT");
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto f = static_cast<Field>(i);
    EXPECT_EQ(head.get(f), head.find(field_name(f))) << field_name(f);
    EXPECT_EQ(head.get(f).data(), head.find(field_name(f)).data()) << field_name(f);
  }
}

TEST(H1Parser, IndexedFieldFirstOccurrenceEvenWhenEmpty) {
  std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nRange:\r\nRANGE: bytes=1-2\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(raw, head).state, ParseState::kDone);
  EXPECT_EQ(head.get(Field::kRange), "");
  EXPECT_EQ(head.find("range"), "");
}

TEST(H1Parser, IndexedFieldsResetByEachParse) {
  RequestHead head;
  std::string first = "GET / HTTP/1.1\r\nHost: h\r\nCookie: c\r\nUser-Agent: u\r\n\r\n";
  ASSERT_EQ(parse(first, head).state, ParseState::kDone);
  EXPECT_EQ(head.get(Field::kCookie), "c");
  std::string second = "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: v\r\n\r\n";
  ASSERT_EQ(parse(second, head).state, ParseState::kDone);
  EXPECT_EQ(head.get(Field::kCookie), "");
  EXPECT_EQ(head.get(Field::kUserAgent), "v");
  for (size_t i = 0; i < kFieldCount; ++i) {
    EXPECT_TRUE(inside(head.fields[i], second));
  }
}

TEST(H1Parser, UnindexedLookalikesAreNotIndexed) {
  std::string raw =
      "GET / HTTP/1.1\r\nHost: h\r\nRangeX: a\r\nCookies: b\r\nX-Referer: c\r\nIf-Matcx: d\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(raw, head).state, ParseState::kDone);
  for (size_t i = 0; i < kFieldCount; ++i) EXPECT_EQ(head.fields[i], "") << i;
}

// ---------------------------------------------------------------------------------------------
// Resumable parsing.

using askr::test_support::same_head;

bool same_result(const ParseResult& a, const ParseResult& b) {
  return a.state == b.state && a.status == b.status && a.head_length == b.head_length;
}

// Feeds `raw` one byte more per call, each time from a different copy of the buffer (so views
// kept from an earlier call would dangle), and checks that every call answers what the one-shot
// parse of the same bytes answers. Returns the last result; `copy` keeps the last buffer.
ParseResult trickle(const std::string& raw, const ParseLimits& limits, RequestHead& head,
                    ParseProgress& progress, std::string (&copies)[2], size_t* calls = nullptr) {
  ParseResult r{ParseState::kNeedMore};
  RequestHead one_shot_head;
  for (size_t n = 0; n <= raw.size(); ++n) {
    std::string& copy = copies[n % 2];
    copy.assign(raw, 0, n);
    r = parse_request(copy, limits, head, progress);
    if (calls != nullptr) ++*calls;
    ParseResult want = parse_request(copy, limits, one_shot_head);
    EXPECT_TRUE(same_result(r, want)) << "prefix " << n << ": " << r.status << " " << r.reason
                                      << " vs " << want.status << " " << want.reason;
    if (r.state != ParseState::kNeedMore) {
      if (r.state == ParseState::kDone) {
        EXPECT_TRUE(same_head(head, one_shot_head));
      }
      return r;
    }
  }
  return r;
}

std::string big_head(size_t target_size) {
  std::string raw = "GET /" + std::string(2000, 'p') + "?q=1 HTTP/1.1\r\nHost: example.com\r\n";
  for (int i = 0; raw.size() + 64 < target_size; ++i) {
    raw += "X-Field-" + std::to_string(i) + ": ";
    raw += std::string(40, static_cast<char>('a' + i % 26)) + "\r\n";
  }
  raw += "Cookie: " + std::string(target_size - raw.size() - 12, 'c') + "\r\n\r\n";
  return raw;
}

// The quadratic case: a 32 KiB head arriving one byte per read. The resumable parser reads each
// byte a small constant number of times in total.
TEST(H1ParserResumable, ByteByByteIsLinear) {
  const ParseLimits limits{.max_request_line = 8192, .max_header_size = 65536, .max_headers = 1000};
  std::string raw = big_head(32768);
  ASSERT_EQ(raw.size(), 32768u);
  RequestHead head;
  ParseProgress progress;
  std::string copies[2];
  size_t calls = 0;
  ParseResult r = trickle(raw, limits, head, progress, copies, &calls);
  ASSERT_EQ(r.state, ParseState::kDone) << r.reason;
  EXPECT_EQ(r.head_length, raw.size());
  EXPECT_EQ(calls, raw.size() + 1);
  EXPECT_GT(head.headers.size(), 400u);
  EXPECT_EQ(head.get(Field::kCookie).size(), raw.size() - raw.find("Cookie: ") - 12);
  EXPECT_LE(progress.examined, 4 * raw.size());
  std::printf("examined %llu bytes for a %zu-byte head in %zu calls (%.2f per byte)\n",
              static_cast<unsigned long long>(progress.examined), raw.size(), calls,
              static_cast<double>(progress.examined) / static_cast<double>(raw.size()));

  // Parsing everything again on each read (a fresh progress per call) is far over that bound,
  // even when sampling one read in 64.
  uint64_t reparse = 0;
  for (size_t n = 0; n <= raw.size(); n += 64) {
    ParseProgress fresh;
    parse_request(std::string_view(raw).substr(0, n), limits, head, fresh);
    reparse += fresh.examined;
  }
  EXPECT_GT(reparse, 4 * raw.size() * 16);
}

// A head that arrives in one piece is read about once.
TEST(H1ParserResumable, WholeHeadReadOnce) {
  std::string raw = big_head(32768);
  const ParseLimits limits{.max_request_line = 8192, .max_header_size = 65536, .max_headers = 1000};
  RequestHead head;
  ParseProgress progress;
  ASSERT_EQ(parse_request(raw, limits, head, progress).state, ParseState::kDone);
  EXPECT_LE(progress.examined, raw.size() + 2100);  // + the request line, parsed after its LF
}

// Two pieces, split at every point, give the same head as one piece.
TEST_P(OkTest, ResumableAtEverySplit) {
  const OkCase& c = GetParam();
  RequestHead want;
  ParseResult want_r = parse(c.raw, want);
  for (size_t n = 0; n <= c.raw.size(); ++n) {
    std::string first = c.raw.substr(0, n);
    RequestHead head;
    ParseProgress progress;
    ParseResult r = parse_request(first, {}, head, progress);
    if (n < c.raw.size()) {
      ASSERT_EQ(r.state, ParseState::kNeedMore) << c.name << " split " << n;
      first.clear();
      first.shrink_to_fit();
      std::string whole = c.raw;  // another buffer
      r = parse_request(whole, {}, head, progress);
      ASSERT_TRUE(same_result(r, want_r)) << c.name << " split " << n;
      EXPECT_TRUE(same_head(head, want)) << c.name << " split " << n;
      for (const Header& h : head.headers) EXPECT_TRUE(inside(h.name, whole));
      EXPECT_TRUE(inside(head.target, whole));
    } else {
      ASSERT_TRUE(same_result(r, want_r)) << c.name;
      EXPECT_TRUE(same_head(head, want)) << c.name;
    }
  }
}

TEST_P(OkTest, ResumableByteByByte) {
  const OkCase& c = GetParam();
  RequestHead head;
  ParseProgress progress;
  std::string copies[2];
  EXPECT_EQ(trickle(c.raw, {}, head, progress, copies).state, ParseState::kDone) << c.name;
}

TEST_P(ErrorTest, ResumableByteByByte) {
  const ErrorCase& c = GetParam();
  RequestHead head;
  ParseProgress progress;
  std::string copies[2];
  ParseResult r = trickle(c.raw, {}, head, progress, copies);
  EXPECT_EQ(r.state, ParseState::kError) << c.name;
  EXPECT_EQ(r.status, c.status) << c.name;
}

TEST_P(LimitTest, ResumableByteByByte) {
  const LimitCase& c = GetParam();
  RequestHead head;
  ParseProgress progress;
  std::string copies[2];
  ParseResult r = trickle(c.raw, c.limits, head, progress, copies);
  EXPECT_EQ(r.state, c.state) << c.name;
  EXPECT_EQ(r.status, c.status) << c.name;
}

// 414 comes as soon as the request line is longer than allowed, without its LF.
TEST(H1ParserResumable, TrickledLongRequestLineIs414Early) {
  const ParseLimits limits{.max_request_line = 100};
  std::string raw = "GET /" + std::string(1000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ParseProgress progress;
  std::string copies[2];
  size_t calls = 0;
  ParseResult r = trickle(raw, limits, head, progress, copies, &calls);
  EXPECT_EQ(r.status, 414);
  EXPECT_EQ(calls, 102u);  // the call that brings byte 101
  EXPECT_LE(progress.examined, 2 * 101u);
}

// 431 comes as soon as the head is longer than allowed, before it ends.
TEST(H1ParserResumable, TrickledLargeHeadIs431Early) {
  const ParseLimits limits{.max_header_size = 1000, .max_headers = 1000};
  std::string raw = "GET / HTTP/1.1\r\nHost: h\r\n" + headers(200) + "\r\n";
  RequestHead head;
  ParseProgress progress;
  std::string copies[2];
  size_t calls = 0;
  ParseResult r = trickle(raw, limits, head, progress, copies, &calls);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(calls, 1002u);  // the call that brings byte 1001
  EXPECT_LE(progress.examined, 2 * 1001u);
}

// A bad request line is refused as soon as its LF arrives.
TEST(H1ParserResumable, TrickledBadRequestLineIs400AtItsLf) {
  std::string raw = "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ParseProgress progress;
  std::string copies[2];
  size_t calls = 0;
  ParseResult r = trickle(raw, {}, head, progress, copies, &calls);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(calls, raw.find('\n') + 2);
}

// A new request starts from a new progress: nothing from the previous one leaks into it.
TEST(H1ParserResumable, PipelinedWithResetProgress) {
  std::string raw =
      "GET /one HTTP/1.1\r\nHost: h\r\nCookie: 1\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ParseProgress progress;
  std::string_view rest = raw;
  ParseResult r = parse_request(rest.substr(0, 20), {}, head, progress);
  ASSERT_EQ(r.state, ParseState::kNeedMore);
  r = parse_request(rest, {}, head, progress);
  ASSERT_EQ(r.state, ParseState::kDone);
  EXPECT_EQ(head.path, "/one");
  EXPECT_EQ(head.get(Field::kCookie), "1");
  rest.remove_prefix(r.head_length);
  progress = {};
  r = parse_request(rest.substr(0, 5), {}, head, progress);
  ASSERT_EQ(r.state, ParseState::kNeedMore);
  r = parse_request(rest, {}, head, progress);
  ASSERT_EQ(r.state, ParseState::kDone);
  EXPECT_EQ(head.path, "/two");
  EXPECT_EQ(head.get(Field::kCookie), "");
  EXPECT_EQ(head.headers.size(), 1u);
  EXPECT_EQ(r.head_length, rest.size());
}

}  // namespace
}  // namespace askr::http
