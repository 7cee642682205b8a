// The static-file handler: maps a request onto a file beneath a site's root and describes the
// response (status, validators, range, encoding, body as a file range). It does no socket I/O;
// the protocol writer sends the file.
#pragma once

#include <optional>
#include <string>

#include "handlers/file_cache.h"
#include "handlers/open_beneath.h"
#include "http/request.h"
#include "http/response.h"

namespace askr::handlers {

// Where the files of a site, or of one of its routes, are. Borrowed from the router: valid for
// as long as its config generation.
struct StaticSite {
  int root_fd = -1;  // O_PATH | O_DIRECTORY descriptor of the root
  const std::vector<std::string>* index = nullptr;
  Symlinks symlinks = Symlinks::kBeneath;
  std::string_view root;          // the root's path, as DOCUMENT_ROOT and SCRIPT_FILENAME show it
  std::string_view alias_prefix;  // an alias: the route prefix cut from paths ("" for a root)
  uint64_t id = 0;                // names this root, alias and symlink rule in the file cache

  // The path under the root that the normalized request path `path` names, without a leading
  // '/': `path` minus its leading '/' under a root, minus the alias prefix under an alias.
  // nullopt when `path` is not under the alias prefix, or holds an encoded slash
  // (kEncodedSlash): no file name holds a '/', so such a path names no file.
  std::optional<std::string_view> relative(std::string_view path) const;
  // The absolute file name of `rel` (what relative() returned), as nginx's $request_filename.
  std::string filename(std::string_view rel) const;
  // The same into `out`, which keeps its capacity.
  void filename(std::string_view rel, std::string& out) const;
};

// When `err` (an open_beneath error for `rel` under `site`) says that a symlink was refused,
// logs it at most once a second: a site that needs another `symlinks`, or a planted link.
void log_refused_link(const StaticSite& site, std::string_view rel, int err);

// Fills `resp` for `req`, whose path the request core has normalized. `scratch` is reused
// storage for the relative path. On success the
// response may carry an open file descriptor (Response::Body::kFile) that the caller closes.
// `deny_php`: a ".php" file, named or found as a directory's index, is refused with 403 (a
// static-only route under a PHP site must never hand out source code).
// `cache` (the loop's, may be null) answers small files without touching the disk; an inline
// body then points into it and stays valid until the loop's next request.
void serve_static(const StaticSite& site, const http::Request& req, http::Response& resp,
                  std::string& scratch, bool deny_php = false, FileCache* cache = nullptr);

}  // namespace askr::handlers
