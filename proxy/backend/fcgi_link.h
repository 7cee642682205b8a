// One FastCGI connection from a loop to a pool's backend (php-fpm or askr-worker), kept alive
// between requests (FCGI_KEEP_CONN) and used by one request at a time. Owned by its PoolClient;
// never shared between loops. To an askr-worker pool, a link goes to one slot's socket (so to
// that slot's worker), and holds the slot's claim while a request runs on it.
#pragma once

#include <string>

#include "backend/exchange.h"
#include "loop/backend.h"
#include "loop/timer_list.h"
#include "shared/base/log.h"
#include "shared/fastcgi/decoder.h"
#include "shared/fastcgi/encoder.h"

namespace askr::backend {

class PoolClient;

class FcgiLink final : public loop::IoObject {
 public:
  // `slot`: the askr-worker slot to connect to; -1 for an external backend.
  FcgiLink(PoolClient& pool, int slot) : slot(slot), pool_(pool) {
    timer.link = this;
    request_timer.link = this;
  }
  ~FcgiLink() override = default;

  // Starts a non-blocking connect; false (with errno) when it failed at once.
  bool connect();
  // Queues bytes for the backend (copied) and sends them as soon as possible.
  void write(std::string_view bytes);
  // The same for `data` as records of a stream (STDIN), encoded straight into the queue: the
  // bytes are copied once, where encoding them apart first would copy them twice.
  void write_stream(fastcgi::RecordType type, uint16_t request_id, std::string_view data);
  bool write_idle() const { return !sending_ && wbuf_.empty(); }
  // The request is all queued and the connection is not kept: once the last byte is out, the
  // write side is shut. A backend that reads its socket to the end before it closes (php-fpm)
  // then finds the end at once, rather than waiting, its worker held, for our close.
  void shut_write_when_sent();
  size_t buffered() const { return sbuf_.size() + wbuf_.size(); }
  bool is_connected() const { return !connecting_ && !closed_ && fd >= 0; }
  // Calls the exchange's on_link_writable when the socket has room (the exchange writes to the
  // socket itself, with splice); the send timeout runs meanwhile.
  void wait_writable();
  // Back-pressure from the client side.
  void pause_reading();
  void resume_reading();
  // Hands the rest of the response stream to the exchange (a response spliced to the client):
  // records already received still go through on_stdout, then on_link_recv_stopped; from then
  // on the exchange reads the socket itself, through decoder(), until resume_after_splice().
  // The end of the request (END_REQUEST received before the stop took effect, or abort) puts
  // the link back to ordinary reading by itself.
  void stop_reading();
  void resume_after_splice();
  bool reading_stopped() const { return stop_requested_; }
  fastcgi::Decoder& decoder() { return dec_; }
  // While stopped: calls the exchange's on_link_readable when the socket has bytes (the
  // backend owes them: the read timeout runs).
  void wait_readable();
  // The exchange waits on the client, not on the backend (no read timeout): while stopped, or
  // while a spliced request body waits for the client's next bytes.
  void waiting_on_client();

  void attach(Exchange* ex) { ex_ = ex; }
  Exchange* exchange() const { return ex_; }
  // The exchange is abandoned mid-request (the client went away, or the answer broke the
  // rules): the connection cannot be reused, so it is closed.
  void abandon();
  // The client went away after request `request_id` was handed over whole. To an askr-worker,
  // the link sends ABORT_REQUEST and keeps the slot until the worker's END_REQUEST (its output
  // dropped), so that no request goes to a worker still busy with this one, and the connection
  // is kept; otherwise, or with part of the request still unsent, as abandon().
  void abort(uint16_t request_id);
  // Closes without telling anyone (pool shutdown).
  void close_quietly();

  bool reused = false;  // has served a request before: a first failure may be retried
  const int slot;
  bool claimed = false;  // holds its slot's claim: released when the request ends
  struct Timer : loop::TimerNode {
    FcgiLink* link;
  } timer;
  void on_timeout();
  // To an askr-worker: request_timeout, which bounds the whole request from start_request_clock()
  // to END_REQUEST, however often the worker writes. A wait on the client (a slow reader) holds
  // it, and it starts again when the wait ends, since the client timers cover that wait.
  Timer request_timer;
  // PHP has the request (the whole of it, or it answered first): request_timeout runs. Once per
  // request; nothing for an external backend.
  void start_request_clock();
  void on_request_timeout();

 private:
  void on_writable() override;
  void on_recv(std::string_view data) override;
  void on_recv_end(int error) override;
  void on_sent(int error) override;
  void on_closed() override;
  void on_readable() override;
  void on_recv_stopped() override;

  void connected();
  void end_stop();
  void flush();
  // Ends the exchange with `status`; `why` is logged through `limit` (LOG_LIMIT_SITE() at the
  // caller: one window per cause).
  void fail(int status, const char* why, log::RateLimit& limit);
  void finish_request();
  void end_response();
  void end_of_request();
  void detach(const Exchange& ex, const char* when);
  void kill_worker();
  void hold_request_clock();
  void resume_request_clock();
  void finish_drain();
  bool may_retry(int error) const;
  void retry();
  void shut_if_sent();

  PoolClient& pool_;
  Exchange* ex_ = nullptr;
  fastcgi::Decoder dec_;
  std::string sbuf_;  // being sent
  std::string wbuf_;  // waiting to be sent
  // The request its worker works on after the exchange left (detach()), for the log.
  std::string detached_;
  bool connecting_ = false;
  bool sending_ = false;
  bool closed_ = false;
  bool paused_ = false;
  bool got_response_ = false;     // any record of the current request arrived
  bool peer_closed_ = false;      // the backend closed while our send was in flight
  bool draining_ = false;         // abandoned or answered: records dropped until END_REQUEST
  bool stop_requested_ = false;   // stop_reading(): the exchange reads the socket itself
  bool release_on_sent_ = false;  // the request is over: back to the pool when the send ends
  bool shut_when_sent_ = false;   // shutdown(SHUT_WR) once what is queued is out
  bool clock_held_ = false;       // request_timer unlinked while the client is waited on
};

}  // namespace askr::backend
