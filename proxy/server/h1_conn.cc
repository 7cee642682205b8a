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
constexpr size_t kSinkHigh = 256 * 1024;      // a streamed response waits above this
constexpr size_t kSendfileChunk = 1 << 20;

void append_number(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_hex(std::string& out, uint64_t v) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
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

const sockaddr* H1Conn::local() {
  if (!have_local_) {
    socklen_t len = sizeof local_;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local_), &len) < 0)
      local_.sin6_family = AF_INET6;
    have_local_ = true;
  }
  return reinterpret_cast<const sockaddr*>(&local_);
}

void H1Conn::pause_reading() {
  if (recv_paused_ || closed_) return;
  recv_paused_ = true;
  shard_.io().pause_recv(this);
}

void H1Conn::resume_reading() {
  if (!recv_paused_ || closed_ || in_.size() >= kInPauseAt) return;
  if (stream_ && stream_->body_paused) return;
  recv_paused_ = false;
  shard_.io().resume_recv(this);
}

void H1Conn::on_recv(std::string_view data) {
  retired_.reset();
  if (state_ == State::kLinger) return;  // the answer is out; what still comes is dropped
  if (state_ == State::kBody) arm(shard_.body_timers);
  if (in_.empty()) {
    // Common case: parse straight from the receive buffer; keep only what is left over.
    size_t used = process(data);
    if (used < data.size() && !closed_) in_.append(data.substr(used));
  } else {
    in_.append(data);
    in_.erase(0, process(in_));
  }
  if (in_.size() >= kInPauseAt) pause_reading();  // the client sends faster than we answer
}

void H1Conn::on_recv_end(int error) {
  peer_done_ = true;
  if (error < 0 || state_ == State::kLinger) return close_now();
  // A request still being read or answered by PHP is abandoned with the client.
  bool writing = sending_ || file_left_ > 0;
  if (!writing && (!stream_ || state_ == State::kBody || !stream_->done)) close_now();
}

// Parses and answers every complete request in `in`, in order, until a response has to go out
// before the next can be produced. Returns the bytes consumed.
size_t H1Conn::process(std::string_view in) {
  if (processing_) return 0;  // re-entered from a handler callback: the outer call goes on
  processing_ = true;
  size_t pos = 0;
  const config::Limits& lim = shard_.cfg().limits;
  http::ParseLimits limits{lim.max_request_line, lim.max_header_size, lim.max_headers};
  while (!closed_) {
    if (state_ == State::kBody) {
      pos += consume_body(in.substr(pos));
      if (state_ == State::kBody) break;
      continue;
    }
    if (stream_ || close_after_ || file_left_ > 0 || wbuf_.size() >= kOutBatchMax) break;
    if (state_ == State::kLinger) break;
    std::string_view rest = in.substr(pos);
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
      processing_ = false;
      reject(r.status, r.reason);
      return in.size();
    }
    pos += r.head_length;
    state_ = State::kIdle;
    handle(head);
  }
  processing_ = false;
  flush();
  if (!sending_ && !closed_ && state_ == State::kIdle && pos == in.size() && !stream_ &&
      wbuf_.empty() && file_left_ == 0) {
    idle();
  }
  return pos;
}

void H1Conn::handle(const http::RequestHead& req) {
  ++requests_;
  ++shard_.counters().requests;
  const route::Site& site = shard_.gen().router.match(req.host);
  const config::Site& sc = *site.config;
  std::string& scratch = shard_.path_scratch();
  const config::Route* route = route::Router::find_route(sc, req.path, scratch);
  if (route && route->action == config::RouteAction::kReturn) {
    if (req.framing != http::BodyFraming::kNone && !begin_body(req)) return;
    return serve_return(req, *route);
  }
  int pool = route ? route->php_pool : sc.php_pool;
  if (route && route->action == config::RouteAction::kStatic) pool = -1;
  http::Response resp;
  if (pool >= 0) {
    const std::string& fc = route ? route->front_controller : sc.front_controller;
    handlers::PhpScript script;
    switch (handlers::match_php(site.files, sc.root, fc, req.path, scratch, script)) {
      case handlers::PhpMatch::kScript:
        if (req.framing != http::BodyFraming::kNone && !begin_body(req)) return;
        return start_php(req, script, pool, sc);
      case handlers::PhpMatch::kNotFound:
        resp.status = 404;
        resp.set_inline(http::error_body(404), "text/plain; charset=utf-8");
        break;
      case handlers::PhpMatch::kBadPath:
        resp.status = 400;
        resp.set_inline(http::error_body(400), "text/plain; charset=utf-8");
        break;
      case handlers::PhpMatch::kStatic:
        break;
    }
  }
  if (req.framing != http::BodyFraming::kNone && !begin_body(req)) return;
  if (resp.status == 200) {
    bool deny_php = route && route->action == config::RouteAction::kStatic;
    handlers::serve_static(site.files, req, resp, scratch, deny_php, &shard_.file_cache());
  }
  write_response(req, resp);
}

void H1Conn::serve_return(const http::RequestHead& req, const config::Route& route) {
  http::Response resp;
  resp.status = route.status;
  if (!route.location.empty()) resp.add("Location", route.location);
  if (!route.body.empty()) {
    resp.set_inline(route.body, "text/plain; charset=utf-8");
  } else if (route.status >= 300) {
    resp.set_inline(http::error_body(route.status), "text/plain; charset=utf-8");
  }
  write_response(req, resp);
}

void H1Conn::start_php(const http::RequestHead& req, const handlers::PhpScript& script, int pool,
                       const config::Site& site) {
  stream_ = std::make_unique<Streamed>();
  Streamed& s = *stream_;
  s.head_only = req.is_head;
  s.version_minor = req.version_minor;
  s.keep_alive = keep_alive_for(req, false);
  if (shard_.access_log().enabled()) {
    s.method = req.method;
    s.target = req.target;
    s.referer = req.find("referer");
    s.user_agent = req.find("user-agent");
  }
  handlers::ClientInfo client;
  client.peer = peer();
  client.local = local();
  std::string_view host = req.host;
  if (size_t colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  client.server_name = site.server_names.empty() ? host : std::string_view(site.server_names[0]);
  client.document_root = site.root;
  s.splice_threshold = shard_.pool(pool).cfg().splice_threshold;
  s.php =
      std::make_unique<handlers::PhpRequest>(shard_.pool(pool), *this, *this, shard_.php_limits());
  s.php->begin(req, script, client);
}

// Sets up reading the request body; it goes to PHP when a PHP request is in progress, and is
// read and dropped otherwise, which keeps the connection usable. A body over the limit is
// refused.
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
  if (req.expect_continue && req.version_minor == 1) wbuf_ += "HTTP/1.1 100 Continue\r\n\r\n";
  return true;
}

void H1Conn::body_piece(std::string_view data) {
  if (!stream_ || stream_->done || data.empty()) return;
  if (!stream_->php->body(data)) {
    stream_->body_paused = true;  // the backend is behind: stop reading the client
    pause_reading();
  }
}

void H1Conn::body_end() {
  state_ = State::kIdle;
  if (stream_ && !stream_->done) stream_->php->end_body();
}

void H1Conn::on_recv_stopped() {
  LOG_DEBUG("client %s: receiving stopped, %llu body bytes left to splice", peer_text().c_str(),
            (unsigned long long)body_left_);
  if (!stream_ || !stream_->splicing) return;
  if (stream_->done || body_left_ == 0 || state_ != State::kBody) {
    stream_->splicing = false;
    return resume_reading();
  }
  stream_->php->splice_rest(*this, body_left_);
}

void H1Conn::wait_client_readable() {
  shard_.io().wait_readable(this);
}

void H1Conn::on_readable() {
  if (stream_ && stream_->splicing) stream_->php->on_client_readable();
}

void H1Conn::on_splice_progress() {
  arm(shard_.body_timers);
}

void H1Conn::on_splice_done() {
  body_left_ = 0;
  stream_->splicing = false;
  body_end();
  resume_reading();
}

void H1Conn::on_sink_drained() {
  if (!stream_ || !stream_->body_paused) return;
  stream_->body_paused = false;
  resume_reading();
}

size_t H1Conn::consume_body(std::string_view in) {
  if (!chunked_) {
    size_t n = size_t(std::min<uint64_t>(body_left_, in.size()));
    body_left_ -= n;
    body_piece(in.substr(0, n));
    if (body_left_ == 0) {
      body_end();
    } else if (stream_ && !stream_->done && !stream_->splicing && stream_->splice_threshold &&
               body_left_ >= stream_->splice_threshold) {
      // A large body: stop receiving, and splice the rest from the socket to the backend.
      stream_->splicing = true;
      recv_paused_ = true;
      shard_.io().stop_recv(this);
    }
    return n;
  }
  size_t pos = 0;
  for (;;) {
    http::ChunkedDecoder::Step s = chunked_->next(in.substr(pos));
    pos += s.consumed;
    if (s.status == http::ChunkedDecoder::Status::kData) {
      body_piece(s.data);
      continue;
    }
    if (s.status == http::ChunkedDecoder::Status::kDone) {
      chunked_.reset();
      body_end();
    } else if (s.status == http::ChunkedDecoder::Status::kError) {
      int status = chunked_->error_status();
      LOG_INFO("client %s: invalid chunked body: %s", peer_text().c_str(),
               chunked_->error_reason());
      ++shard_.counters().bad_requests;
      chunked_.reset();
      state_ = State::kIdle;
      if (stream_ && !stream_->done && !stream_->started) {
        stream_->php->abandon();
        stream_->done = true;
        retired_ = std::move(stream_);
        processing_ = false;
        reject(status, "invalid chunked request body");
        processing_ = true;
        return in.size();
      }
      close_after_ = true;  // framing is lost: finish what is queued, then close
      if (stream_ && !stream_->done) fail_response(502);
      return in.size();
    }
    return pos;
  }
}

bool H1Conn::keep_alive_for(const http::RequestHead& req, bool handler_close) const {
  return req.keep_alive && !handler_close && !shard_.draining() && !peer_done_ &&
         requests_ < shard_.cfg().limits.keepalive_requests &&
         shard_.cfg().timeouts.keepalive.count() > 0;
}

void H1Conn::write_head(int status, std::span<const http::Response::Field> fields,
                        std::optional<uint64_t> length, bool chunked, bool keep_alive,
                        uint8_t version_minor) {
  wbuf_ += "HTTP/1.1 ";
  append_number(wbuf_, unsigned(status));
  wbuf_ += ' ';
  wbuf_ += http::reason_phrase(status);
  wbuf_ += "\r\nServer: askr\r\n";
  wbuf_ += shard_.date_line();
  for (const http::Response::Field& f : fields) {
    wbuf_ += f.name;
    wbuf_ += ": ";
    wbuf_ += f.value;
    wbuf_ += "\r\n";
  }
  if (length && status != 304 && status != 204 && status >= 200) {
    wbuf_ += "Content-Length: ";
    append_number(wbuf_, *length);
    wbuf_ += "\r\n";
  }
  if (chunked) wbuf_ += "Transfer-Encoding: chunked\r\n";
  if (!keep_alive) {
    wbuf_ += "Connection: close\r\n";
  } else if (version_minor == 0) {
    wbuf_ += "Connection: keep-alive\r\n";
  }
  wbuf_ += "\r\n";
}

void H1Conn::log_access(std::string_view method, std::string_view target, uint8_t version_minor,
                        int status, uint64_t bytes, std::string_view referer, std::string_view ua) {
  AccessLog& log = shard_.access_log();
  if (!log.enabled()) return;
  log.add(
      {peer(), method, target, version_minor ? "HTTP/1.1" : "HTTP/1.0", status, bytes, referer, ua},
      shard_.now_sec());
}

void H1Conn::write_response(const http::RequestHead& req, http::Response& resp) {
  bool keep_alive = keep_alive_for(req, resp.close);
  if (!keep_alive) close_after_ = true;
  write_head(resp.status, {resp.fields, resp.nfields},
             resp.body == http::Response::Body::kNone && resp.status == 304
                 ? std::nullopt
                 : std::optional<uint64_t>(resp.content_length),
             false, keep_alive, req.version_minor);
  bool send_body = !req.is_head && resp.status != 304 && resp.status != 204;
  uint64_t body_bytes = send_body ? resp.content_length : 0;
  if (resp.body == http::Response::Body::kInline && send_body) {
    wbuf_ += resp.inline_body;
  } else if (resp.body == http::Response::Body::kFile) {
    if (send_body && resp.content_length <= kInlineFileMax) {
      size_t at = wbuf_.size();
      wbuf_.resize(at + resp.content_length);
      ssize_t n =
          pread(resp.file_fd, wbuf_.data() + at, resp.content_length, off_t(resp.file_offset));
      if (n != ssize_t(resp.content_length)) {  // the file shrank under us: cannot keep framing
        wbuf_.resize(at + size_t(std::max<ssize_t>(n, 0)));
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
  log_access(req.method, req.target, req.version_minor, resp.status, body_bytes,
             req.find("referer"), req.find("user-agent"));
}

void H1Conn::start_response(int status, std::span<const http::Response::Field> fields,
                            std::optional<uint64_t> length) {
  Streamed& s = *stream_;
  s.started = true;
  s.status = status;
  s.body_allowed = !s.head_only && status != 204 && status != 304 && status >= 200;
  s.chunked = !length && s.body_allowed && s.version_minor == 1;
  if (!length && s.body_allowed && !s.chunked) s.keep_alive = false;  // HTTP/1.0: until close
  if (!s.keep_alive) close_after_ = true;
  write_head(status, fields, length, s.chunked, s.keep_alive, s.version_minor);
  flush();
}

bool H1Conn::write_body(std::string_view data) {
  Streamed& s = *stream_;
  if (!s.body_allowed || data.empty()) return true;
  s.bytes += data.size();
  if (s.chunked) {
    append_hex(wbuf_, data.size());
    wbuf_ += "\r\n";
    wbuf_ += data;
    wbuf_ += "\r\n";
  } else {
    wbuf_ += data;
  }
  flush();
  if (wbuf_.size() + sbuf_.size() < kSinkHigh) return true;
  s.sink_full = true;
  return false;
}

void H1Conn::end_response() {
  Streamed& s = *stream_;
  s.done = true;
  if (s.chunked) wbuf_ += "0\r\n\r\n";
  log_access(s.method, s.target, s.version_minor, s.status, s.bytes, s.referer, s.user_agent);
  flush();
  if (!sending_) after_send();
}

void H1Conn::fail_response(int status) {
  Streamed& s = *stream_;
  if (s.done) return;
  s.done = true;
  if (s.started) {
    close_after_ = true;  // the client sees the response cut short, never a wrong end
    log_access(s.method, s.target, s.version_minor, s.status, s.bytes, s.referer, s.user_agent);
  } else {
    http::Response r;
    r.status = status;
    r.set_inline(http::error_body(status), "text/plain; charset=utf-8");
    if (status == 503) r.add("Retry-After", "1");
    if (!s.keep_alive) close_after_ = true;
    write_head(status, {r.fields, r.nfields}, r.content_length, false, s.keep_alive,
               s.version_minor);
    if (!s.head_only) wbuf_ += r.inline_body;
    log_access(s.method, s.target, s.version_minor, status, s.head_only ? 0 : r.content_length,
               s.referer, s.user_agent);
  }
  flush();
  if (!sending_) after_send();
}

void H1Conn::set_producer(http::BodyProducer* p) {
  if (stream_) stream_->producer = p;
}

void H1Conn::finish_streamed() {
  retired_ = std::move(stream_);  // freed once we are out of its call stack
}

// A request the parser refused: answer with the status, then close, since the framing of
// anything after it is in doubt.
void H1Conn::reject(int status, const char* reason) {
  LOG_INFO("client %s: %s, answered %d", peer_text().c_str(), reason, status);
  ++shard_.counters().bad_requests;
  http::Response resp;
  resp.status = status;
  resp.set_inline(http::error_body(status), "text/plain; charset=utf-8");
  close_after_ = true;
  write_head(status, {resp.fields, resp.nfields}, resp.content_length, false, false, 1);
  wbuf_ += resp.inline_body;
  log_access("-", "-", 1, status, resp.content_length, {}, {});
  state_ = State::kIdle;
  in_.clear();
  flush();
}

void H1Conn::flush() {
  if (sending_ || closed_ || wbuf_.empty()) return;
  sbuf_.swap(wbuf_);
  wbuf_.clear();
  sending_ = true;
  arm(shard_.send_timers);
  shard_.io().send(this, sbuf_.data(), sbuf_.size());
}

void H1Conn::on_sent(int error) {
  retired_.reset();
  sending_ = false;
  if (error < 0) return close_now();  // the client went away
  sbuf_.clear();
  if (stream_ && stream_->sink_full && wbuf_.size() < kSinkHigh) {
    stream_->sink_full = false;
    if (stream_->producer) stream_->producer->on_sink_drained();
  }
  if (closed_) return;
  if (!wbuf_.empty()) return flush();
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

// Everything queued is out. Finish a streamed response, then go on with what the client sent.
void H1Conn::after_send() {
  if (stream_ && stream_->done) finish_streamed();
  if (stream_) return;  // a PHP response is still coming
  if (close_after_) {
    // Unread bytes make close() send a reset that can destroy the answer in flight: linger
    // when the client may still be sending.
    if (!in_.empty() || state_ != State::kIdle) return begin_linger();
    return close_now();
  }
  if (processing_) return;  // the caller's process() loop goes on
  if (!in_.empty()) {
    in_.erase(0, process(in_));
  } else if (state_ == State::kIdle) {
    idle();
  }
  if (closed_ || sending_) return;
  if (state_ == State::kBody) arm(shard_.body_timers);
  resume_reading();
  if (peer_done_ && in_.empty() && !stream_) close_now();
}

// Waiting for the next request: only the keep-alive timer, and no buffer memory held.
void H1Conn::idle() {
  if (shard_.draining()) return close_now();
  if (requests_ > 0) arm(shard_.keepalive_timers);
  // An idle keep-alive connection holds no heap buffer: the next request allocates again,
  // which costs less than keeping a few hundred bytes for each of thousands of idle clients.
  if (in_.capacity() > 15) std::string().swap(in_);
  if (wbuf_.capacity() > 15) std::string().swap(wbuf_);
  if (sbuf_.capacity() > 15) std::string().swap(sbuf_);
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
  retired_.reset();
  if (closed_) return;
  bool writing = sending_ || file_left_ > 0;
  if (writing || state_ == State::kLinger || (state_ == State::kIdle && !stream_)) {
    if (writing) ++shard_.counters().timeouts;
    return close_now();
  }
  ++shard_.counters().timeouts;
  if (state_ == State::kHead) return reject(408, "request head not received in time");
  if (state_ == State::kBody) {
    LOG_INFO("client %s: request body timed out", peer_text().c_str());
    if (stream_ && !stream_->done && !stream_->started) {
      stream_->php->abandon();
      stream_->done = true;
      retired_ = std::move(stream_);
      return reject(408, "request body not received in time");
    }
  }
  close_now();
}

void H1Conn::drain() {
  if (!sending_ && file_left_ == 0 && state_ == State::kIdle && in_.empty() && !stream_)
    close_now();
}

void H1Conn::close_now() {
  if (closed_) return;
  closed_ = true;
  loop::TimerList::unlink(&timer);
  if (stream_ && !stream_->done) stream_->php->abandon();
  shard_.io().close(this);
}

void H1Conn::on_closed() {
  shard_.release(this);
}

}  // namespace askr::server
