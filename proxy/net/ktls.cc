#include "net/ktls.h"

#include <arpa/inet.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "shared/base/hex.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace askr::net::ktls {
namespace {

constexpr Cipher kAllCiphers[kCiphers] = {Cipher::kAes128Gcm, Cipher::kAes256Gcm,
                                          Cipher::kChacha20Poly1305};

uint8_t key_len(Cipher c) {
  return c == Cipher::kAes128Gcm ? 16 : 32;
}

// TLS 1.2 AES-GCM has a 4-byte implicit salt and an 8-byte explicit nonce per record;
// ChaCha20-Poly1305 (both versions) and TLS 1.3 use a 12-byte IV XORed with the sequence.
uint8_t iv_len(int version, Cipher c) {
  return version == TLS1_2_VERSION && c != Cipher::kChacha20Poly1305 ? 4 : 12;
}

void put_be64(unsigned char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<unsigned char>(v);
}

// The kernel's crypto_info for one direction; the union is as large as the largest member.
union CryptoInfo {
  tls_crypto_info base;
  tls12_crypto_info_aes_gcm_128 gcm128;
  tls12_crypto_info_aes_gcm_256 gcm256;
  tls12_crypto_info_chacha20_poly1305 chacha;
};

// Fills `info` from `k`; returns its size for setsockopt.
socklen_t fill_info(CryptoInfo& info, int version, Cipher c, const DirectionKeys& k) {
  std::memset(&info, 0, sizeof info);
  info.base.version = version == TLS1_3_VERSION ? TLS_1_3_VERSION : TLS_1_2_VERSION;
  unsigned char seq[8];
  put_be64(seq, k.seq);
  // AES-GCM: TLS 1.3 splits the 12-byte IV into salt (4) and iv (8); TLS 1.2 has the salt
  // from the key block, and iv is the explicit nonce of the first record the kernel writes:
  // it increments it per record, so starting from the sequence number keeps nonces unique
  // (RFC 5288 suggests the sequence number itself). The kernel ignores iv for RX on 1.2.
  auto gcm = [&](auto& g, size_t klen) {
    std::memcpy(g.key, k.key.data(), klen);
    std::memcpy(g.rec_seq, seq, 8);
    if (version == TLS1_3_VERSION) {
      std::memcpy(g.salt, k.iv.data(), 4);
      std::memcpy(g.iv, k.iv.data() + 4, 8);
    } else {
      std::memcpy(g.salt, k.iv.data(), 4);
      std::memcpy(g.iv, seq, 8);
    }
    return static_cast<socklen_t>(sizeof g);
  };
  switch (c) {
    case Cipher::kAes128Gcm:
      info.base.cipher_type = TLS_CIPHER_AES_GCM_128;
      return gcm(info.gcm128, 16);
    case Cipher::kAes256Gcm:
      info.base.cipher_type = TLS_CIPHER_AES_GCM_256;
      return gcm(info.gcm256, 32);
    case Cipher::kChacha20Poly1305:
      info.base.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
      std::memcpy(info.chacha.key, k.key.data(), 32);
      std::memcpy(info.chacha.iv, k.iv.data(), 12);
      std::memcpy(info.chacha.rec_seq, seq, 8);
      return sizeof info.chacha;
  }
  return 0;
}

// A connected loopback TCP pair; the ULP attaches only to an established socket.
bool loopback_pair(int& a, int& b, std::string& why) {
  a = b = -1;
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  bool ok = ls >= 0 && bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
            listen(ls, 1) == 0 && getsockname(ls, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
  if (ok) {
    a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ok = a >= 0 && connect(a, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
         (b = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;
  }
  if (!ok) {
    why = std::string("loopback TCP pair failed: ") + std::strerror(errno);
    if (a >= 0) ::close(a);
    a = -1;
  }
  if (ls >= 0) ::close(ls);
  return ok;
}

int set_ulp(int fd) {
  return setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls") == 0 ? 0 : errno;
}

int set_dir(int fd, int optname, int version, Cipher c, const DirectionKeys& k) {
  CryptoInfo info;
  socklen_t len = fill_info(info, version, c, k);
  int rc = setsockopt(fd, SOL_TLS, optname, &info, len) == 0 ? 0 : errno;
  OPENSSL_cleanse(&info, sizeof info);
  return rc;
}

// ---- key derivation ----

// TLS 1.2 key block: PRF(master_secret, "key expansion", server_random + client_random).
bool tls12_key_block(const EVP_MD* md, const uint8_t* master, size_t master_len,
                     const uint8_t* seed, size_t seed_len, uint8_t* out, size_t len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<uint8_t*>(master),
                                        master_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, const_cast<uint8_t*>(seed), seed_len),
      OSSL_PARAM_construct_end(),
  };
  bool ok = ctx && EVP_KDF_derive(ctx, out, len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok;
}

std::optional<Cipher> cipher_of(const SSL_CIPHER* c) {
  switch (c ? SSL_CIPHER_get_cipher_nid(c) : 0) {
    case NID_aes_128_gcm:
      return Cipher::kAes128Gcm;
    case NID_aes_256_gcm:
      return Cipher::kAes256Gcm;
    case NID_chacha20_poly1305:
      return Cipher::kChacha20Poly1305;
    default:
      return std::nullopt;
  }
}

int tracker_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr,
                                          [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
                                            delete static_cast<Tracker*>(ptr);
                                          });
  return index;
}

// Decodes hex `s` into out (at most cap bytes); returns the length or -1.
int unhex(std::string_view s, uint8_t* out, size_t cap) {
  if (s.size() % 2 || s.size() / 2 > cap) return -1;
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = base::hex_value(s[i]), lo = base::hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return static_cast<int>(s.size() / 2);
}

}  // namespace

bool hkdf_expand_label(const EVP_MD* md, const uint8_t* secret, size_t secret_len,
                       const char* label, uint8_t* out, size_t len) {
  std::string full = std::string("tls13 ") + label;
  std::vector<unsigned char> info;
  info.push_back(static_cast<unsigned char>(len >> 8));
  info.push_back(static_cast<unsigned char>(len));
  info.push_back(static_cast<unsigned char>(full.size()));
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(0);  // empty context
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret),
                                        secret_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_end(),
  };
  bool ok = ctx && EVP_KDF_derive(ctx, out, len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok;
}

const char* cipher_name(Cipher c) {
  switch (c) {
    case Cipher::kAes128Gcm:
      return "AES-128-GCM";
    case Cipher::kAes256Gcm:
      return "AES-256-GCM";
    case Cipher::kChacha20Poly1305:
      return "CHACHA20-POLY1305";
  }
  return "?";
}

const char* direction_name(uint8_t dirs) {
  static const char* names[] = {"none", "tx", "rx", "tx+rx"};
  return names[dirs & 3];
}

// ---- probe ----

bool Probe::any() const {
  for (auto& v : offered)
    for (uint8_t d : v)
      if (d) return true;
  return false;
}

uint8_t Probe::dirs(int tls_version, Cipher c) const {
  return offered[tls_version == TLS1_3_VERSION ? 1 : 0][static_cast<int>(c)];
}

std::string Probe::summary() const {
  if (!ulp) return "unavailable: " + reason;
  std::string s;
  for (int v = 0; v < 2; ++v) {
    for (Cipher c : kAllCiphers) {
      if (!s.empty()) s += ", ";
      s += v ? "TLS1.3 " : "TLS1.2 ";
      s += cipher_name(c);
      s += ' ';
      s += direction_name(offered[v][static_cast<int>(c)]);
    }
  }
  return any() ? s : "unavailable: the tls ULP attaches but no cipher is accepted (" + s + ")";
}

Probe probe_now() {
  Probe p;
  DirectionKeys dummy;
  dummy.key.fill(0x42);
  dummy.iv.fill(0x24);
  for (int v = 0; v < 2; ++v) {
    int version = v ? TLS1_3_VERSION : TLS1_2_VERSION;
    for (Cipher c : kAllCiphers) {
      int a, b;
      if (!loopback_pair(a, b, p.reason)) return p;
      if (int e = set_ulp(a)) {
        p.reason = std::string("setsockopt(TCP_ULP, \"tls\") failed: ") + std::strerror(e) +
                   (e == ENOENT ? " (kernel built without CONFIG_TLS, or the tls module is not "
                                  "loaded)"
                                : "");
        ::close(a);
        ::close(b);
        return p;
      }
      p.ulp = true;
      uint8_t d = kNone;
      if (set_dir(a, TLS_TX, version, c, dummy) == 0) d |= kTx;
      if (set_dir(a, TLS_RX, version, c, dummy) == 0) d |= kRx;
      p.offered[v][static_cast<int>(c)] = d;
      ::close(a);
      ::close(b);
    }
  }
  p.reason.clear();
  return p;
}

const Probe& probe() {
  static const Probe p = probe_now();
  return p;
}

// ---- tracker ----

SessionKeys::~SessionKeys() {
  OPENSSL_cleanse(tx_secret.data(), tx_secret.size());
  OPENSSL_cleanse(tx.key.data(), tx.key.size());
  OPENSSL_cleanse(rx.key.data(), rx.key.size());
}

Tracker::~Tracker() {
  OPENSSL_cleanse(client_secret_.data(), client_secret_.size());
  OPENSSL_cleanse(server_secret_.data(), server_secret_.size());
}

struct TrackerCallbacks {
  static void on_msg(int write_p, int /*version*/, int content_type, const void* buf, size_t len,
                     SSL* ssl, void* /*arg*/) {
    Tracker* t = Tracker::get(ssl);
    if (!t) return;
    Tracker::Count& d = write_p ? t->write_ : t->read_;
    switch (content_type) {
      case SSL3_RT_HEADER:  // once per record, read or written; buf is the record header
        // A ChangeCipherSpec record is seen here only: OpenSSL 3.0 reports a CCS it reads
        // with no message of its own. The record after it is the first under the new keys.
        if (len >= 1 && static_cast<const uint8_t*>(buf)[0] == SSL3_RT_CHANGE_CIPHER_SPEC) {
          d.ccs = true;
          d.since_ccs = 0;
        } else {
          ++d.since_ccs;
        }
        ++d.since_finished;
        break;
      case SSL3_RT_HANDSHAKE: {
        if (len < 1) break;
        int type = static_cast<const uint8_t*>(buf)[0];
        if (type == SSL3_MT_FINISHED) {
          if (d.finished) t->keys_changed_ = true;  // a second handshake: renegotiation
          d.finished = true;
          d.since_finished = 0;
        } else if (type == SSL3_MT_KEY_UPDATE) {
          t->keys_changed_ = true;
          // KeyUpdate: type, 24-bit length, request_update (1: update_requested).
          if (!write_p && len >= 5 && static_cast<const uint8_t*>(buf)[4] == 1) {
            ++t->key_update_requests_;
          }
        }
        break;
      }
      default:
        break;
    }
  }
};

Tracker* Tracker::attach(SSL* ssl) {
  int idx = tracker_index();
  if (idx < 0) return nullptr;
  auto* t = new Tracker;
  if (SSL_set_ex_data(ssl, idx, t) != 1) {
    delete t;
    return nullptr;
  }
  SSL_set_msg_callback(ssl, &TrackerCallbacks::on_msg);
  return t;
}

Tracker* Tracker::get(const SSL* ssl) {
  return static_cast<Tracker*>(SSL_get_ex_data(ssl, tracker_index()));
}

void prepare_ctx(SSL_CTX* ctx) {
  SSL_CTX_set_keylog_callback(ctx, &on_keylog_line);
}

void on_keylog_line(const SSL* ssl, const char* line) {
  Tracker* t = Tracker::get(ssl);
  if (!t) return;
  // "LABEL <client_random hex> <secret hex>"; only the application traffic secrets matter.
  std::string_view s(line);
  size_t sp1 = s.find(' ');
  size_t sp2 = sp1 == s.npos ? s.npos : s.find(' ', sp1 + 1);
  if (sp2 == s.npos) return;
  std::string_view label = s.substr(0, sp1), secret = s.substr(sp2 + 1);
  if (label == "CLIENT_TRAFFIC_SECRET_0") {
    int n = unhex(secret, t->client_secret_.data(), t->client_secret_.size());
    t->client_secret_len_ = n > 0 ? static_cast<uint8_t>(n) : 0;
  } else if (label == "SERVER_TRAFFIC_SECRET_0") {
    int n = unhex(secret, t->server_secret_.data(), t->server_secret_.size());
    t->server_secret_len_ = n > 0 ? static_cast<uint8_t>(n) : 0;
  }
}

uint64_t Tracker::records_written() const {
  return write_.since_finished;
}
uint64_t Tracker::records_read() const {
  return read_.since_finished;
}

Result<SessionKeys> Tracker::keys(SSL* ssl) const {
  if (!SSL_is_init_finished(ssl)) return Error{EINVAL, "handshake not complete"};
  if (keys_changed_) return Error{EINVAL, "keys changed after the handshake (KeyUpdate)"};
  SessionKeys k;
  k.version = SSL_version(ssl);
  const SSL_CIPHER* sc = SSL_get_current_cipher(ssl);
  auto cipher = cipher_of(sc);
  if (!cipher)
    return Error{ENOTSUP, std::string("cipher ") + (sc ? SSL_CIPHER_get_name(sc) : "none") +
                              " has no kernel counterpart"};
  k.cipher = *cipher;
  const EVP_MD* md = SSL_CIPHER_get_handshake_digest(sc);
  if (!md) return Error{EINVAL, "no digest for the cipher"};
  uint8_t klen = key_len(k.cipher), ivlen = iv_len(k.version, k.cipher);
  k.tx.key_len = k.rx.key_len = klen;
  if (k.version == TLS1_3_VERSION) {
    if (!client_secret_len_ || !server_secret_len_)
      return Error{EINVAL, "no traffic secrets (ktls::prepare_ctx not called on the SSL_CTX?)"};
    if (!write_.finished || !read_.finished) return Error{EINVAL, "Finished not seen"};
    bool ok = hkdf_expand_label(md, server_secret_.data(), server_secret_len_, "key",
                                k.tx.key.data(), klen) &&
              hkdf_expand_label(md, server_secret_.data(), server_secret_len_, "iv", k.tx.iv.data(),
                                ivlen) &&
              hkdf_expand_label(md, client_secret_.data(), client_secret_len_, "key",
                                k.rx.key.data(), klen) &&
              hkdf_expand_label(md, client_secret_.data(), client_secret_len_, "iv", k.rx.iv.data(),
                                ivlen);
    if (!ok) return Error{EINVAL, "HKDF-Expand-Label failed"};
    k.tx.seq = write_.since_finished;
    k.rx.seq = read_.since_finished;
    k.md = md;
    std::memcpy(k.tx_secret.data(), server_secret_.data(), server_secret_len_);
    k.tx_secret_len = server_secret_len_;
    return k;
  }
  if (k.version != TLS1_2_VERSION) return Error{ENOTSUP, "only TLS 1.2 and 1.3 go to the kernel"};
  if (!write_.ccs || !read_.ccs) return Error{EINVAL, "ChangeCipherSpec not seen"};
  uint8_t master[SSL_MAX_MASTER_KEY_LENGTH];
  size_t mlen = SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof master);
  uint8_t seed[13 + 2 * SSL3_RANDOM_SIZE];
  std::memcpy(seed, "key expansion", 13);
  SSL_get_server_random(ssl, seed + 13, SSL3_RANDOM_SIZE);
  SSL_get_client_random(ssl, seed + 13 + SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE);
  // AEAD suites have no MAC keys: client_write_key, server_write_key, client IV, server IV.
  uint8_t block[2 * 32 + 2 * 12];
  size_t blen = 2 * klen + 2 * ivlen;
  bool ok = mlen > 0 && tls12_key_block(md, master, mlen, seed, sizeof seed, block, blen);
  OPENSSL_cleanse(master, sizeof master);
  if (!ok) {
    OPENSSL_cleanse(block, sizeof block);
    return Error{EINVAL, "TLS 1.2 key expansion failed"};
  }
  std::memcpy(k.rx.key.data(), block, klen);
  std::memcpy(k.tx.key.data(), block + klen, klen);
  std::memcpy(k.rx.iv.data(), block + 2 * klen, ivlen);
  std::memcpy(k.tx.iv.data(), block + 2 * klen + ivlen, ivlen);
  OPENSSL_cleanse(block, sizeof block);
  k.tx.seq = write_.since_ccs;
  k.rx.seq = read_.since_ccs;
  return k;
}

// ---- switch ----

EnableResult enable(int fd, const SessionKeys& keys, uint8_t want) {
  EnableResult r;
  if (!(want & kTx) && !(want & kRx)) return r;
  // EEXIST: attached by an earlier call (TX first, RX later), which is fine.
  if (int e = set_ulp(fd); e && e != EEXIST) {
    r.error = Error{e, std::string("setsockopt(TCP_ULP, \"tls\"): ") + std::strerror(e)};
    return r;
  }
  r.ulp = true;
  if (want & kTx) {
    if (int e = set_dir(fd, TLS_TX, keys.version, keys.cipher, keys.tx)) {
      r.error = Error{e, std::string("setsockopt(TLS_TX): ") + std::strerror(e)};
      return r;
    }
    r.dirs |= kTx;
  }
  if (want & kRx) {
    if (int e = set_dir(fd, TLS_RX, keys.version, keys.cipher, keys.rx)) {
      r.error = Error{e, std::string("setsockopt(TLS_RX): ") + std::strerror(e)};
      return r;
    }
    r.dirs |= kRx;
  }
  return r;
}

bool rx_quiescent(const SSL* ssl, BIO* rbio) {
  return BIO_ctrl_pending(rbio) == 0 && SSL_has_pending(ssl) == 0;
}

// ---- after the switch ----

void RecordTypeCmsg::attach(msghdr& msg, uint8_t type) {
  std::memset(buf, 0, sizeof buf);
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_TLS;
  c->cmsg_type = TLS_SET_RECORD_TYPE;
  c->cmsg_len = CMSG_LEN(sizeof type);
  std::memcpy(CMSG_DATA(c), &type, sizeof type);
}

int send_close_notify(int fd) {
  unsigned char alert[2] = {1, 0};  // warning, close_notify
  iovec iov{alert, sizeof alert};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  RecordTypeCmsg cm;
  cm.attach(msg, kAlert);
  ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) return -errno;
  return n == sizeof alert ? 0 : -EIO;
}

std::optional<uint8_t> record_type(const msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE &&
        c->cmsg_len >= CMSG_LEN(1))
      return *CMSG_DATA(c);
  }
  return std::nullopt;
}

RecordVerdict classify(uint8_t type, std::string_view payload) {
  auto byte = [&](size_t i) { return static_cast<unsigned>(static_cast<uint8_t>(payload[i])); };
  switch (type) {
    case kApplicationData:
      return {Verdict::kData, {}};
    case kAlert:
      if (payload.size() >= 2 && byte(1) == 0) return {Verdict::kEndOfStream, {}};
      if (payload.size() >= 2)
        return {Verdict::kClose, "TLS alert " + std::to_string(byte(1)) +
                                     (byte(0) == 2 ? " (fatal)" : " (warning)") + " from client"};
      return {Verdict::kClose, "truncated TLS alert from client"};
    case kHandshake:
      if (!payload.empty() && byte(0) == SSL3_MT_KEY_UPDATE)
        return {Verdict::kClose,
                "TLS 1.3 KeyUpdate from client: the kernel keeps its RX keys, "
                "closing cleanly"};
      return {Verdict::kClose,
              "unexpected TLS handshake message " +
                  (payload.empty() ? std::string("(empty)") : std::to_string(byte(0))) +
                  " after the handshake"};
    default:
      return {Verdict::kClose, "unexpected TLS record type " + std::to_string(type)};
  }
}

}  // namespace askr::net::ktls
