#include "backend/pool_client.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/base/log.h"

namespace askr::backend {

PoolClient::PoolClient(const config::Pool& cfg, loop::Backend& io, const int64_t& now_ms,
                       PoolSlots* slots)
    : connect_timers(cfg.connect_timeout.count()),
      // For askr workers the read deadline is the request's hard limit (request_timeout).
      read_timers(cfg.own ? cfg.request_timeout.count() : cfg.read_timeout.count()),
      send_timers(cfg.send_timeout.count()),
      cfg_(cfg),
      io_(io),
      slots_(slots),
      now_ms_(now_ms) {}

// A new connection may be opened: under max_connections for an external backend; a free
// worker taken from the shared count for askr workers.
bool PoolClient::may_open() {
  if (slots_) return slots_->try_take();
  return open_ < cfg_.max_connections;
}

void PoolClient::dequeue_front() {
  waiting_.pop_front();
  if (slots_) slots_->remove_waiter();
}

void PoolClient::take_free_workers() {
  while (!waiting_.empty() && slots_ && slots_->try_take()) {
    Exchange* ex = waiting_.front().ex;
    dequeue_front();
    open_link(ex);
  }
  while (!waiting_.empty() && slots_ && slots_->failing()) {
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

PoolClient::~PoolClient() = default;

void PoolClient::acquire(Exchange* ex) {
  ++counters_.requests;
  if (!idle_.empty()) {
    FcgiLink* link = idle_.back();
    idle_.pop_back();
    return hand_over(link, ex);
  }
  if (waiting_.empty() && may_open()) return open_link(ex);
  if (slots_ && slots_->failing()) return reject_failing(ex);
  if (waiting_.size() < cfg_.queue) {
    ++counters_.queued;
    waiting_.push_back({ex, now_ms_});
    if (slots_) {
      slots_->add_waiter();
      take_free_workers();  // a worker may have come free between the check and add_waiter
    }
    return;
  }
  ++counters_.rejected;
  LOG_LIMITED(kWarn, "pool %s: %u connections busy and %zu requests queued; answering 503",
              cfg_.name.c_str(), open_, waiting_.size());
  ex->on_failure(503, "pool queue full");
}

void PoolClient::cancel(Exchange* ex) {
  auto it =
      std::find_if(waiting_.begin(), waiting_.end(), [ex](const Waiter& w) { return w.ex == ex; });
  if (it == waiting_.end()) return;
  waiting_.erase(it);
  if (slots_) slots_->remove_waiter();
}

void PoolClient::open_link(Exchange* ex) {
  auto* link = new FcgiLink(*this);
  ++open_;
  ++counters_.connects;
  LOG_DEBUG("pool %s: new connection (%u open)", cfg_.name.c_str(), open_);
  link->attach(ex);
  if (!link->connect()) {
    int err = errno;
    ++counters_.connect_errors;
    --open_;
    delete link;
    if (slots_) slots_->put();
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

void PoolClient::retry(Exchange* ex) {
  open_link(ex);
}

void PoolClient::release(FcgiLink* link, bool reusable) {
  if (!reusable) return link->close_quietly();
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
  delete link;
  if (slots_) {
    slots_->put();  // wakes other loops' waiting requests too
    return take_free_workers();
  }
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
  while (!waiting_.empty() && waiting_.front().since_ms + cfg_.queue_timeout.count() <= now_ms) {
    Exchange* ex = waiting_.front().ex;
    dequeue_front();
    ++counters_.rejected;
    LOG_LIMITED(kWarn, "pool %s: request waited %lld ms for a connection; answering 503",
                cfg_.name.c_str(), (long long)cfg_.queue_timeout.count());
    ex->on_failure(503, "pool queue timeout");
  }
}

void PoolClient::shutdown() {
  while (!waiting_.empty()) {
    Exchange* ex = waiting_.front().ex;
    dequeue_front();
    ex->on_failure(503, "shutting down");
  }
  std::vector<FcgiLink*> idle;
  idle.swap(idle_);
  for (FcgiLink* l : idle) l->close_quietly();
}

}  // namespace askr::backend
