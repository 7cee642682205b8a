#include "modes/limits.h"

#include "process.h"
#include "shared/base/log.h"

namespace askr::worker::modes {

bool should_exit(const Limits& limits, uint64_t served) {
  if (stop_requested()) return true;
  if (limits.max_requests && served >= limits.max_requests) {
    LOG_DEBUG("served %llu requests: exiting", (unsigned long long)served);
    return true;
  }
  if (limits.memory_limit && served > 0) {
    uint64_t rss = resident_bytes();
    if (rss > limits.memory_limit) {
      LOG_INFO("RSS %llu bytes is above the memory limit (%llu): exiting", (unsigned long long)rss,
               (unsigned long long)limits.memory_limit);
      return true;
    }
  }
  return false;
}

}  // namespace askr::worker::modes
