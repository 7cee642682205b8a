#include "http/response.h"

#include <string>

#include <gtest/gtest.h>

namespace askr::http {
namespace {

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
