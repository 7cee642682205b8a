#include "master/supervisor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "shared/base/log.h"

extern char** environ;

namespace askr::master {
namespace {

constexpr int64_t kHealthyAfterMs = 5000;  // a worker that lived this long was not failing
constexpr int64_t kMaxBackoffMs = 10000;

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string format_bytes(uint64_t v) {
  return std::to_string(v);
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
    for (int fd : {p.listen_fd, p.ready_pipe[0], p.ready_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
  }
}

std::vector<int> Supervisor::ready_fds() const {
  std::vector<int> fds;
  for (const Pool& p : pools_) fds.push_back(p.ready_pipe[0]);
  return fds;
}

void Supervisor::read_ready() {
  for (Pool& p : pools_) {
    int32_t pids[64];
    ssize_t n;
    while ((n = read(p.ready_pipe[0], pids, sizeof pids)) > 0) {
      for (ssize_t i = 0; i < n / ssize_t(sizeof pids[0]); ++i) {
        for (Process& proc : p.procs) {
          if (proc.pid != pids[i] || proc.ready) continue;
          proc.ready = true;
          p.slots->add_capacity(1);
        }
      }
    }
  }
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
    Pool p;
    p.config_index = i;
    p.cfg = &pc;
    p.name = pc.name;
    p.workers = pc.workers ? pc.workers : 2 * std::max(1u, std::thread::hardware_concurrency());
    // An abstract socket: nothing on disk to clean up, and unique per proxy process.
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string name = "askr-" + std::to_string(getpid()) + "-" + pc.name;
    std::memcpy(addr.sun_path + 1, name.data(), std::min(name.size(), sizeof addr.sun_path - 2));
    socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 +
                              std::min(name.size(), sizeof addr.sun_path - 2));
    p.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p.listen_fd < 0 || bind(p.listen_fd, reinterpret_cast<sockaddr*>(&addr), len) < 0 ||
        listen(p.listen_fd, 4096) < 0) {
      return errno_error("pool " + pc.name + ": worker socket");
    }
    if (pipe2(p.ready_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
      return errno_error("pool " + pc.name + ": readiness pipe");
    }
    std::memcpy(&pc.addr, &addr, sizeof addr);
    pc.addr_len = len;
    pc.fastcgi = "unix:@" + name;
    pc.keepalive = false;  // a kept connection would pin a worker to one loop
    p.argv = {worker_bin_, "--mode", pc.mode == config::Pool::Mode::kWorker ? "worker" : "classic"};
    if (!pc.worker_script.empty()) p.argv.insert(p.argv.end(), {"--script", pc.worker_script});
    if (pc.max_requests)
      p.argv.insert(p.argv.end(), {"--max-requests", std::to_string(pc.max_requests)});
    if (pc.memory_limit)
      p.argv.insert(p.argv.end(), {"--memory-limit", format_bytes(pc.memory_limit)});
    for (const auto& [k, v] : pc.ini) p.argv.insert(p.argv.end(), {"-d", k + "=" + v});
    p.slots = std::make_unique<backend::PoolSlots>();
    pools_.push_back(std::move(p));
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
    for (unsigned i = 0; i < p.workers; ++i) spawn(p);
    LOG_INFO("pool %s: %u askr-worker processes (%s mode)", p.name.c_str(), p.workers,
             p.cfg->mode == config::Pool::Mode::kWorker ? "worker" : "classic");
  }
}

bool Supervisor::spawn(Pool& p) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p.listen_fd, 3);  // dup2 clears close-on-exec
  posix_spawn_file_actions_adddup2(&fa, p.ready_pipe[1], 4);
  std::vector<char*> argv;
  for (std::string& a : p.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_store{"ASKR_LISTEN_FD=3", "ASKR_READY_FD=4"};
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "ASKR_LISTEN_FD=", 15) != 0 &&
        std::strncmp(*e, "ASKR_READY_FD=", 14) != 0) {
      envp.push_back(*e);
    }
  }
  envp.push_back(env_store[0].data());
  envp.push_back(env_store[1].data());
  envp.push_back(nullptr);
  // The loops block no signals that a worker should inherit blocked: start it with none.
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
  if (err != 0) {
    LOG_ERROR("pool %s: cannot start %s: %s", p.name.c_str(), worker_bin_.c_str(), strerror(err));
    return false;
  }
  p.procs.push_back({pid, now_ms(), false, false});
  return true;
}

unsigned Supervisor::live(const Pool& p) const {
  unsigned n = 0;
  for (const Process& proc : p.procs) n += !proc.retiring;
  return n;
}

void Supervisor::on_exit(Pool& p, const Process& proc, int status) {
  int64_t lived = now_ms() - proc.started_ms;
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (proc.retiring || stopping_) return;
  if (clean) {
    LOG_INFO("pool %s: worker %d recycled after %lld ms", p.name.c_str(), proc.pid,
             (long long)lived);
    p.failures = 0;
    return;
  }
  char how[64];
  if (WIFSIGNALED(status)) {
    snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
  } else {
    snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
  }
  if (lived >= kHealthyAfterMs) {
    LOG_WARN("pool %s: worker %d %s; starting another", p.name.c_str(), proc.pid, how);
    p.failures = 0;
    return;
  }
  // Dying at start-up: a broken script or setting. Back off instead of spinning.
  ++p.failures;
  int64_t delay = std::min<int64_t>(kMaxBackoffMs, 100LL << std::min(p.failures, 10));
  p.next_start_ms = now_ms() + delay;
  if (!p.backoff_logged || p.failures % 10 == 0) {
    LOG_ERROR("pool %s: worker %d %s %lld ms after start (%d in a row); next start in %lld ms",
              p.name.c_str(), proc.pid, how, (long long)lived, p.failures, (long long)delay);
    p.backoff_logged = true;
  }
}

void Supervisor::reap_and_restart() {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (Pool& p : pools_) {
      for (size_t i = 0; i < p.procs.size(); ++i) {
        if (p.procs[i].pid != pid) continue;
        Process proc = p.procs[i];
        p.procs.erase(p.procs.begin() + long(i));
        if (proc.ready) p.slots->add_capacity(-1);
        on_exit(p, proc, status);
        break;
      }
    }
  }
  if (stopping_) return;
  int64_t now = now_ms();
  for (Pool& p : pools_) {
    if (now < p.next_start_ms) continue;
    while (live(p) < p.workers && spawn(p)) {
    }
    if (p.failures == 0) p.backoff_logged = false;
  }
}

void Supervisor::roll() {
  for (Pool& p : pools_) {
    std::vector<pid_t> old;
    for (Process& proc : p.procs) {
      if (!proc.retiring) old.push_back(proc.pid);
      proc.retiring = true;
      if (proc.ready) p.slots->add_capacity(-1);  // it accepts nothing new from now on
      proc.ready = false;
    }
    for (unsigned i = 0; i < p.workers; ++i) spawn(p);
    // The old ones finish the request they run (or leave accept at once) and exit.
    for (pid_t pid : old) kill(pid, SIGTERM);
    LOG_INFO("pool %s: restarting %zu workers", p.name.c_str(), old.size());
  }
}

void Supervisor::stop(int64_t timeout_ms) {
  stopping_ = true;
  for (Pool& p : pools_) {
    for (Process& proc : p.procs) kill(proc.pid, SIGTERM);
  }
  int64_t deadline = now_ms() + timeout_ms;
  auto any_left = [this] {
    for (const Pool& p : pools_) {
      if (!p.procs.empty()) return true;
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
      kill(proc.pid, SIGKILL);
      waitpid(proc.pid, nullptr, 0);
    }
    p.procs.clear();
  }
}

}  // namespace askr::master
