#include "fcgi_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "shared/base/copy.h"
#include "shared/base/log.h"
#include "shared/fastcgi/encoder.h"

namespace askr::worker {
namespace {

using fastcgi::RecordType;

constexpr size_t kReadSize = 64 * 1024;
// Output is sent once this much is buffered (and on flush() and at the end).
constexpr size_t kFlushThreshold = 64 * 1024;
// Params larger than this end the connection (nginx's default header limits are far below).
constexpr size_t kMaxParamsSize = 1024 * 1024;
// While PHP has not read the body, flush() does not pull more of it than this off the socket.
constexpr size_t kStdinBacklog = 256 * 1024;
// After END_REQUEST on a connection that is not kept, with the body not read to its end: how long
// to wait for the client to finish sending it and close.
constexpr int kCloseWaitMs = 1000;
// Told to stop: how long the first request of a connection accepted just before is awaited.
constexpr int kFirstRequestWaitMs = 1000;

}  // namespace

const std::string* FcgiParams::find(std::string_view name) const {
  for (const auto& [n, v] : pairs()) {
    if (n == name) return &v;
  }
  return nullptr;
}

void FcgiParams::add(std::string_view name, std::string_view value) {
  if (used_ == slots_.size()) {
    slots_.emplace_back();
    changed_.push_back(1);
  }
  size_t i = used_++;
  Pair& p = slots_[i];
  // Most requests send the same names in the same order, and many of the same values: comparing
  // costs less than copying over.
  bool changed = false;
  if (p.first != name) {
    p.first.assign(name);
    changed = true;
  }
  if (p.second != value) {
    p.second.assign(value);
    changed = true;
  }
  changed_[i] = changed;
}

void FcgiParams::remove(std::string_view name) {
  size_t kept = 0;
  for (size_t i = 0; i < used_; ++i) {
    if (slots_[i].first == name) continue;
    if (i != kept) std::swap(slots_[i], slots_[kept]);
    ++kept;
  }
  if (kept != used_) reordered_ = true;
  used_ = kept;
}

void FcgiParams::clear() {
  if (used_ != 0 || reordered_) ++generation_;
  reordered_ = false;
  for (size_t i = 0; i < used_; ++i) {
    for (std::string* s : {&slots_[i].first, &slots_[i].second}) {
      if (s->capacity() > kMaxKept) std::string().swap(*s);
    }
  }
  used_ = 0;
}

FcgiServer::FcgiServer(int listen_fd, int wake_fd, int ready_fd, bool own_peers_only)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      ready_fd_(ready_fd),
      own_peers_only_(own_peers_only),
      params_parser_(kMaxParamsSize),
      rbuf_mem_(std::make_unique_for_overwrite<char[]>(kReadSize + 4096 + base::kRecvSkew)),
      rbuf_(rbuf_mem_.get() +
            ((base::kRecvSkew - reinterpret_cast<uintptr_t>(rbuf_mem_.get())) & 4095)) {
  int flags = fcntl(listen_fd_, F_GETFL);
  if (flags >= 0) fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  // Not EPOLLEXCLUSIVE: when a slot's old and new worker share its socket during a roll, the
  // old one stops without accepting, and the new one must wake too.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  if (wake_fd_ >= 0) {
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }
}

FcgiServer::~FcgiServer() {
  for (const auto& [fd, conn] : conns_) ::close(fd);
  if (ready_fd_ >= 0) ::close(ready_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

// ---- Waiting for a request ----------------------------------------------------------------------

FcgiServer::Wait FcgiServer::next_request() {
  for (;;) {
    // Between requests a stop request wins; once one has begun, its params are read.
    if (state_ == State::kIdle) {
      bool stop = false;
      if (!wait_for_input(stop) && !(stop && await_first_request()))
        return stop ? Wait::kStop : Wait::kError;
    }
    if (read_some(true) == Io::kClosed) {
      close_connection();
      continue;
    }
    if (aborted_ && state_ == State::kParams) abandon_request();
    if (broken_ || refused_) {
      close_connection();
    } else if (state_ == State::kRunning) {
      start_request();
      return Wait::kRequest;
    }
  }
}

// askr-proxy counts a worker in its pool's capacity once the worker says it is about to accept
// (its pid), and ends a back-off after failed starts once one begins a request (its pid negated).
// A worker that dies while booting never counts; one that exits before serving is a failed start.
void FcgiServer::announce(int32_t value) {
  if (ready_fd_ < 0) return;
  if (::write(ready_fd_, &value, sizeof value) != ssize_t(sizeof value))
    LOG_WARN("readiness pipe: %s", strerror(errno));
  if (value < 0) {
    ::close(ready_fd_);
    ready_fd_ = -1;
  }
}

// Only askr-proxy talks to a supervised worker: another local user must not have PHP run files
// for it with the pool's rights.
bool FcgiServer::peer_allowed(int fd) const {
  if (!own_peers_only_) return true;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    LOG_LIMITED(kWarn, "SO_PEERCRED: %s; connection refused", strerror(errno));
    return false;
  }
  if (cred.uid == getuid() || cred.uid == 0) return true;
  LOG_LIMITED(kWarn, "connection from pid %d, uid %u refused: not askr-proxy's user", int(cred.pid),
              unsigned(cred.uid));
  return false;
}

// Waits until one of the open connections has something to read (hung up or failed included:
// the read says which) and makes it the current one, accepting new connections meanwhile.
// False with `stop` set: wake_fd_ became readable; without: the listener failed.
bool FcgiServer::wait_for_input(bool& stop) {
  if (!announced_ready_) {
    announced_ready_ = true;
    announce(int32_t(getpid()));
  }
  epoll_event events[16];
  for (;;) {
    int n = epoll_wait(epoll_fd_, events, 16, -1);
    if (n < 0 && errno != EINTR) {
      LOG_ERROR("epoll_wait: %s", strerror(errno));
      return false;
    }
    bool listener = false;
    int readable = -1;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        stop = true;
        return false;
      }
      if (fd == listen_fd_) {
        listener = true;
      } else if (readable < 0) {
        readable = fd;
      }
    }
    if (readable >= 0) {
      conn_fd_ = readable;
      conn_ = &conns_[readable];
      return true;
    }
    if (listener && !accept_connection()) return false;
  }
}

// Told to stop: a connection accepted here that has not carried a request yet is owed one (a
// client connects to send a request: askr-proxy opens a connection to a slot only for one), and
// the client cannot know whether this process or the slot's next worker accepted it. Its request
// is awaited (kFirstRequestWaitMs at most) and served before the process stops, instead of being
// closed unread, which would fail a request the client cannot safely send again. A kept
// connection that carried requests before is closed: a client that sent on it meanwhile sees it
// fail unread (ECONNRESET, EPIPE) and sends again on a fresh connection, which the next worker
// accepts, since this one accepts no more. True with the connection current; false when none is
// owed.
bool FcgiServer::await_first_request() {
  for (auto& [fd, conn] : conns_) {
    if (conn.requests > 0 || conn.awaited) continue;
    conn.awaited = true;
    pollfd p{fd, POLLIN, 0};
    int n;
    do {
      n = poll(&p, 1, kFirstRequestWaitMs);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) continue;
    conn_fd_ = fd;
    conn_ = &conn;
    return true;
  }
  return false;
}

// Takes one connection off the listener, if any; false when the listener failed (logged).
bool FcgiServer::accept_connection() {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    if (!peer_allowed(fd)) {
      ::close(fd);
      return true;
    }
    LOG_DEBUG("accepted a connection (%zu open)", conns_.size() + 1);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_[fd];
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
    return true;  // another worker took it, or the client gave up
  }
  if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
    LOG_ERROR("accept: %s", strerror(errno));
    poll(nullptr, 0, 100);
    return true;
  }
  LOG_ERROR("accept: %s", strerror(errno));
  return false;
}

// ---- Reading and decoding -----------------------------------------------------------------------

FcgiServer::Io FcgiServer::read_some(bool block) {
  if (broken_ || input_closed_ || conn_fd_ < 0) return Io::kClosed;
  ssize_t n;
  do {
    n = recv(conn_fd_, rbuf_, kReadSize, block ? 0 : MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    decode({rbuf_, size_t(n)});
    return broken_ ? Io::kClosed : Io::kData;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::kAgain;
  // End of input: the client may still read the answer (it may have only shut down its side).
  if (n == 0) {
    input_closed_ = true;
  } else {
    broken_ = true;
  }
  return Io::kClosed;
}

void FcgiServer::decode(std::string_view bytes) {
  while (!broken_ && !refused_) {
    fastcgi::Decoder::Step s = conn_->decoder.next(bytes);
    bytes.remove_prefix(s.consumed);
    if (s.status == fastcgi::Decoder::Status::kNeedMore) return;
    if (s.status == fastcgi::Decoder::Status::kError) {
      LOG_WARN("FastCGI client: %s; closing the connection", conn_->decoder.error());
      broken_ = true;
      return;
    }
    on_record(s);
  }
}

void FcgiServer::on_record(const fastcgi::Decoder::Step& s) {
  if (s.request_id == fastcgi::kNullRequestId) return on_management(s);
  bool current = s.request_id == id_ && (state_ == State::kParams || state_ == State::kRunning);
  switch (s.type) {
    case RecordType::kBeginRequest:
      return on_begin(s);
    case RecordType::kParams:
      if (current && state_ == State::kParams) on_params(s.content);
      return;
    case RecordType::kStdin:
      if (!current || stdin_eof_) return;
      if (s.content.empty()) {
        stdin_eof_ = true;
        return;
      }
      if (stdin_pos_ > 0) {
        base::erase_front(stdin_, stdin_pos_);
        stdin_pos_ = 0;
      }
      base::append_bytes(stdin_, s.content.data(), s.content.size());
      return;
    case RecordType::kAbortRequest:
      if (current) aborted_ = true;
      return;
    default:
      return;  // DATA and the rest: nothing a responder reads
  }
}

void FcgiServer::on_begin(const fastcgi::Decoder::Step& s) {
  std::optional<fastcgi::BeginRequest> br = fastcgi::parse_begin_request(s.content);
  if (!br) return;
  if (state_ == State::kParams || state_ == State::kRunning) {
    if (s.request_id != id_) {
      fastcgi::end_request(out_, s.request_id, 0, fastcgi::ProtocolStatus::kCantMpxConn);
      send_out();
    }
    return;
  }
  if (br->role != fastcgi::Role::kResponder) {
    fastcgi::end_request(out_, s.request_id, 0, fastcgi::ProtocolStatus::kUnknownRole);
    send_out();
    // That was the answer: without FCGI_KEEP_CONN the connection ends, as after any other.
    if (!br->keep_conn()) refused_ = true;
    return;
  }
  state_ = State::kParams;
  id_ = s.request_id;
  keep_conn_ = br->keep_conn();
  stdout_ends_response_ = false;
  params_.clear();
  params_parser_.reset();
  stdin_.clear();
  stdin_pos_ = 0;
  stdin_eof_ = false;
  aborted_ = false;
}

void FcgiServer::on_params(std::string_view content) {
  if (content.empty()) {  // the empty record: the end of the params
    if (!params_parser_.finish()) {
      LOG_WARN("FastCGI client: %s; closing the connection", params_parser_.error());
      broken_ = true;
      return;
    }
    state_ = State::kRunning;
    return;
  }
  while (!content.empty()) {
    fastcgi::ParamsParser::Step p = params_parser_.next(content);
    content.remove_prefix(p.consumed);
    if (p.status == fastcgi::ParamsParser::Status::kPair) {
      if (p.name == fastcgi::kStdoutEndsResponse) {
        stdout_ends_response_ = true;
      } else {
        params_.add(p.name, p.value);
      }
    } else if (p.status == fastcgi::ParamsParser::Status::kError) {
      LOG_WARN("FastCGI client: %s; closing the connection", params_parser_.error());
      broken_ = true;
      return;
    }
  }
}

void FcgiServer::on_management(const fastcgi::Decoder::Step& s) {
  if (s.type != RecordType::kGetValues) {
    if (s.end_of_record) fastcgi::unknown_type(out_, uint8_t(s.type));
  } else {
    conn_->management.append(s.content);
    if (!s.end_of_record) return;
    std::vector<fastcgi::NameValue> answer;
    fastcgi::ParamsParser names;
    std::string_view in = conn_->management;
    for (;;) {
      fastcgi::ParamsParser::Step p = names.next(in);
      in.remove_prefix(p.consumed);
      if (p.status != fastcgi::ParamsParser::Status::kPair) break;
      if (p.name == fastcgi::kMaxConns) answer.emplace_back(fastcgi::kMaxConns, "1");
      if (p.name == fastcgi::kMaxReqs) answer.emplace_back(fastcgi::kMaxReqs, "1");
      if (p.name == fastcgi::kMpxsConns) answer.emplace_back(fastcgi::kMpxsConns, "0");
    }
    fastcgi::get_values_result(out_, answer);
    conn_->management.clear();
  }
  send_out();
}

// A request aborted before its params were complete: answered and forgotten.
void FcgiServer::abandon_request() {
  fastcgi::end_request(out_, id_, 0, fastcgi::ProtocolStatus::kRequestComplete);
  send_out();
  state_ = State::kIdle;
  aborted_ = false;
  if (!keep_conn_) broken_ = true;  // nothing more is expected on this connection
}

void FcgiServer::start_request() {
  if (ready_fd_ >= 0) announce(-int32_t(getpid()));
  constexpr std::string_view kCount = "ASKR_CONNECTION_REQUESTS";
  params_.remove(kCount);
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, ++conn_->requests);
  params_.add(kCount, std::string_view(num, size_t(end - num)));
}

// ---- The request's streams ----------------------------------------------------------------------

size_t FcgiServer::read_stdin(char* buf, size_t len) {
  while (stdin_pos_ == stdin_.size()) {
    stdin_.clear();
    stdin_pos_ = 0;
    if (state_ != State::kRunning || stdin_eof_ || client_gone()) return 0;
    if (read_some(true) == Io::kClosed) return 0;
  }
  size_t n = std::min(len, stdin_.size() - stdin_pos_);
  base::copy_bytes(buf, stdin_.data() + stdin_pos_, n);
  stdin_pos_ += n;
  return n;
}

void FcgiServer::write_stdout(std::string_view data) {
  if (state_ == State::kRunning && !client_gone()) append_stream(RecordType::kStdout, data);
}

void FcgiServer::write_stderr(std::string_view data) {
  if (state_ == State::kRunning && !broken_) append_stream(RecordType::kStderr, data);
}

// Without output buffering PHP writes each echo on its own: small writes are gathered, as
// php-fpm does, so that a page of a thousand echoes goes in one record, not in a thousand
// records of a header and padding each.
void FcgiServer::append_stream(RecordType type, std::string_view data) {
  if (broken_) return;
  if (type != pending_type_) encode_pending();
  pending_type_ = type;
  if (pending_.size() + data.size() < kFlushThreshold) {
    pending_.append(data);
    return;
  }
  encode_pending();
  while (!data.empty() && !broken_) {
    size_t n = std::min(data.size(), fastcgi::kMaxAlignedContentLength);
    fastcgi::stream(out_, type, id_, data.substr(0, n));
    data.remove_prefix(n);
    if (out_.size() >= kFlushThreshold) send_out();
  }
}

void FcgiServer::encode_pending() {
  if (pending_.empty()) return;
  fastcgi::stream(out_, pending_type_, id_, pending_);
  pending_.clear();
}

void FcgiServer::send_out() {
  encode_pending();
  if (!broken_) send_all(out_);
  out_.clear();
}

bool FcgiServer::flush() {
  // Notice an ABORT_REQUEST or a second BEGIN_REQUEST, without pulling in a whole unread body.
  if (state_ == State::kRunning && stdin_.size() - stdin_pos_ < kStdinBacklog && !input_closed_) {
    read_some(false);
  }
  send_out();
  return !client_gone();
}

bool FcgiServer::send_all(std::string_view data) {
  while (!data.empty() && !broken_) {
    ssize_t n = send(conn_fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(size_t(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      broken_ = true;
    }
  }
  return !broken_;
}

// ---- Ending -------------------------------------------------------------------------------------

// What is buffered, the end of STDOUT and END_REQUEST go out in one send (a small page: one
// system call). The connection is not read here: a record the client sent meanwhile is read
// with the next request (an ABORT_REQUEST for this one is then ignored, a second BEGIN_REQUEST
// begins the next request).
void FcgiServer::finish(uint32_t app_status) {
  if (state_ != State::kRunning && !end_request_owed_) return;
  if (!broken_) {
    encode_pending();
    if (!end_request_owed_) fastcgi::end_stream(out_, RecordType::kStdout, id_);
    fastcgi::end_request(out_, id_, app_status, fastcgi::ProtocolStatus::kRequestComplete);
    send_all(out_);
  }
  out_.clear();
  pending_.clear();
  state_ = State::kFinished;
  end_request_owed_ = false;
  if (!keep_conn_ && !broken_) write_shut_ = shutdown(conn_fd_, SHUT_WR) == 0;
}

void FcgiServer::end_output() {
  if (!stdout_ends_response_) return finish(0);
  if (state_ != State::kRunning) return;
  if (!broken_) {
    encode_pending();
    fastcgi::end_stream(out_, RecordType::kStdout, id_);
    send_all(out_);
  }
  out_.clear();
  pending_.clear();
  state_ = State::kFinished;
  end_request_owed_ = true;
}

void FcgiServer::release(uint32_t app_status) {
  if (!in_request()) return;
  finish(app_status);
  if (broken_ || !keep_conn_ || input_closed_) close_connection();
  state_ = State::kIdle;
  params_.clear();
  stdin_.clear();
  stdin_pos_ = 0;
  stdin_eof_ = false;
  aborted_ = false;
}

// Closes the connection. What the client sent and nobody read is drained first: closing a Unix
// socket with unread input makes the client's next write fail (EPIPE) even though our answer is
// waiting for it. When the body was not read to its end, the client may still be sending it:
// then wait (kCloseWaitMs at most) for it to close its side.
void FcgiServer::close_connection() {
  if (conn_fd_ < 0) return;
  if (!broken_ && !input_closed_) {
    if (!write_shut_) shutdown(conn_fd_, SHUT_WR);  // finish() did it for most
    bool body_pending = state_ != State::kIdle && !stdin_eof_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCloseWaitMs);
    for (;;) {
      ssize_t n = recv(conn_fd_, rbuf_, kReadSize, MSG_DONTWAIT);
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      if (n == 0 || errno != EAGAIN || !body_pending) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{conn_fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, int(left.count())) == 0) break;
    }
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn_fd_, nullptr);  // PHP's children may share the fd
  ::close(conn_fd_);
  conns_.erase(conn_fd_);
  conn_fd_ = -1;
  conn_ = nullptr;
  broken_ = false;
  input_closed_ = false;
  refused_ = false;
  write_shut_ = false;
  state_ = State::kIdle;
  out_.clear();
  pending_.clear();
}

}  // namespace askr::worker
