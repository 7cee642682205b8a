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
    if (s.capacity() > 15) return;
    take(large_.empty() ? small_ : large_, s);
  }
  // The same from the small spares only (a request's head): a large buffer is left for a
  // response that needs one.
  void get_small(std::string& s) {
    if (s.capacity() > 15) return;
    take(small_, s);
  }
  // Takes `s`'s storage (leaving `s` without any) when it is worth keeping. A buffer that a
  // streamed response grew (a PHP page of a few hundred KiB piles up to the sink's high-water
  // mark and past it by a record) is kept for the next one, rather than given back to malloc,
  // whose arena would return its pages to the kernel and take them back as page faults.
  void put(std::string& s) {
    size_t cap = s.capacity();
    if (cap <= 15) return;
    if (cap <= kMaxCapacity && kept_ + cap <= kBudget && spare() < kKeep) {
      s.clear();
      kept_ += cap;
      (cap <= kSmall ? small_ : large_).push_back(std::move(s));
    }
    std::string().swap(s);
  }
  size_t spare() const { return small_.size() + large_.size(); }
  size_t kept_bytes() const { return kept_; }

 private:
  void take(std::vector<std::string>& from, std::string& s) {
    if (from.empty()) return;
    s.swap(from.back());
    from.pop_back();
    kept_ -= s.capacity();
  }

  std::vector<std::string> small_, large_;
  size_t kept_ = 0;
};

}  // namespace askr::server
