// A loop's view of one FastCGI pool: its connections (idle and busy, up to max_connections),
// and the requests waiting for one (up to `queue`, for up to queue_timeout). One per pool per
// loop; connections are reused only by the loop that opened them. For an askr-worker pool, a
// request first claims an idle slot (shared by all loops), then runs on this loop's connection
// to that slot: at most one per slot, opened on the first claim and kept.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <vector>

#include "backend/exchange.h"
#include "backend/fcgi_link.h"
#include "backend/slots.h"
#include "loop/backend.h"
#include "loop/timer_list.h"
#include "shared/config/config.h"

namespace askr::backend {

struct PoolCounters {
  uint64_t connects = 0;
  uint64_t connect_errors = 0;
  uint64_t requests = 0;
  uint64_t queued = 0;
  uint64_t rejected = 0;  // 503: queue full or queue timeout
  uint64_t timeouts = 0;
  uint64_t failures = 0;
  uint64_t bad_responses = 0;           // a CGI head or body that broke the rules (502 or cut)
  uint64_t dropped_headers = 0;         // request fields not passed: names PHP would rewrite
  uint64_t skipped_response_lines = 0;  // CGI head lines dropped: no colon, or an invalid field
  uint64_t cut_bodies = 0;              // not run: the client left while queued, its body cut short
  // PHP requests ended (answered, failed or abandoned) and where their time went, in µs: see
  // handlers::PhpRequest for the stages.
  uint64_t timed_requests = 0;
  uint64_t queued_us = 0;
  uint64_t php_us = 0;
  uint64_t io_us = 0;
  // Responses whose body went (partly) pool -> pipe -> client with splice(2), and those bytes.
  uint64_t spliced_responses = 0;
  uint64_t spliced_bytes = 0;
};

class PoolClient {
 public:
  // `slots`: the shared slots of an askr-worker pool (nullptr for an external FastCGI backend,
  // where max_connections per loop applies instead).
  PoolClient(const config::Pool& cfg, loop::Backend& io, const int64_t& now_ms,
             PoolSlots* slots = nullptr);
  ~PoolClient();
  PoolClient(const PoolClient&) = delete;
  PoolClient& operator=(const PoolClient&) = delete;

  // Finds `ex` a connection: at once when one is idle (a slot idle, for an askr-worker pool),
  // when a new one connects, or when a busy one is released; or fails it (on_failure 503) when
  // the queue is full.
  void acquire(Exchange* ex);
  // `ex` no longer wants a connection (the client went away while queued).
  void cancel(Exchange* ex);
  // The request on `link` is finished. A link whose stream ended cleanly goes back to the idle
  // list or to the next waiting request; otherwise it is closed.
  void release(FcgiLink* link, bool reusable);
  // Retries `ex` on a fresh connection after its reused one, `failed`, ended before answering;
  // `failed` is closed (its slot claim goes to the new connection).
  void retry(Exchange* ex, FcgiLink* failed);
  // Timers: connect/read/send deadlines of links and the queue deadline.
  void tick(int64_t now_ms);
  // Closes idle links and fails waiting requests (loop shutdown).
  void shutdown();
  // Another loop freed a worker: waiting requests take what is free now.
  void take_free_workers();
  // Connections are kept between requests (FCGI_KEEP_CONN): always to askr-worker pools, to
  // an external backend when its `keepalive` says so.
  bool keeps_connections() const { return slots_ || cfg_.keepalive; }

  // For links.
  const config::Pool& cfg() const { return cfg_; }
  loop::Backend& io() { return io_; }
  int64_t now_ms() const { return now_ms_; }
  void link_closed(FcgiLink* link);  // the link's fd is closed; frees it
  void link_lost(FcgiLink* link);    // an idle link's connection ended
  PoolCounters& counters() { return counters_; }
  PoolSlots* slots() const { return slots_; }  // nullptr for an external backend
  uint32_t open() const { return open_; }
  loop::TimerList connect_timers, read_timers, send_timers;
  loop::TimerList request_timers;  // askr-worker pool: request_timeout (FcgiLink::request_timer)

 private:
  struct Waiter {
    Exchange* ex;
    int64_t deadline_ms;  // queue_timeout after it came, or sooner for a short wait
    bool short_wait;      // beyond `queue`, for a worker about to be free (may_wait_for_ending())
  };
  void open_link(Exchange* ex, int slot = -1);
  void hand_over(FcgiLink* link, Exchange* ex);
  void acquire_slot(Exchange* ex);
  void use_slot(int slot, Exchange* ex);
  void free_slot(FcgiLink* link);
  void enqueue(Exchange* ex);

  bool may_open();
  bool may_wait_for_ending() const;
  void expire_waiters(int64_t now_ms);
  void time_out(const Waiter& w);
  void reject_failing(Exchange* ex);
  void dequeue_front();

  const config::Pool& cfg_;
  loop::Backend& io_;
  PoolSlots* slots_;
  const int64_t& now_ms_;
  std::vector<FcgiLink*> idle_;
  std::vector<FcgiLink*> kept_;  // askr-worker pool: this loop's connection to each slot, or null
  std::deque<Waiter> waiting_;
  int loop_id_;                      // askr-worker pool: this loop's number in the pool's queue
  const std::atomic<int>* granted_;  // askr-worker pool: slots granted to this loop, not taken
  std::vector<int> taken_;           // askr-worker pool: the buffer slots are taken into
  uint32_t open_ = 0;                // links connecting, busy or idle
  uint32_t short_waits_ = 0;  // short waits in waiting_, at most (recounted by expire_waiters())
  PoolCounters counters_;
};

}  // namespace askr::backend
