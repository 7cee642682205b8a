// The completion contract of loop/backend.h, driven directly on both backends with socketpairs
// and loopback TCP: what each call delivers, in which order, and that close() ends everything
// with exactly one on_closed, after the last completion, whatever the object was doing.
#include "loop/backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loop/epoll_backend.h"
#include "loop/uring_backend.h"
#include "shared/base/copy.h"

namespace askr::loop {
namespace {

using Clock = std::chrono::steady_clock;

// Records every callback as a word in `log` (shared with the test, so that it outlives the
// object: objects handed to close() are deleted in on_closed, as a connection deletes itself,
// and a late callback is then a use after free that ASan reports).
struct Probe : IoObject {
  explicit Probe(std::vector<std::string>& l, int fd_ = -1) : log(l) { fd = fd_; }

  void on_accept(int r) override {
    log.push_back(r >= 0 ? "accept" : "accept_error");
    if (r >= 0) accepted.push_back(r);
    if (accept_hook) accept_hook(r);
  }
  void on_recv(std::string_view d) override {
    log.push_back("recv");
    got.append(d);
    page_offsets.push_back(reinterpret_cast<uintptr_t>(d.data()) & 4095);
    if (recv_hook) recv_hook();
  }
  void on_recv_record(uint8_t type, std::string_view d) override {
    log.push_back("record");
    records.push_back({type, std::string(d)});
  }
  void on_recv_end(int e) override {
    log.push_back("recv_end");
    recv_end = e;
  }
  void on_sent(int e) override {
    log.push_back("sent");
    sent_error = e;
    if (sent_hook) sent_hook();
  }
  void on_writable() override { log.push_back("writable"); }
  void on_readable() override { log.push_back("readable"); }
  void on_recv_stopped() override { log.push_back("stopped"); }
  void on_closed() override {
    log.push_back("closed");
    if (delete_on_close) delete this;
  }

  size_t count(const std::string& what) const {
    return size_t(std::count(log.begin(), log.end(), what));
  }

  std::vector<std::string>& log;
  std::string got;
  std::vector<size_t> page_offsets;  // where each piece received starts in its page
  std::vector<std::pair<uint8_t, std::string>> records;
  std::vector<int> accepted;
  int recv_end = 1;
  int sent_error = 1;
  bool delete_on_close = false;
  std::function<void(int)> accept_hook;
  std::function<void()> recv_hook, sent_hook;
};

size_t count(const std::vector<std::string>& log, const std::string& what) {
  return size_t(std::count(log.begin(), log.end(), what));
}

// A connected pair: [0] for the backend, [1] for the test (both non-blocking).
struct Pair {
  Pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0); }
  ~Pair() {
    if (fd[1] >= 0) ::close(fd[1]);
  }
  int fd[2] = {-1, -1};
};

// Reads what is in the socket now (non-blocking).
std::string drain(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) out.append(buf, size_t(n));
  return out;
}

// Writes until the socket is full; returns how much went in.
size_t fill(int fd) {
  static const std::string chunk(65536, 'f');
  size_t total = 0;
  ssize_t n;
  while ((n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
    total += size_t(n);
  }
  return total;
}

int tcp_listener(int& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(listen(fd, 64), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring") {
      UringOptions opt;
      opt.entries = 64;
      opt.buffers = 16;  // few and small: long streams run the ring dry and re-arm
      opt.buffer_size = 4096;
      auto r = UringBackend::create(opt);
      if (!r) GTEST_SKIP() << "io_uring is not usable here (" << r.error().message << ")";
      io_ = std::move(r.value());
    } else {
      auto r = EpollBackend::create(4096);
      ASSERT_TRUE(r) << r.error().message;
      io_ = std::move(r.value());
    }
  }

  // Polls until `done` or timeout_ms; returns done().
  bool poll_until(const std::function<bool()>& done, int timeout_ms = 2000) {
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done()) {
      if (Clock::now() >= end) return false;
      io_->poll(10);
    }
    return true;
  }
  // Polls for about ms milliseconds whatever happens.
  void poll_for(int ms) {
    auto end = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < end) io_->poll(5);
  }

  // Polls, reading what reaches the peer's end `peer`, until `want` bytes came and c's send
  // completed (10 s at most); what came.
  std::string receive_sent(int peer, Probe& c, size_t want) {
    std::string got;
    auto end = Clock::now() + std::chrono::seconds(10);
    while ((got.size() < want || c.count("sent") == 0) && Clock::now() < end) {
      io_->poll(1);
      got += drain(peer);
    }
    return got;
  }

  // A heap object on pair.fd[0] that deletes itself in on_closed.
  Probe* owned(int fd) {
    auto* p = new Probe(log_, fd);
    p->delete_on_close = true;
    return p;
  }

  std::unique_ptr<Backend> io_;
  std::vector<std::string> log_;
};

TEST_P(BackendTest, AcceptDeliversNonBlockingFds) {
  int port = 0;
  Probe l(log_, tcp_listener(port));
  io_->start_accept(&l);
  int c[3];
  for (int& fd : c) fd = tcp_connect(port);
  ASSERT_TRUE(poll_until([&] { return l.accepted.size() == 3; }));
  for (int fd : l.accepted) {
    EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ::close(fd);
  }
  for (int fd : c) ::close(fd);
  io_->close(&l);
  ASSERT_TRUE(poll_until([&] { return l.count("closed") == 1; }));
  poll_for(30);
  EXPECT_EQ(l.count("closed"), 1u);
  EXPECT_EQ(l.count("accept_error"), 0u);
}

TEST_P(BackendTest, StopAcceptLeavesConnectionsQueuedUntilStartAccept) {
  int port = 0;
  Probe l(log_, tcp_listener(port));
  io_->start_accept(&l);
  int a = tcp_connect(port);
  ASSERT_TRUE(poll_until([&] { return l.accepted.size() == 1; }));
  io_->stop_accept(&l);
  poll_for(30);  // let the cancellation land
  int b = tcp_connect(port);
  poll_for(100);
  EXPECT_EQ(l.accepted.size(), 1u);
  io_->start_accept(&l);
  EXPECT_EQ(l.accepted.size(), 1u);  // never from inside the call
  ASSERT_TRUE(poll_until([&] { return l.accepted.size() == 2; }));
  // Stop and start within one batch: accepting goes on.
  io_->stop_accept(&l);
  io_->start_accept(&l);
  int c = tcp_connect(port);
  ASSERT_TRUE(poll_until([&] { return l.accepted.size() == 3; }));
  for (int fd : l.accepted) ::close(fd);
  for (int fd : {a, b, c}) ::close(fd);
  io_->close(&l);
  ASSERT_TRUE(poll_until([&] { return l.count("closed") == 1; }));
}

// Out of descriptors: the error reaches on_accept once; the owner stops accepting and nothing
// spins. With descriptors back, start_accept takes the waiting connection.
TEST_P(BackendTest, AcceptErrorIsReportedAndStopAcceptEndsIt) {
  int port = 0;
  Probe l(log_, tcp_listener(port));
  int errors = 0;
  l.accept_hook = [&](int r) {
    if (r < 0) {
      EXPECT_EQ(r, -EMFILE);
      ++errors;
      io_->stop_accept(&l);
    }
  };
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  // The lowest free descriptor becomes the limit: no new one can be made.
  int lowest = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(lowest);
  rlimit low = old;
  low.rlim_cur = rlim_t(lowest);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  io_->start_accept(&l);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  bool got_error = poll_until([&] { return errors > 0; });
  poll_for(100);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  EXPECT_TRUE(got_error);
  EXPECT_EQ(errors, 1);
  EXPECT_TRUE(l.accepted.empty());
  io_->start_accept(&l);
  ASSERT_TRUE(poll_until([&] { return l.accepted.size() == 1; }));
  ::close(l.accepted[0]);
  ::close(client);
  io_->close(&l);
  ASSERT_TRUE(poll_until([&] { return l.count("closed") == 1; }));
}

TEST_P(BackendTest, RecvDeliversBytesInOrder) {
  Pair p;
  Probe c(log_, p.fd[0]);
  io_->resume_recv(&c);
  std::string sent;
  for (int i = 0; i < 2000; ++i)
    sent += "chunk " + std::to_string(i) + std::string(size_t(i % 97), '.') + "\n";
  size_t off = 0;
  auto end = Clock::now() + std::chrono::seconds(5);
  while (c.got.size() < sent.size() && Clock::now() < end) {
    if (off < sent.size()) {
      size_t len = std::min<size_t>(sent.size() - off, 1 + off % 7000);
      ssize_t n = ::send(p.fd[1], sent.data() + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) off += size_t(n);
    }
    io_->poll(1);
  }
  EXPECT_TRUE(c.got == sent) << c.got.size() << " of " << sent.size();
  ::close(p.fd[1]);
  p.fd[1] = -1;
  ASSERT_TRUE(poll_until([&] { return c.count("recv_end") == 1; }));
  EXPECT_EQ(c.recv_end, 0);
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

// Bytes are received base::kRecvSkew bytes into a page, never at its start, where the kernel's
// copy of a Unix socket's paged data runs slow (shared/base/copy.h).
TEST_P(BackendTest, ReceiveBuffersStartPastAPageStart) {
  Pair p;
  Probe c(log_, p.fd[0]);
  io_->resume_recv(&c);
  const std::string piece(8200, 'r');
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(::send(p.fd[1], piece.data(), piece.size(), MSG_NOSIGNAL), ssize_t(piece.size()));
    ASSERT_TRUE(poll_until([&] { return c.got.size() == (i + 1) * piece.size(); }));
  }
  ASSERT_FALSE(c.page_offsets.empty());
  for (size_t off : c.page_offsets) EXPECT_EQ(off, base::kRecvSkew);
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

// A read that does not fill the buffer ends the epoll backend's reading until the next edge:
// bytes sent after it still arrive, each time, and so does an end of stream that came with the
// bytes (before the loop looked) or after them, over Unix and TCP sockets.
TEST_P(BackendTest, ShortReadsMissNeitherLaterBytesNorTheEnd) {
  for (bool tcp : {false, true}) {
    for (bool end_with_bytes : {false, true}) {
      SCOPED_TRACE(std::string(tcp ? "tcp" : "unix") + (end_with_bytes ? ", end with bytes" : ""));
      int fds[2] = {-1, -1};
      int port = 0, lfd = -1;
      if (tcp) {
        lfd = tcp_listener(port);
        fds[1] = tcp_connect(port);
        ASSERT_TRUE(poll_until([&] {
          return (fds[0] = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;
        }));
        ::close(lfd);
      } else {
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
      }
      Probe c(log_, fds[0]);
      io_->resume_recv(&c);
      std::string sent;
      for (int i = 0; i < 20; ++i) {
        std::string piece = "piece " + std::to_string(i) + ";";
        ASSERT_EQ(::send(fds[1], piece.data(), piece.size(), MSG_NOSIGNAL), ssize_t(piece.size()));
        sent += piece;
        ASSERT_TRUE(poll_until([&] { return c.got == sent; })) << c.got;
      }
      std::string last = "last";
      ASSERT_EQ(::send(fds[1], last.data(), last.size(), MSG_NOSIGNAL), ssize_t(last.size()));
      sent += last;
      if (end_with_bytes) {
        ::shutdown(fds[1], SHUT_WR);  // before the loop looks: one edge for both
      } else {
        ASSERT_TRUE(poll_until([&] { return c.got == sent; })) << c.got;
        ::shutdown(fds[1], SHUT_WR);
      }
      ASSERT_TRUE(poll_until([&] { return c.count("recv_end") == 1; })) << c.got;
      EXPECT_EQ(c.got, sent);
      EXPECT_EQ(c.recv_end, 0);
      io_->close(&c);
      ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
      ::close(fds[1]);
      log_.clear();
    }
  }
}

// With TLS records on (recvmsg and a control buffer, for kernel TLS receive), a socket
// without kernel TLS delivers its bytes exactly as before, in order and with the end of the
// stream; the kTLS side (record types) is exercised in the VM (tests/vm). The io_uring backend
// gets few small buffers, so the multishot recvmsg runs dry and is armed again.
TEST_P(BackendTest, TlsRecordModeDeliversPlainBytesAsBefore) {
  for (bool tcp : {false, true}) {
    SCOPED_TRACE(tcp ? "tcp" : "unix");
    int fds[2];
    if (tcp) {
      int port = 0, l = tcp_listener(port);
      fds[1] = tcp_connect(port);
      ASSERT_TRUE(
          poll_until([&] { return (fds[0] = accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; }));
      ::close(l);
    } else {
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    }
    std::vector<std::string> log;
    Probe c(log, fds[0]);
    io_->recv_tls_records(&c);
    io_->resume_recv(&c);
    std::string sent;
    for (int i = 0; i < 2000; ++i)
      sent += "record " + std::to_string(i) + std::string(size_t(i % 89), '-') + "\n";
    size_t off = 0;
    auto end = Clock::now() + std::chrono::seconds(5);
    while (c.got.size() < sent.size() && Clock::now() < end) {
      if (off < sent.size()) {
        size_t len = std::min<size_t>(sent.size() - off, 1 + off % 9000);
        ssize_t n = ::send(fds[1], sent.data() + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) off += size_t(n);
      }
      io_->poll(1);
    }
    EXPECT_TRUE(c.got == sent) << c.got.size() << " of " << sent.size();
    ::close(fds[1]);
    ASSERT_TRUE(poll_until([&] { return c.count("recv_end") == 1; }));
    EXPECT_EQ(c.recv_end, 0);
    EXPECT_TRUE(c.records.empty());
    io_->close(&c);
    ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
  }
}

// Switching a connection to TLS records after stop_recv (as the transport does once the
// kernel has the RX keys): bytes left in the socket come through the new path.
TEST_P(BackendTest, TlsRecordModeAfterStopRecv) {
  Pair p;
  Probe c(log_, p.fd[0]);
  io_->resume_recv(&c);
  ASSERT_EQ(::send(p.fd[1], "before", 6, 0), 6);
  ASSERT_TRUE(poll_until([&] { return c.got == "before"; }));
  io_->stop_recv(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("stopped") == 1; }));
  ASSERT_EQ(::send(p.fd[1], "after", 5, 0), 5);
  io_->recv_tls_records(&c);
  io_->resume_recv(&c);
  ASSERT_TRUE(poll_until([&] { return c.got == "beforeafter"; }));
  ::close(p.fd[1]);
  p.fd[1] = -1;
  ASSERT_TRUE(poll_until([&] { return c.count("recv_end") == 1; }));
  EXPECT_EQ(c.recv_end, 0);
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

// A send queued by one completion is not held back by slow work on later completions of the
// same batch (a TLS handshake costs hundreds of µs): by the time the third connection of a
// batch is handled, the first one's reply has reached its peer.
TEST_P(BackendTest, SlowWorkLaterInABatchDoesNotHoldASendBack) {
  Pair a, b, c;
  Probe pa(log_, a.fd[0]), pb(log_, b.fd[0]), pc(log_, c.fd[0]);
  for (Probe* p : {&pa, &pb, &pc}) io_->resume_recv(p);
  poll_for(20);
  static const char kReply[] = "reply";
  std::vector<char> order;
  std::string seen_by_c = "not run";
  pa.recv_hook = [&] {
    order.push_back('a');
    io_->send(&pa, kReply, 5);
  };
  pb.recv_hook = [&] {
    order.push_back('b');
    auto end = Clock::now() + std::chrono::milliseconds(2);
    while (Clock::now() < end) {
    }
  };
  pc.recv_hook = [&] {
    order.push_back('c');
    seen_by_c = drain(a.fd[1]);
  };
  // All three arrive before the loop looks: one batch.
  for (Pair* p : {&a, &b, &c}) ASSERT_EQ(::send(p->fd[1], "x", 1, 0), 1);
  ASSERT_TRUE(poll_until([&] { return order.size() == 3 && pa.count("sent") == 1; }));
  ASSERT_EQ(std::string(order.begin(), order.end()), "abc");
  EXPECT_EQ(seen_by_c, "reply");
  for (Probe* p : {&pa, &pb, &pc}) io_->close(p);
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 3; }));
}

TEST_P(BackendTest, PauseAndResume) {
  Pair p;
  Probe c(log_, p.fd[0]);
  io_->resume_recv(&c);
  ASSERT_EQ(::send(p.fd[1], "a", 1, 0), 1);
  ASSERT_TRUE(poll_until([&] { return c.got == "a"; }));
  io_->pause_recv(&c);
  poll_for(30);
  ASSERT_EQ(::send(p.fd[1], "b", 1, 0), 1);
  poll_for(100);
  EXPECT_EQ(c.got, "a");
  io_->resume_recv(&c);
  ASSERT_TRUE(poll_until([&] { return c.got == "ab"; }));
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

TEST_P(BackendTest, StopRecvThenBytesStayInTheSocket) {
  Pair p;
  Probe c(log_, p.fd[0]);
  io_->resume_recv(&c);
  ASSERT_EQ(::send(p.fd[1], "x", 1, 0), 1);
  ASSERT_TRUE(poll_until([&] { return c.got == "x"; }));
  io_->stop_recv(&c);
  EXPECT_EQ(c.count("stopped"), 0u);  // never from inside the call
  ASSERT_TRUE(poll_until([&] { return c.count("stopped") == 1; }));
  ASSERT_EQ(::send(p.fd[1], "rest", 4, 0), 4);
  poll_for(100);
  EXPECT_EQ(c.got, "x");
  EXPECT_EQ(c.count("stopped"), 1u);
  EXPECT_EQ(drain(p.fd[0]), "rest");
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

TEST_P(BackendTest, StopRecvWithNothingArmedNotifiesOnce) {
  Pair p;
  Probe c(log_, p.fd[0]);
  io_->stop_recv(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("stopped") == 1; }));
  poll_for(30);
  EXPECT_EQ(c.count("stopped"), 1u);
  // Resume before the notification is delivered: it is not owed any more.
  io_->stop_recv(&c);
  io_->resume_recv(&c);
  ASSERT_EQ(::send(p.fd[1], "y", 1, 0), 1);
  ASSERT_TRUE(poll_until([&] { return c.got == "y"; }));
  poll_for(30);
  EXPECT_EQ(c.count("stopped"), 1u);
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

TEST_P(BackendTest, LargeSendCompletesOnce) {
  Pair p;
  Probe c(log_, p.fd[0]);
  std::string big(4 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  io_->send(&c, big.data(), big.size());
  EXPECT_EQ(c.count("sent"), 0u);
  std::string got = receive_sent(p.fd[1], c, big.size());
  EXPECT_EQ(c.count("sent"), 1u);
  EXPECT_EQ(c.sent_error, 0);
  EXPECT_TRUE(got == big) << got.size();
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
  EXPECT_EQ(c.count("sent"), 1u);
}

// More than two pieces are sent from the caller's own array, in order, across the short sends
// a full socket makes (pieces of every size, empty ones among them, split anywhere).
TEST_P(BackendTest, ManyPiecesSendInOrderAcrossShortSends) {
  Pair p;
  Probe c(log_, p.fd[0]);
  std::vector<std::string> pieces;
  std::string want;
  for (size_t i = 0; i < 600; ++i) {
    size_t n = i % 7 == 3 ? 0 : (i * 7919) % 20000;
    std::string s(n, '\0');
    for (size_t j = 0; j < n; ++j) s[j] = char((i * 31 + j) % 251);
    want += s;
    pieces.push_back(std::move(s));
  }
  std::vector<iovec> iov;
  for (std::string& s : pieces) iov.push_back({s.data(), s.size()});
  io_->sendv(&c, iov.data(), iov.size(), false);
  std::string got = receive_sent(p.fd[1], c, want.size());
  EXPECT_EQ(c.count("sent"), 1u);
  EXPECT_EQ(c.sent_error, 0);
  EXPECT_TRUE(got == want) << got.size() << " of " << want.size();
  // A small send after it copies its two pieces: the caller's array may go at once.
  {
    std::vector<iovec> two = {{pieces[1].data(), 5}, {pieces[2].data(), 7}};
    io_->sendv(&c, two.data(), two.size(), false);
  }
  ASSERT_TRUE(poll_until([&] { return c.count("sent") == 2; }));
  EXPECT_EQ(drain(p.fd[1]), pieces[1].substr(0, 5) + pieces[2].substr(0, 7));
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

TEST_P(BackendTest, WaitWritable) {
  Pair p;
  Probe c(log_, p.fd[0]);
  ASSERT_GT(fill(p.fd[0]), 0u);
  io_->wait_writable(&c);
  poll_for(50);
  EXPECT_EQ(c.count("writable"), 0u);
  drain(p.fd[1]);
  ASSERT_TRUE(poll_until([&] { return c.count("writable") == 1; }));
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
  EXPECT_EQ(c.count("writable"), 1u);
}

TEST_P(BackendTest, WaitReadableLeavesTheBytes) {
  Pair p;
  Probe c(log_, p.fd[0]);
  io_->wait_readable(&c);
  poll_for(50);
  EXPECT_EQ(c.count("readable"), 0u);
  ASSERT_EQ(::send(p.fd[1], "hello", 5, 0), 5);
  ASSERT_TRUE(poll_until([&] { return c.count("readable") == 1; }));
  EXPECT_EQ(c.got, "");
  EXPECT_EQ(drain(p.fd[0]), "hello");
  io_->close(&c);
  ASSERT_TRUE(poll_until([&] { return c.count("closed") == 1; }));
}

// recv armed, a send stuck on a full socket, a writable wait: close cancels them all and
// on_closed comes once, last (the object is deleted there: any later touch is a use after free).
TEST_P(BackendTest, CloseWithOperationsInFlight) {
  Pair p;
  Probe* c = owned(p.fd[0]);
  io_->resume_recv(c);
  std::string big(1 << 20, 'z');
  io_->send(c, big.data(), big.size());
  poll_for(20);
  io_->wait_writable(c);
  io_->wait_readable(c);
  poll_for(20);
  io_->close(c);
  EXPECT_EQ(count(log_, "closed"), 0u);  // never from inside the call
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
  ASSERT_EQ(::send(p.fd[1], "late", 4, MSG_NOSIGNAL), -1);  // our end is closed
  poll_for(50);
  EXPECT_EQ(log_.back(), "closed");
  EXPECT_EQ(count(log_, "closed"), 1u);
  EXPECT_EQ(count(log_, "sent"), 0u);
}

// Every call between close() and on_closed is a no-op: no callback, no I/O on the fd (whose
// number another socket may already have).
TEST_P(BackendTest, CallsAfterCloseAreNoOps) {
  for (bool in_flight : {false, true}) {
    SCOPED_TRACE(in_flight ? "with a recv in flight" : "with nothing in flight");
    log_.clear();
    Pair p;
    Probe* c = owned(p.fd[0]);
    if (in_flight) {
      io_->resume_recv(c);
      poll_for(10);
    }
    io_->close(c);
    Pair reuse;  // takes the closed number when nothing was in flight
    std::string data = "must not be sent";
    io_->send(c, data.data(), data.size());
    io_->resume_recv(c);
    io_->pause_recv(c);
    io_->stop_recv(c);
    io_->wait_readable(c);
    io_->wait_writable(c);
    io_->start_accept(c);
    io_->stop_accept(c);
    io_->close(c);
    ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
    ::send(reuse.fd[1], "in", 2, 0);
    poll_for(50);
    EXPECT_EQ(log_, std::vector<std::string>{"closed"});
    EXPECT_EQ(drain(p.fd[1]), "");
    EXPECT_EQ(drain(reuse.fd[1]), "");
    EXPECT_EQ(drain(reuse.fd[0]), "in");  // nobody read it
    ::close(reuse.fd[0]);
  }
}

TEST_P(BackendTest, CloseFromInsideOnRecv) {
  Pair p;
  Probe* c = owned(p.fd[0]);
  c->recv_hook = [&] { io_->close(c); };
  io_->resume_recv(c);
  ASSERT_EQ(::send(p.fd[1], "one", 3, 0), 3);
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
  poll_for(50);
  EXPECT_EQ(log_, (std::vector<std::string>{"recv", "closed"}));
}

// A send completes in the same batch as the recv whose callback closes the object: no on_sent
// after close, on_closed after both completions.
TEST_P(BackendTest, CloseFromOnRecvWithSendInFlight) {
  Pair p;
  Probe* c = owned(p.fd[0]);
  c->recv_hook = [&] { io_->close(c); };
  size_t filled = fill(p.fd[1]);  // the peer's side is full: its bytes wait for our recv
  ASSERT_GT(filled, 0u);
  std::string big(256 << 10, 'q');
  io_->send(c, big.data(), big.size());
  io_->resume_recv(c);
  std::string got;
  auto end = Clock::now() + std::chrono::seconds(5);
  while (count(log_, "closed") == 0 && Clock::now() < end) {
    io_->poll(1);
    got += drain(p.fd[1]);
  }
  poll_for(50);
  ASSERT_EQ(count(log_, "closed"), 1u);
  EXPECT_EQ(log_.back(), "closed");
  EXPECT_EQ(count(log_, "recv"), 1u);
  size_t closed_at = size_t(std::find(log_.begin(), log_.end(), "closed") - log_.begin());
  for (size_t i = 0; i < closed_at; ++i) EXPECT_NE(log_[i], "closed");
}

TEST_P(BackendTest, CloseFromInsideOnSent) {
  Pair p;
  Probe* c = owned(p.fd[0]);
  c->sent_hook = [&] { io_->close(c); };
  io_->resume_recv(c);
  io_->send(c, "ping", 4);
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
  poll_for(50);
  EXPECT_EQ(log_, (std::vector<std::string>{"sent", "closed"}));
  EXPECT_EQ(drain(p.fd[1]), "ping");
}

// stop_recv with nothing in flight queues a deferred on_recv_stopped; closing in the same
// batch must not free the object under it, nor deliver it.
TEST_P(BackendTest, StopRecvThenCloseInOneBatch) {
  for (bool armed : {false, true}) {
    SCOPED_TRACE(armed ? "recv armed" : "nothing armed");
    log_.clear();
    Pair p;
    Probe* c = owned(p.fd[0]);
    if (armed) {
      io_->resume_recv(c);
      poll_for(10);
    }
    io_->stop_recv(c);
    io_->close(c);
    ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
    poll_for(50);
    EXPECT_EQ(log_, std::vector<std::string>{"closed"});
  }
}

// From inside the object's own completion: that completion is its last operation, yet the
// owed on_recv_stopped still points at it.
TEST_P(BackendTest, StopRecvThenCloseInsideOnSent) {
  Pair p;
  Probe* c = owned(p.fd[0]);
  c->sent_hook = [&] {
    io_->stop_recv(c);
    io_->close(c);
  };
  io_->send(c, "ping", 4);
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
  poll_for(50);
  EXPECT_EQ(log_, (std::vector<std::string>{"sent", "closed"}));
}

// The same from inside a callback of another object in the batch.
TEST_P(BackendTest, StopRecvThenCloseFromAnotherCallback) {
  Pair p, q;
  Probe* victim = owned(p.fd[0]);
  Probe trigger(log_, q.fd[0]);
  trigger.recv_hook = [&] {
    io_->stop_recv(victim);
    io_->close(victim);
  };
  io_->resume_recv(&trigger);
  ASSERT_EQ(::send(q.fd[1], "go", 2, 0), 2);
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
  poll_for(50);
  EXPECT_EQ(log_, (std::vector<std::string>{"recv", "closed"}));
  io_->close(&trigger);
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 2; }));
}

TEST_P(BackendTest, CloseListenerFromInsideOnAccept) {
  int port = 0;
  Probe* l = owned(tcp_listener(port));
  l->accept_hook = [&](int fd) {
    if (fd >= 0) ::close(fd);
    io_->close(l);
  };
  io_->start_accept(l);
  int a = tcp_connect(port);
  int b = tcp_connect(port);
  ASSERT_TRUE(poll_until([&] { return count(log_, "closed") == 1; }));
  poll_for(50);
  EXPECT_EQ(log_, (std::vector<std::string>{"accept", "closed"}));
  ::close(a);
  ::close(b);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest, ::testing::Values("io_uring", "epoll"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace askr::loop
