// The TlsContexts that new TLS connections get, replaced as a whole on reload (SIGHUP reads the
// certificate files again). The main thread publishes a new set; each loop keeps its own
// reference and looks for a newer set once per TLS accept and once per tick: one atomic load
// while nothing changed, a mutex and a reference copy only after a publish. Connections hold a
// reference to the set they were made with, so an old set, its SSL_CTXs and certificates are
// freed when the last connection made with it is gone and every loop has moved on.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include "net/tls_context.h"

namespace askr::net {

class LiveTlsContexts {
 public:
  // Any thread: new connections get `next` from now on (each loop at its next refresh).
  void publish(std::shared_ptr<const TlsContexts> next);
  // Any thread: the current set; null before the first publish, or when no site has a
  // certificate.
  std::shared_ptr<const TlsContexts> get() const;
  // A loop's cached reference: replaced with the current set when one was published since
  // `seen` (the publish count the loop saw last). Returns whether it changed.
  bool refresh(std::shared_ptr<const TlsContexts>& held, uint64_t& seen) const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const TlsContexts> current_;
  std::atomic<uint64_t> published_{0};  // bumped after current_ changes
};

}  // namespace askr::net
