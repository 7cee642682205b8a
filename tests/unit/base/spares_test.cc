#include "shared/base/spares.h"

#include <gtest/gtest.h>

#include <string>

namespace askr::base {
namespace {

struct Thing {
  std::string buf;
  int state = 0;
  void recycle(size_t room) {
    state = 0;
    keep_or_free(buf, 1000, room);
  }
  size_t kept_bytes() const { return buf.capacity(); }
};

TEST(Spares, ReusesWithoutState) {
  if (kAsan) GTEST_SKIP() << "under ASan spares are freed (a stale pointer is then reported)";
  Spares<Thing> s(4, 1 << 20);
  auto t = s.get();
  Thing* addr = t.get();
  t->state = 7;
  t->buf.assign(500, 'x');
  s.put(std::move(t));
  EXPECT_EQ(s.spare(), 1u);
  auto u = s.get();
  EXPECT_EQ(u.get(), addr);
  EXPECT_EQ(u->state, 0);
  EXPECT_TRUE(u->buf.empty());
  EXPECT_GE(u->buf.capacity(), 500u);  // the buffer kept its capacity
  EXPECT_EQ(s.kept_bytes(), 0u);
}

TEST(Spares, FreedUnderAsan) {
  Spares<Thing> s(4, 1 << 20);
  auto t = s.get();
  t->state = 7;
  Thing* addr = t.get();
  s.put(std::move(t));
  EXPECT_EQ(s.spare(), kAsan ? 0u : 1u);
  auto u = s.get();
  EXPECT_EQ(u->state, 0);
  if (!kAsan) {
    EXPECT_EQ(u.get(), addr);
  }
}

TEST(Spares, BoundedByCountAndBytes) {
  if (kAsan) GTEST_SKIP() << "under ASan spares are freed";
  Spares<Thing> s(3, 1500);
  for (int i = 0; i < 5; ++i) {
    auto t = std::make_unique<Thing>();
    t->buf.assign(i == 0 ? 5000 : 900, 'x');  // the first grew past what a Thing keeps
    s.put(std::move(t));
  }
  EXPECT_EQ(s.spare(), 3u);
  EXPECT_LE(s.kept_bytes(), 1500u);  // one 900-byte buffer fits, the second is freed
  size_t with_buffer = 0;
  for (int i = 0; i < 3; ++i) with_buffer += s.get()->buf.capacity() > 15;
  EXPECT_EQ(with_buffer, 1u);
}

}  // namespace
}  // namespace askr::base
