// The slots of one askr-worker pool, shared by every loop. A pool has `workers` slots; each has
// its own listening socket (made by the supervisor, inherited by whichever worker occupies the
// slot, a replacement included), so a loop reaches a specific worker and keeps a connection to
// it. A slot is up while its worker is ready, and busy while a loop runs a request on it; a busy
// slot is ending once its worker has sent the whole response and owes only its END_REQUEST (it
// is about to be free: see ending()).
//
// While no request waits, a loop claims an idle slot with one compare-exchange and frees it
// with one atomic step. Once requests wait, they wait in one queue for the whole pool, in the
// order they arrived, whatever loop received them: each waiting request holds a ticket (its
// loop's number) in that queue, and a slot that comes free is granted to the loop of the first
// ticket, which is woken to run its oldest waiting request on it. A loop never keeps a slot for
// its own queue while another loop's requests have waited longer, so no loop starves another.
// This is the one place where loops share state.
#pragma once

#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <deque>
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

  // Claims an idle slot (up, not busy): its index, or -1 when none is idle. Only for a request
  // that finds no other waiting (queued() false): it would otherwise pass them.
  int claim() {
    for (unsigned i = 0; i < count_; ++i) {
      uint8_t s = kUp;
      if (slots_[i].state.compare_exchange_strong(s, kUp | kBusy, std::memory_order_seq_cst))
        return int(i);
    }
    return -1;
  }
  // Whether requests of any loop wait for a slot.
  bool queued() const { return waiters_.load(std::memory_order_seq_cst) > 0; }
  // How many requests of all loops wait for a slot.
  int waiting() const { return waiters_.load(std::memory_order_seq_cst); }

  // The worker of busy `slot` has sent its whole response; its END_REQUEST is still owed (a
  // worker-mode script back in its loop, or a script after fastcgi_finish_request()). Cleared
  // when the slot is released.
  void set_ending(int slot) { slots_[slot].state.fetch_or(kEnding, std::memory_order_seq_cst); }
  // How many slots are ending (about to be free), their worker up. For the queue's refusal
  // path only: it reads every slot.
  int ending() const {
    int n = 0;
    for (unsigned i = 0; i < count_; ++i) {
      uint8_t s = slots_[i].state.load(std::memory_order_seq_cst);
      if ((s & (kUp | kEnding)) == (kUp | kEnding)) ++n;
    }
    return n;
  }

  // Whether any slot's worker is ready. For the queue's timeout path only: it reads every slot.
  bool any_up() const {
    for (unsigned i = 0; i < count_; ++i) {
      if (slots_[i].state.load(std::memory_order_seq_cst) & kUp) return true;
    }
    return false;
  }

  // Loop `loop` has a request waiting: its ticket joins the queue, and any idle slot goes to
  // the first tickets at once (one may have come free since the caller's claim() failed).
  void wait(int loop) {
    std::lock_guard lock(mu_);
    queue_.push_back(loop);
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    grant_idle_locked(loop);
  }
  // Loop `loop` has one waiting request fewer (it went away, timed out or was refused): one of
  // its tickets leaves the queue, the last one, so that its other requests keep their places.
  // Where it holds no ticket, a slot granted to it is already on its way, and release() passes
  // that slot on when the loop finds no request for it.
  void unwait(int loop) {
    std::lock_guard lock(mu_);
    for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
      if (*it != loop) continue;
      queue_.erase(std::next(it).base());
      waiters_.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
  }
  // The slots granted to loop `loop` since it last asked; it runs a waiting request on each,
  // or release()s those it has no request for. granted(loop) counts them, for the loop to
  // read without the lock (the counter stays where it is while loops come and go).
  const std::atomic<int>& granted(int loop) {
    std::lock_guard lock(mu_);
    return loops_[size_t(loop)].granted;
  }
  // Into `out` (emptied first), whose buffer the loop's list keeps in exchange: slots passed back
  // and forth allocate nothing once both have grown.
  void take_granted(int loop, std::vector<int>& out) {
    out.clear();
    std::lock_guard lock(mu_);
    Loop& l = loops_[size_t(loop)];
    l.granted.store(0, std::memory_order_release);
    std::swap(out, l.slots);
  }

  // The request on `slot` ended (`loop`: the loop that ran it, or -1 for the supervisor): the
  // slot goes to the first waiting ticket, or becomes idle when none waits.
  void release(int slot, int loop = -1) {
    if (waiters_.load(std::memory_order_seq_cst) == 0) {
      make_idle(slot);
      // A request may have queued between the check and the release: wait() then either saw
      // this slot idle, or waiters_ is seen here.
      if (waiters_.load(std::memory_order_seq_cst) == 0) return;
      std::lock_guard lock(mu_);
      return grant_idle_locked(loop);
    }
    std::lock_guard lock(mu_);
    pass_on_locked(slot, loop);
  }
  // The supervisor marks a slot up when its worker is ready, down when that worker exits or is
  // told to retire. A busy slot stays busy until its request ends.
  void set_up(int slot, bool up) {
    if (up) {
      slots_[slot].state.fetch_or(kUp, std::memory_order_seq_cst);
      if (waiters_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard lock(mu_);
        grant_idle_locked(-1);
      }
    } else {
      slots_[slot].state.fetch_and(uint8_t(~kUp), std::memory_order_seq_cst);
    }
  }

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

  // Each loop registers its backend once, at start-up: its number in the queue.
  int add_loop(loop::Backend* b) {
    std::lock_guard lock(mu_);
    loops_.emplace_back().backend = b;
    return int(loops_.size() - 1);
  }
  // A loop that ends gives back its tickets and the slots granted to it.
  void remove_loop(int loop) {
    std::lock_guard lock(mu_);
    Loop& l = loops_[size_t(loop)];
    l.backend = nullptr;
    size_t before = queue_.size();
    std::erase(queue_, loop);
    waiters_.fetch_sub(int(before - queue_.size()), std::memory_order_seq_cst);
    for (int slot : std::exchange(l.slots, {})) pass_on_locked(slot, loop);
    l.granted.store(0, std::memory_order_release);
  }

 private:
  static constexpr uint8_t kUp = 1;      // its worker is ready
  static constexpr uint8_t kBusy = 2;    // a loop runs a request on it
  static constexpr uint8_t kEnding = 4;  // busy, the response sent, END_REQUEST owed
  struct alignas(64) Slot {              // one cache line each: loops claim them concurrently
    std::atomic<uint8_t> state{0};
    sockaddr_un addr{};
    socklen_t addr_len = 0;
  };

  struct Loop {
    loop::Backend* backend = nullptr;  // null once the loop has ended
    std::vector<int> slots;            // granted, not yet taken
    std::atomic<int> granted{0};       // slots.size(), read without the lock
  };

  // Under mu_: `slot`, held busy, goes to the loop of the first ticket, which is woken unless it
  // is `self` (the caller, which takes its grants before it next waits).
  void grant_locked(int slot, int self) {
    int loop = queue_.front();
    queue_.pop_front();
    slots_[slot].state.fetch_and(uint8_t(~kEnding), std::memory_order_seq_cst);  // its next request
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
    Loop& l = loops_[size_t(loop)];
    l.slots.push_back(slot);
    l.granted.fetch_add(1, std::memory_order_release);
    if (loop != self && l.backend) l.backend->wake();
  }
  // Under mu_: `slot`, held busy and done with, goes to the first ticket while its worker is
  // up; else (no ticket, or its worker left) it is no longer busy.
  void pass_on_locked(int slot, int self) {
    if (!queue_.empty() && (slots_[slot].state.load(std::memory_order_seq_cst) & kUp)) {
      grant_locked(slot, self);
    } else {
      make_idle(slot);
    }
  }
  void make_idle(int slot) {
    slots_[slot].state.fetch_and(uint8_t(~(kBusy | kEnding)), std::memory_order_seq_cst);
  }
  // Under mu_: idle slots go to the first tickets.
  void grant_idle_locked(int self) {
    while (!queue_.empty()) {
      int slot = claim();
      if (slot < 0) return;
      grant_locked(slot, self);
    }
  }

  void wake_all() {
    std::lock_guard lock(mu_);  // only when the pool starts or stops failing
    for (Loop& l : loops_) {
      if (l.backend) l.backend->wake();
    }
  }

  std::unique_ptr<Slot[]> slots_;
  unsigned count_;
  std::atomic<int> waiters_{0};
  std::atomic<bool> failing_{false};
  std::mutex mu_;
  std::deque<Loop> loops_;  // by loop number; a deque, so a Loop never moves
  std::deque<int> queue_;   // the waiting requests' tickets (loop numbers), oldest first
  std::vector<int> kills_;
  int kill_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
};

}  // namespace askr::backend
