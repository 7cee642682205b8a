#include "net/ticket_keys.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace askr::net {

TicketKeys::Key TicketKeys::encrypt_key(int64_t now) {
  {
    std::shared_lock lock(mu_);
    if (!keys_.empty() && now - keys_.front().created < rotate_) return keys_.front();
  }
  std::unique_lock lock(mu_);
  if (!keys_.empty() && now - keys_.front().created < rotate_) return keys_.front();
  Key k{};
  // Without randomness there is nothing safe to encrypt tickets with: OpenSSL's RNG never fails
  // once seeded, and a process that cannot seed it cannot do TLS at all.
  if (RAND_bytes(k.name, sizeof k.name) != 1 || RAND_bytes(k.aes, sizeof k.aes) != 1 ||
      RAND_bytes(k.hmac, sizeof k.hmac) != 1) {
    std::abort();
  }
  k.created = now;
  std::erase_if(keys_, [&](const Key& old) { return now - old.created >= lifetime_; });
  keys_.insert(keys_.begin(), k);
  return k;
}

std::optional<TicketKeys::Key> TicketKeys::decrypt_key(const uint8_t (&name)[16], int64_t now,
                                                       bool& current) const {
  std::shared_lock lock(mu_);
  for (size_t i = 0; i < keys_.size(); ++i) {
    const Key& k = keys_[i];
    if (std::memcmp(k.name, name, sizeof name) != 0) continue;
    if (now - k.created >= lifetime_) return std::nullopt;
    current = i == 0 && now - k.created < rotate_;
    return k;
  }
  return std::nullopt;
}

size_t TicketKeys::size() const {
  std::shared_lock lock(mu_);
  return keys_.size();
}

}  // namespace askr::net
