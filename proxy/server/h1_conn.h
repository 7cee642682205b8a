// One HTTP/1.1 client connection: bytes in -> parser -> router -> handler -> response bytes
// out, with keep-alive, pipelining (answers in order, batched into one send), request bodies
// (Content-Length or chunked), timeouts and lingering close. Lives on one shard for its life.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <string>

#include "http/chunked.h"
#include "http/h1_parser.h"
#include "http/response.h"
#include "loop/backend.h"
#include "loop/timer_list.h"

namespace askr::server {

class Shard;

class H1Conn final : public loop::IoObject {
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
    kBody,    // reading (and discarding) a request body
    kLinger,  // response sent, write side shut, draining what the client still sends
  };

  void on_recv(std::string_view data) override;
  void on_recv_end(int error) override;
  void on_sent(int error) override;
  void on_writable() override;
  void on_closed() override;

  size_t process(std::string_view in);
  void handle(const http::RequestHead& req);
  bool begin_body(const http::RequestHead& req);
  size_t discard_body(std::string_view in);
  void write_response(const http::RequestHead& req, http::Response& resp);
  void write_head(const http::Response& resp, bool keep_alive, uint8_t version_minor);
  void reject(int status, const char* reason);
  void flush();
  void send_file();
  void after_send();
  void idle();
  void begin_linger();
  void close_now();
  void arm(loop::TimerList& list);
  const sockaddr* peer();
  std::string peer_text();

  Shard& shard_;
  State state_ = State::kIdle;
  bool sending_ = false;
  bool close_after_ = false;  // close once what is queued is sent
  bool peer_done_ = false;    // the client shut its side
  bool recv_paused_ = false;
  bool closed_ = false;
  bool have_peer_ = false;
  uint32_t requests_ = 0;
  std::string in_;   // received bytes not consumed yet
  std::string out_;  // response bytes queued or being sent
  int file_fd_ = -1;
  off_t file_off_ = 0;
  uint64_t file_left_ = 0;
  uint64_t body_left_ = 0;
  std::unique_ptr<http::ChunkedDecoder> chunked_;
  sockaddr_in6 peer_{};
};

}  // namespace askr::server
