#include "server/shard.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "http/date.h"
#include "loop/epoll_backend.h"
#include "loop/uring_backend.h"
#include "net/plain_transport.h"
#include "server/acceptor.h"
#include "server/protocol.h"
#include "shared/base/log.h"

namespace askr::server {
namespace {

constexpr int64_t kTickMs = 100;  // timer resolution

int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

Shard::Shard(const Generation& gen, unsigned index, int cpu, std::vector<int> listen_fds,
             std::vector<backend::PoolSlots*> slots)
    : gen_(gen),
      index_(index),
      cpu_(cpu),
      listen_fds_(std::move(listen_fds)),
      slots_(std::move(slots)),
      access_log_(gen.access_log_fd, gen.config.access_log.format, gen.config.access_log.path) {
  const config::Timeouts& t = gen.config.timeouts;
  header_timers.set_duration(t.header.count());
  body_timers.set_duration(t.body.count());
  keepalive_timers.set_duration(t.keepalive.count());
  send_timers.set_duration(t.send.count());
  linger_timers.set_duration(kLingerMs);
  handshake_timers.set_duration(gen.config.tls.handshake_timeout.count());
  h2_idle_timers.set_duration(gen.config.http2.idle_timeout.count());
  php_limits_.body_buffer_size = gen.config.limits.body_buffer_size;
  php_limits_.temp_dir = gen.config.server.temp_dir;
  services_.live_router = &gen.router;
  services_.file_cache = &file_cache_;
  services_.pools = &pools_;
  services_.php_limits = &php_limits_;
  services_.https_port = gen.https_port;
  refresh_clock();  // responses made before run() have a Date line too
}

Shard::~Shard() = default;

bool Shard::start_backend(bool use_uring, std::string& error) {
  if (use_uring) {
    auto r = loop::UringBackend::create({});
    if (r) {
      backend_ = std::move(r.value());
      return true;
    }
    error = r.error().message;
    return false;
  }
  auto r = loop::EpollBackend::create();
  if (!r) {
    error = r.error().message;
    return false;
  }
  backend_ = std::move(r.value());
  return true;
}

void Shard::run(bool use_uring, std::atomic<int>& ready, std::string& error) {
  if (cpu_ >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) {
      LOG_WARN("loop %u: cannot pin to CPU %d: %s", index_, cpu_, std::strerror(errno));
    }
  }
  char name[16];
  snprintf(name, sizeof name, "askr-loop-%u", index_);
  pthread_setname_np(pthread_self(), name);
  bool ok = start_backend(use_uring, error);
  if (ok) {
    refresh_clock();
    for (size_t i = 0; i < gen_.config.pools.size(); ++i) {
      backend::PoolSlots* s = i < slots_.size() ? slots_[i] : nullptr;
      pools_.push_back(
          std::make_unique<backend::PoolClient>(gen_.config.pools[i], *backend_, now_ms_, s));
    }
    // One listening socket per [[listen]], in the config's order.
    for (size_t i = 0; i < listen_fds_.size(); ++i) {
      bool tls = i < gen_.config.listens.size() && gen_.config.listens[i].tls;
      bool http2 = i < gen_.config.listens.size() && gen_.config.listens[i].http2;
      acceptors_.push_back(std::make_unique<Acceptor>(*this, listen_fds_[i], tls, http2));
      acceptors_.back()->start();
    }
  }
  gen_.tls.refresh(tls_, tls_seen_);
  ready.fetch_add(ok ? 1 : 1000);
  ready.notify_all();
  if (!ok) return;

  next_tick_ms_ = now_ms_ + kTickMs;
  for (;;) {
    backend_->poll(int(std::max<int64_t>(1, next_tick_ms_ - now_ms_)));
    refresh_clock();
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i]) pools_[i]->take_free_workers();  // another loop may have freed a worker
    }
    if (stop_requested_.load(std::memory_order_relaxed) && !draining_) begin_drain();
    if (now_ms_ >= next_tick_ms_) tick();
    // A loop with nothing left to drain ends once its listening sockets are closed: left open,
    // they would take connections no one serves until the process exits.
    if (draining_ && nconns_ == 0 &&
        std::all_of(acceptors_.begin(), acceptors_.end(), [](auto& a) { return a->closed(); })) {
      break;
    }
    if (draining_ && now_ms_ >= drain_deadline_ms_) {
      LOG_WARN("loop %u: drain timeout, closing %zu connections", index_, nconns_);
      for (Connection* c = conns_; c; c = c->next) c->abort();
      drain_deadline_ms_ = INT64_MAX;
    }
  }
  // Idle backend connections close; give the backend a moment to report them closed so that
  // nothing is left behind.
  for (auto& p : pools_) p->shutdown();
  for (int i = 0;
       i < 50 && std::any_of(pools_.begin(), pools_.end(), [](auto& p) { return p->open() > 0; });
       ++i) {
    backend_->poll(10);
  }
  log_pool_times();
  log_http_counters();
  log_tls_counters();
  log_h2_counters();
  access_log_.flush();
}

// This loop's requests (over HTTP/1.1 and HTTP/2), those refused as bad input and the client
// timeouts, for the record and for tests, until the metrics expose them.
void Shard::log_http_counters() {
  const ShardCounters& c = counters_;
  if (c.accepted == 0) return;
  LOG_INFO("loop %u: http: %llu requests, %llu bad requests, %llu timeouts", index_,
           (unsigned long long)c.requests, (unsigned long long)c.bad_requests,
           (unsigned long long)c.timeouts);
}

// What this loop's TLS listeners saw, for the record and for tests, until the metrics expose it.
void Shard::log_tls_counters() {
  if (!tls_) return;
  const net::TlsCounters& c = tls_counters_;
  LOG_INFO(
      "loop %u: tls: %llu handshakes, %llu resumed, %llu failed, %llu plain HTTP, %llu not "
      "TLS, %llu errors, ktls %llu tx, %llu rx, %llu user, %llu sealed in user space",
      index_, (unsigned long long)c.handshakes, (unsigned long long)c.resumed,
      (unsigned long long)c.handshake_failures, (unsigned long long)c.plain_http,
      (unsigned long long)c.not_tls, (unsigned long long)c.errors, (unsigned long long)c.ktls_tx,
      (unsigned long long)c.ktls_rx, (unsigned long long)c.ktls_user, (unsigned long long)c.sealed);
}

// Where this loop's PHP requests spent their time, per pool, for benchmarks and for the record
// until the metrics expose the same totals.
void Shard::log_pool_times() {
  for (auto& p : pools_) {
    const backend::PoolCounters& c = p->counters();
    if (c.timed_requests == 0) continue;
    LOG_INFO("loop %u: pool %s: %llu PHP requests, %llu us queued, %llu us in PHP, %llu us in I/O",
             index_, p->cfg().name.c_str(), (unsigned long long)c.timed_requests,
             (unsigned long long)c.queued_us, (unsigned long long)c.php_us,
             (unsigned long long)c.io_us);
    if (c.spliced_responses == 0) continue;
    LOG_INFO("loop %u: pool %s: %llu responses spliced, %llu bytes", index_, p->cfg().name.c_str(),
             (unsigned long long)c.spliced_responses, (unsigned long long)c.spliced_bytes);
  }
}

// This loop's HTTP/2 totals, for the record until the metrics expose them.
void Shard::log_h2_counters() {
  const http::H2Counters& h = counters_.h2;
  if (counters_.h2_connections == 0) return;
  LOG_INFO(
      "loop %u: http2: %llu connections, %llu streams, %llu refused, %llu resets received, "
      "%llu resets sent, %llu bad header blocks, %llu floods, %llu goaways",
      index_, (unsigned long long)counters_.h2_connections, (unsigned long long)h.streams,
      (unsigned long long)h.refused, (unsigned long long)h.resets_received,
      (unsigned long long)h.resets_sent, (unsigned long long)h.bad_headers,
      (unsigned long long)h.floods, (unsigned long long)h.goaways);
}

void Shard::refresh_clock() {
  now_ms_ = monotonic_ms();
  time_t sec = time(nullptr);
  if (sec == now_sec_) return;
  now_sec_ = sec;
  file_cache_.set_now(sec);
  std::memcpy(date_line_, "Date: ", 6);
  size_t n = http::format_http_date(sec, date_line_ + 6);
  std::memcpy(date_line_ + 6 + n, "\r\n", 2);
  date_len_ = 6 + n + 2;
}

void Shard::tick() {
  next_tick_ms_ = now_ms_ + kTickMs;
  for (auto& p : pools_) p->tick(now_ms_);
  for (auto& a : acceptors_) a->tick(now_ms_);  // retries after accept errors
  gen_.tls.refresh(tls_, tls_seen_);  // an idle loop lets go of contexts replaced by a reload
  services_.refresh_router();         // and of roots
  if (nconns_ >= gen_.config.server.max_connections && !draining_ &&
      std::any_of(acceptors_.begin(), acceptors_.end(), [](auto& a) { return a->has_waiting(); })) {
    close_an_idle_connection();
  }
  for (loop::TimerList* list : {&handshake_timers, &header_timers, &body_timers, &keepalive_timers,
                                &send_timers, &linger_timers, &h2_idle_timers, &h2_notice_timers}) {
    while (loop::TimerNode* n = list->pop_expired(now_ms_))
      static_cast<Connection::Timer*>(n)->conn->on_timeout();
  }
  access_log_.flush();
}

void Shard::stop() {
  stop_requested_.store(true, std::memory_order_relaxed);
  if (backend_) backend_->wake();
}

void Shard::begin_drain() {
  draining_ = true;
  drain_deadline_ms_ = now_ms_ + gen_.config.timeouts.drain.count();
  for (auto& a : acceptors_) a->close();
  for (Connection* c = conns_; c;) {
    Connection* next = c->next;
    c->drain();
    c = next;
  }
}

void Shard::accept(int fd, bool tls, bool http2) {
  if (draining_) {
    ::close(fd);
    return;
  }
  ++counters_.accepted;
  // The transport follows the listener; the protocol is picked per connection
  // (server/protocol.h): ALPN over TLS, the client preface in cleartext.
  std::unique_ptr<net::Transport> transport;
  if (tls) gen_.tls.refresh(tls_, tls_seen_);
  if (tls && tls_) {
    transport = std::make_unique<net::TlsTransport>(*backend_, fd, tls_, tls_counters_, http2);
  } else {
    transport = std::make_unique<net::PlainTransport>(*backend_, fd);
  }
  Connection* c = make_connection(*this, std::move(transport), http2 && !tls);
  c->next = conns_;
  if (conns_) conns_->prev = c;
  conns_ = c;
  ++nconns_;
  if (nconns_ >= gen_.config.server.max_connections) {
    for (auto& a : acceptors_) a->pause();
  }
  c->start({});
}

// At max_connections, with clients waiting in the listen queue, the connection idle the longest
// gives way, as nginx reuses keep-alive connections when its worker_connections run out: one
// waiting for its next HTTP/1.1 request, else an HTTP/2 one with no stream (told GOAWAY). Its
// release resumes accepting. From the tick: a waiting client waits a tick at most for it.
void Shard::close_an_idle_connection() {
  for (loop::TimerList* list : {&keepalive_timers, &h2_idle_timers}) {
    if (loop::TimerNode* n = list->pop_first()) {
      ++counters_.idle_closed;
      LOG_LIMITED(kInfo,
                  "loop %u: %zu connections open (max_connections): closing the one idle "
                  "the longest",
                  index_, nconns_);
      static_cast<Connection::Timer*>(n)->conn->on_timeout();
      return;
    }
  }
}

void Shard::replace(Connection* old, Connection* next) {
  loop::TimerList::unlink(&old->timer);
  next->prev = old->prev;
  next->next = old->next;
  if (old->prev) old->prev->next = next;
  if (old->next) old->next->prev = next;
  if (conns_ == old) conns_ = next;
  old->prev = old->next = nullptr;
}

void Shard::release(Connection* c) {
  if (c->prev) c->prev->next = c->next;
  if (c->next) c->next->prev = c->prev;
  if (conns_ == c) conns_ = c->next;
  if (nconns_-- == gen_.config.server.max_connections) {
    for (auto& a : acceptors_) a->resume();
  }
  delete c;
}

}  // namespace askr::server
