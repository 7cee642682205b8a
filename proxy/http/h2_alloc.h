// Size-class free lists for nghttp2's allocations (nghttp2_session_server_new3's nghttp2_mem).
// nghttp2 allocates per stream (the stream object, outbound items, header name/value copies,
// HPACK entries) and frees them when the stream ends; through glibc that is a third of a loop's
// time under many small HTTP/2 requests. Here a freed block goes on the free list of its size
// class and the next allocation of that class takes it back, so a loop in steady state calls
// malloc for none of them.
//
// One allocator per thread (a loop is one thread; nghttp2 never shares a session between
// threads). A block carries its class in a 16-byte header (so payloads keep malloc's 16-byte
// alignment), which lets free() find its list without a size. Blocks larger than the largest
// class (nghttp2's per-session frame buffers) go straight to malloc. Bounded: each class keeps at
// most kKeepBlocks spare blocks and all classes together at most kKeepBytes; beyond that a freed
// block goes back to malloc, so a burst of streams cannot pin memory. The bounds are sized for a
// loop with ten thousand streams in flight, which retires and starts them in bursts.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>

namespace askr::http {

class H2Allocator {
 public:
  static constexpr size_t kHeader = 16;
  static constexpr size_t kMinBlock = 32;  // header included
  static constexpr size_t kClasses = 8;    // 32, 64, ... 4096 bytes, header included
  static constexpr size_t kMaxBlock = kMinBlock << (kClasses - 1);
  static constexpr size_t kKeepBlocks = 32768;    // spare blocks kept per class
  static constexpr size_t kKeepBytes = 16 << 20;  // ... and in all, their whole size

  H2Allocator() = default;
  ~H2Allocator();
  H2Allocator(const H2Allocator&) = delete;
  H2Allocator& operator=(const H2Allocator&) = delete;

  // malloc, free, calloc and realloc semantics (null on failure; free(nullptr) and
  // realloc(nullptr, n) allowed; realloc(p, 0) frees p and returns null).
  void* allocate(size_t n);
  void deallocate(void* p);
  void* zallocate(size_t nmemb, size_t size);
  void* reallocate(void* p, size_t n);

  // The usable size of a block from this allocator.
  static size_t capacity(const void* p);
  // Spare blocks of the class that holds `n` bytes, and their bytes in all (for tests).
  size_t spare(size_t n) const;
  size_t kept_bytes() const { return kept_; }
  // Blocks allocated from malloc so far (a class's list was empty, or the block was large).
  uint64_t from_malloc() const { return from_malloc_; }

  // This thread's allocator, and an nghttp2_mem that uses it.
  static H2Allocator& local();
  static nghttp2_mem* mem();

 private:
  struct Free {
    Free* next;
  };
  static constexpr uint32_t kLarge = 0xffffffff;
  static int class_of(size_t n);  // -1: larger than every class

  Free* free_[kClasses] = {};
  size_t count_[kClasses] = {};
  size_t kept_ = 0;  // bytes in all free lists
  uint64_t from_malloc_ = 0;
};

}  // namespace askr::http
