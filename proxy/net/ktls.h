// Kernel TLS: hands an established TLS session's record layer to the kernel
// (setsockopt(SOL_TLS, TLS_TX / TLS_RX)), so that sends, sendfile and splice leave through the
// kernel's encryption and reads come back as plaintext, while the ring stays the only I/O path.
//
// OpenSSL 3.0 enables kTLS only on its own socket BIO, and never for TLS 1.3 receive; with
// memory BIOs on the loop we install the keys ourselves, as tarweb does with rustls. What this
// module needs from OpenSSL is the negotiated cipher, the application traffic keys and the
// record sequence numbers in each direction; a Tracker attached to the server SSL collects them.
//
// How a transport uses it (a few calls):
//   at start:       ktls::prepare_ctx(ctx) on each server SSL_CTX (installs the keylog callback);
//                   ktls::probe().summary() for the start-up log line.
//   per connection: ktls::Tracker::attach(ssl) right after SSL_new (before the first handshake
//                   byte); the SSL owns it and frees it.
//   handshake done: flush every ciphertext byte OpenSSL produced (session tickets included) and
//                   make sure no received ciphertext is left unread (see enable()), then
//                   auto keys = Tracker::get(ssl)->keys(ssl);  if (keys) ktls::enable(fd, *keys);
//   afterwards:     send plaintext with send/sendfile/splice (TX); read with recvmsg and a
//                   control buffer (RX), classify() each non-data record; close with
//                   send_close_notify() (never SSL_write/SSL_shutdown once TX is in the kernel).
#pragma once

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/base/result.h"

namespace askr::net::ktls {

enum class Cipher : uint8_t { kAes128Gcm, kAes256Gcm, kChacha20Poly1305 };
constexpr int kCiphers = 3;
const char* cipher_name(Cipher c);  // "AES-128-GCM", ...

// Directions as bits: what the kernel took (or offers).
enum Direction : uint8_t { kNone = 0, kTx = 1, kRx = 2, kBoth = 3 };
const char* direction_name(uint8_t dirs);  // "none", "tx", "rx", "tx+rx"

// ---- probe ----------------------------------------------------------------------------------

// What this kernel accepts, tried on connected loopback TCP pairs with dummy keys.
struct Probe {
  bool ulp = false;    // setsockopt(TCP_ULP, "tls") attached
  std::string reason;  // why not (empty when ulp)
  // offered[v][c]: directions accepted for TLS 1.2 (v = 0) / 1.3 (v = 1) and cipher c.
  uint8_t offered[2][kCiphers] = {};

  bool any() const;                               // at least one direction of one cipher
  uint8_t dirs(int tls_version, Cipher c) const;  // tls_version: TLS1_2_VERSION / TLS1_3_VERSION
  // One line: "TLS1.2 AES-128-GCM tx+rx, ..." or "unavailable: <reason>".
  std::string summary() const;
};

// Runs the probe once per process (thread-safe) and returns the cached result.
const Probe& probe();
// Runs it again, uncached (tests, doctor).
Probe probe_now();

// ---- keys -----------------------------------------------------------------------------------

// One direction's state at the switch, in the form the kernel wants.
struct DirectionKeys {
  std::array<uint8_t, 32> key{};
  uint8_t key_len = 0;
  // TLS 1.3 and ChaCha20-Poly1305: the 12-byte static IV (nonce = iv XOR seq).
  // TLS 1.2 AES-GCM: the 4-byte implicit salt in iv[0..4) (nonce = salt || explicit nonce).
  std::array<uint8_t, 12> iv{};
  uint64_t seq = 0;  // the sequence number of the next record in this direction
};

// The server's view: tx = what the server writes (server_write keys), rx = what it reads.
struct SessionKeys {
  int version = 0;  // TLS1_2_VERSION or TLS1_3_VERSION
  Cipher cipher = Cipher::kAes128Gcm;
  DirectionKeys tx, rx;
  // TLS 1.3: the server's application traffic secret and the cipher suite's hash, from which
  // a KeyUpdate derives the next keys (RFC 8446 §7.2).
  std::array<uint8_t, 64> tx_secret{};
  uint8_t tx_secret_len = 0;
  const EVP_MD* md = nullptr;
  ~SessionKeys();  // wipes the key material
};

// HKDF-Expand-Label(secret, label, "", len) of RFC 8446 §7.1.
bool hkdf_expand_label(const EVP_MD* md, const uint8_t* secret, size_t secret_len,
                       const char* label, uint8_t* out, size_t len);

// Installs the keylog callback that the Tracker needs for TLS 1.3 secrets. Replaces any
// keylog callback on `ctx`; one that the transport wants too can call on_keylog_line itself.
void prepare_ctx(SSL_CTX* ctx);
// The callback prepare_ctx installs; forwards a keylog line to the SSL's Tracker, if any.
void on_keylog_line(const SSL* ssl, const char* line);

// Follows one server SSL from its first handshake byte: the traffic secrets (TLS 1.3, from the
// keylog callback) and the records each direction carried since its last key change, counted
// from OpenSSL's message callback: SSL3_RT_HEADER fires once per record read or written, as
// OpenSSL parses or builds it, and a direction's counters restart after its ChangeCipherSpec
// record (TLS 1.2: the Finished that follows is record 0 under the new keys) and after its
// Finished message (TLS 1.3: what follows is under the application keys, such as the server's
// NewSessionTickets). The negotiated version picks which count applies. (Reading the sequence
// out of OpenSSL is not possible: 3.0 has no public API for it.) A KeyUpdate or renegotiation after
// the handshake makes keys() refuse: the counted keys would be stale.
class Tracker {
 public:
  // Creates one, owned by `ssl` (ex_data, freed with the SSL), and sets the SSL's message
  // callback (which replaces any other). Call before the handshake starts. Null on failure.
  static Tracker* attach(SSL* ssl);
  static Tracker* get(const SSL* ssl);

  // The keys and next sequence numbers, valid once the handshake is complete and every record
  // OpenSSL wrote has been counted (they are counted as OpenSSL builds them). An error says
  // why not: handshake not done, a cipher the kernel has no counterpart for, a key update.
  Result<SessionKeys> keys(SSL* ssl) const;

  // For tests and logs: records counted under the current keys.
  uint64_t records_written() const;
  uint64_t records_read() const;
  // KeyUpdates received that asked for ours (request_update = update_requested).
  uint64_t key_update_requests() const { return key_update_requests_; }

  ~Tracker();

 private:
  friend void on_keylog_line(const SSL*, const char*);
  friend struct TrackerCallbacks;
  struct Count {
    uint64_t since_ccs = 0, since_finished = 0;
    bool ccs = false, finished = false;  // seen in this direction
  };
  Count write_, read_;
  bool keys_changed_ = false;  // KeyUpdate or a handshake after the first one
  uint64_t key_update_requests_ = 0;
  std::array<uint8_t, 64> client_secret_{}, server_secret_{};
  uint8_t client_secret_len_ = 0, server_secret_len_ = 0;
};

// ---- switch ---------------------------------------------------------------------------------

struct EnableResult {
  uint8_t dirs = kNone;  // what the kernel now does for this socket
  // The first failure (errno and the step), empty when dirs == kBoth.
  Error error;
  // TCP_ULP "tls" is attached. With dirs == kNone it is inert: the socket still carries bytes
  // as plain TCP, so the transport goes on in user space exactly as before.
  bool ulp = false;
};

// Hands `keys` to the kernel for `fd`: TCP_ULP "tls", then TLS_TX, then TLS_RX (only when TX
// worked and `want` has kRx). Only what `want` names is tried. The directions may also go in
// two calls, TX at once and RX once receiving is quiescent (take keys() again then: it counts
// the records read in between); the second call finds the ULP attached and goes on. Each
// direction can be set once per socket.
//
// Preconditions the caller guarantees:
// - the handshake is complete (SSL_is_init_finished) and keys came from Tracker::keys after it;
// - TX: every ciphertext byte OpenSSL produced (Finished, session tickets, any application
//   data or alert written with SSL_write) has been handed to the socket, and OpenSSL will not
//   write again: from here on the kernel numbers the records;
// - RX: OpenSSL has consumed all ciphertext the transport received (the read BIO is empty and
//   SSL_has_pending() is 0, so no partial record is held), nothing else holds bytes taken
//   from the socket (io_uring: the multishot recv is stopped and its last completion seen),
//   and the transport will now read with recvmsg + a control buffer (see classify()).
//   Bytes still queued in the socket are fine: the kernel decrypts them.
//
// Outcomes: kBoth; kTx (RX refused: keep reading ciphertext through OpenSSL's SSL_read as
// before, write plaintext to the socket); kNone (user space as before; if `ulp` is set the
// socket behaves as plain TCP, since the kernel has no keys for either direction).
EnableResult enable(int fd, const SessionKeys& keys, uint8_t want = kBoth);

// True when the SSL holds no received ciphertext or plaintext that the switch to RX would lose
// (`rbio`: the SSL's read BIO, a memory BIO).
bool rx_quiescent(const SSL* ssl, BIO* rbio);

// ---- after the switch -----------------------------------------------------------------------

// TLS content types.
constexpr uint8_t kChangeCipherSpec = 20, kAlert = 21, kHandshake = 22, kApplicationData = 23;

// Control data for sendmsg that makes the kernel send one record of `type`
// (TLS_SET_RECORD_TYPE); `msg.msg_control` points into this object.
struct RecordTypeCmsg {
  alignas(cmsghdr) unsigned char buf[CMSG_SPACE(sizeof(uint8_t))];
  void attach(msghdr& msg, uint8_t type);
};

// Sends a warning-level close_notify alert through the kernel. Only once TX is in the kernel:
// a plain TCP socket ignores the control message and would send the two bytes as they are.
// Non-blocking; returns 0 or -errno (EAGAIN on a full socket: retry when writable).
int send_close_notify(int fd);

// The record type from recvmsg's control data (TLS_GET_RECORD_TYPE); nullopt when there is
// none, which a kTLS RX socket only omits for application data.
std::optional<uint8_t> record_type(const msghdr& msg);

// What a record that the kernel surfaced means for the connection.
enum class Verdict {
  kData,         // application data: give it to the protocol
  kEndOfStream,  // close_notify: the client finished sending (like a read of 0)
  kClose,        // close the connection (send our close_notify first if TX is in the kernel)
};
struct RecordVerdict {
  Verdict verdict = Verdict::kData;
  std::string reason;  // for the one log line, with kClose
};
// Policy: application data -> kData; close_notify -> kEndOfStream; any other alert -> kClose
// (the alert named); a TLS 1.3 KeyUpdate from the client -> kClose: the kernels Askr meets
// (6.1) cannot take new RX keys on a socket (TLS_RX is set once), so the next record would not
// decrypt, and a clean close beats a garbled stream; other handshake messages (a client has no
// tickets to send) and anything else -> kClose with the type in the reason.
RecordVerdict classify(uint8_t type, std::string_view payload);

}  // namespace askr::net::ktls
