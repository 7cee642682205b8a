// One HTTP/1.1 client connection: bytes in -> parser -> router -> handler -> response bytes
// out, with keep-alive, pipelining (answers in order, batched into one send), request bodies
// (Content-Length or chunked), timeouts and lingering close. Static responses are produced at
// once; PHP responses stream in through the ResponseSink interface. Lives on one shard.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <string>

#include "handlers/php.h"
#include "http/chunked.h"
#include "http/h1_parser.h"
#include "http/response.h"
#include "http/sink.h"
#include "loop/backend.h"
#include "loop/timer_list.h"

namespace askr::server {

class Shard;

class H1Conn final : public loop::IoObject,
                     public http::ResponseSink,
                     public http::BodyProducer,
                     public handlers::SpliceSource {
 public:
  H1Conn(Shard& shard, int fd);
  ~H1Conn() override;

  void start();
  void on_timeout();
  // The shard is stopping: close now when idle, otherwise after the response in progress.
  void drain();
  // Closes at once (drain timeout).
  void abort() { close_now(); }

  // Shard bookkeeping.
  struct Timer : loop::TimerNode {
    H1Conn* conn;
  } timer;
  H1Conn* prev = nullptr;
  H1Conn* next = nullptr;

 private:
  enum class State : uint8_t {
    kIdle,    // between requests, no byte of the next one yet
    kHead,    // part of a request head received
    kBody,    // reading a request body (for PHP, or to drop it)
    kLinger,  // response sent, write side shut, draining what the client still sends
  };

  // What a streamed (PHP) response needs after the request head is gone.
  struct Streamed {
    std::unique_ptr<handlers::PhpRequest> php;
    http::BodyProducer* producer = nullptr;
    bool head_only = false;
    bool keep_alive = true;
    uint8_t version_minor = 1;
    bool started = false;
    bool chunked = false;
    bool body_allowed = true;
    bool done = false;  // end_response or fail_response happened
    bool sink_full = false;
    bool body_paused = false;  // client reading paused for the backend
    bool splicing = false;     // the rest of the body goes client -> backend with splice
    uint64_t splice_threshold = 0;
    uint64_t bytes = 0;
    int status = 0;
    std::string method, target, referer, user_agent;  // for the access log
  };

  // loop::IoObject
  void on_recv(std::string_view data) override;
  void on_recv_end(int error) override;
  void on_sent(int error) override;
  void on_writable() override;
  void on_closed() override;
  // http::ResponseSink
  void start_response(int status, std::span<const http::Response::Field> fields,
                      std::optional<uint64_t> length) override;
  bool write_body(std::string_view data) override;
  void end_response() override;
  void fail_response(int status) override;
  void set_producer(http::BodyProducer* p) override;
  // http::BodyProducer: the backend can take more of the request body.
  void on_sink_drained() override;
  // handlers::SpliceSource
  int client_fd() const override { return fd; }
  void wait_client_readable() override;
  void on_splice_progress() override;
  void on_splice_done() override;
  void on_readable() override;
  void on_recv_stopped() override;

  size_t process(std::string_view in);
  void handle(const http::RequestHead& req);
  void serve_return(const http::RequestHead& req, const config::Route& route);
  void start_php(const http::RequestHead& req, const handlers::PhpScript& script, int pool,
                 const config::Site& site);
  bool begin_body(const http::RequestHead& req);
  size_t consume_body(std::string_view in);
  void body_piece(std::string_view data);
  void body_end();
  void write_response(const http::RequestHead& req, http::Response& resp);
  void write_head(int status, std::span<const http::Response::Field> fields,
                  std::optional<uint64_t> length, bool chunked, bool keep_alive,
                  uint8_t version_minor);
  bool keep_alive_for(const http::RequestHead& req, bool handler_close) const;
  void log_access(std::string_view method, std::string_view target, uint8_t version_minor,
                  int status, uint64_t bytes, std::string_view referer, std::string_view ua);
  void finish_streamed();
  void reject(int status, const char* reason);
  void flush();
  void send_file();
  void after_send();
  void idle();
  void begin_linger();
  void close_now();
  void arm(loop::TimerList& list);
  void pause_reading();
  void resume_reading();
  const sockaddr* peer();
  const sockaddr* local();
  std::string peer_text();

  Shard& shard_;
  State state_ = State::kIdle;
  bool sending_ = false;
  bool close_after_ = false;  // close once what is queued is sent
  bool peer_done_ = false;    // the client shut its side
  bool recv_paused_ = false;
  bool closed_ = false;
  bool have_peer_ = false;
  bool have_local_ = false;
  bool processing_ = false;  // inside process(): callbacks must not start another
  uint32_t requests_ = 0;
  std::string in_;    // received bytes not consumed yet
  std::string wbuf_;  // response bytes queued
  std::string sbuf_;  // response bytes being sent (the kernel may be reading them)
  int file_fd_ = -1;
  off_t file_off_ = 0;
  uint64_t file_left_ = 0;
  uint64_t body_left_ = 0;
  std::unique_ptr<http::ChunkedDecoder> chunked_;
  std::unique_ptr<Streamed> stream_;   // the PHP request in progress
  std::unique_ptr<Streamed> retired_;  // finished; freed outside its own call stack
  sockaddr_in6 peer_{};
  sockaddr_in6 local_{};
};

}  // namespace askr::server
