// Test harness for PHP over FastCGI: a real php-fpm pool (Debian's php-fpm8.2) started in the
// foreground with its own config in a temporary directory, askr-proxy started with a whole
// generated config that points a PHP site at it, and an HTTP/1.1 client that decodes chunked
// bodies and keeps repeated header fields.
#pragma once

#include <sys/types.h>

#include <future>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.h"

namespace askr::testing {

inline constexpr const char* kPhpFpmBin = "/usr/sbin/php-fpm8.2";

// Whether php-fpm can be started here.
bool php_fpm_available();

// A running php-fpm master with one static pool listening on a unix socket. The pool runs as root
// (-R), with display_errors off, log_errors on, output_buffering 0 (flush() reaches the web
// server at once), upload_max_filesize 100M, post_max_size 200M, memory_limit 256M.
class PhpFpm {
 public:
  explicit PhpFpm(int children = 4);
  ~PhpFpm();
  PhpFpm(const PhpFpm&) = delete;
  PhpFpm& operator=(const PhpFpm&) = delete;

  const std::string& socket_path() const { return socket_; }
  // The [[pool]] fastcgi value: "unix:/tmp/.../fpm.sock".
  std::string address() const { return "unix:" + socket_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // The master's log: its own notices and what the workers wrote to their stderr.
  std::string log() const;

  // Starts php-fpm (again) with the same config and socket; waits until it accepts requests.
  void start();
  // SIGTERM (the workers are killed at once), then waits for the master; SIGKILL after 10 s.
  // The socket file is gone afterwards.
  void stop();

 private:
  TempDir dir_;
  int children_;
  std::string socket_;
  std::string conf_;
  std::string log_;
  pid_t pid_ = -1;
};

struct PhpProxyOptions {
  std::string backend = "io_uring";
  int threads = 2;
  std::string root;     // the site root; required
  std::string fastcgi;  // the pool address; "" = an askr-worker pool (pool_extra says how)
  // Lines added inside [[pool]] (read_timeout = "1s", max_connections = 2...).
  std::string pool_extra;
  std::string index = R"(["index.php", "index.html"])";
  std::string front_controller;  // "" = none
  // Lines added inside [[site]], and [[site.route]] tables after it.
  std::string site_extra;
  std::string routes;
  // The whole [limits] table's body.
  std::string limits = "max_body_size = \"200m\"\nbody_buffer_size = \"64k\"\n";
  // Lines added inside [timeouts] (the table is left out when empty).
  std::string timeouts;
  // Lines added inside [server] (log_level = "debug"...).
  std::string server_extra;
  // Lines added inside [[listen]] ("tls = true\n"), and tables after everything else ([tls]).
  std::string listen_extra;
  std::string extra;  // more tables at the end of the file ("[tls]\n...", "[http2]\n...")
  std::string access_log_format = "combined";  // or "json"
};

// A running askr-proxy serving one PHP site. The destructor stops it (SIGTERM, then SIGKILL).
class PhpProxy {
 public:
  explicit PhpProxy(const PhpProxyOptions& opt);
  ~PhpProxy();
  PhpProxy(const PhpProxy&) = delete;
  PhpProxy& operator=(const PhpProxy&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool alive() const;
  std::string error_log() const;
  std::string access_log() const;
  const std::string& config() const { return config_; }
  // [server] temp_dir: request bodies spill here.
  std::string temp_dir() const { return dir_.path() + "/tmp"; }
  // Sends SIGTERM and waits; returns the exit status (or -signal).
  int stop(int timeout_ms = 15000);

 private:
  TempDir dir_;
  std::string config_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A response as the client saw it, with every header field kept in order.
struct PhpResponse {
  int status = 0;
  std::string status_line;
  std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased
  std::string body;                                         // chunked bodies decoded
  bool chunked = false;
  bool ok = false;      // the whole response was read (its framing said where it ends)
  bool closed = false;  // the peer closed the connection while or after this was read

  // The first value of `name` (lower-case), or "".
  std::string header(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  bool has(std::string_view name) const;
};

// One client connection with its own read buffer, so that each thread may hold its own.
class Client {
 public:
  // kSlowly: a small receive buffer, set before connect (connect_slow_reader), for a client
  // that lets the response back up into the proxy.
  enum class Reads { kPromptly, kSlowly };
  explicit Client(int port, Reads reads = Reads::kPromptly);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd() const { return fd_; }
  void send(std::string_view data);
  // Reads one response. `head_request`: no body follows.
  PhpResponse read(bool head_request = false, int timeout_ms = 10000);
  // Reads until `needle` has arrived (in the raw bytes, head included); false on timeout/EOF.
  bool read_until(std::string_view needle, int timeout_ms = 10000);
  // The raw bytes received and not yet consumed by read().
  const std::string& buffered() const { return buf_; }
  // True when the peer closes within timeout_ms (bytes that arrive meanwhile are dropped).
  bool wait_closed(int timeout_ms = 3000);

 private:
  bool fill(int timeout_ms);  // one recv into buf_; false on timeout, EOF or error
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// One request on a fresh connection.
PhpResponse php_fetch(int port, const std::string& raw_request, int timeout_ms = 10000);

// A flat JSON object ({"k":"v","n":12,"z":null}) as name -> value text; strings are unescaped,
// other values kept as written, null left out. Nested values are kept as raw text.
std::map<std::string, std::string> parse_json_object(std::string_view json);

// Lower-case hex SHA-256 of a file, by sha256sum(1); "" on failure.
std::string sha256_file(const std::string& path);

// Copies the PHP test site (tests/integration/php) to `dest`.
void copy_php_site(const std::string& dest);

// Reads a whole file.
std::string read_file(const std::string& path);

// Takes an exclusive flock() on `path` (created) for flockwait.php to wait for, until the fd is
// closed; the fd, or -1.
int hold_lock(const std::string& path);

// Waits until `path` has `lines` lines (pidsleep.php and flockwait.php?started= append one as
// they start, so that a test knows its request holds a worker); false after timeout_ms.
bool wait_for_lines(const std::string& path, size_t lines, int timeout_ms = 20000);

// With every worker of a pool held and its queue of one empty: sends `raw_request` twice, on two
// connections at once; one request waits in the queue, the other finds it full. Waits (20 s at
// most) for that other one's answer, puts it in `refused`, and returns the waiting one, which the
// queue then surely holds.
std::future<PhpResponse> queue_one(int port, const std::string& raw_request, PhpResponse* refused);

}  // namespace askr::testing
