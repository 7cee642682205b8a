#include "handlers/mime.h"

#include <algorithm>
#include <array>

namespace askr::handlers {

namespace {

struct MimeEntry {
  std::string_view ext;  // lower case
  std::string_view type;
};

constexpr std::string_view kOctetStream = "application/octet-stream";

// Sorted by extension (checked below) for a binary search.
constexpr std::array kTable = {
    MimeEntry{"apng", "image/apng"},
    MimeEntry{"atom", "application/atom+xml"},
    MimeEntry{"avif", "image/avif"},
    MimeEntry{"bmp", "image/bmp"},
    MimeEntry{"css", "text/css; charset=utf-8"},
    MimeEntry{"csv", "text/csv; charset=utf-8"},
    MimeEntry{"eot", "application/vnd.ms-fontobject"},
    MimeEntry{"flac", "audio/flac"},
    MimeEntry{"gif", "image/gif"},
    MimeEntry{"gz", "application/gzip"},
    MimeEntry{"htm", "text/html; charset=utf-8"},
    MimeEntry{"html", "text/html; charset=utf-8"},
    MimeEntry{"ico", "image/x-icon"},
    MimeEntry{"ics", "text/calendar; charset=utf-8"},
    MimeEntry{"jpeg", "image/jpeg"},
    MimeEntry{"jpg", "image/jpeg"},
    MimeEntry{"js", "text/javascript; charset=utf-8"},
    MimeEntry{"json", "application/json"},
    MimeEntry{"jsonld", "application/ld+json"},
    MimeEntry{"jxl", "image/jxl"},
    MimeEntry{"m3u8", "application/vnd.apple.mpegurl"},
    MimeEntry{"m4a", "audio/mp4"},
    MimeEntry{"map", "application/json"},
    MimeEntry{"md", "text/markdown; charset=utf-8"},
    MimeEntry{"mjs", "text/javascript; charset=utf-8"},
    MimeEntry{"mov", "video/quicktime"},
    MimeEntry{"mp3", "audio/mpeg"},
    MimeEntry{"mp4", "video/mp4"},
    MimeEntry{"oga", "audio/ogg"},
    MimeEntry{"ogg", "audio/ogg"},
    MimeEntry{"ogv", "video/ogg"},
    MimeEntry{"opus", "audio/ogg"},
    MimeEntry{"otf", "font/otf"},
    MimeEntry{"pdf", "application/pdf"},
    MimeEntry{"png", "image/png"},
    MimeEntry{"rss", "application/rss+xml"},
    MimeEntry{"svg", "image/svg+xml"},
    MimeEntry{"tar", "application/x-tar"},
    MimeEntry{"tif", "image/tiff"},
    MimeEntry{"tiff", "image/tiff"},
    MimeEntry{"ttf", "font/ttf"},
    MimeEntry{"txt", "text/plain; charset=utf-8"},
    MimeEntry{"vtt", "text/vtt; charset=utf-8"},
    MimeEntry{"wasm", "application/wasm"},
    MimeEntry{"wav", "audio/wav"},
    MimeEntry{"weba", "audio/webm"},
    MimeEntry{"webm", "video/webm"},
    MimeEntry{"webmanifest", "application/manifest+json"},
    MimeEntry{"webp", "image/webp"},
    MimeEntry{"woff", "font/woff"},
    MimeEntry{"woff2", "font/woff2"},
    MimeEntry{"xhtml", "application/xhtml+xml"},
    MimeEntry{"xml", "application/xml"},
    MimeEntry{"zip", "application/zip"},
};

constexpr size_t longest_extension() {
  size_t n = 0;
  for (const MimeEntry& e : kTable) n = std::max(n, e.ext.size());
  return n;
}

constexpr size_t kMaxExt = longest_extension();

static_assert(std::is_sorted(kTable.begin(), kTable.end(),
                             [](const MimeEntry& a, const MimeEntry& b) { return a.ext < b.ext; }),
              "kTable must be sorted by extension");

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

}  // namespace

std::string_view mime_type(std::string_view path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return kOctetStream;
  const std::string_view ext = path.substr(dot + 1);
  if (ext.empty() || ext.size() > kMaxExt || ext.find('/') != std::string_view::npos) {
    return kOctetStream;
  }
  char buf[kMaxExt];
  for (size_t i = 0; i < ext.size(); ++i) buf[i] = to_lower(ext[i]);
  const std::string_view key(buf, ext.size());
  const auto it =
      std::lower_bound(kTable.begin(), kTable.end(), key,
                       [](const MimeEntry& e, std::string_view k) { return e.ext < k; });
  return (it != kTable.end() && it->ext == key) ? it->type : kOctetStream;
}

}  // namespace askr::handlers
