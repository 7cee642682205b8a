#include "backend/pool_client.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/base/log.h"

namespace askr::backend {

PoolClient::PoolClient(const config::Pool& cfg, loop::Backend& io, const int64_t& now_ms,
                       PoolSlots* slots)
    : connect_timers(cfg.connect_timeout.count()),
      // Askr's workers have no read timeout of their own: none tighter than request_timeout.
      read_timers(cfg.own ? cfg.request_timeout.count() : cfg.read_timeout.count()),
      send_timers(cfg.send_timeout.count()),
      request_timers(cfg.request_timeout.count()),
      cfg_(cfg),
      io_(io),
      slots_(slots),
      now_ms_(now_ms),
      kept_(slots ? slots->count() : 0, nullptr),
      loop_id_(slots ? slots->add_loop(&io) : -1),
      granted_(slots ? &slots->granted(loop_id_) : nullptr) {}

// A new connection may be opened to an external backend: under max_connections.
bool PoolClient::may_open() {
  return open_ < cfg_.max_connections;
}

// The oldest waiting request leaves the queue without a slot: its ticket in the pool's queue
// goes too.
void PoolClient::dequeue_front() {
  waiting_.pop_front();
  if (slots_) slots_->unwait(loop_id_);
}

// Slots the pool granted to this loop go to its oldest waiting requests; one it has no request
// for any more is passed on.
void PoolClient::take_free_workers() {
  if (!slots_) return;
  if (granted_->load(std::memory_order_acquire) > 0) {
    std::vector<int> taken = std::move(taken_);  // its capacity, unless a call below re-enters
    slots_->take_granted(loop_id_, taken);
    for (int slot : taken) {
      if (waiting_.empty()) {
        slots_->release(slot, loop_id_);
        continue;
      }
      Exchange* ex = waiting_.front().ex;
      waiting_.pop_front();  // its ticket was spent on this slot
      use_slot(slot, ex);
    }
    taken_ = std::move(taken);
  }
  while (!waiting_.empty() && slots_->failing()) {
    Exchange* ex = waiting_.front().ex;
    dequeue_front();
    reject_failing(ex);
  }
}

// No worker of the pool is alive and the supervisor is backing off after failed starts.
void PoolClient::reject_failing(Exchange* ex) {
  ++counters_.rejected;
  LOG_LIMITED(kWarn, "pool %s: no worker is up (they fail at start-up); answering 503",
              cfg_.name.c_str());
  ex->on_failure(503, "pool workers fail to start");
}

PoolClient::~PoolClient() {
  if (slots_) slots_->remove_loop(loop_id_);
}

void PoolClient::acquire(Exchange* ex) {
  ++counters_.requests;
  if (slots_) return acquire_slot(ex);
  if (!idle_.empty()) {
    FcgiLink* link = idle_.back();
    idle_.pop_back();
    return hand_over(link, ex);
  }
  if (waiting_.empty() && may_open()) return open_link(ex);
  enqueue(ex);
}

// Askr-worker pool: an idle slot, whatever loop used it last, when no request of any loop
// waits; else the pool's queue.
void PoolClient::acquire_slot(Exchange* ex) {
  int slot = slots_->queued() ? -1 : slots_->claim();
  if (slot >= 0) return use_slot(slot, ex);
  if (slots_->failing()) return reject_failing(ex);
  enqueue(ex);
}

// A claimed slot: this loop's kept connection to it, or a new one.
void PoolClient::use_slot(int slot, Exchange* ex) {
  FcgiLink* link = kept_[size_t(slot)];
  if (!link || !link->is_connected()) return open_link(ex, slot);
  link->claimed = true;
  hand_over(link, ex);
}

// The request on `link` is over: its slot goes to the pool's oldest waiting request, of this
// loop or another.
void PoolClient::free_slot(FcgiLink* link) {
  if (!link->claimed) return;
  link->claimed = false;
  slots_->release(link->slot, loop_id_);
  take_free_workers();
}

// How long a request beyond the queue's limit may wait for a worker about to be free.
constexpr int64_t kEndingWaitMs = 1000;

// Whether a request the queue has no room for may wait all the same: a worker of the pool has
// sent its whole response and owes only its END_REQUEST (a worker-mode script back in its loop,
// which asks for its next request within microseconds unless it works there; or a script after
// fastcgi_finish_request()). It is about to be free, and a client that sends its next request as
// soon as it has read an answer must not get 503 from an idle pool (with queue = 0 it would,
// now and then). One such wait per ending worker, counting every request waiting in the pool,
// and kEndingWaitMs at most. Only on the way to a refusal: nothing on the common path.
bool PoolClient::may_wait_for_ending() const {
  return slots_ && slots_->ending() > slots_->waiting();
}

void PoolClient::enqueue(Exchange* ex) {
  int64_t deadline = now_ms_ + cfg_.queue_timeout.count();
  bool short_wait = waiting_.size() >= cfg_.queue;
  if (short_wait && !may_wait_for_ending()) {
    ++counters_.rejected;
    LOG_LIMITED(kWarn, "pool %s: %u connections busy and %zu requests queued; answering 503",
                cfg_.name.c_str(), open_, waiting_.size());
    return ex->on_failure(503, "pool queue full");
  }
  if (short_wait) {
    deadline = std::min(deadline, now_ms_ + kEndingWaitMs);
    ++short_waits_;
  }
  ++counters_.queued;
  waiting_.push_back({ex, deadline, short_wait});
  if (slots_) {
    slots_->wait(loop_id_);
    take_free_workers();  // a slot may have come free since the claim failed
  }
}

void PoolClient::cancel(Exchange* ex) {
  auto it =
      std::find_if(waiting_.begin(), waiting_.end(), [ex](const Waiter& w) { return w.ex == ex; });
  if (it == waiting_.end()) return;
  waiting_.erase(it);
  if (slots_) slots_->unwait(loop_id_);
}

void PoolClient::open_link(Exchange* ex, int slot) {
  auto* link = new FcgiLink(*this, slot);
  ++open_;
  ++counters_.connects;
  LOG_DEBUG("pool %s: new connection (%u open)", cfg_.name.c_str(), open_);
  link->attach(ex);
  if (slot >= 0) {
    link->claimed = true;
    kept_[size_t(slot)] = link;  // one that is closing is forgotten: it ends on its own
  }
  if (!link->connect()) {
    int err = errno;
    ++counters_.connect_errors;
    --open_;
    if (slot >= 0) {
      kept_[size_t(slot)] = nullptr;
      slots_->release(slot);
    }
    delete link;
    char why[200];
    snprintf(why, sizeof why, "connect() to %s failed: %s", cfg_.fastcgi.c_str(), strerror(err));
    LOG_LIMITED(kError, "pool %s: %s", cfg_.name.c_str(), why);
    return ex->on_failure(502, why);
  }
  ex->on_link(link);
}

void PoolClient::hand_over(FcgiLink* link, Exchange* ex) {
  link->attach(ex);
  ex->on_link(link);
}

void PoolClient::retry(Exchange* ex, FcgiLink* failed) {
  int slot = failed->slot;
  failed->claimed = false;  // the claim goes to the new connection
  failed->close_quietly();
  open_link(ex, slot);
}

// A reusable link: for an askr-worker pool its slot goes to the pool's oldest waiting request
// (the link is kept for this loop's next claim of that slot); for an external backend it goes
// straight to this loop's next waiting request, else to the idle list.
void PoolClient::release(FcgiLink* link, bool reusable) {
  if (!reusable) return link->close_quietly();
  if (slots_) return free_slot(link);
  if (!waiting_.empty()) {
    Exchange* ex = waiting_.front().ex;
    dequeue_front();
    return hand_over(link, ex);
  }
  idle_.push_back(link);
}

void PoolClient::link_lost(FcgiLink* link) {
  auto it = std::find(idle_.begin(), idle_.end(), link);
  if (it != idle_.end()) idle_.erase(it);
  link->close_quietly();
}

void PoolClient::link_closed(FcgiLink* link) {
  auto it = std::find(idle_.begin(), idle_.end(), link);
  if (it != idle_.end()) idle_.erase(it);
  --open_;
  if (slots_) {
    if (kept_[size_t(link->slot)] == link) kept_[size_t(link->slot)] = nullptr;
    free_slot(link);
    delete link;
    return;
  }
  delete link;
  // A slot is free: the longest-waiting request gets a fresh connection.
  if (!waiting_.empty() && open_ < cfg_.max_connections) {
    Exchange* ex = waiting_.front().ex;
    dequeue_front();
    open_link(ex);
  }
}

void PoolClient::tick(int64_t now_ms) {
  for (loop::TimerList* list : {&connect_timers, &read_timers, &send_timers}) {
    while (loop::TimerNode* n = list->pop_expired(now_ms)) {
      static_cast<FcgiLink::Timer*>(n)->link->on_timeout();
    }
  }
  while (loop::TimerNode* n = request_timers.pop_expired(now_ms)) {
    static_cast<FcgiLink::Timer*>(n)->link->on_request_timeout();
  }
  expire_waiters(now_ms);
}

// Waiting requests past their deadline are answered 503. Deadlines grow in arrival order,
// except after a short wait: while there may be one, every waiting request is looked at.
void PoolClient::expire_waiters(int64_t now_ms) {
  if (short_waits_ == 0) {
    while (!waiting_.empty() && waiting_.front().deadline_ms <= now_ms) {
      Waiter w = waiting_.front();
      dequeue_front();
      time_out(w);
    }
    return;
  }
  std::vector<Waiter> expired;  // answered once the queue is consistent again
  short_waits_ = 0;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->deadline_ms > now_ms) {
      short_waits_ += it->short_wait;
      ++it;
      continue;
    }
    expired.push_back(*it);
    it = waiting_.erase(it);
    if (slots_) slots_->unwait(loop_id_);
  }
  for (const Waiter& w : expired) time_out(w);
}

void PoolClient::time_out(const Waiter& w) {
  ++counters_.rejected;
  if (w.short_wait) {
    LOG_LIMITED(kWarn,
                "pool %s: request waited %lld ms for a worker finishing its request; "
                "answering 503",
                cfg_.name.c_str(),
                (long long)std::min<int64_t>(kEndingWaitMs, cfg_.queue_timeout.count()));
  } else if (slots_ && !slots_->any_up()) {
    // Not one worker is ready (a worker script still booting, or one that never calls
    // askr_handle_request()): the supervisor's lines say which.
    LOG_LIMITED(kWarn,
                "pool %s: request waited %lld ms, no worker of the pool being ready; answering "
                "503",
                cfg_.name.c_str(), (long long)cfg_.queue_timeout.count());
  } else {
    LOG_LIMITED(kWarn, "pool %s: request waited %lld ms for a connection; answering 503",
                cfg_.name.c_str(), (long long)cfg_.queue_timeout.count());
  }
  w.ex->on_failure(503, "pool queue timeout");
}

void PoolClient::shutdown() {
  while (!waiting_.empty()) {
    Exchange* ex = waiting_.front().ex;
    dequeue_front();
    ex->on_failure(503, "shutting down");
  }
  std::vector<FcgiLink*> idle;
  idle.swap(idle_);
  for (FcgiLink* l : kept_) {
    if (l && !l->exchange()) idle.push_back(l);  // idle, or draining an abandoned request
  }
  for (FcgiLink* l : idle) l->close_quietly();
}

}  // namespace askr::backend
