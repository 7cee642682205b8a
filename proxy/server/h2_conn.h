// The HTTP/2 driver of one client connection: bytes from its transport -> http::H2Session (the
// nghttp2 codec) -> one protocol-neutral request per stream -> request core; responses of all
// streams -> frames batched into one transport send. Each stream is the ResponseSink and body
// source of its handler, exactly as an H1Conn is for its one request, so the handlers never
// learn which protocol carried the request.
//
// Flow control both ways: a stream's request body opens the client's window only as the
// handler takes it, so a backend that is behind holds that stream (and no other) back; a
// streamed response waits in a bounded per-stream buffer for the client's window, and a full
// one pauses that stream's producer (on_sink_drained resumes it). Static files are read in
// frame-sized pieces straight into nghttp2's send buffer, never loaded whole.
//
// Timers (one per connection, as for HTTP/1.1): the send timer while bytes are owed to the
// client and do not move (a zero window included), the body timer while a request head or body
// is being received and no body bytes come, none while only handlers work, the idle timer when
// no stream is open, and on drain the notice timer, which bounds the wait between the two
// GOAWAYs of a graceful shutdown. When the send or body timer runs out beside streams in progress,
// only the streams it waited on are reset.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "handlers/stream.h"
#include "http/h2_session.h"
#include "http/request.h"
#include "http/response.h"
#include "http/sink.h"
#include "net/transport.h"
#include "server/connection.h"
#include "shared/base/log.h"

namespace askr::server {

class Shard;

class H2Conn final : public Connection, public net::TransportUser, public http::H2Session::Events {
 public:
  H2Conn(Shard& shard, std::unique_ptr<net::Transport> transport);
  ~H2Conn() override;

  // `received`: the client preface (or part of it) a cleartext listener looked at.
  void start(std::string_view received) override;
  void on_timeout() override;
  void drain() override;
  void abort() override { close_now(); }

  const http::H2Counters& counters() const { return session_.counters(); }

 public:
  struct Stream;  // one request/response exchange (defined in h2_conn.cc)

 private:
  enum class Wait : uint8_t { kNone, kSend, kBody, kIdle, kNotice };

  // net::TransportUser
  void on_data(std::string_view data) override;
  void on_data_end(int error) override;
  void on_sent(int error) override;
  void on_writable() override {}
  void on_readable() override {}
  void on_recv_stopped() override {}
  void on_closed() override;
  // http::H2Session::Events
  std::unique_ptr<http::Request> new_request() override;
  void on_request(int32_t id, std::unique_ptr<http::Request> req, bool end_stream) override;
  void on_body(int32_t id, std::string_view data) override;
  void on_body_end(int32_t id) override;
  void on_stream_close(int32_t id, uint32_t error) override;
  void on_refused(int status, uint64_t bytes, std::string_view method,
                  std::string_view target) override;
  ssize_t read_body(int32_t id, size_t len, bool& eof) override;
  bool copy_body(int32_t id, http::H2Batch& out, size_t n) override;
  int64_t declared_body(int32_t id) override;
  void on_bad_body(int32_t id, uint32_t error) override;

  Stream* find(int32_t id);
  std::vector<Stream*>::iterator stream_at(int32_t id);
  void respond(Stream& s, http::Response& resp);
  void respond_error(Stream& s, int status);
  // Each caller passes its own LOG_LIMIT_SITE(), so that each cause keeps its own log window.
  void note_refused(int status, const char* reason, log::RateLimit& limit);
  void feed(Stream& s, std::string_view data);
  void end_body(Stream& s);
  void body_drained(Stream& s);
  void log_access(Stream& s, int status, uint64_t bytes, const handlers::BackendTiming* timing);
  void log_cut(Stream& s);
  void log_answer(Stream& s);
  void flush();
  void session_over();
  void notify_drained();
  void update_timer();
  void set_wait(Wait w, bool rearm);
  bool cut_stalled_streams();
  void free_retired();
  void finish();
  void close_now();

  Shard& shard_;
  std::unique_ptr<net::Transport> transport_;
  http::ConnInfo info_;
  http::H2Session session_;
  // Open streams sorted by id: at most max_concurrent_streams, so a vector beats a hash map. It
  // owns them (plain pointers, so that closing the oldest moves the rest with one memmove).
  std::vector<Stream*> streams_;
  Stream* last_found_ = nullptr;  // find()'s last answer, still in streams_ (or null)
  std::vector<std::unique_ptr<Stream>> retired_;  // closed; freed off their call stacks
  Stream* in_sink_ = nullptr;                     // the stream whose sink method is running
  // Frames gathered, then sent: the transport reads them, and the cached bodies they reference,
  // until on_sent; sent_owners_ keeps those bodies alive until then, whatever happens to their
  // streams or to the cache meanwhile.
  http::H2Batch batch_;
  std::vector<iovec> iov_;
  std::vector<std::shared_ptr<const void>> sent_owners_;
  size_t buffered_ = 0;    // streamed response bytes waiting in all streams
  uint64_t data_out_ = 0;  // response body bytes handed to nghttp2 (progress, for the timer)
  uint64_t data_out_seen_ = 0;
  uint64_t data_in_ = 0;  // request body bytes received (progress, for the timer)
  uint64_t data_in_seen_ = 0;
  Wait wait_ = Wait::kNone;
  bool sending_ = false;
  bool busy_ = false;       // inside the session: flushes wait until it returns
  bool closing_ = false;    // the session is over: send what is left, then close
  bool lingering_ = false;  // all is sent and the write side shut: draining what still comes
  bool closed_ = false;
};

}  // namespace askr::server
