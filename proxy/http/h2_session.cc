#include "http/h2_session.h"

#include <nghttp2/nghttp2.h>

#include "http/h2_alloc.h"
#include "shared/base/copy.h"
#include "shared/base/spares.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace askr::http {
namespace {

// Marks a stream given to the driver (nghttp2's stream user data).
char kDelivered;

constexpr size_t kFieldOverhead = 32;  // RFC 9113 §6.5.2: each field counts name + value + 32

// The largest header block sent, by nghttp2's count: three times the largest CGI head (16 MiB),
// whose fields take 3 bytes at least ("a:\n") and are each counted 6 bytes more, and room to
// spare.
constexpr size_t kMaxSendHeaderBlock = 64 << 20;

// Header fields that are never sent in HTTP/2 (RFC 9113 §8.2.2), nor the framing fields the
// session writes itself; in any case. Checked for every field of every response: the length
// picks the one or two candidates.
bool dropped_response_field(std::string_view name) {
  switch (name.size()) {
    case 4:
      return iequals(name, "date");
    case 6:
      return iequals(name, "server");
    case 7:
      return iequals(name, "upgrade");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 14:
      return iequals(name, "content-length");
    case 16:
      return iequals(name, "proxy-connection");
    case 17:
      return iequals(name, "transfer-encoding");
    default:
      return false;
  }
}

// The fields of a response head that HTTP/2 sends, into `nv` from index `n` on; the new count.
// Names go as the handler wrote them: nghttp2 lower-cases its copy (nghttp2_nv_array_copy).
size_t add_fields(nghttp2_nv* nv, size_t n, std::span<const Response::Field> fields) {
  for (const Response::Field& f : fields) {
    if (dropped_response_field(f.name)) continue;
    nv[n++] = {(uint8_t*)f.name.data(), (uint8_t*)f.value.data(), f.name.size(), f.value.size(),
               NGHTTP2_NV_FLAG_NONE};
  }
  return n;
}

// The field a lower-case HTTP/2 name indexes in Request::known, or Known::kCount: by length
// first, so that most names cost one comparison or none.
Known known_of(std::string_view name) {
  auto is = [name](std::string_view n, Known k) { return name == n ? k : Known::kCount; };
  switch (name.size()) {
    case 5:
      return is("range", Known::kRange);
    case 6:
      return is("cookie", Known::kCookie);
    case 7:
      return is("referer", Known::kReferer);
    case 8:
      if (name == "if-match") return Known::kIfMatch;
      return is("if-range", Known::kIfRange);
    case 10:
      return is("user-agent", Known::kUserAgent);
    case 12:
      return is("content-type", Known::kContentType);
    case 13:
      if (name == "if-none-match") return Known::kIfNoneMatch;
      return is("authorization", Known::kAuthorization);
    case 15:
      return is("accept-encoding", Known::kAcceptEncoding);
    case 17:
      return is("if-modified-since", Known::kIfModifiedSince);
    case 19:
      return is("if-unmodified-since", Known::kIfUnmodifiedSince);
    default:
      return Known::kCount;
  }
}

// A value without the SP and HTAB at its ends, as HTTP/1.1 reads a field (RFC 9110 §5.5).
std::string_view trim_ws(std::string_view v) {
  auto ws = [](char c) { return c == ' ' || c == '\t'; };
  while (!v.empty() && ws(v.front())) v.remove_prefix(1);
  while (!v.empty() && ws(v.back())) v.remove_suffix(1);
  return v;
}

std::string_view view(const nghttp2_rcbuf* buf) {
  nghttp2_vec v = nghttp2_rcbuf_get_buf(const_cast<nghttp2_rcbuf*>(buf));
  return {reinterpret_cast<const char*>(v.base), v.len};
}

}  // namespace

bool Budget::take(int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms > last_ms_) {
    tokens_ = std::min(burst_, tokens_ + double(now_ms - last_ms_) * rate_ / 1000.0);
  }
  last_ms_ = now_ms;
  if (earned_ > 0) {
    --earned_;
    return true;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

// A stream whose request head is being received, or that is complete but not yet given to the
// driver (that happens after the batch of frames that completed it, so that a stream reset in
// the same batch never reaches a handler).
struct H2Session::Incoming {
  struct Span {
    uint32_t off, len;
  };
  struct Field {
    Span name, value;
  };
  std::string raw;  // names and values, back to back
  std::vector<Field> fields;
  std::vector<Span> cookies;
  Span method{}, scheme{}, authority{}, path{}, host{};
  bool has_authority = false, has_host = false;
  std::optional<uint64_t> content_length;
  size_t list_size = 0;
  bool too_large = false;  // over the header list size or field count: answered 431
  bool too_long = false;   // a :path longer than max_request_line: answered 414
  bool bad = false;        // malformed beyond what nghttp2 checks: reset
  bool head_done = false;
  bool end_stream = false;
  std::string body;  // DATA received before the driver has the stream (not consumed yet)

  // The text of a span; empty where `raw` no longer holds it (a head over the limits drops it).
  std::string_view at(Span sp) const {
    return sp.off <= raw.size() && sp.len <= raw.size() - sp.off
               ? std::string_view(raw).substr(sp.off, sp.len)
               : std::string_view();
  }

  Span keep(std::string_view s) {
    Span sp{uint32_t(raw.size()), uint32_t(s.size())};
    raw.append(s);
    return sp;
  }

  // For base::Spares: back to a new stream's state, every field at its default; the buffers
  // keep their capacity (at most `room` bytes in all) unless it grew past what a typical head
  // needs.
  void recycle(size_t room) {
    std::string r = std::move(raw), b = std::move(body);
    std::vector<Field> f = std::move(fields);
    std::vector<Span> c = std::move(cookies);
    *this = Incoming();
    base::keep_or_free(r, 4096, room);
    base::keep_or_free(b, 8192, room);
    base::keep_or_free(f, 64 * sizeof(Field), room);
    base::keep_or_free(c, 32 * sizeof(Span), room);
    raw = std::move(r), body = std::move(b), fields = std::move(f), cookies = std::move(c);
  }
  size_t kept_bytes() const {
    return raw.capacity() + body.capacity() + fields.capacity() * sizeof(Field) +
           cookies.capacity() * sizeof(Span);
  }
};

namespace {

// Spare Incoming objects of this thread (a loop is one thread), so that a stream's head is
// received without an allocation in steady state: enough for every stream of a busy loop (HTTP/2
// connections start and end streams in bursts of up to max_concurrent_streams each), with at most
// 4 MiB of buffers.
base::Spares<H2Session::Incoming>& spares() {
  thread_local base::Spares<H2Session::Incoming> s(16384, 4 << 20);
  return s;
}

}  // namespace

// nghttp2's C callbacks, forwarding to the session.
struct H2Callbacks {
  static H2Session& self(void* p) { return *static_cast<H2Session*>(p); }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* f, void* p) {
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: dropped
    return self(p).on_begin_headers(f->hd.stream_id);
  }
  static int header(nghttp2_session*, const nghttp2_frame* f, nghttp2_rcbuf* name,
                    nghttp2_rcbuf* value, uint8_t, void* p) {
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    return self(p).on_header(f->hd.stream_id, view(name), view(value));
  }
  // A field nghttp2 would drop quietly (a name with a character RFC 9113 forbids): a stream
  // error instead, never forwarded.
  static int invalid_header(nghttp2_session*, const nghttp2_frame*, nghttp2_rcbuf*, nghttp2_rcbuf*,
                            uint8_t, void* p) {
    self(p).bump(&H2Counters::bad_headers);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  static int frame_recv(nghttp2_session*, const nghttp2_frame* f, void* p) {
    size_t length = f->hd.length;
    if (f->hd.type == NGHTTP2_DATA) length -= f->data.padlen;  // the data alone
    return self(p).on_frame_recv(f->hd.type, f->hd.flags, f->hd.stream_id, length);
  }
  static int begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* p) {
    return self(p).on_begin_frame(hd->type, hd->flags, hd->stream_id);
  }
  static int data_chunk(nghttp2_session* s, uint8_t, int32_t id, const uint8_t* data, size_t len,
                        void* p) {
    H2Session& h = self(p);
    std::string_view d(reinterpret_cast<const char*>(data), len);
    if (H2Session::Incoming* in = h.incoming(id)) {
      base::append_bytes(in->body, d.data(), d.size());
    } else if (nghttp2_session_get_stream_user_data(s, id) == &kDelivered) {
      h.events_.on_body(id, d);
    } else {
      nghttp2_session_consume(s, id, len);  // a refused stream: keep the windows open
    }
    return 0;
  }
  // Frames of the types RFC 9113 does not define, registered as extensions so that begin_frame
  // sees them (the budget of unknown frames); their payload is dropped, as nghttp2 would.
  static int extension_chunk(nghttp2_session*, const nghttp2_frame_hd*, const uint8_t*, size_t,
                             void*) {
    return 0;
  }
  static int unpack_extension(nghttp2_session*, void**, const nghttp2_frame_hd*, void*) {
    return NGHTTP2_ERR_CANCEL;  // ignored
  }
  // A response head nghttp2 would not send (one it cannot encode within its limits): the
  // stream is reset, never left waiting for a head that does not come.
  static int frame_not_send(nghttp2_session* s, const nghttp2_frame* f, int, void*) {
    if (f->hd.type == NGHTTP2_HEADERS) {
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_INTERNAL_ERROR);
    }
    return 0;
  }
  static int stream_close(nghttp2_session*, int32_t id, uint32_t error, void* p) {
    return self(p).on_stream_close(id, error);
  }
  static int frame_send(nghttp2_session* s, const nghttp2_frame* f, void* p) {
    // The PING goes behind the first GOAWAY of shutdown_notice(), never ahead of it (nghttp2
    // sends PINGs first): its ACK then says the client read that GOAWAY.
    if (f->hd.type == NGHTTP2_GOAWAY && self(p).noticing()) {
      nghttp2_submit_ping(s, NGHTTP2_FLAG_NONE, nullptr);
    }
    bool ends = f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA;
    if (ends && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(s, f->hd.stream_id) == 0) {
      // The response is complete before the request (a 405 or 413 answered at once, a 503):
      // RST_STREAM NO_ERROR asks the client to stop sending a body nobody reads (RFC 9113
      // §8.1, as nginx does). Else the stream stays open while the client sends it, and for
      // good once the body held for its handler has closed its window. Not when the body it
      // declared fits in the window it has (a form's few bytes, still on their way): it is
      // let in and dropped, as clients such as curl fail a request whose body was cut short.
      int64_t declared = self(p).events_.declared_body(f->hd.stream_id);
      int32_t window = nghttp2_session_get_stream_local_window_size(s, f->hd.stream_id);
      if (declared < 0 || declared > window) {
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
      }
    }
    if (f->hd.type == NGHTTP2_RST_STREAM)
      self(p).on_reset_sent(f->hd.stream_id, f->rst_stream.error_code);
    if (f->hd.type == NGHTTP2_RST_STREAM && f->rst_stream.error_code != NGHTTP2_NO_ERROR) {
      self(p).bump(&H2Counters::resets_sent);
      // Ours and nghttp2's (over the concurrency it advertised, before the client's ACK).
      if (f->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) self(p).bump(&H2Counters::refused);
    }
    // A client that reads a response opens the windows again: each DATA frame sent earns
    // the stream's and the connection's WINDOW_UPDATE, however late they come (the frames
    // may wait in the sockets meanwhile). So a WINDOW_UPDATE flood still costs the client a
    // DATA frame per two, beyond the budget's burst and rate.
    if (f->hd.type == NGHTTP2_DATA) self(p).window_updates_.give(2);
    return 0;
  }
  // DATA frames carry their bytes without a copy through nghttp2's buffer: read() only says how
  // many (NO_COPY), then send_data() writes the frame header and has the driver append the
  // bytes straight behind it in the batch being gathered.
  static ssize_t read(nghttp2_session*, int32_t id, uint8_t*, size_t len, uint32_t* flags,
                      nghttp2_data_source*, void* p) {
    bool eof = false;
    ssize_t n = self(p).events_.read_body(id, len, eof);
    if (n == -1) return NGHTTP2_ERR_DEFERRED;
    if (n < 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (n > 0) *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    return n;
  }
  static int send_data(nghttp2_session*, nghttp2_frame* f, const uint8_t* framehd, size_t length,
                       nghttp2_data_source*, void* p) {
    H2Session& h = self(p);
    H2Batch& out = *h.out_;
    // A full batch: nghttp2 keeps the frame and offers it again at the next pull. (One
    // nghttp2_session_mem_send call goes through every DATA frame that is ready.)
    if (!out.empty() && (out.size() >= h.max_ || out.refs.size() >= h.max_refs_)) {
      return NGHTTP2_ERR_WOULDBLOCK;
    }
    size_t at = out.bytes.size();
    size_t refs = out.refs.size();
    out.bytes.append(reinterpret_cast<const char*>(framehd), 9);  // no padding: never asked for
    if (!h.events_.copy_body(f->hd.stream_id, out, length)) {
      out.bytes.resize(at);
      while (out.refs.size() > refs) {
        out.ref_bytes -= out.refs.back().piece.size();
        out.refs.pop_back();
      }
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets the stream
    }
    return 0;
  }
  // The body of an answer the session gives itself (431, 414), from static storage: the data
  // source holds how much of it has gone (nghttp2 keeps the source with the stream), so nothing
  // is left to free when the stream ends before its body is sent.
  template <int kStatus>
  static ssize_t read_error(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                            nghttp2_data_source* src, void*) {
    std::string_view rest = error_body(kStatus).substr(size_t(src->fd));
    size_t n = std::min(len, rest.size());
    std::memcpy(buf, rest.data(), n);
    src->fd += int(n);
    if (n == rest.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return ssize_t(n);
  }
};

H2Session::H2Session(Events& events, const H2Limits& limits, H2Counters* shared)
    : events_(events), limits_(limits), shared_(shared) {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, H2Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback2(cb, H2Callbacks::header);
  nghttp2_session_callbacks_set_on_invalid_header_callback2(cb, H2Callbacks::invalid_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, H2Callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, H2Callbacks::begin_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, H2Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, H2Callbacks::stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, H2Callbacks::frame_send);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, H2Callbacks::frame_not_send);
  nghttp2_session_callbacks_set_send_data_callback(cb, H2Callbacks::send_data);
  nghttp2_session_callbacks_set_on_extension_chunk_recv_callback(cb, H2Callbacks::extension_chunk);
  nghttp2_session_callbacks_set_unpack_extension_callback(cb, H2Callbacks::unpack_extension);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  for (unsigned type = NGHTTP2_CONTINUATION + 1; type <= 0xff; ++type) {
    nghttp2_option_set_user_recv_extension_type(opt, uint8_t(type));
  }
  // Windows open only as far as the driver takes body bytes: the backend sets the pace.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // Whitespace at a value's ends (curl sends `-H 'X-A: b '` as written) would make the field
  // invalid, hence the stream reset: on_header drops it instead, as HTTP/1.1 drops OWS.
  nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation(opt, 1);
  // One more than ours, so that our cap answers first (ENHANCE_YOUR_CALM, counted as a flood).
  nghttp2_option_set_max_continuations(opt, limits.max_continuations + 1);
  // A response head may be as large as a pool's response_header_size (16 MiB at most), and
  // nghttp2 counts each field 6 bytes more than it holds (nghttp2_hd_deflate_bound): its
  // default of 64 KiB would refuse a head that HTTP/1.1 sends, and leave the stream without one.
  nghttp2_option_set_max_send_header_block_length(opt, kMaxSendHeaderBlock);
  // nghttp2's per-stream allocations come from this thread's free lists (see h2_alloc.h).
  nghttp2_session_server_new3(&session_, cb, this, opt, H2Allocator::mem());
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);

  resets_.set(limits.reset_burst, limits.reset_rate);
  for (Budget* b : {&settings_, &pings_, &priorities_, &window_updates_, &empty_data_, &unknown_})
    b->set(limits.flood_burst, limits.flood_rate);
  // SETTINGS_MAX_CONCURRENT_STREAMS: once the client acknowledged it, nghttp2 1.52 makes a
  // stream over it a connection error, where RFC 9113 5.1.2 allows (and Askr wants)
  // REFUSED_STREAM for that stream alone. So nghttp2 gets twice the limit, and pull() writes the
  // real one into the SETTINGS frame as it leaves; on_begin_headers refuses the streams over it.
  // nghttp2 still needs a value: it keeps closed streams (to answer late frames on them with
  // STREAM_CLOSED) only up to that many, and without one it kept every closed stream until the
  // connection ended.
  uint32_t nghttp2_concurrency = limits.max_concurrent_streams > UINT32_MAX / 2
                                     ? UINT32_MAX - 1
                                     : std::max<uint32_t>(2 * limits.max_concurrent_streams, 1);
  // A stream may send body_preread bytes ahead of its handler, as nginx's
  // http2_body_preread_size: a request waiting for a PHP worker holds that much, not a full
  // window; open_stream() grows the window to initial_window once the handler reads.
  limits_.body_preread = std::min(limits.body_preread, limits.initial_window);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, nghttp2_concurrency},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.body_preread},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  if (limits.connection_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          int32_t(limits.connection_window));
  }
}

H2Session::~H2Session() {
  clear_incoming();
  nghttp2_session_del(session_);
}

namespace {
template <class Table>
auto find_id(Table& t, int32_t id) {
  auto it = std::lower_bound(t.begin(), t.end(), id,
                             [](const auto& e, int32_t i) { return e.first < i; });
  return it != t.end() && it->first == id ? it : t.end();
}
}  // namespace

H2Session::Incoming* H2Session::incoming(int32_t id) {
  // Mostly the newest stream: its header block is the one being received.
  if (!incoming_.empty() && incoming_.back().first == id) return incoming_.back().second.get();
  auto it = find_id(incoming_, id);
  return it == incoming_.end() ? nullptr : it->second.get();
}

std::unique_ptr<H2Session::Incoming> H2Session::take_incoming(int32_t id) {
  auto it = find_id(incoming_, id);
  if (it == incoming_.end()) return nullptr;
  std::unique_ptr<Incoming> in = std::move(it->second);
  incoming_.erase(it);
  return in;
}

// An Incoming done with: the body bytes it received and no driver took go back to the windows
// (nghttp2 counts them until consumed, so the connection's window would shrink for good).
void H2Session::drop_incoming(int32_t id, std::unique_ptr<Incoming> in) {
  consume(id, in->body.size());
  spares().put(std::move(in));
}

void H2Session::clear_incoming() {
  for (auto& [id, in] : incoming_) spares().put(std::move(in));
  incoming_.clear();
}

bool H2Session::flood(Budget& b, const char* why) {
  if (b.take(now_ms_)) return false;
  calm(why);
  return true;
}

void H2Session::calm(const char* why) {
  if (failed_) return;
  terminate(NGHTTP2_ENHANCE_YOUR_CALM);
  failure_ = why;
}

// Every frame, before nghttp2 acts on it: the budgets of the frames that cost the server work
// and give nothing back (empty DATA frames: on_frame_recv), and the CONTINUATION cap.
int H2Session::on_begin_frame(uint8_t type, uint8_t flags, int32_t id) {
  if (failed_) return 0;
  switch (type) {
    case NGHTTP2_HEADERS:
      header_stream_ = id;
      continuations_ = 0;
      if (skipped(id)) {
        terminate(NGHTTP2_PROTOCOL_ERROR);  // nginx's answer; h2o's is STREAM_CLOSED
        failure_ = "a HEADERS frame on a stream id the client skipped";
      }
      break;
    case NGHTTP2_CONTINUATION:
      if (++continuations_ > limits_.max_continuations) calm("too many CONTINUATION frames");
      break;
    case NGHTTP2_PRIORITY:
      flood(priorities_, "a PRIORITY flood");
      break;
    case NGHTTP2_SETTINGS:
      if (flags & NGHTTP2_FLAG_ACK) break;
      if (flood(settings_, "a SETTINGS flood")) break;
      initial_before_ = int32_t(
          nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE));
      largest_before_ = largest_send_window();
      break;
    case NGHTTP2_PING:
      // An ACK too: the server sends one PING at most (shutdown_notice()), so an ACK is only
      // work otherwise.
      flood(pings_, "a PING flood");
      break;
    case NGHTTP2_WINDOW_UPDATE:
      flood(window_updates_, "a WINDOW_UPDATE flood");
      break;
    case NGHTTP2_DATA:
    case NGHTTP2_RST_STREAM:
    case NGHTTP2_PUSH_PROMISE:
    case NGHTTP2_GOAWAY:
      break;
    default:
      // A type nghttp2 skips (an extension the server does not speak, RFC 9113 §5.5).
      flood(unknown_, "a flood of frames of unknown types");
      break;
  }
  return 0;
}

int H2Session::on_begin_headers(int32_t id) {
  if (failed_) return 0;
  // Refused streams too: their ids were used. Ids only grow (nghttp2 ignores the others).
  if (id > last_begun_ + 2 && skipped_.size() < limits_.max_streams) {
    skipped_.emplace_back(last_begun_ + 2, id - 2);
  }
  last_begun_ = std::max(last_begun_, id);
  bool over_total = begun_ >= limits_.max_streams;
  if (over_total || open_streams() >= limits_.max_concurrent_streams) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  ++begun_;
  std::unique_ptr<Incoming> in = spares().get();
  if (incoming_.empty() || incoming_.back().first < id) {
    incoming_.emplace_back(id, std::move(in));
  } else {  // never with nghttp2 (ids only grow), kept sorted all the same
    auto it = std::lower_bound(incoming_.begin(), incoming_.end(), id,
                               [](const auto& e, int32_t i) { return e.first < i; });
    incoming_.emplace(it, id, std::move(in));
  }
  if (begun_ == limits_.max_streams)
    shutdown();  // the last one: tell the client to go on elsewhere
  return 0;
}

bool H2Session::skipped(int32_t id) const {
  auto it = std::upper_bound(skipped_.begin(), skipped_.end(), id,
                             [](int32_t i, const auto& r) { return i < r.first; });
  return it != skipped_.begin() && id <= std::prev(it)->second;
}

// Every stream nghttp2 keeps hangs in its priority tree, the root's descendants.
int32_t H2Session::largest_send_window() const {
  int32_t most = 0;
  std::vector<nghttp2_stream*> todo{
      nghttp2_stream_get_first_child(nghttp2_session_get_root_stream(session_))};
  while (!todo.empty()) {
    nghttp2_stream* s = todo.back();
    todo.pop_back();
    if (!s) continue;
    most = std::max(most, nghttp2_session_get_stream_remote_window_size(
                              session_, nghttp2_stream_get_stream_id(s)));
    todo.push_back(nghttp2_stream_get_next_sibling(s));
    todo.push_back(nghttp2_stream_get_first_child(s));
  }
  return most;
}

int H2Session::on_header(int32_t id, std::string_view name, std::string_view value) {
  Incoming* in = incoming(id);
  if (!in || in->too_large) return 0;
  in->list_size += name.size() + value.size() + kFieldOverhead;
  value = trim_ws(value);
  if (in->list_size > limits_.max_header_list || in->fields.size() >= limits_.max_fields) {
    // HPACK can expand a small block into a large list: stop keeping it, answer 431.
    in->too_large = true;
    in->raw.clear();
    in->fields.clear();
    in->cookies.clear();
    return 0;
  }
  if (name.starts_with(':')) {
    // nghttp2 has checked that each appears once, before the regular fields, and is known.
    if (name == ":method") in->method = in->keep(value);
    if (name == ":scheme") in->scheme = in->keep(value);
    if (name == ":path") {
      // What HTTP/1.1 bounds as its request line: 414 beyond it.
      if (value.size() > limits_.max_request_line) in->too_long = true;
      in->path = in->keep(value);
    }
    if (name == ":authority") {
      if (!valid_host(value)) in->bad = true;  // it names the site, and a redirect's host
      in->authority = in->keep(value);
      in->has_authority = true;
    }
    return 0;
  }
  if (name == "cookie") {
    // RFC 9113 §8.2.3: crumbs are joined with "; " before an HTTP/1.1 application sees them.
    in->cookies.push_back(in->keep(value));
    return 0;
  }
  if (name == "host") {
    if (in->has_host) in->bad = true;  // two Host fields: which one names the site is in doubt
    if (!valid_host(value)) in->bad = true;
    in->host = in->keep(value);
    in->has_host = true;
  }
  if (name == "content-length") {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec == std::errc()) in->content_length = n;  // nghttp2 checked it is digits
  }
  in->fields.push_back({in->keep(name), in->keep(value)});
  return 0;
}

int H2Session::on_frame_recv(uint8_t type, uint8_t flags, int32_t id, size_t length) {
  // A DATA frame that carries no data and does not end its stream is work for nothing: counted
  // once it is whole, so that one with padding alone is one too (nghttp2 gives the window of
  // padding back at once, so padding costs the client nothing).
  bool end = flags & NGHTTP2_FLAG_END_STREAM;
  if (type == NGHTTP2_DATA && length == 0 && !end && !failed_) {
    flood(empty_data_, "a flood of empty DATA frames");
  }
  if (type == NGHTTP2_SETTINGS && !(flags & NGHTTP2_FLAG_ACK) && !failed_) {
    // RFC 9113 §6.9.2 makes it a connection error; nghttp2 resets the stream alone.
    int64_t initial =
        nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
    if (int64_t(largest_before_) + initial - initial_before_ > NGHTTP2_MAX_WINDOW_SIZE) {
      terminate(NGHTTP2_FLOW_CONTROL_ERROR);
      failure_ = "a SETTINGS frame that took a stream's window beyond 2^31-1";
    }
    return 0;
  }
  if (type == NGHTTP2_PING && (flags & NGHTTP2_FLAG_ACK) && noticing()) {
    shutdown();  // a round trip since the notice: what the client sent before it has come
    return 0;
  }
  if (type == NGHTTP2_RST_STREAM) {
    bump(&H2Counters::resets_received);
    if (!failed_ && !resets_.take(now_ms_)) calm("the stream reset budget ran out");
    return 0;
  }
  if (type != NGHTTP2_HEADERS && type != NGHTTP2_DATA) return 0;
  Incoming* in = incoming(id);
  if (type == NGHTTP2_HEADERS && in && !in->head_done) {
    in->head_done = true;
    in->end_stream = end;
    return 0;
  }
  if (!end) return 0;
  if (in) {
    in->end_stream = true;
  } else if (nghttp2_session_get_stream_user_data(session_, id) == &kDelivered) {
    events_.on_body_end(id);
  }
  return 0;
}

// A stream error the client brought about (DATA beyond the content-length, a WINDOW_UPDATE of
// 0, ...) on a stream that reached a handler ends its request as the client's own RST_STREAM
// would, after the handler started its work: it spends the same budget ("MadeYouReset",
// CVE-2025-8671). NO_ERROR ends a finished exchange, and INTERNAL_ERROR is the server's own
// failure; neither is the client's doing.
void H2Session::on_reset_sent(int32_t id, uint32_t error) {
  // A head nghttp2 found malformed (a field RFC 9113 forbids, a pseudo-header missing or
  // repeated): its stream is reset while the head is still ours, unread.
  if (error == NGHTTP2_PROTOCOL_ERROR && incoming(id)) events_.on_refused(400, 0, {}, {});
  if (error == NGHTTP2_NO_ERROR || error == NGHTTP2_INTERNAL_ERROR || failed_) return;
  if (nghttp2_session_get_stream_user_data(session_, id) != &kDelivered) return;
  if (error == NGHTTP2_PROTOCOL_ERROR || error == NGHTTP2_FLOW_CONTROL_ERROR) {
    events_.on_bad_body(id, error);
  }
  if (!resets_.take(now_ms_)) calm("the stream reset budget ran out");
}

int H2Session::on_stream_close(int32_t id, uint32_t error) {
  if (std::unique_ptr<Incoming> in = take_incoming(id)) {  // never reached the driver
    drop_incoming(id, std::move(in));
    return 0;
  }
  if (nghttp2_session_get_stream_user_data(session_, id) != &kDelivered) return 0;
  --active_;
  events_.on_stream_close(id, error);
  return 0;
}

// A complete head, after its batch: answer a refused one here, give the others to the driver.
int H2Session::finish_head(int32_t id, bool end_stream) {
  // Its entry stays, empty, until recv() removes every finished one at once.
  auto entry = find_id(incoming_, id);
  std::unique_ptr<Incoming> in = std::move(entry->second);
  struct GiveBack {
    H2Session& session;
    int32_t id;
    std::unique_ptr<Incoming>& in;
    ~GiveBack() { session.drop_incoming(id, std::move(in)); }
  } give_back{*this, id, in};
  if (in->bad ||
      (in->has_host && in->has_authority && !iequals(in->at(in->host), in->at(in->authority)))) {
    bump(&H2Counters::bad_headers);
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
    events_.on_refused(400, 0, in->at(in->method), in->at(in->path));
    return 0;
  }
  bump(&H2Counters::streams);
  if (in->too_large || in->too_long) {
    int status = in->too_large ? 431 : 414;
    bump(&H2Counters::bad_headers);
    nghttp2_nv nv[] = {
        {(uint8_t*)":status", (uint8_t*)(status == 431 ? "431" : "414"), 7, 3,
         NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)"content-type", (uint8_t*)"text/plain; charset=utf-8", 12, 25,
         NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider dp;
    dp.source.fd = 0;
    dp.read_callback = status == 431 ? H2Callbacks::read_error<431> : H2Callbacks::read_error<414>;
    nghttp2_submit_response(session_, id, nv, 2, &dp);
    events_.on_refused(status, error_body(status).size(), {}, {});
    return 0;
  }
  // HTTP/1.1 applications read the host from Host (PHP's HTTP_HOST): :authority stands in for
  // it, as nginx does.
  if (in->has_authority && !in->has_host) in->fields.push_back({in->keep("host"), in->authority});
  if (!in->cookies.empty()) {
    Incoming::Span joined{uint32_t(in->raw.size()), 0};
    for (size_t i = 0; i < in->cookies.size(); ++i) {
      if (i) in->raw.append("; ");
      in->raw.append(in->raw, in->cookies[i].off, in->cookies[i].len);
    }
    joined.len = uint32_t(in->raw.size() - joined.off);
    in->fields.push_back({in->keep("cookie"), joined});
  }
  std::unique_ptr<Request> req = events_.new_request();  // new, or reset when it was recycled
  // The head's bytes move into the request (no copy); the request's old buffer comes back
  // empty for the next head.
  req->swap_storage(in->raw);
  const char* base = req->storage_data();
  auto at = [base](Incoming::Span s) { return std::string_view(base + s.off, s.len); };
  req->method = at(in->method);
  req->scheme = at(in->scheme);
  req->authority = in->has_authority ? at(in->authority) : at(in->host);
  req->target = at(in->path);
  split_target(req->target, req->path, req->query);
  // CONNECT names no :path (RFC 9113 §8.5): its target is the authority, as HTTP/1.1's
  // authority-form is, so that it is logged as "CONNECT host:port".
  if (req->target.empty() && req->method == "CONNECT") req->target = req->authority;
  req->protocol = "HTTP/2.0";
  req->is_head = req->method == "HEAD";
  req->headers.reserve(in->fields.size());
  for (const Incoming::Field& f : in->fields) {
    std::string_view name = at(f.name), value = at(f.value);
    req->headers.push_back({name, value});
    if (Known k = known_of(name); k != Known::kCount && req->known(k).empty()) {
      req->set_known(k, value);
    }
  }
  req->length_sent = in->content_length.has_value();
  if (end_stream || in->content_length == uint64_t(0)) {
    req->body = BodyKind::kNone;
  } else if (in->content_length) {
    req->body = BodyKind::kLength;
    req->content_length = *in->content_length;
  } else {
    req->body = BodyKind::kUnknown;
  }
  nghttp2_session_set_stream_user_data(session_, id, &kDelivered);
  ++active_;
  events_.on_request(id, std::move(req), end_stream);
  // DATA that came in the same batch as the head.
  if (!in->body.empty() && nghttp2_session_get_stream_user_data(session_, id) == &kDelivered) {
    events_.on_body(id, in->body);
    in->body.clear();  // the driver's now: it opens the windows as it takes them
  }
  if (in->end_stream && !end_stream &&
      nghttp2_session_get_stream_user_data(session_, id) == &kDelivered) {
    events_.on_body_end(id);
  }
  return 0;
}

bool H2Session::recv(std::string_view data, int64_t now_ms) {
  if (failed_) return false;
  now_ms_ = now_ms;
  if (!feed(data) || failed_) {
    clear_incoming();  // nothing of this batch reaches a handler
    return false;
  }
  // Heads completed in this batch, in stream order (incoming_ is sorted), unless reset
  // meanwhile.
  ready_.clear();
  for (auto& [id, in] : incoming_) {
    if (in->head_done) ready_.emplace_back(id, in->end_stream && in->body.empty());
  }
  for (auto [id, end] : ready_) {
    if (incoming(id)) finish_head(id, end);
  }
  std::erase_if(incoming_, [](const auto& e) { return !e.second; });
  return !failed_;
}

bool H2Session::feed(std::string_view data) {
  size_t from = 0;  // the bytes before it went to nghttp2, or were withheld
  size_t i = 0;
  while (i < data.size()) {
    size_t left = data.size() - i;
    if (preface_left_ > 0 || payload_left_ > 0) {
      size_t& rest = preface_left_ > 0 ? preface_left_ : payload_left_;
      size_t n = std::min(rest, left);
      if (withheld_) from = i + n;  // never within the preface
      rest -= n;
      i += n;
      continue;
    }
    bool carried = head_len_ > 0;  // begun in the last bytes, held since
    const uint8_t* hd = reinterpret_cast<const uint8_t*>(data.data() + i);
    if (!carried && left >= sizeof head_) {
      i += sizeof head_;  // whole here: read in place
    } else {
      size_t n = std::min(sizeof head_ - head_len_, left);
      std::memcpy(head_ + head_len_, hd, n);
      head_len_ += n;
      i += n;
      if (head_len_ < sizeof head_) {  // the bytes end within it: held until it is whole
        data = data.substr(0, i - n);
        break;
      }
      head_len_ = 0;
      hd = head_;
    }
    payload_left_ = (size_t(hd[0]) << 16) | (size_t(hd[1]) << 8) | hd[2];
    withheld_ = withhold(hd);
    if (withheld_) {
      if (!carried && !give(data.substr(from, i - sizeof head_ - from))) return false;
      from = i;
      answer_withheld(hd);  // now that nghttp2 has every frame before it
    } else if (carried) {
      if (!give({reinterpret_cast<const char*>(head_), sizeof head_})) return false;
      from = i;
    }
  }
  return from >= data.size() || give(data.substr(from));
}

bool H2Session::give(std::string_view data) {
  if (data.empty() || failed_) return !failed_;
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data.data()),
                                       data.size());
  if (n >= 0) return true;
  failed_ = true;
  failure_ = n == NGHTTP2_ERR_FLOODED ? "nghttp2 found a flood" : "a protocol error";
  // A protocol error nghttp2 found: its GOAWAY is queued (unless the preface was wrong).
  if (n != NGHTTP2_ERR_BAD_CLIENT_MAGIC && n != NGHTTP2_ERR_FLOODED) {
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
  }
  return false;
}

namespace {
// The stream id of a frame header (RFC 9113 §4.1), the reserved bit left out.
int32_t frame_stream(const uint8_t* hd) {
  return int32_t(
      ((uint32_t(hd[5]) << 24) | (uint32_t(hd[6]) << 16) | (uint32_t(hd[7]) << 8) | hd[8]) &
      0x7fffffff);
}
}  // namespace

// The frames nghttp2 takes otherwise than RFC 9113 and nginx, known by their header: those that
// break a rule (a header block cut, a frame too large, the wrong stream) still reach it, and it
// answers them.
bool H2Session::withhold(const uint8_t* hd) {
  uint8_t type = hd[3], flags = hd[4];
  bool block = in_block_, first = !settings_seen_;
  settings_seen_ = true;
  if (type == NGHTTP2_HEADERS || type == NGHTTP2_PUSH_PROMISE || type == NGHTTP2_CONTINUATION) {
    in_block_ = !(flags & NGHTTP2_FLAG_END_HEADERS);
  }
  if (type != NGHTTP2_PRIORITY && type != NGHTTP2_GOAWAY) return false;  // most frames
  size_t length = (size_t(hd[0]) << 16) | (size_t(hd[1]) << 8) | hd[2];
  int32_t id = frame_stream(hd);
  if (block || first || failed_ ||
      length > nghttp2_session_get_local_settings(session_, NGHTTP2_SETTINGS_MAX_FRAME_SIZE)) {
    return false;
  }
  // A PRIORITY frame of another size than 5 is an error of its stream alone (RFC 9113 §6.3):
  // nghttp2 (as nginx and h2o) would end the connection, and every stream with it.
  if (type == NGHTTP2_PRIORITY) return id != 0 && length != 5;
  // The client's GOAWAY says it takes no more streams from the server (RFC 9113 §6.8), which
  // pushes none: its own streams go on being served, as nginx and h2o serve them. nghttp2
  // would stop reading once no stream is open.
  return type == NGHTTP2_GOAWAY && id == 0 && length >= 8;
}

// A withheld PRIORITY frame of the wrong size resets its stream with FRAME_SIZE_ERROR where it
// is open; an idle or closed one has nothing to reset (RST_STREAM on an idle stream is itself a
// connection error). A head not yet given to the driver never is. A GOAWAY needs no answer.
void H2Session::answer_withheld(const uint8_t* hd) {
  if (hd[3] != NGHTTP2_PRIORITY || flood(priorities_, "a PRIORITY flood")) return;
  int32_t id = frame_stream(hd);
  nghttp2_stream* s = nghttp2_session_find_stream(session_, id);
  nghttp2_stream_proto_state state = s ? nghttp2_stream_get_state(s) : NGHTTP2_STREAM_STATE_IDLE;
  if (state == NGHTTP2_STREAM_STATE_IDLE || state == NGHTTP2_STREAM_STATE_CLOSED) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_FRAME_SIZE_ERROR);
  if (std::unique_ptr<Incoming> in = take_incoming(id)) drop_incoming(id, std::move(in));
}

bool H2Session::pull(H2Batch& out, size_t max, size_t max_refs) {
  out_ = &out;
  max_ = max;
  max_refs_ = max_refs;
  while (out.size() < max && out.refs.size() < max_refs) {
    const uint8_t* p;
    ssize_t n = nghttp2_session_mem_send(session_, &p);
    if (n < 0) return false;
    if (n == 0) break;
    size_t at = out.bytes.size();
    out.bytes.append(reinterpret_cast<const char*>(p), size_t(n));
    if (!settings_sent_) {
      settings_sent_ = true;
      advertise_concurrency(out.bytes, at);
    }
  }
  return true;
}

// The first frame nghttp2 sends is its SETTINGS (the server preface): its
// SETTINGS_MAX_CONCURRENT_STREAMS entry (nghttp2's own bound, see the constructor) gets the
// advertised limit.
void H2Session::advertise_concurrency(std::string& out, size_t at) {
  if (out.size() < at + 9 || uint8_t(out[at + 3]) != NGHTTP2_SETTINGS) return;
  size_t length =
      (size_t(uint8_t(out[at])) << 16) | (size_t(uint8_t(out[at + 1])) << 8) | uint8_t(out[at + 2]);
  if (out.size() < at + 9 + length) return;
  uint32_t v = limits_.max_concurrent_streams;
  for (size_t e = at + 9; e + 6 <= at + 9 + length; e += 6) {
    uint16_t id = uint16_t((uint8_t(out[e]) << 8) | uint8_t(out[e + 1]));
    if (id != NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) continue;
    out[e + 2] = char(v >> 24);
    out[e + 3] = char(v >> 16);
    out[e + 4] = char(v >> 8);
    out[e + 5] = char(v);
  }
}

bool H2Session::done() const {
  return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
}

bool H2Session::want_write() const {
  return nghttp2_session_want_write(session_);
}

int32_t H2Session::send_window(int32_t id) const {
  return id == 0 ? nghttp2_session_get_remote_window_size(session_)
                 : nghttp2_session_get_stream_remote_window_size(session_, id);
}

void H2Session::submit_response(int32_t id, int status, std::span<const Response::Field> fields,
                                std::optional<uint64_t> length, bool body, std::string_view date) {
  char code[4], len_text[24];
  std::to_chars(code, code + 3, unsigned(status));
  if (nv_.size() < fields.size() + 4) nv_.resize(fields.size() + 4);
  nghttp2_nv* nv = nv_.data();
  size_t n = 0;
  // Static text is not copied by nghttp2 (NO_COPY: it lives as long as the program).
  constexpr uint8_t kStatic = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  auto add = [nv, &n](std::string_view name, std::string_view v, uint8_t flags) {
    nv[n++] = {(uint8_t*)name.data(), (uint8_t*)v.data(), name.size(), v.size(), flags};
  };
  add(":status", {code, 3}, NGHTTP2_NV_FLAG_NO_COPY_NAME);
  add("server", "askr", kStatic);
  if (!date.empty()) add("date", date, NGHTTP2_NV_FLAG_NO_COPY_NAME);
  n = add_fields(nv, n, fields);
  if (length && status != 304 && status != 204) {
    auto [end, ec] = std::to_chars(len_text, len_text + sizeof len_text, *length);
    add("content-length", {len_text, size_t(end - len_text)}, NGHTTP2_NV_FLAG_NO_COPY_NAME);
  }
  nghttp2_data_provider dp;
  dp.source.ptr = nullptr;
  dp.read_callback = H2Callbacks::read;
  nghttp2_submit_response(session_, id, nv, n, body ? &dp : nullptr);
}

void H2Session::submit_interim(int32_t id, int status, std::span<const Response::Field> fields) {
  char code[4];
  std::to_chars(code, code + 3, unsigned(status));
  if (nv_.size() < fields.size() + 1) nv_.resize(fields.size() + 1);
  nghttp2_nv* nv = nv_.data();
  nv[0] = {(uint8_t*)":status", (uint8_t*)code, 7, 3, NGHTTP2_NV_FLAG_NONE};
  size_t n = add_fields(nv, 1, fields);
  nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, nv, n, nullptr);
}

void H2Session::resume(int32_t id) {
  nghttp2_session_resume_data(session_, id);
}

void H2Session::consume(int32_t id, size_t n) {
  if (n) nghttp2_session_consume(session_, id, n);
}

void H2Session::consume_connection(size_t n) {
  if (n) nghttp2_session_consume_connection(session_, n);
}

void H2Session::consume_stream(int32_t id, size_t n) {
  if (n) nghttp2_session_consume_stream(session_, id, n);
}

void H2Session::open_stream(int32_t id) {
  if (limits_.body_preread >= limits_.initial_window) return;
  // The window's size, not what is left of it: -1 for a stream nghttp2 no longer has. Never
  // shrunk here (a stream opened before the client acknowledged our SETTINGS starts at 65535).
  int32_t size = nghttp2_session_get_stream_effective_local_window_size(session_, id);
  if (size < 0 || uint32_t(size) >= limits_.initial_window) return;
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, id,
                                        int32_t(limits_.initial_window));
}

void H2Session::reset(int32_t id, uint32_t error) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, error);
}

void H2Session::shutdown() {
  if (goaway_ || failed_) return;
  goaway_ = true;
  bump(&H2Counters::goaways);
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

void H2Session::shutdown_notice() {
  if (noticing_ || goaway_ || failed_) return;
  noticing_ = true;
  bump(&H2Counters::goaways);
  nghttp2_submit_shutdown_notice(session_);
}

void H2Session::terminate(uint32_t error) {
  if (failed_) return;
  failed_ = true;
  failure_ = "the connection was ended";
  goaway_ = true;
  bump(&H2Counters::goaways);
  if (error == NGHTTP2_ENHANCE_YOUR_CALM) bump(&H2Counters::floods);
  nghttp2_session_terminate_session(session_, error);
}

}  // namespace askr::http
