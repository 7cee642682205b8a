// The TLS transport: TLS terminated in user space with OpenSSL, on the loop thread, never
// blocking. It owns the socket through the loop's backend exactly as PlainTransport does; OpenSSL
// never sees the descriptor. Ciphertext comes in through one place (on_recv: the loop's receive
// buffer is handed to OpenSSL through a BIO that reads it in place) and goes out through one
// place (flush: what OpenSSL wrote, through a BIO that appends to this transport's buffer, is
// sent by the backend). The handshake is driven by ciphertext arriving; the protocol above sees
// plaintext only, and only once the handshake is done (on_ready, then on_data).
//
// Kernel TLS ([tls] ktls, the ktls module): once the handshake is done and every byte of
// ciphertext is out, the session's keys go to the kernel, TX first (from then on plaintext goes
// to the socket as it is, and zero_copy() offers sendfile and splice out), then RX once no
// received ciphertext is left in user space (records then arrive as plaintext, the others
// through on_recv_record; zero_copy() adds splice in). Where the kernel refuses, the
// connection stays in user space: zero_copy() is all false there, so static files go through
// read + send and request bodies are not spliced. See kernel_tls_point().
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
#include "net/ktls.h"
#include "net/record_sealer.h"
#include "net/socket_addresses.h"
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
  uint64_t ktls_tx = 0;             // connections whose sending went to kernel TLS
  uint64_t ktls_rx = 0;             // ... and whose receiving did too
  uint64_t ktls_user = 0;           // ktls auto/on: stayed in user space (kernel or cipher refused)
  uint64_t sealed = 0;              // user space: connections whose records the transport sealed
};

class TlsTransport final : public Transport, private loop::IoObject {
 public:
  // Takes ownership of the connected, non-blocking socket `fd`. The transport keeps `contexts`
  // (the set its SSL comes from) alive while it lives; `counters` must outlive it.
  // `http2`: the listener's setting, whether ALPN may choose h2.
  TlsTransport(loop::Backend& io, int fd, std::shared_ptr<const TlsContexts> contexts,
               TlsCounters& counters, bool http2 = true);
  ~TlsTransport() override;

  void start(TransportUser* user) override { user_ = user; }
  // Sendfile and splice out once TX is in the kernel, splice in once RX is too.
  ZeroCopy zero_copy() const override;
  bool secure() const override { return true; }
  bool ready() const override { return state_ == State::kOpen; }
  const TlsSession* tls() const override { return state_ == State::kOpen ? &session_ : nullptr; }
  std::string_view alpn() const override;
  // While the transport itself has receiving stopped (the switch of RX to the kernel), these
  // only record what the user wants; it takes effect when the switch is over.
  void resume_recv() override;
  // Receiving stops after the ciphertext already received: its plaintext is still delivered,
  // as the Transport contract allows, so that nothing decrypted waits in here.
  void pause_recv() override;
  void stop_recv() override;
  // User space: encrypts straight from `iov` into the transport's buffer (small pieces
  // coalesced into one record), sends it, and reports on_sent once every byte of ciphertext is
  // out. Kernel TX: sends the plaintext as it is (MSG_MORE with `more`).
  void send(const iovec* iov, size_t count, bool more) override;
  ssize_t send_file(int file_fd, off_t* offset, size_t count) override;
  int splice_fd() const override { return (ktls_dirs_ & ktls::kTx) ? fd : -1; }
  void wait_writable() override { io_.wait_writable(this); }
  void wait_readable() override { io_.wait_readable(this); }
  void set_corked(bool corked) override;
  // Sends close_notify, then shuts the socket's write side once it is out.
  void last_send() override { last_send_ = true; }
  void cut_short() override;
  void shutdown_write() override;
  // In user space: ciphertext carries no less than the plaintext in it, so the bytes unread in
  // the socket, with what OpenSSL holds of a record begun, bound what can still come. With RX
  // in the kernel, it cannot tell.
  bool peer_left_short_of(uint64_t bytes) override;
  // Sends close_notify (or a failed handshake's alert) if it can go at once without waiting,
  // then closes.
  void close() override;
  const sockaddr* peer() override { return addresses_.peer(fd); }
  // The capacity of the send buffers (tests: a connection that waits keeps small ones).
  size_t send_buffer_capacity() const { return out_.capacity() + sending_.capacity(); }
  // Bytes of send buffers this loop keeps for its next busy connection (tests).
  static size_t spare_send_bytes();
  const sockaddr* local() override { return addresses_.local(fd); }

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
  void on_readable() override;
  void on_recv_record(uint8_t type, std::string_view data) override;
  void on_recv_stopped() override;
  void on_closed() override { user_->on_closed(); }

  bool sniff(std::string_view data);
  void handshake();
  void handshake_done();
  void read_records();
  bool encrypt(const void* data, size_t len);
  void flush();
  // Gives up the send buffers that grew past kKeepCapacity, to the loop's spares (an idle
  // connection keeps small ones only).
  void shrink_buffers();
  void end(int error);
  void defer_sent(int error);
  void kernel_tls_point();
  void kernel_tx();
  bool answer_key_updates();
  bool seal_close_notify();
  void seal_failed();
  void track_records(std::string_view data);
  void feed(std::string_view data);
  void kernel_user_space(const char* what, const std::string& detail);
  void rx_switch();
  void shut_write();
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
  bool last_send_ = false;     // the next send ends with close_notify
  bool kernel_tried_ = false;  // kernel_tls_point() reached once
  // Kernel TLS.
  enum class Recv : uint8_t { kOn, kPaused, kStopped };
  uint8_t ktls_dirs_ = ktls::kNone;  // directions the kernel does
  bool ktls_off_ = false;            // [tls] ktls = "off"
  bool ktls_wanted_ = false;         // not off, the kernel has it, the tracker is attached
  bool ktls_required_ = false;       // [tls] ktls = "on"
  bool rx_switching_ = false;        // receiving stopped by the transport to hand RX over
  bool rx_stopped_ = false;          // ... and the backend confirmed (on_recv_stopped)
  bool close_notify_owed_ = false;   // kernel TX: close_notify waits for room, then SHUT_WR
  bool close_notify_sent_ = false;   // through the kernel or sealed, or none owed (cut_short)
  // User space after the handshake: records sealed without OpenSSL (null: through SSL_write).
  std::unique_ptr<RecordSealer> sealer_;
  uint64_t key_updates_answered_ = 0;
  bool broken_seal_ = false;        // an encryption failed: nothing more may be sealed
  Recv user_recv_ = Recv::kPaused;  // what the user last asked for (resume/pause/stop)
  // Where the received ciphertext stream stands in its records: bytes of the next header seen
  // and bytes of the current record's body still to come. The RX switch reads up to the end of
  // a record first, so that the kernel starts on a record boundary.
  uint8_t rec_header_[5] = {};
  uint8_t rec_header_have_ = 0;
  size_t rec_body_left_ = 0;
  TlsSession session_;
  SocketAddresses addresses_;
};

}  // namespace askr::net
