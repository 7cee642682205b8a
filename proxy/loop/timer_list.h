// Deadlines for one fixed duration (header, keep-alive, send, ...). Because every entry of a
// list waits the same time, appending keeps the list sorted: arm, disarm and expiry are O(1)
// with no heap, the way h2o's timeout lists work.
#pragma once

#include <cstdint>

namespace askr::loop {

struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  int64_t deadline_ms = 0;
  bool linked() const { return prev != nullptr; }
};

class TimerList {
 public:
  explicit TimerList(int64_t duration_ms = 0) { set_duration(duration_ms); }
  TimerList(const TimerList&) = delete;
  TimerList& operator=(const TimerList&) = delete;

  void set_duration(int64_t ms) {
    duration_ms_ = ms;
    head_.prev = head_.next = &head_;
  }
  int64_t duration_ms() const { return duration_ms_; }

  // (Re)arms `n` to fire at now + duration. A node belongs to at most one list at a time.
  void arm(TimerNode* n, int64_t now_ms) {
    unlink(n);
    n->deadline_ms = now_ms + duration_ms_;
    n->prev = head_.prev;
    n->next = &head_;
    head_.prev->next = n;
    head_.prev = n;
  }

  static void unlink(TimerNode* n) {
    if (!n->linked()) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
  }

  // Unlinks and returns the first node (the one armed the longest ago), or nullptr.
  TimerNode* pop_first() {
    TimerNode* n = head_.next;
    if (n == &head_) return nullptr;
    unlink(n);
    return n;
  }

  // Unlinks and returns the first expired node, or nullptr.
  TimerNode* pop_expired(int64_t now_ms) {
    TimerNode* n = head_.next;
    if (n == &head_ || n->deadline_ms > now_ms) return nullptr;
    unlink(n);
    return n;
  }

 private:
  TimerNode head_;
  int64_t duration_ms_ = 0;
};

}  // namespace askr::loop
