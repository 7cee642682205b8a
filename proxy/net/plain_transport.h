// The plaintext transport: a TCP socket driven by the loop's backend. Everything can go
// without a copy: sendfile out, splice in and out.
#pragma once

#include <netinet/in.h>

#include <string>

#include "loop/backend.h"
#include "net/socket_addresses.h"
#include "net/transport.h"

namespace askr::net {

class PlainTransport final : public Transport, private loop::IoObject {
 public:
  // Takes ownership of the connected, non-blocking socket `fd`.
  PlainTransport(loop::Backend& io, int fd);
  ~PlainTransport() override;

  void start(TransportUser* user) override;
  ZeroCopy zero_copy() const override { return {true, true, true}; }
  bool secure() const override { return false; }
  void resume_recv() override { io_.resume_recv(this); }
  void pause_recv() override { io_.pause_recv(this); }
  void stop_recv() override { io_.stop_recv(this); }
  void send(const iovec* iov, size_t count, bool more) override;
  ssize_t send_file(int file_fd, off_t* offset, size_t count) override;
  int splice_fd() const override { return fd; }
  void wait_writable() override { io_.wait_writable(this); }
  void wait_readable() override { io_.wait_readable(this); }
  void set_corked(bool corked) override;
  void shutdown_write() override;
  bool peer_left_short_of(uint64_t bytes) override;
  void close() override { io_.close(this); }
  const sockaddr* peer() override { return addresses_.peer(fd); }
  const sockaddr* local() override { return addresses_.local(fd); }

 private:
  // loop::IoObject
  void on_recv(std::string_view data) override { user_->on_data(data); }
  void on_recv_end(int error) override { user_->on_data_end(error); }
  void on_sent(int error) override { user_->on_sent(error); }
  void on_writable() override { user_->on_writable(); }
  void on_readable() override { user_->on_readable(); }
  void on_recv_stopped() override { user_->on_recv_stopped(); }
  void on_closed() override { user_->on_closed(); }

  loop::Backend& io_;
  TransportUser* user_ = nullptr;
  SocketAddresses addresses_;
};

// Transport::peer_left_short_of for a TCP socket: the peer closed (or reset) it, and fewer than
// `bytes` remain unread in it.
bool socket_peer_left_short_of(int fd, uint64_t bytes);

}  // namespace askr::net
