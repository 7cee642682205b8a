#include "server/buffer_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace askr::server {
namespace {

// A buffer a streamed response grew past 256 KiB comes back from the pool for the next one.
TEST(BufferPool, KeepsGrownBuffersForTheNextRequest) {
  BufferPool pool;
  std::string s(300 * 1024, 'x');
  size_t cap = s.capacity();
  const char* storage = s.data();
  pool.put(s);
  EXPECT_EQ(s.capacity(), 15u);  // the connection holds nothing while idle
  EXPECT_EQ(pool.spare(), 1u);
  EXPECT_EQ(pool.kept_bytes(), cap);
  std::string next;
  pool.get(next);
  EXPECT_EQ(next.data(), storage);
  EXPECT_TRUE(next.empty());
  EXPECT_EQ(next.capacity(), cap);
  EXPECT_EQ(pool.kept_bytes(), 0u);
}

// A request's head takes a small spare, never the large one a response grew: that one is left
// for the next response, which would otherwise grow its buffer again from nothing.
TEST(BufferPool, RequestHeadsTakeSmallSparesAndResponsesLargeOnes) {
  BufferPool pool;
  std::string big(300 * 1024, 'b'), small(8 * 1024, 's');
  const char* big_storage = big.data();
  const char* small_storage = small.data();
  pool.put(small);
  pool.put(big);
  std::string head;
  pool.get_small(head);
  EXPECT_EQ(head.data(), small_storage);
  std::string head2;
  pool.get_small(head2);  // no small spare left: none, rather than the large one
  EXPECT_EQ(head2.capacity(), 15u);
  std::string response;
  pool.get(response);
  EXPECT_EQ(response.data(), big_storage);
  EXPECT_EQ(pool.spare(), 0u);

  pool.put(head);
  std::string response2;
  pool.get(response2);  // no large spare: a small one
  EXPECT_EQ(response2.data(), small_storage);
}

// Buffers past kMaxCapacity are freed; the spares never hold more than kBudget bytes, nor more
// than kKeep buffers.
TEST(BufferPool, BoundedInSizeBytesAndCount) {
  BufferPool pool;
  std::string huge(BufferPool::kMaxCapacity + 1, 'h');
  pool.put(huge);
  EXPECT_EQ(pool.spare(), 0u);
  EXPECT_EQ(huge.capacity(), 15u);

  for (int i = 0; i < 40; ++i) {
    std::string s(BufferPool::kMaxCapacity / 2, 'm');
    pool.put(s);
  }
  EXPECT_LE(pool.kept_bytes(), BufferPool::kBudget);
  EXPECT_GE(pool.kept_bytes(), BufferPool::kBudget - BufferPool::kMaxCapacity);

  BufferPool small;
  for (size_t i = 0; i < BufferPool::kKeep + 10; ++i) {
    std::string s(100, 's');
    small.put(s);
  }
  EXPECT_EQ(small.spare(), BufferPool::kKeep);

  std::vector<std::string> taken(BufferPool::kKeep);
  for (std::string& s : taken) small.get(s);
  EXPECT_EQ(small.spare(), 0u);
  EXPECT_EQ(small.kept_bytes(), 0u);
}

}  // namespace
}  // namespace askr::server
