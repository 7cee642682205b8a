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
  std::string text;         // as written: "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80"
  sockaddr_storage addr{};  // sockaddr_in or sockaddr_in6; port 0 means an ephemeral port
  socklen_t addr_len = 0;   // sizeof(sockaddr_in) or sizeof(sockaddr_in6)
};

// One [[site]]: a virtual host.
struct Site {
  // Lower-cased host names, without port; may be empty. No name is in two sites.
  std::vector<std::string> server_names;
  // An existing directory: absolute, canonical (realpath), no trailing slash (except "/").
  std::string root;
  // File names tried, in order, for a request that names a directory; may be empty (none).
  // No entry is empty, "." or "..", or contains '/'.
  std::vector<std::string> index = {"index.html"};
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

// [access_log].
struct AccessLog {
  bool enabled = true;                      // false when format = "off"
  LogFormat format = LogFormat::kCombined;  // kCombined also when disabled
  std::string path = "stderr";              // "stderr" or an absolute, normalized file path
};

// [server].
struct Server {
  // Event-loop threads, 1..1024; 0 = "auto": one per online CPU in the affinity mask.
  unsigned threads = 0;
  IoBackend io_backend = IoBackend::kAuto;
  std::string error_log = "stderr";  // "stderr" or an absolute, normalized file path
  std::string log_level = "info";    // "error", "warn", "info" or "debug"
};

struct Config {
  std::string path;  // absolute, normalized path of the file it was loaded from
  Server server;
  std::vector<Listen> listens;  // at least one; no two equal (port 0 excepted)
  std::vector<Site> sites;      // at least one
  size_t default_site = 0;      // index of the first site without server_names, else 0
  Limits limits;
  Timeouts timeouts;
  AccessLog access_log;
};

}  // namespace askr::config
