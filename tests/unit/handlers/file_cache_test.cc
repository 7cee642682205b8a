#include "handlers/file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include <gtest/gtest.h>

namespace askr::handlers {
namespace {

CachedFile open_entry(int& fd) {
  CachedFile e;
  e.body = std::make_shared<CachedBody>();
  fd = e.body->fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  e.size = 0;
  return e;
}

bool is_open(int fd) {
  return fcntl(fd, F_GETFD) >= 0;
}

// A new second empties the cache, and a kept-open file is closed with its last holder: not
// before a response that still sends it is done, not later.
TEST(FileCache, NewSecondDropsEntriesAndClosesFilesWithTheirLastHolder) {
  FileCache cache;
  cache.set_now(100);
  int fd = -1;
  const CachedFile* c = cache.put(3, "big.bin", 0, open_entry(fd));
  ASSERT_NE(c, nullptr);
  std::shared_ptr<const void> sending = c->body;  // a response still sending it
  EXPECT_EQ(cache.find(3, "big.bin", 0), c);
  cache.set_now(101);
  EXPECT_EQ(cache.find(3, "big.bin", 0), nullptr);
  EXPECT_TRUE(is_open(fd));
  sending.reset();
  EXPECT_FALSE(is_open(fd));
}

TEST(FileCache, KeyIncludesWhatTheClientAccepts) {
  FileCache cache;
  cache.set_now(5);
  CachedFile e;
  e.body = std::make_shared<CachedBody>();
  e.body->bytes = "plain";
  cache.put(3, "a.css", 0, std::move(e));
  EXPECT_NE(cache.find(3, "a.css", 0), nullptr);
  EXPECT_EQ(cache.find(3, "a.css", 5), nullptr);
  EXPECT_EQ(cache.find(4, "a.css", 0), nullptr);
}

// Path kinds (the PHP handler's script lookups) live for their second, per files id, and the
// map is bounded: a flood of distinct paths empties it rather than growing it.
TEST(FileCache, KindsLastTheirSecondAndAreBounded) {
  FileCache cache;
  cache.set_now(7);
  EXPECT_EQ(cache.find_kind(3, "index.php"), -1);
  cache.put_kind(3, "index.php", 1);
  cache.put_kind(3, "missing.php", 0);
  EXPECT_EQ(cache.find_kind(3, "index.php"), 1);
  EXPECT_EQ(cache.find_kind(3, "missing.php"), 0);
  EXPECT_EQ(cache.find_kind(4, "index.php"), -1);
  EXPECT_EQ(cache.find(3, "index.php", 0), nullptr);  // a kind is not a cached file
  for (size_t i = 0; i < FileCache::kMaxKinds; ++i) cache.put_kind(3, std::to_string(i), 0);
  EXPECT_EQ(cache.find_kind(3, "index.php"), -1);  // emptied when full
  cache.put_kind(3, "index.php", 1);
  cache.set_now(8);
  EXPECT_EQ(cache.find_kind(3, "index.php"), -1);
}

}  // namespace
}  // namespace askr::handlers
