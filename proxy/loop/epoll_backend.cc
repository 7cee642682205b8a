#include "loop/epoll_backend.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "loop/tls_record.h"
#include "shared/base/copy.h"

namespace askr::loop {
namespace {

constexpr uint64_t kListener = 1;   // low bit of epoll data: the object is a listener
constexpr int kReadsPerEvent = 16;  // then yield to other sockets, come back via deferred work

}  // namespace

Result<std::unique_ptr<EpollBackend>> EpollBackend::create(size_t recv_buffer_size) {
  std::unique_ptr<EpollBackend> b(new EpollBackend());
  b->epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (b->epfd_ < 0) return errno_error("epoll_create1");
  b->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->wake_fd_ < 0) return errno_error("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  if (epoll_ctl(b->epfd_, EPOLL_CTL_ADD, b->wake_fd_, &ev) < 0) return errno_error("epoll_ctl");
  // The buffer starts kRecvSkew bytes into a page (see shared/base/copy.h).
  b->scratch_.resize(recv_buffer_size + 4096 + base::kRecvSkew);
  const uintptr_t at = reinterpret_cast<uintptr_t>(b->scratch_.data());
  b->recv_buf_ = b->scratch_.data() + ((base::kRecvSkew - at) & 4095);
  b->recv_size_ = recv_buffer_size;
  return b;
}

EpollBackend::~EpollBackend() {
  if (epfd_ >= 0) ::close(epfd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void EpollBackend::add(IoObject* o, uint64_t tag) {
  epoll_event ev{};
  // Edge-triggered for everything: readiness is tracked in o->io, so a socket costs one
  // epoll_ctl in its life, or two when it ever waits for room to write (want_out()).
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = reinterpret_cast<uint64_t>(o) | tag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, o->fd, &ev);
  o->io.recv_armed = true;  // here: registered with epoll
}

// EPOLLOUT is asked for only once a socket has to wait for room (EAGAIN, or a connect in
// progress): subscribed from the start, every socket would wake the loop each time its peer
// reads (a backend reading the request wakes it while PHP runs, for nothing). Once asked for,
// it stays: such a socket is one whose writes fill its buffer. Adding it reports the socket at
// once if it became writable meanwhile, so no edge is lost.
void EpollBackend::want_out(IoObject* c) {
  if (!c->io.recv_armed) add(c, 0);
  if (c->io.out_armed) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = reinterpret_cast<uint64_t>(c);
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
  c->io.out_armed = true;
}

void EpollBackend::start_accept(IoObject* l) {
  if (l->io.closing) return;
  if (!l->io.recv_armed) add(l, kListener);
  l->io.accept_on = true;
  // Connections may have queued while stopped (their edges were ignored): try at once, from
  // poll() so that on_accept never runs inside this call.
  l->io.readable = true;
  deferred_.push_back({l, Work::kAccept});
}

void EpollBackend::stop_accept(IoObject* l) {
  l->io.accept_on = false;
}

void EpollBackend::do_accept(IoObject* l) {
  while (!l->io.closing && l->io.accept_on && l->io.readable) {
    int fd = accept4(l->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && errno == EINTR) continue;
    if (fd < 0 && errno == EAGAIN) {
      l->io.readable = false;
      return;
    }
    l->on_accept(fd < 0 ? -errno : fd);  // may stop_accept or close
    // EMFILE and the like: the owner stops accepting and retries later; the next edge or
    // start_accept tries again.
    if (fd < 0) return;
  }
}

void EpollBackend::resume_recv(IoObject* c) {
  if (c->io.closing) return;
  if (!c->io.recv_armed) {
    add(c, 0);
    c->io.readable = true;  // data may have arrived before registration
  }
  c->io.recv_on = true;
  c->io.stop_notify = false;
  if (c->io.readable) deferred_.push_back({c, Work::kRead});
}

void EpollBackend::pause_recv(IoObject* c) {
  c->io.recv_on = false;
}

void EpollBackend::stop_recv(IoObject* c) {
  if (c->io.closing) return;
  c->io.recv_on = false;
  c->io.stop_notify = true;
  deferred_.push_back({c, Work::kStopped});
}

void EpollBackend::wait_readable(IoObject* c) {
  if (c->io.closing) return;
  if (!c->io.recv_armed) add(c, 0);
  // The caller just saw EAGAIN; bytes that arrive after it raise an edge.
  c->io.readable = false;
  c->io.want_readable = true;
}

// recvmsg with room for the record type: a kernel-TLS socket returns one record type per call.
ssize_t EpollBackend::recv_record(int fd, uint8_t& type) {
  iovec iov{recv_buf_, recv_size_};
  alignas(cmsghdr) char control[kTlsControlSpace];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(fd, &msg, 0);
  if (n > 0) type = tls_record_type(&msg);
  return n;
}

void EpollBackend::do_read(IoObject* c) {
  for (int i = 0; i < kReadsPerEvent; ++i) {
    if (!c->io.recv_on || !c->io.readable || c->io.closing) return;
    uint8_t type = kTlsApplicationData;
    ssize_t n = c->io.recv_tls ? recv_record(c->fd, type) : ::recv(c->fd, recv_buf_, recv_size_, 0);
    // A read that did not fill the buffer emptied the socket's queue (a stream socket's recv
    // copies on while there is more): bytes that arrive after it raise a new edge, so the read
    // that would only return EAGAIN is left out (epoll(7)). Not once the peer has hung up:
    // its end of file may have been reported with the bytes, and must still be read. Not
    // with kernel TLS either, where each call returns one record.
    if (n > 0 && size_t(n) < recv_size_ && !c->io.recv_tls && !c->io.peer_hup) {
      c->io.readable = false;
    }
    if (n > 0 && type == kTlsApplicationData) {
      c->on_recv({recv_buf_, size_t(n)});
    } else if (n > 0) {
      c->on_recv_record(type, {recv_buf_, size_t(n)});
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      c->io.recv_on = false;
      c->on_recv_end(n == 0 ? 0 : -errno);
      return;
    } else if (errno == EAGAIN) {
      c->io.readable = false;
    }
  }
  if (c->io.recv_on && c->io.readable) deferred_.push_back({c, Work::kRead});
}

void EpollBackend::sendv(IoObject* c, const iovec* iov, size_t count, bool more) {
  if (c->io.closing) return;
  if (!c->io.recv_armed) add(c, 0);
  set_send(c, iov, count, more);
  if (c->io.writable && do_write(c)) deferred_.push_back({c, Work::kSent});
}

bool EpollBackend::do_write(IoObject* c) {
  while (c->io.send_left > 0) {
    ssize_t n;
    int flags = MSG_NOSIGNAL | (c->io.send_more ? MSG_MORE : 0);
    if (c->io.send_iovs == 1) {
      n = ::send(c->fd, c->io.send_vec[0].iov_base, c->io.send_vec[0].iov_len, flags);
    } else {
      msghdr m{};
      m.msg_iov = c->io.send_vec;
      m.msg_iovlen = c->io.send_iovs;
      n = ::sendmsg(c->fd, &m, flags);
    }
    if (n > 0) {
      advance_send(c, size_t(n));
    } else if (n < 0 && errno == EAGAIN) {
      c->io.writable = false;
      want_out(c);
      return false;
    } else if (n < 0 && errno != EINTR) {
      c->io.send_left = 0;
      c->io.send_iovs = 0;
      c->io.send_failed = true;  // for the deferred on_sent
      return true;
    }
  }
  return true;
}

void EpollBackend::wait_writable(IoObject* c) {
  if (c->io.closing) return;
  c->io.writable = false;  // the caller just saw EAGAIN
  c->io.want_writable = true;
  want_out(c);
}

void EpollBackend::close(IoObject* c) {
  if (c->io.closing) return;
  c->io.closing = true;
  c->io.recv_on = false;
  c->io.accept_on = false;
  c->io.stop_notify = false;
  // Closing the fd removes it from the set only when no other descriptor shares the file:
  // remove it explicitly so that no event can name this object after on_closed.
  if (c->io.recv_armed) epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  deferred_.push_back({c, Work::kClosed});
}

void EpollBackend::on_event(IoObject* c, uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    c->io.readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->io.peer_hup = true;
    if (c->io.want_readable) {
      c->io.want_readable = false;
      c->on_readable();
    } else {
      do_read(c);
    }
  }
  if (c->io.closing || !(events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) return;
  c->io.writable = true;
  if (c->io.send_left > 0) {
    if (do_write(c)) {
      c->on_sent(c->io.send_failed ? -EPIPE : 0);
    }
  } else if (c->io.want_writable) {
    c->io.want_writable = false;
    c->on_writable();
  }
}

void EpollBackend::run_deferred() {
  // Work queued while running is picked up in the same round, so a burst finishes before we
  // block again.
  while (!deferred_.empty()) {
    running_.swap(deferred_);
    for (const Deferred& d : running_) {
      IoObject* o = d.obj;
      if (d.work == Work::kClosed) {
        o->on_closed();
      } else if (!o->io.closing && d.work == Work::kRead) {
        do_read(o);
      } else if (!o->io.closing && d.work == Work::kSent) {
        o->on_sent(o->io.send_failed ? -EPIPE : 0);
      } else if (!o->io.closing && d.work == Work::kStopped && o->io.stop_notify) {
        o->io.stop_notify = false;
        o->on_recv_stopped();
      } else if (!o->io.closing && d.work == Work::kAccept) {
        do_accept(o);
      }
    }
    running_.clear();
  }
}

void EpollBackend::poll(int timeout_ms) {
  epoll_event events[256];
  int n = epoll_wait(epfd_, events, 256, deferred_.empty() ? timeout_ms : 0);
  for (int i = 0; i < n; ++i) {
    uint64_t u = events[i].data.u64;
    if (u == 0) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof v);
      continue;
    }
    auto* o = reinterpret_cast<IoObject*>(u & ~kListener);
    if (o->io.closing) continue;
    if (u & kListener) {
      o->io.readable = true;
      do_accept(o);
    } else {
      on_event(o, events[i].events);
    }
  }
  run_deferred();
}

void EpollBackend::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace askr::loop
