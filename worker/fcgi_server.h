// The FastCGI side of askr-worker (responder role): accepts connections on a listening Unix
// socket, keeps several open at once (askr-proxy keeps one from each of its loops), and serves
// one request at a time from whichever has one, with blocking I/O while it runs (PHP is
// single-threaded here; one process serves one request at a time). Between requests it waits in
// epoll for the listener, its connections and the stop pipe. The record format is the shared
// codec's (shared/fastcgi); this class only moves bytes and keeps the request's state.
//
// What a client sees:
// - GET_VALUES is answered at any time: FCGI_MAX_CONNS=1, FCGI_MAX_REQS=1, FCGI_MPXS_CONNS=0.
//   Other management records get UNKNOWN_TYPE.
// - A BEGIN_REQUEST for another id while a request runs gets END_REQUEST(CANT_MPX_CONN) when it
//   is read then (with the request's own records, or by a flush()); one read only after the
//   request's END_REQUEST begins the next request. A role other than responder gets
//   END_REQUEST(UNKNOWN_ROLE), and without FCGI_KEEP_CONN the connection is then closed.
// - ABORT_REQUEST marks the request aborted (client_gone()); its END_REQUEST still follows.
// - FCGI_KEEP_CONN: the connection is kept for the next request; otherwise it is shut down
//   after END_REQUEST and closed, what the client sent meanwhile drained first (and, when the
//   body was not read to its end, its rest awaited for a moment), so that a client still sending
//   never sees EPIPE before reading the answer.
// - Told to stop (wake_fd) while idle: no more connections are accepted; one accepted before that
//   has carried no request yet gets its first request served (awaited for a moment), since its
//   client connected for it; kept connections are closed.
// - fastcgi_finish_request() (end_output()) ends STDOUT; END_REQUEST follows at once, or, when
//   the client sent ASKR_STDOUT_ENDS_RESPONSE (askr-proxy does), once the script is done with
//   the request (in worker mode: when it asks for the next one), so that the client knows when
//   this process is free.
// - Each request's params get ASKR_CONNECTION_REQUESTS: how many requests its connection has
//   carried, this one included (a client's own value is replaced).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shared/fastcgi/decoder.h"

namespace askr::worker {

// A request's params in arrival order. The strings of one request are kept for the next, which
// assigns into them: a worker serving requests of the usual shape allocates nothing for its
// params once it has served a few.
class FcgiParams {
 public:
  using Pair = std::pair<std::string, std::string>;

  std::span<const Pair> pairs() const { return {slots_.data(), used_}; }
  size_t size() const { return used_; }
  // The value of the first pair named `name`, or nullptr.
  const std::string* find(std::string_view name) const;

  void add(std::string_view name, std::string_view value);
  // Removes every pair named `name`, keeping the order of the others.
  void remove(std::string_view name);
  // Forgets the pairs; a string that grew past kMaxKept is freed rather than kept.
  void clear();

  // False when the pair at `i` (< size()) has the name and value that the pair at `i` of the
  // set before this one had.
  bool changed(size_t i) const { return reordered_ || changed_[i]; }
  // One more for each set of pairs cleared: the set before this one is the one seen when this
  // was one less.
  uint64_t generation() const { return generation_; }

 private:
  static constexpr size_t kMaxKept = 16 * 1024;
  std::vector<Pair> slots_;       // the first used_ are the request's
  std::vector<uint8_t> changed_;  // by slot: changed() for the current set
  size_t used_ = 0;
  bool reordered_ = false;  // remove() took pairs out of this set: every pair counts as changed
  uint64_t generation_ = 0;
};

class FcgiServer {
 public:
  // `listen_fd`: a listening Unix stream socket, made non-blocking here (during a rolling
  // restart the old and the new worker of a slot share it); the server does not own it. `wake_fd`:
  // becomes readable when waiting for a request should stop (the signal handler's pipe); -1 for
  // none. `ready_fd`: the supervisor's pipe (owned from here on; -1 for none): this process's pid
  // is written there once, when it first waits for a connection, and its pid negated once, when its
  // first request begins. `own_peers_only`: a connection whose peer (SO_PEERCRED) is neither this
  // process's user nor root is closed unanswered and logged (for a socket inherited from a
  // supervisor, whose only client is askr-proxy; a --listen socket is guarded by its file mode
  // instead, as php-fpm's).
  FcgiServer(int listen_fd, int wake_fd, int ready_fd = -1, bool own_peers_only = false);
  ~FcgiServer();
  FcgiServer(const FcgiServer&) = delete;
  FcgiServer& operator=(const FcgiServer&) = delete;

  enum class Wait { kRequest, kStop, kError };
  // Waits, accepting connections as needed, until a request has begun on one of them and its
  // params are complete (kRequest). kStop: wake_fd became readable while no request had begun,
  // and no connection accepted before is owed its first request.
  // kError: the listening socket failed (logged).
  Wait next_request();

  // The current request; valid from next_request() == kRequest until release().
  uint16_t request_id() const { return id_; }
  bool keep_conn() const { return keep_conn_; }
  const FcgiParams& params() const { return params_; }

  // Up to `len` bytes of the request body (STDIN), blocking until some arrive; 0 at the end of
  // the body, once the request is finished, or when the client is gone.
  size_t read_stdin(char* buf, size_t len);

  // STDOUT and STDERR of the current request. Output is buffered, small writes gathered, and
  // sent in records of up to 64 KiB; dropped once the request is finished or the client is gone.
  void write_stdout(std::string_view data);
  void write_stderr(std::string_view data);
  // Sends what is buffered. Also looks, without blocking, at what the client sent meanwhile
  // (ABORT_REQUEST, a second BEGIN_REQUEST). False when the client is gone.
  bool flush();

  // ABORT_REQUEST arrived or the connection failed.
  bool client_gone() const { return aborted_ || broken_; }
  // The response is complete (end_output() or finish()); the request may still be running.
  bool finished() const { return state_ == State::kFinished; }
  bool in_request() const { return state_ == State::kRunning || state_ == State::kFinished; }

  // Ends the response: buffered output, the end of STDOUT, END_REQUEST(app_status), in one
  // send. Later output is dropped. After end_output(), sends the END_REQUEST it left owed.
  // Does nothing when already finished or outside a request.
  void finish(uint32_t app_status);
  // Ends the response while the script goes on (fastcgi_finish_request(), or a worker script's
  // loop after askr_handle_request()): as finish(0), but where the client ends its response at
  // the end of STDOUT, END_REQUEST is left to finish().
  void end_output();
  // The request is over (the script is done with it): finish() if needed, then close the
  // connection unless it is kept for the next request (FCGI_KEEP_CONN).
  void release(uint32_t app_status);

 private:
  enum class State : uint8_t { kIdle, kParams, kRunning, kFinished };
  enum class Io : uint8_t { kData, kAgain, kClosed };

  // What each open connection keeps between its requests.
  struct Conn {
    fastcgi::Decoder decoder;
    std::string management;  // content of the management record being received
    uint32_t requests = 0;
    bool awaited = false;  // its first request was awaited after a stop (await_first_request)
  };

  bool wait_for_input(bool& stop);
  bool await_first_request();
  bool accept_connection();
  bool peer_allowed(int fd) const;
  void announce(int32_t value);
  Io read_some(bool block);
  void decode(std::string_view bytes);
  void on_record(const fastcgi::Decoder::Step& s);
  void on_begin(const fastcgi::Decoder::Step& s);
  void on_params(std::string_view content);
  void on_management(const fastcgi::Decoder::Step& s);
  void start_request();
  void abandon_request();
  void append_stream(fastcgi::RecordType type, std::string_view data);
  void encode_pending();  // the gathered stream bytes into out_, as records
  void send_out();        // out_, with the gathered bytes, sent (unless broken) and forgotten
  bool send_all(std::string_view data);
  void close_connection();

  int listen_fd_;
  int wake_fd_;
  int ready_fd_;
  bool own_peers_only_;
  bool announced_ready_ = false;
  int epoll_fd_ = -1;
  int conn_fd_ = -1;  // the connection being read: the current request's, or the last one's
  Conn* conn_ = nullptr;
  std::unordered_map<int, Conn> conns_;  // by fd
  State state_ = State::kIdle;
  uint16_t id_ = 0;
  bool keep_conn_ = false;
  bool stdout_ends_response_ = false;  // the client sent fastcgi::kStdoutEndsResponse
  bool end_request_owed_ = false;      // end_output() ended STDOUT alone
  bool stdin_eof_ = false;
  bool aborted_ = false;
  bool broken_ = false;        // a read or write on the connection failed
  bool input_closed_ = false;  // the client shut down its side: nothing more to read
  bool refused_ = false;       // a BEGIN_REQUEST without FCGI_KEEP_CONN was refused: closing
  bool write_shut_ = false;    // finish() shut down our side of a connection that is not kept
  FcgiParams params_;
  fastcgi::ParamsParser params_parser_;
  std::string stdin_;  // body bytes received and not yet read; stdin_pos_ is the start
  size_t stdin_pos_ = 0;
  std::string out_;  // encoded records not yet sent
  // Stream bytes written after out_, not yet made into records: writes are gathered here.
  std::string pending_;
  fastcgi::RecordType pending_type_ = fastcgi::RecordType::kStdout;
  // Not zero-filled: a worker's memory holds only the pages its reads reached (a small request:
  // one), rather than all of them, in every worker of a pool. Reads start base::kRecvSkew bytes
  // into a page (shared/base/copy.h).
  std::unique_ptr<char[]> rbuf_mem_;
  char* rbuf_;
};

}  // namespace askr::worker
