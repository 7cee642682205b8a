#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace askr::testing::worker {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool can_connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

bool can_connect_tcp(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

int listen_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 128) != 0) {
    throw std::runtime_error("cannot listen on " + path);
  }
  return fd;
}

namespace {

template <class Pred>
bool wait_until(Pred pred, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// fork + exec with stdout/stderr to `log`, when listen_fd >= 0 that socket as fd 3, and when
// ready_fd >= 0 that pipe as fd 4.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, int listen_fd,
            const std::vector<std::string>& env_add, int ready_fd = -1) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  // Moved out of the way first: it may be fd 3 or 4 itself.
  if (ready_fd >= 0) ready_fd = fcntl(ready_fd, F_DUPFD_CLOEXEC, 10);
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  dup2(out, 1);
  dup2(out, 2);
  if (listen_fd == 3) {
    fcntl(3, F_SETFD, 0);
  } else if (listen_fd >= 0) {
    dup2(listen_fd, 3);  // the copy is not close-on-exec
  }
  if (ready_fd >= 0) dup2(ready_fd, 4);
  for (const std::string& e : env_add) putenv(const_cast<char*>(e.c_str()));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(127);
}

std::optional<int> decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return std::nullopt;
}

}  // namespace

std::string php_fixture(const std::string& name) {
  return std::string(ASKR_WORKER_PHP_DIR) + "/" + name;
}

WorkerOptions classic_mode(std::vector<std::string> args) {
  WorkerOptions o;
  o.args = std::move(args);
  return o;
}

WorkerOptions worker_mode(const std::string& script, std::vector<std::string> args) {
  WorkerOptions o;
  o.mode = "worker";
  o.script = script;
  o.args = std::move(args);
  return o;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/askr-worker-test.XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

WorkerProcess::WorkerProcess(const WorkerOptions& opt) : socket_(dir_.file("worker.sock")) {
  fs::create_directories(upload_dir());
  fs::create_directories(dir_.file("sessions"));
  std::vector<std::string> argv = {ASKR_WORKER_BIN, "--mode", opt.mode};
  if (!opt.script.empty()) argv.insert(argv.end(), {"--script", opt.script});
  int listen_fd = -1;
  if (opt.inherit_socket && opt.shared_fd >= 0) {
    listen_fd = opt.shared_fd;
    socket_ = opt.shared_path;
  } else if (opt.inherit_socket) {
    listen_fd = listen_unix(socket_);
  } else {
    argv.insert(argv.end(), {"--listen", socket_});
  }
  for (std::string d : {"upload_max_filesize=100M", "post_max_size=200M", "memory_limit=256M"}) {
    argv.insert(argv.end(), {"-d", d});
  }
  argv.insert(argv.end(), {"-d", "upload_tmp_dir=" + upload_dir()});
  argv.insert(argv.end(), {"-d", "session.save_path=" + dir_.file("sessions")});
  argv.insert(argv.end(), opt.args.begin(), opt.args.end());
  std::vector<std::string> env = {"ASAN_OPTIONS=detect_leaks=0"};
  if (opt.inherit_socket) env.push_back("ASKR_LISTEN_FD=3");
  if (opt.ready_fd >= 0) env.push_back("ASKR_READY_FD=4");
  pid_ = spawn(argv, dir_.file("worker.log"), listen_fd, env, opt.ready_fd);
  if (listen_fd >= 0 && listen_fd != opt.shared_fd) close(listen_fd);
  if (opt.wait_ready && !wait_until([this] { return can_connect_unix(socket_); }, 10000)) {
    throw std::runtime_error("askr-worker did not start: " + log());
  }
}

WorkerProcess::~WorkerProcess() {
  stop();
}

std::string WorkerProcess::log() const {
  return read_all(dir_.file("worker.log"));
}

bool WorkerProcess::running() {
  return !wait_exit(0).has_value();
}

std::optional<int> WorkerProcess::wait_exit(int timeout_ms) {
  if (status_ || pid_ <= 0) return status_;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  do {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = decode_status(status);
      return status_;
    }
    if (timeout_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (Clock::now() < deadline);
  return std::nullopt;
}

std::optional<int> WorkerProcess::stop() {
  if (status_ || pid_ <= 0) return status_;
  kill(pid_, SIGTERM);
  if (std::optional<int> s = wait_exit(10000)) return s;
  kill(pid_, SIGKILL);
  return wait_exit(10000);
}

pid_t start_orphaned_worker(int listen_fd, const std::string& log) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t middle = fork();
  if (middle == 0) {
    close(fds[0]);
    pid_t worker = spawn({ASKR_WORKER_BIN}, log, listen_fd,
                         {"ASKR_LISTEN_FD=3", "ASAN_OPTIONS=detect_leaks=0"});
    [[maybe_unused]] ssize_t n = write(fds[1], &worker, sizeof worker);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the worker is up
    _exit(0);
  }
  close(fds[1]);
  pid_t worker = -1;
  if (read(fds[0], &worker, sizeof worker) != sizeof worker) worker = -1;
  close(fds[0]);
  waitpid(middle, nullptr, 0);
  return worker;
}

bool process_gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.compare(paren + 2, 1, "Z") == 0;
}

size_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  size_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

int run_command(const std::vector<std::string>& argv, std::string* out) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) data.append(buf, size_t(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out) *out = std::move(data);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool nginx_available() {
  return access("/usr/sbin/nginx", X_OK) == 0 && access("/etc/nginx/fastcgi_params", R_OK) == 0;
}

Nginx::Nginx(const std::string& root, const std::string& fastcgi_socket, bool keep_conn) {
  port_ = free_tcp_port();
  const std::string& d = dir_.path();
  std::ofstream conf(dir_.file("nginx.conf"));
  conf << "worker_processes 1;\nuser root;\npid " << d << "/nginx.pid;\n"
       << "error_log " << d << "/error.log info;\n"
       << "events { worker_connections 256; }\n"
       << "http {\n  access_log off;\n  client_max_body_size 200m;\n"
       << "  client_body_temp_path " << d << "/client_body;\n"
       << "  fastcgi_temp_path " << d << "/fastcgi;\n"
       << "  proxy_temp_path " << d << "/proxy;\n"
       << "  uwsgi_temp_path " << d << "/uwsgi;\n"
       << "  scgi_temp_path " << d << "/scgi;\n"
       << "  upstream php {\n    server unix:" << fastcgi_socket << ";\n"
       << (keep_conn ? "    keepalive 4;\n" : "") << "  }\n"
       << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    root " << root << ";\n"
       << "    location ~ \\.php$ {\n      include /etc/nginx/fastcgi_params;\n"
       << "      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
       << (keep_conn ? "      fastcgi_keep_conn on;\n" : "")
       << "      fastcgi_pass php;\n    }\n  }\n}\n";
  conf.close();
  pid_ = spawn({"/usr/sbin/nginx", "-c", dir_.file("nginx.conf"), "-p", d, "-g", "daemon off;"},
               dir_.file("stderr.log"), -1, {});
  if (!wait_until([this] { return can_connect_tcp(port_); }, 10000)) {
    throw std::runtime_error("nginx did not start: " + read_all(dir_.file("stderr.log")) +
                             read_all(dir_.file("error.log")));
  }
}

Nginx::~Nginx() {
  if (pid_ <= 0) return;
  kill(pid_, SIGQUIT);
  int status;
  if (!wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 5000)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
}

std::string Nginx::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string Nginx::error_log() const {
  return read_all(dir_.file("error.log"));
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace askr::testing::worker
