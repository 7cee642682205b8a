// Class-specific operator new and delete that keep freed blocks of one class in a free list of
// the thread, for objects made and freed once per request on a loop thread (no locking: a block
// freed on another thread goes to that thread's list, which is just as good). Derive from
// Recycled<T>; blocks of any other size (a derived class) go to the global allocator. Under
// AddressSanitizer every block is freed, so that a stale pointer is still reported.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#include "shared/base/poison.h"

namespace askr::base {

template <class T, size_t kKeep = 1024>
struct Recycled {
  static void* operator new(size_t size) {
    if (size != sizeof(T) || t_dead) return ::operator new(size);
    std::vector<void*>& b = blocks().list;
    if (b.empty()) return ::operator new(size);
    void* p = b.back();
    b.pop_back();
    return p;
  }
  static void operator delete(void* p, size_t size) {
    if (kAsan || size != sizeof(T) || t_dead) return ::operator delete(p);
    std::vector<void*>& b = blocks().list;
    if (b.size() >= kKeep) return ::operator delete(p);
    b.push_back(p);
  }

 private:
  struct Blocks {
    std::vector<void*> list;
    ~Blocks() {
      t_dead = true;  // an object freed later in the thread's exit goes to the allocator
      for (void* p : list) ::operator delete(p);
    }
  };
  static Blocks& blocks() {
    thread_local Blocks b;
    return b;
  }
  static inline thread_local bool t_dead = false;
};

}  // namespace askr::base
