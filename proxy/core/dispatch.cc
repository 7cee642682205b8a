#include "core/dispatch.h"

#include <algorithm>
#include <string>

#include "handlers/path.h"
#include "handlers/return.h"
#include "handlers/static_files.h"

namespace askr::core {
namespace {

void error(http::Response& resp, int status) {
  resp.status = status;
  resp.set_inline(http::error_body(status), "text/plain; charset=utf-8");
}

// The host a request names, as nginx's $host has it (but for the case): without its port or
// final dot.
std::string_view request_host(std::string_view authority) {
  if (size_t colon = authority.rfind(':');
      colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    authority = authority.substr(0, colon);
  }
  if (authority.ends_with('.')) authority.remove_suffix(1);
  return authority;
}

void append_lower(std::string& out, std::string_view s) {
  for (char c : s) out += c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

// SERVER_NAME: the site's first name, else the request's host as nginx's $host, so that a URL a
// script builds from it names the host the site's cookies and HSTS know. Valid until the next
// request of this thread is dispatched, past the PHP request's start().
std::string_view server_name(const config::Site& site, std::string_view authority) {
  if (!site.server_names.empty()) return site.server_names[0];
  std::string_view host = request_host(authority);
  if (std::none_of(host.begin(), host.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return host;
  }
  // Scratch of this loop's thread: its capacity is reused from request to request.
  thread_local std::string lower;
  lower.clear();
  append_lower(lower, host);
  return lower;
}

// The pool that runs PHP for this request, or -1.
int php_pool(const config::Site& site, const config::Route* route) {
  if (route && route->action == config::RouteAction::kStatic) return -1;
  return route ? route->php_pool : site.php_pool;
}

// redirect_https: the same URL with https://, on the TLS port (left out when 443). The host is
// the request's, without its port, as nginx's $host: in lower case, without a final dot.
void redirect_https(http::Request& req, const config::Site& site, int status, int port,
                    http::Response& resp) {
  std::string_view host = request_host(req.authority);
  if (host.empty() && !site.server_names.empty()) host = site.server_names[0];
  if (host.empty() || host.starts_with("*.")) {
    req.refused = "no host to redirect to https";  // no Host, in HTTP/1.0
    return error(resp, 400);
  }
  std::string loc = "https://";
  append_lower(loc, host);
  if (port != 443) loc += ":" + std::to_string(port);
  if (req.target.starts_with("/")) {
    loc += req.target;
  } else {
    loc += req.path.empty() ? std::string_view("/") : req.path;
    if (!req.query.empty()) loc.append("?").append(req.query);
  }
  resp.status = status;
  resp.add("Location", resp.keep(loc));
  resp.set_inline(http::error_body(status), "text/plain; charset=utf-8");
}

}  // namespace

std::unique_ptr<handlers::Stream> dispatch(http::Request& req, LoopServices& loop,
                                           http::Response& resp, Responder to) {
  handlers::PathError bad = handlers::normalize_path(req.path, req.normalized);
  req.path_ok = bad == handlers::PathError::kNone;
  if (!req.path_ok) {
    // Bad input whatever the site: 400 before any redirect, as nginx answers a target it
    // cannot parse. The protocol logs why and counts it.
    req.refused = handlers::path_error_name(bad);
    error(resp, 400);
    return nullptr;
  }
  loop.refresh_router();  // a reload's roots serve every request from now on
  const Site& site = loop.router->match(req.authority);
  const config::Site& sc = *site.config;
  const config::Route* route = Router::find_route(sc, req.normalized);
  const handlers::StaticSite& files = site.files_of(route);
  const int pool = php_pool(sc, route);
  if (req.method == "TRACE") {
    // TRACE echoes the request, its cookies and credentials with it, into a page that a script
    // of another site may read (cross-site tracing): refused whatever the route, as nginx
    // refuses it, so that PHP behind Askr never sees one, as it never does behind nginx.
    req.refused = "TRACE method";
    error(resp, 405);
    resp.add("Allow", pool >= 0 ? "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" : "GET, HEAD");
    return nullptr;
  }
  if (!(req.conn && req.conn->secure) && (route ? route->redirect_https : sc.redirect_https)) {
    int status = route ? route->redirect_https_status : sc.redirect_https_status;
    redirect_https(req, sc, status, loop.https_port, resp);
    return nullptr;
  }
  if (route && route->action == config::RouteAction::kReturn) {
    handlers::serve_return(*route, resp);
    return nullptr;
  }
  if (pool >= 0) {
    const std::string& fc = route ? route->front_controller : sc.front_controller;
    // Scratch of this loop's thread: its strings keep their capacity from request to request.
    thread_local handlers::PhpScript script;
    switch (handlers::match_php(files, site.files, fc, req.normalized, script, loop.file_cache)) {
      case handlers::PhpMatch::kScript: {
        handlers::ClientInfo client{server_name(sc, req.authority), script.document_root};
        return std::make_unique<handlers::PhpRequest>(*(*loop.pools)[size_t(pool)], to.sink,
                                                      to.body_source, *loop.php_limits, req, script,
                                                      client);
      }
      case handlers::PhpMatch::kNotFound:
        error(resp, 404);
        return nullptr;
      case handlers::PhpMatch::kStatic:
        break;
    }
  }
  // Under PHP the static handler is never to send a script either: one it finds there appeared
  // since match_php() looked (a deploy writing a directory's index.php within the second that
  // match_php()'s look is kept for), and its source must not go out.
  bool deny_php = pool >= 0 || (route && route->action == config::RouteAction::kStatic);
  handlers::serve_static(files, req, resp, loop.scratch, deny_php, loop.file_cache);
  return nullptr;
}

}  // namespace askr::core
