// askr-worker: PHP embedded behind FastCGI. See fcgi_server.h for the protocol side,
// sapi/engine.h for the PHP configuration, modes/classic.h and modes/worker.h for the modes.
//
// PHP configuration, in short (details in sapi/engine.h): no php.ini unless --php-ini FILE; the
// extensions Debian enables for libphp (/etc/php/8.2/embed/conf.d: OPcache, xml, ...) are
// loaded unless --ini-scan-dir says otherwise; -d name=value entries win over both; defaults
// that either may change: display_errors=0, log_errors=1, and php.ini-production's
// register_argc_argv=0, expose_php=0, zend.assertions=-1, error_reporting=E_ALL & ~E_DEPRECATED
// & ~E_STRICT, request_order=GP, short_open_tag=0, output_buffering=4096,
// zend.exception_ignore_args=1, enable_dl=0 and Debian's session settings. Log lines of a
// request (error_log(), warnings, fatal errors) go to the client as FastCGI STDERR, "PHP
// message: ..."; lines outside of any request, and what the worker script prints outside of one,
// go to the process's stderr.
//
// For a supervisor (askr-proxy's): started with ASKR_LISTEN_FD=3 and the listening Unix socket
// as fd 3 (its slot's: each worker of a pool has its own, kept for its replacement), and
// ASKR_READY_FD (see FcgiServer), both taken out of
// the environment before PHP starts; the process dies with its parent (PR_SET_PDEATHSIG,
// SIGKILL) and refuses to start if the parent is already gone. On that socket, only peers of
// this process's user or root are served (SO_PEERCRED). SIGTERM, SIGINT or SIGQUIT: the request
// in progress is finished, then the process exits 0; waiting idle, it exits at once.
//
// A pool zygote (--zygote, askr-proxy's way of starting a pool) takes a control socket as fd 3
// ($ASKR_ZYGOTE_FD) instead, starts PHP once and forks each worker of the pool on request
// (zygote.h); the workers then run as above, each with its own socket and pipe fds.
//
// Exit status:
//   0    recycled (--max-requests, --memory-limit), stopped by a signal, or the worker script
//        ended / called exit() (exit(N): N)
//   1    could not start (socket, PHP start-up, worker script missing, parent gone)
//   2    bad command line
//   255  a fatal error ended the worker script (worker mode)
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "fcgi_server.h"
#include "modes/classic.h"
#include "modes/worker.h"
#include "options.h"
#include "php_signals.h"
#include "process.h"
#include "sapi/engine.h"
#include "sapi/stray_output.h"
#include "shared/base/log.h"
#include "zygote.h"

namespace askr::worker {
namespace {

// A listening socket at `path` ("@name": the abstract namespace). A stale socket file (nobody
// accepting) is replaced; a live one is an error.
int create_listener(const std::string& path, ino_t& inode) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    LOG_ERROR("--listen %s: path too long", path.c_str());
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + path.size());
  bool abstract = path[0] == '@';
  if (abstract) addr.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!abstract && connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
    LOG_ERROR("--listen %s: another process is listening there", path.c_str());
    close(fd);
    return -1;
  }
  if (!abstract && errno == ECONNREFUSED) unlink(path.c_str());
  close(fd);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 511) != 0) {
    LOG_ERROR("--listen %s: %s", path.c_str(), strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  struct stat st;
  if (!abstract) {
    chmod(path.c_str(), 0660);  // as php-fpm's listen.mode
    if (stat(path.c_str(), &st) == 0) inode = st.st_ino;
  }
  return fd;
}

// The socket inherited from the supervisor: $ASKR_LISTEN_FD (3).
int inherited_listener() {
  const char* env = getenv("ASKR_LISTEN_FD");
  if (!env) {
    LOG_ERROR("no socket to listen on: give --listen PATH, or start with ASKR_LISTEN_FD");
    return -1;
  }
  int fd = atoi(env);
  int accepting = 0;
  socklen_t len = sizeof accepting;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) {
    LOG_ERROR("ASKR_LISTEN_FD=%s is not a listening socket", env);
    return -1;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);  // not for PHP's child processes
  unsetenv("ASKR_LISTEN_FD");
  return fd;
}

// An fd from the supervisor named by `variable` (the readiness pipe: $ASKR_READY_FD; a
// zygote's control socket: $ASKR_ZYGOTE_FD), taken out of the environment before PHP starts
// (scripts see nothing of it) and kept from PHP's child processes. -1 without one.
int inherited_fd(const char* variable) {
  const char* env = getenv(variable);
  int fd = env ? atoi(env) : -1;
  unsetenv(variable);
  if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return -1;
  return fd;
}

// Removes the socket file we created, unless another process has replaced it since.
void remove_listener(const std::string& path, ino_t inode) {
  struct stat st;
  if (path.empty() || path[0] == '@' || stat(path.c_str(), &st) != 0) return;
  if (st.st_ino == inode) unlink(path.c_str());
}

int serve(const Options& opt, int listen_fd, int ready_fd) {
  FcgiServer server(listen_fd, wake_fd(), ready_fd, opt.listen_path.empty());
  modes::Limits limits{opt.max_requests, opt.memory_limit};
  if (opt.mode == Options::Mode::kWorker) return modes::run_worker(server, limits, opt.script);
  return modes::run_classic(server, limits);
}

// A pool zygote (--zygote): PHP starts here once; each worker is forked from it and serves
// with the fds its supervisor sent for it (see zygote.h). The zygote itself returns 0 when its
// supervisor closes the control socket or a stop signal arrives.
int run_zygote(const Options& opt, const sapi::EngineConfig& engine) {
  int control_fd = inherited_fd("ASKR_ZYGOTE_FD");
  if (control_fd < 0) {
    LOG_ERROR("--zygote needs its control socket as fd $ASKR_ZYGOTE_FD");
    return 1;
  }
  if (!opt.user.empty() && !switch_user(opt.user, opt.group)) return 1;
  if (!die_with_parent()) {
    LOG_ERROR("the parent process is gone; not starting");
    return 1;
  }
  if (!sapi::start_engine(engine)) return 1;
  std::optional<WorkerFds> fds = serve_fork_requests(control_fd);
  if (fds) keep_stop_handlers_in_requests();
  int status = fds ? serve(opt, fds->listen_fd, fds->ready_fd) : 0;
  sapi::stop_engine();
  return status;
}

int run(const Options& opt) {
  if (!opt.log_level.empty()) {
    log::Level level;
    if (!log::parse_level(opt.log_level, level)) {
      fprintf(stderr, "askr-worker: --log-level: expected error, warn, info or debug\n");
      return 2;
    }
    log::set_level(level);
  }
  sapi::set_pool_name(opt.pool);
  if (!install_signal_handlers()) {
    LOG_ERROR("pipe: %s", strerror(errno));
    return 1;
  }
  sapi::EngineConfig engine{opt.php_ini, opt.ini_scan_dir_set, opt.ini_scan_dir, opt.defines};
  if (opt.version) {
    if (!sapi::start_engine(engine)) return 1;
    sapi::print_info();
    sapi::stop_engine();
    return 0;
  }
  if (opt.zygote) return run_zygote(opt, engine);
  ino_t inode = 0;
  int listen_fd =
      opt.listen_path.empty() ? inherited_listener() : create_listener(opt.listen_path, inode);
  if (listen_fd < 0) return 1;
  // An abstract socket ("@name") has no file to give.
  const std::string& socket_file =
      opt.listen_path.starts_with('@') ? std::string() : opt.listen_path;
  if (!opt.user.empty() && !switch_user(opt.user, opt.group, socket_file)) return 1;
  if (opt.listen_path.empty() && !die_with_parent()) {
    LOG_ERROR("the parent process is gone; not starting");
    return 1;
  }
  int ready_fd = inherited_fd("ASKR_READY_FD");
  if (!sapi::start_engine(engine)) return 1;
  keep_stop_handlers_in_requests();
  int status = serve(opt, listen_fd, ready_fd);
  sapi::stop_engine();
  if (!opt.listen_path.empty()) remove_listener(opt.listen_path, inode);
  return status;
}

}  // namespace
}  // namespace askr::worker

int main(int argc, char** argv) {
  // ld.so has read it (everything loaded from now on binds at once too); PHP and its child
  // processes never see it. See the supervisor's zygote start.
  if (const char* b = getenv("LD_BIND_NOW"); b && strcmp(b, "askr") == 0) unsetenv("LD_BIND_NOW");
  askr::Result<askr::worker::Options> opt = askr::worker::parse_options(argc, argv);
  if (!opt) {
    fprintf(stderr, "askr-worker: %s\n", opt.error().message.c_str());
    return 2;
  }
  if (opt->help) {
    fputs(askr::worker::usage(), stdout);
    return 0;
  }
  return askr::worker::run(*opt);
}
