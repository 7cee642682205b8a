#include "core/router.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include "shared/config/server_name.h"

namespace askr::core {

namespace {

handlers::Symlinks symlinks(config::Symlinks s) {
  switch (s) {
    case config::Symlinks::kFollow:
      return handlers::Symlinks::kFollow;
    case config::Symlinks::kOwner:
      return handlers::Symlinks::kOwner;
    case config::Symlinks::kBeneath:
      return handlers::Symlinks::kBeneath;
  }
  return handlers::Symlinks::kBeneath;
}

// Names each StaticSite for the loops' file caches. Never reused, not even by a later
// generation whose roots get the same descriptor numbers, so that no cache entry made under
// one root, alias or symlink rule answers a request under another.
uint64_t next_files_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Result<int> Router::open_root(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("open root " + path);
  fds_.push_back(fd);
  return fd;
}

// A route without a root or alias of its own shares its site's descriptor. `roots`: the site as
// loaded for its paths, whose routes match site.config's one for one.
Result<handlers::StaticSite> Router::route_files(const Site& site, const config::Route& route,
                                                 const config::Site& roots) {
  handlers::StaticSite f = site.files;
  f.id = next_files_id();
  f.symlinks = symlinks(route.symlinks);
  const std::string& root = roots.routes[size_t(&route - site.config->routes.data())].root;
  if (root.empty() || (root == roots.root && !route.alias)) return f;
  Result<int> fd = open_root(root);
  if (!fd) return fd.error();
  f.root_fd = *fd;
  f.root = keep(root);
  if (route.alias) f.alias_prefix = route.prefix;
  return f;
}

Result<Router> Router::build(const config::Config& cfg) {
  return build(cfg, cfg);
}

Result<Router> Router::build(const config::Config& cfg, const config::Config& roots) {
  Router r;
  r.default_site_ = cfg.default_site;
  for (size_t i = 0; i < cfg.sites.size(); ++i) {
    const config::Site &s = cfg.sites[i], &paths = roots.sites[i];
    Result<int> fd = r.open_root(paths.root);
    if (!fd) return fd.error();
    Site& site = r.sites_.emplace_back();
    site.config = &s;
    r.named_ = r.named_ || !s.server_names.empty();
    site.files = {*fd, &s.index, symlinks(s.symlinks), r.keep(paths.root), {}, next_files_id()};
    for (const config::Route& route : s.routes) {
      Result<handlers::StaticSite> f = r.route_files(site, route, paths);
      if (!f) return f.error();
      site.route_files.push_back(*f);
    }
  }
  return r;
}

Router::Router(Router&& o) noexcept
    : sites_(std::move(o.sites_)),
      paths_(std::move(o.paths_)),
      fds_(std::move(o.fds_)),
      default_site_(o.default_site_),
      named_(o.named_) {
  o.sites_.clear();
  o.fds_.clear();
}

Router& Router::operator=(Router&& o) noexcept {
  std::swap(sites_, o.sites_);
  std::swap(paths_, o.paths_);
  std::swap(fds_, o.fds_);
  default_site_ = o.default_site_;
  named_ = o.named_;
  return *this;
}

Router::~Router() {
  for (int fd : fds_) ::close(fd);
}

const Site& Router::match(std::string_view host) const {
  if (!named_) return sites_[default_site_];  // no name to compare the host with
  // Strip the port; keep an IPv6 literal's brackets.
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  // Exact names first, then wildcards ("*.example.com"), as the certificate is chosen.
  for (const Site& s : sites_) {
    for (const std::string& name : s.config->server_names) {
      if (config::same_name(name, host)) return s;
    }
  }
  for (const Site& s : sites_) {
    for (const std::string& name : s.config->server_names) {
      if (config::wildcard_matches(name, host)) return s;
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

void LiveRouter::publish(std::shared_ptr<const Router> next) {
  std::shared_ptr<const Router> old;  // freed outside the lock
  std::lock_guard lock(mu_);
  old = std::exchange(current_, std::move(next));
  published_.fetch_add(1, std::memory_order_release);
}

bool LiveRouter::refresh(std::shared_ptr<const Router>& held, uint64_t& seen) const {
  if (published_.load(std::memory_order_acquire) == seen) return false;
  std::shared_ptr<const Router> old;  // the loop's previous router is freed outside the lock
  std::lock_guard lock(mu_);
  old = std::exchange(held, current_);
  seen = published_.load(std::memory_order_relaxed);
  return true;
}

}  // namespace askr::core
