#include "server/h1_conn.h"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "handlers/static_files.h"
#include "net/listener.h"
#include "server/shard.h"
#include "shared/base/log.h"

namespace askr::server {
namespace {

constexpr size_t kInlineFileMax = 16 * 1024;  // smaller files are read into the send buffer
constexpr size_t kOutBatchMax = 64 * 1024;    // pipelined answers batched up to this
constexpr size_t kInPauseAt = 256 * 1024;     // stop reading while this much waits unparsed
constexpr size_t kSendfileChunk = 1 << 20;

void append_number(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace

H1Conn::H1Conn(Shard& shard, int fd) : shard_(shard) {
  this->fd = fd;
  timer.conn = this;
}

H1Conn::~H1Conn() {
  if (file_fd_ >= 0) ::close(file_fd_);
}

void H1Conn::start() {
  arm(shard_.header_timers);  // the first request's head must arrive in time
  shard_.io().resume_recv(this);
}

void H1Conn::arm(loop::TimerList& list) {
  list.arm(&timer, shard_.now_ms());
}

std::string H1Conn::peer_text() {
  return net::format_address(peer());
}

const sockaddr* H1Conn::peer() {
  if (!have_peer_) {
    socklen_t len = sizeof peer_;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer_), &len) < 0)
      peer_.sin6_family = AF_INET6;
    have_peer_ = true;
  }
  return reinterpret_cast<const sockaddr*>(&peer_);
}

void H1Conn::on_recv(std::string_view data) {
  if (state_ == State::kLinger) return;  // the answer is out; what still comes is dropped
  if (state_ == State::kBody) arm(shard_.body_timers);
  if (in_.empty() && !sending_) {
    // Common case: parse straight from the receive buffer; keep only what is left over.
    size_t used = process(data);
    if (used < data.size() && !closed_) in_.assign(data.substr(used));
  } else {
    in_.append(data);
    if (!sending_) in_.erase(0, process(in_));
  }
  if (in_.size() > kInPauseAt && !recv_paused_ && !closed_) {
    recv_paused_ = true;  // the client sends faster than we answer: stop reading until caught up
    shard_.io().pause_recv(this);
  }
}

void H1Conn::on_recv_end(int error) {
  peer_done_ = true;
  if (error < 0 || state_ == State::kLinger) return close_now();
  if (!sending_) close_now();  // nothing in progress: a partial request is abandoned
}

// Parses and answers every complete request in `in`, in order, until a response has to go out
// before the next can be produced. Returns the bytes consumed.
size_t H1Conn::process(std::string_view in) {
  size_t pos = 0;
  const config::Limits& lim = shard_.cfg().limits;
  http::ParseLimits limits{lim.max_request_line, lim.max_header_size, lim.max_headers};
  while (!closed_ && !close_after_ && file_left_ == 0 && out_.size() < kOutBatchMax) {
    std::string_view rest = in.substr(pos);
    if (state_ == State::kBody) {
      pos += discard_body(rest);
      if (state_ == State::kBody) break;
      continue;
    }
    if (rest.empty()) break;
    http::RequestHead& head = shard_.head();
    http::ParseResult r = http::parse_request(rest, limits, head);
    if (r.state == http::ParseState::kNeedMore) {
      if (state_ == State::kIdle) {
        state_ = State::kHead;
        arm(shard_.header_timers);
      }
      break;
    }
    if (r.state == http::ParseState::kError) {
      reject(r.status, r.reason);
      return in.size();
    }
    pos += r.head_length;
    state_ = State::kIdle;
    handle(head);
  }
  if (!out_.empty() && !sending_ && !closed_) {
    flush();
  } else if (!sending_ && !closed_ && state_ == State::kIdle && pos == in.size()) {
    idle();
  }
  return pos;
}

void H1Conn::handle(const http::RequestHead& req) {
  ++requests_;
  ++shard_.counters().requests;
  if (req.framing != http::BodyFraming::kNone && !begin_body(req)) return;
  http::Response resp;
  const route::Site& site = shard_.gen().router.match(req.host);
  handlers::serve_static(site.files, req, resp, shard_.path_scratch());
  write_response(req, resp);
}

// Sets up reading the request body. The static handler does not use bodies, so they are read
// and dropped, which keeps the connection usable; a body over the limit is refused.
bool H1Conn::begin_body(const http::RequestHead& req) {
  uint64_t max = shard_.cfg().limits.max_body_size;
  if (req.framing == http::BodyFraming::kContentLength) {
    if (max && req.content_length > max) {
      reject(413, "request body larger than max_body_size");
      return false;
    }
    if (req.content_length == 0) return true;
    body_left_ = req.content_length;
  } else {
    chunked_ = std::make_unique<http::ChunkedDecoder>(max ? max : UINT64_MAX);
  }
  state_ = State::kBody;
  arm(shard_.body_timers);
  // The client waits for this before sending the body (RFC 9110 §10.1.1).
  if (req.expect_continue && req.version_minor == 1) out_ += "HTTP/1.1 100 Continue\r\n\r\n";
  return true;
}

size_t H1Conn::discard_body(std::string_view in) {
  if (!chunked_) {
    size_t n = size_t(std::min<uint64_t>(body_left_, in.size()));
    body_left_ -= n;
    if (body_left_ == 0) state_ = State::kIdle;
    return n;
  }
  size_t pos = 0;
  for (;;) {
    http::ChunkedDecoder::Step s = chunked_->next(in.substr(pos));
    pos += s.consumed;
    if (s.status == http::ChunkedDecoder::Status::kData) continue;
    if (s.status == http::ChunkedDecoder::Status::kDone) {
      chunked_.reset();
      state_ = State::kIdle;
    } else if (s.status == http::ChunkedDecoder::Status::kError) {
      LOG_INFO("client sent invalid chunked body: %s", chunked_->error_reason());
      ++shard_.counters().bad_requests;
      chunked_.reset();
      state_ = State::kIdle;
      close_after_ = true;  // framing is lost: finish what is queued, then close
      if (!sending_ && out_.empty()) begin_linger();
      return in.size();
    }
    return pos;
  }
}

void H1Conn::write_head(const http::Response& resp, bool keep_alive, uint8_t version_minor) {
  out_ += "HTTP/1.1 ";
  append_number(out_, unsigned(resp.status));
  out_ += ' ';
  out_ += http::reason_phrase(resp.status);
  out_ += "\r\nServer: askr\r\n";
  out_ += shard_.date_line();
  for (unsigned i = 0; i < resp.nfields; ++i) {
    out_ += resp.fields[i].name;
    out_ += ": ";
    out_ += resp.fields[i].value;
    out_ += "\r\n";
  }
  if (resp.status != 304 && resp.status != 204 && resp.status >= 200) {
    out_ += "Content-Length: ";
    append_number(out_, resp.content_length);
    out_ += "\r\n";
  }
  if (!keep_alive) {
    out_ += "Connection: close\r\n";
  } else if (version_minor == 0) {
    out_ += "Connection: keep-alive\r\n";
  }
  out_ += "\r\n";
}

void H1Conn::write_response(const http::RequestHead& req, http::Response& resp) {
  bool keep_alive = req.keep_alive && !resp.close && !shard_.draining() && !peer_done_ &&
                    requests_ < shard_.cfg().limits.keepalive_requests &&
                    shard_.cfg().timeouts.keepalive.count() > 0;
  if (!keep_alive) close_after_ = true;
  write_head(resp, keep_alive, req.version_minor);
  bool send_body = !req.is_head && resp.status != 304 && resp.status != 204;
  uint64_t body_bytes = send_body ? resp.content_length : 0;
  if (resp.body == http::Response::Body::kInline && send_body) {
    out_ += resp.inline_body;
  } else if (resp.body == http::Response::Body::kFile) {
    if (send_body && resp.content_length <= kInlineFileMax) {
      size_t at = out_.size();
      out_.resize(at + resp.content_length);
      ssize_t n =
          pread(resp.file_fd, out_.data() + at, resp.content_length, off_t(resp.file_offset));
      if (n != ssize_t(resp.content_length)) {  // the file shrank under us: cannot keep framing
        out_.resize(at + size_t(std::max<ssize_t>(n, 0)));
        close_after_ = true;
      }
      ::close(resp.file_fd);
    } else if (send_body) {
      file_fd_ = resp.file_fd;
      file_off_ = off_t(resp.file_offset);
      file_left_ = resp.content_length;
    } else {
      ::close(resp.file_fd);
    }
  }
  AccessLog& log = shard_.access_log();
  if (log.enabled()) {
    log.add({peer(), req.method, req.target, req.version_minor ? "HTTP/1.1" : "HTTP/1.0",
             resp.status, body_bytes, req.find("referer"), req.find("user-agent")},
            shard_.now_sec());
  }
}

// A request the parser refused: answer with the status, then close, since the framing of
// anything after it is in doubt.
void H1Conn::reject(int status, const char* reason) {
  LOG_INFO("client %s: %s, answered %d", peer_text().c_str(), reason, status);
  ++shard_.counters().bad_requests;
  http::Response resp;
  resp.status = status;
  resp.set_inline(http::error_body(status), "text/plain; charset=utf-8");
  resp.close = true;
  close_after_ = true;
  write_head(resp, false, 1);
  out_ += resp.inline_body;
  AccessLog& log = shard_.access_log();
  if (log.enabled())
    log.add({peer(), "-", "-", "HTTP/1.1", status, resp.content_length, {}, {}}, shard_.now_sec());
  state_ = State::kIdle;
  in_.clear();
  if (!sending_) flush();
}

void H1Conn::flush() {
  sending_ = true;
  arm(shard_.send_timers);
  shard_.io().send(this, out_.data(), out_.size());
}

void H1Conn::on_sent(int error) {
  if (error < 0) return close_now();  // the client went away
  out_.clear();
  if (file_left_ > 0) return send_file();
  after_send();
}

void H1Conn::on_writable() {
  send_file();
}

// Large files go with sendfile(2) from the page cache; the socket is non-blocking, so a full
// socket hands control back to the loop until it has room.
void H1Conn::send_file() {
  while (file_left_ > 0) {
    ssize_t n =
        sendfile(fd, file_fd_, &file_off_, size_t(std::min<uint64_t>(file_left_, kSendfileChunk)));
    if (n > 0) {
      file_left_ -= uint64_t(n);
      arm(shard_.send_timers);
    } else if (n < 0 && errno == EAGAIN) {
      return shard_.io().wait_writable(this);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      LOG_INFO("sendfile failed: %s", n == 0 ? "file shrank" : strerror(errno));
      return close_now();
    }
  }
  ::close(file_fd_);
  file_fd_ = -1;
  after_send();
}

void H1Conn::after_send() {
  sending_ = false;
  if (close_after_) {
    // Unread bytes make close() send a reset that can destroy the answer in flight: linger
    // when the client may still be sending.
    if (!in_.empty() || state_ != State::kIdle) return begin_linger();
    return close_now();
  }
  if (!in_.empty()) {
    in_.erase(0, process(in_));
  } else if (state_ == State::kIdle) {
    idle();
  }
  if (closed_ || sending_) return;
  if (state_ == State::kBody) arm(shard_.body_timers);
  if (recv_paused_ && in_.size() < kInPauseAt) {
    recv_paused_ = false;
    shard_.io().resume_recv(this);
  }
  if (peer_done_ && in_.empty()) close_now();
}

// Waiting for the next request: only the keep-alive timer, and no buffer memory held.
void H1Conn::idle() {
  if (shard_.draining()) return close_now();
  if (requests_ > 0) arm(shard_.keepalive_timers);
  if (in_.capacity() > 0) std::string().swap(in_);
  if (out_.capacity() > 4096) std::string().swap(out_);
}

void H1Conn::begin_linger() {
  if (peer_done_) return close_now();
  state_ = State::kLinger;
  in_.clear();
  ::shutdown(fd, SHUT_WR);
  arm(shard_.linger_timers);
  if (recv_paused_) {
    recv_paused_ = false;
    shard_.io().resume_recv(this);
  }
}

void H1Conn::on_timeout() {
  if (closed_) return;
  if (sending_ || state_ == State::kLinger || state_ == State::kIdle) {
    if (sending_) ++shard_.counters().timeouts;
    return close_now();
  }
  ++shard_.counters().timeouts;
  if (state_ == State::kHead) return reject(408, "request head not received in time");
  LOG_INFO("client %s: request body timed out", peer_text().c_str());
  close_now();  // kBody: the answer already went out
}

void H1Conn::drain() {
  if (!sending_ && state_ == State::kIdle && in_.empty()) close_now();
}

void H1Conn::close_now() {
  if (closed_) return;
  closed_ = true;
  loop::TimerList::unlink(&timer);
  shard_.io().close(this);
}

void H1Conn::on_closed() {
  shard_.release(this);
}

}  // namespace askr::server
