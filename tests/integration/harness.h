// Test harness for black-box tests: starts the real askr-proxy on a loopback ephemeral port
// with a config written into a temporary directory, and talks to it with raw sockets or curl.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace askr::testing {

// A temporary directory, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `content` to path()/rel, creating parent directories.
  std::string write(const std::string& rel, std::string_view content) const;

 private:
  std::string path_;
};

struct ProxyOptions {
  std::string backend = "io_uring";
  int threads = 2;
  std::string root;   // site root; required
  std::string extra;  // more TOML appended to the generated file ([limits], [timeouts], ...)
  // More keys for the [[site]] table, and [[site.route]] tables after them.
  std::string site_extra;
  std::string access_log_format = "combined";
  // Runs the proxy under a seccomp filter that fails io_uring_setup with EPERM, as a container
  // runtime's default profile does.
  bool block_io_uring = false;
  std::string server_extra;  // more keys for the [server] table ("max_connections = 2\n")
  std::string listen_extra;  // more keys for the [[listen]] table ("tls = true\n")
  // > 0: the proxy runs with RLIMIT_NOFILE (soft and hard) set to this, so that it cannot
  // raise it again.
  int nofile = 0;
  // The error log goes to a file named by `error_log` (error_log_path()) rather than to stderr.
  bool error_log_file = false;
  // The access log's path; "" = access_log_path().
  std::string access_log = "";
};

// A running askr-proxy. The destructor stops it (SIGTERM, then SIGKILL after 10 s).
class Proxy {
 public:
  explicit Proxy(const ProxyOptions& opt);
  ~Proxy();
  int port() const { return port_; }
  // Every listener's port, in the config's order (more [[listen]] tables may come in `extra`).
  const std::vector<int>& ports() const { return ports_; }
  pid_t pid() const { return pid_; }
  std::string error_log() const;  // what it wrote to its error log (stderr, or the file)
  std::string access_log() const;
  // Where the error log and the access log are written (the error log's file: stderr's copy
  // unless ProxyOptions::error_log_file).
  std::string error_log_path() const { return dir_.path() + "/error.log"; }
  std::string access_log_path() const { return dir_.path() + "/access.log"; }
  std::string config_path() const { return dir_.path() + "/askr.toml"; }
  // Sends SIGTERM and waits; returns the exit status (or -signal).
  int stop(int timeout_ms = 15000);

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::vector<int> ports_;
};

// Runs askr-proxy with `args` (shell words), returns exit status; output captured.
int run_proxy_command(const std::string& args, std::string& output);
// The same, under the io_uring-refusing seccomp filter (see ProxyOptions::block_io_uring).
int run_proxy_command_without_io_uring(const std::string& args, std::string& output);
// In a child before exec: installs that filter.
void block_io_uring_in_this_process();
// Runs askr-proxy with `args`, its stdin a pipe that stays open and says nothing (a terminal no
// one types at); output is stdout and stderr. Killed after timeout_ms: then returns -1.
int run_proxy_with_silent_stdin(const std::vector<std::string>& args, std::string& output,
                                int timeout_ms);
// Runs a shell command, returns exit status; stdout captured.
int run_command(const std::string& cmd, std::string& output);

// Raw client side.
int connect_to(int port);
// A client that reads slowly: its receive buffer is set before connect, so that the window it
// offers is scaled for it from the start. A buffer shrunk after connect, below loopback's
// 64 KiB segments, makes every segment overflow it: the transfer then goes by retransmission
// timeouts and can stall for minutes.
constexpr int kSlowReaderRcvbuf = 256 * 1024;  // the kernel doubles it; a few segments
int connect_slow_reader(int port);
void send_all(int fd, std::string_view data);
// Reads until the peer closes or timeout_ms passes without data.
std::string read_all(int fd, int timeout_ms = 3000);
// True when the peer closed the connection (EOF or reset) within timeout_ms.
bool wait_closed(int fd, int timeout_ms = 3000);
// True when connecting to the port is refused (its listeners are closed) within timeout_ms.
bool wait_refused(int port, int timeout_ms = 5000);

struct HttpResponse {
  int status = 0;
  std::string status_line;
  std::map<std::string, std::string> headers;  // names lower-cased; last value wins
  std::string body;
  bool ok = false;  // a whole response was read
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Reads one response from the socket. `head_request`: no body follows (HEAD). Handles
// Content-Length, chunked and read-until-close bodies. Interim 1xx responses are returned too.
HttpResponse read_response(int fd, bool head_request = false, int timeout_ms = 5000);

// One request on a fresh connection, returning the response.
HttpResponse fetch(int port, const std::string& raw_request);

// "GET /path HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n"
std::string get(const std::string& path, const std::string& extra_headers = "");

// The sum over the loops of one counter ("requests", "bad requests", "timeouts") from the
// "loop N: http: ..." lines askr-proxy writes to its error log when it stops.
uint64_t http_counter(const std::string& log, const std::string& name);

bool io_uring_available();

}  // namespace askr::testing
