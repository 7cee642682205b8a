// Copies of bulk bytes (bodies on their way through) that stay fast where the C library's own
// would not. glibc (2.36 in Debian 12) copies blocks from about 2 KiB up with REP MOVSB, which
// AMD Zen 3 and Zen 4 run some thirty times slower when the destination lies 1 to 31 bytes past
// the source modulo 4 KiB: an EPYC here copies 8 KiB in 3.1 to 4.6 µs with the destination 1 to
// 16 bytes past, in 0.11 to 0.18 µs at 0 and from 32 on. Bodies fall into that case more often
// than chance says, as they move in page-multiple strides: php-fpm writes its output in
// 8,192-byte records, and each record's payload, copied after an HTTP/1.1 chunk's size line,
// lands a few bytes from where it lay, record after record (a 50 MiB readfile() over HTTP/1.1
// spent 40% of askr-proxy's CPU in that memcpy). Where the two addresses are that close (63
// bytes, with a margin), the copy goes in pieces small enough for glibc's vector loops, which
// have no such case; elsewhere it is one memcpy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace askr::base {

constexpr size_t kCopyPiece = 1024;  // below every REP MOVSB threshold glibc picks

// Whether a forward copy from `src` to `dst` is in (or near) the slow case: 1 to 63 bytes past,
// modulo 4 KiB.
inline bool slow_copy_distance(const void* dst, const void* src) {
#if defined(__x86_64__) || defined(__i386__)
  const uintptr_t d = (reinterpret_cast<uintptr_t>(dst) - reinterpret_cast<uintptr_t>(src)) & 4095;
  return d - 1 < 63;
#else
  (void)dst;
  (void)src;
  return false;
#endif
}

// How far into a page a receive buffer starts. The kernel copies with REP MOVSB too, and a Unix
// socket keeps most of a large write in whole pages, behind a few bytes that start the next
// read: those bytes put the rest a few bytes past where it lies in its page when the buffer
// starts a page. Reading 8,200-byte writes (a FastCGI record of 8 KiB) cost 10.5 µs per write
// and read here into a page-aligned buffer, 4.2 to 5.7 µs from 32 bytes in; for a 50 MiB PHP
// response from askr-worker, the kernel's copy into askr-proxy's buffers took 22 to 26% of its
// CPU with the buffers at a page start, 16 to 19% at 64 bytes in.
constexpr size_t kRecvSkew = 64;

// Copies `s` to `p` (a piece of a head or a record, short); returns the end.
inline char* put(char* p, std::string_view s) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());  // an empty view's data may be null
  return p + s.size();
}

// memcpy (the ranges do not overlap).
inline void copy_bytes(void* dst, const void* src, size_t n) {
  if (n < 2 * kCopyPiece || !slow_copy_distance(dst, src)) {
    std::memcpy(dst, src, n);
    return;
  }
  auto* d = static_cast<char*>(dst);
  auto* s = static_cast<const char*>(src);
  for (size_t k; n > 0; d += k, s += k, n -= k) {
    k = n < kCopyPiece ? n : kCopyPiece;
    std::memcpy(d, s, k);
  }
}

// out.append(p, n), growing `out` as append does (doubling), never from `out` itself.
inline void append_bytes(std::string& out, const char* p, size_t n) {
  const size_t at = out.size();
  if (n < 2 * kCopyPiece) {
    out.append(p, n);
    return;
  }
  if (out.capacity() - at < n) out.reserve(std::max(at + n, 2 * out.capacity()));
  if (!slow_copy_distance(out.data() + at, p)) {
    out.append(p, n);
    return;
  }
  for (size_t k; n > 0; p += k, n -= k) {
    k = n < kCopyPiece ? n : kCopyPiece;
    out.append(p, k);
  }
}

// out.erase(0, n): the bytes after the first n move to the front. Moving down is a forward copy
// from n bytes on, so it is slow when n is 1 to 63 short of a multiple of 4 KiB.
inline void erase_front(std::string& out, size_t n) {
  const size_t rest = out.size() - n;
  if (rest < 2 * kCopyPiece || !slow_copy_distance(out.data(), out.data() + n)) {
    out.erase(0, n);
    return;
  }
  char* d = out.data();
  for (size_t at = 0, k; at < rest; at += k) {  // each piece's source lies past every piece before
    k = rest - at < kCopyPiece ? rest - at : kCopyPiece;
    std::memmove(d + at, d + n + at, k);
  }
  out.resize(rest);
}

}  // namespace askr::base
