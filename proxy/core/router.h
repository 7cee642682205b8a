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
};

class Router {
 public:
  // Opens each site's root. Fails with the path that could not be opened.
  static Result<Router> build(const config::Config& cfg);
  Router() = default;
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  ~Router();

  // The site whose server_names contain `host` (case-insensitive, port ignored), else the
  // default site.
  const Site& match(std::string_view host) const;

  // The route of `site` whose prefix is the longest that starts `normalized` (a path that
  // handlers::normalize_path accepted), or nullptr.
  static const config::Route* find_route(const config::Site& site, std::string_view normalized);

 private:
  std::vector<Site> sites_;
  size_t default_site_ = 0;
};

}  // namespace askr::core
