// Test harness for askr-worker: a temporary directory, the worker started as a real process
// on a socket in it (by --listen, or inherited as fd 3 as askr-proxy does it), and nginx
// (Debian's nginx-light) started in the foreground with a generated config.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace askr::testing::worker {

// The absolute path of a fixture under tests/worker/php.
std::string php_fixture(const std::string& name);

// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct WorkerOptions {
  std::string mode = "classic";
  std::string script;             // worker mode
  std::vector<std::string> args;  // more arguments (--max-requests 3, -d x=y)
  bool inherit_socket = false;    // the socket as fd 3 with ASKR_LISTEN_FD=3, no --listen
  // With inherit_socket: a listening socket to pass (several workers may share one), and its
  // path; -1: the worker gets one of its own.
  int shared_fd = -1;
  std::string shared_path;
  bool wait_ready = true;  // wait until the socket accepts connections
  // The write end of a pipe, passed as the supervisor's readiness pipe (ASKR_READY_FD): the
  // worker writes its pid there when it begins to accept, its pid negated when its first request
  // begins. -1: none.
  int ready_fd = -1;
};

// Options for a classic-mode worker, and for a worker-mode one running `script`.
WorkerOptions classic_mode(std::vector<std::string> args = {});
WorkerOptions worker_mode(const std::string& script, std::vector<std::string> args = {});

// A running askr-worker with its own temp dir (socket, uploads, sessions, log). Its ini: the
// Debian extension directory as by default, upload_max_filesize=100M, post_max_size=200M,
// upload_tmp_dir and session.save_path in the temp dir.
class WorkerProcess {
 public:
  explicit WorkerProcess(const WorkerOptions& opt = {});
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  const std::string& socket_path() const { return socket_; }
  pid_t pid() const { return pid_; }
  const TempDir& dir() const { return dir_; }
  std::string upload_dir() const { return dir_.file("uploads"); }
  // stdout and stderr of the process.
  std::string log() const;
  bool running();
  // Waits for the exit; the exit status, or -signal; nullopt on timeout (still running).
  std::optional<int> wait_exit(int timeout_ms);
  // Sends SIGTERM and waits (SIGKILL after 10 s); returns as wait_exit().
  std::optional<int> stop();

 private:
  TempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A listening Unix socket at `path` (throws on failure).
int listen_unix(const std::string& path);

// Starts askr-worker on `listen_fd` (as fd 3, like askr-proxy) from an intermediate child that
// exits as soon as the worker is started; returns the worker's pid, or -1.
pid_t start_orphaned_worker(int listen_fd, const std::string& log);

// Whether process `pid` is gone (or a zombie nobody reaped).
bool process_gone(pid_t pid);

// The resident set size of process `pid` in bytes (/proc/PID/statm).
size_t rss_bytes(pid_t pid);

// Runs a command (argv[0] is looked up in PATH), returns its exit status and stdout.
int run_command(const std::vector<std::string>& argv, std::string* out);

// nginx serving `root`, passing *.php to the FastCGI socket, on 127.0.0.1:port(). With
// `keep_conn`, through an upstream that keeps its connections (fastcgi_keep_conn).
class Nginx {
 public:
  Nginx(const std::string& root, const std::string& fastcgi_socket, bool keep_conn = false);
  ~Nginx();
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  std::string error_log() const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

bool nginx_available();

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(const std::string& data);

}  // namespace askr::testing::worker
