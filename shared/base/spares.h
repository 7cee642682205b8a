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
#include <string>
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

// keep_or_free()'s rare case, out of line so that the usual one stays small enough to inline.
template <class Buffer>
[[gnu::noinline]] void free_buffer(Buffer& buf) {
  Buffer().swap(buf);
}

// Keeps `buf`'s capacity when it is at most `max` and fits in `room` (which shrinks by as
// much); else frees it. `buf` ends empty either way. Inline: a recycled object calls it for
// each of its buffers.
template <class Buffer>
inline void keep_or_free(Buffer& buf, size_t max, size_t& room) {
  size_t cap = buf.capacity() * sizeof(typename Buffer::value_type);
  if (cap <= max && cap <= room) [[likely]] {
    buf.clear();
    room -= cap;
  } else {
    free_buffer(buf);
  }
}

// Spare string buffers, one list per loop: a buffer that grew (a response's, a TLS batch's) is
// kept for the next use rather than given back to malloc, whose arena would return its pages to
// the kernel and take them back as zeroed page faults. Bounded three ways: at most `keep`
// buffers, none larger than `max_each`, `budget` bytes in all. With `small_max`, buffers of at
// most that size are kept apart, for users that want no large one (a request's head).
class BufferSpares {
 public:
  BufferSpares(size_t keep, size_t max_each, size_t budget, size_t small_max = 0)
      : keep_(keep), max_each_(max_each), budget_(budget), small_max_(small_max) {}
  BufferSpares(const BufferSpares&) = delete;
  BufferSpares& operator=(const BufferSpares&) = delete;

  // Gives `s` (empty) the storage of a spare larger than its own, if there is one: a large one
  // first, or only a small one with `small_only`.
  void get(std::string& s, bool small_only = false) {
    std::vector<std::string>& from = small_only || large_.empty() ? small_ : large_;
    if (from.empty() || from.back().capacity() <= s.capacity()) return;
    s.swap(from.back());
    from.pop_back();
    kept_ -= s.capacity();
  }
  // Takes `s`'s storage (leaving `s` without any): kept within the bounds, else freed.
  void put(std::string& s) {
    size_t cap = s.capacity();
    if (cap <= 15) return;  // no storage of its own
    if (cap <= max_each_ && kept_ + cap <= budget_ && count() < keep_) {
      s.clear();
      kept_ += cap;
      (cap <= small_max_ ? small_ : large_).push_back(std::move(s));
    }
    std::string().swap(s);
  }
  size_t count() const { return small_.size() + large_.size(); }
  size_t kept_bytes() const { return kept_; }

 private:
  size_t keep_, max_each_, budget_, small_max_;
  size_t kept_ = 0;
  std::vector<std::string> small_, large_;
};

}  // namespace askr::base
