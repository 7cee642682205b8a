#include "net/live_tls.h"

namespace askr::net {

void LiveTlsContexts::publish(std::shared_ptr<const TlsContexts> next) {
  std::shared_ptr<const TlsContexts> old;  // freed outside the lock
  {
    std::lock_guard lock(mu_);
    old = std::exchange(current_, std::move(next));
    published_.fetch_add(1, std::memory_order_release);
  }
}

std::shared_ptr<const TlsContexts> LiveTlsContexts::get() const {
  std::lock_guard lock(mu_);
  return current_;
}

bool LiveTlsContexts::refresh(std::shared_ptr<const TlsContexts>& held, uint64_t& seen) const {
  uint64_t now = published_.load(std::memory_order_acquire);
  if (now == seen) return false;
  std::shared_ptr<const TlsContexts> old;  // the loop's previous set is freed outside the lock
  {
    std::lock_guard lock(mu_);
    old = std::exchange(held, current_);
    seen = published_.load(std::memory_order_relaxed);
  }
  return true;
}

}  // namespace askr::net
