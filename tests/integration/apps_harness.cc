#include "apps_harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace askr::testing {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kNginxBin = "/usr/sbin/nginx";
constexpr const char* kMariadbd = "/usr/sbin/mariadbd";
constexpr const char* kInstallDb = "/usr/bin/mariadb-install-db";
constexpr const char* kMariadbClient = "/usr/bin/mariadb";

// A free loopback port: bound, read back and released (nginx binds it right after).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Starts argv in its own process group, stdout and stderr to `log`, stdin from /dev/null.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// `sig` to pid, then waits up to timeout_ms; SIGKILL to its process group after that.
void stop_process(pid_t pid, int sig, int timeout_ms) {
  if (pid <= 0) return;
  kill(pid, sig);
  int status;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid, SIGKILL);
  waitpid(pid, &status, 0);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

// ---- nginx --------------------------------------------------------------------------------------

bool nginx_available() {
  return access(kNginxBin, X_OK) == 0 && access("/etc/nginx/fastcgi_params", R_OK) == 0;
}

Nginx::Nginx(const std::string& server_body) {
  port_ = free_port();
  const std::string& d = dir_.path();
  std::string conf = "worker_processes 1;\nuser root;\npid " + d + "/nginx.pid;\nerror_log " + d +
                     "/error.log info;\nevents { worker_connections 256; }\nhttp {\n"
                     "  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
                     "  access_log off;\n  client_max_body_size 200m;\n"
                     "  client_body_temp_path " +
                     d +
                     "/client_body;\n"
                     "  fastcgi_temp_path " +
                     d +
                     "/fastcgi;\n"
                     "  proxy_temp_path " +
                     d +
                     "/proxy;\n"
                     "  uwsgi_temp_path " +
                     d +
                     "/uwsgi;\n"
                     "  scgi_temp_path " +
                     d +
                     "/scgi;\n"
                     "  server {\n    listen 127.0.0.1:" +
                     std::to_string(port_) + ";\n" + server_body + "\n  }\n}\n";
  std::string path = dir_.write("nginx.conf", conf);
  pid_ = spawn({kNginxBin, "-c", path, "-p", d, "-g", "daemon off;"}, d + "/stderr.log");
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (can_connect(port_)) return;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string why = read_file(d + "/stderr.log") + read_file(d + "/error.log");
  stop_process(pid_, SIGKILL, 1000);
  pid_ = -1;
  throw std::runtime_error("nginx did not start: " + why + "\nconfig:\n" + conf);
}

Nginx::~Nginx() {
  stop_process(pid_, SIGQUIT, 5000);
}

std::string Nginx::error_log() const {
  return read_file(dir_.path() + "/error.log");
}

std::string nginx_front_controller(const std::string& public_dir,
                                   const std::string& fastcgi_socket) {
  return "    root " + public_dir +
         ";\n"
         "    location / { try_files $uri /index.php$is_args$args; }\n"
         "    location ~ ^/index\\.php(/|$) {\n"
         "      include /etc/nginx/fastcgi_params;\n"
         "      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
         "      fastcgi_pass unix:" +
         fastcgi_socket + ";\n    }\n";
}

// ---- MariaDB ------------------------------------------------------------------------------------

bool mariadb_available() {
  return access(kMariadbd, X_OK) == 0 && access(kInstallDb, X_OK) == 0 &&
         access(kMariadbClient, X_OK) == 0;
}

MariaDb::MariaDb() {
  const std::string& d = dir_.path();
  socket_ = d + "/mysql.sock";
  std::string out;
  // As root, mariadbd runs only when told to (--user=root); root logs in without a password
  // over the socket (normal authentication, empty password).
  if (run_command(std::string(kInstallDb) + " --no-defaults --datadir=" + d +
                      "/data --user=root --auth-root-authentication-method=normal "
                      "--skip-test-db > " +
                      d + "/install.log 2>&1",
                  out) != 0) {
    throw std::runtime_error("mariadb-install-db failed:\n" + read_file(d + "/install.log"));
  }
  pid_ = spawn({kMariadbd, "--no-defaults", "--datadir=" + d + "/data", "--socket=" + socket_,
                "--skip-networking", "--user=root", "--pid-file=" + d + "/mariadbd.pid",
                "--log-error=" + d + "/error.log", "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin"},
               d + "/stderr.log");
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (run_command(std::string(kMariadbClient) + " --no-defaults -S " + socket_ +
                        " -uroot -e 'SELECT 1' >/dev/null 2>&1",
                    out) == 0) {
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string why = log();
  stop_process(pid_, SIGKILL, 1000);
  pid_ = -1;
  throw std::runtime_error("mariadbd did not start:\n" + why);
}

MariaDb::~MariaDb() {
  stop_process(pid_, SIGTERM, 20000);
}

void MariaDb::sql(const std::string& statements) const {
  std::string out;
  std::string cmd = std::string(kMariadbClient) + " --no-defaults -S " + socket_ + " -uroot -e " +
                    shell_quote(statements) + " 2>&1";
  if (run_command(cmd, out) != 0)
    throw std::runtime_error("SQL failed: " + statements + "\n" + out);
}

std::string MariaDb::log() const {
  return read_file(dir_.path() + "/error.log") + read_file(dir_.path() + "/stderr.log");
}

// ---- apps, cookies, comparison -----------------------------------------------------------------

void copy_app(const std::string& name, const std::string& dest) {
  fs::create_directories(dest);
  fs::copy(std::string(ASKR_SOURCE_DIR) + "/tests/apps/" + name, dest,
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

void CookieJar::update(const PhpResponse& r) {
  for (const std::string& c : r.all("set-cookie")) {
    size_t eq = c.find('=');
    if (eq == std::string::npos) continue;
    size_t end = c.find(';');
    std::string name = c.substr(0, eq);
    std::string value = c.substr(eq + 1, end == std::string::npos ? end : end - eq - 1);
    std::string lower = c;
    for (char& ch : lower) ch = char(tolower(static_cast<unsigned char>(ch)));
    bool gone =
        value.empty() || value == "deleted" || lower.find("max-age=0") != std::string::npos ||
        std::regex_search(lower, std::regex("expires=[a-z]{3}, \\d\\d[- ][a-z]{3}[- ](19|200)"));
    if (gone) {
      cookies_.erase(name);
    } else {
      cookies_[name] = value;
    }
  }
}

std::string CookieJar::header() const {
  if (cookies_.empty()) return {};
  std::string out = "Cookie: ";
  bool first = true;
  for (const auto& [k, v] : cookies_) {
    if (!first) out += "; ";
    out += k + "=" + v;
    first = false;
  }
  return out + "\r\n";
}

std::vector<std::string> cookie_names(const PhpResponse& r) {
  std::vector<std::string> out;
  for (const std::string& c : r.all("set-cookie")) out.push_back(c.substr(0, c.find('=')));
  return out;
}

std::string comparable(const PhpResponse& r) {
  std::ostringstream s;
  s << "status: " << r.status << "\n";
  // The media type: a static file's charset parameter is each server's choice (nginx adds
  // none by default); PHP's answers carry the one the app set, the same everywhere. Scripts
  // are text/javascript (RFC 9239), which nginx 1.22 still calls application/javascript.
  if (r.has("content-type")) {
    std::string type = r.header("content-type");
    type = type.substr(0, type.find(';'));
    if (type == "application/javascript") type = "text/javascript";
    s << "content-type: " << type << "\n";
  }
  for (const char* h : {"location", "cache-control"}) {
    if (r.has(h)) s << h << ": " << r.header(h) << "\n";
  }
  for (const std::string& name : cookie_names(r)) s << "set-cookie: " << name << "=...\n";
  static const std::regex nonce(R"((nonce\W{0,6}|_wpnonce=)[0-9a-f]{10}\b)", std::regex::icase);
  s << "\n" << std::regex_replace(r.body, nonce, "$1NONCE");
  return s.str();
}

std::string first_difference(const std::string& a, const std::string& b) {
  if (a == b) return {};
  std::istringstream la(a), lb(b);
  std::string x, y;
  for (int n = 1;; ++n) {
    bool ga = bool(std::getline(la, x));
    bool gb = bool(std::getline(lb, y));
    if (!ga && !gb) return "they differ in the last line's end";
    if (!ga || !gb || x != y) {
      auto cut = [](const std::string& s) { return s.size() > 400 ? s.substr(0, 400) + "..." : s; };
      return "line " + std::to_string(n) + ":\n  " + (ga ? cut(x) : "<end>") + "\n  " +
             (gb ? cut(y) : "<end>");
    }
  }
}

}  // namespace askr::testing
