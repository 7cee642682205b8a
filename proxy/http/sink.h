// The client side of a response that is produced over time (a PHP response streamed from a
// backend). An HTTP/1.1 connection implements it today, an HTTP/2 stream later; the producer
// never knows which.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "http/response.h"

namespace askr::http {

// Notified when a sink that asked the producer to wait has room again.
class BodyProducer {
 public:
  virtual ~BodyProducer() = default;
  virtual void on_sink_drained() = 0;
  // A request body's producer (the client's connection): true when the client has closed its
  // side with less of the body sent than the request declared, so that the body can never be
  // whole. Best effort: false when it cannot tell.
  virtual bool body_cut_short() { return false; }
};

// A sink that can take the body spliced straight into the client's socket: plaintext
// HTTP/1.x with a known Content-Length (the bytes go out as they are, with no framing). The
// producer moves the bytes itself (splice(2) from a pipe into splice_out_fd()) and tells the
// sink what it did; the sink keeps the client's send timer and the response's byte count.
class SpliceTarget {
 public:
  virtual ~SpliceTarget() = default;
  virtual int splice_out_fd() const = 0;
  // True when every byte given to write_body is out, so spliced bytes may follow. Else false,
  // and the producer's on_sink_drained follows once they are.
  virtual bool splice_ready() = 0;
  // The socket is full: the producer's on_sink_drained follows once it has room. The client's
  // send timeout runs meanwhile; when it fires, the sink closes and abandons the handler.
  virtual void wait_splice_writable() = 0;
  // `n` body bytes went into the socket by splice.
  virtual void on_body_spliced(uint64_t n) = 0;
  // Splicing into the socket failed with `error` (errno): the client is gone. The sink closes
  // and abandons the handler before this returns.
  virtual void on_splice_error(int error) = 0;
};

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;

  // Starts the response. `length`: the body size when known (Content-Length), else the sink
  // frames the body itself (chunked, or close-delimited for HTTP/1.0). The sink may hold the
  // head and the body (up to the point where write_body() asks the producer to wait) until
  // end_response() or push(), so that a small response leaves in one send. `reason`: the
  // backend's reason phrase for an HTTP/1.1 status line (only until this returns); empty: the
  // registered one. HTTP/2 has none.
  virtual void start_response(int status, std::string_view reason,
                              std::span<const Response::Field> fields,
                              std::optional<uint64_t> length) = 0;
  // Sends what the sink holds: the producer has passed on all it has for the moment. A
  // producer that writes without ending calls it before it waits for more.
  virtual void push() {}
  // An interim (1xx) response before the final one: 103 Early Hints. Hints only, so a sink that
  // cannot send one (an HTTP/1.0 client) drops it; so does this default.
  virtual void interim_response(int status, std::span<const Response::Field> fields) {
    (void)status;
    (void)fields;
  }
  // Appends body bytes (copied). Returns false when the producer should stop until
  // on_sink_drained().
  virtual bool write_body(std::string_view data) = 0;
  // The body is complete.
  virtual void end_response() = 0;
  // The response cannot be completed: before start_response, answer `status` (502, 503,
  // 504...); after it, cut the connection so the client sees a truncated response.
  virtual void fail_response(int status) = 0;
  // Who to tell when the sink drains after write_body returned false.
  virtual void set_producer(BodyProducer* p) = 0;
  // After start_response: where the body may be spliced instead of written, or nullptr.
  virtual SpliceTarget* splice_target() { return nullptr; }
};

}  // namespace askr::http
