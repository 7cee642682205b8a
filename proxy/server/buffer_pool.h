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
  static constexpr size_t kKeep = 256;               // spare buffers kept per loop
  static constexpr size_t kMaxCapacity = 256 << 10;  // larger ones are freed, not kept

  // Moves a spare buffer (empty, with capacity) into `s` when `s` has none.
  void get(std::string& s) {
    if (s.capacity() > 15 || free_.empty()) return;
    s.swap(free_.back());
    free_.pop_back();
  }
  // Takes `s`'s storage (leaving `s` without any) when it is worth keeping.
  void put(std::string& s) {
    if (s.capacity() <= 15) return;
    if (s.capacity() <= kMaxCapacity && free_.size() < kKeep) {
      s.clear();
      free_.push_back(std::move(s));
    }
    std::string().swap(s);
  }
  size_t spare() const { return free_.size(); }

 private:
  std::vector<std::string> free_;
};

}  // namespace askr::server
