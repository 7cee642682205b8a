#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace askr::testing {
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Waits for the `buffer` to hold a full head, returns its length (0: not yet).
size_t head_end(const std::string& buf) {
  size_t p = buf.find("\r\n\r\n");
  return p == std::string::npos ? 0 : p + 4;
}

bool read_more(int fd, std::string& buf, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf.append(tmp, size_t(n));
  return true;
}

// Per-socket leftover bytes between read_response calls (pipelining).
std::map<int, std::string>& leftovers() {
  static std::map<int, std::string> m;
  return m;
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/askr-test-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& rel, std::string_view content) const {
  fs::path p = fs::path(path_) / rel;
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f.write(content.data(), std::streamsize(content.size()));
  return p.string();
}

Proxy::Proxy(const ProxyOptions& opt) {
  std::string err_path = error_log_path();
  std::string error_log = opt.error_log_file ? "error_log = \"" + err_path + "\"\n" : "";
  std::string cfg =
      "[server]\nthreads = " + std::to_string(opt.threads) + "\nio_backend = \"" + opt.backend +
      "\"\n" + error_log + opt.server_extra + "\n[[listen]]\naddress = \"127.0.0.1:0\"\n" +
      opt.listen_extra + "\n[[site]]\nroot = \"" + opt.root + "\"\nindex = [\"index.html\"]\n" +
      opt.site_extra + "\n[access_log]\nformat = \"" + opt.access_log_format + "\"\npath = \"" +
      (opt.access_log.empty() ? access_log_path() : opt.access_log) + "\"\n\n" + opt.extra;
  std::string cfg_path = dir_.write("askr.toml", cfg);
  std::string stderr_path = opt.error_log_file ? dir_.path() + "/stderr.log" : err_path;
  pid_ = fork();
  if (pid_ == 0) {
    int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    if (opt.block_io_uring) block_io_uring_in_this_process();
    if (opt.nofile > 0) {
      rlimit rl{rlim_t(opt.nofile), rlim_t(opt.nofile)};
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(125);
    }
    execl(ASKR_PROXY_BIN, "askr-proxy", "-c", cfg_path.c_str(), nullptr);
    _exit(127);
  }
  // Generous: a loaded machine (CI runs tests side by side on two cores) starts slowly.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = slurp(err_path);
    size_t at = log.find("listening on 127.0.0.1:");
    if (at != std::string::npos && log.find("started:") != std::string::npos) {
      port_ = std::atoi(log.c_str() + at + strlen("listening on 127.0.0.1:"));
      for (size_t p = at; p != std::string::npos; p = log.find("listening on 127.0.0.1:", p + 1))
        ports_.push_back(std::atoi(log.c_str() + p + strlen("listening on 127.0.0.1:")));
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (opt.error_log_file) log += slurp(stderr_path);
      throw std::runtime_error("askr-proxy exited at start:\n" + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("askr-proxy did not start:\n" + slurp(err_path));
}

Proxy::~Proxy() {
  if (pid_ > 0) stop();
}

std::string Proxy::error_log() const {
  return slurp(dir_.path() + "/error.log");
}
std::string Proxy::access_log() const {
  return slurp(dir_.path() + "/access.log");
}

int Proxy::stop(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -SIGKILL;
}

int run_command(const std::string& cmd, std::string& output) {
  output.clear();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void block_io_uring_in_this_process() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{sizeof filter / sizeof filter[0], filter};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(126);
}

int run_proxy_command_without_io_uring(const std::string& args, std::string& output) {
  int pipefd[2];
  if (pipe(pipefd) < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    block_io_uring_in_this_process();
    execl("/bin/sh", "sh", "-c", (std::string(ASKR_PROXY_BIN) + " " + args).c_str(), nullptr);
    _exit(127);
  }
  close(pipefd[1]);
  output.clear();
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) output.append(buf, size_t(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_proxy_with_silent_stdin(const std::vector<std::string>& args, std::string& output,
                                int timeout_ms) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0) return -1;
  if (pipe2(out, O_CLOEXEC) < 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    std::vector<char*> argv{const_cast<char*>("askr-proxy")};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(ASKR_PROXY_BIN, argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  output.clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    pollfd p{out[0], POLLIN, 0};
    if (left <= 0 || poll(&p, 1, int(left)) <= 0) break;
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, size_t(n));
  }
  int status = 0;
  bool exited = false;
  while (!(exited = waitpid(pid, &status, WNOHANG) == pid) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  close(in[1]);
  close(out[0]);
  return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_proxy_command(const std::string& args, std::string& output) {
  return run_command(std::string(ASKR_PROXY_BIN) + " " + args + " 2>&1", output);
}

namespace {

int connect_with(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    ::close(fd);
    throw std::runtime_error(std::string("connect: ") + strerror(errno));
  }
  leftovers().erase(fd);
  return fd;
}

}  // namespace

int connect_to(int port) {
  return connect_with(port, 0);
}

int connect_slow_reader(int port) {
  return connect_with(port, kSlowReaderRcvbuf);
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(size_t(n));
  }
}

std::string read_all(int fd, int timeout_ms) {
  std::string buf = std::move(leftovers()[fd]);
  leftovers().erase(fd);
  while (read_more(fd, buf, timeout_ms)) {
  }
  return buf;
}

bool wait_closed(int fd, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char tmp[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return true;
  }
  return false;
}

bool wait_refused(int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool refused =
        connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 && errno == ECONNREFUSED;
    ::close(fd);
    if (refused) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

HttpResponse read_response(int fd, bool head_request, int timeout_ms) {
  HttpResponse r;
  std::string buf = std::move(leftovers()[fd]);
  leftovers().erase(fd);
  size_t end;
  while ((end = head_end(buf)) == 0) {
    if (!read_more(fd, buf, timeout_ms)) return r;
  }
  std::string head = buf.substr(0, end - 4);
  buf.erase(0, end);
  std::istringstream lines(head);
  std::getline(lines, r.status_line);
  if (!r.status_line.empty() && r.status_line.back() == '\r') r.status_line.pop_back();
  if (r.status_line.size() >= 12) r.status = std::atoi(r.status_line.c_str() + 9);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = char(tolower(c));
    size_t v = line.find_first_not_of(' ', colon + 1);
    r.headers[name] = v == std::string::npos ? "" : line.substr(v);
  }
  bool no_body = head_request || r.status < 200 || r.status == 204 || r.status == 304;
  if (no_body) {
    r.ok = true;
  } else if (r.headers.count("content-length")) {
    size_t len = std::stoull(r.headers["content-length"]);
    while (buf.size() < len && read_more(fd, buf, timeout_ms)) {
    }
    r.ok = buf.size() >= len;
    r.body = buf.substr(0, len);
    buf.erase(0, std::min(len, buf.size()));
  } else {
    while (read_more(fd, buf, timeout_ms)) {
    }
    r.body = std::move(buf);
    buf.clear();
    r.ok = true;
  }
  if (!buf.empty()) leftovers()[fd] = std::move(buf);
  return r;
}

HttpResponse fetch(int port, const std::string& raw_request) {
  int fd = connect_to(port);
  send_all(fd, raw_request);
  HttpResponse r = read_response(fd, raw_request.rfind("HEAD ", 0) == 0);
  ::close(fd);
  return r;
}

std::string get(const std::string& path, const std::string& extra_headers) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

uint64_t http_counter(const std::string& log, const std::string& name) {
  const std::regex re("loop \\d+: http: .*?(\\d+) " + name + "[,\\n]");
  uint64_t sum = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    sum += std::stoull((*it)[1].str());
  }
  return sum;
}

bool io_uring_available() {
  std::string out;
  run_proxy_command("doctor", out);
  return out.find("io_backend auto:  io_uring") != std::string::npos;
}

}  // namespace askr::testing
