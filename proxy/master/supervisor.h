// The supervisor of askr-worker pools, run by the main thread: it owns each pool's listening
// sockets, one per slot (in a directory only askr-proxy's user may enter), starts each pool's
// zygote (an askr-worker --zygote, with the pool's own environment and nothing else, that starts
// PHP once) and has it fork a worker per slot (sending each its slot's socket and the readiness
// pipe), so that a pool's workers share one OPcache and a replacement starts warm. It restarts
// one that exits in the same slot
// (at once when it recycled itself after serving requests, backing off when workers keep dying
// or exiting before they serve one), kills a worker past request_timeout when a loop asks,
// rolls a pool on SIGHUP and stops them all on SIGTERM. It reaps only its own workers, each by
// its pid, and signals them through pidfds, so a recycled pid is never hit: the zygote forks
// with CLONE_PARENT, so its workers are askr-proxy's children. Workers and zygotes ask the
// kernel to kill them when askr-proxy dies (PR_SET_PDEATHSIG), so none outlives it. A zygote
// that dies is started again before the next worker (with the workers' back-off when it fails
// to start); SIGHUP starts a fresh one, so changed PHP files and settings are read again. What
// zygotes and workers write to their stderr reaches the error log through a LogRelay.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/slots.h"
#include "master/log_relay.h"
#include "shared/base/result.h"
#include "shared/config/config.h"

namespace askr::master {

// Where askr-worker is: $ASKR_WORKER_BIN, else next to askr-proxy, else in the build tree's
// worker/ beside proxy/. Empty when none is found.
std::string find_worker_binary();

class Supervisor {
 public:
  Supervisor() = default;
  ~Supervisor();

  // For every askr-worker pool of `cfg`: creates a listening socket per slot, at
  // <server.temp_dir>/askr-workers-XXXXXX/<pool>-<slot>.sock (the directory made by mkdtemp,
  // mode 0700: no other user can connect), whose addresses loops find in the pool's slots(). The
  // sockets and the directory are removed by the destructor. Fails when the worker binary is
  // missing or cannot be executed, or a socket cannot be made.
  Result<void> prepare(config::Config& cfg, unsigned loops);
  // The directory of the workers' sockets ("" before prepare() made one).
  const std::string& socket_dir() const { return socket_dir_; }
  bool empty() const { return pools_.empty(); }
  // The shared slots of pool `index` in the config, or nullptr for external pools.
  backend::PoolSlots* slots(size_t index) const;

  void start();
  // Reaps exited workers and starts replacements that are due. Call on SIGCHLD and on a timer.
  void reap_and_restart();
  // Poll these fds for reading, then call read_ready() and kill_requested().
  std::vector<int> poll_fds() const;
  // Workers say they are ready (about to accept) by writing their pid to their pool's pipe;
  // only then is their slot up. When they begin their first request they write their
  // pid negated: the pool is healthy again.
  void read_ready();
  // Kills the workers of the slots that loops asked to kill (request_timeout); each slot is
  // released once its worker is reaped.
  void kill_requested();
  // SIGHUP: start a fresh zygote and a first worker from it; once that worker says it is ready
  // (in worker mode: its script booted and asks for a request), the rest of the new generation
  // starts and the old workers finish their request and exit. A pool whose new PHP does not
  // start, or whose first new worker ends or is not ready in time, keeps its running workers
  // (and zygote), with one line saying so.
  void roll();
  // SIGTERM: workers finish what they run, exit; whatever is left after `timeout_ms` is killed.
  void stop(int64_t timeout_ms);

 private:
  struct Process {
    pid_t pid = 0;
    int pidfd = -1;  // -1 where pidfd_open is missing (Linux < 5.3): then kill(pid)
    int64_t started_ms = 0;
    bool retiring = false;  // told to stop: not replaced when it exits
    bool ready = false;     // has said it accepts requests: its slot is up
    bool served = false;    // has begun a request
    unsigned slot = 0;
    bool killed = false;  // for request_timeout: its slot is released when it is reaped
  };
  // A pool's zygote: its process and our end of its control socket (see worker/zygote.h).
  struct Zygote {
    Process proc;
    int control = -1;
  };
  // What a worker serves with (an exec'd worker would find them as fds 3 and 4).
  struct WorkerFds {
    int listen_fd = -1;
    int ready_fd = -1;
  };
  struct Pool {
    size_t config_index = 0;
    const config::Pool* cfg = nullptr;
    std::string name;
    std::vector<int> listen_fds;  // one per slot
    std::vector<std::string> socket_paths;
    int ready_pipe[2] = {-1, -1};
    unsigned workers = 0;
    std::vector<std::string> argv;  // the zygote's
    std::vector<std::string> env;   // NAME=value, from [pool.env]
    Zygote zygote;                  // proc.pid 0: none running
    // A roll under way: the new generation's zygote and first worker, which the old generation
    // serves beside until that worker is ready (candidate 0: no roll under way).
    Zygote next_zygote;
    pid_t candidate = 0;
    int64_t candidate_deadline_ms = 0;
    bool candidate_late = false;       // killed for not being ready in time
    std::vector<Process> old_zygotes;  // replaced or failed, not reaped yet
    std::vector<Process> procs;
    std::unique_ptr<backend::PoolSlots> slots;
    int failures = 0;  // consecutive failed starts: exits before serving, soon after start
    int64_t next_start_ms = 0;
    bool backoff_logged = false;
    bool boot_warned = false;  // a worker script was said not to ask for requests
    std::string last_failure;  // what the last failed start was, for the log
  };

  Result<void> make_socket_dir(const std::string& parent);
  Result<void> listen_on(Pool& p, unsigned slot);
  bool spawn(Pool& p, unsigned slot);
  bool slot_occupied(const Pool& p, unsigned slot) const;
  void reaped(Pool& p, const Process& proc);
  static WorkerFds worker_fds(const Pool& p, unsigned slot);
  bool start_zygote(Pool& p);
  bool start_generation(Pool& p);
  pid_t fork_worker(Pool& p, WorkerFds fds);
  void retire_zygote(Pool& p) { retire_zygote(p, p.zygote); }
  void retire_zygote(Pool& p, Zygote& z);
  void finish_roll(Pool& p);
  void give_up_roll(Pool& p, pid_t pid, const std::string& why);
  static size_t running_workers(const Pool& p);
  void reap_zygotes(Pool& p);
  void back_off(Pool& p, const char* what, int64_t lived, const char* before = "serving a request");
  void warn_slow_boot(Pool& p, int64_t now);
  void on_exit(Pool& p, const Process& proc, int status);
  void note_served(Pool& p, Process& proc);
  void update_failing(Pool& p);
  static void send_signal(const Process& proc, int sig);

  std::string worker_bin_;
  std::string socket_dir_;
  LogRelay log_relay_;  // the stderr of zygotes and workers
  std::vector<Pool> pools_;
  bool stopping_ = false;
};

}  // namespace askr::master
