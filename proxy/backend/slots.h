// The busy/idle accounting of one askr-worker pool, shared by every loop: how many workers are
// free, and whether any loop has requests waiting. Two atomics per request and a wake-up only
// when someone waits: the one place where loops share state, so that a request never waits
// while a worker of its pool is idle, whatever loop received it.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "loop/backend.h"

namespace askr::backend {

class PoolSlots {
 public:
  explicit PoolSlots(int workers) : free_(workers) {}

  // Takes a free worker, if there is one.
  bool try_take() {
    int n = free_.load(std::memory_order_relaxed);
    while (n > 0) {
      if (free_.compare_exchange_weak(n, n - 1, std::memory_order_acquire)) return true;
    }
    return false;
  }
  // A worker is free again; loops with waiting requests are woken to take it.
  void put() {
    free_.fetch_add(1, std::memory_order_release);
    if (waiters_.load(std::memory_order_acquire) > 0) wake_all();
  }
  void add_waiter() { waiters_.fetch_add(1, std::memory_order_acq_rel); }
  void remove_waiter() { waiters_.fetch_sub(1, std::memory_order_acq_rel); }
  int free() const { return free_.load(std::memory_order_relaxed); }

  // Each loop registers its backend once, at start-up.
  void add_loop(loop::Backend* b) {
    std::lock_guard lock(mu_);
    loops_.push_back(b);
  }

 private:
  void wake_all() {
    std::lock_guard lock(mu_);  // only taken when requests wait: never on the fast path
    for (loop::Backend* b : loops_) b->wake();
  }

  std::atomic<int> free_;
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::vector<loop::Backend*> loops_;
};

}  // namespace askr::backend
