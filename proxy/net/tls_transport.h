// The TLS transport: TLS terminated in user space with OpenSSL, on the loop thread, never
// blocking. It owns the socket through the loop's backend exactly as PlainTransport does; OpenSSL
// never sees the descriptor. Ciphertext comes in through one place (on_recv: the loop's receive
// buffer is handed to OpenSSL through a BIO that reads it in place) and goes out through one
// place (flush: what OpenSSL wrote, through a BIO that appends to this transport's buffer, is
// sent by the backend). The handshake is driven by ciphertext arriving; the protocol above sees
// plaintext only, and only once the handshake is done (on_ready, then on_data).
//
// Nothing goes without a copy in user space: zero_copy() is all false, so static files go
// through read + send and request bodies are not spliced. Kernel TLS (the ktls module) is where
// that changes; see kernel_tls_point() for the one place it plugs in.
//
// What the client can get besides a session: a plain HTTP request (the first byte is an ASCII
// capital, no TLS record) is answered "400 The plain HTTP request was sent to HTTPS port" in
// plaintext and the connection closed as nginx does; other bytes that are no TLS handshake
// close the connection. Both are counted and logged (rate-limited).
#pragma once

#include <netinet/in.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

#include "loop/backend.h"
#include "net/tls_context.h"
#include "net/transport.h"

namespace askr::net {

// Per loop, plain integers: only the loop's thread touches them.
struct TlsCounters {
  uint64_t handshakes = 0;          // completed
  uint64_t resumed = 0;             // of which resumed from a session ticket
  uint64_t handshake_failures = 0;  // refused by OpenSSL, timed out, or the client went away
  uint64_t plain_http = 0;          // an HTTP request on a TLS port, answered 400
  uint64_t not_tls = 0;             // other bytes that are no TLS handshake, closed
  uint64_t errors = 0;              // bad records or alerts after the handshake
};

class TlsTransport final : public Transport, private loop::IoObject {
 public:
  // Takes ownership of the connected, non-blocking socket `fd`. The transport keeps `contexts`
  // (the set its SSL comes from) alive while it lives; `counters` must outlive it.
  TlsTransport(loop::Backend& io, int fd, std::shared_ptr<const TlsContexts> contexts,
               TlsCounters& counters);
  ~TlsTransport() override;

  void start(TransportUser* user) override { user_ = user; }
  ZeroCopy zero_copy() const override { return {}; }
  bool secure() const override { return true; }
  bool ready() const override { return state_ == State::kOpen; }
  const TlsSession* tls() const override { return state_ == State::kOpen ? &session_ : nullptr; }
  std::string_view alpn() const override;
  void resume_recv() override { io_.resume_recv(this); }
  // Receiving stops after the ciphertext already received: its plaintext is still delivered,
  // as the Transport contract allows, so that nothing decrypted waits in here.
  void pause_recv() override { io_.pause_recv(this); }
  void stop_recv() override { io_.stop_recv(this); }
  // Encrypts straight from `iov` into the transport's buffer (small pieces coalesced into one
  // record), sends it, and reports on_sent once every byte of ciphertext is out.
  void send(const iovec* iov, size_t count, bool more) override;
  ssize_t send_file(int, off_t*, size_t) override { return -EOPNOTSUPP; }
  int splice_fd() const override { return -1; }
  void wait_writable() override { io_.wait_writable(this); }
  void wait_readable() override { io_.wait_readable(this); }
  void set_corked(bool) override {}
  // Sends close_notify, then shuts the socket's write side once it is out.
  void shutdown_write() override;
  // Sends close_notify (or a failed handshake's alert) if it can go at once without waiting,
  // then closes.
  void close() override;
  const sockaddr* peer() override;
  const sockaddr* local() override;

 private:
  enum class State : uint8_t {
    kHandshake,  // waiting for or in the handshake
    kOpen,       // handshake done: application data both ways
    kRejected,   // not TLS: answered or being closed; what arrives is dropped
  };

  // loop::IoObject
  void on_recv(std::string_view data) override;
  void on_recv_end(int error) override;
  void on_sent(int error) override;
  void on_writable() override;
  void on_readable() override { user_->on_readable(); }
  void on_recv_stopped() override { user_->on_recv_stopped(); }
  void on_closed() override { user_->on_closed(); }

  bool sniff(std::string_view data);
  void handshake();
  void handshake_done();
  void read_records();
  bool encrypt(const void* data, size_t len);
  void flush();
  void end(int error);
  void defer_sent(int error);
  void kernel_tls_point();
  std::string peer_text();

  // The BIO both directions go through.
  static BIO_METHOD* bio_method();
  static int bio_read(BIO* b, char* out, size_t len, size_t* done);
  static int bio_write(BIO* b, const char* in, size_t len, size_t* done);
  static long bio_ctrl(BIO* b, int cmd, long num, void* ptr);

  loop::Backend& io_;
  TlsCounters& counters_;
  std::shared_ptr<const TlsContexts> contexts_;  // outlives ssl_, which the destructor frees
  TransportUser* user_ = nullptr;
  SSL* ssl_ = nullptr;
  State state_ = State::kHandshake;
  std::string_view in_;         // ciphertext OpenSSL has not read yet: during on_recv only
  std::string out_;             // ciphertext OpenSSL wrote, not yet given to the backend
  std::string sending_;         // ciphertext the backend is sending
  bool io_busy_ = false;        // a backend send is in flight (from sending_)
  bool user_send_ = false;      // a send() waits for its on_sent
  bool sent_deferred_ = false;  // on_sent(sent_error_) is owed through on_writable
  int sent_error_ = 0;
  bool seen_bytes_ = false;
  bool counted_ = false;  // this connection's fate is in the counters already
  bool ended_ = false;    // on_data_end delivered
  bool closed_ = false;
  bool shut_after_ = false;    // shutdown(SHUT_WR) once the ciphertext is out
  bool kernel_tried_ = false;  // kernel_tls_point() reached once
  TlsSession session_;
  sockaddr_in6 peer_{};
  sockaddr_in6 local_{};
  bool have_peer_ = false;
  bool have_local_ = false;
};

}  // namespace askr::net
