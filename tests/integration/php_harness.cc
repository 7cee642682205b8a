#include "php_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace askr::testing {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(tolower(static_cast<unsigned char>(c)));
  return out;
}

// Waits for `pid` to exit within timeout_ms; returns true and reaps it when it did.
bool wait_exit(pid_t pid, int timeout_ms, int* status) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  do {
    if (waitpid(pid, status, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (Clock::now() < deadline);
  return false;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// JSON string at s[i] == '"'; returns the unescaped text, leaves i after the closing quote.
std::string json_string(std::string_view s, size_t& i) {
  std::string out;
  ++i;
  while (i < s.size() && s[i] != '"') {
    char c = s[i++];
    if (c != '\\' || i >= s.size()) {
      out += c;
      continue;
    }
    char e = s[i++];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        if (i + 4 > s.size()) return out;
        uint32_t cp = uint32_t(std::stoul(std::string(s.substr(i, 4)), nullptr, 16));
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
          uint32_t lo = uint32_t(std::stoul(std::string(s.substr(i + 2, 4)), nullptr, 16));
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        append_utf8(out, cp);
        break;
      }
      default:
        out += e;  // \" \\ \/
    }
  }
  ++i;
  return out;
}

// Skips any JSON value that is not a string; returns its text.
std::string json_other(std::string_view s, size_t& i) {
  size_t start = i;
  int depth = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      json_string(s, i);
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
    }
    if (c == ',' && depth == 0) break;
    ++i;
  }
  std::string out(s.substr(start, i - start));
  while (!out.empty() && isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

void skip_space(std::string_view s, size_t& i) {
  while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) ++i;
}

}  // namespace

// ---- php-fpm ------------------------------------------------------------------------------------

bool php_fpm_available() {
  return access(kPhpFpmBin, X_OK) == 0;
}

PhpFpm::PhpFpm(int children) : children_(children) {
  socket_ = dir_.path() + "/fpm.sock";
  log_ = dir_.path() + "/fpm.log";
  fs::create_directories(dir_.path() + "/phptmp");
  std::string n = std::to_string(children_);
  std::string tmp = dir_.path() + "/phptmp";
  conf_ = dir_.write("php-fpm.conf",
                     "[global]\n"
                     "error_log = " +
                         log_ +
                         "\n"
                         "daemonize = no\n"
                         "log_level = notice\n"
                         "\n"
                         "[askr]\n"
                         "user = root\n"
                         "group = root\n"
                         "listen = " +
                         socket_ +
                         "\n"
                         "listen.mode = 0600\n"
                         "pm = static\n"
                         "pm.max_children = " +
                         n +
                         "\n"
                         "pm.max_requests = 0\n"
                         "request_terminate_timeout = 120s\n"
                         "catch_workers_output = yes\n"
                         "decorate_workers_output = no\n"
                         "clear_env = no\n"
                         "php_admin_value[display_errors] = Off\n"
                         "php_admin_flag[log_errors] = On\n"
                         "php_admin_value[output_buffering] = 0\n"
                         "php_admin_value[upload_max_filesize] = 100M\n"
                         "php_admin_value[post_max_size] = 200M\n"
                         "php_admin_value[memory_limit] = 256M\n"
                         "php_admin_value[upload_tmp_dir] = " +
                         tmp +
                         "\n"
                         "php_admin_value[sys_temp_dir] = " +
                         tmp + "\n");
  // The same settings as a php.ini, so that nothing comes from the system's own php.ini
  // (the conf.d scan directory still loads the extensions, opcache included).
  dir_.write("php.ini",
             "display_errors = Off\n"
             "log_errors = On\n"
             "output_buffering = 0\n"
             "upload_max_filesize = 100M\n"
             "post_max_size = 200M\n"
             "memory_limit = 256M\n");
  start();
}

PhpFpm::~PhpFpm() {
  if (pid_ > 0) stop();
}

std::string PhpFpm::log() const {
  return read_file(log_);
}

void PhpFpm::start() {
  if (pid_ > 0) return;
  size_t log_before = read_file(log_).size();
  std::string ini = dir_.path() + "/php.ini";
  std::string out = dir_.path() + "/fpm.out";
  std::string tmp = "TMPDIR=" + dir_.path() + "/phptmp";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    // A clean environment: with clear_env = no the pool's environment shows in $_SERVER, and
    // nothing from the test runner's (HTTP_PROXY, HTTPS...) may pass for a request's param.
    char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char* envp[] = {path_env, tmp.data(), nullptr};
    execle(kPhpFpmBin, "php-fpm8.2", "-F", "-R", "-y", conf_.c_str(), "-c", ini.c_str(),
           static_cast<char*>(nullptr), envp);
    _exit(127);
  }
  // Generous: a loaded machine (CI runs tests side by side on two cores) starts slowly.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    std::string log = read_file(log_);
    struct stat st;
    if (log.size() > log_before &&
        log.find("ready to handle connections", log_before) != std::string::npos &&
        stat(socket_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("php-fpm exited at start:\n" + log + read_file(out));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  throw std::runtime_error("php-fpm did not start:\n" + read_file(log_) + read_file(out));
}

void PhpFpm::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status;
  if (!wait_exit(pid_, 10000, &status)) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  // Workers the master did not reap (it was killed) go with the process group.
  kill(-pid_, SIGKILL);
  pid_ = -1;
  ::unlink(socket_.c_str());
}

// ---- askr-proxy ---------------------------------------------------------------------------------

PhpProxy::PhpProxy(const PhpProxyOptions& opt) {
  fs::create_directories(temp_dir());
  std::string cfg = "[server]\n" + opt.server_extra + "threads = " + std::to_string(opt.threads) +
                    "\nio_backend = \"" + opt.backend + "\"\ntemp_dir = \"" + temp_dir() +
                    "\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\n" + opt.listen_extra +
                    "\n"
                    "[[pool]]\nname = \"fpm\"\n" +
                    (opt.fastcgi.empty() ? std::string() : "fastcgi = \"" + opt.fastcgi + "\"\n") +
                    opt.pool_extra + "\n[[site]]\nroot = \"" + opt.root +
                    "\"\nindex = " + opt.index + "\nphp = \"fpm\"\n";
  if (!opt.front_controller.empty()) {
    cfg += "front_controller = \"" + opt.front_controller + "\"\n";
  }
  cfg += opt.site_extra + "\n" + opt.routes + "\n";
  cfg += "[limits]\n" + opt.limits + "\n";
  if (!opt.timeouts.empty()) cfg += "[timeouts]\n" + opt.timeouts + "\n";
  cfg += "[access_log]\nformat = \"" + opt.access_log_format + "\"\npath = \"" + dir_.path() +
         "/access.log\"\n" + opt.extra;
  config_ = cfg;
  std::string cfg_path = dir_.write("askr.toml", cfg);
  std::string err_path = dir_.path() + "/error.log";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    execl(ASKR_PROXY_BIN, "askr-proxy", "-c", cfg_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Generous: a loaded machine (CI runs tests side by side on two cores) starts slowly.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    std::string log = read_file(err_path);
    size_t at = log.find("listening on 127.0.0.1:");
    if (at != std::string::npos && log.find("started:") != std::string::npos) {
      port_ = std::atoi(log.c_str() + at + strlen("listening on 127.0.0.1:"));
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("askr-proxy exited at start:\n" + log + "\nconfig:\n" + cfg);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("askr-proxy did not start:\n" + read_file(err_path));
}

PhpProxy::~PhpProxy() {
  if (pid_ > 0) stop();
}

bool PhpProxy::alive() const {
  if (pid_ <= 0) return false;
  int status;
  return waitpid(pid_, &status, WNOHANG) == 0;
}

std::string PhpProxy::error_log() const {
  return read_file(dir_.path() + "/error.log");
}

std::string PhpProxy::access_log() const {
  return read_file(dir_.path() + "/access.log");
}

int PhpProxy::stop(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  if (wait_exit(pid_, timeout_ms, &status)) {
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -SIGKILL;
}

// ---- client -------------------------------------------------------------------------------------

std::string PhpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return {};
}

std::vector<std::string> PhpResponse::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : fields) {
    if (k == name) out.push_back(v);
  }
  return out;
}

bool PhpResponse::has(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return true;
  }
  return false;
}

Client::Client(int port, Reads reads)
    : fd_(reads == Reads::kSlowly ? connect_slow_reader(port) : connect_to(port)) {}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

void Client::send(std::string_view data) {
  send_all(fd_, data);
}

bool Client::fill(int timeout_ms) {
  if (eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(tmp, size_t(n));
  return true;
}

bool Client::read_until(std::string_view needle, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (buf_.find(needle) == std::string::npos) {
    int left =
        int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0 || !fill(left)) return false;
  }
  return true;
}

bool Client::wait_closed(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!eof_ && Clock::now() < deadline) {
    buf_.clear();
    fill(50);
  }
  return eof_;
}

PhpResponse Client::read(bool head_request, int timeout_ms) {
  PhpResponse r;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(timeout_ms)) {
      r.closed = eof_;
      return r;
    }
  }
  std::string head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  std::istringstream lines(head);
  std::getline(lines, r.status_line);
  if (!r.status_line.empty() && r.status_line.back() == '\r') r.status_line.pop_back();
  if (r.status_line.size() >= 12) r.status = std::atoi(r.status_line.c_str() + 9);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t v = line.find_first_not_of(" \t", colon + 1);
    r.fields.emplace_back(lower(line.substr(0, colon)),
                          v == std::string::npos ? "" : line.substr(v));
  }
  r.chunked = lower(r.header("transfer-encoding")).find("chunked") != std::string::npos;
  bool no_body = head_request || r.status < 200 || r.status == 204 || r.status == 304;
  if (no_body) {
    r.ok = true;
  } else if (r.chunked) {
    for (;;) {
      size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos) {
        if (!fill(timeout_ms)) {
          r.closed = eof_;
          return r;
        }
      }
      std::string size_line = buf_.substr(0, eol);
      size_t size = std::strtoull(size_line.c_str(), nullptr, 16);
      if (size_line.empty() || !isxdigit(static_cast<unsigned char>(size_line[0]))) {
        r.closed = eof_;
        return r;  // not chunked framing
      }
      if (size == 0) {
        // Trailer fields, then an empty line.
        size_t at = eol;
        for (;;) {
          while (buf_.size() < at + 2 || buf_.find("\r\n", at + 2) == std::string::npos) {
            if (!fill(timeout_ms)) {
              r.closed = eof_;
              return r;
            }
          }
          size_t next = buf_.find("\r\n", at + 2);
          if (next == at + 2) {
            buf_.erase(0, next + 2);
            break;
          }
          at = next;
        }
        r.ok = true;
        break;
      }
      while (buf_.size() < eol + 2 + size + 2) {
        if (!fill(timeout_ms)) {
          r.body += buf_.substr(std::min(buf_.size(), eol + 2));
          buf_.clear();
          r.closed = eof_;
          return r;
        }
      }
      r.body.append(buf_, eol + 2, size);
      if (buf_.compare(eol + 2 + size, 2, "\r\n") != 0) {
        r.closed = eof_;
        return r;
      }
      buf_.erase(0, eol + 2 + size + 2);
    }
  } else if (r.has("content-length")) {
    size_t len = std::stoull(r.header("content-length"));
    while (buf_.size() < len && fill(timeout_ms)) {
    }
    r.ok = buf_.size() >= len;
    r.body = buf_.substr(0, len);
    buf_.erase(0, std::min(len, buf_.size()));
  } else {
    while (fill(timeout_ms)) {
    }
    r.body = std::move(buf_);
    buf_.clear();
    r.ok = eof_;
  }
  r.closed = eof_;
  return r;
}

PhpResponse php_fetch(int port, const std::string& raw_request, int timeout_ms) {
  Client c(port);
  c.send(raw_request);
  return c.read(raw_request.rfind("HEAD ", 0) == 0, timeout_ms);
}

// ---- helpers ------------------------------------------------------------------------------------

std::map<std::string, std::string> parse_json_object(std::string_view s) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  skip_space(s, i);
  if (i >= s.size() || s[i] != '{') return out;
  ++i;
  for (;;) {
    skip_space(s, i);
    if (i >= s.size() || s[i] != '"') break;
    std::string key = json_string(s, i);
    skip_space(s, i);
    if (i >= s.size() || s[i] != ':') break;
    ++i;
    skip_space(s, i);
    if (i < s.size() && s[i] == '"') {
      out[key] = json_string(s, i);
    } else {
      std::string v = json_other(s, i);
      if (v != "null") out[key] = v;
    }
    skip_space(s, i);
    if (i >= s.size() || s[i] != ',') break;
    ++i;
  }
  return out;
}

std::string sha256_file(const std::string& path) {
  std::string out;
  if (run_command("sha256sum '" + path + "'", out) != 0 || out.size() < 64) return {};
  return out.substr(0, 64);
}

void copy_php_site(const std::string& dest) {
  fs::create_directories(dest);
  fs::copy(std::string(ASKR_SOURCE_DIR) + "/tests/integration/php", dest,
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int hold_lock(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool wait_for_lines(const std::string& path, size_t lines, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::string text = read_file(path);
    if (size_t(std::count(text.begin(), text.end(), '\n')) >= lines) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::future<PhpResponse> queue_one(int port, const std::string& raw_request, PhpResponse* refused) {
  auto send = [port, raw_request] { return php_fetch(port, raw_request, 30000); };
  auto a = std::async(std::launch::async, send);
  auto b = std::async(std::launch::async, send);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (a.wait_for(std::chrono::milliseconds(10)) == std::future_status::ready) {
      *refused = a.get();
      return b;
    }
    if (b.wait_for(std::chrono::milliseconds(10)) == std::future_status::ready) {
      *refused = b.get();
      return a;
    }
  }
  return b;  // `refused` left as it was: the caller's check of its status fails
}

}  // namespace askr::testing
