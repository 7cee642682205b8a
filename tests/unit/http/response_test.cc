#include "http/response.h"

#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

namespace askr::http {
namespace {

// Every status a `return` route or a redirect may answer has its reason phrase, and its short
// body says what it is: a redirect's is not "error".
TEST(Response, StatusesHaveReasonAndBody) {
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(410), "Gone");
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(451), "Unavailable For Legal Reasons");
  EXPECT_EQ(reason_phrase(299), "");
  EXPECT_EQ(error_body(404), "404 Not Found\n");
  EXPECT_EQ(error_body(301), "301 Moved Permanently\n");
  EXPECT_EQ(error_body(308), "308 Permanent Redirect\n");
  EXPECT_EQ(error_body(410), "410 Gone\n");
  for (int status = 300; status < 600; ++status) {
    if (reason_phrase(status).empty()) continue;
    EXPECT_EQ(error_body(status),
              std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n");
  }
  EXPECT_EQ(error_body(599), "error\n");
}

TEST(Response, FieldsBeyondTheInlineSlotsAreKept) {
  Response r;
  std::string names[40];
  for (int i = 0; i < 40; ++i) {
    names[i] = "X-Field-" + std::to_string(i);
    r.add(names[i], r.keep(std::to_string(i)));
  }
  ASSERT_EQ(r.fields().size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(r.fields()[size_t(i)].name, names[i]);
    EXPECT_EQ(r.fields()[size_t(i)].value, std::to_string(i));
  }
}

TEST(Response, KeptValuesBeyondTheArenaStayValid) {
  Response r;
  std::string small(600, 'a'), big(5000, 'b'), more(800, 'c');
  std::string_view a = r.keep(small);
  std::string_view b = r.keep(big);
  std::string_view c = r.keep(more);
  EXPECT_EQ(a, small);
  EXPECT_EQ(b, big);
  EXPECT_EQ(c, more);
}

// Every status of IANA's HTTP Status Code Registry has its reason phrase (RFC 9110's names), as
// nginx sends it: "HTTP/1.1 202 " with none reads as a broken line to people and some tools.
TEST(Response, RegisteredStatusesHaveTheirReasonPhrase) {
  const std::pair<int, std::string_view> registered[] = {
      {100, "Continue"},
      {101, "Switching Protocols"},
      {102, "Processing"},
      {103, "Early Hints"},
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {203, "Non-Authoritative Information"},
      {204, "No Content"},
      {205, "Reset Content"},
      {206, "Partial Content"},
      {207, "Multi-Status"},
      {208, "Already Reported"},
      {226, "IM Used"},
      {300, "Multiple Choices"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {305, "Use Proxy"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {402, "Payment Required"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {406, "Not Acceptable"},
      {407, "Proxy Authentication Required"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {410, "Gone"},
      {411, "Length Required"},
      {412, "Precondition Failed"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {416, "Range Not Satisfiable"},
      {417, "Expectation Failed"},
      {421, "Misdirected Request"},
      {422, "Unprocessable Content"},
      {423, "Locked"},
      {424, "Failed Dependency"},
      {425, "Too Early"},
      {426, "Upgrade Required"},
      {428, "Precondition Required"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {451, "Unavailable For Legal Reasons"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
      {506, "Variant Also Negotiates"},
      {507, "Insufficient Storage"},
      {508, "Loop Detected"},
      {510, "Not Extended"},
      {511, "Network Authentication Required"},
  };
  for (const auto& [status, reason] : registered)
    EXPECT_EQ(reason_phrase(status), reason) << status;
  for (int unknown : {0, 99, 199, 299, 306, 418, 499, 509, 599, 600}) {
    EXPECT_EQ(reason_phrase(unknown), "") << unknown;
  }
}

}  // namespace
}  // namespace askr::http
