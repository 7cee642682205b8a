#include "loop/timer_list.h"

#include <gtest/gtest.h>

namespace askr::loop {
namespace {

TEST(TimerList, ExpiresInArmingOrderOnlyWhenDue) {
  TimerList list(100);
  TimerNode a, b, c;
  list.arm(&a, 0);
  list.arm(&b, 10);
  list.arm(&c, 20);
  EXPECT_EQ(list.pop_expired(99), nullptr);
  EXPECT_EQ(list.pop_expired(110), &a);
  EXPECT_EQ(list.pop_expired(110), &b);
  EXPECT_EQ(list.pop_expired(110), nullptr);
  EXPECT_FALSE(a.linked());
  EXPECT_TRUE(c.linked());
}

TEST(TimerList, RearmMovesToTheBackAndUnlinkRemoves) {
  TimerList list(100);
  TimerNode a, b;
  list.arm(&a, 0);
  list.arm(&b, 0);
  list.arm(&a, 50);  // activity on a: its deadline moves
  EXPECT_EQ(list.pop_expired(100), &b);
  EXPECT_EQ(list.pop_expired(100), nullptr);
  TimerList::unlink(&a);
  EXPECT_EQ(list.pop_expired(1000), nullptr);
  TimerList::unlink(&a);  // unlinking twice is harmless
}

TEST(TimerList, NodeMovesBetweenLists) {
  TimerList shorter(10), longer(1000);
  TimerNode n;
  shorter.arm(&n, 0);
  longer.arm(&n, 0);
  EXPECT_EQ(shorter.pop_expired(500), nullptr);
  EXPECT_EQ(longer.pop_expired(1000), &n);
}

// pop_first(): the node armed the longest ago, expired or not (the connection idle the longest).
TEST(TimerList, PopFirstTakesTheOldestWhateverItsDeadline) {
  TimerList list(100);
  EXPECT_EQ(list.pop_first(), nullptr);
  TimerNode a, b;
  list.arm(&a, 0);
  list.arm(&b, 10);
  list.arm(&a, 20);  // a was active again: b is now the oldest
  EXPECT_EQ(list.pop_first(), &b);
  EXPECT_FALSE(b.linked());
  EXPECT_EQ(list.pop_first(), &a);
  EXPECT_EQ(list.pop_first(), nullptr);
}

}  // namespace
}  // namespace askr::loop
