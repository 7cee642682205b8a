// When a worker process stops taking requests, whatever its mode.
#pragma once

#include <cstdint>

namespace askr::worker::modes {

struct Limits {
  uint64_t max_requests = 0;  // exit after this many requests; 0 = never
  uint64_t memory_limit = 0;  // exit after a request that leaves RSS above this; 0 = never
};

// True when, having served `served` requests, the process should exit (cleanly, status 0): the
// request limit is reached, RSS is above the memory limit after a request, or SIGTERM/SIGINT
// arrived.
bool should_exit(const Limits& limits, uint64_t served);

}  // namespace askr::worker::modes
