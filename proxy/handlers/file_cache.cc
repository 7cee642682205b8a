#include "handlers/file_cache.h"

#include <sys/resource.h>

#include <algorithm>

namespace askr::handlers {

FileCache::FileCache() {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    max_open_ = std::min<size_t>(kMaxOpen, size_t(nofile.rlim_cur) / 16);
  }
}

void FileCache::set_now(time_t now) {
  if (now == now_) return;
  now_ = now;
  map_.clear();
  kinds_.clear();
  bytes_ = 0;
  open_ = 0;
}

const std::string& FileCache::key(uint64_t files_id, std::string_view rel, uint8_t accept) {
  key_.assign(rel);
  key_ += '\0';
  key_ += char(accept);
  key_.append(reinterpret_cast<const char*>(&files_id), sizeof files_id);
  return key_;
}

const CachedFile* FileCache::find(uint64_t files_id, std::string_view rel, uint8_t accept) {
  // Every entry was made this second: set_now empties the cache when a new one begins.
  auto it = map_.find(key(files_id, rel, accept));
  return it == map_.end() ? nullptr : &it->second;
}

const CachedFile* FileCache::put(uint64_t files_id, std::string_view rel, uint8_t accept,
                                 CachedFile entry) {
  bool fd = entry.body->fd >= 0;
  if (bytes_ + entry.body->bytes.size() > kMaxBytes || (fd && open_ >= max_open_)) {
    map_.clear();
    bytes_ = 0;
    open_ = 0;
  }
  bytes_ += entry.body->bytes.size();
  open_ += fd;
  auto [it, fresh] = map_.insert_or_assign(key(files_id, rel, accept), std::move(entry));
  return &it->second;
}

// Kinds share the key space with the files through an accept byte no file lookup uses.
constexpr uint8_t kKindKey = 0xff;

int FileCache::find_kind(uint64_t files_id, std::string_view rel) {
  auto it = kinds_.find(key(files_id, rel, kKindKey));
  return it == kinds_.end() ? -1 : it->second;
}

void FileCache::put_kind(uint64_t files_id, std::string_view rel, uint8_t kind) {
  if (kinds_.size() >= kMaxKinds) kinds_.clear();
  kinds_.insert_or_assign(key(files_id, rel, kKindKey), kind);
}

}  // namespace askr::handlers
