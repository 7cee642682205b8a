// A listening socket as a loop sees it: accepted sockets go to the shard.
//
// It stops accepting in two cases. The shard has max_connections open (pause/resume), and the
// process or the system ran out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): then,
// as nginx does, it waits kRetryMs and tries again from the shard's tick, so that a full
// descriptor table costs one log line and two attempts a second instead of a loop that spins
// and logs on every pending connection. Meanwhile new connections wait in the listen queue.
#pragma once

#include <cstdint>
#include <string>

#include "loop/backend.h"

namespace askr::server {

class Shard;

class Acceptor final : public loop::IoObject {
 public:
  static constexpr int64_t kRetryMs = 500;

  // Takes `listen_fd` over: the backend closes it on close().
  // `tls`: connections on this listener speak TLS. `http2`: they may speak HTTP/2 (chosen by
  // ALPN with TLS, by the client preface in cleartext).
  Acceptor(Shard& shard, int listen_fd, bool tls, bool http2);

  void start();
  // The shard's connection limit: stop accepting, and start again (unless an error back-off
  // is running; its retry then starts it).
  void pause();
  void resume();
  // From the shard's tick: ends an error back-off once its time has come.
  void tick(int64_t now_ms);
  // Stops for good and closes the listening socket (drain). The object lives on until the
  // shard goes. The socket is closed once closed() says so (io_uring: when the accept's
  // cancellation completes); until then it still takes connections into its queue.
  void close();
  bool closed() const { return socket_closed_; }
  // Connections wait in the listen queue (while paused, say). One poll(2), for the tick.
  bool has_waiting() const;

 private:
  void on_accept(int fd_or_error) override;
  void on_closed() override { socket_closed_ = true; }
  void on_error(int error);
  void update();  // starts or stops accepting to match paused_, closed_ and the back-off

  Shard& shard_;
  bool http2_;
  std::string address_;  // for log lines
  bool tls_ = false;
  bool paused_ = false;
  bool closed_ = false;
  bool socket_closed_ = false;  // the backend's on_closed came
  bool accepting_ = false;
  int64_t retry_at_ms_ = 0;  // > 0: backing off after an error until then
  uint64_t failures_ = 0;    // failed accepts since the last one that worked
};

}  // namespace askr::server
