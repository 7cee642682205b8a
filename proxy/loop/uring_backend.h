// io_uring backend: multishot accept, multishot recv into a provided buffer ring, sends and
// poll-for-writable on the ring, one io_uring_enter per loop iteration.
#pragma once

#include <liburing.h>

#include <sys/socket.h>

#include <memory>
#include <utility>
#include <vector>

#include "loop/backend.h"
#include "shared/base/result.h"

namespace askr::loop {

struct UringOptions {
  unsigned entries = 1024;       // SQ size; the CQ is sized 8x for multishot bursts
  unsigned buffers = 512;        // provided receive buffers (a power of two)
  unsigned buffer_size = 16384;  // bytes each
};

class UringBackend final : public Backend {
 public:
  // Sets up the ring and the buffer ring. Fails with the reason when the kernel refuses.
  static Result<std::unique_ptr<UringBackend>> create(const UringOptions& opt);
  ~UringBackend() override;

  const char* name() const override { return "io_uring"; }
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
  UringBackend() = default;
  io_uring_sqe* sqe();
  void arm_accept(IoObject* l);
  void arm_recv(IoObject* c);
  void arm_send(IoObject* c, bool poll_first);
  msghdr* msg_slot(IoObject* c);
  void release_msg_slot(IoObject* c);
  void arm_wake();
  void cancel_all(IoObject* c);
  void dispatch(io_uring_cqe* cqe);
  void on_accept_cqe(IoObject* l, int res, unsigned flags);
  void on_recv_cqe(IoObject* c, int res, unsigned flags);
  int deliver_record(IoObject* c, char* buf, int len);
  void on_send_cqe(IoObject* c, int res);
  void complete(IoObject* c);  // one operation (or deferred notification) of c finished
  void defer(IoObject* c, bool closed);
  void run_deferred();
  void recycle(unsigned bid);

  io_uring ring_{};
  bool ring_ok_ = false;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  char* bufs_mem_ = nullptr;  // what was allocated: bufs_ starts base::kRecvSkew into it
  char* bufs_ = nullptr;
  unsigned nbufs_ = 0, buf_size_ = 0;
  unsigned recycled_ = 0;  // buffers handed back since the last advance
  int wake_fd_ = -1;
  uint64_t wake_buf_ = 0;
  // The msghdr of every multishot recvmsg (kernel TLS receive): no name, room for the record
  // type. Only its lengths matter; the kernel lays each buffer out from them.
  msghdr tls_msg_{};
  // Notifications owed without a kernel operation behind them, delivered at the end of poll():
  // on_recv_stopped after a stop_recv with no recv in flight, and the final completion of an
  // object closed with nothing in flight. Each counts in the object's io.inflight until it is
  // consumed, so on_closed never comes while an entry still points at the object.
  struct Deferred {
    IoObject* obj;
    bool closed;  // else: on_recv_stopped
  };
  std::vector<Deferred> deferred_;
  // msghdrs of the sendmsg operations in flight (IoObject::io.msg_slot is index + 1); grows to
  // the number of objects sending two pieces at once, then is reused through free_msgs_.
  std::vector<std::unique_ptr<msghdr>> msgs_;
  std::vector<uint32_t> free_msgs_;
  std::vector<Deferred> running_;
};

}  // namespace askr::loop
