#include "net/sni.h"

#include "shared/config/server_name.h"

namespace askr::net {

void SniMap::add(std::string_view name, int site) {
  if (name.starts_with("*.")) {
    for (const auto& [pattern, s] : wildcards_) {
      if (pattern == name) return;
    }
    wildcards_.emplace_back(name, site);
    return;
  }
  exact_.emplace(std::string(name), site);
}

int SniMap::find(std::string_view host) const {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 255) return -1;
  char lower[256];
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    lower[i] = c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
  }
  std::string_view name(lower, host.size());
  if (auto it = exact_.find(std::string(name)); it != exact_.end()) return it->second;
  for (const auto& [pattern, site] : wildcards_) {
    if (config::wildcard_matches(pattern, name)) return site;
  }
  return -1;
}

// ServerNameList: a 2-byte length, then entries of a 1-byte type, a 2-byte length and the name.
// Only host_name (0) is defined; the first one is the name.
std::string_view parse_sni_extension(const uint8_t* data, size_t len) {
  if (len < 2) return {};
  size_t list = size_t(data[0]) << 8 | data[1];
  if (list + 2 != len) return {};
  size_t pos = 2;
  while (pos + 3 <= len) {
    uint8_t type = data[pos];
    size_t n = size_t(data[pos + 1]) << 8 | data[pos + 2];
    pos += 3;
    if (pos + n > len) return {};
    if (type == 0) {
      std::string_view name(reinterpret_cast<const char*>(data + pos), n);
      // A name holds no NUL and no byte outside printable ASCII.
      for (char c : name) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
          return {};
      }
      return name;
    }
    pos += n;
  }
  return {};
}

bool offers_tls13(const uint8_t* data, size_t len) {
  if (len < 1 || size_t(data[0]) + 1 != len || data[0] % 2 != 0) return false;
  for (size_t pos = 1; pos + 1 < len; pos += 2) {
    if (data[pos] == 0x03 && data[pos + 1] == 0x04) return true;
  }
  return false;
}

}  // namespace askr::net
