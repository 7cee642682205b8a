#include "master/supervisor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <initializer_list>
#include <thread>

#include "shared/base/log.h"

namespace askr::master {
namespace {

constexpr int64_t kHealthyAfterMs = 5000;  // a worker that lived this long was not failing
constexpr int64_t kMaxBackoffMs = 10000;
// How long a zygote may take to answer a request for a worker: PHP's start, preload included,
// on its first. The main thread waits for it (forking a worker itself takes about a millisecond).
constexpr int kZygoteAnswerS = 30;
// How long a roll waits for its first new worker to be ready: in worker mode, for the worker
// script to boot the app and ask for its first request.
constexpr int64_t kNewWorkerReadyMs = 60000;
// In worker mode, how long a worker script may boot before the log says it has not asked for a
// request yet (it is left running: some apps boot slowly).
constexpr int64_t kBootWarnMs = 10000;

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// "exited with status N" or "killed by signal N", from waitpid()'s status.
std::string exit_text(int status) {
  return WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                             : "exited with status " + std::to_string(WEXITSTATUS(status));
}

std::string format_bytes(uint64_t v) {
  return std::to_string(v);
}

// The workers' environment: [pool.env] alone (php-fpm's clear_env = yes), with "$NAME" values
// taken from askr-proxy's environment now (left out where it has none). No PATH unless given:
// as with php-fpm, and /bin/sh (PHP's exec(), system()...) searches its own default path then.
std::vector<std::string> worker_env(const config::Pool& pc) {
  std::vector<std::string> env;
  for (const config::Pool::EnvVar& v : pc.env) {
    const char* value = v.from_proxy ? getenv(v.value.c_str()) : v.value.c_str();
    if (value) env.push_back(v.name + "=" + value);
  }
  return env;
}

// Sends one byte with `fds` attached (SCM_RIGHTS) on `sock`. False, with errno, on failure.
bool send_with_fds(int sock, std::initializer_list<int> fds) {
  char byte = 'w';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * 4)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = space;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.begin(), sizeof(int) * fds.size());
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1;
}

}  // namespace

std::string find_worker_binary() {
  if (const char* env = getenv("ASKR_WORKER_BIN")) return env;
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  std::filesystem::path dir = std::filesystem::path(self).parent_path();
  for (const auto& candidate :
       {dir / "askr-worker", dir.parent_path() / "worker" / "askr-worker"}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

Supervisor::~Supervisor() {
  for (Pool& p : pools_) {
    for (int fd : {p.ready_pipe[0], p.ready_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
    for (int fd : p.listen_fds) close(fd);
    for (const Process& proc : p.procs) {
      if (proc.pidfd >= 0) close(proc.pidfd);
    }
    for (const Zygote* z : {&p.zygote, &p.next_zygote}) {
      if (z->control >= 0) close(z->control);
      if (z->proc.pidfd >= 0) close(z->proc.pidfd);
    }
    for (const Process& z : p.old_zygotes) {
      if (z.pidfd >= 0) close(z.pidfd);
    }
    for (const std::string& path : p.socket_paths) unlink(path.c_str());
  }
  if (!socket_dir_.empty()) rmdir(socket_dir_.c_str());
}

std::vector<int> Supervisor::poll_fds() const {
  std::vector<int> fds;
  for (const Pool& p : pools_) {
    fds.push_back(p.ready_pipe[0]);
    fds.push_back(p.slots->kill_fd());
  }
  return fds;
}

void Supervisor::read_ready() {
  for (Pool& p : pools_) {
    bool candidate_ready = false;
    int32_t pids[64];
    ssize_t n;
    while ((n = read(p.ready_pipe[0], pids, sizeof pids)) > 0) {
      for (ssize_t i = 0; i < n / ssize_t(sizeof pids[0]); ++i) {
        bool served = pids[i] < 0;
        pid_t pid = served ? -pids[i] : pids[i];
        for (Process& proc : p.procs) {
          if (proc.pid != pid) continue;
          if (served) {
            note_served(p, proc);
          } else if (!proc.ready && !proc.retiring) {
            proc.ready = true;
            p.boot_warned = false;
            p.slots->set_up(int(proc.slot), true);
            update_failing(p);
            candidate_ready |= proc.pid == p.candidate;
          }
        }
      }
    }
    if (candidate_ready) finish_roll(p);  // after the loop: it starts workers (p.procs grows)
  }
}

// A worker has begun a request: whatever failed before, the pool starts fine now.
void Supervisor::note_served(Pool& p, Process& proc) {
  proc.served = true;
  if (p.failures > 0) {
    LOG_INFO("pool %s: worker %d serves requests after %d failed starts", p.name.c_str(), proc.pid,
             p.failures);
  }
  p.failures = 0;
  p.next_start_ms = 0;
  update_failing(p);
}

// Requests are refused at once while the pool is backing off and no worker of it is up.
void Supervisor::update_failing(Pool& p) {
  bool any_ready = false;
  for (const Process& proc : p.procs) any_ready |= proc.ready;
  p.slots->set_failing(p.failures > 0 && !any_ready);
}

// Every process of the slot is killed: the one running the request, and during a roll the
// slot's other (idle) process too, since which of them the request reached is not known here.
// Only children of ours not reaped yet: their pids cannot have been reused.
void Supervisor::kill_requested() {
  for (Pool& p : pools_) {
    for (int slot : p.slots->take_kills()) {
      bool any = false;
      for (Process& proc : p.procs) {
        if (proc.slot != unsigned(slot)) continue;
        if (proc.pid == p.candidate && !proc.ready) continue;  // accepts nothing yet
        LOG_WARN("pool %s: killing worker %d (request_timeout)", p.name.c_str(), proc.pid);
        send_signal(proc, SIGKILL);
        proc.killed = any = true;
      }
      if (!any) p.slots->release(slot);  // already gone: the slot is free for its replacement
    }
  }
}

void Supervisor::send_signal(const Process& proc, int sig) {
  if (proc.pidfd >= 0) {
    syscall(SYS_pidfd_send_signal, proc.pidfd, sig, nullptr, 0);
  } else {
    kill(proc.pid, sig);
  }
}

// mkdtemp: a fresh directory, mode 0700, owned by askr-proxy's user, whatever the parent's
// mode (a shared /tmp included): only that user (and root) can reach the sockets in it.
Result<void> Supervisor::make_socket_dir(const std::string& parent) {
  std::string templ = parent + "/askr-workers-XXXXXX";
  if (!mkdtemp(templ.data())) return errno_error("worker socket directory in " + parent);
  socket_dir_ = templ;
  return {};
}

// Slot `slot`'s socket, <dir>/<pool>-<slot>.sock: made once, inherited by each worker that
// occupies the slot, so that a loop's connection reaches that slot's worker and no other.
Result<void> Supervisor::listen_on(Pool& p, unsigned slot) {
  std::string path = socket_dir_ + "/" + p.name + "-" + std::to_string(slot) + ".sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Error{ENAMETOOLONG, "pool " + p.name + ": worker socket path " + path +
                                   " is longer than " + std::to_string(sizeof addr.sun_path - 1) +
                                   " bytes (shorten server.temp_dir or the pool name)"};
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("pool " + p.name + ": worker socket");
  p.listen_fds.push_back(fd);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0)
    return errno_error("pool " + p.name + ": worker socket " + path);
  p.socket_paths.push_back(path);
  if (listen(fd, 4096) < 0) return errno_error("pool " + p.name + ": worker socket " + path);
  p.slots->set_address(slot, addr, len);
  return {};
}

Result<void> Supervisor::prepare(config::Config& cfg, unsigned loops) {
  for (size_t i = 0; i < cfg.pools.size(); ++i) {
    config::Pool& pc = cfg.pools[i];
    if (!pc.own) continue;
    if (worker_bin_.empty()) worker_bin_ = find_worker_binary();
    if (worker_bin_.empty()) {
      return Error{ENOENT,
                   "pool " + pc.name +
                       ": askr-worker not found (next to askr-proxy, or set ASKR_WORKER_BIN)"};
    }
    // $ASKR_WORKER_BIN is taken as given: one that cannot run is an error now, not a pool that
    // answers 503 for ever.
    if (::access(worker_bin_.c_str(), X_OK) != 0) {
      return errno_error("pool " + pc.name + ": askr-worker \"" + worker_bin_ + "\"");
    }
    if (socket_dir_.empty()) {
      if (Result<void> r = make_socket_dir(cfg.server.temp_dir); !r) return r;
      if (Result<void> r = log_relay_.start(); !r) return r;
    }
    Pool& p = pools_.emplace_back();
    p.config_index = i;
    p.cfg = &pc;
    p.name = pc.name;
    p.workers = pc.workers ? pc.workers : 2 * std::max(1u, std::thread::hardware_concurrency());
    p.slots = std::make_unique<backend::PoolSlots>(p.workers);
    for (unsigned slot = 0; slot < p.workers; ++slot) {
      if (Result<void> r = listen_on(p, slot); !r) return r;
    }
    pc.fastcgi = "unix:" + socket_dir_ + "/" + p.name + "-*.sock";  // for log lines
    if (pipe2(p.ready_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
      return errno_error("pool " + pc.name + ": readiness pipe");
    }
    p.argv = {worker_bin_, "--zygote",
              "--pool",    pc.name,
              "--mode",    pc.mode == config::Pool::Mode::kWorker ? "worker" : "classic"};
    if (!pc.worker_script.empty()) p.argv.insert(p.argv.end(), {"--script", pc.worker_script});
    if (pc.max_requests)
      p.argv.insert(p.argv.end(), {"--max-requests", std::to_string(pc.max_requests)});
    if (pc.memory_limit)
      p.argv.insert(p.argv.end(), {"--memory-limit", format_bytes(pc.memory_limit)});
    if (!pc.user.empty() && geteuid() == 0) {
      p.argv.insert(p.argv.end(), {"--user", pc.user});
      if (!pc.group.empty()) p.argv.insert(p.argv.end(), {"--group", pc.group});
    } else if (!pc.user.empty()) {
      // As php-fpm, which ignores its pool's user when it does not run as root.
      LOG_WARN("pool %s: 'user' ignored: askr-proxy does not run as root", pc.name.c_str());
    }
    for (const auto& [k, v] : pc.ini) p.argv.insert(p.argv.end(), {"-d", k + "=" + v});
    p.env = worker_env(pc);
  }
  (void)loops;
  return {};
}

backend::PoolSlots* Supervisor::slots(size_t index) const {
  for (const Pool& p : pools_) {
    if (p.config_index == index) return p.slots.get();
  }
  return nullptr;
}

void Supervisor::start() {
  for (Pool& p : pools_) {
    for (unsigned slot = 0; slot < p.workers; ++slot) {
      if (!spawn(p, slot)) break;  // backing off: reap_and_restart() goes on later
    }
    LOG_INFO("pool %s: %u askr-worker processes (%s mode)", p.name.c_str(), p.workers,
             p.cfg->mode == config::Pool::Mode::kWorker ? "worker" : "classic");
  }
}

// The one place that says what a new worker gets: its slot's socket and the readiness pipe.
Supervisor::WorkerFds Supervisor::worker_fds(const Pool& p, unsigned slot) {
  return {p.listen_fds[slot], p.ready_pipe[1]};
}

bool Supervisor::spawn(Pool& p, unsigned slot) {
  if (p.zygote.proc.pid == 0 && !start_zygote(p)) return false;
  pid_t pid = fork_worker(p, worker_fds(p, slot));
  if (pid <= 0) {
    update_failing(p);
    return false;
  }
  // Our child (CLONE_PARENT), not reaped yet: the pid is still its own when pidfd_open looks it
  // up. (glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++: the system calls are used
  // directly.)
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  p.procs.push_back({pid, pidfd, now_ms(), false, false, false, slot, false});
  return true;
}

// posix_spawn()s `askr-worker --zygote ...` with our end of a control socket as fd 3. It
// answers its first request once PHP has started (fork_worker() waits for that). Returns false
// after backing off when it cannot be started.
bool Supervisor::start_zygote(Pool& p) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    LOG_ERROR("pool %s: zygote control socket: %s", p.name.c_str(), strerror(errno));
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);  // dup2 clears close-on-exec
  // What askr-worker says itself (PHP's start-up errors, why a worker stopped) goes to the error
  // log, wherever error_log points, through the relay, so that it follows SIGUSR1's reopen; its
  // workers inherit it.
  posix_spawn_file_actions_adddup2(&fa, log_relay_.write_fd(), 2);
  std::vector<char*> argv;
  for (std::string& a : p.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  // askr-worker takes its own variables out of the environment before PHP starts.
  std::string internal = "ASKR_ZYGOTE_FD=3";
  std::vector<char*> envp{internal.data()};
  // The zygote binds every symbol of every library as it loads it (ld.so reads LD_BIND_NOW at
  // start; PHP's extensions, loaded later with dlopen(), follow it), so that the workers it
  // forks never run the lazy binder: each would otherwise, on its first call of each function,
  // read the symbol tables of the libraries loaded (~70 KB more PSS per worker than php-fpm's
  // children). The value "askr" marks it as ours: askr-worker takes it out of the environment
  // before PHP starts. A [pool.env] LD_BIND_NOW is the operator's, and left as it is.
  std::string bind_now = "LD_BIND_NOW=askr";
  if (std::none_of(p.env.begin(), p.env.end(),
                   [](const std::string& e) { return e.starts_with("LD_BIND_NOW="); })) {
    envp.push_back(bind_now.data());
  }
  for (std::string& e : p.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  // The loops block no signals that a zygote or worker should inherit blocked: none.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int err = posix_spawn(&pid, worker_bin_.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(sv[1]);
  if (err != 0) {
    // A failed start as any other: the next try waits, rather than following at once (the failed
    // child's SIGCHLD wakes the main thread).
    close(sv[0]);
    std::string how = "cannot start " + worker_bin_ + ": " + strerror(err) + ",";
    back_off(p, how.c_str(), 0);
    return false;
  }
  // PHP's start (extensions, OPcache, preload) is what the first answer waits for.
  timeval limit{kZygoteAnswerS, 0};
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  p.zygote = {{pid, pidfd, now_ms(), false, false, false}, sv[0]};
  return true;
}

// Asks the zygote for a worker, sending it the worker's fds; returns the worker's pid, or -1
// after backing off (a zygote that is gone, silent or broken is replaced on the next start).
pid_t Supervisor::fork_worker(Pool& p, WorkerFds fds) {
  int32_t answer = 0;
  ssize_t n = -1;
  if (send_with_fds(p.zygote.control, {fds.listen_fd, fds.ready_fd})) {
    do {
      n = recv(p.zygote.control, &answer, sizeof answer, 0);
    } while (n < 0 && errno == EINTR);
  }
  if (n == ssize_t(sizeof answer) && answer > 0) return pid_t(answer);
  Process zygote = p.zygote.proc;
  char how[96];
  if (n == ssize_t(sizeof answer)) {
    snprintf(how, sizeof how, "zygote %d cannot fork a worker: %s", zygote.pid, strerror(-answer));
  } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    snprintf(how, sizeof how, "zygote %d did not answer in %d s", zygote.pid, kZygoteAnswerS);
  } else {
    snprintf(how, sizeof how, "zygote %d is gone (PHP did not start?)", zygote.pid);
  }
  retire_zygote(p);
  send_signal(zygote, SIGKILL);
  back_off(p, how, now_ms() - zygote.started_ms);
  return -1;
}

// Closes the zygote's control socket (it exits when it reads the end) and keeps its pid to
// reap; the workers it forked go on.
void Supervisor::retire_zygote(Pool& p, Zygote& z) {
  if (z.proc.pid == 0) return;
  close(z.control);
  p.old_zygotes.push_back(z.proc);
  z = {};
}

void Supervisor::reap_zygotes(Pool& p) {
  int status;
  for (Zygote* z : {&p.zygote, &p.next_zygote}) {
    if (z->proc.pid == 0 || waitpid(z->proc.pid, &status, WNOHANG) != z->proc.pid) continue;
    if (!stopping_) {
      LOG_WARN("pool %s: zygote %d ended (%s); another starts with the next worker", p.name.c_str(),
               z->proc.pid, exit_text(status).c_str());
    }
    close(z->control);
    if (z->proc.pidfd >= 0) close(z->proc.pidfd);
    *z = {};
  }
  std::erase_if(p.old_zygotes, [](const Process& z) {
    if (waitpid(z.pid, nullptr, WNOHANG) != z.pid) return false;
    if (z.pidfd >= 0) close(z.pidfd);
    return true;
  });
}

// A worker that is not retiring holds the slot (starting, ready or busy). A roll's first new
// worker does not, until the roll is done: the running generation keeps its slots filled.
bool Supervisor::slot_occupied(const Pool& p, unsigned slot) const {
  for (const Process& proc : p.procs) {
    if (proc.slot == slot && !proc.retiring && proc.pid != p.candidate) return true;
  }
  return false;
}

// `proc` is gone: its slot is down until a replacement is ready, and a slot held for a kill
// (request_timeout) is released once none of its killed processes is left.
void Supervisor::reaped(Pool& p, const Process& proc) {
  if (proc.pidfd >= 0) close(proc.pidfd);
  if (proc.ready) p.slots->set_up(int(proc.slot), false);
  if (!proc.killed) return;
  for (const Process& other : p.procs) {
    if (other.slot == proc.slot && other.killed) return;
  }
  p.slots->release(int(proc.slot));
}

void Supervisor::on_exit(Pool& p, const Process& proc, int status) {
  int64_t lived = now_ms() - proc.started_ms;
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (proc.retiring || stopping_) return;
  if (clean && proc.served) {
    LOG_INFO("pool %s: worker %d recycled after %lld ms", p.name.c_str(), proc.pid,
             (long long)lived);
    return;
  }
  std::string how = exit_text(status);
  if (proc.served || (proc.ready && lived >= kHealthyAfterMs)) {
    LOG_WARN("pool %s: worker %d %s; starting another", p.name.c_str(), proc.pid, how.c_str());
    if (lived >= kHealthyAfterMs) p.failures = 0;
    return;
  }
  // Gone before serving a request, soon after start or never ready (a broken script or
  // setting, a worker script that ends at once, even with exit(0)): back off instead of
  // spinning. A worker script that ended without asking for a request is named: the usual
  // mistake is a script that never calls askr_handle_request().
  char what[96];
  snprintf(what, sizeof what, "worker %d %s", proc.pid, how.c_str());
  std::string before = "serving a request";
  if (p.cfg->mode == config::Pool::Mode::kWorker && !proc.ready) {
    before = "its worker script " + p.cfg->worker_script + " called askr_handle_request()";
  }
  back_off(p, what, lived, before.c_str());
}

// A failed start (`what`, `lived` ms after it began, `before` what): the next one waits, longer
// each time.
void Supervisor::back_off(Pool& p, const char* what, int64_t lived, const char* before) {
  ++p.failures;
  p.last_failure = what;
  int64_t delay = std::min<int64_t>(kMaxBackoffMs, 100LL << std::min(p.failures, 10));
  p.next_start_ms = now_ms() + delay;
  if (!p.backoff_logged || p.failures % 10 == 0) {
    LOG_ERROR("pool %s: %s %lld ms after start, before %s (%d in a row); next start in %lld ms",
              p.name.c_str(), what, (long long)lived, before, p.failures, (long long)delay);
    p.backoff_logged = true;
  }
}

// A worker script that runs on without calling askr_handle_request() is never ready and serves
// nothing, though it does not fail: said once for the pool, until a worker of it is ready.
void Supervisor::warn_slow_boot(Pool& p, int64_t now) {
  if (p.boot_warned || p.cfg->mode != config::Pool::Mode::kWorker) return;
  for (const Process& proc : p.procs) {
    if (proc.ready || proc.retiring || proc.pid == p.candidate) continue;
    if (now - proc.started_ms < kBootWarnMs) continue;
    LOG_ERROR(
        "pool %s: worker %d has run its worker script %s for %lld s without calling "
        "askr_handle_request(): it serves no request until it does (requests wait up to "
        "queue_timeout, then 503)",
        p.name.c_str(), proc.pid, p.cfg->worker_script.c_str(), (long long)(kBootWarnMs / 1000));
    p.boot_warned = true;
    return;
  }
}

// Reaps the pool's own workers only, each by its pid: askr-proxy may have other children.
void Supervisor::reap_and_restart() {
  struct Exit {
    Pool* pool;
    pid_t pid;
    int status;
  };
  std::vector<Exit> exits;
  for (Pool& p : pools_) {
    for (const Process& proc : p.procs) {
      int status;
      if (waitpid(proc.pid, &status, WNOHANG) == proc.pid) exits.push_back({&p, proc.pid, status});
    }
  }
  // What an exited worker wrote on its pipe before exiting is read before judging its exit.
  if (!exits.empty()) read_ready();
  for (Pool& p : pools_) reap_zygotes(p);
  for (const Exit& e : exits) {
    auto it = std::find_if(e.pool->procs.begin(), e.pool->procs.end(),
                           [&](const Process& proc) { return proc.pid == e.pid; });
    Process proc = *it;
    e.pool->procs.erase(it);
    reaped(*e.pool, proc);
    if (proc.pid == e.pool->candidate) {
      give_up_roll(*e.pool, proc.pid,
                   e.pool->candidate_late
                       ? "was not ready in " + std::to_string(kNewWorkerReadyMs / 1000) + " s"
                       : exit_text(e.status) + " before it was ready");
    } else {
      on_exit(*e.pool, proc, e.status);
    }
    update_failing(*e.pool);
  }
  if (stopping_) return;
  int64_t now = now_ms();
  for (Pool& p : pools_) {
    warn_slow_boot(p, now);
    if (p.candidate && !p.candidate_late && now >= p.candidate_deadline_ms) {
      for (const Process& proc : p.procs) {
        if (proc.pid == p.candidate) send_signal(proc, SIGKILL);  // given up once reaped
      }
      p.candidate_late = true;
    }
    if (now < p.next_start_ms) continue;
    for (unsigned slot = 0; slot < p.workers; ++slot) {
      if (!slot_occupied(p, slot) && !spawn(p, slot)) break;  // backing off now
    }
    if (p.failures == 0) p.backoff_logged = false;
  }
}

// The new generation comes from a fresh PHP start (files and ini read again). Its first worker
// starts beside the running generation, which goes on serving until that worker is ready: a new
// PHP that does not start, or a worker script that fails at boot, leaves the pool as it was.
void Supervisor::roll() {
  for (Pool& p : pools_) {
    if (p.candidate) {
      // A roll under way is replaced by this one: its worker was started from files and
      // settings that may have changed since.
      for (Process& proc : p.procs) {
        if (proc.pid != p.candidate) continue;
        proc.retiring = true;
        if (proc.ready) p.slots->set_up(int(proc.slot), false);
        send_signal(proc, SIGKILL);
      }
      retire_zygote(p, p.next_zygote);
      p.candidate = 0;
    }
    if (!start_generation(p)) {
      update_failing(p);
      LOG_ERROR("SIGHUP: pool %s keeps its %zu running workers, its new PHP did not start: %s",
                p.name.c_str(), running_workers(p), p.last_failure.c_str());
      continue;
    }
    p.candidate = p.procs.back().pid;
    p.candidate_deadline_ms = now_ms() + kNewWorkerReadyMs;
    p.candidate_late = false;
    LOG_INFO("pool %s: new worker %d starts; the running ones are replaced once it is ready",
             p.name.c_str(), p.candidate);
  }
}

// Workers of the pool that are neither retiring nor a roll's first new worker.
size_t Supervisor::running_workers(const Pool& p) {
  return size_t(std::count_if(p.procs.begin(), p.procs.end(), [&](const Process& proc) {
    return !proc.retiring && proc.pid != p.candidate;
  }));
}

// The roll's first new worker is ready: the old generation is told to stop (a request it runs
// goes on; connections kept to it close, and loops connect again to the slot's socket, where the
// new ones accept) and the rest of the new one starts.
void Supervisor::finish_roll(Pool& p) {
  size_t count = 0;
  unsigned candidate_slot = 0;
  for (Process& proc : p.procs) {
    if (proc.pid == p.candidate) {
      candidate_slot = proc.slot;
      continue;
    }
    if (proc.retiring) continue;
    ++count;
    proc.retiring = true;
    // Its slot is down until the replacement is ready (a request running on it goes on).
    if (proc.ready) p.slots->set_up(int(proc.slot), false);
    proc.ready = false;
    send_signal(proc, SIGTERM);
  }
  p.slots->set_up(int(candidate_slot), true);
  retire_zygote(p);
  std::swap(p.zygote, p.next_zygote);
  p.candidate = 0;
  for (unsigned slot = 0; slot < p.workers; ++slot) {
    if (!slot_occupied(p, slot) && !spawn(p, slot)) break;  // backing off: reap_and_restart()
  }
  LOG_INFO("pool %s: restarting %zu workers", p.name.c_str(), count);
}

// The roll's first new worker ended, or was killed for being late, before it was ready: the new
// zygote goes, the running generation stays, and nothing of the pool's back-off changes.
void Supervisor::give_up_roll(Pool& p, pid_t pid, const std::string& why) {
  retire_zygote(p, p.next_zygote);
  p.candidate = 0;
  LOG_ERROR("SIGHUP: pool %s keeps its %zu running workers, its new worker %d %s", p.name.c_str(),
            running_workers(p), int(pid), why.c_str());
}

// A fresh zygote with the first worker of the new generation (slot 0): true once that worker
// is forked, which the zygote does only after its PHP has started; the fresh zygote is then
// p.next_zygote. Otherwise it is gone; in both cases the zygote that ran before is kept for the
// running generation's replacements, and the try changes nothing of the pool's back-off
// (roll() says what failed, instead of back_off()).
bool Supervisor::start_generation(Pool& p) {
  Zygote running = p.zygote;
  p.zygote = {};
  int failures = p.failures;
  int64_t next_start_ms = p.next_start_ms;
  bool backoff_logged = p.backoff_logged;
  p.backoff_logged = true;
  bool started = spawn(p, 0);
  if (started) p.next_zygote = p.zygote;
  p.zygote = running;
  p.failures = failures;
  p.next_start_ms = next_start_ms;
  p.backoff_logged = backoff_logged;
  return started;
}

void Supervisor::stop(int64_t timeout_ms) {
  stopping_ = true;
  for (Pool& p : pools_) {
    retire_zygote(p);
    retire_zygote(p, p.next_zygote);
    p.candidate = 0;
    // One never ready holds no request (none is given to it before): its start-up, a worker
    // script that may never call askr_handle_request(), is not waited for.
    for (const Process& proc : p.procs) send_signal(proc, proc.ready ? SIGTERM : SIGKILL);
  }
  int64_t deadline = now_ms() + timeout_ms;
  auto any_left = [this] {
    for (const Pool& p : pools_) {
      if (!p.procs.empty() || !p.old_zygotes.empty()) return true;
    }
    return false;
  };
  while (any_left() && now_ms() < deadline) {
    reap_and_restart();
    if (any_left()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (Pool& p : pools_) {
    for (Process& proc : p.procs) {
      LOG_WARN("pool %s: worker %d did not stop in time; killing it", p.name.c_str(), proc.pid);
      send_signal(proc, SIGKILL);
      waitpid(proc.pid, nullptr, 0);
      if (proc.pidfd >= 0) close(proc.pidfd);
    }
    p.procs.clear();
    for (Process& z : p.old_zygotes) {
      send_signal(z, SIGKILL);
      waitpid(z.pid, nullptr, 0);
      if (z.pidfd >= 0) close(z.pidfd);
    }
    p.old_zygotes.clear();
  }
  log_relay_.stop();  // what they said last is in the log
}

}  // namespace askr::master
