#include "http/h2_alloc.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace askr::http {
namespace {

TEST(H2Alloc, SizesAlignmentAndReuse) {
  H2Allocator a;
  for (size_t n : {size_t(0), size_t(1), size_t(16), size_t(17), size_t(100), size_t(4000),
                   size_t(4080), size_t(4081), size_t(100000)}) {
    void* p = a.allocate(n);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << n;
    EXPECT_GE(H2Allocator::capacity(p), n);
    std::memset(p, 0xab, n);  // ASan: the whole size is usable
    a.deallocate(p);
  }
  // A freed block of a class is the next one that class hands out; no malloc for it.
  void* p = a.allocate(200);
  a.deallocate(p);
  EXPECT_EQ(a.spare(200), 1u);
  uint64_t mallocs = a.from_malloc();
  void* q = a.allocate(150);  // same class (256 bytes with the header)
  EXPECT_EQ(q, p);
  EXPECT_EQ(a.from_malloc(), mallocs);
  EXPECT_EQ(a.spare(200), 0u);
  a.deallocate(q);
  a.deallocate(nullptr);
}

TEST(H2Alloc, CallocZeroesReusedBlocks) {
  H2Allocator a;
  void* p = a.allocate(64);
  std::memset(p, 0xff, 64);
  a.deallocate(p);
  auto* z = static_cast<unsigned char*>(a.zallocate(8, 8));
  ASSERT_EQ(static_cast<void*>(z), p);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(z[i], 0) << i;
  a.deallocate(z);
  EXPECT_EQ(a.zallocate(SIZE_MAX / 2, 4), nullptr);  // overflow
}

TEST(H2Alloc, ReallocKeepsContents) {
  H2Allocator a;
  auto* p = static_cast<char*>(a.reallocate(nullptr, 10));
  std::memcpy(p, "0123456789", 10);
  // Grows within its block: the same address.
  EXPECT_EQ(a.reallocate(p, 16), p);
  // Grows past its class, then past every class: moved, contents kept.
  auto* q = static_cast<char*>(a.reallocate(p, 1000));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(std::memcmp(q, "0123456789", 10), 0);
  std::memset(q + 10, 'x', 990);
  auto* r = static_cast<char*>(a.reallocate(q, 50000));
  EXPECT_EQ(std::memcmp(r, "0123456789", 10), 0);
  EXPECT_EQ(r[999], 'x');
  // Shrinks back into a class.
  auto* s = static_cast<char*>(a.reallocate(r, 12));
  EXPECT_EQ(std::memcmp(s, "0123456789", 10), 0);
  EXPECT_EQ(a.reallocate(s, 0), nullptr);  // frees
}

TEST(H2Alloc, FreeListsAreBounded) {
  H2Allocator a;
  std::vector<void*> blocks;
  // Small blocks: the count per class is the bound.
  for (size_t i = 0; i < H2Allocator::kKeepBlocks + 100; ++i) blocks.push_back(a.allocate(8));
  for (void* p : blocks) a.deallocate(p);
  EXPECT_EQ(a.spare(8), H2Allocator::kKeepBlocks);  // the rest went back to malloc
  // Large ones: the bytes of all classes together.
  blocks.clear();
  size_t n = 4000;  // the 4096-byte class, header included
  size_t room = (H2Allocator::kKeepBytes - a.kept_bytes()) / 4096;
  for (size_t i = 0; i < room + 100; ++i) blocks.push_back(a.allocate(n));
  for (void* p : blocks) a.deallocate(p);
  EXPECT_EQ(a.spare(n), room);
  EXPECT_LE(a.kept_bytes(), H2Allocator::kKeepBytes);
  std::vector<void*> large;
  for (int i = 0; i < 10; ++i) large.push_back(a.allocate(H2Allocator::kMaxBlock));
  for (void* p : large) a.deallocate(p);
  EXPECT_EQ(a.spare(H2Allocator::kMaxBlock), 0u);  // large blocks are never kept
}

// nghttp2 runs on it: a session created with the thread's allocator works and, in steady state,
// its per-stream allocations come from the free lists.
TEST(H2Alloc, NghttpSessionUsesIt) {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session* client;
  ASSERT_EQ(nghttp2_session_client_new3(&client, cb, nullptr, nullptr, H2Allocator::mem()), 0);
  auto round = [&] {
    for (int i = 0; i < 10; ++i) {
      ASSERT_EQ(nghttp2_submit_ping(client, NGHTTP2_FLAG_NONE, nullptr), 0);
    }
    const uint8_t* out;
    while (nghttp2_session_mem_send(client, &out) > 0) {
    }
  };
  round();
  round();
  uint64_t mallocs = H2Allocator::local().from_malloc();
  round();  // the PING items of the earlier rounds were freed and are taken again
  EXPECT_EQ(H2Allocator::local().from_malloc(), mallocs);
  nghttp2_session_del(client);
  nghttp2_session_callbacks_del(cb);
}

}  // namespace
}  // namespace askr::http
