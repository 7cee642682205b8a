// A loop's spare buffers and request objects: a connection takes them when a request begins and
// gives them back when it goes idle, so a keep-alive connection frees nothing per request and
// an idle one holds no buffer memory. Loop-local; no locking.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shared/base/spares.h"

namespace askr::server {

// Request objects: see base::Spares.
template <class T>
using FreeList = base::Spares<T>;

class BufferPool {
 public:
  static constexpr size_t kKeep = 256;             // spare buffers kept per loop
  static constexpr size_t kSmall = 64 << 10;       // larger ones go to the large spares
  static constexpr size_t kMaxCapacity = 1 << 20;  // larger ones are freed, not kept
  static constexpr size_t kBudget = 8 << 20;       // bytes of spare buffers per loop, at most

  // Moves a spare buffer (empty, with capacity) into `s` when `s` has none: a large one where
  // there is one (a response's buffers), else a small one.
  void get(std::string& s) {
    if (s.capacity() <= 15) spares_.get(s);
  }
  // The same from the small spares only (a request's head): a large buffer is left for a
  // response that needs one.
  void get_small(std::string& s) {
    if (s.capacity() <= 15) spares_.get(s, true);
  }
  // Takes `s`'s storage (leaving `s` without any) when it is worth keeping. A buffer that a
  // streamed response grew (a PHP page of a few hundred KiB piles up to the sink's high-water
  // mark and past it by a record) is kept for the next one.
  void put(std::string& s) { spares_.put(s); }
  size_t spare() const { return spares_.count(); }
  size_t kept_bytes() const { return spares_.kept_bytes(); }

 private:
  base::BufferSpares spares_{kKeep, kMaxCapacity, kBudget, kSmall};
};

}  // namespace askr::server
