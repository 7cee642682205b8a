// A handler that answers over time (PHP today): the request core starts it, the protocol feeds
// it the request body, and it writes the response into the request's http::ResponseSink. It
// never learns which protocol or transport carries the request.
#pragma once

#include <cstdint>
#include <string_view>

namespace askr::handlers {

// The protocol's side of a request body moved to the backend with splice(2), for transports
// that can give up the rest of the stream to the kernel (plaintext; kTLS later).
class SpliceSource {
 public:
  virtual ~SpliceSource() = default;
  // The descriptor the body is spliced from.
  virtual int splice_fd() const = 0;
  // Call Stream::on_client_readable when the client socket has bytes.
  virtual void wait_client_readable() = 0;
  // Some of the body moved: the client is being read (for its timer).
  virtual void on_splice_progress() = 0;
  // The spliced part of the body is on the backend socket; the client may be read again.
  virtual void on_splice_done() = 0;
};

// Where one backend request's time went, in microseconds. total_us is the request's life in
// the handler, from start() to the backend's END_REQUEST (or the failure or abandon that ended
// it); queued_us + php_us + io_us == total_us. The handler defines the stages (PhpRequest).
struct BackendTiming {
  uint64_t total_us = 0;
  uint64_t queued_us = 0;
  uint64_t php_us = 0;
  uint64_t io_us = 0;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Begins the exchange. Called once, after the protocol has set up reading the body.
  virtual void start() = 0;
  // Request body bytes, de-framed, in order. Returns false when the protocol should stop
  // reading until the body source's on_sink_drained(). Then end_body().
  virtual bool body(std::string_view data) = 0;
  virtual void end_body() = 0;
  // The client is gone or the request is refused: drop what is held for it. No callback into
  // the sink follows.
  virtual void abandon() = 0;
  // A known-length body with at least this many bytes left may be spliced (0: never).
  virtual uint64_t splice_threshold() const { return 0; }
  // The rest of a known-length body, `length` bytes, is in the client socket: move it to the
  // backend with splice(2). The protocol has stopped receiving before it calls this.
  virtual void splice_rest(SpliceSource& source, uint64_t length) {}
  virtual void on_client_readable() {}
  // Where the request's time went, once the handler has ended it (before it calls the sink's
  // end_response or fail_response); nullptr from handlers that do not time their requests.
  virtual const BackendTiming* timing() const { return nullptr; }
};

}  // namespace askr::handlers
