// The request side of one FastCGI exchange, as a backend link sees it. Implemented by the PHP
// handler; the link calls it from the loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace askr::backend {

class FcgiLink;

class Exchange {
 public:
  virtual ~Exchange() = default;
  // A connected link is ours until we release it (PoolClient::release) or it fails.
  virtual void on_link(FcgiLink* link) = 0;
  // STDOUT content, as it arrives.
  virtual void on_stdout(std::string_view data) = 0;
  // Every record of one read has been passed on (through on_stdout), and the request goes on:
  // what the exchange holds back for more may go out now.
  virtual void on_records_done() {}
  // END_REQUEST: the backend finished this request. The link is already back in the pool.
  virtual void on_end() = 0;
  // The exchange cannot go on: no link (502 refused, 503 queue full or timed out, 504 connect
  // timeout) or the link failed (502 closed or bad protocol, 504 read/send timeout). The link,
  // if any, is gone already.
  virtual void on_failure(int status, const char* why) = 0;
  // Everything written to the link has been sent (for streaming request bodies).
  virtual void on_link_drained() {}
  // The link's socket has room again (after FcgiLink::wait_writable).
  virtual void on_link_writable() {}
  // After FcgiLink::stop_reading(): no more STDOUT arrives through on_stdout; the exchange
  // reads the stream itself (StdoutSplice) until it calls FcgiLink::resume_after_splice().
  virtual void on_link_recv_stopped() {}
  // The link's socket has bytes (after FcgiLink::wait_readable).
  virtual void on_link_readable() {}
  // True while nothing of the request has been sent that could not be sent again: a failure of
  // a reused idle connection is then retried once on a fresh one.
  virtual bool retryable() const { return false; }
  // The bytes to send again on a fresh connection when retrying.
  virtual std::string_view request_bytes() const { return {}; }
  // Appends, to a log line about the exchange (what the backend wrote to its stderr), the
  // client and request it serves, as nginx does: ", client: ..., request: \"...\"".
  virtual void describe(std::string& /*line*/) const {}
};

}  // namespace askr::backend
