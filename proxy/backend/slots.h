// The busy/idle accounting of one askr-worker pool, shared by every loop: how many workers are
// alive, how many requests run, and whether any loop has requests waiting. Two atomics per request
// and a wake-up only when someone waits: the one place where loops share state, so that a request
// never waits while a worker of its pool is idle, whatever loop received it.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "loop/backend.h"

namespace askr::backend {

class PoolSlots {
 public:
  PoolSlots() = default;
  ~PoolSlots() {
    if (kill_fd_ >= 0) ::close(kill_fd_);
  }
  PoolSlots(const PoolSlots&) = delete;
  PoolSlots& operator=(const PoolSlots&) = delete;

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

  // The supervisor says whether the pool's workers keep failing to start, none being alive:
  // requests are then answered 503 at once instead of waiting for a worker that may not come.
  void set_failing(bool failing) {
    if (failing_.exchange(failing, std::memory_order_acq_rel) == failing) return;
    if (failing && waiters_.load(std::memory_order_acquire) > 0) wake_all();
  }
  bool failing() const { return failing_.load(std::memory_order_acquire); }

  // A loop asks the supervisor (main thread) to kill the worker that runs a request past
  // request_timeout; the worker names itself by pid, and the supervisor kills it only if that
  // pid is one of its own unreaped children. Wakes kill_fd().
  void request_kill(int pid) {
    {
      std::lock_guard lock(mu_);  // once per timed-out request: never on the fast path
      kills_.push_back(pid);
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(kill_fd_, &one, sizeof one);
  }
  // For the supervisor: readable when kills are asked for; take_kills() empties it.
  int kill_fd() const { return kill_fd_; }
  std::vector<int> take_kills() {
    uint64_t n;
    [[maybe_unused]] ssize_t r = ::read(kill_fd_, &n, sizeof n);
    std::lock_guard lock(mu_);
    return std::exchange(kills_, {});
  }

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
  std::atomic<bool> failing_{false};
  std::mutex mu_;
  std::vector<loop::Backend*> loops_;
  std::vector<int> kills_;
  int kill_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
};

}  // namespace askr::backend
