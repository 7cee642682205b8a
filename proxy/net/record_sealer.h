// TLS 1.3 records written in user space without OpenSSL's record layer: once the handshake is
// done and OpenSSL has written its last record (the point where kernel TLS takes TX), a
// connection whose kernel has no TLS seals its application data itself, with the keys and the
// sequence number ktls::Tracker followed. The plaintext is copied once, to its place in the
// send buffer, and encrypted there, a record at a time; through SSL_write it was gathered into
// records, copied into OpenSSL's buffer, encrypted, then copied again into the send buffer.
//
// A record is what RFC 8446 §5.2 says: the header (application_data, 0x0303, length) as the
// AEAD's additional data, the plaintext followed by its content type, the 16-byte tag; the nonce
// is the static IV XOR the 64-bit sequence number (§5.3).
#pragma once

#include <openssl/evp.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/ktls.h"

namespace askr::net {

class RecordSealer {
 public:
  static constexpr size_t kRecordMax = 16384;      // plaintext of one record (RFC 8446 §5.1)
  static constexpr size_t kOverhead = 5 + 1 + 16;  // header, content type, tag

  // The sealer of `keys.tx` (TLS 1.3 only: null for TLS 1.2, or when OpenSSL refuses the key).
  static std::unique_ptr<RecordSealer> create(const ktls::SessionKeys& keys);
  ~RecordSealer();
  RecordSealer(const RecordSealer&) = delete;
  RecordSealer& operator=(const RecordSealer&) = delete;

  // Appends to `out` the application-data records carrying the `count` pieces in order, full
  // records of kRecordMax bytes but the last. False if the encryption failed (the session is
  // then unusable: what `out` holds of it must not be sent).
  bool seal(std::string& out, const iovec* iov, size_t count);
  // Appends a warning-level close_notify alert.
  bool seal_close_notify(std::string& out);
  // Appends a KeyUpdate (update_not_requested), the answer to a client's update_requested,
  // and seals what follows under the next traffic secret (RFC 8446 §4.6.3, §7.2).
  bool seal_key_update(std::string& out);

  uint64_t records() const { return seq_ - first_seq_; }  // sealed so far

 private:
  RecordSealer() = default;
  // Encrypts in place the record whose plaintext (content type included) is out[at + 5, at + 5
  // + len), header at out[at], and appends its tag.
  bool close_record(std::string& out, size_t at, size_t len);

  EVP_CIPHER_CTX* ctx_ = nullptr;
  uint8_t iv_[12] = {};
  uint64_t seq_ = 0, first_seq_ = 0;
  uint8_t secret_[64] = {};
  uint8_t secret_len_ = 0, key_len_ = 0;
  const EVP_MD* md_ = nullptr;
};

}  // namespace askr::net
