#include "http/response.h"

#include <string>

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

}  // namespace
}  // namespace askr::http
