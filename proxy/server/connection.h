// A client connection as its shard sees it, whatever protocol it speaks: on the shard's list,
// with one timer, stoppable on drain. The protocol is picked per connection when it is accepted
// (server/protocol.h: ALPN or the first bytes choose between HTTP/1.1 and HTTP/2).
#pragma once

#include <string_view>

#include "loop/timer_list.h"

namespace askr::server {

class Connection {
 public:
  Connection() { timer.conn = this; }
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Begins serving. Called once, right after the shard put the connection on its list.
  // `received`: bytes already read from the transport by whoever chose the protocol.
  virtual void start(std::string_view received) = 0;
  // The connection's timer expired.
  virtual void on_timeout() = 0;
  // The shard is stopping: close now when idle, otherwise after the response in progress.
  virtual void drain() = 0;
  // Close at once (drain timeout).
  virtual void abort() = 0;

  // Shard bookkeeping.
  struct Timer : loop::TimerNode {
    Connection* conn;
  } timer;
  Connection* prev = nullptr;
  Connection* next = nullptr;
};

}  // namespace askr::server
