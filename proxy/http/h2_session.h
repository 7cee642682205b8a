// The server side of one HTTP/2 connection as a codec: nghttp2 driven through
// nghttp2_session_mem_recv / mem_send, bytes in and events out, frames pulled out in batches. It
// never touches a socket or the clock (the caller passes the time), so it is unit-tested and
// fuzzed alone. On top of nghttp2's own checks (RFC 9113 header rules, flow control, stream
// states) it enforces what Debian's nghttp2 1.52 leaves to the application: the header list size
// counted with the 32-byte per-field overhead and a cap on field count, a budget of client
// resets (Rapid Reset, CVE-2023-44487), caps on CONTINUATION frames, budgets for SETTINGS,
// PING, PRIORITY, WINDOW_UPDATE, empty DATA frames and frames of unknown types, and a total of
// streams per connection.
// Each request becomes a protocol-neutral http::Request.
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"
#include "http/response.h"

namespace askr::http {

struct H2Limits {
  uint32_t max_concurrent_streams = 100;
  uint32_t max_streams = 10000;      // streams per connection, then GOAWAY (NO_ERROR)
  uint32_t initial_window = 65535;   // a stream's window once open_stream() was called
  uint32_t body_preread = 16 << 10;  // SETTINGS_INITIAL_WINDOW_SIZE (capped by initial_window)
  uint32_t connection_window = 1 << 20;
  uint32_t max_header_list = 32768;  // bytes, each field counted as name + value + 32
  uint32_t max_fields = 100;
  uint32_t max_request_line = 8192;  // the longest :path, as HTTP/1.1's request line: 414
  uint32_t max_continuations = 16;
  uint32_t reset_burst = 100;
  uint32_t reset_rate = 10;  // per second
  uint32_t flood_burst = 1000;
  uint32_t flood_rate = 100;  // per second, for each frame type on its own
};

// What a connection saw; one set per connection, and the loop sums them for its metrics.
struct H2Counters {
  uint64_t streams = 0;          // requests received (complete heads)
  uint64_t refused = 0;          // streams refused: over the concurrency or total budget
  uint64_t resets_received = 0;  // RST_STREAM from the client
  uint64_t resets_sent = 0;      // RST_STREAM from us (stream errors, failed responses)
  uint64_t bad_headers = 0;      // header blocks refused under RFC 9113 or the size limits
  uint64_t floods = 0;           // connections ended with ENHANCE_YOUR_CALM by a budget
  uint64_t goaways = 0;          // GOAWAY frames sent

  void add(const H2Counters& o) {
    streams += o.streams;
    refused += o.refused;
    resets_received += o.resets_received;
    resets_sent += o.resets_sent;
    bad_headers += o.bad_headers;
    floods += o.floods;
    goaways += o.goaways;
  }
};

// A token bucket: `burst` events at once, `rate` more per second; and events earned one by one
// by work the client asked for, kept apart from the bucket until they come.
class Budget {
 public:
  void set(uint32_t burst, uint32_t rate) {
    burst_ = tokens_ = double(burst);
    rate_ = rate;
  }
  // Takes one earned event, else one token; false when neither is left.
  bool take(int64_t now_ms);
  // `n` events earned by useful work the client asked for (the DATA frames it is sent earn their
  // WINDOW_UPDATEs). They are kept until they come, however many: not capped by the burst, since
  // they may come long after they were earned (a client reading late finds every frame that
  // waited in the sockets meanwhile, and acknowledges each). Spent before the bucket's tokens.
  void give(uint64_t n) { earned_ += n; }

 private:
  double burst_ = 0, tokens_ = 0;
  uint32_t rate_ = 0;
  int64_t last_ms_ = -1;
  uint64_t earned_ = 0;
};

// Frames gathered for one send: their bytes in `bytes`, except body pieces that are sent from
// where they live (a cached file's bytes) rather than copied; each such piece is referenced at
// its place in the stream of bytes. The driver keeps those pieces valid until the batch is out.
struct H2Batch {
  struct Ref {
    size_t at;  // the piece goes after bytes[0, at) and before bytes[at, ...)
    std::string_view piece;
  };
  std::string bytes;
  std::vector<Ref> refs;  // in order of `at`
  size_t ref_bytes = 0;

  size_t size() const { return bytes.size() + ref_bytes; }
  bool empty() const { return bytes.empty() && refs.empty(); }
  void clear() {
    bytes.clear();
    refs.clear();
    ref_bytes = 0;
  }
  void reference(std::string_view piece) {
    refs.push_back({bytes.size(), piece});
    ref_bytes += piece.size();
  }
  // Calls f(std::string_view) for each piece of the batch in order (empty ones left out).
  template <class F>
  void for_each_piece(F&& f) const {
    size_t from = 0;
    for (const Ref& r : refs) {
      if (r.at > from) f(std::string_view(bytes).substr(from, r.at - from));
      if (!r.piece.empty()) f(r.piece);
      from = r.at;
    }
    if (bytes.size() > from) f(std::string_view(bytes).substr(from));
  }
  // The whole batch as one string (tests).
  std::string flat() const {
    std::string s;
    for_each_piece([&s](std::string_view p) { s.append(p); });
    return s;
  }
};

class H2Session {
 public:
  // What the session tells its driver. Every call comes from inside recv() or pull(), except
  // where noted.
  class Events {
   public:
    virtual ~Events() = default;
    // An empty request object for a new stream (the driver's pool): new, or reset.
    virtual std::unique_ptr<Request> new_request() = 0;
    // A complete request head on stream `id`. `end_stream`: no body follows. The request keeps
    // its storage; it belongs to the driver from here.
    virtual void on_request(int32_t id, std::unique_ptr<Request> req, bool end_stream) = 0;
    // Request body bytes (valid during the call). They count against the stream's receive
    // window until the driver calls consume().
    virtual void on_body(int32_t id, std::string_view data) = 0;
    virtual void on_body_end(int32_t id) = 0;
    // The stream is closed (both sides done, reset by either side, or the connection ends).
    // `error` is the HTTP/2 error code (0: NO_ERROR). Called only for streams given to
    // on_request.
    virtual void on_stream_close(int32_t id, uint32_t error) = 0;
    // A request the session refused itself, for the access log: a head over the limits, answered
    // 431 with `bytes` of body, or a malformed one, its stream reset (400, nothing sent).
    // `method` and `target` (valid during the call) are empty when the head could not be read.
    // At most once per stream the client opened, so within the budget of streams.
    virtual void on_refused(int status, uint64_t bytes, std::string_view method,
                            std::string_view target) = 0;
    // Response body for stream `id`: how many bytes (at most `len`) its next DATA frame
    // carries, with `eof` set on the last; -1 when none are ready yet (resume() when they
    // are), -2 to reset the stream. Nothing is copied yet: copy_body() follows at once when
    // the count is above 0.
    virtual ssize_t read_body(int32_t id, size_t len, bool& eof) = 0;
    // Appends the `n` bytes read_body() announced to `out`, right behind their frame header
    // (no copy through nghttp2's buffer): copied into out.bytes, or referenced where they live
    // (H2Batch::reference) when they stay valid until the batch is sent. False when they cannot
    // be had: the stream is reset.
    virtual bool copy_body(int32_t id, H2Batch& out, size_t n) = 0;
    // The request body stream `id` declared (content-length), or -1 when it declared none.
    virtual int64_t declared_body(int32_t) { return -1; }
    // Stream `id`, given to on_request, is reset because the client broke its body's framing
    // (`error` PROTOCOL_ERROR: DATA beyond or short of its content-length, malformed trailers)
    // or sent DATA beyond the stream's window (FLOW_CONTROL_ERROR): a bad request rather than a
    // cancelled one. on_stream_close follows.
    virtual void on_bad_body(int32_t, uint32_t /*error*/) {}
  };

  H2Session(Events& events, const H2Limits& limits, H2Counters* shared = nullptr);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Feeds received bytes (the client preface first). False: the connection is over (a protocol
  // error, a budget ran out): pull() what is left to send (GOAWAY), then close.
  bool recv(std::string_view data, int64_t now_ms);
  // Appends frames ready to go to `out` until it holds `max` bytes or `max_refs` references,
  // or nothing is left. False on a fatal error (close at once).
  bool pull(H2Batch& out, size_t max, size_t max_refs = SIZE_MAX);
  // Nothing more to read or send: close the connection.
  bool done() const;
  bool want_write() const;
  // What stream `id` (0: the connection) may send under the client's window now; -1 for a
  // stream the session no longer has.
  int32_t send_window(int32_t id) const;

  // The response head of stream `id`. `length`: the body size when known. `body`: a body
  // follows (read through Events::read_body); without one, the stream ends with the head.
  void submit_response(int32_t id, int status, std::span<const Response::Field> fields,
                       std::optional<uint64_t> length, bool body, std::string_view date);
  void submit_interim(int32_t id, int status, std::span<const Response::Field> fields);
  // Body bytes became ready for a stream whose read_body returned -1.
  void resume(int32_t id);
  // The driver took `n` body bytes of stream `id`: open the windows by as much.
  void consume(int32_t id, size_t n);
  // The two windows apart: the driver holds `n` body bytes of a stream that cannot take them
  // yet (the connection's window opens at once, so one waiting stream never stalls the others),
  // and later gives them to the stream (its own window opens then).
  void consume_connection(size_t n);
  void consume_stream(int32_t id, size_t n);
  // The handler of stream `id` reads its body: its window grows from body_preread (what a
  // stream may send before that, so that streams waiting for a handler hold little) to
  // initial_window. Called again each time it reads (cheap): the client's SETTINGS ACK
  // shrinks the windows of streams opened before it.
  void open_stream(int32_t id);
  void reset(int32_t id, uint32_t error);
  // Graceful: GOAWAY with the last stream seen; streams in flight finish, new ones are refused.
  void shutdown();
  // Graceful, in two steps (RFC 9113 §6.8): a GOAWAY with the last stream id 2^31-1 and a PING
  // first, so that the streams the client opens while that GOAWAY is in flight are still
  // served. shutdown() follows when the PING's ACK comes back; the driver calls it itself once
  // it waited long enough for a client that does not answer.
  void shutdown_notice();
  // The first GOAWAY of shutdown_notice() is out, the final one not yet.
  bool noticing() const { return noticing_ && !goaway_; }
  // GOAWAY with `error`; every stream ends. Counted as a flood when ENHANCE_YOUR_CALM.
  void terminate(uint32_t error);
  // Why recv() reported the connection over (for the log): "a protocol error", "a WINDOW_UPDATE
  // flood", ...; null while it is not.
  const char* failure() const { return failure_; }

  const H2Counters& counters() const { return counters_; }
  // Streams whose head is being received or that the driver holds.
  size_t open_streams() const { return incoming_.size() + active_; }

 public:
  struct Incoming;  // a stream whose head is being received (defined in h2_session.cc)

 private:
  friend struct H2Callbacks;

  Incoming* incoming(int32_t id);
  // Takes stream `id`'s Incoming out of incoming_ (null when it has none).
  std::unique_ptr<Incoming> take_incoming(int32_t id);
  void drop_incoming(int32_t id, std::unique_ptr<Incoming> in);
  void clear_incoming();
  int on_begin_headers(int32_t id);
  bool skipped(int32_t id) const;
  int32_t largest_send_window() const;
  int on_header(int32_t id, std::string_view name, std::string_view value);
  // `length`: for DATA, the data it carries (padding left out).
  int on_frame_recv(uint8_t type, uint8_t flags, int32_t id, size_t length);
  int on_begin_frame(uint8_t type, uint8_t flags, int32_t id);
  int on_stream_close(int32_t id, uint32_t error);
  void on_reset_sent(int32_t id, uint32_t error);
  int finish_head(int32_t id, bool end_stream);
  // Gives the client's bytes to nghttp2, frame by frame, but for the frames withhold() keeps
  // from it. False once nghttp2 failed.
  bool feed(std::string_view data);
  bool give(std::string_view data);
  // Whether the frame of this header (9 bytes, whole) is kept from nghttp2, and answered here;
  // answer_withheld() answers it once the frames before it reached nghttp2.
  bool withhold(const uint8_t* hd);
  void answer_withheld(const uint8_t* hd);
  void advertise_concurrency(std::string& out, size_t at);
  void calm(const char* why);  // a budget ran out: GOAWAY ENHANCE_YOUR_CALM
  bool flood(Budget& b, const char* why);
  void count(H2Counters& c, uint64_t H2Counters::*field) {
    ++(c.*field);
    if (shared_) ++(shared_->*field);
  }
  void bump(uint64_t H2Counters::*field) { count(counters_, field); }

  Events& events_;
  H2Limits limits_;
  H2Counters counters_;
  H2Counters* shared_;
  nghttp2_session* session_ = nullptr;
  int64_t now_ms_ = 0;
  bool failed_ = false;
  const char* failure_ = nullptr;  // why failed_ (see failure())
  bool goaway_ = false;
  bool noticing_ = false;       // shutdown_notice() was called
  bool settings_sent_ = false;  // the server preface (our SETTINGS) has been pulled
  uint32_t begun_ = 0;          // streams opened so far
  uint32_t active_ = 0;         // streams given to the driver and not closed yet
  int32_t header_stream_ = 0;   // stream of the header block being received (CONTINUATION)
  int32_t last_begun_ = -1;     // the highest stream id on_begin_headers saw
  // Before a SETTINGS frame: the client's initial window and the largest window it gave a
  // stream, to tell whether the frame took one beyond 2^31-1.
  int32_t initial_before_ = 0, largest_before_ = 0;
  uint32_t continuations_ = 0;
  // feed(): where the client's bytes stand. The preface's bytes still to come, those of the
  // current frame's payload, and a frame header the last bytes ended within (held until whole,
  // so that withhold() can decide before nghttp2 sees any of it).
  size_t preface_left_ = 24, payload_left_ = 0, head_len_ = 0;
  uint8_t head_[9] = {};
  bool withheld_ = false;       // the current frame is kept from nghttp2
  bool settings_seen_ = false;  // the client's first frame (its SETTINGS) went to nghttp2
  bool in_block_ = false;       // within a header block: only CONTINUATION may come
  Budget resets_, settings_, pings_, priorities_, window_updates_, empty_data_, unknown_;
  // Streams whose head is being received, by id. nghttp2 opens streams in increasing id order,
  // so appending keeps it sorted; at most max_concurrent_streams entries.
  std::vector<std::pair<int32_t, std::unique_ptr<Incoming>>> incoming_;
  // The stream ids the client skipped, closed from then on (RFC 9113 §5.1.1), as increasing
  // [first, last] ranges: nghttp2 ignores a HEADERS on one, which would leave its request
  // unanswered. At most one per stream begun, within max_streams.
  std::vector<std::pair<int32_t, int32_t>> skipped_;
  std::vector<std::pair<int32_t, bool>> ready_;  // recv(): heads completed in the batch
  H2Batch* out_ = nullptr;                       // pull(): where DATA frames go
  size_t max_ = 0, max_refs_ = 0;                // pull(): the batch's bounds
  std::vector<nghttp2_nv> nv_;                   // submit_*: the fields as nghttp2 takes them
};

}  // namespace askr::http
