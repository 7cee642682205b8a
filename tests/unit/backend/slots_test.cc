#include "backend/slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace askr::backend {
namespace {

std::vector<int> take_granted(PoolSlots& slots, int loop) {
  std::vector<int> out{-1};  // emptied by the call
  slots.take_granted(loop, out);
  return out;
}

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

// Once requests wait, a freed slot goes to the loop of the oldest waiting request, the loop that
// freed it included, in the order the requests arrived.
TEST(PoolSlots, FreedSlotsGoToWaitingRequestsInArrivalOrder) {
  PoolSlots slots(1);
  int a = slots.add_loop(nullptr), b = slots.add_loop(nullptr), c = slots.add_loop(nullptr);
  slots.set_up(0, true);
  ASSERT_EQ(slots.claim(), 0);
  EXPECT_FALSE(slots.queued());
  slots.wait(b);
  slots.wait(a);
  slots.wait(b);
  slots.wait(c);
  EXPECT_TRUE(slots.queued());
  std::vector<int> order;
  int holder = a;  // a ran the first request
  for (int i = 0; i < 4; ++i) {
    slots.release(0, holder);
    for (int l : {a, b, c}) {
      if (!slots.granted(l).load()) continue;
      EXPECT_EQ(take_granted(slots, l), std::vector<int>{0});
      order.push_back(l);
      holder = l;
    }
  }
  EXPECT_EQ(order, (std::vector<int>{b, a, b, c}));
  EXPECT_FALSE(slots.queued());
  slots.release(0, holder);
  EXPECT_EQ(slots.claim(), 0);  // idle again once nobody waits
}

// A busy slot whose worker has answered and owes only its END_REQUEST is ending (counted by
// ending() while its worker is up) until it is released, granted to a waiting request or idle:
// either way the mark is gone, and the slot can be claimed again.
TEST(PoolSlots, EndingLastsUntilTheSlotIsReleased) {
  PoolSlots slots(2);
  int a = slots.add_loop(nullptr);
  slots.set_up(0, true);
  slots.set_up(1, true);
  ASSERT_EQ(slots.claim(), 0);
  ASSERT_EQ(slots.claim(), 1);
  EXPECT_EQ(slots.ending(), 0);
  slots.set_ending(0);
  slots.set_ending(1);
  EXPECT_EQ(slots.ending(), 2);
  slots.set_up(1, false);  // its worker left: no longer about to be free
  EXPECT_EQ(slots.ending(), 1);
  slots.release(1);
  slots.wait(a);
  EXPECT_EQ(slots.waiting(), 1);
  slots.release(0, a);  // granted to the waiting request: busy, not ending
  EXPECT_EQ(slots.ending(), 0);
  EXPECT_EQ(take_granted(slots, a), std::vector<int>{0});
  slots.set_ending(0);
  slots.release(0, a);  // idle
  EXPECT_EQ(slots.ending(), 0);
  EXPECT_EQ(slots.claim(), 0);
  slots.set_up(1, true);
  EXPECT_EQ(slots.claim(), 1);
}

// A request that stops waiting gives back its loop's last ticket; a slot granted to a loop that
// no longer has a request for it, or that ends, is passed on.
TEST(PoolSlots, TicketsGivenBackAndGrantsPassedOn) {
  PoolSlots slots(1);
  int a = slots.add_loop(nullptr), b = slots.add_loop(nullptr);
  slots.set_up(0, true);
  ASSERT_EQ(slots.claim(), 0);
  slots.wait(a);
  slots.wait(b);
  slots.unwait(a);
  slots.release(0, a);
  EXPECT_FALSE(slots.granted(a).load());
  ASSERT_TRUE(slots.granted(b).load());
  EXPECT_EQ(take_granted(slots, b), std::vector<int>{0});
  slots.wait(a);
  slots.wait(b);
  slots.release(0, b);  // granted to a, which ends before taking it: b gets it
  slots.remove_loop(a);
  EXPECT_TRUE(slots.granted(b).load());
  EXPECT_EQ(take_granted(slots, b), std::vector<int>{0});
  EXPECT_FALSE(slots.queued());
}

// Loops that claim, wait and release at once: every request is served, no slot twice at a time.
TEST(PoolSlots, ConcurrentWaitersAreAllServedAndNeverShareASlot) {
  constexpr unsigned kSlots = 2;
  constexpr int kLoops = 4, kRequests = 5000;
  PoolSlots slots(kSlots);
  int ids[kLoops];
  for (int& id : ids) id = slots.add_loop(nullptr);
  for (unsigned i = 0; i < kSlots; ++i) slots.set_up(int(i), true);
  std::atomic<int> in_use[kSlots] = {};
  std::atomic<bool> shared{false};
  std::atomic<int> served{0};
  auto use = [&](int s) {
    if (in_use[s].fetch_add(1) != 0) shared = true;
    in_use[s].fetch_sub(1);
    ++served;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kLoops; ++t) {
    threads.emplace_back([&, id = ids[t]] {
      const std::atomic<int>& granted = slots.granted(id);
      for (int i = 0; i < kRequests; ++i) {
        int s = slots.queued() ? -1 : slots.claim();
        if (s < 0) {
          slots.wait(id);
          while (granted.load() == 0) std::this_thread::yield();
          std::vector<int> got = take_granted(slots, id);
          ASSERT_EQ(got.size(), 1u);  // one request waits per loop here
          s = got[0];
        }
        use(s);
        slots.release(s, id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_FALSE(shared);
  EXPECT_EQ(served.load(), kLoops * kRequests);
  EXPECT_FALSE(slots.queued());
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
