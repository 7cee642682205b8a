// Marks memory that a free list holds as unusable under AddressSanitizer, so that a stale
// pointer to a recycled object is still reported as a use after free; without ASan, nothing.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define ASKR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASKR_ASAN 1
#endif
#endif

#ifdef ASKR_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace askr::base {

#ifdef ASKR_ASAN
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif

inline void poison(const void* p, size_t n) {
#ifdef ASKR_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}

inline void unpoison(const void* p, size_t n) {
#ifdef ASKR_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}

}  // namespace askr::base
