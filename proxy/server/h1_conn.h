// The HTTP/1.1 protocol driver of one client connection: bytes from its transport -> parser ->
// protocol-neutral request -> request core; responses -> bytes back to the transport. It owns
// keep-alive, pipelining (answers in order, batched into one send), 100-continue, request body
// framing (Content-Length or chunked), the client timers and lingering close. It never touches
// a socket: the transport does. Lives on one shard.
#pragma once

#include <memory>
#include <string>

#include "handlers/stream.h"
#include "http/chunked.h"
#include "http/h1_parser.h"
#include "http/request.h"
#include "http/response.h"
#include "http/sink.h"
#include "net/transport.h"
#include "server/connection.h"
#include "shared/base/log.h"
#include "shared/base/recycled.h"

namespace askr::server {

class Shard;

class H1Conn final : public Connection,
                     public net::TransportUser,
                     public http::ResponseSink,
                     public http::BodyProducer,
                     public handlers::SpliceSource,
                     public http::SpliceTarget {
 public:
  H1Conn(Shard& shard, std::unique_ptr<net::Transport> transport);
  ~H1Conn() override;

  void start(std::string_view received) override;
  void on_timeout() override;
  void drain() override;
  void abort() override {  // the drain timeout: what is in flight is cut
    transport_->cut_short();
    close_now();
  }

 private:
  enum class State : uint8_t {
    kIdle,    // between requests, no byte of the next one yet
    kHead,    // part of a request head received
    kBody,    // reading a request body (for PHP, or to drop it)
    kLinger,  // response sent, write side shut, draining what the client still sends
  };

  // A response produced over time (PHP), while its handler runs. One is made for each such
  // request: its memory is recycled on the loop's thread.
  struct Streamed : base::Recycled<Streamed> {
    std::unique_ptr<handlers::Stream> handler;
    http::BodyProducer* producer = nullptr;
    bool head_only = false;
    bool keep_alive = true;
    uint8_t version_minor = 1;
    bool started = false;
    bool chunked = false;
    bool body_allowed = true;
    bool done = false;  // end_response or fail_response happened
    bool sink_full = false;
    bool body_paused = false;      // client reading paused for the backend
    bool splicing = false;         // the rest of the body goes client -> backend with splice
    bool splice_drain = false;     // the producer waits for wbuf_ to go out before splicing
    bool splice_writable = false;  // the producer's splice waits for room in the socket
    bool head_out = false;         // the head has been handed to the transport
    uint64_t bytes = 0;
    uint64_t bytes_out = 0;  // of `bytes`, those handed to the transport (for the access log)
    int status = 0;
  };

  // net::TransportUser
  void on_data(std::string_view data) override;
  void on_data_end(int error) override;
  void on_sent(int error) override;
  void on_writable() override;
  void on_readable() override;
  void on_recv_stopped() override;
  void on_closed() override;
  void on_ready() override;
  // http::ResponseSink
  void start_response(int status, std::string_view reason,
                      std::span<const http::Response::Field> fields,
                      std::optional<uint64_t> length) override;
  void interim_response(int status, std::span<const http::Response::Field> fields) override;
  bool write_body(std::string_view data) override;
  void push() override;
  void end_response() override;
  void fail_response(int status) override;
  void set_producer(http::BodyProducer* p) override;
  http::SpliceTarget* splice_target() override;
  // http::SpliceTarget
  int splice_out_fd() const override { return transport_->splice_fd(); }
  bool splice_ready() override;
  void wait_splice_writable() override;
  void on_body_spliced(uint64_t n) override;
  void on_splice_error(int error) override;
  // http::BodyProducer: the handler can take more of the request body.
  void on_sink_drained() override;
  bool body_cut_short() override;
  // handlers::SpliceSource
  int splice_fd() const override { return transport_->splice_fd(); }
  void wait_client_readable() override;
  void on_splice_progress() override;
  void on_splice_done() override;

  size_t process(std::string_view in);
  // `preread`: what came after the head in the same read (its body, perhaps more).
  void handle(const http::RequestHead& head, std::string_view raw, std::string_view preread);
  bool begin_body(const http::RequestHead& head);
  // The status (400, 413) and reason of what makes a chunked body being set up malformed within
  // `bytes`, else 0. Read with a copy of the decoder: the body itself is then read as usual.
  int chunked_error(std::string_view bytes, const char*& reason) const;
  size_t consume_body(std::string_view in);
  bool maybe_splice();
  void body_piece(std::string_view data);
  void body_end();
  void write_response(http::Response& resp);
  void write_head(int status, std::span<const http::Response::Field> fields,
                  std::optional<uint64_t> length, bool chunked, bool keep_alive,
                  uint8_t version_minor, std::string_view reason = {});
  bool keep_alive_for(const http::RequestHead& head, bool handler_close) const;
  void log_access(int status, uint64_t bytes, const handlers::BackendTiming* timing = nullptr,
                  std::string_view request_line = {});
  void log_cut(const Streamed& s);
  // Each caller passes its own LOG_LIMIT_SITE(), so that each cause keeps its own log window.
  // `request_line`: the raw line of a head refused while parsing, for the access log.
  void reject(int status, const char* reason, log::RateLimit& limit,
              std::string_view request_line = {});
  void note_refused(int status, const char* reason, log::RateLimit& limit);
  void reject_head(int status, const char* reason, log::RateLimit& limit,
                   std::string_view request_line = {});
  void flush();
  void send_file();
  void end_file();
  void after_send();
  void notify_splice_drained();
  void idle();
  void begin_linger();
  void close_now();
  void arm(loop::TimerList& list);
  void disarm();
  void waiting_on_backend();
  void pause_reading();
  void resume_reading();
  bool in_full() const;
  std::string peer_text();

  Shard& shard_;
  std::unique_ptr<net::Transport> transport_;
  http::ConnInfo info_;
  State state_ = State::kIdle;
  bool sending_ = false;
  bool close_after_ = false;  // close once what is queued is sent
  bool refused_ = false;      // a request was refused unread: linger rather than close
  bool peer_done_ = false;    // the client shut its side
  bool recv_paused_ = false;
  bool closed_ = false;
  bool processing_ = false;  // inside process(): callbacks must not start another
  bool keep_alive_ = true;   // of the request being answered
  uint8_t version_minor_ = 1;
  uint32_t requests_ = 0;
  int64_t linger_until_ms_ = 0;  // the end of the lingering close, however fast the client sends
  std::unique_ptr<http::ParseProgress> progress_;  // of a head that arrives in pieces
  std::unique_ptr<http::Request> req_;  // the request being answered; from the shard's pool
  std::string in_;                      // received bytes not consumed yet
  std::string wbuf_;                    // response bytes queued
  std::string sbuf_;       // response bytes being sent (the transport may be reading them)
  std::string_view held_;  // an inline body sent by reference right after wbuf_, no copy
  // Keeps the held body, or the cached file being sent, alive until it is out.
  std::shared_ptr<const void> body_owner_;
  int file_fd_ = -1;
  bool corked_ = false;     // the transport holds partial packets until the file is out
  bool file_owned_ = true;  // close file_fd_ when done (else body_owner_ holds it)
  off_t file_off_ = 0;
  uint64_t file_left_ = 0;
  uint64_t file_size_ = 0;  // of the file being sent, and its response's status: the access
  int file_status_ = 0;     // line waits until it is out (or cut short)
  uint64_t body_left_ = 0;
  std::unique_ptr<http::ChunkedDecoder> chunked_;
  std::unique_ptr<Streamed> stream_;   // the streamed response in progress
  std::unique_ptr<Streamed> retired_;  // finished; freed outside its own call stack
};

}  // namespace askr::server
