#include "backend/slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace askr::backend {
namespace {

TEST(PoolSlots, OnlyAnUpAndIdleSlotIsClaimed) {
  PoolSlots slots(2);
  EXPECT_EQ(slots.claim(), -1);  // no worker ready yet
  slots.set_up(1, true);
  EXPECT_EQ(slots.claim(), 1);
  EXPECT_EQ(slots.claim(), -1);  // busy
  slots.set_up(0, true);
  EXPECT_EQ(slots.claim(), 0);
  slots.release(1);
  EXPECT_EQ(slots.claim(), 1);
}

// A worker that retires or dies while its slot is busy: the request ends, and the slot stays
// down until a replacement is ready.
TEST(PoolSlots, ABusySlotGoneDownIsNotClaimedAfterRelease) {
  PoolSlots slots(1);
  slots.set_up(0, true);
  ASSERT_EQ(slots.claim(), 0);
  slots.set_up(0, false);
  slots.release(0);
  EXPECT_EQ(slots.claim(), -1);
  slots.set_up(0, true);
  EXPECT_EQ(slots.claim(), 0);
}

// Loops claiming at once never get one slot twice.
TEST(PoolSlots, ConcurrentClaimsNeverShareASlot) {
  constexpr unsigned kSlots = 4;
  PoolSlots slots(kSlots);
  for (unsigned i = 0; i < kSlots; ++i) slots.set_up(int(i), true);
  std::atomic<int> in_use[kSlots] = {};
  std::atomic<bool> shared{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        int s = slots.claim();
        if (s < 0) continue;
        if (in_use[s].fetch_add(1) != 0) shared = true;
        in_use[s].fetch_sub(1);
        slots.release(s);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_FALSE(shared);
}

TEST(PoolSlots, KillRequestsNameTheSlot) {
  PoolSlots slots(3);
  slots.request_kill(2);
  slots.request_kill(0);
  EXPECT_EQ(slots.take_kills(), (std::vector<int>{2, 0}));
  EXPECT_TRUE(slots.take_kills().empty());
}

}  // namespace
}  // namespace askr::backend
