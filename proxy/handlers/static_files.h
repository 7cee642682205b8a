// The static-file handler: maps a request onto a file beneath a site's root and describes the
// response (status, validators, range, encoding, body as a file range). It does no socket I/O;
// the protocol writer sends the file.
#pragma once

#include <string>

#include "handlers/file_cache.h"
#include "http/request.h"
#include "http/response.h"

namespace askr::handlers {

struct StaticSite {
  int root_fd = -1;  // O_PATH | O_DIRECTORY descriptor of the root
  const std::vector<std::string>* index = nullptr;
};

// Fills `resp` for `req`, whose path the request core has normalized. `scratch` is reused
// storage for the relative path. On success the
// response may carry an open file descriptor (Response::Body::kFile) that the caller closes.
// `deny_php`: a ".php" path is refused with 403 (a static-only route under a PHP site must
// never hand out source code).
// `cache` (the loop's, may be null) answers small files without touching the disk; an inline
// body then points into it and stays valid until the loop's next request.
void serve_static(const StaticSite& site, const http::Request& req, http::Response& resp,
                  std::string& scratch, bool deny_php = false, FileCache* cache = nullptr);

}  // namespace askr::handlers
