// askr-proxy: the front. Reads the config, opens one listener per loop and address, starts one
// pinned loop thread per core, then waits for signals on the main thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "doctor.h"
#include "loop/probe.h"
#include "master/supervisor.h"
#include "net/ktls.h"
#include "net/listener.h"
#include "net/tls_context.h"
#include "server/shard.h"
#include "shared/base/log.h"
#include "shared/config/load.h"

#ifndef ASKR_VERSION
#define ASKR_VERSION "0.1.0"
#endif

namespace askr {
namespace {

// How long workers are given to exit at a stop when the drain has no time left: idle ones
// leave at once on SIGTERM.
constexpr int64_t kWorkerExitMs = 500;

constexpr const char* kUsage =
    "usage: askr-proxy -c FILE        serve, in the foreground\n"
    "       askr-proxy -t -c FILE     check the config and exit\n"
    "       askr-proxy doctor         report what this machine offers\n"
    "       askr-proxy --version | --help\n";

std::vector<int> usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  std::vector<int> cpus;
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) cpus.push_back(i);
  }
  return cpus;
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// A log named by `key` ("error_log"): stderr, or the file opened for appending (created when
// missing). The error says which file and why, as nginx's open() failed line does.
Result<int> open_log(const char* key, const std::string& path) {
  if (path == "stderr") return 2;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error(std::string(key) + " \"" + path + "\"");
  return fd;
}

// The error of a log file that cannot be opened at start, at the value that names it in `file`
// (the config as given on the command line): "FILE:LINE:COLUMN: error_log "PATH": why".
Error at_value(const std::string& file, config::SourceAt at, Error e) {
  e.message =
      file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + e.message;
  return e;
}

// Both logs, opened as a start opens them; -t closes them again. `access` is -1 when the access
// log is off.
struct Logs {
  int error = 2;
  int access = -1;
};
Result<Logs> open_logs(const config::Config& cfg, const std::string& file) {
  Result<int> error = open_log("error_log", cfg.server.error_log);
  if (!error) return at_value(file, cfg.server.error_log_at, error.error());
  Logs logs{*error, -1};
  if (!cfg.access_log.enabled) return logs;
  Result<int> access = open_log("[access_log] path", cfg.access_log.path);
  if (!access) {
    if (logs.error != 2) ::close(logs.error);
    return at_value(file, cfg.access_log.path_at, access.error());
  }
  logs.access = *access;
  return logs;
}

// SIGUSR1, after logrotate moved the files away: each log file is opened again by its name and
// takes the place of the running one under the same descriptor (dup2), which every thread keeps
// writing to. A file that cannot be opened leaves its log where it was, and one line says why.
void reopen_logs(const config::Config& cfg, const Logs& running) {
  struct Log {
    const char* key;
    const std::string& path;
    int fd;
  };
  bool ok = true;
  for (const Log& l : {Log{"error_log", cfg.server.error_log, running.error},
                       Log{"[access_log] path", cfg.access_log.path, running.access}}) {
    if (l.fd < 0 || l.path == "stderr") continue;  // the access log is off, or not a file
    Result<int> fd = open_log(l.key, l.path);
    if (!fd) {
      LOG_ERROR("SIGUSR1: not reopened, still writing to the old file: %s",
                fd.error().message.c_str());
      ok = false;
      continue;
    }
    ::dup2(*fd, l.fd);
    ::close(*fd);
  }
  if (ok) LOG_INFO("SIGUSR1: logs reopened");
}

// Decides the backend once for all loops. An explicit io_uring that the kernel refuses is an
// error; `auto` falls back to epoll with one log line.
bool choose_backend(config::IoBackend wanted, bool& use_uring) {
  if (wanted == config::IoBackend::kEpoll) {
    use_uring = false;
    return true;
  }
  loop::UringProbe probe = loop::probe_io_uring();
  use_uring = probe.usable;
  if (probe.usable) return true;
  if (wanted == config::IoBackend::kIoUring) {
    LOG_ERROR("io_backend = \"io_uring\" but io_uring is not usable here: %s",
              probe.reason.c_str());
    return false;
  }
  LOG_WARN("io_uring not usable (%s); using epoll", probe.reason.c_str());
  return true;
}

// Opens every listener for every loop, on addresses no other socket listens on. Port 0 is
// resolved by the first socket; the others bind the port it got.
bool open_listeners(const config::Config& cfg, const std::vector<int>& cpus,
                    std::vector<std::vector<int>>& per_loop) {
  per_loop.assign(cpus.size(), {});
  // All are checked before any is opened: a wildcard listener and a specific address on its
  // port are both the config's own.
  for (const config::Listen& l : cfg.listens) {
    if (Result<void> free = net::check_address_free(l.addr, l.addr_len); !free) {
      LOG_ERROR("listen %s: %s", l.text.c_str(), free.error().message.c_str());
      return false;
    }
  }
  for (const config::Listen& l : cfg.listens) {
    sockaddr_storage addr = l.addr;
    for (size_t i = 0; i < cpus.size(); ++i) {
      Result<int> fd = net::open_listener(addr, l.addr_len, cpus[i], 4096);
      if (!fd) {
        LOG_ERROR("listen %s: %s", l.text.c_str(), fd.error().message.c_str());
        return false;
      }
      per_loop[i].push_back(*fd);
      if (i == 0) {
        int port = net::bound_port(*fd);
        if (addr.ss_family == AF_INET)
          reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
        if (addr.ss_family == AF_INET6)
          reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
      }
    }
    LOG_INFO("listening on %s", net::format_address(reinterpret_cast<sockaddr*>(&addr)).c_str());
  }
  return true;
}

// SIGHUP: the certificate and key files the running config names are read again and replace
// the running contexts as a whole; new handshakes get them, established connections keep theirs,
// and session tickets stay valid (the key set passes on). Built here, on the main thread, never
// on a loop. Any problem (a file unreadable, a key that does not match) leaves the running
// certificates serving. The rest of the config is not re-read.
void reload_certificates(server::Generation& gen) {
  std::shared_ptr<const net::TlsContexts> running = gen.tls.get();
  if (!running) return;
  Result<std::unique_ptr<net::TlsContexts>> next =
      net::TlsContexts::build(gen.config, running->ticket_keys());
  if (!next) {
    LOG_ERROR("SIGHUP: certificates not reloaded, the running ones keep serving: %s",
              next.error().message.c_str());
    return;
  }
  gen.tls.publish(std::move(*next));
  LOG_INFO("SIGHUP: certificates reloaded");
}

// SIGHUP reloads certificates, PHP and the roots, with the rest of the config as it was at start:
// the sites, routes, listeners and pools' settings are not applied again. An operator who edited
// the file is told so (and of the file's errors, as -t would say them) rather than left to find
// that nothing changed.
void check_config_file(const std::string& path, const std::string& started_with) {
  config::LoadResult now = config::load_file(path);
  if (!now.config) {
    for (const config::Diagnostic& d : now.errors) LOG_ERROR("SIGHUP: %s", d.to_string().c_str());
    LOG_ERROR("SIGHUP: %s has %zu error(s), as above; the running config is unchanged",
              path.c_str(), now.errors.size());
    return;
  }
  if (now.text != started_with) {
    LOG_WARN(
        "SIGHUP: %s changed since askr-proxy started, and a reload applies only certificates, "
        "roots and PHP (workers restart with the pools' settings of the start): restart "
        "askr-proxy for the rest",
        path.c_str());
  }
}

// Each root, route root and alias of `was` that `is` (the same config text) resolves elsewhere,
// logged as a change.
void log_moved_roots(const config::Config& was, const config::Config& is) {
  auto moved = [](const std::string& from, const std::string& to, const std::string& what) {
    if (from != to)
      LOG_INFO("SIGHUP: %s is now %s (was %s)", what.c_str(), to.c_str(), from.c_str());
  };
  for (size_t i = 0; i < was.sites.size(); ++i) {
    const config::Site &a = was.sites[i], &b = is.sites[i];
    std::string site = "site " + std::to_string(i + 1);
    moved(a.root, b.root, site + "'s root");
    for (size_t j = 0; j < a.routes.size(); ++j) {
      if (a.routes[j].root == a.root && b.routes[j].root == b.root) continue;  // the site's
      moved(a.routes[j].root, b.routes[j].root,
            site + "'s route " + a.routes[j].prefix + " (root or alias)");
    }
  }
}

// SIGHUP: the roots, route roots and aliases of the running config text are resolved and opened
// again, as nginx and php-fpm find a moved `current` symlink (a Capistrano-style deploy) on
// theirs. Requests that start from now on get the new router; those in flight finish on the old
// one, freed with its descriptors when every loop has moved on. A root that cannot be resolved
// or opened leaves the running roots serving. `served`: the config whose roots are served.
void reload_roots(server::Generation& gen, const std::string& path, const std::string& text,
                  std::optional<config::Config>& served) {
  auto keep_running = [](const std::string& why) {
    LOG_ERROR("SIGHUP: roots not reloaded, the running ones keep serving: %s", why.c_str());
  };
  config::LoadResult now = config::load_string(text, path);
  if (!now.config) {
    std::string why;
    for (const config::Diagnostic& d : now.errors) why += (why.empty() ? "" : "; ") + d.to_string();
    return keep_running(why);
  }
  Result<core::Router> next = core::Router::build(gen.config, *now.config);
  if (!next) return keep_running(next.error().message);
  gen.router.publish(std::make_shared<const core::Router>(std::move(*next)));
  log_moved_roots(served ? *served : gen.config, *now.config);
  served = std::move(now.config);
}

// [tls] ktls against what this kernel can do, said once at start (never per connection):
// "auto" without kernel TLS serves in user space; "on" without it refuses to start.
bool check_ktls(config::Ktls mode) {
  if (mode == config::Ktls::kOff) return true;
  const net::ktls::Probe& p = net::ktls::probe();
  if (p.any()) {
    LOG_INFO("kernel TLS: %s", p.summary().c_str());
    return true;
  }
  if (mode == config::Ktls::kOn) {
    LOG_ERROR(
        "[tls] ktls = \"on\", but kernel TLS is %s (load the tls module, "
        "or set ktls = \"auto\")",
        p.summary().c_str());
    return false;
  }
  LOG_INFO("kernel TLS %s: TLS stays in user space", p.summary().c_str());
  return true;
}

int check_config(const std::string& path) {
  config::LoadResult r = config::load_file(path);
  for (const config::Diagnostic& d : r.errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
  if (!r.config) return 1;
  // Certificates, keys and cipher strings are OpenSSL's to judge: build the contexts as a start
  // would.
  if (Result<std::unique_ptr<net::TlsContexts>> tls = net::TlsContexts::build(*r.config); !tls) {
    std::fprintf(stderr, "%s\n", tls.error().message.c_str());  // FILE:LINE:COLUMN: ...
    return 1;
  }
  Result<Logs> logs = open_logs(*r.config, path);
  if (!logs) {
    std::fprintf(stderr, "%s\n", logs.error().message.c_str());  // FILE:LINE:COLUMN: ...
    return 1;
  }
  for (int fd : {logs->error, logs->access}) {
    if (fd > 2) ::close(fd);
  }
  std::fprintf(stderr, "askr-proxy: configuration file %s test is successful\n", path.c_str());
  return 0;
}

int serve(const std::string& path) {
  config::LoadResult r = config::load_file(path);
  for (const config::Diagnostic& d : r.errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
  if (!r.config) return 1;

  // Signals are taken on this thread with sigwait; the loops never see them.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  auto gen = std::make_unique<server::Generation>();
  gen->config = std::move(*r.config);
  const std::string started_with = std::move(r.text);
  const config::Config& cfg = gen->config;
  log::Level level = log::Level::kInfo;
  log::parse_level(cfg.server.log_level, level);
  log::set_level(level);
  Result<Logs> logs = open_logs(cfg, path);
  if (!logs) {
    LOG_ERROR("%s", logs.error().message.c_str());  // FILE:LINE:COLUMN: ...
    return 1;
  }
  log::set_fd(logs->error);
  log::set_echo_to_stderr(true);  // until it serves
  gen->access_log_fd = logs->access;
  Result<core::Router> router = core::Router::build(cfg);
  if (!router) {
    LOG_ERROR("%s", router.error().message.c_str());
    return 1;
  }
  gen->router.publish(std::make_shared<const core::Router>(std::move(*router)));
  std::optional<config::Config> served_roots;  // after a reload: the config whose roots serve
  Result<std::unique_ptr<net::TlsContexts>> tls = net::TlsContexts::build(cfg);
  if (!tls) {
    LOG_ERROR("%s", tls.error().message.c_str());  // FILE:LINE:COLUMN: ...
    return 1;
  }
  gen->tls.publish(std::move(*tls));
  if (gen->tls.get() && !check_ktls(cfg.tls.ktls)) return 1;

  bool use_uring = false;
  if (!choose_backend(cfg.server.io_backend, use_uring)) return 1;
  std::vector<int> cpus = usable_cpus();
  if (cfg.server.threads > 0) {
    std::vector<int> chosen;
    for (unsigned i = 0; i < cfg.server.threads; ++i) chosen.push_back(cpus[i % cpus.size()]);
    cpus = chosen;
  }
  std::vector<std::vector<int>> listen_fds;
  if (!open_listeners(cfg, cpus, listen_fds)) return 1;
  for (size_t i = 0; i < cfg.listens.size(); ++i) {
    if (!cfg.listens[i].tls) continue;
    if (int port = net::bound_port(listen_fds[0][i]); port > 0) gen->https_port = port;
    break;
  }
  master::Supervisor supervisor;
  if (Result<void> r = supervisor.prepare(gen->config, unsigned(cpus.size())); !r) {
    LOG_ERROR("%s", r.error().message.c_str());
    return 1;
  }
  std::vector<backend::PoolSlots*> slots;
  for (size_t i = 0; i < cfg.pools.size(); ++i) slots.push_back(supervisor.slots(i));

  std::vector<std::unique_ptr<server::Shard>> shards;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(cpus.size());
  std::atomic<int> ready{0};
  // Each loop adds 1 to it when its thread ends, so that the main thread wakes.
  int ended_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  for (size_t i = 0; i < cpus.size(); ++i) {
    shards.push_back(
        std::make_unique<server::Shard>(*gen, unsigned(i), cpus[i], listen_fds[i], slots));
    // The thread gets the shard itself: `shards` may move its elements as it grows.
    server::Shard* shard = shards.back().get();
    std::string* error = &errors[i];
    threads.emplace_back([shard, error, &ready, use_uring, ended_fd] {
      shard->run(use_uring, ready, *error);
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(ended_fd, &one, sizeof one);
    });
  }
  // Each loop adds 1 when it runs, 1000 when it failed to start: wait until all have said.
  for (int seen = ready.load(); seen % 1000 + seen / 1000 < int(cpus.size()); seen = ready.load()) {
    ready.wait(seen);
  }
  bool failed = ready.load() >= 1000;
  if (failed) {
    for (const std::string& e : errors) {
      if (!e.empty()) LOG_ERROR("loop start failed: %s", e.c_str());
    }
  } else {
    supervisor.start();
    LOG_INFO("askr-proxy %s started: %zu loops, %s backend", ASKR_VERSION, cpus.size(),
             use_uring ? "io_uring" : "epoll");
    log::set_echo_to_stderr(false);
  }

  // The main thread supervises: signals, and askr-worker processes (SIGCHLD, restarts that are
  // due after a back-off, kills the loops ask for). It goes on supervising while the loops
  // drain: a request still queued for a pool needs its workers ready, restarted when they
  // recycle, and killed past request_timeout, until the last loop has ended.
  int sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  std::vector<pollfd> watch{{sigfd, POLLIN, 0}, {ended_fd, POLLIN, 0}};
  for (int fd : supervisor.poll_fds()) watch.push_back({fd, POLLIN, 0});
  bool stopping = false;
  int64_t drain_until = 0;  // from the stop signal on: when the drain ends
  uint64_t ended = 0;
  while (!failed && ended < shards.size()) {
    poll(watch.data(), watch.size(), 200);
    supervisor.read_ready();
    supervisor.kill_requested();
    signalfd_siginfo si{};
    int sig = ::read(sigfd, &si, sizeof si) == ssize_t(sizeof si) ? int(si.ssi_signo) : 0;
    if (stopping) {
      // Once stopping, signals change nothing (a second SIGTERM, a reload): the drain goes on.
    } else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
      // SIGQUIT too: nginx and php-fpm take it for their graceful stop.
      LOG_INFO("%s: stopping, draining for up to %lld ms", strsignal(sig),
               (long long)cfg.timeouts.drain.count());
      stopping = true;
      drain_until = log::monotonic_ms() + cfg.timeouts.drain.count();
      for (auto& s : shards) s->stop();
    } else if (sig == SIGHUP) {
      check_config_file(path, started_with);
      reload_roots(*gen, path, started_with, served_roots);
      LOG_INFO("SIGHUP: restarting worker pools");
      supervisor.roll();
      reload_certificates(*gen);
    } else if (sig == SIGUSR1) {
      reopen_logs(cfg, *logs);
    } else if (sig == SIGUSR2) {
      LOG_WARN("SIGUSR2: ignored (nginx's binary upgrade is not supported: restart askr-proxy)");
    }
    supervisor.reap_and_restart();
    uint64_t n = 0;
    if (::read(ended_fd, &n, sizeof n) == ssize_t(sizeof n)) ended += n;
  }
  for (auto& s : shards) s->stop();
  for (auto& t : threads) t.join();
  // The drain bounds the whole stop: the workers get what is left of it (a worker still busy
  // then lost its client when the loops gave up), and idle ones a moment to exit cleanly.
  int64_t left = stopping ? drain_until - log::monotonic_ms() : cfg.timeouts.drain.count();
  supervisor.stop(std::max<int64_t>(left, kWorkerExitMs));
  if (sigfd >= 0) ::close(sigfd);
  if (ended_fd >= 0) ::close(ended_fd);
  LOG_INFO("stopped");
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace askr

int main(int argc, char** argv) {
  std::string config_path;
  bool test_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-c") {
      if (i + 1 == argc) {
        std::fprintf(stderr, "askr-proxy: option \"-c\" requires a file name\n%s", askr::kUsage);
        return 2;
      }
      config_path = argv[++i];
    } else if (a == "-t") {
      test_only = true;
    } else if (a == "doctor") {
      return askr::run_doctor();
    } else if (a == "--version" || a == "-v") {
      std::printf("askr-proxy %s\n", ASKR_VERSION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(askr::kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "askr-proxy: unknown argument '%s'\n%s", argv[i], askr::kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fputs(askr::kUsage, stderr);
    return 2;
  }
  return test_only ? askr::check_config(config_path) : askr::serve(config_path);
}
