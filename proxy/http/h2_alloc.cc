#include "http/h2_alloc.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

#include "shared/base/poison.h"

namespace askr::http {
namespace {

// The header in front of every payload: the block's class (or kLarge) and, for a large block,
// its payload size (realloc needs it).
struct Header {
  uint32_t cls;
  uint32_t pad;
  uint64_t large_size;
};
static_assert(sizeof(Header) == H2Allocator::kHeader);

Header* header_of(void* p) {
  return reinterpret_cast<Header*>(static_cast<char*>(p) - H2Allocator::kHeader);
}
const Header* header_of(const void* p) {
  return reinterpret_cast<const Header*>(static_cast<const char*>(p) - H2Allocator::kHeader);
}

}  // namespace

H2Allocator::~H2Allocator() {
  for (Free*& head : free_) {
    while (head) {
      base::unpoison(head, capacity(head));
      Free* next = head->next;
      std::free(reinterpret_cast<char*>(head) - kHeader);
      head = next;
    }
  }
}

int H2Allocator::class_of(size_t n) {
  size_t total = n + kHeader;
  if (total > kMaxBlock) return -1;
  if (total <= kMinBlock) return 0;
  return int(std::bit_width(total - 1) - std::bit_width(kMinBlock - 1));
}

void* H2Allocator::allocate(size_t n) {
  int cls = class_of(n);
  if (cls < 0) {
    if (n > SIZE_MAX - kHeader) return nullptr;
    auto* h = static_cast<Header*>(std::malloc(n + kHeader));
    if (!h) return nullptr;
    ++from_malloc_;
    h->cls = kLarge;
    h->large_size = n;
    return reinterpret_cast<char*>(h) + kHeader;
  }
  if (Free* f = free_[cls]) {
    base::unpoison(f, capacity(f));
    free_[cls] = f->next;
    --count_[cls];
    kept_ -= kMinBlock << cls;
    return f;
  }
  auto* h = static_cast<Header*>(std::malloc(kMinBlock << cls));
  if (!h) return nullptr;
  ++from_malloc_;
  h->cls = uint32_t(cls);
  return reinterpret_cast<char*>(h) + kHeader;
}

void H2Allocator::deallocate(void* p) {
  if (!p) return;
  Header* h = header_of(p);
  if (h->cls == kLarge || count_[h->cls] >= kKeepBlocks ||
      kept_ + (kMinBlock << h->cls) > kKeepBytes) {
    return std::free(h);
  }
  kept_ += kMinBlock << h->cls;
  auto* f = static_cast<Free*>(p);
  f->next = free_[h->cls];
  free_[h->cls] = f;
  ++count_[h->cls];
  // A stale pointer into a spare block is an ASan error. The link stays readable: LeakSanitizer
  // skips poisoned words, and would take the rest of the list for leaks.
  base::poison(f + 1, capacity(f) - sizeof(Free));
}

void* H2Allocator::zallocate(size_t nmemb, size_t size) {
  if (size && nmemb > SIZE_MAX / size) return nullptr;
  void* p = allocate(nmemb * size);
  if (p) std::memset(p, 0, nmemb * size);
  return p;
}

void* H2Allocator::reallocate(void* p, size_t n) {
  if (!p) return allocate(n);
  if (n == 0) {
    deallocate(p);
    return nullptr;
  }
  size_t have = capacity(p);
  if (n <= have && header_of(p)->cls != kLarge) return p;  // still fits its block
  void* q = allocate(n);
  if (!q) return nullptr;  // p stays valid, as with realloc
  std::memcpy(q, p, std::min(have, n));
  deallocate(p);
  return q;
}

size_t H2Allocator::capacity(const void* p) {
  const Header* h = header_of(p);
  return h->cls == kLarge ? size_t(h->large_size) : (kMinBlock << h->cls) - kHeader;
}

size_t H2Allocator::spare(size_t n) const {
  int cls = class_of(n);
  return cls < 0 ? 0 : count_[cls];
}

H2Allocator& H2Allocator::local() {
  thread_local H2Allocator a;
  return a;
}

nghttp2_mem* H2Allocator::mem() {
  static nghttp2_mem m = {
      nullptr,
      [](size_t n, void*) { return local().allocate(n); },
      [](void* p, void*) { local().deallocate(p); },
      [](size_t nmemb, size_t size, void*) { return local().zallocate(nmemb, size); },
      [](void* p, size_t n, void*) { return local().reallocate(p, n); },
  };
  return &m;
}

}  // namespace askr::http
