// A bounded free list of objects kept for reuse, one per loop (or per thread: a loop is one
// thread; no locking). get() hands out a spare (or a new object), put() takes one back. Spares
// hold no state of their last use, and the buffers they keep (string and vector capacity) are
// bounded twice: each object drops a buffer that grew past what a typical use needs, and the
// list keeps at most `budget` bytes of buffers in all, so a burst of large requests cannot pin
// memory. Under AddressSanitizer put() recycles the object and then frees it, so that a stale
// pointer to a recycled object is still a use after free that ASan reports (a poisoned spare
// would hide the buffers it keeps from LeakSanitizer).
//
// T provides `void recycle(size_t room)` (back to its default state; keeps buffers of at most
// `room` bytes in all) and `size_t kept_bytes() const` (the capacity it keeps).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "shared/base/poison.h"

namespace askr::base {

template <class T>
class Spares {
 public:
  Spares(size_t keep, size_t budget) : keep_(keep), budget_(budget) {}
  Spares(const Spares&) = delete;
  Spares& operator=(const Spares&) = delete;

  std::unique_ptr<T> get() {
    if (free_.empty()) return std::make_unique<T>();
    std::unique_ptr<T> p = std::move(free_.back());
    free_.pop_back();
    kept_ -= p->kept_bytes();
    return p;
  }
  void put(std::unique_ptr<T> p) {
    if (!p || free_.size() >= keep_) return;  // freed
    p->recycle(budget_ - kept_);
    if constexpr (kAsan) return;  // freed (see above)
    kept_ += p->kept_bytes();
    free_.push_back(std::move(p));
  }
  size_t spare() const { return free_.size(); }
  size_t kept_bytes() const { return kept_; }

 private:
  size_t keep_, budget_;
  size_t kept_ = 0;
  std::vector<std::unique_ptr<T>> free_;
};

// Keeps `buf`'s capacity when it is at most `max` and fits in `room` (which shrinks by as
// much); else frees it. `buf` ends empty either way.
template <class Buffer>
void keep_or_free(Buffer& buf, size_t max, size_t& room) {
  size_t cap = buf.capacity() * sizeof(typename Buffer::value_type);
  if (cap <= max && cap <= room) {
    buf.clear();
    room -= cap;
  } else {
    Buffer().swap(buf);
  }
}

}  // namespace askr::base
