#include "server/h1_conn.h"

#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/dispatch.h"
#include "http/h1_request.h"
#include "net/listener.h"
#include "server/shard.h"
#include "shared/base/copy.h"
#include "shared/base/log.h"

namespace askr::server {
namespace {

// The request line of a head refused while parsing, as sent, for the access log (nginx's
// $request then): leading empty lines skipped, up to the line feed, at most `max` bytes.
std::string_view raw_request_line(std::string_view head, size_t max) {
  size_t start = head.find_first_not_of("\r\n");
  if (start == std::string_view::npos) return {};
  head = head.substr(start);
  head = head.substr(0, std::min(head.find('\n'), max));
  if (!head.empty() && head.back() == '\r') head.remove_suffix(1);
  return head;
}

constexpr size_t kInlineFileMax = 16 * 1024;  // smaller files are read into the send buffer
constexpr size_t kByReference = 2048;
constexpr uint64_t kCorkAt = 256 * 1024;    // files this large are sent corked  // a shared inline
                                            // body this large is sent, not copied
constexpr size_t kOutBatchMax = 64 * 1024;  // pipelined answers batched up to this
constexpr size_t kInPauseAt = 256 * 1024;   // stop reading while this much waits unparsed
constexpr size_t kSinkHigh = 256 * 1024;    // a streamed response waits above this
constexpr size_t kSendfileChunk = 1 << 20;
constexpr size_t kCopyChunk = 64 * 1024;  // file bytes copied per send where sendfile cannot go

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

H1Conn::H1Conn(Shard& shard, std::unique_ptr<net::Transport> transport)
    : shard_(shard), transport_(std::move(transport)) {
  info_.secure = transport_->secure();
}

H1Conn::~H1Conn() {
  if (file_fd_ >= 0 && file_owned_) ::close(file_fd_);
  stream_.reset();
  retired_.reset();
  if (req_) shard_.requests().put(std::move(req_));
  shard_.buffers().put(in_);
  shard_.buffers().put(wbuf_);
  shard_.buffers().put(sbuf_);
}

void H1Conn::start(std::string_view received) {
  transport_->start(this);
  // A TLS handshake must end within handshake_timeout; then the first request's head must
  // arrive within the header timeout (on_ready). Plaintext starts with the header timeout.
  arm(transport_->ready() ? shard_.header_timers : shard_.handshake_timers);
  transport_->resume_recv();
  if (!received.empty()) on_data(received);
}

// Client timers run only while Askr waits on the client: for a head, a body, a pending write or
// the next request. While a handler works, only the pool's own timeouts apply.
void H1Conn::arm(loop::TimerList& list) {
  list.arm(&timer, shard_.now_ms());
}

void H1Conn::disarm() {
  loop::TimerList::unlink(&timer);
}

// The request is with its handler and nothing is owed to or expected from the client.
void H1Conn::waiting_on_backend() {
  if (!sending_ && file_left_ == 0 && state_ != State::kBody) disarm();
}

std::string H1Conn::peer_text() {
  return net::format_address(transport_->peer());
}

void H1Conn::pause_reading() {
  if (recv_paused_ || closed_) return;
  recv_paused_ = true;
  transport_->pause_recv();
}

// Unparsed bytes enough to stop reading the client. A head in progress is not: the parser needs
// the rest of it, and refuses it (431) once it is larger than max_header_size, which may be far
// above kInPauseAt.
bool H1Conn::in_full() const {
  return in_.size() >= kInPauseAt && state_ != State::kHead;
}

void H1Conn::resume_reading() {
  if (!recv_paused_ || closed_ || in_full()) return;
  if (stream_ && (stream_->body_paused || stream_->splicing)) return;
  recv_paused_ = false;
  transport_->resume_recv();
}

void H1Conn::on_ready() {
  if (state_ == State::kIdle && requests_ == 0) arm(shard_.header_timers);
}

void H1Conn::on_data(std::string_view data) {
  retired_.reset();
  if (state_ == State::kLinger) {  // the answer is out; what still comes is dropped
    if (shard_.now_ms() >= linger_until_ms_) return close_now();
    return arm(shard_.linger_timers);
  }
  if (state_ == State::kBody && !(stream_ && stream_->body_paused)) arm(shard_.body_timers);
  if (in_.empty()) {
    // Common case: parse straight from the receive buffer; keep only what is left over.
    size_t used = process(data);
    if (used < data.size() && !closed_) {
      shard_.buffers().get_small(in_);
      in_.append(data.substr(used));
    }
  } else {
    in_.append(data);
    in_.erase(0, process(in_));
  }
  if (in_full()) pause_reading();  // the client sends faster than we answer
}

void H1Conn::on_data_end(int error) {
  peer_done_ = true;
  if (state_ == State::kHead) {
    // A head cut short never completes: nginx logs what came of it as a 400 with no body. What
    // is left to send (an answer before it) still goes out; then the connection closes.
    if (req_) req_->reset();
    log_access(400, 0, nullptr, raw_request_line(in_, shard_.cfg().limits.max_request_line));
    in_.clear();
    progress_.reset();
    state_ = State::kIdle;
  }
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
    if (stream_ || close_after_ || file_left_ > 0 || !held_.empty() || wbuf_.size() >= kOutBatchMax)
      break;
    if (state_ == State::kLinger) break;
    std::string_view rest = in.substr(pos);
    if (rest.empty()) break;
    http::RequestHead& head = shard_.head();
    // Resumes where the last read stopped: a head trickled in costs linear time.
    // Only a head that arrives in pieces keeps its progress on the connection.
    http::ParseProgress& progress = progress_ ? *progress_ : (shard_.progress() = {});
    http::ParseResult r = http::parse_request(rest, limits, head, progress);
    if (r.state == http::ParseState::kNeedMore && !progress_) {
      progress_ = std::make_unique<http::ParseProgress>(progress);
    }
    if (r.state == http::ParseState::kNeedMore) {
      if (state_ == State::kIdle) {
        state_ = State::kHead;
        arm(shard_.header_timers);
      }
      break;
    }
    progress_.reset();
    if (r.state == http::ParseState::kError) {
      processing_ = false;
      reject_head(r.status, r.reason, LOG_LIMIT_SITE(),
                  raw_request_line(rest, limits.max_request_line));
      return in.size();
    }
    pos += r.head_length;
    state_ = State::kIdle;
    handle(head, rest.substr(0, r.head_length), rest.substr(r.head_length));
  }
  processing_ = false;
  flush();
  if (!sending_ && !closed_ && state_ == State::kIdle && pos == in.size() && !stream_ &&
      wbuf_.empty() && file_left_ == 0) {
    idle();
  }
  return pos;
}

// One complete head: build the protocol-neutral request, let the request core pick its
// handler, and either write the answer at once or start the handler with the body wired to it.
void H1Conn::handle(const http::RequestHead& head, std::string_view raw, std::string_view preread) {
  ++requests_;
  ++shard_.counters().requests;
  if (!req_) req_ = shard_.requests().get();
  http::Request& req = *req_;
  http::h1_to_request(head, raw, info_.secure, req);
  if (!info_.peer) {
    info_.peer = transport_->peer();
    info_.local = transport_->local();
    if (const net::TlsSession* tls = transport_->tls()) {
      info_.tls_protocol = tls->protocol;
      info_.tls_cipher = tls->cipher;
      info_.tls_server_name = tls->server_name;
      info_.tls_reused = tls->reused;
    }
  }
  req.conn = &info_;
  req.start_ms = shard_.now_ms();
  version_minor_ = head.version_minor;
  uint64_t max = shard_.cfg().limits.max_body_size;
  if (head.framing == http::BodyFraming::kContentLength && max && head.content_length > max) {
    return reject(413, "request body larger than max_body_size", LOG_LIMIT_SITE());
  }
  shard_.buffers().get(wbuf_);
  http::Response resp;
  auto stream = core::dispatch(req, shard_.services(), resp, {*this, *this});
  if (!stream) {
    if (req.refused) note_refused(resp.status, req.refused, LOG_LIMIT_SITE());
    keep_alive_ = keep_alive_for(head, resp.close);
    bool body_due = head.framing == http::BodyFraming::kChunked || head.content_length > 0;
    if (body_due && head.expect_continue && head.version_minor == 1) {
      // The client waits for 100 Continue: it gets the answer instead and is never asked for a
      // body nobody reads, and the connection closes after the answer (RFC 9110 §10.1.1), as
      // nginx does. What it sends anyway is drained by the linger.
      keep_alive_ = false;
      refused_ = true;
    } else if (head.framing != http::BodyFraming::kNone && !begin_body(head)) {
      // Else a body sent to a handler that answers at once is read and dropped, which keeps
      // the connection usable.
      return;
    }
    // A success is not sent for a body already seen to be malformed: nginx reads what came
    // with the head before it serves a file, and answers 400. An error answer stands.
    const char* reason = nullptr;
    if (int status = resp.status < 300 ? chunked_error(preread, reason) : 0) {
      chunked_.reset();
      return reject(status, reason, LOG_LIMIT_SITE());
    }
    write_response(resp);
    // The answer is in the send buffer (or held by its owner): the request can go back to the
    // pool now, so that a burst of connections shares a few request objects. A file still to
    // send keeps it for its access-log line.
    if (file_left_ == 0) shard_.requests().put(std::move(req_));
    return;
  }
  stream_ = std::make_unique<Streamed>();
  Streamed& s = *stream_;
  s.handler = std::move(stream);
  s.head_only = req.is_head;
  s.version_minor = head.version_minor;
  s.keep_alive = keep_alive_ = keep_alive_for(head, false);
  if (head.framing != http::BodyFraming::kNone && !begin_body(head)) return;
  s.handler->start();
  if (stream_ && !stream_->done && state_ != State::kBody) waiting_on_backend();
}

// Sets up reading the request body; it goes to the streamed handler when there is one, and is
// read and dropped otherwise. A chunked body over the limit is refused as it arrives.
bool H1Conn::begin_body(const http::RequestHead& head) {
  uint64_t max = shard_.cfg().limits.max_body_size;
  if (head.framing == http::BodyFraming::kContentLength) {
    if (head.content_length == 0) return true;
    body_left_ = head.content_length;
  } else {
    chunked_ = std::make_unique<http::ChunkedDecoder>(max ? max : UINT64_MAX);
  }
  state_ = State::kBody;
  arm(shard_.body_timers);
  // The client waits for this before sending the body (RFC 9110 §10.1.1).
  if (head.expect_continue && head.version_minor == 1) wbuf_ += "HTTP/1.1 100 Continue\r\n\r\n";
  return true;
}

int H1Conn::chunked_error(std::string_view bytes, const char*& reason) const {
  if (!chunked_) return 0;
  http::ChunkedDecoder probe = *chunked_;
  for (;;) {
    http::ChunkedDecoder::Step s = probe.next(bytes);
    if (s.status != http::ChunkedDecoder::Status::kData) {
      reason = probe.error_reason();
      return probe.error_status();  // 0 unless kError
    }
    bytes.remove_prefix(s.consumed);
  }
}

void H1Conn::body_piece(std::string_view data) {
  if (!stream_ || stream_->done || data.empty()) return;
  if (!stream_->handler->body(data)) {
    stream_->body_paused = true;           // the backend is behind: stop reading the client
    if (state_ == State::kBody) disarm();  // waiting on the backend now, not the client
    pause_reading();
  }
}

void H1Conn::body_end() {
  state_ = State::kIdle;
  if (stream_ && !stream_->done) {
    stream_->handler->end_body();
    if (stream_ && !stream_->done) waiting_on_backend();
  }
}

// A large known-length body for a streamed handler: stop receiving, and splice the rest from
// the socket to the backend, where the transport allows it.
bool H1Conn::maybe_splice() {
  if (!stream_ || stream_->done || stream_->splicing) return false;
  uint64_t threshold = stream_->handler->splice_threshold();
  if (!threshold || body_left_ < threshold || !transport_->zero_copy().splice_in) return false;
  stream_->splicing = true;
  recv_paused_ = true;
  transport_->stop_recv();
  return true;
}

void H1Conn::on_recv_stopped() {
  LOG_DEBUG("client %s: receiving stopped, %llu body bytes left to splice", peer_text().c_str(),
            (unsigned long long)body_left_);
  if (!stream_ || !stream_->splicing) return;
  if (stream_->done || body_left_ == 0 || state_ != State::kBody) {
    stream_->splicing = false;
    return resume_reading();
  }
  stream_->handler->splice_rest(*this, body_left_);
}

void H1Conn::wait_client_readable() {
  transport_->wait_readable();
}

void H1Conn::on_readable() {
  if (stream_ && stream_->splicing) stream_->handler->on_client_readable();
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
  if (state_ == State::kBody) arm(shard_.body_timers);
  resume_reading();
}

// A Content-Length body paused for its handler (queued for a PHP worker): the client's close is
// not read meanwhile, so the socket is asked. (A chunked body is read whole before it goes on.)
bool H1Conn::body_cut_short() {
  return state_ == State::kBody && !chunked_ && body_left_ > 0 && !closed_ &&
         transport_->peer_left_short_of(body_left_);
}

size_t H1Conn::consume_body(std::string_view in) {
  if (!chunked_) {
    size_t n = size_t(std::min<uint64_t>(body_left_, in.size()));
    body_left_ -= n;
    body_piece(in.substr(0, n));
    if (body_left_ == 0) {
      body_end();
    } else {
      maybe_splice();
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
      const char* reason = chunked_->error_reason();
      chunked_.reset();
      state_ = State::kIdle;
      if (stream_ && !stream_->done && !stream_->started) {
        stream_->handler->abandon();
        stream_->done = true;
        retired_ = std::move(stream_);
        processing_ = false;
        reject(status, reason, LOG_LIMIT_SITE());  // logs and counts it
        processing_ = true;
        return in.size();
      }
      LOG_LIMITED(kInfo, "client %s: invalid chunked body: %s", peer_text().c_str(), reason);
      ++shard_.counters().bad_requests;
      close_after_ = true;  // framing is lost: finish what is queued, then close
      if (stream_ && !stream_->done) {
        fail_response(502);
      } else if (!sending_ && wbuf_.empty() && held_.empty() && file_left_ == 0) {
        begin_linger();  // the answer is already out: no send will end the connection
      }
      return in.size();
    }
    return pos;
  }
}

bool H1Conn::keep_alive_for(const http::RequestHead& head, bool handler_close) const {
  return head.keep_alive && !handler_close && !shard_.draining() && !peer_done_ &&
         requests_ < shard_.cfg().limits.keepalive_requests &&
         shard_.cfg().timeouts.keepalive.count() > 0;
}

// `reason`: a backend's own phrase, as nginx passes it on; empty: the registered one.
static void append_status_line(std::string& out, int status, std::string_view reason = {}) {
  out += "HTTP/1.1 ";
  append_number(out, unsigned(status));
  out += ' ';
  out += reason.empty() ? http::reason_phrase(status) : reason;
  out += "\r\n";
}

// Server and Date are written by write_head itself: a handler's (a script's header()) are
// dropped, as HTTP/2 drops them, so that a response never carries two of either.
static bool written_by_protocol(std::string_view name) {
  return name.size() == 4 ? http::iequals(name, "date")
                          : name.size() == 6 && http::iequals(name, "server");
}

static void append_fields(std::string& out, std::span<const http::Response::Field> fields) {
  for (const http::Response::Field& f : fields) {
    if (written_by_protocol(f.name)) continue;
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
}

// The decimal digits of `v`, written into `buf`.
static std::string_view number_text(uint64_t v, char (&buf)[24]) {
  return {buf, size_t(std::to_chars(buf, buf + sizeof buf, v).ptr - buf)};
}

// The head is copied into wbuf_ after one resize to its summed size, rather than appended piece
// by piece, each append with a capacity check and a call of its own.
void H1Conn::write_head(int status, std::span<const http::Response::Field> fields,
                        std::optional<uint64_t> length, bool chunked, bool keep_alive,
                        uint8_t version_minor, std::string_view reason) {
  constexpr std::string_view kVersion = "HTTP/1.1 ", kServer = "Server: askr\r\n",
                             kLength = "Content-Length: ",
                             kChunked = "Transfer-Encoding: chunked\r\n";
  char code_buf[24], length_buf[24];
  std::string_view code;
  if (status >= 100 && status <= 999) {  // every status a handler answers: three digits
    code_buf[0] = char('0' + status / 100);
    code_buf[1] = char('0' + status / 10 % 10);
    code_buf[2] = char('0' + status % 10);
    code = {code_buf, 3};
  } else {
    code = number_text(unsigned(status), code_buf);
  }
  const std::string_view phrase = reason.empty() ? http::reason_phrase(status) : reason;
  const std::string_view date = shard_.date_line();
  const bool with_length = length && status != 304 && status != 204 && status >= 200;
  const std::string_view length_text = with_length ? number_text(*length, length_buf) : "";
  const std::string_view connection = !keep_alive          ? "Connection: close\r\n"
                                      : version_minor == 0 ? "Connection: keep-alive\r\n"
                                                           : "";
  size_t size = kVersion.size() + code.size() + 1 + phrase.size() + 2 + kServer.size() +
                date.size() + (with_length ? kLength.size() + length_text.size() + 2 : 0) +
                (chunked ? kChunked.size() : 0) + connection.size() + 2;
  for (const http::Response::Field& f : fields) {
    if (!written_by_protocol(f.name)) size += f.name.size() + 2 + f.value.size() + 2;
  }
  const size_t at = wbuf_.size();
  wbuf_.resize(at + size);
  using base::put;
  char* p = put(put(wbuf_.data() + at, kVersion), code);
  p = put(put(put(p, " "), phrase), "\r\n");
  p = put(put(p, kServer), date);
  for (const http::Response::Field& f : fields) {
    if (!written_by_protocol(f.name)) p = put(put(put(put(p, f.name), ": "), f.value), "\r\n");
  }
  if (with_length) p = put(put(put(p, kLength), length_text), "\r\n");
  if (chunked) p = put(p, kChunked);
  p = put(put(p, connection), "\r\n");
  assert(p == wbuf_.data() + wbuf_.size());
}

void H1Conn::log_access(int status, uint64_t bytes, const handlers::BackendTiming* timing,
                        std::string_view request_line) {
  AccessLog& log = shard_.access_log();
  if (!log.enabled()) return;
  AccessEntry e{transport_->peer(), {}, {}, "HTTP/1.1", status, bytes, {}, {}, timing,
                request_line,       {}};
  if (const http::Request* r = req_.get(); r && !r->method.empty()) {
    e.method = r->method;
    e.target = r->target;
    e.protocol = r->protocol;
    e.referer = r->known(http::Known::kReferer);
    e.user_agent = r->known(http::Known::kUserAgent);
    e.authorization = r->known(http::Known::kAuthorization);
  } else if (request_line.empty()) {
    e.protocol = {};  // blank lines alone: nginx's $request is empty
  }
  log.add(e, shard_.now_sec());
}

void H1Conn::write_response(http::Response& resp) {
  const http::Request& req = *req_;
  if (!keep_alive_) close_after_ = true;
  write_head(resp.status, resp.fields(),
             resp.body == http::Response::Body::kNone && resp.status == 304
                 ? std::nullopt
                 : std::optional<uint64_t>(resp.content_length),
             false, keep_alive_, version_minor_);
  bool send_body = !req.is_head && resp.status != 304 && resp.status != 204;
  uint64_t body_bytes = send_body ? resp.content_length : 0;
  if (resp.body == http::Response::Body::kInline && send_body) {
    if (resp.inline_file_fd >= 0 && resp.body_owner && transport_->zero_copy().sendfile) {
      // A cached file that is open as well: sendfile from the page cache, as for larger files,
      // rather than copying its bytes into the socket. The client then reads pages no core
      // has just written (a copy it makes about twice as fast over loopback at 16 KiB).
      file_fd_ = resp.inline_file_fd;
      file_owned_ = false;
      body_owner_ = std::move(resp.body_owner);
      file_off_ = off_t(resp.inline_file_offset);
      file_left_ = resp.content_length;
    } else if (resp.body_owner && resp.inline_body.size() >= kByReference) {
      held_ = resp.inline_body;  // goes out right after the head, in the same send
      body_owner_ = std::move(resp.body_owner);
    } else {
      base::append_bytes(wbuf_, resp.inline_body.data(), resp.inline_body.size());
    }
  } else if (resp.body == http::Response::Body::kFile) {
    if (send_body && resp.file_owned && resp.content_length <= kInlineFileMax) {
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
      file_owned_ = resp.file_owned;
      body_owner_ = std::move(resp.body_owner);
      file_off_ = off_t(resp.file_offset);
      file_left_ = resp.content_length;
      // A file that takes several sendfile calls leaves in full packets, as with nginx's
      // tcp_nopush; smaller ones share packets with their head through MSG_MORE alone.
      if (file_left_ >= kCorkAt && transport_->zero_copy().sendfile) {
        corked_ = true;
        transport_->set_corked(true);
      }
    } else if (resp.file_owned) {
      ::close(resp.file_fd);
    }
  }
  if (file_left_ > 0) {
    file_status_ = resp.status;  // logged once the file is out (end_file), or cut (close_now)
    file_size_ = file_left_;
  } else {
    log_access(resp.status, body_bytes);
  }
}

void H1Conn::start_response(int status, std::string_view reason,
                            std::span<const http::Response::Field> fields,
                            std::optional<uint64_t> length) {
  Streamed& s = *stream_;
  s.started = true;
  s.status = status;
  s.body_allowed = !s.head_only && status != 204 && status != 304 && status >= 200;
  s.chunked = !length && s.body_allowed && s.version_minor == 1;
  if (!length && s.body_allowed && !s.chunked) s.keep_alive = false;  // HTTP/1.0: until close
  if (!s.keep_alive) close_after_ = true;
  shard_.buffers().get(wbuf_);
  write_head(status, fields, length, s.chunked, s.keep_alive, s.version_minor, reason);
  // Held, as the body is, until push() or the end: a small response leaves in one send.
}

void H1Conn::push() {
  flush();
}

// RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
void H1Conn::interim_response(int status, std::span<const http::Response::Field> fields) {
  const Streamed& s = *stream_;
  if (s.started || s.version_minor == 0) return;
  shard_.buffers().get(wbuf_);
  append_status_line(wbuf_, status);
  append_fields(wbuf_, fields);
  wbuf_ += "\r\n";
  flush();
}

bool H1Conn::write_body(std::string_view data) {
  Streamed& s = *stream_;
  if (!s.body_allowed || data.empty()) return true;
  s.bytes += data.size();
  if (s.chunked) {
    append_hex(wbuf_, data.size());
    wbuf_ += "\r\n";
    base::append_bytes(wbuf_, data.data(), data.size());
    wbuf_ += "\r\n";
  } else {
    base::append_bytes(wbuf_, data.data(), data.size());
  }
  // Sent when the producer is done for the moment (push(), end_response()): the head, the body
  // and a chunked body's end then leave together. At once when it piles up.
  if (wbuf_.size() + sbuf_.size() < kSinkHigh) return true;
  flush();
  s.sink_full = true;
  return false;
}

void H1Conn::end_response() {
  Streamed& s = *stream_;
  s.done = true;
  if (s.chunked) wbuf_ += "0\r\n\r\n";
  log_access(s.status, s.bytes, s.handler->timing());
  flush();
  if (!sending_) after_send();
}

void H1Conn::fail_response(int status) {
  Streamed& s = *stream_;
  if (s.done) return;
  s.done = true;
  if (s.started) {
    close_after_ = true;  // the client sees the response cut short, never a wrong end
    transport_->cut_short();
    log_access(s.status, s.bytes, s.handler->timing());
  } else {
    http::Response r;
    r.status = status;
    r.set_inline(http::error_body(status), "text/plain; charset=utf-8");
    if (status == 503) r.add("Retry-After", "1");
    if (!s.keep_alive) close_after_ = true;
    shard_.buffers().get(wbuf_);
    write_head(status, r.fields(), r.content_length, false, s.keep_alive, s.version_minor);
    if (!s.head_only) wbuf_ += r.inline_body;
    log_access(status, s.head_only ? 0 : r.content_length, s.handler->timing());
  }
  flush();
  if (!sending_) after_send();
}

void H1Conn::set_producer(http::BodyProducer* p) {
  if (stream_) stream_->producer = p;
}

// Spliced bytes reach the client as they are: only where the transport passes them untouched
// (plaintext, or TLS once the kernel sends), and only for a body that needs no framing
// (Content-Length). Not while the request body is itself being spliced from the same socket.
http::SpliceTarget* H1Conn::splice_target() {
  if (!stream_ || !stream_->started || stream_->done || stream_->chunked ||
      !stream_->body_allowed || stream_->splicing || closed_ ||
      !transport_->zero_copy().splice_out) {
    return nullptr;
  }
  return this;
}

bool H1Conn::splice_ready() {
  flush();  // a head still held goes first
  if (!sending_ && wbuf_.empty()) return true;
  stream_->splice_drain = true;
  return false;
}

// The send timeout applies while a spliced write waits for the client, as for any write.
void H1Conn::wait_splice_writable() {
  stream_->splice_writable = true;
  arm(shard_.send_timers);
  transport_->wait_writable();
}

void H1Conn::on_body_spliced(uint64_t n) {
  stream_->bytes += n;
  stream_->bytes_out += n;
}

void H1Conn::on_splice_error(int error) {
  LOG_DEBUG("client %s: splicing the response failed: %s", peer_text().c_str(), strerror(error));
  close_now();
}

// What was queued before the spliced bytes is out: the producer may splice now.
void H1Conn::notify_splice_drained() {
  if (!stream_ || !stream_->splice_drain || sending_ || !wbuf_.empty() || closed_) return;
  stream_->splice_drain = false;
  if (stream_->producer) stream_->producer->on_sink_drained();
}

// A request head that could not be read: the access log names no request of req_ (it may still
// hold the one before it), only the raw line as sent, where there is one.
void H1Conn::reject_head(int status, const char* reason, log::RateLimit& limit,
                         std::string_view request_line) {
  if (req_) req_->reset();
  reject(status, reason, limit, request_line);
}

// Bad input, answered with `status`: a line that says why (rate-limited) and the loop's counter.
// A 408 is the client's timeout rather than bad input (nginx's "client timed out").
void H1Conn::note_refused(int status, const char* reason, log::RateLimit& limit) {
  LOG_LIMITED_AT(limit, kInfo, "client %s: %s, answered %d", peer_text().c_str(), reason, status);
  ++(status == 408 ? shard_.counters().timeouts : shard_.counters().bad_requests);
}

// A refused request (its head, or its body, as it arrived): answer with the status, then close,
// since the framing of anything after it is in doubt. The access log names req_, or the raw
// `request_line` of a head refused while parsing.
void H1Conn::reject(int status, const char* reason, log::RateLimit& limit,
                    std::string_view request_line) {
  note_refused(status, reason, limit);
  http::Response resp;
  resp.status = status;
  resp.set_inline(http::error_body(status), "text/plain; charset=utf-8");
  close_after_ = true;
  refused_ = true;  // the rest of what the client sends (a body, a long head) may be on its way
  shard_.buffers().get(wbuf_);
  write_head(status, resp.fields(), resp.content_length, false, false, 1);
  wbuf_ += resp.inline_body;
  log_access(status, resp.content_length, nullptr, request_line);
  state_ = State::kIdle;
  in_.clear();
  flush();
}

void H1Conn::flush() {
  if (sending_ || closed_ || wbuf_.empty()) return;
  sbuf_.swap(wbuf_);
  wbuf_.clear();
  // What comes while this is out goes to a spare (sbuf_'s, or a grown one of the loop's) rather
  // than to a buffer growing again from nothing.
  shard_.buffers().get(wbuf_);
  sending_ = true;
  arm(shard_.send_timers);
  iovec iov[2] = {{sbuf_.data(), sbuf_.size()}, {const_cast<char*>(held_.data()), held_.size()}};
  held_ = {};  // in flight now; body_owner_ keeps it until on_sent
  // What the access log counts as sent, should the client leave before the end.
  if (stream_ && stream_->started) {
    stream_->head_out = true;
    stream_->bytes_out = stream_->bytes;
  }
  if (close_after_ && file_left_ == 0 && (!stream_ || stream_->done)) transport_->last_send();
  // A file follows this head at once: let them share packets, as nginx's tcp_nopush does.
  transport_->send(iov, iov[1].iov_len ? 2 : 1, file_left_ > 0);
}

void H1Conn::on_sent(int error) {
  retired_.reset();
  sending_ = false;
  if (error < 0) return close_now();  // the client went away
  sbuf_.clear();
  if (file_left_ == 0) body_owner_.reset();
  if (stream_ && stream_->sink_full && wbuf_.size() < kSinkHigh) {
    stream_->sink_full = false;
    if (stream_->producer) stream_->producer->on_sink_drained();
  }
  if (closed_) return;
  if (!wbuf_.empty()) return flush();
  // The producer, told above that the sink drained, may have started the next send itself
  // (splice_ready() sends what is held): its completion comes back here.
  if (sending_) return;
  if (file_left_ > 0) return send_file();
  after_send();
  notify_splice_drained();
}

void H1Conn::on_writable() {
  if (stream_ && stream_->splice_writable) {
    stream_->splice_writable = false;
    waiting_on_backend();  // the producer re-arms the send timer if the socket is full again
    if (stream_->producer) stream_->producer->on_sink_drained();
    return;
  }
  if (file_left_ > 0) send_file();
}

// Large files go with sendfile(2) from the page cache where the transport allows it; the socket
// is non-blocking, so a full socket hands control back to the loop until it has room. Other
// transports get the file in bounded copies.
void H1Conn::send_file() {
  if (!transport_->zero_copy().sendfile) {
    size_t n = size_t(std::min<uint64_t>(file_left_, kCopyChunk));
    shard_.buffers().get(wbuf_);
    wbuf_.resize(n);
    ssize_t got = pread(file_fd_, wbuf_.data(), n, file_off_);
    if (got <= 0) {
      LOG_LIMITED(kInfo, "reading a file to send: %s", got == 0 ? "file shrank" : strerror(errno));
      return close_now();
    }
    wbuf_.resize(size_t(got));
    file_off_ += got;
    file_left_ -= uint64_t(got);
    if (file_left_ == 0) end_file();
    return flush();
  }
  while (file_left_ > 0) {
    ssize_t n = transport_->send_file(file_fd_, &file_off_,
                                      size_t(std::min<uint64_t>(file_left_, kSendfileChunk)));
    if (n > 0) {
      file_left_ -= uint64_t(n);
      arm(shard_.send_timers);
    } else if (n == -EAGAIN) {
      return transport_->wait_writable();
    } else if (n == -EINTR) {
      continue;
    } else {
      LOG_LIMITED(kInfo, "sendfile failed: %s", n == 0 ? "file shrank" : strerror(int(-n)));
      return close_now();
    }
  }
  end_file();
  after_send();
}

void H1Conn::end_file() {
  if (file_status_) log_access(file_status_, file_size_);
  file_status_ = 0;
  if (corked_) {
    corked_ = false;
    transport_->set_corked(false);
  }
  if (file_owned_) ::close(file_fd_);
  file_fd_ = -1;
  file_owned_ = true;
  body_owner_.reset();
}

// Everything queued is out. Finish a streamed response, then go on with what the client sent.
void H1Conn::after_send() {
  if (stream_ && stream_->done) retired_ = std::move(stream_);  // freed off its call stack
  if (stream_) {
    // A response is still coming: while its handler works, no client timer runs, unless the
    // body is still being read.
    if (state_ == State::kBody && !stream_->body_paused && !stream_->splicing) {
      arm(shard_.body_timers);
    } else {
      waiting_on_backend();
    }
    return;
  }
  if (close_after_) {
    // Unread bytes make close() send a reset that can destroy the answer in flight: linger
    // when the client may still be sending.
    if (refused_ || !in_.empty() || state_ != State::kIdle) return begin_linger();
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
  // A head begun while answers went out had the send timer: its own deadline starts now.
  if (state_ == State::kHead) arm(shard_.header_timers);
  resume_reading();
  if (peer_done_ && in_.empty() && !stream_) close_now();
}

// Waiting for the next request: only the keep-alive timer, and no buffer held: the buffers and
// the request go back to the loop's pool, where the next request (of any connection) finds them.
void H1Conn::idle() {
  if (shard_.draining()) return close_now();
  if (requests_ > 0) arm(shard_.keepalive_timers);
  if (req_) shard_.requests().put(std::move(req_));
  shard_.buffers().put(in_);
  shard_.buffers().put(wbuf_);
  shard_.buffers().put(sbuf_);
}

void H1Conn::begin_linger() {
  if (peer_done_) return close_now();
  state_ = State::kLinger;
  linger_until_ms_ = shard_.now_ms() + Shard::kLingerTimeMs;
  in_.clear();
  transport_->shutdown_write();
  arm(shard_.linger_timers);
  if (recv_paused_) {
    recv_paused_ = false;
    transport_->resume_recv();
  }
}

void H1Conn::on_timeout() {
  retired_.reset();
  if (closed_) return;
  bool writing = sending_ || file_left_ > 0 || (stream_ && stream_->splice_writable);
  if (writing || state_ == State::kLinger || (state_ == State::kIdle && !stream_)) {
    if (writing) {
      ++shard_.counters().timeouts;
      transport_->cut_short();
    }
    return close_now();
  }
  if (state_ == State::kIdle) return;  // a handler works: no client timer applies
  // A 408 is logged and counted (as a timeout) by reject().
  if (state_ == State::kHead) {
    // What came of the head waits in in_: its request line names the request in the log.
    return reject_head(408, "request head not received in time", LOG_LIMIT_SITE(),
                       raw_request_line(in_, shard_.cfg().limits.max_request_line));
  }
  if (state_ == State::kBody && stream_ && !stream_->done && !stream_->started) {
    stream_->handler->abandon();
    stream_->done = true;
    retired_ = std::move(stream_);
    return reject(408, "request body not received in time", LOG_LIMIT_SITE());
  }
  if (state_ == State::kBody) {
    LOG_LIMITED(kInfo, "client %s: request body timed out", peer_text().c_str());
  }
  ++shard_.counters().timeouts;
  close_now();
}

// The loop stops: an idle connection closes now, and an answer not begun yet says `Connection:
// close` (RFC 9112 §9.6), as nginx's do once it shuts down, so that the client does not send
// its next request into a connection about to close.
void H1Conn::drain() {
  if (stream_ && !stream_->started) stream_->keep_alive = keep_alive_ = false;
  if (!sending_ && file_left_ == 0 && state_ == State::kIdle && in_.empty() && !stream_)
    close_now();
}

void H1Conn::close_now() {
  if (closed_) return;
  closed_ = true;
  disarm();
  if (stream_ && !stream_->done) {
    log_cut(*stream_);
    stream_->handler->abandon();
  }
  // A file cut short: nginx logs the body bytes that went out.
  if (file_status_) log_access(file_status_, file_size_ - file_left_);
  file_status_ = 0;
  transport_->close();
}

// A streamed response the connection ends before its handler does (the client left, or did
// not take it in time) is logged as nginx logs it: with the status and the body bytes that went
// out once its head had; before that, 400 while the request body was still being read (nginx's
// answer to a body cut short), else 499, "client closed request".
void H1Conn::log_cut(const Streamed& s) {
  int status = s.head_out ? s.status : state_ == State::kBody ? 400 : 499;
  log_access(status, s.head_out ? s.bytes_out : 0, s.handler->timing());
}

void H1Conn::on_closed() {
  shard_.release(this);
}

}  // namespace askr::server
