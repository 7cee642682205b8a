// Counts heap allocation calls of a process (LD_PRELOAD), for bench/static.sh.
//
//   cc -shared -fPIC -O2 -o alloccount.so bench/alloccount.c -ldl
//   ALLOCCOUNT_FILE=/tmp/counts LD_PRELOAD=./alloccount.so SERVER ...
//
// Wraps malloc, calloc, realloc, free, aligned_alloc, posix_memalign, memalign, valloc and
// pvalloc (the real ones come from dlsym(RTLD_NEXT)) and counts the calls in process-wide
// atomic counters. With ALLOCCOUNT_FILE set, the counters live in that file, mapped shared,
// so that they can be read at any moment from outside (`od -An -tu8 -w8 FILE`: one counter a
// line, in the order of `enum`) without a signal or a thread in the server: askr-proxy takes
// SIGHUP/SIGUSR1 and nginx SIGUSR2 for themselves, and a forked nginx worker would not keep a
// thread. Processes forked from it share the mapping (the counts are then their sum, e.g.
// nginx master + worker); a program it execs loads the library again and adds to the same file.
// Without ALLOCCOUNT_FILE the counts are kept in memory only.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_ALIGNED_ALLOC, C_POSIX_MEMALIGN, C_MEMALIGN,
       C_VALLOC, C_PVALLOC, C_COUNT };

static uint64_t local_counts[C_COUNT];
static uint64_t* counts = local_counts;

static void* (*real_malloc)(size_t);
static void* (*real_calloc)(size_t, size_t);
static void* (*real_realloc)(void*, size_t);
static void (*real_free)(void*);
static void* (*real_aligned_alloc)(size_t, size_t);
static int (*real_posix_memalign)(void**, size_t, size_t);
static void* (*real_memalign)(size_t, size_t);
static void* (*real_valloc)(size_t);
static void* (*real_pvalloc)(size_t);

// dlsym may allocate (calloc for its error state) before the real functions are known: those
// few allocations come from this buffer and are never freed.
static _Alignas(64) char boot_buf[16384];
static size_t boot_used;
static int resolving;

static void* boot_alloc(size_t n) {
  size_t off = __atomic_fetch_add(&boot_used, (n + 63) & ~(size_t)63, __ATOMIC_RELAXED);
  if (off + n > sizeof boot_buf) return NULL;
  return boot_buf + off;
}
static int is_boot(const void* p) {
  return (const char*)p >= boot_buf && (const char*)p < boot_buf + sizeof boot_buf;
}

static void count(int which) { __atomic_fetch_add(&counts[which], 1, __ATOMIC_RELAXED); }

static void resolve(void) {
  if (real_malloc || resolving) return;
  resolving = 1;
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_free = dlsym(RTLD_NEXT, "free");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_memalign = dlsym(RTLD_NEXT, "memalign");
  real_valloc = dlsym(RTLD_NEXT, "valloc");
  real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  resolving = 0;
}

__attribute__((constructor)) static void alloccount_init(void) {
  resolve();
  const char* path = getenv("ALLOCCOUNT_FILE");
  if (!path || !*path) return;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  struct stat st;
  size_t size = sizeof(uint64_t) * C_COUNT;
  if (fstat(fd, &st) == 0 && (size_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return;
  }
  void* m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m != MAP_FAILED) counts = m;
}

void* malloc(size_t n) {
  if (!real_malloc) {
    if (resolving) return boot_alloc(n);
    resolve();
  }
  count(C_MALLOC);
  return real_malloc(n);
}

void* calloc(size_t a, size_t b) {
  if (!real_calloc) {
    if (resolving) return boot_alloc(a * b);  // boot_buf is static: already zero
    resolve();
  }
  count(C_CALLOC);
  return real_calloc(a, b);
}

void* realloc(void* p, size_t n) {
  if (!real_realloc) resolve();
  count(C_REALLOC);
  if (is_boot(p)) {
    void* q = real_malloc(n);
    size_t avail = (size_t)(boot_buf + sizeof boot_buf - (char*)p);
    if (q) memcpy(q, p, n < avail ? n : avail);
    return q;
  }
  return real_realloc(p, n);
}

void free(void* p) {
  if (!p || is_boot(p)) return;
  if (!real_free) resolve();
  count(C_FREE);
  real_free(p);
}

void* aligned_alloc(size_t a, size_t n) {
  if (!real_aligned_alloc) resolve();
  count(C_ALIGNED_ALLOC);
  return real_aligned_alloc(a, n);
}

int posix_memalign(void** out, size_t a, size_t n) {
  if (!real_posix_memalign) resolve();
  count(C_POSIX_MEMALIGN);
  return real_posix_memalign(out, a, n);
}

void* memalign(size_t a, size_t n) {
  if (!real_memalign) resolve();
  count(C_MEMALIGN);
  return real_memalign(a, n);
}

void* valloc(size_t n) {
  if (!real_valloc) resolve();
  count(C_VALLOC);
  return real_valloc(n);
}

void* pvalloc(size_t n) {
  if (!real_pvalloc) resolve();
  count(C_PVALLOC);
  return real_pvalloc(n);
}
