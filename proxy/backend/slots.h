// The busy/idle accounting of one askr-worker pool, shared by every loop: how many workers are
// alive, how many requests run, and whether any loop has requests waiting. Two atomics per request
// and a wake-up only when someone waits: the one place where loops share state, so that a request
// never waits while a worker of its pool is idle, whatever loop received it.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "loop/backend.h"

namespace askr::backend {

class PoolSlots {
 public:
  // Takes a free worker, if there is one: fewer requests running than workers alive.
  bool try_take() {
    int busy = busy_.load(std::memory_order_relaxed);
    while (busy < capacity_.load(std::memory_order_acquire)) {
      if (busy_.compare_exchange_weak(busy, busy + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }
  // A request finished: its worker is free again, and loops with waiting requests are woken.
  void put() {
    busy_.fetch_sub(1, std::memory_order_acq_rel);
    if (waiters_.load(std::memory_order_acquire) > 0) wake_all();
  }
  // The supervisor counts workers in (+1 when started) and out (-1 when they exit).
  void add_capacity(int delta) {
    capacity_.fetch_add(delta, std::memory_order_acq_rel);
    if (delta > 0 && waiters_.load(std::memory_order_acquire) > 0) wake_all();
  }
  void add_waiter() { waiters_.fetch_add(1, std::memory_order_acq_rel); }
  void remove_waiter() { waiters_.fetch_sub(1, std::memory_order_acq_rel); }

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

  std::atomic<int> capacity_{0};
  std::atomic<int> busy_{0};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::vector<loop::Backend*> loops_;
};

}  // namespace askr::backend
