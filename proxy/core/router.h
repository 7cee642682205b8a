// Host -> site. Built once per config generation; read-only afterwards, so every loop shares it.
#pragma once

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
  Result<handlers::StaticSite> route_files(const Site& site, const config::Route& route);

  std::vector<Site> sites_;
  std::vector<int> fds_;  // the roots opened, closed with the router
  size_t default_site_ = 0;
};

}  // namespace askr::core
