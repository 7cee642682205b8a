#include "core/router.h"

#include <fcntl.h>
#include <unistd.h>

#include <strings.h>

namespace askr::core {

Result<Router> Router::build(const config::Config& cfg) {
  Router r;
  r.default_site_ = cfg.default_site;
  for (const config::Site& s : cfg.sites) {
    int fd = ::open(s.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("open root " + s.root);
    r.sites_.push_back({&s, {fd, &s.index}});
  }
  return r;
}

Router::Router(Router&& o) noexcept : sites_(std::move(o.sites_)), default_site_(o.default_site_) {
  o.sites_.clear();
}

Router& Router::operator=(Router&& o) noexcept {
  std::swap(sites_, o.sites_);
  default_site_ = o.default_site_;
  return *this;
}

Router::~Router() {
  for (Site& s : sites_) ::close(s.files.root_fd);
}

const Site& Router::match(std::string_view host) const {
  // Strip the port; keep an IPv6 literal's brackets.
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  for (const Site& s : sites_) {
    for (const std::string& name : s.config->server_names) {
      if (name.size() == host.size() && strncasecmp(name.data(), host.data(), host.size()) == 0) {
        return s;
      }
    }
  }
  return sites_[default_site_];
}

const config::Route* Router::find_route(const config::Site& site, std::string_view normalized) {
  for (const config::Route& r : site.routes) {  // longest prefix first
    if (normalized.starts_with(r.prefix)) return &r;
  }
  return nullptr;
}

}  // namespace askr::core
