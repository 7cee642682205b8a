// The I/O interface one event loop drives: a completion ("proactor") model that both the
// io_uring and the epoll backend implement, so connection code is written once.
//
// Contract shared by both backends:
// - Every callback runs on the loop thread, from Backend::poll(), never from inside the call
//   that started the operation.
// - An IoObject is never freed while the backend may still call it: after close() the backend
//   calls on_closed() exactly once, after the last completion and after every deferred
//   notification queued for it (an owed on_recv_stopped, a deferred read); only then may the
//   owner free it. close() may be called from inside any of the object's own callbacks.
// - After close() every other call on the object is a no-op: nothing is started, no callback
//   but the one on_closed() follows, and the closed fd is never used again.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace askr::loop {

// Per-socket state a backend needs. Owned by the object (connection or listener) that derives
// from it; the backend only reads and writes these fields.
class IoObject {
 public:
  virtual ~IoObject() = default;

  // A listener accepted `fd` (already non-blocking and close-on-exec), or failed with -errno.
  virtual void on_accept(int /*fd_or_error*/) {}
  // Bytes arrived. The view is valid only during the call.
  virtual void on_recv(std::string_view /*data*/) {}
  // The peer closed its side (0) or receiving failed (-errno). No more on_recv follows.
  virtual void on_recv_end(int /*error*/) {}
  // The whole send() buffer went out (0) or sending failed (-errno).
  virtual void on_sent(int /*error*/) {}
  // The socket can take more bytes (after wait_writable()).
  virtual void on_writable() {}
  // The socket has bytes to read (after wait_readable()).
  virtual void on_readable() {}
  // After Backend::recv_tls_records(): a TLS record that is not application data (an alert, a
  // handshake message) with its payload, as the kernel surfaced it. Valid during the call only.
  virtual void on_recv_record(uint8_t /*type*/, std::string_view /*data*/) {}
  // After stop_recv(): no on_recv will come any more; unread bytes stay in the socket.
  virtual void on_recv_stopped() {}
  // Nothing more will be delivered; the object may be freed now.
  virtual void on_closed() {}

  int fd = -1;

  // Backend bookkeeping; not for the owner.
  struct {
    iovec send_iov[2] = {};     // a send of up to two pieces, copied here
    iovec* send_vec = nullptr;  // what is left of the send in progress: send_iov, or the
                                // caller's own array for more pieces (see Backend::sendv)
    uint16_t send_iovs = 0;     // entries of send_vec still to go (the first may be partly sent)
    bool send_failed = false;   // epoll: the deferred on_sent reports a failure
    bool send_more = false;     // MSG_MORE: more bytes follow at once (a file after its head)
    uint32_t msg_slot = 0;      // io_uring: the backend's msghdr for this send, index + 1
    size_t send_left = 0;       // bytes left in all of them
    uint16_t inflight = 0;      // io_uring operations not yet completed
    bool closing = false;
    bool recv_on = false;     // the owner wants on_recv
    bool recv_armed = false;  // io_uring: a multishot recv is in flight
    bool recv_tls = false;    // read with recvmsg and report TLS record types (kernel TLS RX)
    bool recv_msg = false;    // io_uring: the armed recv is a recvmsg (recv_tls when armed)
    bool readable = false;    // epoll: edge seen, not drained to EAGAIN yet
    bool peer_hup = false;    // epoll: EPOLLRDHUP/HUP/ERR seen: read on to the end or error
    bool out_armed = false;   // epoll: EPOLLOUT is among the registered events
    bool writable = true;     // epoll: last write did not hit EAGAIN
    bool want_writable = false;
    bool want_readable = false;  // epoll: on_readable wanted
    bool stop_notify = false;    // on_recv_stopped owed
    bool accept_on = false;      // the owner wants on_accept
    bool accept_armed = false;   // io_uring: a multishot accept is in flight
    bool fd_closed = false;      // io_uring: the fd is closed, on_closed still owed
    uint8_t armed_ops = 0;       // io_uring: kinds of operations ever started (for cancel)
  } io;
};

// Fills c->io's send state from `iov`; both backends start a send with it. Up to two pieces
// are copied (the caller's array may go at once); more are taken where they are, and advanced
// in place as they go out.
inline void set_send(IoObject* c, const iovec* iov, size_t count, bool more) {
  c->io.send_more = more;
  c->io.send_iovs = 0;
  c->io.send_left = 0;
  c->io.send_failed = false;
  if (count > 2) {
    c->io.send_vec = const_cast<iovec*>(iov);
    c->io.send_iovs = uint16_t(count);
    for (size_t i = 0; i < count; ++i) c->io.send_left += iov[i].iov_len;
    return;
  }
  c->io.send_vec = c->io.send_iov;
  for (size_t i = 0; i < count; ++i) {
    if (iov[i].iov_len == 0) continue;
    c->io.send_iov[c->io.send_iovs++] = iov[i];
    c->io.send_left += iov[i].iov_len;
  }
}

// Takes `n` sent bytes off the front of c->io's send state.
inline void advance_send(IoObject* c, size_t n) {
  c->io.send_left -= n;
  while (c->io.send_iovs > 0) {
    iovec& v = c->io.send_vec[0];
    if (n < v.iov_len) {
      v.iov_base = static_cast<char*>(v.iov_base) + n;
      v.iov_len -= n;
      return;
    }
    n -= v.iov_len;
    ++c->io.send_vec;
    --c->io.send_iovs;
  }
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Accepts on the listening socket `l` until stop_accept(l) or close(l); each connection
  // reaches l->on_accept. A failed accept reaches l->on_accept(-errno) too; accepting goes on
  // unless the owner calls stop_accept (for EMFILE and the like it should, and retry later).
  virtual void start_accept(IoObject* l) = 0;
  // Stops accepting on `l` (start_accept starts again). Connections the kernel had already
  // accepted for `l` before the stop took effect may still reach on_accept (io_uring: those in
  // the completion batch being dispatched); the rest wait in the listen queue.
  virtual void stop_accept(IoObject* l) = 0;
  // Delivers incoming bytes to c->on_recv until pause_recv(c), the end of the stream or close.
  // Bytes already received by the kernel for c may still arrive after pause_recv. Resuming
  // cancels an on_recv_stopped that stop_recv owed and that has not been delivered yet.
  virtual void resume_recv(IoObject* c) = 0;
  virtual void pause_recv(IoObject* c) = 0;
  // Like pause_recv, then calls c->on_recv_stopped() once no more bytes can be delivered, so
  // that the rest of the stream can be read from the socket directly (splice).
  virtual void stop_recv(IoObject* c) = 0;
  // Kernel TLS receive: from the next resume_recv on, c is read with recvmsg and a control
  // buffer so that the kernel reports each record's type (TLS_GET_RECORD_TYPE): application
  // data reaches on_recv as before, any other record reaches on_recv_record. (A plain recv on
  // a kTLS socket fails with EIO at the first such record, a close_notify for one.) Call it
  // while receiving is stopped (after on_recv_stopped, or before the first resume_recv), once
  // the socket has TLS_RX. On a socket without kernel TLS nothing changes but the system call.
  void recv_tls_records(IoObject* c) { c->io.recv_tls = true; }
  // Sends [data, data+len) entirely, then calls c->on_sent. One send per object at a time; the
  // bytes must stay valid and unchanged until on_sent.
  void send(IoObject* c, const char* data, size_t len) {
    iovec v{const_cast<char*>(data), len};
    sendv(c, &v, 1, false);
  }
  // The same for up to kMaxSendIovs pieces sent as one (a response head and a body that lives
  // elsewhere, or HTTP/2 frames and the cached bodies they carry, without copying them
  // together). More than two pieces are used in place: the array, not only the bytes, stays
  // valid until on_sent, and the backend may change its entries meanwhile. `more`: the caller
  // sends more right after (MSG_MORE), so a response head and the file that follows it share
  // packets.
  static constexpr size_t kMaxSendIovs = 1024;  // IOV_MAX
  virtual void sendv(IoObject* c, const iovec* iov, size_t count, bool more) = 0;
  // Calls c->on_writable once the socket has room (used after a non-blocking write hit EAGAIN).
  virtual void wait_writable(IoObject* c) = 0;
  // Calls c->on_readable once the socket has bytes (used while receiving is stopped).
  virtual void wait_readable(IoObject* c) = 0;
  // Cancels what is in flight on c, closes its fd and, once nothing can complete any more,
  // calls c->on_closed() from poll(). A second close() is a no-op.
  virtual void close(IoObject* c) = 0;

  // Waits up to timeout_ms for events and dispatches them; returns after one batch.
  virtual void poll(int timeout_ms) = 0;
  // Makes a poll() on the loop thread return soon. The only member callable from other threads.
  virtual void wake() = 0;
};

}  // namespace askr::loop
