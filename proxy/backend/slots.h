// The slots of one askr-worker pool, shared by every loop. A pool has `workers` slots; each has
// its own listening socket (made by the supervisor, inherited by whichever worker occupies the
// slot, a replacement included), so a loop reaches a specific worker and keeps a connection to
// it. A slot is up while its worker is ready, and busy while a loop runs a request on it: a loop
// claims an idle slot with one compare-exchange and releases it when the request ends, and loops
// with waiting requests are woken only when someone waits. The one place where loops share
// state, so that a request never waits while a worker of its pool is idle, whatever loop
// received it.
#pragma once

#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "loop/backend.h"

namespace askr::backend {

class PoolSlots {
 public:
  explicit PoolSlots(unsigned count = 0) : slots_(std::make_unique<Slot[]>(count)), count_(count) {}
  ~PoolSlots() {
    if (kill_fd_ >= 0) ::close(kill_fd_);
  }
  PoolSlots(const PoolSlots&) = delete;
  PoolSlots& operator=(const PoolSlots&) = delete;

  unsigned count() const { return count_; }

  // Claims an idle slot (up, not busy): its index, or -1 when none is idle.
  int claim() {
    for (unsigned i = 0; i < count_; ++i) {
      uint8_t s = kUp;
      if (slots_[i].state.compare_exchange_strong(s, kUp | kBusy, std::memory_order_acq_rel))
        return int(i);
    }
    return -1;
  }
  // The request on `slot` ended: the slot is free again, and loops with waiting requests are
  // woken.
  void release(int slot) {
    slots_[slot].state.fetch_and(uint8_t(~kBusy), std::memory_order_acq_rel);
    if (waiters_.load(std::memory_order_acquire) > 0) wake_all();
  }
  // The supervisor marks a slot up when its worker is ready, down when that worker exits or is
  // told to retire. A busy slot stays busy until its request ends.
  void set_up(int slot, bool up) {
    if (up) {
      slots_[slot].state.fetch_or(kUp, std::memory_order_acq_rel);
      if (waiters_.load(std::memory_order_acquire) > 0) wake_all();
    } else {
      slots_[slot].state.fetch_and(uint8_t(~kUp), std::memory_order_acq_rel);
    }
  }
  void add_waiter() { waiters_.fetch_add(1, std::memory_order_acq_rel); }
  void remove_waiter() { waiters_.fetch_sub(1, std::memory_order_acq_rel); }

  // The address of slot `i`'s socket; set by the supervisor before any loop starts.
  const sockaddr_un& address(unsigned i) const { return slots_[i].addr; }
  socklen_t address_len(unsigned i) const { return slots_[i].addr_len; }
  void set_address(unsigned i, const sockaddr_un& addr, socklen_t len) {
    slots_[i].addr = addr;
    slots_[i].addr_len = len;
  }

  // The supervisor says whether the pool's workers keep failing to start, none being alive:
  // requests are then answered 503 at once instead of waiting for a worker that may not come.
  void set_failing(bool failing) {
    if (failing_.exchange(failing, std::memory_order_acq_rel) == failing) return;
    if (failing && waiters_.load(std::memory_order_acquire) > 0) wake_all();
  }
  bool failing() const { return failing_.load(std::memory_order_acquire); }

  // A loop asks the supervisor (main thread) to kill the worker of `slot`, which runs a request
  // past request_timeout. The slot stays busy: the supervisor releases it once that worker is
  // reaped, so no request is sent to a worker about to be killed. Wakes kill_fd().
  void request_kill(int slot) {
    {
      std::lock_guard lock(mu_);  // once per timed-out request: never on the fast path
      kills_.push_back(slot);
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
  static constexpr uint8_t kUp = 1;    // its worker is ready
  static constexpr uint8_t kBusy = 2;  // a loop runs a request on it
  struct alignas(64) Slot {            // one cache line each: loops claim them concurrently
    std::atomic<uint8_t> state{0};
    sockaddr_un addr{};
    socklen_t addr_len = 0;
  };

  void wake_all() {
    std::lock_guard lock(mu_);  // only taken when requests wait: never on the fast path
    for (loop::Backend* b : loops_) b->wake();
  }

  std::unique_ptr<Slot[]> slots_;
  unsigned count_;
  std::atomic<int> waiters_{0};
  std::atomic<bool> failing_{false};
  std::mutex mu_;
  std::vector<loop::Backend*> loops_;
  std::vector<int> kills_;
  int kill_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
};

}  // namespace askr::backend
