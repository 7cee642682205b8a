// A client connection's transport: the one object that owns its socket. The protocol above it
// (HTTP/1.1 today, HTTP/2 next) sees bytes in, bytes out and what the transport can do without
// a copy; it never holds the raw descriptor. Plaintext is one transport; TLS slots in beside it
// without the protocol code changing.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace askr::net {

// What a transport tells the protocol above it. Every call comes from the loop thread, from
// the loop's poll, never from inside the Transport call that started the operation.
class TransportUser {
 public:
  virtual ~TransportUser() = default;
  // Bytes from the client (plaintext). The view is valid only during the call.
  virtual void on_data(std::string_view data) = 0;
  // The client finished sending (0) or receiving failed (-errno). No on_data follows.
  virtual void on_data_end(int error) = 0;
  // Everything given to send() is out (0), or sending failed (-errno).
  virtual void on_sent(int error) = 0;
  // After wait_writable(): the socket has room.
  virtual void on_writable() = 0;
  // After wait_readable(): the socket has bytes (while receiving is stopped).
  virtual void on_readable() = 0;
  // After stop_recv(): no on_data follows; unread bytes stay in the socket.
  virtual void on_recv_stopped() = 0;
  // After close(): nothing more will be called, and the transport may be freed.
  virtual void on_closed() = 0;
  // The transport became ready() (a TLS handshake finished); comes before the first on_data.
  virtual void on_ready() {}
  // A TLS transport's client spoke plain HTTP: returns the plaintext answer (an HTTP response)
  // that the transport sends before it ends the connection; no on_data comes. `head` is what
  // the client sent first (its request line, for the access log), valid only during the call.
  virtual std::string on_plain_http(std::string_view head) { return {}; }
};

// What a TLS transport knows of its session once ready: nginx's $ssl_protocol, $ssl_cipher,
// $ssl_server_name and $ssl_session_reused. The views live as long as the transport.
struct TlsSession {
  std::string_view protocol;     // "TLSv1.3"
  std::string_view cipher;       // OpenSSL's name: "TLS_AES_128_GCM_SHA256"
  std::string_view server_name;  // SNI as sent; "" when none
  bool reused = false;           // resumed from a session ticket
};

class Transport {
 public:
  // What the transport can do without copying through user space.
  struct ZeroCopy {
    bool sendfile = false;    // send_file() works
    bool splice_in = false;   // the rest of the client's stream can be spliced from splice_fd()
    bool splice_out = false;  // bytes spliced into splice_fd() reach the client as they are
  };

  virtual ~Transport() = default;

  // Begins delivering to `user`, which must outlive the transport's on_closed.
  virtual void start(TransportUser* user) = 0;
  virtual ZeroCopy zero_copy() const = 0;
  // True when the client is reached through TLS (the scheme is https).
  virtual bool secure() const = 0;
  // False while a handshake is in progress: the protocol's own timers wait for on_ready.
  virtual bool ready() const { return true; }
  // The TLS session once ready(); null for plaintext.
  virtual const TlsSession* tls() const { return nullptr; }
  // The protocol TLS's ALPN chose ("h2", "http/1.1"), empty without TLS or when the client
  // offered none. Known once the first bytes arrive (the handshake is done by then).
  virtual std::string_view alpn() const { return {}; }

  virtual void resume_recv() = 0;
  virtual void pause_recv() = 0;
  // Like pause_recv, then on_recv_stopped once no more data can be delivered.
  virtual void stop_recv() = 0;

  // Sends every byte of up to kMaxSendIovs iovecs, then on_sent. One send at a time; the bytes
  // must stay valid and unchanged until on_sent, and so must the array when it has more than
  // two entries (the transport may change those entries meanwhile: see loop::Backend::sendv).
  // `more`: more bytes follow at once (a file after its response head), so the transport may
  // hold a partial packet back for them.
  static constexpr size_t kMaxSendIovs = 1024;
  virtual void send(const iovec* iov, size_t count, bool more = false) = 0;
  // Where zero_copy().sendfile: a non-blocking sendfile(2). Returns the bytes sent or -errno
  // (-EAGAIN: call wait_writable()).
  virtual ssize_t send_file(int file_fd, off_t* offset, size_t count) = 0;
  // Where zero_copy().splice_in or splice_out: the descriptor to splice with.
  virtual int splice_fd() const = 0;
  virtual void wait_writable() = 0;
  virtual void wait_readable() = 0;
  // Holds partial packets back until uncorked (TCP_CORK), so a large file leaves in full
  // packets however many calls it takes; false sends what is held.
  virtual void set_corked(bool corked) = 0;
  // The next send() carries the connection's last bytes (a response after which it closes): a
  // TLS transport puts its close_notify into the same write, so the alert shares the
  // response's packet rather than following it in a send of its own.
  virtual void last_send() {}
  // The connection is to end without its proper end: a response was cut short (a backend that
  // failed mid-body, a timeout). Over TLS no close_notify follows then, so that a client can
  // tell the cut from the end of a body read until the close (nginx's quiet shutdown after an
  // error). Call before the shutdown_write() or close() that ends it.
  virtual void cut_short() {}
  // Ends the sending side (after the last response), keeping the receiving side open.
  virtual void shutdown_write() = 0;
  // True when the client closed its side (or reset the connection) and fewer than `bytes`
  // remain unread in the socket: what it was to send can never all arrive. Asked while
  // receiving is paused; false when the transport cannot tell.
  virtual bool peer_left_short_of(uint64_t bytes) { return false; }
  // Cancels what is in flight and closes; on_closed follows once nothing can complete.
  virtual void close() = 0;

  // The client's and our address (cached after the first call).
  virtual const sockaddr* peer() = 0;
  virtual const sockaddr* local() = 0;
};

}  // namespace askr::net
