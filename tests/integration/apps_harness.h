// Test harness for real PHP apps served side by side: nginx (Debian's nginx-light) as the
// FastCGI client of a php-fpm pool, a private MariaDB server, an HTTP client that carries
// cookies, and the comparison of two answers to the same request with what legitimately
// differs (cookie values, nonces) normalized away.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "php_harness.h"

namespace askr::testing {

bool nginx_available();

// nginx in the foreground, one server on 127.0.0.1:port() whose body (the directives after
// `listen`) is `server_body`. Stopped with SIGQUIT, then SIGKILL.
class Nginx {
 public:
  explicit Nginx(const std::string& server_body);
  ~Nginx();
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  int port() const { return port_; }
  std::string error_log() const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The nginx server body for a front-controller app under `public_dir` (Symfony, Laravel):
// try_files $uri /index.php$is_args$args, PHP to `fastcgi_socket`.
std::string nginx_front_controller(const std::string& public_dir,
                                   const std::string& fastcgi_socket);

bool mariadb_available();

// A private MariaDB server: a data directory made by mariadb-install-db in a temp dir, mariadbd
// on a Unix socket there with --skip-networking. Stopped (SIGTERM, then SIGKILL) by the
// destructor.
class MariaDb {
 public:
  MariaDb();
  ~MariaDb();
  MariaDb(const MariaDb&) = delete;
  MariaDb& operator=(const MariaDb&) = delete;

  const std::string& socket_path() const { return socket_; }
  // Runs SQL as root with the mariadb client; throws with its output on failure.
  void sql(const std::string& statements) const;
  std::string log() const;

 private:
  TempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

// Copies tests/apps/NAME to `dest`.
void copy_app(const std::string& name, const std::string& dest);

// Cookies a browser would send back: the last value of each name set by a response (cookies
// cleared with an expiry in the past are dropped).
class CookieJar {
 public:
  void update(const PhpResponse& r);
  // "Cookie: a=1; b=2\r\n", or "" when empty.
  std::string header() const;
  bool has(const std::string& name) const { return cookies_.count(name) != 0; }

 private:
  std::map<std::string, std::string> cookies_;
};

// The names of the cookies a response sets, in order.
std::vector<std::string> cookie_names(const PhpResponse& r);

// What is compared between two servers' answers to one request: the status, Content-Type's
// media type, Location, Cache-Control, the names of the cookies set, and the body with nonces
// (WordPress's 10-hex-digit tokens) replaced by "NONCE".
std::string comparable(const PhpResponse& r);

// "" when equal, else the first line that differs in each, with its line number.
std::string first_difference(const std::string& a, const std::string& b);

}  // namespace askr::testing
