#include "shared/base/copy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace askr::base {
namespace {

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return s;
}

TEST(CopyTest, SlowDistanceIsOneToSixtyThreeBytesPastModuloAPage) {
#if defined(__x86_64__) || defined(__i386__)
  alignas(4096) static char page[3 * 4096];
  const char* src = page + 100;
  EXPECT_FALSE(slow_copy_distance(src, src));
  EXPECT_TRUE(slow_copy_distance(src + 1, src));
  EXPECT_TRUE(slow_copy_distance(src + 63, src));
  EXPECT_FALSE(slow_copy_distance(src + 64, src));
  EXPECT_TRUE(slow_copy_distance(src + 4096 + 8, src));
  EXPECT_FALSE(slow_copy_distance(src - 8, src));  // before the source: 4088 past
  EXPECT_FALSE(slow_copy_distance(src + 4096, src));
#else
  GTEST_SKIP() << "the slow distance is an x86 case";
#endif
}

// Every distance modulo a page, at sizes around the piece boundaries: the same bytes as memcpy.
TEST(CopyTest, CopyBytesCopiesAtEveryDistance) {
  const std::string src = pattern(3 * 4096, 1);
  std::vector<char> dst(5 * 4096);
  for (size_t n :
       {size_t(0), size_t(1), 2 * kCopyPiece - 1, 2 * kCopyPiece, size_t(8184), size_t(10001)}) {
    for (size_t off = 0; off < 4096; off += (off < 80 || off > 4000) ? 1 : 61) {
      std::fill(dst.begin(), dst.end(), '\x5a');
      copy_bytes(dst.data() + off, src.data(), n);
      ASSERT_EQ(std::string_view(dst.data() + off, n), std::string_view(src.data(), n))
          << "n " << n << " at distance " << off;
      if (off > 0) {
        ASSERT_EQ(dst[off - 1], '\x5a');
      }
      ASSERT_EQ(dst[off + n], '\x5a') << "n " << n << " at distance " << off;
    }
  }
}

// Appended at every distance modulo a page from the source (the buffer has room, so it stays
// where it is): the same bytes as append().
TEST(CopyTest, AppendBytesAppendsAtEveryDistance) {
  const std::string src = pattern(20000, 2);
  for (size_t n : {size_t(5), 2 * kCopyPiece, size_t(8184), size_t(20000)}) {
    int slow = 0;
    for (size_t head = 0; head < 4160; ++head) {
      std::string out;
      out.reserve(4160 + 20000);
      out.append(pattern(head, 3));
      const std::string want = out + src.substr(0, n);
      slow += slow_copy_distance(out.data() + out.size(), src.data());
      append_bytes(out, src.data(), n);
      ASSERT_EQ(out, want) << "n " << n << " after " << head << " bytes";
    }
#if defined(__x86_64__) || defined(__i386__)
    EXPECT_GE(slow, 63) << "the slow distances were not all tried";
#endif
  }
}

// Grown by doubling as append() grows: a body of records appended one by one is not copied
// again at each record.
TEST(CopyTest, AppendBytesGrowsByDoubling) {
  const std::string rec = pattern(8184, 4);
  std::string out;
  int grew = 0;
  for (int i = 0; i < 1000; ++i) {
    const size_t cap = out.capacity();
    append_bytes(out, rec.data(), rec.size());
    grew += out.capacity() != cap;
  }
  EXPECT_EQ(out.size(), 1000 * rec.size());
  EXPECT_LE(grew, 12);
  EXPECT_EQ(out.substr(999 * rec.size()), rec);
}

TEST(CopyTest, EraseFrontMatchesErase) {
  const std::string base = pattern(16384, 5);
  for (size_t n : {size_t(0), size_t(1), size_t(64), size_t(4033), size_t(4064), size_t(4095),
                   size_t(4096), size_t(8190), size_t(14000), size_t(16384)}) {
    std::string a = base, b = base;
    erase_front(a, n);
    b.erase(0, n);
    ASSERT_EQ(a, b) << "erasing " << n;
  }
}

}  // namespace
}  // namespace askr::base
