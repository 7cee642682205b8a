// Session ticket keys: one set for the whole process, so that a ticket made on one loop
// resumes on any other. A key encrypts new tickets for `rotate` seconds, then only decrypts
// (the client gets a fresh ticket under the current key) until it is `lifetime` old, then it
// is forgotten. Keys are made with RAND_bytes at start and at each rotation; they never leave
// the process (a restart invalidates every ticket, as it should).
//
// Thread-safe: loops read under a shared lock; the rotation takes the lock exclusively once
// per `rotate` seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <vector>

namespace askr::net {

class TicketKeys {
 public:
  struct Key {
    uint8_t name[16];  // sent in the ticket, to find the key again
    uint8_t aes[32];   // AES-256-CBC
    uint8_t hmac[32];  // HMAC-SHA256
    int64_t created;   // seconds, the caller's clock
  };

  // A new key every hour, accepted for 13: one hour of encrypting plus the 12 hours a ticket
  // lives (TlsContexts sets that session timeout).
  static constexpr int64_t kRotate = 3600;
  static constexpr int64_t kLifetime = 13 * 3600;

  explicit TicketKeys(int64_t rotate = kRotate, int64_t lifetime = kLifetime)
      : rotate_(rotate), lifetime_(lifetime) {}

  // The key for a new ticket at `now`; makes a new one when the current is `rotate` old, and
  // drops those past their lifetime.
  Key encrypt_key(int64_t now);
  // The key named `name` while it is younger than `lifetime` at `now`; `current` is set when it
  // is the one that encrypts (else the ticket should be renewed).
  std::optional<Key> decrypt_key(const uint8_t (&name)[16], int64_t now, bool& current) const;
  size_t size() const;

 private:
  int64_t rotate_;
  int64_t lifetime_;
  mutable std::shared_mutex mu_;
  std::vector<Key> keys_;  // newest first
};

}  // namespace askr::net
