#include "loop/uring_backend.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "loop/tls_record.h"
#include "shared/base/copy.h"

namespace askr::loop {
namespace {

// One user_data encoding for the whole ring: the object pointer with the operation in the low
// three bits (objects are at least 8-byte aligned).
enum Op : uint64_t {
  kAccept = 0,
  kRecv = 1,
  kSend = 2,
  kPollOut = 3,
  kIgnore = 4,
  kWake = 5,
  kPollIn = 6,
};
constexpr uint64_t kOpMask = 7;
constexpr uint16_t kBufGroup = 0;

uint64_t tag(IoObject* o, Op op) {
  return reinterpret_cast<uint64_t>(o) | op;
}

// Work on completions after which queued sends are submitted without waiting for the batch.
constexpr int64_t kSubmitAfterNs = 50'000;

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Result<std::unique_ptr<UringBackend>> UringBackend::create(const UringOptions& opt) {
  std::unique_ptr<UringBackend> b(new UringBackend());
  io_uring_params p{};
  // SINGLE_ISSUER + DEFER_TASKRUN: only this loop thread submits, and completion work runs when
  // we ask for events instead of interrupting us. CQSIZE: multishot ops post many CQEs per SQE.
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  p.cq_entries = opt.entries * 8;
  int r = io_uring_queue_init_params(opt.entries, &b->ring_, &p);
  if (r < 0) return errno_error("io_uring_setup", -r);
  b->ring_ok_ = true;

  b->nbufs_ = opt.buffers;
  b->buf_size_ = opt.buffer_size;
  b->br_bytes_ = b->nbufs_ * sizeof(io_uring_buf);
  void* ring_mem =
      mmap(nullptr, b->br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_mem == MAP_FAILED) return errno_error("mmap buffer ring");
  b->br_ = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_ring_init(b->br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(b->br_);
  reg.ring_entries = b->nbufs_;
  reg.bgid = kBufGroup;
  r = io_uring_register_buf_ring(&b->ring_, &reg, 0);
  if (r < 0) return errno_error("io_uring_register_buf_ring", -r);
  // Each buffer starts kRecvSkew bytes into a page (a multiple of 4 KiB apart).
  const size_t bytes = size_t(b->nbufs_) * b->buf_size_ + base::kRecvSkew;
  b->bufs_mem_ = static_cast<char*>(std::aligned_alloc(4096, (bytes + 4095) & ~size_t(4095)));
  if (!b->bufs_mem_) return Error{ENOMEM, "receive buffers: out of memory"};
  b->bufs_ = b->bufs_mem_ + base::kRecvSkew;
  for (unsigned i = 0; i < b->nbufs_; ++i) b->recycle(i);
  io_uring_buf_ring_advance(b->br_, b->recycled_);
  b->recycled_ = 0;

  b->tls_msg_.msg_controllen = kTlsControlSpace;

  b->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->wake_fd_ < 0) return errno_error("eventfd");
  b->arm_wake();
  return b;
}

UringBackend::~UringBackend() {
  if (ring_ok_) io_uring_queue_exit(&ring_);
  if (br_) munmap(br_, br_bytes_);
  std::free(bufs_mem_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

io_uring_sqe* UringBackend::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (!s) {  // SQ full: hand what we have to the kernel and take a fresh slot
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void UringBackend::recycle(unsigned bid) {
  io_uring_buf_ring_add(br_, bufs_ + size_t(bid) * buf_size_, buf_size_, bid,
                        io_uring_buf_ring_mask(nbufs_), recycled_++);
}

void UringBackend::arm_wake() {
  io_uring_sqe* s = sqe();
  io_uring_prep_read(s, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
  io_uring_sqe_set_data64(s, tag(nullptr, kWake));
}

void UringBackend::start_accept(IoObject* l) {
  if (l->io.closing) return;
  l->io.accept_on = true;
  if (!l->io.accept_armed) arm_accept(l);
}

void UringBackend::stop_accept(IoObject* l) {
  if (l->io.closing) return;
  l->io.accept_on = false;
  if (!l->io.accept_armed) return;
  // The multishot accept ends with -ECANCELED (on_accept_cqe); start_accept before that lands
  // finds it still armed and lets the completion re-arm it.
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, tag(l, kAccept), 0);
  io_uring_sqe_set_data64(s, tag(nullptr, kIgnore));
}

void UringBackend::arm_accept(IoObject* l) {
  io_uring_sqe* s = sqe();
  io_uring_prep_multishot_accept(s, l->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, tag(l, kAccept));
  l->io.accept_armed = true;
  l->io.armed_ops |= 1u << kAccept;
  l->io.inflight++;
}

void UringBackend::resume_recv(IoObject* c) {
  if (c->io.closing) return;
  c->io.recv_on = true;
  c->io.stop_notify = false;
  if (!c->io.recv_armed) arm_recv(c);
}

void UringBackend::pause_recv(IoObject* c) {
  if (c->io.closing) return;
  c->io.recv_on = false;
  if (!c->io.recv_armed) return;
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, tag(c, kRecv), 0);
  io_uring_sqe_set_data64(s, tag(nullptr, kIgnore));
}

void UringBackend::stop_recv(IoObject* c) {
  if (c->io.closing) return;
  c->io.stop_notify = true;
  if (c->io.recv_armed) return pause_recv(c);  // on_recv_stopped when the recv completes
  c->io.recv_on = false;
  defer(c, false);
}

void UringBackend::wait_readable(IoObject* c) {
  if (c->io.closing) return;
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_add(s, c->fd, POLLIN);
  io_uring_sqe_set_data64(s, tag(c, kPollIn));
  c->io.armed_ops |= 1u << kPollIn;
  c->io.inflight++;
}

void UringBackend::arm_recv(IoObject* c) {
  io_uring_sqe* s = sqe();
  c->io.recv_msg = c->io.recv_tls;
  if (c->io.recv_msg) {
    // Multishot recvmsg: each buffer holds an io_uring_recvmsg_out header, the control data
    // (the TLS record type) and the payload. The template is read when the SQE is prepared.
    io_uring_prep_recvmsg_multishot(s, c->fd, &tls_msg_, 0);
  } else {
    io_uring_prep_recv_multishot(s, c->fd, nullptr, 0, 0);
  }
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kBufGroup;
  io_uring_sqe_set_data64(s, tag(c, kRecv));
  c->io.recv_armed = true;
  c->io.armed_ops |= 1u << kRecv;
  c->io.inflight++;
}

void UringBackend::sendv(IoObject* c, const iovec* iov, size_t count, bool more) {
  if (c->io.closing) return;
  set_send(c, iov, count, more);
  arm_send(c, false);
}

void UringBackend::arm_send(IoObject* c, bool poll_first) {
  io_uring_sqe* s = sqe();
  int flags = MSG_NOSIGNAL | (c->io.send_more ? MSG_MORE : 0);
  if (c->io.send_iovs <= 1) {
    io_uring_prep_send(s, c->fd, c->io.send_vec[0].iov_base, c->io.send_vec[0].iov_len, flags);
  } else {
    // The kernel reads the msghdr when the operation runs, which may be after this returns: it
    // lives in a per-ring slot until the completion, rather than in every connection.
    msghdr* m = msg_slot(c);
    *m = {};
    m->msg_iov = c->io.send_vec;
    m->msg_iovlen = c->io.send_iovs;
    io_uring_prep_sendmsg(s, c->fd, m, flags);
  }
  // After a short or refused send the socket is full: wait for room before trying again.
  if (poll_first) s->ioprio |= IORING_RECVSEND_POLL_FIRST;
  io_uring_sqe_set_data64(s, tag(c, kSend));
  c->io.armed_ops |= 1u << kSend;
  c->io.inflight++;
}

void UringBackend::wait_writable(IoObject* c) {
  if (c->io.closing) return;
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_add(s, c->fd, POLLOUT);
  io_uring_sqe_set_data64(s, tag(c, kPollOut));
  c->io.armed_ops |= 1u << kPollOut;
  c->io.inflight++;
}

void UringBackend::close(IoObject* c) {
  if (c->io.closing) return;
  c->io.closing = true;
  c->io.recv_on = false;
  c->io.accept_on = false;
  c->io.stop_notify = false;
  if (c->io.inflight == 0) {
    ::close(c->fd);
    c->io.fd_closed = true;
    defer(c, true);  // on_closed from poll(), never from inside close()
    return;
  }
  // The kernel owns our buffers until each operation completes: cancel them all and close the
  // fd when the last completion arrives (complete()).
  cancel_all(c);
}

// Cancels by user_data, not by fd: the SQE may reach the kernel after the fd is closed and its
// number reused (the last completion can land in this same batch), while the object's address
// stays ours until on_closed.
void UringBackend::cancel_all(IoObject* c) {
  for (Op op : {kAccept, kRecv, kSend, kPollOut, kPollIn}) {
    if (!(c->io.armed_ops & (1u << op))) continue;
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, tag(c, op), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(s, tag(nullptr, kIgnore));
  }
}

void UringBackend::complete(IoObject* c) {
  if (--c->io.inflight > 0 || !c->io.closing) return;
  if (!c->io.fd_closed) ::close(c->fd);
  c->io.fd_closed = true;
  c->on_closed();
}

void UringBackend::defer(IoObject* c, bool closed) {
  c->io.inflight++;
  deferred_.push_back({c, closed});
}

void UringBackend::run_deferred() {
  // Entries queued by these callbacks run in the same round, in order.
  while (!deferred_.empty()) {
    running_.swap(deferred_);
    for (const Deferred& d : running_) {
      IoObject* o = d.obj;
      // A recv armed again since (resume, then stop) owes the notification itself.
      if (!d.closed && !o->io.closing && o->io.stop_notify && !o->io.recv_armed) {
        o->io.stop_notify = false;
        o->on_recv_stopped();
      }
      complete(o);
    }
    running_.clear();
  }
}

void UringBackend::on_accept_cqe(IoObject* l, int res, unsigned flags) {
  bool more = flags & IORING_CQE_F_MORE;
  if (!more) l->io.accept_armed = false;
  if (res >= 0 && l->io.closing) {
    ::close(res);
  } else if (!l->io.closing && res != -ECANCELED) {
    l->on_accept(res);  // may stop_accept, start_accept or close
  }
  // A multishot accept ends on an error or a cancellation: arm it again if still wanted.
  if (!more && !l->io.closing && l->io.accept_on && !l->io.accept_armed) arm_accept(l);
  if (!more) complete(l);
}

// One multishot recvmsg completion in `buf` (`len` bytes used): the payload goes to on_recv or,
// for a TLS record that is not application data, to on_recv_record. Returns the payload
// length: 0 is the end of the stream, as for recv.
int UringBackend::deliver_record(IoObject* c, char* buf, int len) {
  io_uring_recvmsg_out* o = io_uring_recvmsg_validate(buf, len, &tls_msg_);
  if (!o) return -EINVAL;
  auto* payload = static_cast<char*>(io_uring_recvmsg_payload(o, &tls_msg_));
  size_t n = io_uring_recvmsg_payload_length(o, len, &tls_msg_);
  msghdr m{};
  m.msg_control = io_uring_recvmsg_cmsg_firsthdr(o, &tls_msg_);
  m.msg_controllen = m.msg_control ? o->controllen : 0;
  uint8_t type = m.msg_control ? tls_record_type(&m) : kTlsApplicationData;
  if (n > 0 && !c->io.closing) {
    if (type == kTlsApplicationData)
      c->on_recv({payload, n});
    else
      c->on_recv_record(type, {payload, n});
  }
  return int(n);
}

void UringBackend::on_recv_cqe(IoObject* c, int res, unsigned flags) {
  if (flags & IORING_CQE_F_BUFFER) {
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    char* buf = bufs_ + size_t(bid) * buf_size_;
    if (c->io.recv_msg && res > 0) {
      res = deliver_record(c, buf, res);  // 0 at the end of the stream
    } else if (res > 0 && !c->io.closing) {
      c->on_recv({buf, size_t(res)});
    }
    recycle(bid);
  }
  if (flags & IORING_CQE_F_MORE) return;
  c->io.recv_armed = false;
  if (!c->io.closing) {
    bool stream_ended = res == 0 || (res < 0 && res != -ECANCELED && res != -ENOBUFS);
    if (stream_ended) {
      c->io.recv_on = false;
      c->io.stop_notify = false;
      c->on_recv_end(res);
    } else if (c->io.recv_on) {
      // The multishot ended without the socket ending (out of buffers, or a pause that was
      // lifted before its cancellation landed): keep receiving.
      arm_recv(c);
    } else if (c->io.stop_notify) {
      c->io.stop_notify = false;
      c->on_recv_stopped();
    }
  }
  complete(c);
}

msghdr* UringBackend::msg_slot(IoObject* c) {
  if (c->io.msg_slot == 0) {
    if (free_msgs_.empty()) {
      msgs_.push_back(std::make_unique<msghdr>());
      c->io.msg_slot = uint32_t(msgs_.size());
    } else {
      c->io.msg_slot = free_msgs_.back();
      free_msgs_.pop_back();
    }
  }
  return msgs_[c->io.msg_slot - 1].get();
}

void UringBackend::release_msg_slot(IoObject* c) {
  if (c->io.msg_slot == 0) return;
  free_msgs_.push_back(c->io.msg_slot);
  c->io.msg_slot = 0;
}

void UringBackend::on_send_cqe(IoObject* c, int res) {
  release_msg_slot(c);
  if (!c->io.closing) {
    if (res == -EAGAIN) res = 0;  // non-blocking socket full: the retry below polls first
    if (res >= 0) {
      advance_send(c, size_t(res));
      if (c->io.send_left > 0) {
        arm_send(c, true);
      } else {
        c->on_sent(0);
      }
    } else {
      c->io.send_left = 0;
      c->on_sent(res);
    }
  }
  complete(c);
}

void UringBackend::dispatch(io_uring_cqe* cqe) {
  uint64_t ud = io_uring_cqe_get_data64(cqe);
  auto* o = reinterpret_cast<IoObject*>(ud & ~kOpMask);
  int res = cqe->res;
  switch (ud & kOpMask) {
    case kAccept:
      on_accept_cqe(o, res, cqe->flags);
      break;
    case kRecv:
      on_recv_cqe(o, res, cqe->flags);
      break;
    case kSend:
      on_send_cqe(o, res);
      break;
    case kPollOut:
      if (!o->io.closing) o->on_writable();
      complete(o);
      break;
    case kPollIn:
      if (!o->io.closing) o->on_readable();
      complete(o);
      break;
    case kWake:
      arm_wake();
      break;
    default:
      break;
  }
}

void UringBackend::poll(int timeout_ms) {
  io_uring_cqe* cqe = nullptr;
  if (deferred_.empty()) {
    __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
    // Submit everything queued and wait for one completion or the timeout, in one syscall.
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  } else {
    io_uring_submit_and_get_events(&ring_);  // notifications are owed already: do not block
  }
  // Sends queued while completions are handled wait for the next submit. Where one completion
  // costs much (a TLS handshake's key exchange and signature: hundreds of µs), a batch of them
  // would hold every reply back until the last is done, and the clients would idle meanwhile;
  // so what is queued goes to the kernel as soon as a batch has run kSubmitAfterNs.
  int64_t since = monotonic_ns();
  unsigned seen = 0, head;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    dispatch(cqe);
    ++seen;
    if (io_uring_sq_ready(&ring_) == 0) continue;
    int64_t now = monotonic_ns();
    if (now - since < kSubmitAfterNs) continue;
    io_uring_submit(&ring_);
    since = now;
  }
  io_uring_cq_advance(&ring_, seen);
  if (recycled_) {
    io_uring_buf_ring_advance(br_, recycled_);
    recycled_ = 0;
  }
  run_deferred();
}

void UringBackend::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace askr::loop
