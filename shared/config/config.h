// The configuration of one generation: plain data, built once by load_file() (load.h) and never
// changed afterwards. A reload builds a new Config and swaps it in whole; nothing here refers to
// the file it came from except `Config::path`.
//
// Every default below is the value used when the key is left out of askr.toml; conf/askr.toml
// documents the keys.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace askr::config {

// [server] io_backend. kAuto: io_uring when the probe succeeds, else epoll.
enum class IoBackend : uint8_t { kAuto, kIoUring, kEpoll };

// [access_log] format.
enum class LogFormat : uint8_t { kCombined, kJson };

// One [[listen]] entry: a literal IP address and port (no name resolution).
struct Listen {
  bool tls = false;         // `tls = true`: connections on it speak TLS (certificates per site)
  std::string text;         // as written: "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80"
  sockaddr_storage addr{};  // sockaddr_in or sockaddr_in6; port 0 means an ephemeral port
  socklen_t addr_len = 0;   // sizeof(sockaddr_in) or sizeof(sockaddr_in6)
  // HTTP/2 on this listener: with TLS, ALPN offers h2 before http/1.1; in cleartext (h2c, with
  // prior knowledge) a connection that opens with the HTTP/2 client preface speaks HTTP/2, any
  // other HTTP/1.1, as behind a load balancer that speaks h2c. False serves HTTP/1.1 only (ALPN
  // offers http/1.1 alone).
  bool http2 = true;
};

// One [[pool]]: a FastCGI backend (php-fpm or anything else that speaks FastCGI). Each loop
// thread keeps its own connections and queue for each pool; the limits below are per loop.
struct Pool {
  std::string name;  // [A-Za-z0-9_-]+, unique among pools; [[site]] php names it
  std::string
      fastcgi;  // as written: "unix:/run/php/php8.2-fpm.sock", "127.0.0.1:9000", "[::1]:9000"
  bool unix_socket = false;
  // When unix_socket: the socket's path, made absolute against the config file's directory (not
  // normalized), at most sizeof(sockaddr_un::sun_path) - 1 bytes. Not checked for existence.
  std::string unix_path;
  // The address to connect to: sockaddr_un (addr_len covers the path and its NUL), or
  // sockaddr_in / sockaddr_in6 with a port other than 0.
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  uint32_t max_connections = 32;  // connections open at once to this pool; 1..10000
  // Keep connections open between requests (FCGI_KEEP_CONN) and reuse them. php-fpm gives a
  // connection one child for as long as it stays open, so this is safe only when threads x
  // max_connections <= pm.max_children; off, each request has its own connection, as with
  // nginx's default. Askr's own pools keep their connections whatever this says (one per loop
  // and worker, which pins no worker to a loop).
  bool keepalive = false;
  uint32_t queue = 256;  // requests waiting for a connection, beyond it -> 503; 0..100000
  // Each at least 1ms and at most 24 hours.
  // A request waiting in the queue longer than this -> 503.
  std::chrono::milliseconds queue_timeout{std::chrono::seconds(30)};
  // Connecting to the pool must succeed within this -> 504.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // Longest wait between two reads from the pool -> 504.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};
  // Longest wait between two writes to the pool -> 504.
  std::chrono::milliseconds send_timeout{std::chrono::seconds(60)};
  // Request bodies at least this large go client -> pipe -> pool with splice(2) (plaintext
  // only); 0 = never.
  uint64_t splice_threshold = 64 * 1024;
  // Responses whose Content-Length is at least this large go pool -> pipe -> client with
  // splice(2) (plaintext HTTP/1.x only); 0 = never. The default comes from
  // bench/response_splice.sh on a shared, busy 2-core machine (askr-worker classic pool,
  // readfile, wrk -c8 and -c1, 2-3 interleaved rounds each), by the proxy's CPU time per
  // request, copy -> splice: 16-128 KiB no gain (16 KiB 28-29 -> 29-37 us, 64 KiB 41-88 ->
  // 45-72 us), 256 KiB even to slightly lower (100-186 -> 100-158 us), 1 MiB lower (247-542 ->
  // 247-354 us), 4 MiB about 40% lower (1469-1638 -> 805-929 us). Requests/s swung 2-4x between
  // rounds on that machine and could not rank the small sizes. Below 256 KiB the fixed cost of a
  // spliced response (a pipe, stopping and restarting the backend read) eats the gain.
  uint64_t response_splice_threshold = 256 * 1024;
  // Largest CGI header block (Status, fields, line ends) PHP may send before its body → 502
  // beyond it; 1k..16m. nginx's fastcgi_buffer_size (4k or 8k by default there), which a site
  // with large cookies or policies raises.
  uint64_t response_header_size = 32 * 1024;

  // A pool without `fastcgi` is Askr's own: askr-proxy starts and supervises askr-worker
  // processes for it, and the keys below apply (they are errors with `fastcgi`).
  bool own = false;
  uint32_t workers = 0;  // processes; 0 = "auto": two per core; 1..4096
  enum class Mode : uint8_t { kClassic, kWorker } mode = Mode::kClassic;
  std::string worker_script;  // worker mode: absolute path of the script that boots once
  uint64_t max_requests = 0;  // recycle a worker after this many requests; 0 = never
  uint64_t memory_limit = 0;  // recycle a worker whose RSS is above this after a request; 0 = none
  // A request running longer: the worker is killed, the client gets 504; 1ms..24h.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  // The user (and group; "": the user's own) the workers run as, as php-fpm's pool user and
  // group: PHP starts under them. Acted on when askr-proxy runs as root; "": askr-proxy's own.
  // Checked to exist when the config is loaded.
  std::string user;
  std::string group;
  std::vector<std::pair<std::string, std::string>> ini;  // [pool.ini]: php.ini settings
  // [pool.env]: the workers' whole environment (as php-fpm's clear_env = yes, nothing of
  // askr-proxy's own is passed unless named here). `from_proxy`: the value is askr-proxy's
  // variable `value` (written "$NAME"), left out when askr-proxy has none; else `value` itself.
  struct EnvVar {
    std::string name;
    std::string value;
    bool from_proxy = false;
  };
  std::vector<EnvVar> env;
};

// What a [[site.route]] does with the requests under its prefix.
enum class RouteAction : uint8_t {
  kDefault,  // as the site does: static files, and .php files in Route::php_pool
  kStatic,   // files only: PHP never runs; a .php file is refused (403), never sent as source
  kReturn,   // a fixed answer: Route::status, location, body
};

// [[site]] / [[site.route]] symlinks: how symbolic links met under a root are treated. The root
// itself is resolved (realpath) when the config is loaded, like nginx's
// disable_symlinks from=$document_root. In every mode the request path cannot climb out of the
// root with "..", and /proc's magic links are refused.
enum class Symlinks : uint8_t {
  kFollow,   // "follow": followed wherever they lead (nginx's default, disable_symlinks off)
  kOwner,    // "owner": followed when link and target have the same owner (if_not_owner)
  kBeneath,  // "beneath": followed while they stay under the root
};

// One [[site.route]]. The loader resolves what a route inherits from its site, so the fields
// hold what applies under the prefix without looking at the Site again.
struct Route {
  std::string prefix;  // starts with '/'; no '//', '.' or '..' segment; unique within the site
  RouteAction action = RouteAction::kDefault;
  // kDefault: index into Config::pools, the route's own `php` or else the site's; -1 = no PHP
  // (php = ""). Always -1 for kStatic and kReturn.
  int php_pool = -1;
  // kDefault with a pool: the route's own front_controller or else the site's, relative to the
  // root, without a leading '/'; "" = none. Always "" without a pool.
  std::string front_controller;
  int status = 0;        // kReturn: 200..599
  std::string location;  // kReturn: the Location header; "" = none (never "" for 301, 302,
                         // 303, 307 and 308); no spaces or control characters
  std::string body;      // kReturn: the response body; "" = none (always "" for 204 and 304)
  // Where the files under the prefix are: the route's `root` or `alias`, else the site's root.
  // An existing directory, absolute, canonical. Empty for kReturn.
  std::string root;
  // `alias`: the prefix (which then ends in '/') is cut from the path before it is looked up
  // under `root`, like nginx's alias; else the whole path is, like nginx's root.
  bool alias = false;
  Symlinks symlinks = Symlinks::kOwner;  // the route's own, else the site's
  bool redirect_https = false;           // the route's own, else the site's
  int redirect_https_status = 301;       // the route's own, else the site's
};

// Where a value is written in the config file, for errors found after loading (OpenSSL's
// refusals): 1-based; line 0 when it was not written there (a default).
struct SourceAt {
  uint32_t line = 0;
  uint32_t column = 0;
};

// [[site]] tls_certificate / tls_certificate_key: one pair (a full-chain PEM and its key), made
// absolute against the config file's directory and readable when loaded. A site may give two
// pairs (an ECDSA and an RSA certificate for the same names): OpenSSL picks per client.
struct Certificate {
  std::string certificate;
  std::string key;
  SourceAt certificate_at, key_at;
};

// [tls] protocols: a set of these bits.
enum TlsProtocol : uint8_t { kTls12 = 1, kTls13 = 2 };

// [tls] ktls. Read by the kernel-TLS module; kAuto: use it where the kernel offers it.
enum class Ktls : uint8_t { kAuto, kOn, kOff };

// The defaults are Mozilla's "intermediate" profile (TLS 1.2 and 1.3, AEAD ciphers, ECDHE).
inline constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kDefaultCiphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
inline constexpr const char* kDefaultGroups = "X25519:prime256v1:secp384r1";

// [tls]: global. The strings are OpenSSL's syntax; they are checked by OpenSSL when the TLS
// contexts are built (askr-proxy -t does that too), not by the loader.
struct Tls {
  uint8_t protocols = kTls12 | kTls13;              // never empty
  std::string ciphers = kDefaultCiphers;            // TLS 1.2
  std::string ciphersuites = kDefaultCiphersuites;  // TLS 1.3
  std::string groups = kDefaultGroups;
  SourceAt ciphers_at, ciphersuites_at, groups_at;
  bool session_tickets = true;
  // From accept to the end of the handshake; then the header timeout starts. 1ms..24h.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  Ktls ktls = Ktls::kAuto;
};

// What a [[site]] may override of [tls]: applied once SNI has chosen the site, before the
// protocol version and cipher are negotiated. Empty/0: the global value.
struct SiteTls {
  uint8_t protocols = 0;
  std::string ciphers;
  std::string ciphersuites;
  SourceAt ciphers_at, ciphersuites_at;
};

// One [[site]]: a virtual host.
struct Site {
  // Lower-cased host names, without port; may be empty. No name is in two sites. A name may
  // start with "*." (a wildcard: any one label in its place); exact names win over wildcards.
  std::vector<std::string> server_names;
  // An existing directory: absolute, canonical (realpath), no trailing slash (except "/").
  std::string root;
  // File names tried, in order, for a request that names a directory; may be empty (none).
  // No entry is empty, "." or "..", or contains '/'.
  std::vector<std::string> index = {"index.html"};
  Symlinks symlinks = Symlinks::kOwner;
  // Index into Config::pools: files ending in .php under root run there; -1 = no PHP.
  int php_pool = -1;
  // Run when no file matches the path (like nginx's try_files $uri $uri/ /index.php); only with
  // a php_pool. Relative to root, without a leading '/', no '.', '..' or empty segment; "" =
  // none. Not checked for existence.
  std::string front_controller;
  // TLS: the certificates (none: the site is reached over TLS with the default site's
  // certificate), and the [tls] keys it overrides.
  std::vector<Certificate> certificates;
  SiteTls tls;
  // A request that did not come over TLS gets redirect_https_status (301 or 308) to the same
  // URL with https://. Routes inherit it unless they set their own.
  bool redirect_https = false;
  int redirect_https_status = 301;
  // Sorted by prefix length, longest first (file order among equal lengths): the first whose
  // prefix starts the request path applies; none matching means the site's own settings.
  std::vector<Route> routes;
};

// [limits]: what a client may send. The comment after each field names the status that
// answers a request over the limit, and the range the loader accepts.
struct Limits {
  uint32_t max_request_line = 8192;    // request line -> 414; 256..1m
  uint32_t max_header_size = 32768;    // whole head, request line included -> 431; 1k..16m,
                                       // never less than max_request_line
  uint32_t max_headers = 100;          // header fields -> 431; 1..10000
  uint64_t max_body_size = 1 << 20;    // request body -> 413; 0 = unlimited
  uint32_t keepalive_requests = 1000;  // requests served on one connection, then close; >= 1
  // A chunked request body larger than this spills to a file in Server::temp_dir; 1k..1g.
  uint64_t body_buffer_size = 64 * 1024;
};

// [timeouts]. Each is at most 24 hours; only keepalive and drain may be 0.
struct Timeouts {
  // The whole request head must arrive within this -> 408.
  std::chrono::milliseconds header{std::chrono::seconds(60)};
  // Longest wait between two reads of the request body -> 408.
  std::chrono::milliseconds body{std::chrono::seconds(60)};
  // Idle time between requests, then close silently; 0 = no keep-alive.
  std::chrono::milliseconds keepalive{std::chrono::seconds(75)};
  // Longest wait between two successful writes to the client, then close.
  std::chrono::milliseconds send{std::chrono::seconds(60)};
  // On SIGTERM: how long in-flight requests may take before the process exits.
  std::chrono::milliseconds drain{std::chrono::seconds(10)};
};

// [http2]: what one HTTP/2 connection may do. Counts are per connection; rates are per second
// with a burst of `flood_burst` (or `reset_burst`) before the budget runs out.
struct Http2 {
  uint32_t max_concurrent_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS; 1..10000
  uint32_t max_streams = 10000;           // requests on one connection, then GOAWAY; 1..2^30
  // A stream's receive window once its handler reads the body (WINDOW_UPDATE); 1k..2^31-1.
  // An upload goes at most this far per round trip: 64 KiB held one 50 ms away to 1.3 MB/s.
  uint32_t initial_window = 1 << 20;
  // SETTINGS_INITIAL_WINDOW_SIZE: the body bytes a stream may send before its handler reads
  // (a request queued for a PHP worker keeps no more); 1k..2^31-1, at most initial_window. Not
  // 0: a handler's first read of the body is what opens the window further.
  uint32_t body_preread = 16 << 10;
  uint32_t connection_window = 1 << 20;  // the connection's receive window; 64k..2^31-1
  // Client resets (RST_STREAM) of streams: Rapid Reset (CVE-2023-44487). Beyond the budget:
  // GOAWAY ENHANCE_YOUR_CALM, and no stream of the batch that ran it out reaches a handler.
  uint32_t reset_burst = 100;  // 1..1000000
  uint32_t reset_rate = 10;    // 0..1000000 per second
  // SETTINGS, PING, PRIORITY, WINDOW_UPDATE and empty DATA frames, each type on its own budget.
  uint32_t flood_burst = 1000;      // 1..1000000
  uint32_t flood_rate = 100;        // 0..1000000 per second
  uint32_t max_continuations = 16;  // CONTINUATION frames in one header block; 1..10000
  // An idle connection (no stream open) gets GOAWAY and is closed after this.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(180)};
};

// [access_log].
struct AccessLog {
  bool enabled = true;                      // false when format = "off"
  LogFormat format = LogFormat::kCombined;  // kCombined also when disabled
  std::string path = "stderr";              // "stderr" or an absolute, normalized file path
  SourceAt path_at;                         // where `path` is written
};

// [server].
struct Server {
  // Event-loop threads, 1..1024; 0 = "auto": one per online CPU in the affinity mask.
  unsigned threads = 0;
  IoBackend io_backend = IoBackend::kAuto;
  std::string error_log = "stderr";  // "stderr" or an absolute, normalized file path
  SourceAt error_log_at;             // where `error_log` is written
  std::string log_level = "info";    // "error", "warn", "info" or "debug"
  // Where request bodies spill to disk. When set in the file: an existing directory, absolute,
  // canonical (realpath); the default is not checked.
  std::string temp_dir = "/tmp";
  // Client connections open at once on one loop, 1..1000000; at the limit the loop stops
  // accepting until one of them closes.
  uint32_t max_connections = 16384;
};

struct Config {
  std::string path;  // absolute, normalized path of the file it was loaded from
  std::string file;  // that path as given to load_file(): diagnostics name the file so
  Server server;
  std::vector<Listen> listens;  // at least one; no two equal (port 0 excepted)
  std::vector<Site> sites;      // at least one
  std::vector<Pool> pools;      // may be empty; names unique
  size_t default_site = 0;      // index of the first site without server_names, else 0
  Limits limits;
  Timeouts timeouts;
  Http2 http2;
  AccessLog access_log;
  Tls tls;
};

}  // namespace askr::config
