// Host -> site. Built at start and again on each reload (SIGHUP resolves the roots anew); each
// build is read-only afterwards, so every loop shares it.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/static_files.h"
#include "shared/base/result.h"
#include "shared/config/config.h"

namespace askr::core {

struct Site {
  const config::Site* config = nullptr;
  handlers::StaticSite files;
  std::vector<handlers::StaticSite> route_files;  // one per config->routes entry, same order

  // Where the files under `route` (null: no route) are.
  const handlers::StaticSite& files_of(const config::Route* route) const {
    return route ? route_files[size_t(route - config->routes.data())] : files;
  }
};

class Router {
 public:
  // Opens each site's root, and each route's own root or alias. Fails with the path that could
  // not be opened.
  static Result<Router> build(const config::Config& cfg);
  // The same, with each site's root and each route's root or alias as `roots` (the same config
  // text, loaded again: its symlinks resolved now) names them. The router copies those paths and
  // points into `cfg` for the rest; `cfg` must outlive it.
  static Result<Router> build(const config::Config& cfg, const config::Config& roots);
  Router() = default;
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  ~Router();

  // The site whose server_names contain `host` (case-insensitive, port ignored), else the first
  // whose wildcard name matches it, else the default site.
  const Site& match(std::string_view host) const;

  // The route of `site` whose prefix is the longest that starts `normalized` (a path that
  // handlers::normalize_path accepted), or nullptr.
  static const config::Route* find_route(const config::Site& site, std::string_view normalized);

 private:
  Result<int> open_root(const std::string& path);
  Result<handlers::StaticSite> route_files(const Site& site, const config::Route& route,
                                           const config::Site& roots);
  std::string_view keep(const std::string& path) { return paths_.emplace_back(path); }

  std::vector<Site> sites_;
  std::deque<std::string> paths_;  // the roots' paths that StaticSite::root shows
  std::vector<int> fds_;           // the roots opened, closed with the router
  size_t default_site_ = 0;
  bool named_ = false;  // some site has a server name (else every host gets the default site)
};

// The router that new requests get, replaced as a whole on reload, as net::LiveTlsContexts
// replaces certificates: the main thread publishes, each loop looks for a newer one before each
// request (one atomic load while nothing changed). A loop's previous router, and with it the old
// roots' descriptors, is freed once every loop has moved on; a request already dispatched keeps
// its own open files and copies of the paths it needs.
class LiveRouter {
 public:
  // Any thread: requests get `next` from now on (each loop at its next request or tick).
  void publish(std::shared_ptr<const Router> next);
  // A loop's reference, replaced when a router was published since `seen`. Returns whether it
  // changed.
  bool refresh(std::shared_ptr<const Router>& held, uint64_t& seen) const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Router> current_;
  std::atomic<uint64_t> published_{0};  // bumped after current_ changes
};

}  // namespace askr::core
