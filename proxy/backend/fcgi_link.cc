#include "backend/fcgi_link.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "backend/pool_client.h"
#include "shared/base/copy.h"
#include "shared/base/log.h"
#include "shared/fastcgi/encoder.h"

namespace askr::backend {

bool FcgiLink::connect() {
  const config::Pool& cfg = pool_.cfg();
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&cfg.addr);
  socklen_t addr_len = cfg.addr_len;
  if (slot >= 0) {
    addr = reinterpret_cast<const sockaddr*>(&pool_.slots()->address(unsigned(slot)));
    addr_len = pool_.slots()->address_len(unsigned(slot));
  }
  fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  if (::connect(fd, addr, addr_len) == 0) {
    connected();
    return true;
  }
  if (errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    fd = -1;
    errno = err;
    return false;
  }
  connecting_ = true;
  pool_.connect_timers.arm(&timer, pool_.now_ms());
  pool_.io().wait_writable(this);
  return true;
}

void FcgiLink::wait_writable() {
  if (closed_) return;
  if (ex_) pool_.send_timers.arm(&timer, pool_.now_ms());  // the backend has yet to take more
  pool_.io().wait_writable(this);
}

void FcgiLink::on_writable() {
  if (!connecting_) {
    if (ex_) ex_->on_link_writable();
    return;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    ++pool_.counters().connect_errors;
    char why[160];
    snprintf(why, sizeof why, "connect() to %s failed: %s", pool_.cfg().fastcgi.c_str(),
             strerror(err));
    return fail(502, why, LOG_LIMIT_SITE());
  }
  connected();
}

void FcgiLink::connected() {
  connecting_ = false;
  loop::TimerList::unlink(&timer);
  pool_.io().resume_recv(this);
  flush();
}

void FcgiLink::write(std::string_view bytes) {
  base::append_bytes(wbuf_, bytes.data(), bytes.size());
  flush();
}

void FcgiLink::write_stream(fastcgi::RecordType type, uint16_t request_id, std::string_view data) {
  fastcgi::stream(wbuf_, type, request_id, data);
  flush();
}

void FcgiLink::shut_write_when_sent() {
  shut_when_sent_ = true;
  if (!connecting_) shut_if_sent();
}

// The write side, once shut_write_when_sent() asked for it and nothing is left to send.
void FcgiLink::shut_if_sent() {
  if (!shut_when_sent_ || sending_ || !wbuf_.empty() || closed_ || fd < 0) return;
  shut_when_sent_ = false;
  ::shutdown(fd, SHUT_WR);
}

void FcgiLink::flush() {
  if (sending_ || connecting_ || closed_ || wbuf_.empty()) return;
  sbuf_.swap(wbuf_);
  wbuf_.clear();
  sending_ = true;
  pool_.send_timers.arm(&timer, pool_.now_ms());
  pool_.io().send(this, sbuf_.data(), sbuf_.size());
}

void FcgiLink::on_sent(int error) {
  sending_ = false;
  sbuf_.clear();
  if (release_on_sent_ && (error < 0 || peer_closed_)) {  // the answer is in; the link is not
    release_on_sent_ = false;
    return close_quietly();
  }
  if (error < 0) {
    if (ex_ && reused && !got_response_ && ex_->retryable()) return retry();
    return fail(502, "send to backend failed", LOG_LIMIT_SITE());
  }
  // The backend closed cleanly after taking all we sent: it may have begun the request.
  if (peer_closed_) return fail(502, "backend closed the connection prematurely", LOG_LIMIT_SITE());
  if (!wbuf_.empty()) return flush();
  shut_if_sent();
  if (release_on_sent_) {
    release_on_sent_ = false;
    loop::TimerList::unlink(&timer);
    return pool_.release(this, true);
  }
  // All of the request so far is out: now the backend owes us an answer.
  if (ex_) {
    pool_.read_timers.arm(&timer, pool_.now_ms());
    ex_->on_link_drained();
  } else if (draining_) {
    pool_.read_timers.arm(&timer, pool_.now_ms());  // request_timeout still applies
  } else {
    loop::TimerList::unlink(&timer);
  }
}

void FcgiLink::on_recv(std::string_view data) {
  if (closed_) return;
  got_response_ = true;
  // Bytes received after a pause for the client (a receive already under way, on io_uring) are
  // no sign that the backend is waited on again: the timer stays off until resume_reading().
  if (ex_ && !sending_ && !paused_) pool_.read_timers.arm(&timer, pool_.now_ms());
  while (!closed_) {
    fastcgi::Decoder::Step s = dec_.next(data);
    data.remove_prefix(s.consumed);
    if (s.status == fastcgi::Decoder::Status::kNeedMore) {
      if (ex_ && !draining_) ex_->on_records_done();
      return;
    }
    if (s.status == fastcgi::Decoder::Status::kError)
      return fail(502, dec_.error(), LOG_LIMIT_SITE());
    if (draining_) {
      if (s.type == fastcgi::RecordType::kEndRequest) finish_drain();
      continue;
    }
    if (!ex_) return fail(502, "backend sent a record outside of a request", LOG_LIMIT_SITE());
    switch (s.type) {
      case fastcgi::RecordType::kStdout:
        if (!s.content.empty()) {
          ex_->on_stdout(s.content);
        } else if (pool_.slots()) {
          end_response();
        }
        break;
      case fastcgi::RecordType::kStderr:
        if (!s.content.empty()) {
          std::string_view msg = s.content;
          while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.remove_suffix(1);
          std::string where;
          ex_->describe(where);
          LOG_WARN("pool %s: FastCGI sent in stderr: \"%.*s\"%s", pool_.cfg().name.c_str(),
                   int(std::min<size_t>(msg.size(), 1500)), msg.data(), where.c_str());
        }
        break;
      case fastcgi::RecordType::kEndRequest:
        finish_request();
        break;
      default:
        break;  // GET_VALUES_RESULT and the like: nothing we asked for, nothing to do
    }
  }
}

void FcgiLink::finish_request() {
  Exchange* ex = ex_;
  ex_ = nullptr;
  end_of_request();
  ex->on_end();
}

// The end of STDOUT from an askr-worker: the response is complete, though the script may go on
// (fastcgi_finish_request()). The slot stays claimed until the worker's END_REQUEST says it is
// free, as after abort(): meanwhile the pool's requests go to idle workers, or wait for this one
// (PoolSlots::set_ending()) where none is idle and the queue is full.
void FcgiLink::end_response() {
  Exchange* ex = ex_;
  ex_ = nullptr;
  draining_ = true;
  detach(*ex, " after its answer");
  if (claimed) pool_.slots()->set_ending(slot);
  end_stop();
  if (paused_) resume_reading();
  ex->on_end();
}

// The exchange leaves while the worker goes on with its request: what names the request is kept
// (`when`, then as Exchange::describe() gives it) for a request_timeout that ends the worker.
void FcgiLink::detach(const Exchange& ex, const char* when) {
  detached_.assign(when);  // keeps its capacity: no allocation per request once warm
  ex.describe(detached_);
}

// The request is over: the link goes back to the pool.
void FcgiLink::end_of_request() {
  got_response_ = false;
  detached_.clear();
  reused = true;
  loop::TimerList::unlink(&timer);
  loop::TimerList::unlink(&request_timer);
  clock_held_ = false;
  end_stop();
  if (paused_) resume_reading();
  if (pool_.keeps_connections() && sending_ && wbuf_.empty()) {
    // The backend answered while our send's completion is still to come (the epoll backend
    // reports it after the reads of the same round): the connection goes back to the pool once
    // the send is known to be whole, rather than being closed and opened again.
    release_on_sent_ = true;
    pool_.send_timers.arm(&timer, pool_.now_ms());
  } else {
    pool_.release(this, pool_.keeps_connections() && !sending_ && wbuf_.empty());
  }
}

// The abandoned or answered request is over: the worker is free, and the connection still good.
void FcgiLink::finish_drain() {
  draining_ = false;
  end_of_request();
}

void FcgiLink::on_recv_end(int error) {
  if (!ex_) return pool_.link_lost(this);
  if (reused && !got_response_ && ex_->retryable()) {
    // Whether the send got through decides (see may_retry).
    if (pool_.slots() && sending_ && error == 0) {
      peer_closed_ = true;
      return;
    }
    if (may_retry(error)) return retry();
  }
  if (error) return fail(502, "backend connection failed", LOG_LIMIT_SITE());
  fail(502, "backend closed the connection prematurely", LOG_LIMIT_SITE());
}

// A reused connection ended before any answer. php-fpm closes a kept connection when its child
// recycles: the request is taken as never seen, as nginx does. An askr-worker that exits while
// idle closes its kept connections too, but one killed mid-request must not see its request run
// twice: the request is known unread only when the worker closed with it in its socket
// (ECONNRESET) or before it was sent (EPIPE, in on_sent).
bool FcgiLink::may_retry(int error) const {
  return !pool_.slots() || error == -ECONNRESET;
}

// Sends the request again on a fresh connection (to the same slot for an askr-worker pool).
void FcgiLink::retry() {
  Exchange* ex = ex_;
  ex_ = nullptr;
  pool_.retry(ex, this);
}

void FcgiLink::on_timeout() {
  ++pool_.counters().timeouts;
  if (connecting_) return fail(504, "connect to backend timed out", LOG_LIMIT_SITE());
  if (pool_.slots() && !sending_ && claimed) return kill_worker();
  if (sending_) return fail(504, "send to backend timed out", LOG_LIMIT_SITE());
  fail(504, "read from backend timed out", LOG_LIMIT_SITE());
}

void FcgiLink::start_request_clock() {
  if (slot < 0 || closed_ || clock_held_ || request_timer.linked()) return;
  pool_.request_timers.arm(&request_timer, pool_.now_ms());
}

void FcgiLink::on_request_timeout() {
  if (!claimed || closed_) return;
  ++pool_.counters().timeouts;
  kill_worker();
}

// The request ran past request_timeout: its worker is killed (by the supervisor), the client
// gets 504, or its response is cut.
void FcgiLink::kill_worker() {
  LOG_LIMITED(kWarn,
              "pool %s: request ran past request_timeout (%lld ms); killing the worker of slot %d",
              pool_.cfg().name.c_str(), (long long)pool_.cfg().request_timeout.count(), slot);
  claimed = false;  // the supervisor releases the slot once the worker is gone
  pool_.slots()->request_kill(slot);
  // A script that ran on after its answer (fastcgi_finish_request()) or after its client left
  // has no exchange left to name it: the line names its request, as php-fpm names the script it
  // kills.
  if (!ex_ && draining_ && !detached_.empty()) {
    LOG_LIMITED(kError, "pool %s: request_timeout%s", pool_.cfg().name.c_str(), detached_.c_str());
  }
  fail(504, "request_timeout", LOG_LIMIT_SITE());
}

void FcgiLink::hold_request_clock() {
  if (!request_timer.linked()) return;
  loop::TimerList::unlink(&request_timer);
  clock_held_ = true;
}

void FcgiLink::resume_request_clock() {
  if (!clock_held_) return;
  clock_held_ = false;
  start_request_clock();
}

void FcgiLink::pause_reading() {
  if (paused_ || closed_) return;
  paused_ = true;
  loop::TimerList::unlink(&timer);  // the client is slow, not the backend
  hold_request_clock();
  // Stopped receiving already: a pause on top would do nothing, and a resume would cancel the
  // owed on_recv_stopped.
  if (!stop_requested_) pool_.io().pause_recv(this);
}

void FcgiLink::resume_reading() {
  if (!paused_ || closed_) return;
  paused_ = false;
  if (ex_) pool_.read_timers.arm(&timer, pool_.now_ms());
  resume_request_clock();
  if (!stop_requested_) pool_.io().resume_recv(this);
}

void FcgiLink::stop_reading() {
  if (stop_requested_ || closed_) return;
  stop_requested_ = true;
  pool_.io().stop_recv(this);
}

void FcgiLink::on_recv_stopped() {
  if (!stop_requested_ || closed_) return;
  if (!ex_) return end_stop();
  ex_->on_link_recv_stopped();
}

void FcgiLink::resume_after_splice() {
  if (!stop_requested_ || closed_) return;
  if (ex_ && !paused_) pool_.read_timers.arm(&timer, pool_.now_ms());
  if (!paused_) resume_request_clock();
  end_stop();
}

// Back to ordinary reading (unless paused for the client); an on_recv_stopped still owed is
// cancelled.
void FcgiLink::end_stop() {
  if (!stop_requested_ || closed_) return;
  stop_requested_ = false;
  if (!paused_) pool_.io().resume_recv(this);
}

void FcgiLink::wait_readable() {
  if (closed_) return;
  if (ex_) pool_.read_timers.arm(&timer, pool_.now_ms());
  resume_request_clock();
  pool_.io().wait_readable(this);
}

void FcgiLink::waiting_on_client() {
  loop::TimerList::unlink(&timer);
  hold_request_clock();
}

void FcgiLink::on_readable() {
  if (closed_) return;
  if (stop_requested_) {
    if (ex_) ex_->on_link_readable();
    return;
  }
  // A wait that outlived the splice (the client went away meanwhile): the epoll backend hands
  // the edge here instead of reading, so ask for the read.
  if (!paused_) pool_.io().resume_recv(this);
}

void FcgiLink::fail(int status, const char* why, log::RateLimit& limit) {
  if (closed_) return;
  ++pool_.counters().failures;
  Exchange* ex = ex_;
  ex_ = nullptr;
  close_quietly();
  if (ex) {
    std::string where;  // which request failed, as nginx names it
    ex->describe(where);
    LOG_LIMITED_AT(limit, kError, "pool %s: %s%s", pool_.cfg().name.c_str(), why, where.c_str());
    ex->on_failure(status, why);
  }
}

void FcgiLink::abandon() {
  ex_ = nullptr;
  close_quietly();
}

void FcgiLink::abort(uint16_t request_id) {
  if (!claimed || !write_idle() || closed_) return abandon();
  if (ex_) detach(*ex_, " after its client left");
  ex_ = nullptr;
  draining_ = true;
  if (paused_) resume_reading();
  end_stop();  // a response was being spliced: the rest is read and dropped
  std::string record;
  fastcgi::abort_request(record, request_id);
  write(record);
}

void FcgiLink::close_quietly() {
  if (closed_) return;
  closed_ = true;
  loop::TimerList::unlink(&timer);
  loop::TimerList::unlink(&request_timer);
  if (fd < 0) return pool_.link_closed(this);
  pool_.io().close(this);
}

void FcgiLink::on_closed() {
  pool_.link_closed(this);
}

}  // namespace askr::backend
