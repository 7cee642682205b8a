#include "handlers/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "handlers/conditional.h"
#include "handlers/mime.h"
#include "handlers/open_beneath.h"
#include "handlers/path.h"
#include "http/date.h"
#include "shared/base/log.h"

namespace askr::handlers {
namespace {

struct OpenFile {
  int fd = -1;
  struct stat st {};
};

void fail(http::Response& resp, int status) {
  resp.status = status;
  resp.set_inline(http::error_body(status), "text/plain; charset=utf-8");
}

// A method the static handler does not answer; Allow says which it does.
void not_allowed(http::Response& resp) {
  fail(resp, 405);
  resp.add("Allow", "GET, HEAD");
}

// A path the site's symlink rule refuses (or that is not readable) is 403, as nginx answers
// with disable_symlinks; anything else that cannot be opened is 404.
int status_for(int err) {
  return err == -EACCES || err == -EPERM || err == -ELOOP || err == -EXDEV ? 403 : 404;
}

// What open_file() gives for something that is neither a regular file nor a directory (a FIFO,
// a device; open(2) itself fails so for a socket): nginx answers it 404 ("is not a regular
// file"), not 403.
constexpr int kNotAFile = -ENXIO;

// Opens a regular file at `rel` beneath the root; fd = -errno when it is missing, -EISDIR for a
// directory, and kNotAFile for anything else that is there.
OpenFile open_file(const StaticSite& site, std::string_view rel) {
  OpenFile f;
  // O_NONBLOCK: a FIFO under the root must not block the loop.
  f.fd = open_beneath(site.root_fd, rel, site.symlinks, O_NONBLOCK);
  if (f.fd < 0) {
    log_refused_link(site, rel, f.fd);
    return f;
  }
  if (fstat(f.fd, &f.st) < 0) {
    ::close(f.fd);
    f.fd = -EACCES;
  } else if (!S_ISREG(f.st.st_mode)) {
    int err = S_ISDIR(f.st.st_mode) ? -EISDIR : kNotAFile;
    ::close(f.fd);
    f.fd = err;
  }
  return f;
}

bool compressible(std::string_view type) {
  return type.starts_with("text/") || type.starts_with("application/json") ||
         type.starts_with("application/javascript") || type.starts_with("image/svg") ||
         type.starts_with("application/xml") || type.starts_with("application/wasm");
}

// Picks a precompressed sibling ("file.br", then "file.gz") the client accepts. Sets `vary`
// when any sibling exists, accepted or not (as nginx's gzip_vary): the answer then depends on
// Accept-Encoding even when the plain file goes out.
bool pick_encoding(const StaticSite& site, std::string& rel, std::string_view accept,
                   OpenFile& file, std::string_view& encoding, bool& vary) {
  static constexpr std::pair<std::string_view, std::string_view> kCodings[] = {{"br", ".br"},
                                                                               {"gzip", ".gz"}};
  for (auto [coding, suffix] : kCodings) {
    const bool accepted = accepts_encoding(accept, coding);
    if (!accepted && vary) continue;
    size_t base = rel.size();
    rel += suffix;
    OpenFile sib = open_file(site, rel);
    rel.resize(base);
    if (sib.fd < 0) continue;
    vary = true;
    if (!accepted) {
      ::close(sib.fd);
      continue;
    }
    ::close(file.fd);
    file = sib;
    encoding = coding;
    return true;
  }
  return false;
}

// The preconditions in the order of RFC 9110 §13.2.2: 412 when If-Match fails, or when there
// is none and the file changed after If-Unmodified-Since; then 304 when the client's copy is
// current (If-None-Match wins over If-Modified-Since). A date that is not one is ignored, and so
// is an If-Modified-Since later than the clock (RFC 9110 §13.1.3 calls it invalid): it would
// keep a client on a copy it never had.
int check_preconditions(const http::Request& req, std::string_view etag, time_t mtime) {
  thread_local std::string im_joined, inm_joined;  // fields sent on several lines, as one list
  time_t since;
  std::string_view im = req.list(http::Known::kIfMatch, "if-match", im_joined);
  if (!im.empty() && !if_match_matches(im, etag)) return 412;
  std::string_view ius = req.known(http::Known::kIfUnmodifiedSince);
  if (im.empty() && !ius.empty() && http::parse_http_date(ius, since) && mtime > since) return 412;
  std::string_view inm = req.list(http::Known::kIfNoneMatch, "if-none-match", inm_joined);
  if (!inm.empty()) return if_none_match_matches(inm, etag) ? 304 : 0;
  std::string_view ims = req.known(http::Known::kIfModifiedSince);
  if (!ims.empty() && http::parse_http_date(ims, since) && mtime <= since &&
      since <= ::time(nullptr)) {
    return 304;
  }
  return 0;
}

// Location: the normalized path that names the directory, encoded again, with a '/' added (as
// nginx answers). Never the raw target, whose "//host/.." would lead to another site. `index`:
// the index file name that turned out to be that directory ("" when the path itself names it).
void redirect_to_directory(const http::Request& req, std::string_view index, http::Response& resp) {
  std::string loc;
  append_encoded_path(req.normalized, loc);
  append_encoded_path(index, loc);
  loc += '/';
  if (!req.query.empty()) loc.append("?").append(req.query);
  resp.status = 301;
  resp.add("Location", resp.keep(loc));
  resp.set_inline(std::string_view("301 Moved Permanently\n"), "text/plain; charset=utf-8");
}

// Finds the file for `rel` (no leading '/'); tries index files for a directory path. Returns
// the status to answer when there is no file: 301 when the path, or the index file `index` found
// for it, is a directory. nginx's index module takes the first name that exists, whatever it is,
// and redirects to it internally; a directory there is then redirected to with its slash added.
int locate(const StaticSite& site, std::string& rel, OpenFile& file, std::string_view& index) {
  if (rel.empty() || rel.back() == '/') {
    size_t base = rel.size();
    for (const std::string& name : *site.index) {
      rel += name;
      file = open_file(site, rel);
      if (file.fd >= 0) return 0;
      rel.resize(base);
      if (file.fd == -EISDIR) {
        index = name;
        return 301;
      }
      if (file.fd == kNotAFile) return 404;        // it exists: the search ends, as nginx's does
      if (status_for(file.fd) == 403) return 403;  // like nginx's index module
    }
    int dir = open_beneath(site.root_fd, rel, site.symlinks, O_PATH | O_DIRECTORY);
    log_refused_link(site, rel, dir);
    if (dir < 0) return status_for(dir);
    ::close(dir);
    return 403;  // a directory without an index: no listings
  }
  file = open_file(site, rel);
  if (file.fd == -EISDIR) return 301;
  return file.fd < 0 ? status_for(file.fd) : 0;
}

// What the response says about the file, wherever its bytes come from.
struct FileMeta {
  std::string_view type;
  std::string_view encoding;
  bool vary = false;
  time_t mtime = 0;     // the file's, in its ETag
  time_t modified = 0;  // its Last-Modified, never later than the response's Date
  uint64_t size = 0;
  // Formatted already (a cache entry's, alive as long as the response): else respond() does.
  std::string_view etag, last_modified;
};

// Which bytes of the file the request asks for (RFC 9110 §14.2): all of them (kIgnore), one
// range (kSatisfiable, `r`), or none it has (kUnsatisfiable). A HEAD request gets no range.
RangeOutcome requested_range(const http::Request& req, std::string_view etag, const FileMeta& m,
                             ByteRange& r) {
  std::string_view range = req.known(http::Known::kRange);
  if (range.empty() || req.is_head) return RangeOutcome::kIgnore;
  std::string_view if_range = req.known(http::Known::kIfRange);
  if (!if_range.empty() && !if_range_allows(if_range, etag, m.modified)) {
    return RangeOutcome::kIgnore;
  }
  return parse_range(range, m.size, r);
}

// 416 with its own text body, and the size the client can ask ranges of.
void range_not_satisfiable(uint64_t size, http::Response& resp) {
  char buf[48];
  fail(resp, 416);
  resp.add("Content-Range", resp.keep({buf, size_t(snprintf(buf, sizeof buf, "bytes */%llu",
                                                            (unsigned long long)size))}));
}

// Cuts the body set up for the whole file down to `r`.
void apply_range(const ByteRange& r, uint64_t size, http::Response& resp) {
  char buf[96];
  resp.status = 206;
  resp.content_length = r.last - r.first + 1;
  if (resp.body == http::Response::Body::kFile) {
    resp.file_offset = r.first;
  } else {
    resp.inline_body = resp.inline_body.substr(r.first, resp.content_length);
    resp.inline_file_offset = r.first;
  }
  resp.add("Content-Range",
           resp.keep({buf, size_t(snprintf(buf, sizeof buf, "bytes %llu-%llu/%llu",
                                           (unsigned long long)r.first, (unsigned long long)r.last,
                                           (unsigned long long)size))}));
}

// Validators, preconditions, headers and range for a file whose body is either `fd` (>= 0) or
// `content`.
void respond(const http::Request& req, http::Response& resp, const FileMeta& m, int fd,
             std::string_view content) {
  char etag_buf[kEtagMax];
  std::string_view etag = m.etag;
  if (etag.empty()) {
    etag = resp.keep({etag_buf, make_etag(m.mtime, m.size, etag_buf, m.encoding)});
  }
  char date[http::kHttpDateLen];
  std::string_view last_modified = m.last_modified;
  if (last_modified.empty()) {
    last_modified = resp.keep({date, http::format_http_date(m.modified, date)});
  }
  if (m.vary) resp.add("Vary", "Accept-Encoding");
  resp.add("ETag", etag);
  // Empty for a date before the year 0, which no HTTP-date can say: none rather than no date.
  if (!last_modified.empty()) resp.add("Last-Modified", last_modified);
  if (int status = check_preconditions(req, etag, m.modified)) {
    if (fd >= 0 && resp.file_owned) ::close(fd);
    resp.status = status;
    if (status == 412) resp.set_inline(http::error_body(412), "text/plain; charset=utf-8");
    return;
  }
  // Decided before the file's own fields are added: a 416 describes its text body, not the file.
  ByteRange range;
  RangeOutcome outcome = requested_range(req, etag, m, range);
  if (outcome == RangeOutcome::kUnsatisfiable) {
    if (fd >= 0 && resp.file_owned) ::close(fd);
    return range_not_satisfiable(m.size, resp);
  }
  resp.add("Content-Type", m.type);
  if (!m.encoding.empty()) resp.add("Content-Encoding", m.encoding);
  resp.add("Accept-Ranges", "bytes");
  if (fd >= 0) {
    resp.body = http::Response::Body::kFile;
    resp.file_fd = fd;
    resp.file_offset = 0;
  } else {
    resp.body = http::Response::Body::kInline;
    resp.inline_body = content;
  }
  resp.content_length = m.size;
  if (outcome == RangeOutcome::kSatisfiable) apply_range(range, m.size, resp);
}

// A cache entry's bytes or open file, kept alive by the response until it is sent. A small file
// goes as its bytes, with the open file (where kept) as the alternative for sendfile.
void respond_cached(const http::Request& req, http::Response& resp, const CachedFile& c) {
  resp.body_owner = c.body;
  resp.file_owned = false;
  bool small = c.size <= FileCache::kMaxFile;
  if (small) resp.inline_file_fd = c.body->fd;
  respond(req, resp,
          {c.type, c.encoding, c.vary, c.mtime, c.modified, c.size, c.body->etag,
           c.body->last_modified},
          small ? -1 : c.body->fd, small ? std::string_view(c.body->bytes) : std::string_view());
}

// Which precompressed siblings the client takes: bit 0 br, bit 1 gzip, bit 2 "said anything".
uint8_t accept_bits(std::string_view accept) {
  if (accept.empty()) return 0;
  return uint8_t(4 | (accepts_encoding(accept, "br") ? 1 : 0) |
                 (accepts_encoding(accept, "gzip") ? 2 : 0));
}

}  // namespace

void log_refused_link(const StaticSite& site, std::string_view rel, int err) {
  if (err != -ELOOP && err != -EXDEV) return;
  static constexpr const char* kModes[] = {"follow", "owner", "beneath"};
  char shown[256];  // the path came from a request: no control bytes reach the log
  const size_t n = std::min(rel.size(), sizeof shown);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(rel[i]);
    shown[i] = c < 0x20 || c == 0x7f ? '?' : char(c);
  }
  LOG_LIMITED(kWarn, "%.*s/%.*s: %s (symlinks = \"%s\")", int(site.root.size()), site.root.data(),
              int(n), shown,
              err == -EXDEV ? "a symlink leads out of the root"
                            : "a symlink is refused (owners differ, a /proc magic link or a loop)",
              kModes[size_t(site.symlinks)]);
}

std::optional<std::string_view> StaticSite::relative(std::string_view path) const {
  if (path.find(kEncodedSlash) != std::string_view::npos) return std::nullopt;
  if (alias_prefix.empty()) return path.substr(1);
  if (!path.starts_with(alias_prefix)) return std::nullopt;
  return path.substr(alias_prefix.size());
}

std::string StaticSite::filename(std::string_view rel) const {
  std::string out;
  out.reserve(root.size() + 1 + rel.size());  // one allocation
  filename(rel, out);
  return out;  // not append()'s reference: that would be copied
}

void StaticSite::filename(std::string_view rel, std::string& out) const {
  out.assign(root);
  if (!out.ends_with('/')) out += '/';
  out.append(rel);
}

void serve_static(const StaticSite& site, const http::Request& req, http::Response& resp,
                  std::string& rel, bool deny_php, FileCache* cache) {
  // POST is looked up like GET, as nginx's static handler does, and refused only where a file
  // is: a missing path stays 404 and a directory is redirected (301) or refused (403).
  const bool post = req.method == "POST";
  if (req.method != "GET" && !req.is_head && !post) return not_allowed(resp);
  if (!req.path_ok) return fail(resp, 400);
  std::optional<std::string_view> under = site.relative(req.normalized);
  if (!under) return fail(resp, 404);
  if (deny_php && under->ends_with(".php")) return fail(resp, 403);

  thread_local std::string joined;  // Accept-Encoding sent on several lines, as one list
  std::string_view accept = req.list(http::Known::kAcceptEncoding, "accept-encoding", joined);
  uint8_t bits = accept_bits(accept);
  if (cache) {
    if (const CachedFile* c = cache->find(site.id, *under, bits)) {
      return post ? not_allowed(resp) : respond_cached(req, resp, *c);
    }
  }
  rel.assign(*under);  // copied only to be looked up: locate() may append an index file name
  size_t key_len = rel.size();  // locate() may append an index file name
  OpenFile file;
  std::string_view index;
  if (int status = locate(site, rel, file, index); status == 301) {
    return redirect_to_directory(req, index, resp);
  } else if (status != 0) {
    return fail(resp, status);
  }
  if (deny_php && rel.ends_with(".php")) {  // an index file found for the directory, too
    ::close(file.fd);
    return fail(resp, 403);
  }
  if (post) {
    ::close(file.fd);
    return not_allowed(resp);
  }
  FileMeta m;
  m.type = mime_type(rel);
  if (compressible(m.type)) pick_encoding(site, rel, accept, file, m.encoding, m.vary);
  m.mtime = file.st.st_mtime;
  // RFC 9110 §8.8.2.1: a Last-Modified later than the Date would never be matched by an
  // If-Modified-Since (a date in the future is ignored); a file dated ahead of the clock is
  // said to be modified now instead.
  m.modified = std::min(m.mtime, cache ? cache->now() : ::time(nullptr));
  m.size = uint64_t(file.st.st_size);
  if (!cache || (m.size > FileCache::kMaxFile && !cache->keeps_files())) {
    return respond(req, resp, m, file.fd, {});
  }
  CachedFile entry;
  entry.body = std::make_shared<CachedBody>();
  entry.size = m.size;
  if (m.size > FileCache::kMaxFile) {
    entry.body->fd = file.fd;  // kept open for the next requests within the second
  } else {
    entry.body->bytes.resize(m.size);
    ssize_t n = pread(file.fd, entry.body->bytes.data(), m.size, 0);
    if (n != ssize_t(m.size)) {  // changed while we read it
      ::close(file.fd);
      return fail(resp, 500);
    }
    if (m.size >= FileCache::kSendfileFrom && cache->keeps_files()) {
      entry.body->fd = file.fd;
    } else {
      ::close(file.fd);
    }
  }
  char etag[kEtagMax], date[http::kHttpDateLen];
  entry.body->etag.assign(etag, make_etag(m.mtime, m.size, etag, m.encoding));
  entry.body->last_modified.assign(date, http::format_http_date(m.modified, date));
  entry.type = m.type;
  entry.encoding = m.encoding;
  entry.vary = m.vary;
  entry.mtime = m.mtime;
  entry.modified = m.modified;
  rel.resize(key_len);
  respond_cached(req, resp, *cache->put(site.id, rel, bits, std::move(entry)));
}

}  // namespace askr::handlers
