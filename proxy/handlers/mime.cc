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
    MimeEntry{"3gp", "video/3gpp"},
    MimeEntry{"3gpp", "video/3gpp"},
    MimeEntry{"7z", "application/x-7z-compressed"},
    MimeEntry{"ai", "application/postscript"},
    MimeEntry{"apng", "image/apng"},
    MimeEntry{"atom", "application/atom+xml"},
    MimeEntry{"avi", "video/x-msvideo"},
    MimeEntry{"avif", "image/avif"},
    MimeEntry{"bmp", "image/bmp"},
    MimeEntry{"crt", "application/x-x509-ca-cert"},
    MimeEntry{"css", "text/css; charset=utf-8"},
    MimeEntry{"csv", "text/csv; charset=utf-8"},
    MimeEntry{"der", "application/x-x509-ca-cert"},
    MimeEntry{"doc", "application/msword"},
    MimeEntry{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    MimeEntry{"ear", "application/java-archive"},
    MimeEntry{"eot", "application/vnd.ms-fontobject"},
    MimeEntry{"eps", "application/postscript"},
    MimeEntry{"flac", "audio/flac"},
    MimeEntry{"flv", "video/x-flv"},
    MimeEntry{"gif", "image/gif"},
    MimeEntry{"gz", "application/gzip"},
    MimeEntry{"htm", "text/html; charset=utf-8"},
    MimeEntry{"html", "text/html; charset=utf-8"},
    MimeEntry{"ico", "image/x-icon"},
    MimeEntry{"ics", "text/calendar; charset=utf-8"},
    MimeEntry{"jar", "application/java-archive"},
    MimeEntry{"jnlp", "application/x-java-jnlp-file"},
    MimeEntry{"jpeg", "image/jpeg"},
    MimeEntry{"jpg", "image/jpeg"},
    MimeEntry{"js", "text/javascript; charset=utf-8"},
    MimeEntry{"json", "application/json"},
    MimeEntry{"jsonld", "application/ld+json"},
    MimeEntry{"jxl", "image/jxl"},
    MimeEntry{"kml", "application/vnd.google-earth.kml+xml"},
    MimeEntry{"kmz", "application/vnd.google-earth.kmz"},
    MimeEntry{"m3u8", "application/vnd.apple.mpegurl"},
    MimeEntry{"m4a", "audio/mp4"},
    MimeEntry{"m4v", "video/x-m4v"},
    MimeEntry{"map", "application/json"},
    MimeEntry{"md", "text/markdown; charset=utf-8"},
    MimeEntry{"mid", "audio/midi"},
    MimeEntry{"midi", "audio/midi"},
    MimeEntry{"mjs", "text/javascript; charset=utf-8"},
    MimeEntry{"mov", "video/quicktime"},
    MimeEntry{"mp3", "audio/mpeg"},
    MimeEntry{"mp4", "video/mp4"},
    MimeEntry{"mpeg", "video/mpeg"},
    MimeEntry{"mpg", "video/mpeg"},
    MimeEntry{"odg", "application/vnd.oasis.opendocument.graphics"},
    MimeEntry{"odp", "application/vnd.oasis.opendocument.presentation"},
    MimeEntry{"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    MimeEntry{"odt", "application/vnd.oasis.opendocument.text"},
    MimeEntry{"oga", "audio/ogg"},
    MimeEntry{"ogg", "audio/ogg"},
    MimeEntry{"ogv", "video/ogg"},
    MimeEntry{"opus", "audio/ogg"},
    MimeEntry{"otf", "font/otf"},
    MimeEntry{"pdf", "application/pdf"},
    MimeEntry{"pem", "application/x-x509-ca-cert"},
    MimeEntry{"png", "image/png"},
    MimeEntry{"ppt", "application/vnd.ms-powerpoint"},
    MimeEntry{"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    MimeEntry{"ps", "application/postscript"},
    MimeEntry{"rar", "application/x-rar-compressed"},
    MimeEntry{"rpm", "application/x-redhat-package-manager"},
    MimeEntry{"rss", "application/rss+xml"},
    MimeEntry{"rtf", "application/rtf"},
    MimeEntry{"shtml", "text/html; charset=utf-8"},
    MimeEntry{"svg", "image/svg+xml"},
    MimeEntry{"tar", "application/x-tar"},
    MimeEntry{"tif", "image/tiff"},
    MimeEntry{"tiff", "image/tiff"},
    MimeEntry{"ts", "video/mp2t"},
    MimeEntry{"ttf", "font/ttf"},
    MimeEntry{"txt", "text/plain; charset=utf-8"},
    MimeEntry{"vtt", "text/vtt; charset=utf-8"},
    MimeEntry{"war", "application/java-archive"},
    MimeEntry{"wasm", "application/wasm"},
    MimeEntry{"wav", "audio/wav"},
    MimeEntry{"weba", "audio/webm"},
    MimeEntry{"webm", "video/webm"},
    MimeEntry{"webmanifest", "application/manifest+json"},
    MimeEntry{"webp", "image/webp"},
    MimeEntry{"wmv", "video/x-ms-wmv"},
    MimeEntry{"woff", "font/woff"},
    MimeEntry{"woff2", "font/woff2"},
    MimeEntry{"xhtml", "application/xhtml+xml"},
    MimeEntry{"xls", "application/vnd.ms-excel"},
    MimeEntry{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    MimeEntry{"xml", "application/xml"},
    MimeEntry{"xpi", "application/x-xpinstall"},
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
