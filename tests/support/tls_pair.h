// Test helpers for TLS without a network: a self-signed certificate made with the OpenSSL API,
// server and client contexts pinned to one version and cipher, a memory-BIO handshake, and
// record sealing/opening with EVP so that keys and sequence numbers can be checked in user
// space exactly as the kernel would use them. Header-only: the unit tests and the VM program
// both include it.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "net/ktls.h"

namespace askr::test {

struct TlsCase {
  int version;               // TLS1_2_VERSION or TLS1_3_VERSION
  net::ktls::Cipher cipher;  // what both sides must agree on
  const char* name;
};

inline const TlsCase kTlsCases[] = {
    {TLS1_2_VERSION, net::ktls::Cipher::kAes128Gcm, "tls12_aes128gcm"},
    {TLS1_2_VERSION, net::ktls::Cipher::kAes256Gcm, "tls12_aes256gcm"},
    {TLS1_2_VERSION, net::ktls::Cipher::kChacha20Poly1305, "tls12_chacha20"},
    {TLS1_3_VERSION, net::ktls::Cipher::kAes128Gcm, "tls13_aes128gcm"},
    {TLS1_3_VERSION, net::ktls::Cipher::kAes256Gcm, "tls13_aes256gcm"},
    {TLS1_3_VERSION, net::ktls::Cipher::kChacha20Poly1305, "tls13_chacha20"},
};

// An EC P-256 key and a self-signed certificate for "localhost", made once per process.
struct TestCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

inline const TestCert& test_cert() {
  static TestCert tc = [] {
    TestCert t;
    t.key = EVP_EC_gen("P-256");
    t.cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(t.cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(t.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(t.cert), 86400);
    X509_set_pubkey(t.cert, t.key);
    X509_NAME* name = X509_get_subject_name(t.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(t.cert, name);
    X509_sign(t.cert, t.key, EVP_sha256());
    return t;
  }();
  return tc;
}

// A context for one side, pinned to c.version and c.cipher. The server's has the test
// certificate and ktls::prepare_ctx.
inline SSL_CTX* make_ctx(bool server, const TlsCase& c) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, c.version);
  SSL_CTX_set_max_proto_version(ctx, c.version);
  using net::ktls::Cipher;
  if (c.version == TLS1_3_VERSION) {
    SSL_CTX_set_ciphersuites(ctx, c.cipher == Cipher::kAes128Gcm ? "TLS_AES_128_GCM_SHA256"
                                  : c.cipher == Cipher::kAes256Gcm
                                      ? "TLS_AES_256_GCM_SHA384"
                                      : "TLS_CHACHA20_POLY1305_SHA256");
  } else {
    SSL_CTX_set_cipher_list(ctx, c.cipher == Cipher::kAes128Gcm ? "ECDHE-ECDSA-AES128-GCM-SHA256"
                                 : c.cipher == Cipher::kAes256Gcm
                                     ? "ECDHE-ECDSA-AES256-GCM-SHA384"
                                     : "ECDHE-ECDSA-CHACHA20-POLY1305");
  }
  if (server) {
    SSL_CTX_use_certificate(ctx, test_cert().cert);
    SSL_CTX_use_PrivateKey(ctx, test_cert().key);
    net::ktls::prepare_ctx(ctx);
  }
  return ctx;
}

// ---- records, sealed and opened as the kernel does ----

inline const EVP_CIPHER* evp_cipher(net::ktls::Cipher c) {
  using net::ktls::Cipher;
  return c == Cipher::kAes128Gcm   ? EVP_aes_128_gcm()
         : c == Cipher::kAes256Gcm ? EVP_aes_256_gcm()
                                   : EVP_chacha20_poly1305();
}

inline bool tls12_explicit_nonce(int version, net::ktls::Cipher c) {
  return version == TLS1_2_VERSION && c != net::ktls::Cipher::kChacha20Poly1305;
}

// The 12-byte nonce: 1.2 AES-GCM salt || explicit; otherwise iv XOR the padded sequence.
inline void make_nonce(int version, net::ktls::Cipher c, const net::ktls::DirectionKeys& k,
                       uint64_t seq, const unsigned char* explicit_nonce, unsigned char out[12]) {
  if (tls12_explicit_nonce(version, c)) {
    std::memcpy(out, k.iv.data(), 4);
    std::memcpy(out + 4, explicit_nonce, 8);
    return;
  }
  std::memcpy(out, k.iv.data(), 12);
  for (int i = 0; i < 8; ++i) out[11 - i] ^= static_cast<unsigned char>(seq >> (8 * i));
}

inline void put_be64(unsigned char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v);
}

// One AEAD operation; `tag` is read (decrypt) or written (encrypt).
inline bool aead(bool enc, net::ktls::Cipher c, const unsigned char* key,
                 const unsigned char* nonce, const unsigned char* aad, size_t aad_len,
                 const unsigned char* in, size_t len, unsigned char* out, unsigned char* tag) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  bool ok = EVP_CipherInit_ex(ctx, evp_cipher(c), nullptr, nullptr, nullptr, enc) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1 &&
            EVP_CipherInit_ex(ctx, nullptr, nullptr, key, nonce, enc) == 1 &&
            (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1) &&
            EVP_CipherUpdate(ctx, nullptr, &n, aad, static_cast<int>(aad_len)) == 1 &&
            EVP_CipherUpdate(ctx, out, &n, in, static_cast<int>(len)) == 1 &&
            EVP_CipherFinal_ex(ctx, out + n, &n) == 1 &&
            (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

// Seals `plain` as one record of `type` under k at `seq`.
inline std::string seal_record(int version, net::ktls::Cipher c, const net::ktls::DirectionKeys& k,
                               uint64_t seq, uint8_t type, std::string_view plain) {
  std::string inner(plain);
  if (version == TLS1_3_VERSION) inner.push_back(static_cast<char>(type));
  bool expl = tls12_explicit_nonce(version, c);
  size_t body = (expl ? 8 : 0) + inner.size() + 16;
  std::string rec(5 + body, '\0');
  auto* r = reinterpret_cast<unsigned char*>(rec.data());
  r[0] = version == TLS1_3_VERSION ? net::ktls::kApplicationData : type;
  r[1] = 3;
  r[2] = 3;
  r[3] = static_cast<unsigned char>(body >> 8);
  r[4] = static_cast<unsigned char>(body);
  unsigned char explicit_nonce[8], nonce[12], aad[13];
  put_be64(explicit_nonce, seq);
  make_nonce(version, c, k, seq, explicit_nonce, nonce);
  size_t aad_len = 5;
  if (version == TLS1_3_VERSION) {
    std::memcpy(aad, r, 5);
  } else {
    put_be64(aad, seq);
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    aad[11] = static_cast<unsigned char>(plain.size() >> 8);
    aad[12] = static_cast<unsigned char>(plain.size());
    aad_len = 13;
  }
  unsigned char* out = r + 5;
  if (expl) std::memcpy(out, explicit_nonce, 8), out += 8;
  if (!aead(true, c, k.key.data(), nonce, aad, aad_len,
            reinterpret_cast<const unsigned char*>(inner.data()), inner.size(), out,
            out + inner.size()))
    return {};
  return rec;
}

struct Opened {
  uint8_t type = 0;
  std::string plain;
  size_t used = 0;  // bytes of the wire the record took
};

// Opens the record at the front of `wire` under k at `seq`; nullopt if it does not decrypt.
inline std::optional<Opened> open_record(int version, net::ktls::Cipher c,
                                         const net::ktls::DirectionKeys& k, uint64_t seq,
                                         std::string_view wire) {
  if (wire.size() < 5) return std::nullopt;
  auto* r = reinterpret_cast<const unsigned char*>(wire.data());
  size_t body = size_t{r[3]} << 8 | r[4];
  if (wire.size() < 5 + body) return std::nullopt;
  bool expl = tls12_explicit_nonce(version, c);
  if (body < (expl ? 8u : 0u) + 16) return std::nullopt;
  const unsigned char* in = r + 5 + (expl ? 8 : 0);
  size_t len = body - (expl ? 8 : 0) - 16;
  unsigned char nonce[12], aad[13];
  make_nonce(version, c, k, seq, r + 5, nonce);
  size_t aad_len = 5;
  if (version == TLS1_3_VERSION) {
    std::memcpy(aad, r, 5);
  } else {
    put_be64(aad, seq);
    std::memcpy(aad + 8, r, 3);
    aad[11] = static_cast<unsigned char>(len >> 8);
    aad[12] = static_cast<unsigned char>(len);
    aad_len = 13;
  }
  Opened o;
  o.plain.resize(len);
  unsigned char tag[16];
  std::memcpy(tag, in + len, 16);
  if (!aead(false, c, k.key.data(), nonce, aad, aad_len, in, len,
            reinterpret_cast<unsigned char*>(o.plain.data()), tag))
    return std::nullopt;
  o.type = r[0];
  if (version == TLS1_3_VERSION) {  // strip the padding and the inner content type
    while (!o.plain.empty() && o.plain.back() == 0) o.plain.pop_back();
    if (o.plain.empty()) return std::nullopt;
    o.type = static_cast<uint8_t>(o.plain.back());
    o.plain.pop_back();
  }
  o.used = 5 + body;
  return o;
}

}  // namespace askr::test
