// A loop's cache of small static files: the bytes, validators and the outcome of index and
// precompressed-sibling lookup, keyed by the files' root (StaticSite::id: root or alias and
// symlink rule), path and what the client accepts. An entry serves
// only within the second it was made, so a changed file is seen within a second (like nginx's
// open_file_cache_valid) while a busy file costs no system call at all in between.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace askr::handlers {

// What a cache entry serves: the bytes of a small file, or a larger file kept open (like
// nginx's open_file_cache). Shared with the responses that send it, so that an entry dropped
// from the cache stays valid until they are done with it.
struct CachedBody {
  std::string bytes;  // a file up to FileCache::kMaxFile
  int fd = -1;  // a larger file (or a small one from kSendfileFrom), closed with the last holder
  // Its ETag and Last-Modified values, formatted once for every response that sends it.
  std::string etag, last_modified;
  CachedBody() = default;
  CachedBody(const CachedBody&) = delete;
  CachedBody& operator=(const CachedBody&) = delete;
  ~CachedBody() {
    if (fd >= 0) ::close(fd);
  }
};

struct CachedFile {
  std::shared_ptr<CachedBody> body;
  uint64_t size = 0;
  std::string_view type;      // from the static MIME table
  std::string_view encoding;  // "" or a static "br"/"gzip"
  bool vary = false;
  time_t mtime = 0;
  time_t modified = 0;  // its Last-Modified: the mtime, or the clock's second if that is earlier
};

class FileCache {
 public:
  static constexpr size_t kMaxFile = 16 * 1024;  // larger files are kept open, not read
  // Smaller files are kept as bytes only; from this size up they are kept open as well, so that
  // a transport that can sendfile sends them from the page cache instead of copying the bytes.
  static constexpr size_t kSendfileFrom = 4 * 1024;
  static constexpr size_t kMaxBytes = 4 << 20;  // per loop; the cache empties when full
  static constexpr size_t kMaxOpen = 1024;      // open files per loop; likewise

  FileCache();
  // A new second empties the cache: every entry was valid only within the second it was made,
  // and neither memory nor descriptors are held for files nobody asks for any more.
  void set_now(time_t now);
  // The second set_now() gave: the one the responses' Date says.
  time_t now() const { return now_; }
  // The entry for this request, when one was made this second. `files_id` is the
  // StaticSite::id the file was looked up under, never shared by two roots or symlink rules.
  const CachedFile* find(uint64_t files_id, std::string_view rel, uint8_t accept);
  const CachedFile* put(uint64_t files_id, std::string_view rel, uint8_t accept, CachedFile entry);
  // Whether larger files may be kept open (false under a very low descriptor limit).
  bool keeps_files() const { return max_open_ > 0; }

  // What a path is (a PHP handler's script lookup: missing, file, directory or other, as the
  // caller defines), when it was looked up this second; -1 when not. Cached like the files, so
  // that a busy script costs no openat2/fstat/close per request.
  static constexpr size_t kMaxKinds = 4096;  // per loop; the kinds empty when full
  int find_kind(uint64_t files_id, std::string_view rel);
  void put_kind(uint64_t files_id, std::string_view rel, uint8_t kind);

 private:
  const std::string& key(uint64_t files_id, std::string_view rel, uint8_t accept);

  std::unordered_map<std::string, CachedFile> map_;
  std::unordered_map<std::string, uint8_t> kinds_;
  std::string key_;
  size_t bytes_ = 0;
  size_t open_ = 0;
  size_t max_open_ = kMaxOpen;  // lower when RLIMIT_NOFILE is low: accepting comes first
  time_t now_ = time(nullptr);
};

}  // namespace askr::handlers
