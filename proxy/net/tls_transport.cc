#include "net/tls_transport.h"

#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "net/listener.h"
#include "net/plain_transport.h"
#include "shared/base/copy.h"
#include "shared/base/log.h"
#include "shared/base/spares.h"

namespace askr::net {
namespace {

constexpr uint8_t kHandshakeRecord = 0x16;   // TLS ContentType handshake: every ClientHello
constexpr size_t kKeepCapacity = 16 * 1024;  // a larger send buffer goes to the spares once out
constexpr size_t kRecordMax = 16384;         // plaintext of one TLS record
constexpr size_t kRecordOverhead = 64;       // a record's bytes beyond its plaintext, at most

// Send buffers that outgrew kKeepCapacity, kept for the loop's next busy connection instead of
// being freed. An HTTP/2 connection sends batch after batch (100 streams of 4 KiB: 400 KiB of
// ciphertext) and is idle in between; freed each time, such a buffer came back as page faults
// of zeroed pages: 5 % of a loop's time under h2load. An idle connection still holds no large
// buffer: at most 32 of 1 MiB each and 8 MiB in all per loop.
base::BufferSpares& send_spares() {
  thread_local base::BufferSpares s(32, 1 << 20, 8 << 20);
  return s;
}

}  // namespace

TlsTransport::TlsTransport(loop::Backend& io, int socket_fd,
                           std::shared_ptr<const TlsContexts> contexts, TlsCounters& counters,
                           bool http2)
    : io_(io), counters_(counters), contexts_(std::move(contexts)) {
  fd = socket_fd;
  ssl_ = contexts_->new_ssl(http2);
  if (!ssl_) return;  // on_recv refuses the connection
  BIO* bio = BIO_new(bio_method());
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl_);
  // kTLS: the tracker (keys, record counts) follows the session from its first handshake byte.
  // The probe ran at start (its result is cached); where it found no kernel TLS, or with
  // ktls = "off", connections never try.
  ktls_off_ = contexts_->ktls() == config::Ktls::kOff;
  ktls_required_ = contexts_->ktls() == config::Ktls::kOn;
  // Without the kernel, the tracker's keys let the transport seal its records itself
  // (RecordSealer).
  bool tracked = ktls::Tracker::attach(ssl_) != nullptr;
  ktls_wanted_ = !ktls_off_ && ktls::probe().any() && tracked;
}

size_t TlsTransport::spare_send_bytes() {
  return send_spares().kept_bytes();
}

TlsTransport::~TlsTransport() {
  if (ssl_) SSL_free(ssl_);
  if (!io_busy_) shrink_buffers();  // a send in flight still reads sending_: freed with it
}

// ---- Ciphertext in ------------------------------------------------------------------------------

void TlsTransport::on_recv(std::string_view data) {
  if (closed_ || ended_ || state_ == State::kRejected || data.empty()) return;
  if (ktls_dirs_ & ktls::kRx) return user_->on_data(data);  // the kernel decrypted it
  if (!seen_bytes_) {
    seen_bytes_ = true;
    if (!sniff(data)) return;
  }
  feed(data);
  if (!kernel_tried_) kernel_tls_point();
}

// Hands received ciphertext to OpenSSL: the handshake, then records whose plaintext goes up.
void TlsTransport::feed(std::string_view data) {
  track_records(data);
  in_ = data;
  if (state_ == State::kHandshake) handshake();
  if (state_ == State::kOpen) read_records();
  in_ = {};  // the loop's buffer is reused after this call: OpenSSL keeps what it needs
  flush();
}

// Follows the record headers of the received stream (type, version, 16-bit length).
void TlsTransport::track_records(std::string_view data) {
  while (!data.empty()) {
    if (rec_body_left_ > 0) {
      size_t n = std::min(rec_body_left_, data.size());
      rec_body_left_ -= n;
      data.remove_prefix(n);
      continue;
    }
    rec_header_[rec_header_have_++] = static_cast<uint8_t>(data[0]);
    data.remove_prefix(1);
    if (rec_header_have_ == sizeof rec_header_) {
      rec_header_have_ = 0;
      rec_body_left_ = size_t(rec_header_[3]) << 8 | rec_header_[4];
    }
  }
}

void TlsTransport::on_recv_record(uint8_t type, std::string_view data) {
  if (closed_ || ended_) return;
  ktls::RecordVerdict v = ktls::classify(type, data);
  if (v.verdict == ktls::Verdict::kData) return user_->on_data(data);
  if (v.verdict == ktls::Verdict::kEndOfStream) return end(0);
  // A KeyUpdate ends the stream cleanly: the response in progress still goes out under our
  // keys, which the client's update leaves valid. Anything else is an error.
  bool key_update = type == ktls::kHandshake && !data.empty() &&
                    static_cast<uint8_t>(data[0]) == SSL3_MT_KEY_UPDATE;
  if (!key_update) ++counters_.errors;
  LOG_LIMITED(kInfo, "client %s: %s", peer_text().c_str(), v.reason.c_str());
  end(key_update ? 0 : -EPROTO);
}

void TlsTransport::on_recv_end(int error) {
  if (closed_ || ended_) return;
  if (state_ == State::kHandshake && !counted_) {
    counted_ = true;
    ++counters_.handshake_failures;
    LOG_DEBUG("client %s: gone during the TLS handshake", peer_text().c_str());
  }
  end(error);
}

// The first bytes of a TLS connection are a handshake record. Anything else is refused here,
// before OpenSSL sees it.
bool TlsTransport::sniff(std::string_view data) {
  auto first = static_cast<uint8_t>(data[0]);
  if (ssl_ && first == kHandshakeRecord) return true;
  state_ = State::kRejected;
  counted_ = true;
  if (!ssl_) {
    LOG_LIMITED(kError, "TLS: cannot make a session: %s", openssl_errors().c_str());
    end(-ENOMEM);
  } else if (first >= 'A' && first <= 'Z') {  // a method: GET, POST, ...
    ++counters_.plain_http;
    LOG_LIMITED(kInfo, "client %s: plain HTTP request on a TLS port, answered 400",
                peer_text().c_str());
    out_ = user_->on_plain_http(data);
    if (out_.empty()) {
      end(-EPROTO);
      return false;
    }
    shut_after_ = true;  // then drop what the client sends until it closes
    flush();
  } else {
    ++counters_.not_tls;
    LOG_LIMITED(kInfo, "client %s: not a TLS handshake (first byte 0x%02x), closed",
                peer_text().c_str(), unsigned(first));
    end(-EPROTO);
  }
  return false;
}

void TlsTransport::handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return handshake_done();
  int e = SSL_get_error(ssl_, r);
  // More ciphertext needed; what OpenSSL wrote goes out in flush(). (The BIO never refuses a
  // write, so WANT_WRITE only means the same: flush and wait for the client.)
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
  counted_ = true;
  ++counters_.handshake_failures;
  LOG_LIMITED(kInfo, "client %s: TLS handshake failed: %s", peer_text().c_str(),
              openssl_errors().c_str());
  state_ = State::kRejected;
  // The alert OpenSSL wrote stays in out_: close() sends it if it can go at once.
  end(-EPROTO);
}

void TlsTransport::handshake_done() {
  state_ = State::kOpen;
  counted_ = true;
  ++counters_.handshakes;
  session_.reused = SSL_session_reused(ssl_) == 1;
  if (session_.reused) ++counters_.resumed;
  session_.protocol = SSL_get_version(ssl_);
  session_.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_));
  const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  session_.server_name = sni ? sni : "";
  user_->on_ready();
}

// Decrypts every whole record received and hands the plaintext up, even after pause_recv (see
// there), until OpenSSL needs more ciphertext or the connection ends.
void TlsTransport::read_records() {
  thread_local char plain[kRecordMax];
  while (!closed_ && !ended_) {
    size_t n = 0;
    ERR_clear_error();
    int r = SSL_read_ex(ssl_, plain, sizeof plain, &n);
    if (r == 1) {
      user_->on_data(std::string_view(plain, n));
      continue;
    }
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!sealer_ || !answer_key_updates()) return;
      if (broken_seal_) {
        seal_failed();
        return end(-EPROTO);
      }
      return flush();
    }
    if (e == SSL_ERROR_ZERO_RETURN) return end(0);  // close_notify: the client is done
    ++counters_.errors;
    LOG_LIMITED(kInfo, "client %s: TLS error: %s", peer_text().c_str(), openssl_errors().c_str());
    return end(-EPROTO);
  }
}

bool TlsTransport::peer_left_short_of(uint64_t bytes) {
  if (ktls_dirs_ & ktls::kRx || state_ != State::kOpen) return false;
  // Every whole record received has been read (read_records); a begun one is held in OpenSSL.
  size_t record = size_t(rec_header_[3]) << 8 | rec_header_[4];
  uint64_t held = rec_body_left_ ? sizeof rec_header_ + record - rec_body_left_ : rec_header_have_;
  return bytes > held && socket_peer_left_short_of(fd, bytes - held);
}

void TlsTransport::end(int error) {
  if (ended_ || closed_) return;
  ended_ = true;
  user_->on_data_end(error);
}

// ---- Plaintext out ------------------------------------------------------------------------------

void TlsTransport::send(const iovec* iov, size_t count, bool more) {
  if (closed_) return;
  user_send_ = true;
  bool last = std::exchange(last_send_, false);
  bool ok = true;
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += iov[i].iov_len;
  if (ktls_dirs_ & ktls::kTx) {
    if (total == 0) return defer_sent(0);
    // The kernel makes the records. MSG_MORE keeps the record open for what follows at once
    // (a file after its head); the next send without it closes the record.
    io_busy_ = true;
    return io_.sendv(this, iov, count, more);
  }
  // The ciphertext's room is made once, rather than the buffer growing (and copying) as
  // OpenSSL writes records into it.
  size_t room = out_.size() + total + (total / kRecordMax + count + 2) * kRecordOverhead;
  if (room > out_.capacity() && out_.empty()) send_spares().get(out_);
  out_.reserve(room);
  if (sealer_) {
    answer_key_updates();  // before the data, which goes under the new keys
    ok = !broken_seal_ && sealer_->seal(out_, iov, count);
    if (ok && last) ok = seal_close_notify();  // after the response's records, in the same write
    if (!ok) {
      seal_failed();
      ::shutdown(fd, SHUT_RDWR);
      return defer_sent(-EPROTO);
    }
    if (!io_busy_ && out_.empty()) return defer_sent(0);
    return flush();
  }
  // Records are filled: pieces shorter than a record (a response head, the HTTP/2 frame headers
  // between bodies) are gathered with what follows, rather than each being a record of its own
  // (an encryption and 22 bytes more each). Whole records of a large piece, and a last piece
  // with nothing gathered before it, are encrypted from where they lie.
  thread_local std::string joined;
  joined.clear();
  for (size_t i = 0; i < count && ok; ++i) {
    auto* p = static_cast<const char*>(iov[i].iov_base);
    size_t n = iov[i].iov_len;
    if (!joined.empty()) {
      size_t take = std::min(n, kRecordMax - joined.size());
      base::append_bytes(joined, p, take);
      p += take;
      n -= take;
      if (joined.size() < kRecordMax) continue;  // the piece is all in
      ok = encrypt(joined.data(), joined.size());
      joined.clear();
    }
    if (i + 1 == count) {
      ok = ok && encrypt(p, n);
      break;
    }
    size_t whole = n - n % kRecordMax;
    if (whole > 0) ok = ok && encrypt(p, whole);
    base::append_bytes(joined, p + whole, n - whole);
  }
  if (ok && !joined.empty()) ok = encrypt(joined.data(), joined.size());
  if (ok && last && !(SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify after the response's records, in the same write
    ERR_clear_error();
  }
  if (!ok) {
    // The session is broken: nothing more can go out. Shutting the socket down also makes it
    // report an event on both backends, which delivers the failure from the loop.
    ::shutdown(fd, SHUT_RDWR);
    return defer_sent(-EPROTO);
  }
  if (!io_busy_ && out_.empty()) return defer_sent(0);  // nothing to send (empty pieces)
  flush();
}

// The BIO never refuses a write, so SSL_write_ex takes everything or fails for good (a session
// that already failed).
bool TlsTransport::encrypt(const void* data, size_t len) {
  if (len == 0) return true;
  if (state_ != State::kOpen) return false;
  ERR_clear_error();
  size_t done = 0;
  if (SSL_write_ex(ssl_, data, len, &done) == 1 && done == len) return true;
  ++counters_.errors;
  LOG_LIMITED(kInfo, "client %s: TLS write failed: %s", peer_text().c_str(),
              openssl_errors().c_str());
  return false;
}

// The one place ciphertext leaves: what OpenSSL wrote goes to the backend, one send at a time.
void TlsTransport::flush() {
  if (ktls_dirs_ & ktls::kTx) {
    // The kernel numbers the records now: whatever OpenSSL still writes (a KeyUpdate answer
    // while it reads for a TX-only connection) must never reach the socket.
    out_.clear();
    return;
  }
  if (closed_ || io_busy_ || out_.empty()) return;
  sending_.swap(out_);
  out_.clear();
  io_busy_ = true;
  io_.send(this, sending_.data(), sending_.size());
}

void TlsTransport::on_sent(int error) {
  io_busy_ = false;
  sending_.clear();
  // The larger buffer takes the next records: a busy connection (HTTP/2 sends batch after
  // batch) encrypts into the same memory rather than growing a fresh one each time.
  if (out_.empty() && out_.capacity() < sending_.capacity()) out_.swap(sending_);
  if (closed_) return;
  if (error < 0) {
    shrink_buffers();
    if (user_send_) {
      user_send_ = false;
      user_->on_sent(error);
    }
    return;  // the receiving side learns of the broken socket too
  }
  if (!out_.empty()) return flush();
  if (shut_after_) {
    shut_after_ = false;
    shut_write();
  }
  if (!kernel_tried_) kernel_tls_point();
  if (closed_) return;
  if (user_send_) {
    user_send_ = false;
    user_->on_sent(0);
  }
  // Everything is out and the user sent nothing more: a keep-alive connection waits with small
  // buffers only.
  if (!closed_ && !io_busy_ && out_.empty()) shrink_buffers();
}

void TlsTransport::shrink_buffers() {
  if (sending_.capacity() > kKeepCapacity) send_spares().put(sending_);
  if (out_.capacity() > kKeepCapacity) send_spares().put(out_);
}

// on_sent must come from the loop, never from inside send(): a send that produced nothing to
// wait for is reported through the next writable event (at once on io_uring, whose poll is
// level-triggered; on epoll with the next edge, which a failed send makes itself by shutting
// the socket down).
void TlsTransport::defer_sent(int error) {
  sent_deferred_ = true;
  sent_error_ = error;
  io_.wait_writable(this);
}

void TlsTransport::on_writable() {
  if (close_notify_owed_) {
    close_notify_owed_ = false;
    return shut_write();
  }
  if (!sent_deferred_) return user_->on_writable();
  sent_deferred_ = false;
  user_send_ = false;
  user_->on_sent(sent_error_);
}

void TlsTransport::shutdown_write() {
  if (closed_) return;
  if (ktls_dirs_ & ktls::kTx) {
    if (io_busy_) {
      shut_after_ = true;  // on_sent finishes it
      return;
    }
    return shut_write();
  }
  if (sealer_) {
    if (!seal_close_notify()) out_.clear();
  } else if (state_ == State::kOpen && !(SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // writes close_notify into out_; the reply is not waited for
  }
  shut_after_ = true;
  if (!io_busy_ && out_.empty()) {
    shut_after_ = false;
    ::shutdown(fd, SHUT_WR);
    return;
  }
  flush();
}

// OpenSSL's quiet shutdown sends no alert where close_notify would go (with the response's last
// records, at shutdown_write, at close); through the kernel none is owed any more either.
void TlsTransport::cut_short() {
  if (ssl_) SSL_set_quiet_shutdown(ssl_, 1);
  close_notify_sent_ = true;
}

void TlsTransport::close() {
  if (closed_) return;
  if (state_ == State::kHandshake && !counted_) {
    counted_ = true;
    ++counters_.handshake_failures;  // timed out, or closed while draining
  }
  // Best effort, without waiting: close_notify after a session, or the alert of a refused
  // handshake. Not while the backend is sending, whose bytes must not be interleaved.
  if (!io_busy_ && ssl_ && (ktls_dirs_ & ktls::kTx)) {
    if (!close_notify_sent_) ktls::send_close_notify(fd);
  } else if (!io_busy_ && ssl_) {
    if (sealer_) {
      if (!seal_close_notify()) out_.clear();
    } else if (state_ == State::kOpen && !(SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) {
      ERR_clear_error();
      SSL_shutdown(ssl_);
      ERR_clear_error();
    }
    if (!out_.empty()) {
      [[maybe_unused]] ssize_t n =
          ::send(fd, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
  }
  closed_ = true;
  io_.close(this);
}

// ---- Kernel TLS -------------------------------------------------------------------------------

// Reached once per connection (tried again after each send and receive until the state below
// holds): the handshake is done and every byte of ciphertext OpenSSL produced (Finished, TLS 1.3
// session tickets) has been written to the socket by the backend (out_ and sending_ empty, no
// send in flight). The write sequence number the tracker counted is then exactly that of the
// socket's stream, and TX goes to the kernel. RX follows in rx_switch(), once receiving is
// stopped and no received ciphertext is left in user space.
void TlsTransport::kernel_tls_point() {
  if (state_ != State::kOpen || closed_ || ended_ || io_busy_ || !out_.empty() || !in_.empty())
    return;
  kernel_tried_ = true;
  // The keys, for the kernel or for the sealer (TLS 1.3 only: a TLS 1.2 session's key block
  // is derived only for the kernel).
  ktls::Tracker* tracker = ktls::Tracker::get(ssl_);
  bool want_keys = ktls_wanted_ || SSL_version(ssl_) == TLS1_3_VERSION;
  Result<ktls::SessionKeys> keys =
      tracker && want_keys ? tracker->keys(ssl_) : Error{EINVAL, "no key tracker on the session"};
  if (!ktls_off_) {
    if (!ktls_wanted_) {
      kernel_user_space(nullptr, {});  // said once at start
    } else if (!keys) {
      kernel_user_space("keys", keys.error().message);
    } else {
      ktls::EnableResult r = ktls::enable(fd, *keys, ktls::kTx);
      // Without TX the ULP, if attached, is inert: the socket carries bytes as plain TCP.
      if (r.dirs & ktls::kTx) return kernel_tx();
      kernel_user_space("TX", r.error.message);
    }
  }
  if (closed_ || ended_ || !keys) return;
  // User space: the records are sealed here rather than through SSL_write, from now on.
  sealer_ = RecordSealer::create(*keys);
  if (sealer_) ++counters_.sealed;
}

// The client's KeyUpdates that asked for ours, which OpenSSL would answer with its stale
// numbers: each is answered here, in order with the records sealed before and after it. True
// when one was.
bool TlsTransport::answer_key_updates() {
  const ktls::Tracker* t = ktls::Tracker::get(ssl_);
  if (!t || t->key_update_requests() == key_updates_answered_) return false;
  for (; key_updates_answered_ < t->key_update_requests(); ++key_updates_answered_) {
    if (!broken_seal_ && !sealer_->seal_key_update(out_)) broken_seal_ = true;
  }
  return true;
}

// close_notify sealed into out_, once; false if the encryption failed.
bool TlsTransport::seal_close_notify() {
  if (close_notify_sent_) return true;
  close_notify_sent_ = true;
  return sealer_->seal_close_notify(out_);
}

// A record could not be sealed: the session can send nothing more, not even what out_ holds.
void TlsTransport::seal_failed() {
  ++counters_.errors;
  LOG_LIMITED(kInfo, "client %s: TLS record encryption failed", peer_text().c_str());
  out_.clear();
}

void TlsTransport::kernel_tx() {
  ktls_dirs_ = ktls::kTx;
  ++counters_.ktls_tx;
  rx_switching_ = true;
  rx_stopped_ = false;
  io_.stop_recv(this);  // io_uring may hold ciphertext already: on_recv_stopped says when not
}

// The connection goes on in user space. With ktls = "on" the operator asked for the kernel:
// the connection is closed instead.
void TlsTransport::kernel_user_space(const char* what, const std::string& detail) {
  ++counters_.ktls_user;
  if (what) {
    LOG_LIMITED(kInfo, "client %s: kernel TLS refused %s (%s): %s", peer_text().c_str(), what,
                session_.cipher.data(), detail.c_str());
  }
  if (ktls_required_) {
    LOG_LIMITED(kWarn, "client %s: ktls = \"on\" and the kernel refused the session, closing",
                peer_text().c_str());
    end(-EPROTO);
  }
}

void TlsTransport::on_recv_stopped() {
  if (!rx_switching_) return user_->on_recv_stopped();
  rx_stopped_ = true;
  rx_switch();
}

void TlsTransport::on_readable() {
  if (rx_switching_ && rx_stopped_) return rx_switch();
  user_->on_readable();
}

// Receiving is stopped. The stream may end inside a record (its start went to OpenSSL): read
// exactly the rest of it from the socket, so that what the kernel decrypts begins on a record
// boundary, then hand RX over with the sequence number OpenSSL reached.
void TlsTransport::rx_switch() {
  thread_local char buf[kRecordMax + 256];
  while (!closed_ && !ended_ && (rec_header_have_ > 0 || rec_body_left_ > 0)) {
    size_t want = rec_header_have_ > 0 ? sizeof rec_header_ - rec_header_have_
                                       : std::min(rec_body_left_, sizeof buf);
    ssize_t n = ::recv(fd, buf, want, MSG_DONTWAIT);
    if (n > 0) {
      feed(std::string_view(buf, size_t(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return io_.wait_readable(this);
    rx_switching_ = false;
    return end(n == 0 ? -EPROTO : -errno);  // the client left inside a record
  }
  rx_switching_ = false;
  if (closed_ || ended_) return;
  if (SSL_has_pending(ssl_)) {
    LOG_LIMITED(kInfo, "client %s: kernel TLS receive not taken: OpenSSL holds a record",
                peer_text().c_str());
  } else if (Result<ktls::SessionKeys> keys = ktls::Tracker::get(ssl_)->keys(ssl_); !keys) {
    LOG_LIMITED(kInfo, "client %s: kernel TLS receive not taken: %s", peer_text().c_str(),
                keys.error().message.c_str());
  } else if (ktls::EnableResult r = ktls::enable(fd, *keys, ktls::kRx); !(r.dirs & ktls::kRx)) {
    // TX only: reading goes on through OpenSSL, whose writes are dropped (flush).
    LOG_LIMITED(kInfo, "client %s: kernel TLS receive refused: %s", peer_text().c_str(),
                r.error.message.c_str());
  } else {
    ktls_dirs_ |= ktls::kRx;
    ++counters_.ktls_rx;
    io_.recv_tls_records(this);
  }
  // What the user asked for meanwhile takes effect now.
  if (user_recv_ == Recv::kOn) io_.resume_recv(this);
  if (user_recv_ == Recv::kStopped) user_->on_recv_stopped();
}

void TlsTransport::resume_recv() {
  user_recv_ = Recv::kOn;
  if (!rx_switching_) io_.resume_recv(this);
}

void TlsTransport::pause_recv() {
  user_recv_ = Recv::kPaused;
  if (!rx_switching_) io_.pause_recv(this);
}

void TlsTransport::stop_recv() {
  user_recv_ = Recv::kStopped;
  if (!rx_switching_) io_.stop_recv(this);
}

Transport::ZeroCopy TlsTransport::zero_copy() const {
  bool tx = ktls_dirs_ & ktls::kTx;
  return {tx, bool(ktls_dirs_ & ktls::kRx), tx};
}

ssize_t TlsTransport::send_file(int file_fd, off_t* offset, size_t count) {
  if (!(ktls_dirs_ & ktls::kTx)) return -EOPNOTSUPP;
  ssize_t n = ::sendfile(fd, file_fd, offset, count);
  return n < 0 ? -errno : n;
}

void TlsTransport::set_corked(bool corked) {
  if (!(ktls_dirs_ & ktls::kTx)) return;  // user space: each send is whole records already
  int on = corked;
  setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

// Kernel TX: close_notify through the kernel (once the socket has room for it), then the
// socket's write side. User space: the write side only (close_notify went out with out_).
void TlsTransport::shut_write() {
  if ((ktls_dirs_ & ktls::kTx) && !close_notify_sent_) {
    int e = ktls::send_close_notify(fd);
    if (e == -EAGAIN) {
      close_notify_owed_ = true;
      return io_.wait_writable(this);
    }
    close_notify_sent_ = true;
  }
  ::shutdown(fd, SHUT_WR);
}

// ---- The BIO ------------------------------------------------------------------------------------

BIO_METHOD* TlsTransport::bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "askr transport");
    BIO_meth_set_read_ex(m, bio_read);
    BIO_meth_set_write_ex(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  return method;
}

// Reads the ciphertext the loop received, in place; "retry" once it is used up.
int TlsTransport::bio_read(BIO* b, char* out, size_t len, size_t* done) {
  auto* t = static_cast<TlsTransport*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (t->in_.empty()) {
    BIO_set_retry_read(b);
    *done = 0;
    return 0;
  }
  size_t n = std::min(len, t->in_.size());
  base::copy_bytes(out, t->in_.data(), n);
  t->in_.remove_prefix(n);
  *done = n;
  return 1;
}

// Appends to out_; flush() sends it.
int TlsTransport::bio_write(BIO* b, const char* in, size_t len, size_t* done) {
  auto* t = static_cast<TlsTransport*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  // Once the transport seals its records, OpenSSL's write sequence is stale: what it still
  // writes (an alert as a read fails) never reaches the socket, as with kernel TX.
  if (!t->sealer_) base::append_bytes(t->out_, in, len);
  *done = len;
  return 1;
}

long TlsTransport::bio_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// ---- Addresses ----------------------------------------------------------------------------------

std::string TlsTransport::peer_text() {
  return format_address(peer());
}

std::string_view TlsTransport::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return {reinterpret_cast<const char*>(p), len};
}

}  // namespace askr::net
