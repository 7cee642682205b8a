#include "net/record_sealer.h"

#include <openssl/ssl.h>

#include <cstring>

#include "shared/base/copy.h"

namespace askr::net {
namespace {

constexpr uint8_t kApplicationData = 23, kAlert = 21, kHandshake = 22;
constexpr size_t kTag = 16;

const EVP_CIPHER* evp_cipher(ktls::Cipher c) {
  switch (c) {
    case ktls::Cipher::kAes128Gcm:
      return EVP_aes_128_gcm();
    case ktls::Cipher::kAes256Gcm:
      return EVP_aes_256_gcm();
    case ktls::Cipher::kChacha20Poly1305:
      return EVP_chacha20_poly1305();
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<RecordSealer> RecordSealer::create(const ktls::SessionKeys& keys) {
  if (keys.version != TLS1_3_VERSION || !keys.md || !keys.tx_secret_len) return nullptr;
  const EVP_CIPHER* cipher = evp_cipher(keys.cipher);
  if (!cipher || size_t(EVP_CIPHER_get_key_length(cipher)) != keys.tx.key_len) return nullptr;
  std::unique_ptr<RecordSealer> s(new RecordSealer);
  s->ctx_ = EVP_CIPHER_CTX_new();
  if (!s->ctx_ || EVP_EncryptInit_ex(s->ctx_, cipher, nullptr, keys.tx.key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(s->ctx_, EVP_CTRL_AEAD_SET_IVLEN, sizeof s->iv_, nullptr) != 1) {
    return nullptr;
  }
  std::memcpy(s->iv_, keys.tx.iv.data(), sizeof s->iv_);
  s->seq_ = s->first_seq_ = keys.tx.seq;
  std::memcpy(s->secret_, keys.tx_secret.data(), keys.tx_secret_len);
  s->secret_len_ = keys.tx_secret_len;
  s->key_len_ = keys.tx.key_len;
  s->md_ = keys.md;
  return s;
}

RecordSealer::~RecordSealer() {
  EVP_CIPHER_CTX_free(ctx_);
  OPENSSL_cleanse(iv_, sizeof iv_);
  OPENSSL_cleanse(secret_, sizeof secret_);
}

bool RecordSealer::seal(std::string& out, const iovec* iov, size_t count) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += iov[i].iov_len;
  if (total == 0) return true;
  size_t records = (total + kRecordMax - 1) / kRecordMax;
  // Room made once; appends, unlike resize, do not clear the bytes first.
  out.reserve(out.size() + total + records * kOverhead);
  size_t i = 0, off = 0;  // the piece being copied and how far into it
  for (size_t r = 0; r < records; ++r) {
    size_t len = std::min(kRecordMax, total - r * kRecordMax);
    size_t at = out.size();
    out.append(5, '\0');  // the header, written with the tag
    for (size_t need = len; need > 0;) {
      size_t n = std::min(need, iov[i].iov_len - off);
      base::append_bytes(out, static_cast<const char*>(iov[i].iov_base) + off, n);
      need -= n;
      off += n;
      if (off == iov[i].iov_len) ++i, off = 0;
    }
    out.push_back(char(kApplicationData));
    out.append(kTag, '\0');
    if (!close_record(out, at, len + 1)) return false;
  }
  return true;
}

bool RecordSealer::seal_close_notify(std::string& out) {
  size_t at = out.size();
  out.resize(at + 2 + kOverhead);
  char* p = out.data() + at + 5;
  p[0] = 1;  // warning
  p[1] = 0;  // close_notify
  p[2] = char(kAlert);
  return close_record(out, at, 3);
}

bool RecordSealer::seal_key_update(std::string& out) {
  size_t at = out.size();
  out.resize(at + 5 + kOverhead);
  char* p = out.data() + at + 5;
  const char msg[] = {24, 0, 0, 1, 0, char(kHandshake)};  // KeyUpdate, update_not_requested
  std::memcpy(p, msg, sizeof msg);
  if (!close_record(out, at, sizeof msg)) return false;
  // application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length)
  uint8_t next[sizeof secret_], key[32];
  bool ok = ktls::hkdf_expand_label(md_, secret_, secret_len_, "traffic upd", next, secret_len_) &&
            ktls::hkdf_expand_label(md_, next, secret_len_, "key", key, key_len_) &&
            ktls::hkdf_expand_label(md_, next, secret_len_, "iv", iv_, sizeof iv_) &&
            EVP_EncryptInit_ex(ctx_, nullptr, nullptr, key, nullptr) == 1;
  std::memcpy(secret_, next, secret_len_);
  OPENSSL_cleanse(next, sizeof next);
  OPENSSL_cleanse(key, sizeof key);
  seq_ = first_seq_ = 0;
  return ok;
}

bool RecordSealer::close_record(std::string& out, size_t at, size_t len) {
  auto* rec = reinterpret_cast<uint8_t*>(out.data() + at);
  size_t wire = len + kTag;
  rec[0] = kApplicationData;  // TLSCiphertext.opaque_type
  rec[1] = 3;
  rec[2] = 3;
  rec[3] = uint8_t(wire >> 8);
  rec[4] = uint8_t(wire);
  uint8_t nonce[12];
  std::memcpy(nonce, iv_, sizeof nonce);
  for (int b = 0; b < 8; ++b) nonce[4 + b] ^= uint8_t(seq_ >> (56 - 8 * b));
  int n = 0, m = 0;
  bool ok = EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce) == 1 &&
            EVP_EncryptUpdate(ctx_, nullptr, &n, rec, 5) == 1 &&
            EVP_EncryptUpdate(ctx_, rec + 5, &n, rec + 5, int(len)) == 1 &&
            EVP_EncryptFinal_ex(ctx_, rec + 5 + n, &m) == 1 && size_t(n + m) == len &&
            EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kTag, rec + 5 + len) == 1;
  ++seq_;
  return ok;
}

}  // namespace askr::net
