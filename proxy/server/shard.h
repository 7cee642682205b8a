// A shard: one event loop thread pinned to one CPU. It owns its backend (ring or epoll), its
// listening sockets, its connections, timers, access-log buffer and counters. Nothing in here
// is touched by another thread except stop(), which sets a flag and wakes the loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/pool_client.h"
#include "core/dispatch.h"
#include "core/router.h"
#include "handlers/php.h"
#include "http/h1_parser.h"
#include "http/h2_session.h"
#include "http/request.h"
#include "loop/backend.h"
#include "loop/timer_list.h"
#include "net/live_tls.h"
#include "net/tls_context.h"
#include "net/tls_transport.h"
#include "server/access_log.h"
#include "server/buffer_pool.h"
#include "server/connection.h"
#include "shared/config/config.h"

namespace askr::server {

class Acceptor;

// Everything a generation of the config gives the loops; immutable while they run, except the
// TLS contexts and the router, which SIGHUP replaces (the certificate files read anew, the roots
// resolved anew).
struct Generation {
  config::Config config;
  core::LiveRouter router;
  int access_log_fd = -1;  // -1: off
  // Certificates and TLS settings; null when no site has a certificate.
  net::LiveTlsContexts tls;
  // Where redirect_https sends clients: the first TLS listener's port (its bound port when it
  // was 0), else 443.
  int https_port = 443;
};

struct ShardCounters {
  uint64_t accepted = 0;
  uint64_t requests = 0;
  uint64_t bad_requests = 0;  // refused as bad input, by the parser or the request core
  uint64_t timeouts = 0;
  uint64_t accept_errors = 0;   // failed accepts (EMFILE, ENFILE, ...)
  uint64_t h2_connections = 0;  // connections that spoke HTTP/2
  uint64_t idle_closed = 0;     // idle connections closed to make room at max_connections
  http::H2Counters h2;          // all of this loop's HTTP/2 connections together
};

class Shard {
 public:
  // `slots[i]`: the shared worker count of pool i when it is an askr-worker pool, else null.
  Shard(const Generation& gen, unsigned index, int cpu, std::vector<int> listen_fds,
        std::vector<backend::PoolSlots*> slots = {});
  ~Shard();

  // Thread body: pins itself, creates its backend (`use_uring` picks io_uring), reports start-up
  // through `ready` ("" or an error), serves until stop() and the drain finish.
  void run(bool use_uring, std::atomic<int>& ready, std::string& error);
  // Thread-safe: stop accepting, let in-flight requests finish (up to the drain timeout).
  void stop();

  // For connections.
  loop::Backend& io() { return *backend_; }
  const Generation& gen() const { return gen_; }
  const config::Config& cfg() const { return gen_.config; }
  int64_t now_ms() const { return now_ms_; }
  time_t now_sec() const { return now_sec_; }
  std::string_view date_line() const { return {date_line_, date_len_}; }  // "Date: ...\r\n"
  bool draining() const { return draining_; }
  http::RequestHead& head() { return head_; }
  http::ParseProgress& progress() { return progress_; }  // for a head parsed in one go
  core::LoopServices& services() { return services_; }
  BufferPool& buffers() { return buffers_; }
  FreeList<http::Request>& requests() { return requests_; }
  AccessLog& access_log() { return access_log_; }
  ShardCounters& counters() { return counters_; }
  net::TlsCounters& tls_counters() { return tls_counters_; }
  const char* backend_name() const { return backend_->name(); }

  loop::TimerList header_timers, body_timers, keepalive_timers, send_timers, linger_timers,
      handshake_timers, h2_idle_timers;
  // On drain, how long an HTTP/2 client may take to answer the PING sent after the first
  // GOAWAY before the final one goes out.
  loop::TimerList h2_notice_timers{1000};
  // A closing connection drains what its client still sends, so that unread bytes do not make
  // close() reset the answer before the client reads it: while it comes no more than kLingerMs
  // apart, for kLingerTimeMs at most (nginx's lingering_timeout and lingering_time).
  static constexpr int64_t kLingerMs = 5000;
  static constexpr int64_t kLingerTimeMs = 30000;

  // At [server] max_connections open connections the acceptors pause (while clients wait, the
  // tick closes the connection idle the longest); release resumes them.
  // `tls`: the connection came on a TLS listener; `http2`: the listener's setting (ALPN may
  // choose h2; a cleartext connection may speak HTTP/2 with prior knowledge).
  void accept(int fd, bool tls, bool http2);
  void release(Connection* c);  // the connection is closed; frees it
  // `next` takes `old`'s place on the list (the protocol is chosen); the caller frees `old`.
  void replace(Connection* old, Connection* next);

 private:
  bool start_backend(bool use_uring, std::string& error);
  void close_an_idle_connection();
  void tick();
  void log_pool_times();
  void log_http_counters();
  void log_tls_counters();
  void log_h2_counters();
  void refresh_clock();
  void begin_drain();

  const Generation& gen_;
  unsigned index_;
  int cpu_;
  std::vector<int> listen_fds_;
  std::vector<backend::PoolSlots*> slots_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  // Declared before backend_ so that they outlive it: the ring is torn down first, then the
  // links it could have called.
  std::vector<std::unique_ptr<backend::PoolClient>> pools_;
  handlers::PhpLimits php_limits_;
  std::unique_ptr<loop::Backend> backend_;
  std::atomic<bool> stop_requested_{false};
  bool draining_ = false;
  int64_t drain_deadline_ms_ = 0;
  int64_t next_tick_ms_ = 0;
  int64_t now_ms_ = 0;
  time_t now_sec_ = 0;
  char date_line_[64] = {};
  size_t date_len_ = 0;
  Connection* conns_ = nullptr;  // intrusive list of open connections
  size_t nconns_ = 0;
  http::RequestHead head_;
  http::ParseProgress progress_;
  handlers::FileCache file_cache_;
  core::LoopServices services_;
  BufferPool buffers_;
  // Spare requests: enough for every stream of a busy loop in flight (HTTP/2 connections retire
  // and start streams in bursts of up to max_concurrent_streams each), with 4 MiB of buffers.
  FreeList<http::Request> requests_{16384, 4 << 20};
  AccessLog access_log_;
  ShardCounters counters_;
  net::TlsCounters tls_counters_;
  // This loop's reference to the current TLS contexts (null: no TLS), and the publish count it
  // was taken at.
  std::shared_ptr<const net::TlsContexts> tls_;
  uint64_t tls_seen_ = 0;
};

}  // namespace askr::server
