// epoll backend: the same completion contract as io_uring, built on edge-triggered readiness.
// Used where io_uring is missing or refused, or when asked for with io_backend = "epoll".
#pragma once

#include <memory>
#include <vector>

#include "loop/backend.h"
#include "shared/base/result.h"

namespace askr::loop {

class EpollBackend final : public Backend {
 public:
  static Result<std::unique_ptr<EpollBackend>> create(size_t recv_buffer_size = 16384);
  ~EpollBackend() override;

  const char* name() const override { return "epoll"; }
  void start_accept(IoObject* l) override;
  void stop_accept(IoObject* l) override;
  void resume_recv(IoObject* c) override;
  void pause_recv(IoObject* c) override;
  void stop_recv(IoObject* c) override;
  void wait_readable(IoObject* c) override;
  void sendv(IoObject* c, const iovec* iov, size_t count, bool more) override;
  void wait_writable(IoObject* c) override;
  void close(IoObject* c) override;
  void poll(int timeout_ms) override;
  void wake() override;

 private:
  // Work for poll() to do after the events, in the order it was queued; kClosed comes after
  // every entry queued for the object before close(), and nothing is queued for it after.
  enum class Work : uint8_t { kRead, kSent, kClosed, kStopped, kAccept };
  struct Deferred {
    IoObject* obj;
    Work work;
  };

  EpollBackend() = default;
  void add(IoObject* o, uint64_t tag);
  void want_out(IoObject* c);
  void on_event(IoObject* o, uint32_t events);
  void do_accept(IoObject* l);
  void do_read(IoObject* c);
  ssize_t recv_record(int fd, uint8_t& type);
  bool do_write(IoObject* c);  // true when the whole send went out
  void run_deferred();

  int epfd_ = -1;
  int wake_fd_ = -1;
  std::vector<char> scratch_;  // holds the loop's one receive buffer, like a provided buffer:
  char* recv_buf_ = nullptr;   // recv_size_ bytes in scratch_, base::kRecvSkew into a page
  size_t recv_size_ = 0;
  std::vector<Deferred> deferred_;
  std::vector<Deferred> running_;
};

}  // namespace askr::loop
