#include "server/h2_conn.h"

#include <nghttp2/nghttp2.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "core/dispatch.h"
#include "net/listener.h"
#include "server/shard.h"
#include "shared/base/copy.h"
#include "shared/base/log.h"
#include "shared/base/spares.h"

namespace askr::server {
namespace {

// Frames gathered into one send: up to kBatchMax bytes, cached bodies included, so that a
// connection's hundred concurrent responses of a few KiB go out in one send. Over TLS in user
// space as well, though the transport then holds the batch's ciphertext until it is out: with a
// quarter of this there, a loop spent a fifth to a third more CPU per request under h2load
// (four sends per hundred 4 KiB responses instead of one), and for a client that stops
// reading, the kernel holds more than a batch anyway (the socket's send buffer).
constexpr size_t kBatchMax = 512 * 1024;
// Cached bodies from this size up are sent from the cache (an iovec each) rather than copied
// into the batch; at most kBatchRefs of them in one send (2 * kBatchRefs + 1 iovecs).
constexpr size_t kRefFrom = 1024;
constexpr size_t kBatchRefs = 256;
static_assert(2 * kBatchRefs + 1 <= net::Transport::kMaxSendIovs);
constexpr size_t kStreamHigh = 64 * 1024;       // a streamed response waits above this, per stream
constexpr size_t kStreamLow = kStreamHigh / 2;  // ... and resumes below this
// Once all streams together hold this much, each waits above kStreamLow. A stream never waits
// on the others' bytes alone: those of a stream whose client grants it no window stay, and
// would hold up every other response of the connection for as long.
constexpr size_t kConnHigh = 1024 * 1024;

http::H2Limits limits_from(const config::Config& cfg) {
  const config::Http2& h = cfg.http2;
  http::H2Limits l;
  l.max_concurrent_streams = h.max_concurrent_streams;
  l.max_streams = h.max_streams;
  l.initial_window = h.initial_window;
  l.body_preread = h.body_preread;
  l.connection_window = h.connection_window;
  l.max_header_list = cfg.limits.max_header_size;
  l.max_fields = cfg.limits.max_headers;
  l.max_request_line = cfg.limits.max_request_line;
  l.max_continuations = h.max_continuations;
  l.reset_burst = h.reset_burst;
  l.reset_rate = h.reset_rate;
  l.flood_burst = h.flood_burst;
  l.flood_rate = h.flood_rate;
  return l;
}

}  // namespace

// One request/response exchange. It is its handler's sink and body source, as an H1Conn is.
struct H2Conn::Stream final : http::ResponseSink, http::BodyProducer {
  enum class Source : uint8_t { kNone, kInline, kFile, kStreamed };

  Stream() = default;
  // For base::Spares.
  void recycle(size_t room);
  size_t kept_bytes() const { return out.capacity() + held.capacity(); }
  ~Stream() override {
    if (file_fd >= 0 && file_owned) ::close(file_fd);
  }

  // http::ResponseSink
  void start_response(int status, std::string_view reason,
                      std::span<const http::Response::Field> fields,
                      std::optional<uint64_t> length) override;
  void interim_response(int status, std::span<const http::Response::Field> fields) override;
  bool write_body(std::string_view data) override;
  void end_response() override;
  void fail_response(int status) override;
  void set_producer(http::BodyProducer* p) override { producer = p; }
  // http::BodyProducer: the handler can take more of the request body.
  void on_sink_drained() override { conn->body_drained(*this); }

  size_t pending() const { return out.size() - out_pos; }
  // Response bytes the client has yet to take.
  bool owes() const {
    return pending() > 0 || (source == Source::kFile && file_left > 0) ||
           (source == Source::kInline && !inline_body.empty());
  }

  H2Conn* conn = nullptr;
  int32_t id = 0;
  std::unique_ptr<http::Request> req;
  std::unique_ptr<handlers::Stream> handler;
  http::BodyProducer* producer = nullptr;
  // The response body's source, read by H2Conn::read_body as the windows allow.
  Source source = Source::kNone;
  std::string_view inline_body;
  std::shared_ptr<const void> body_owner;
  int file_fd = -1;
  bool file_owned = true;
  off_t file_off = 0;
  uint64_t file_left = 0;
  std::string out;  // kStreamed: bytes written and not yet framed
  size_t out_pos = 0;
  // The request body while the handler cannot take it (not consumed for the stream: its window
  // bounds it).
  std::string held;
  // Body bytes the handler took as it asked for no more (a request queued for a PHP worker):
  // not read yet, so not consumed for the stream either, until it asks for more.
  size_t unread = 0;
  uint64_t body_bytes = 0;  // request body bytes received
  bool wants_body = false;  // a handler reads the body (else it is consumed and dropped)
  bool body_paused = false;
  bool body_ended = false;     // END_STREAM received
  bool end_body_sent = false;  // handler->end_body() called
  bool started = false;        // response head submitted
  bool body_allowed = true;
  bool done = false;  // end_response or fail_response happened (or an immediate answer)
  bool sink_full = false;
  bool abandon_later = false;  // closed while its own sink call ran
  bool closed = false;         // the stream is gone: what its handler still writes is dropped
  bool log_at_close = false;   // an immediate answer with a body: logged once it is out or cut
  bool bad_body = false;       // reset for a body that broke its framing or window: logged 400
  bool failing = false;        // cut short: what is pending goes out, then the reset
  int status = 0;
  uint64_t bytes = 0;
};

namespace {

// Spare Stream objects of this thread (a loop is one thread), so that a stream costs no
// allocation in steady state: enough for every stream of a busy loop in flight (connections
// retire and start streams in bursts of up to max_concurrent_streams each), with at most 4 MiB
// of buffers. A spare holds nothing of its last stream (see Stream::recycle).
base::Spares<H2Conn::Stream>& spares() {
  thread_local base::Spares<H2Conn::Stream> s(16384, 4 << 20);
  return s;
}

std::unique_ptr<H2Conn::Stream> new_stream(H2Conn* conn, int32_t id) {
  std::unique_ptr<H2Conn::Stream> s = spares().get();
  s->conn = conn;
  s->id = id;
  return s;
}

}  // namespace

// Destroys the stream (closing its file, dropping its handler, request and body) and constructs
// it anew; only the capacity of its two buffers stays, when small enough.
void H2Conn::Stream::recycle(size_t room) {
  // Most streams never had a buffer of either (a file's or a short answer's, no request body):
  // nothing to carry over.
  const size_t kNoBuffer = std::string().capacity();  // an empty string's (its inline buffer)
  if (out.capacity() == kNoBuffer && held.capacity() == kNoBuffer) {
    std::destroy_at(this);
    std::construct_at(this);
    return;
  }
  std::string o = std::move(out), h = std::move(held);
  std::destroy_at(this);
  std::construct_at(this);
  base::keep_or_free(o, 16384, room);
  base::keep_or_free(h, 16384, room);
  out = std::move(o);
  held = std::move(h);
}

// streams_ is sorted by id (nghttp2 opens streams in increasing id order). Streams mostly end
// in the order they began, and are sent in that order: the oldest is looked at first.
std::vector<H2Conn::Stream*>::iterator H2Conn::stream_at(int32_t id) {
  if (!streams_.empty() && streams_.front()->id == id) return streams_.begin();
  auto it = std::lower_bound(streams_.begin(), streams_.end(), id,
                             [](const auto& e, int32_t i) { return e->id < i; });
  return it != streams_.end() && (*it)->id == id ? it : streams_.end();
}

H2Conn::H2Conn(Shard& shard, std::unique_ptr<net::Transport> transport)
    : shard_(shard),
      transport_(std::move(transport)),
      session_(*this, limits_from(shard.cfg()), &shard.counters().h2) {
  info_.secure = transport_->secure();
}

H2Conn::~H2Conn() {
  for (Stream* s : streams_) {
    if (s->req) shard_.requests().put(std::move(s->req));
    spares().put(std::unique_ptr<Stream>(s));
  }
  streams_.clear();
  for (auto& s : retired_) spares().put(std::move(s));
  retired_.clear();
}

void H2Conn::start(std::string_view received) {
  ++shard_.counters().h2_connections;
  info_.peer = transport_->peer();
  info_.local = transport_->local();
  if (const net::TlsSession* tls = transport_->tls()) {  // ALPN chose h2: the handshake is done
    info_.tls_protocol = tls->protocol;
    info_.tls_cipher = tls->cipher;
    info_.tls_server_name = tls->server_name;
    info_.tls_reused = tls->reused;
  }
  transport_->start(this);
  set_wait(Wait::kIdle, true);
  transport_->resume_recv();
  if (!received.empty()) on_data(received);
  // Made while the loop drains (a handshake that was under way): the streams that came with
  // the preface are served, GOAWAY refuses the others.
  if (shard_.draining() && !closed_) return drain();
  flush();  // our SETTINGS
}

// nghttp2 asks about one stream several times in a row (read_body, then copy_body): the last
// one found is checked first.
H2Conn::Stream* H2Conn::find(int32_t id) {
  if (last_found_ && last_found_->id == id) return last_found_;
  auto it = stream_at(id);
  if (it == streams_.end()) return nullptr;
  return last_found_ = *it;
}

void H2Conn::free_retired() {
  for (auto& s : retired_) {
    if (s->abandon_later && s->handler && !s->done) s->handler->abandon();
    if (s->req) shard_.requests().put(std::move(s->req));
    spares().put(std::move(s));
  }
  retired_.clear();
}

void H2Conn::on_data(std::string_view data) {
  free_retired();
  if (closing_ || closed_) return;  // lingering, or the session is over: dropped
  busy_ = true;
  bool ok = session_.recv(data, shard_.now_ms());
  busy_ = false;
  if (!ok) session_over();
  flush();
  update_timer();
}

// The session reported the connection over (a protocol error, a budget ran out): its GOAWAY
// goes out, then the connection closes.
void H2Conn::session_over() {
  const char* why = session_.failure();
  LOG_LIMITED(kInfo, "client %s: HTTP/2 connection ended: %s",
              net::format_address(info_.peer).c_str(), why ? why : "a protocol error");
  closing_ = true;
}

void H2Conn::on_data_end(int) {
  close_now();  // the client is gone: its streams with it
}

// Gathers every frame that is ready (responses of all streams, window updates, control frames)
// into one send, straight into the send buffer (free: nothing is being sent).
void H2Conn::flush() {
  if (busy_ || sending_ || closed_) return;
  busy_ = true;
  bool ok = session_.pull(batch_, kBatchMax, kBatchRefs);
  busy_ = false;
  if (!ok) return close_now();
  if (!closing_ && session_.failure()) session_over();  // a budget spent as frames went out
  if (batch_.empty()) {
    if (closing_ || session_.done()) finish();
    return;
  }
  sending_ = true;
  iov_.clear();
  batch_.for_each_piece([this](std::string_view p) {
    iov_.push_back({const_cast<char*>(p.data()), p.size()});
  });
  transport_->send(iov_.data(), iov_.size());
  notify_drained();
}

void H2Conn::on_sent(int error) {
  free_retired();
  sending_ = false;
  batch_.clear();
  sent_owners_.clear();
  if (error < 0) return close_now();
  flush();
  update_timer();
}

// Producers that were told to wait and whose stream has room again.
void H2Conn::notify_drained() {
  std::vector<int32_t> ready;
  for (auto& s : streams_) {
    if (s->sink_full && s->pending() < kStreamLow) ready.push_back(s->id);
  }
  for (int32_t id : ready) {
    Stream* s = find(id);
    if (!s || !s->sink_full) continue;
    s->sink_full = false;
    if (s->producer) s->producer->on_sink_drained();
  }
}

std::unique_ptr<http::Request> H2Conn::new_request() {
  return shard_.requests().get();
}

// A complete head: the request core picks the handler, as for HTTP/1.1.
void H2Conn::on_request(int32_t id, std::unique_ptr<http::Request> req, bool end_stream) {
  ++shard_.counters().requests;
  Stream& s = *new_stream(this, id).release();  // owned by streams_ until it closes
  if (streams_.empty() || streams_.back()->id < id) {
    streams_.push_back(&s);
  } else {  // never with nghttp2 (ids only grow), kept sorted all the same
    streams_.insert(std::lower_bound(streams_.begin(), streams_.end(), id,
                                     [](const Stream* e, int32_t i) { return e->id < i; }),
                    &s);
  }
  s.req = std::move(req);
  http::Request& r = *s.req;
  r.conn = &info_;
  r.start_ms = shard_.now_ms();
  // The scheme is the transport's, as for HTTP/1.1, whatever :scheme the client claims.
  r.scheme = info_.secure ? "https" : "http";
  s.body_ended = end_stream;
  uint64_t max = shard_.cfg().limits.max_body_size;
  if (r.body == http::BodyKind::kLength && max && r.content_length > max) {
    note_refused(413, "request body larger than max_body_size", LOG_LIMIT_SITE());
    return respond_error(s, 413);
  }
  http::Response resp;
  auto handler = core::dispatch(r, shard_.services(), resp, {s, s});
  if (!handler) {
    if (r.refused) note_refused(resp.status, r.refused, LOG_LIMIT_SITE());
    return respond(s, resp);
  }
  s.handler = std::move(handler);
  s.wants_body = r.body != http::BodyKind::kNone;
  // The client waits for it before it sends the body (RFC 9110 §10.1.1), as over HTTP/1.1.
  if (s.wants_body && !end_stream && http::iequals(r.find("expect"), "100-continue")) {
    s.interim_response(100, {});
  }
  in_sink_ = &s;
  s.handler->start();
  in_sink_ = nullptr;
}

// An answer the request core gave at once (static file, return, error).
void H2Conn::respond(Stream& s, http::Response& resp) {
  const http::Request& req = *s.req;
  s.done = s.started = true;
  s.status = resp.status;
  bool body = !req.is_head && resp.status != 304 && resp.status != 204 &&
              resp.body != http::Response::Body::kNone && resp.content_length > 0;
  std::optional<uint64_t> length;
  if (resp.body != http::Response::Body::kNone || resp.status != 304) length = resp.content_length;
  if (resp.body == http::Response::Body::kInline) {
    s.source = Stream::Source::kInline;
    s.inline_body = resp.inline_body.substr(0, body ? resp.inline_body.size() : 0);
    s.body_owner = std::move(resp.body_owner);
  } else if (resp.body == http::Response::Body::kFile) {
    s.source = Stream::Source::kFile;
    s.file_fd = resp.file_fd;
    s.file_owned = resp.file_owned;
    s.body_owner = std::move(resp.body_owner);
    s.file_off = off_t(resp.file_offset);
    s.file_left = body ? resp.content_length : 0;
  }
  std::string_view date = shard_.date_line();
  date = date.substr(6, date.size() - 8);
  session_.submit_response(s.id, resp.status, resp.fields(), length, body, date);
  if (body) {
    s.bytes = resp.content_length;
    s.log_at_close = true;  // with the bytes that went out by then (log_answer)
  } else {
    log_access(s, resp.status, 0, nullptr);
  }
  flush();
}

// Bad input, answered with `status`: a line that says why (rate-limited) and the loop's counter.
void H2Conn::note_refused(int status, const char* reason, log::RateLimit& limit) {
  LOG_LIMITED_AT(limit, kInfo, "client %s: %s, answered %d",
                 net::format_address(info_.peer).c_str(), reason, status);
  ++shard_.counters().bad_requests;
}

void H2Conn::respond_error(Stream& s, int status) {
  http::Response r;
  r.status = status;
  r.set_inline(http::error_body(status), "text/plain; charset=utf-8");
  if (status == 503) r.add("Retry-After", "1");
  respond(s, r);
}

void H2Conn::on_body(int32_t id, std::string_view data) {
  data_in_ += data.size();
  Stream* s = find(id);
  if (!s || !s->wants_body || s->done || s->end_body_sent) {
    // Nobody reads it: keep the windows open (what the handler took unread included).
    if (s) session_.consume_stream(id, std::exchange(s->unread, 0));
    session_.consume(id, data.size());
    return;
  }
  s->body_bytes += data.size();
  uint64_t max = shard_.cfg().limits.max_body_size;
  if (max && s->body_bytes > max) {
    // Like a chunked HTTP/1.1 body over the limit: 413 while no answer has started.
    session_.consume(id, data.size());
    s->handler->abandon();
    s->wants_body = false;
    if (!s->started) {
      note_refused(413, "request body grew larger than max_body_size", LOG_LIMIT_SITE());
      return respond_error(*s, 413);
    }
    s->done = true;
    session_.reset(id, NGHTTP2_CANCEL);
    return;
  }
  if (s->body_paused || !s->held.empty()) {
    // Held: the stream's window stays closed by as much, so the stream's window bounds what is
    // held (body_preread until the handler first reads). The connection's opens: were it to
    // wait on this stream's handler (a request queued for a PHP worker), the bodies of the
    // streams PHP is reading would stall behind it.
    base::append_bytes(s->held, data.data(), data.size());
    session_.consume_connection(data.size());
    return;
  }
  feed(*s, data);
  if (s->body_paused) {  // taken but not read: the stream's window waits for the handler
    s->unread += data.size();
    session_.consume_connection(data.size());
  } else {
    session_.consume(id, data.size());
  }
}

// Body bytes to the handler (the caller opens the windows by as much). A handler that takes
// them and wants more reads the body: its stream's window grows past the preread.
void H2Conn::feed(Stream& s, std::string_view data) {
  in_sink_ = &s;
  bool more = s.handler->body(data);
  in_sink_ = nullptr;
  if (!more) {
    s.body_paused = true;
  } else if (!s.body_ended) {
    session_.open_stream(s.id);
  }
}

void H2Conn::on_body_end(int32_t id) {
  Stream* s = find(id);
  if (!s) return;
  s->body_ended = true;
  if (s->held.empty()) end_body(*s);
}

void H2Conn::end_body(Stream& s) {
  if (!s.wants_body || s.done || s.end_body_sent || !s.body_ended) return;
  s.end_body_sent = true;
  in_sink_ = &s;
  s.handler->end_body();
  in_sink_ = nullptr;
}

// The handler took what it had and wants more of the request body.
void H2Conn::body_drained(Stream& s) {
  s.body_paused = false;
  size_t read = std::exchange(s.unread, 0);  // what it took unread, it has read now
  if (!s.held.empty() && s.wants_body && !s.done) {
    std::string held;
    held.swap(s.held);
    feed(s, held);
    // The connection's window opened on arrival; the stream's opens once the handler reads.
    (s.body_paused ? s.unread : read) += held.size();
    // The buffer goes back for what arrives while the handler is busy again: an upload that
    // outruns PHP holds one buffer of up to its stream's window, not a new one each round.
    if (s.held.empty()) {
      held.clear();
      s.held.swap(held);
    }
  } else if (s.wants_body && !s.done && !s.body_ended) {
    session_.open_stream(s.id);  // it reads now: what it waited for may come
  }
  session_.consume_stream(s.id, read);
  end_body(s);
  flush();  // window updates
  update_timer();
}

void H2Conn::on_stream_close(int32_t id, uint32_t error) {
  auto it = stream_at(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s(*it);
  streams_.erase(it);
  if (last_found_ == s.get()) last_found_ = nullptr;
  buffered_ -= s->pending();
  s->closed = true;
  if (s->log_at_close) log_answer(*s);
  if (s->handler && !s->done) {
    if (error) LOG_DEBUG("stream %d closed with error %u before its response ended", id, error);
    if (in_sink_ != s.get()) {
      s->handler->abandon();
      s->done = true;
    } else {
      s->abandon_later = true;
    }
    // Closed without error once the head is out: a response without a body (to HEAD, a 204,
    // a 304) is whole with its head, so its stream can end before the handler does. The
    // client has all of it: it is logged as the handler's end would have.
    if (!error && s->started && !s->body_allowed) {
      log_access(*s, s->status, s->bytes, s->handler->timing());
    } else if (s->bad_body && !s->started) {
      log_access(*s, 400, 0, s->handler->timing());
    } else {
      log_cut(*s);
    }
  }
  retired_.push_back(std::move(s));
}

// Response body for nghttp2's DATA frames, as the windows allow: how much the next frame
// carries (copy_body then appends it to the batch).
ssize_t H2Conn::read_body(int32_t id, size_t len, bool& eof) {
  Stream* s = find(id);
  if (!s) return -2;
  size_t n = 0, left = 0;
  switch (s->source) {
    case Stream::Source::kNone:
      break;
    case Stream::Source::kInline:
      left = s->inline_body.size();
      break;
    case Stream::Source::kFile:
      left = size_t(std::min<uint64_t>(s->file_left, SIZE_MAX));
      break;
    case Stream::Source::kStreamed:
      left = s->pending();
      if (left == 0 && s->failing) return -2;  // what came before the failure is out: reset
      if (left == 0 && !s->done) return -1;    // more is coming: resume() then
      break;
  }
  n = std::min(len, left);
  eof = n == left && (s->source != Stream::Source::kStreamed || (s->done && !s->failing));
  return ssize_t(n);
}

// The client's malformed body, found by nghttp2 once the request was handed on: refused as
// HTTP/1.1 refuses a body that breaks its framing, and logged 400 when its stream closes.
void H2Conn::on_bad_body(int32_t id, uint32_t error) {
  Stream* s = find(id);
  if (!s || !s->handler || s->done) return;
  s->bad_body = true;
  if (error == NGHTTP2_FLOW_CONTROL_ERROR) {
    return note_refused(400, "request body went beyond its stream's flow-control window",
                        LOG_LIMIT_SITE());
  }
  bool short_or_over =
      s->req->body == http::BodyKind::kLength && s->body_bytes != s->req->content_length;
  note_refused(400,
               short_or_over ? "request body did not match its content-length"
                             : "request trailers were malformed",
               LOG_LIMIT_SITE());
}

int64_t H2Conn::declared_body(int32_t id) {
  Stream* s = find(id);
  if (!s || !s->req || !s->req->length_sent) return -1;
  // "content-length: 0" makes the body kNone: none is declared, none comes but END_STREAM.
  return s->req->body == http::BodyKind::kLength ? int64_t(s->req->content_length) : 0;
}

bool H2Conn::copy_body(int32_t id, http::H2Batch& out, size_t n) {
  Stream* s = find(id);
  if (!s) return false;
  switch (s->source) {
    case Stream::Source::kNone:
      return n == 0;
    case Stream::Source::kInline:
      if (n >= kRefFrom && s->body_owner) {
        // A cached body goes out from the cache: the batch holds its owner until on_sent, as
        // the stream may end (or the cache drop the entry) before the bytes are out.
        out.reference(s->inline_body.substr(0, n));
        if (n == s->inline_body.size()) {
          sent_owners_.push_back(std::move(s->body_owner));
        } else {
          sent_owners_.push_back(s->body_owner);
        }
      } else {
        base::append_bytes(out.bytes, s->inline_body.data(), n);
      }
      s->inline_body.remove_prefix(n);
      if (s->inline_body.empty()) s->body_owner.reset();
      break;
    case Stream::Source::kFile: {
      // A frame's worth at a time, straight into the batch: a large file is never held.
      std::string& bytes = out.bytes;
      size_t at = bytes.size(), got = 0;
      bytes.resize(at + n);
      while (got < n) {
        ssize_t r = pread(s->file_fd, bytes.data() + at + got, n - got, s->file_off + off_t(got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          LOG_LIMITED(kInfo, "reading a file to send: %s",
                      r == 0 ? "file shrank" : strerror(errno));
          bytes.resize(at);
          return false;
        }
        got += size_t(r);
      }
      s->file_off += off_t(n);
      s->file_left -= n;
      break;
    }
    case Stream::Source::kStreamed:
      base::append_bytes(out.bytes, s->out.data() + s->out_pos, n);
      s->out_pos += n;
      buffered_ -= n;
      if (s->out_pos == s->out.size()) {
        s->out.clear();
        s->out_pos = 0;
      } else if (s->out_pos > kStreamHigh) {
        base::erase_front(s->out, s->out_pos);
        s->out_pos = 0;
      }
      break;
  }
  data_out_ += n;
  return true;
}

void H2Conn::Stream::start_response(int st, std::string_view /*reason: none in HTTP/2*/,
                                    std::span<const http::Response::Field> fields,
                                    std::optional<uint64_t> length) {
  if (closed) return;
  started = true;
  status = st;
  body_allowed = !req->is_head && st != 204 && st != 304 && st >= 200;
  source = Source::kStreamed;
  std::string_view date = conn->shard_.date_line();
  date = date.substr(6, date.size() - 8);
  conn->session_.submit_response(id, st, fields, length, body_allowed, date);
  conn->flush();
}

void H2Conn::Stream::interim_response(int st, std::span<const http::Response::Field> fields) {
  if (started || closed) return;
  conn->session_.submit_interim(id, st, fields);
  conn->flush();
}

bool H2Conn::Stream::write_body(std::string_view data) {
  if (!body_allowed || data.empty() || done || closed) return true;
  bool was_empty = pending() == 0;
  base::append_bytes(out, data.data(), data.size());
  bytes += data.size();
  conn->buffered_ += data.size();
  if (was_empty) conn->session_.resume(id);
  conn->flush();
  if (pending() < kStreamLow || (pending() < kStreamHigh && conn->buffered_ < kConnHigh)) {
    return true;
  }
  sink_full = true;  // this stream's producer waits; the others go on
  return false;
}

void H2Conn::Stream::end_response() {
  if (done) return;
  done = true;
  if (closed) return;
  conn->log_access(*this, status, bytes, handler->timing());
  if (body_allowed) conn->session_.resume(id);
  conn->flush();
}

void H2Conn::Stream::fail_response(int st) {
  if (done) return;
  if (closed) {
    done = true;
    return;
  }
  if (!started) {
    wants_body = false;
    http::Response r;
    r.status = st;
    r.set_inline(http::error_body(st), "text/plain; charset=utf-8");
    if (st == 503) r.add("Retry-After", "1");
    source = Source::kNone;
    conn->respond(*this, r);
    return;
  }
  // The client sees this stream cut short, never a wrong end; the others go on. What the
  // handler wrote before goes out first, as HTTP/1.1 sends it before it closes: read_body
  // resets the stream (INTERNAL_ERROR) once it is out.
  done = true;
  conn->log_access(*this, status, bytes, handler->timing());
  if (body_allowed && pending() > 0) {
    failing = true;
    conn->session_.resume(id);
  } else {
    conn->session_.reset(id, NGHTTP2_INTERNAL_ERROR);
  }
  conn->flush();
}

void H2Conn::log_access(Stream& s, int status, uint64_t bytes,
                        const handlers::BackendTiming* timing) {
  AccessLog& log = shard_.access_log();
  if (!log.enabled()) return;
  AccessEntry e{info_.peer, {}, {}, "HTTP/2.0", status, bytes, {}, {}, timing, {}, {}};
  if (const http::Request* r = s.req.get(); r && !r->method.empty()) {
    e.method = r->method;
    e.target = r->target;
    e.referer = r->known(http::Known::kReferer);
    e.user_agent = r->known(http::Known::kUserAgent);
    e.authorization = r->known(http::Known::kAuthorization);
  }
  log.add(e, shard_.now_sec());
}

// An immediate answer's stream closed: its body went out whole, or as far as the client took it
// before it cancelled (nginx logs the bytes sent, not the file's size).
void H2Conn::log_answer(Stream& s) {
  s.log_at_close = false;
  uint64_t left = s.source == Stream::Source::kFile ? s.file_left : s.inline_body.size();
  log_access(s, s.status, s.bytes - left, nullptr);
}

// A stream that ends before its handler does (the client reset it or left) is logged as nginx
// logs it: with the status and the body bytes framed once its head was submitted, else 499,
// "client closed request".
void H2Conn::log_cut(Stream& s) {
  if (!s.started) return log_access(s, 499, 0, s.handler->timing());
  log_access(s, s.status, s.bytes - s.pending(), s.handler->timing());
}

// A request the session refused itself: as HTTP/1.1 logs its refused ones.
void H2Conn::on_refused(int status, uint64_t bytes, std::string_view method,
                        std::string_view target) {
  // With a line that says why and the counter, as HTTP/1.1 refuses its bad heads.
  if (status == 414) {
    note_refused(414, ":path longer than max_request_line", LOG_LIMIT_SITE());
  } else if (status == 431) {
    note_refused(431, "request head over max_header_size or max_headers", LOG_LIMIT_SITE());
  } else {
    note_refused(status, "malformed HTTP/2 request head", LOG_LIMIT_SITE());
  }
  AccessLog& log = shard_.access_log();
  if (!log.enabled()) return;
  AccessEntry e{info_.peer, method, target, "HTTP/2.0", status, bytes, {}, {}, nullptr, {}, {}};
  log.add(e, shard_.now_sec());
}

// Picks the one timer that applies (see the header) and arms it when what it waits on changes.
void H2Conn::update_timer() {
  if (closed_ || lingering_) return;
  // The drain deadline bounds the streams until the final GOAWAY.
  if (wait_ == Wait::kNotice && session_.noticing()) return;
  bool reading = session_.open_streams() > streams_.size();  // a head still arriving
  // A body still owed by the client, whether a handler reads it or it is dropped (an answered
  // stream stays open until the client ends its side).
  for (auto& s : streams_) reading = reading || (!s->body_ended && !s->body_paused);
  // A send alone (a PING's answer, window updates) owes the client no response bytes while
  // a body is owed: the body timer stays, rather than the send timer in its place and a fresh
  // body timer after it, with each PING.
  bool owed = (sending_ && !reading) || buffered_ > 0;
  for (auto& s : streams_) {
    if (owed) break;
    owed = s->source == Stream::Source::kFile && s->file_left > 0;
    owed = owed || (s->source == Stream::Source::kInline && !s->inline_body.empty());
  }
  if (owed) {
    // Re-armed only when response bytes moved: PINGs and the like never keep a stalled
    // window alive.
    bool moved = data_out_ != data_out_seen_;
    data_out_seen_ = data_out_;
    return set_wait(Wait::kSend, moved);
  }
  if (streams_.empty() && session_.open_streams() == 0) return set_wait(Wait::kIdle, false);
  // Re-armed only when body bytes came, as for HTTP/1.1: PINGs and the like never keep a
  // stalled body (and the PHP worker that waits for it) alive.
  bool came = data_in_ != data_in_seen_;
  data_in_seen_ = data_in_;
  set_wait(reading ? Wait::kBody : Wait::kNone, came);
}

void H2Conn::set_wait(Wait w, bool rearm) {
  if (w == wait_ && !rearm) return;
  wait_ = w;
  loop::TimerList::unlink(&timer);
  switch (w) {
    case Wait::kSend:
      shard_.send_timers.arm(&timer, shard_.now_ms());
      break;
    case Wait::kBody:
      shard_.body_timers.arm(&timer, shard_.now_ms());
      break;
    case Wait::kIdle:
      shard_.h2_idle_timers.arm(&timer, shard_.now_ms());
      break;
    case Wait::kNotice:
      shard_.h2_notice_timers.arm(&timer, shard_.now_ms());
      break;
    case Wait::kNone:
      break;
  }
}

void H2Conn::on_timeout() {
  free_retired();
  if (closed_) return;
  if (lingering_) return close_now();
  if (wait_ == Wait::kNotice) {  // the PING went unanswered: the final GOAWAY all the same
    wait_ = Wait::kNone;
    session_.shutdown();
    flush();
    return update_timer();
  }
  if (!closing_ && cut_stalled_streams()) return;
  if (wait_ == Wait::kSend || wait_ == Wait::kBody || closing_) {
    ++shard_.counters().timeouts;
    LOG_LIMITED(kInfo, "client %s: HTTP/2 %s timed out", net::format_address(info_.peer).c_str(),
                wait_ == Wait::kSend ? "send" : "request");
    return close_now();
  }
  // Idle: say goodbye properly, then close once it is out.
  wait_ = Wait::kNone;
  session_.shutdown();
  closing_ = true;
  flush();
  set_wait(Wait::kSend, true);  // a client that does not take the GOAWAY is cut
}

// The body or send timer ran out while other streams are in progress (a load balancer's
// connection carries many clients): the streams it waited on, whose bodies stopped coming or
// whose client grants them no window, are reset, as nginx resets them, and the others go on.
// False when there is nothing else on the connection, when it is the connection that is stuck
// (a header block half received, no other frame may come before its end; the socket or the
// connection's window full): the connection closes.
bool H2Conn::cut_stalled_streams() {
  bool body = wait_ == Wait::kBody;
  if (!body && wait_ != Wait::kSend) return false;
  if (session_.open_streams() > streams_.size()) return false;
  if (!body && (sending_ || session_.send_window(0) <= 0)) return false;
  auto stalled = [this, body](const Stream* s) {
    if (body) return !s->body_ended && !s->body_paused;
    return s->owes() && session_.send_window(s->id) <= 0;
  };
  if (std::all_of(streams_.begin(), streams_.end(), stalled)) return false;
  std::vector<int32_t> ids;
  for (Stream* s : streams_) {
    if (stalled(s)) ids.push_back(s->id);
  }
  if (ids.empty()) return false;
  for (int32_t id : ids) {
    Stream* s = find(id);
    if (!s) continue;
    ++shard_.counters().timeouts;
    LOG_LIMITED(kInfo, "client %s: HTTP/2 %s timed out, stream reset",
                net::format_address(info_.peer).c_str(), body ? "request body" : "send");
    if (body && s->handler && !s->done) {
      s->done = true;
      s->handler->abandon();
      log_access(*s, 408, 0, s->handler->timing());
    }
    session_.reset(id, NGHTTP2_CANCEL);
  }
  flush();
  set_wait(Wait::kNone, false);  // the timer that ran out is gone: what applies now is armed
  update_timer();
  return true;
}

// Graceful: a first GOAWAY that refuses no stream yet, then, a round trip later (or after the
// notice timer), the final one; the streams in flight finish, new ones are refused, then the
// connection closes (Shard's drain timeout aborts it if they take too long).
void H2Conn::drain() {
  if (closed_ || closing_) return;
  session_.shutdown_notice();
  set_wait(Wait::kNotice, true);
  flush();
}

// Everything is sent (the last GOAWAY included). Unread bytes would make close() send a reset
// that can destroy that GOAWAY in flight: shut the write side and drain what the client still
// sends, as HTTP/1.1's lingering close does, until it closes or the linger timer ends it.
void H2Conn::finish() {
  if (lingering_ || closed_) return;
  lingering_ = closing_ = true;
  wait_ = Wait::kNone;
  loop::TimerList::unlink(&timer);
  shard_.linger_timers.arm(&timer, shard_.now_ms());
  transport_->shutdown_write();
  transport_->resume_recv();
}

void H2Conn::close_now() {
  if (closed_) return;
  closed_ = true;
  loop::TimerList::unlink(&timer);
  for (Stream* s : streams_) {
    if (s->log_at_close) log_answer(*s);
    if (s->handler && !s->done) {
      log_cut(*s);
      if (in_sink_ == s) {
        s->abandon_later = true;  // its handler is on the stack: abandoned once it returns
      } else {
        s->handler->abandon();
        s->done = true;
      }
    }
    s->closed = true;
    retired_.push_back(std::unique_ptr<Stream>(s));
  }
  streams_.clear();
  last_found_ = nullptr;
  buffered_ = 0;
  transport_->close();
}

void H2Conn::on_closed() {
  free_retired();
  shard_.release(this);
}

}  // namespace askr::server
