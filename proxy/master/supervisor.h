// The supervisor of askr-worker pools, run by the main thread: it owns each pool's listening
// socket, starts the workers (passing the socket as fd 3), restarts one that exits (at once
// when it recycled itself, backing off when it keeps dying at start-up), rolls a pool on
// SIGHUP and stops them all on SIGTERM. Workers ask the kernel to kill them when askr-proxy
// dies (PR_SET_PDEATHSIG), so none outlives it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/slots.h"
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

  // For every askr-worker pool of `cfg`: creates its listening socket (an abstract Unix
  // address) and writes that address into the pool's config, so loops connect to it. Fails
  // when the worker binary or a socket is missing.
  Result<void> prepare(config::Config& cfg, unsigned loops);
  bool empty() const { return pools_.empty(); }
  // The shared busy/idle count of pool `index` in the config, or nullptr for external pools.
  backend::PoolSlots* slots(size_t index) const;

  void start();
  // Reaps exited workers and starts replacements that are due. Call on SIGCHLD and on a timer.
  void reap_and_restart();
  // Workers say they are ready (about to accept) by writing their pid to their pool's pipe;
  // only then do they count as capacity. Poll these fds for reading, then call read_ready().
  std::vector<int> ready_fds() const;
  void read_ready();
  // SIGHUP: start a fresh set of workers, then let the old ones finish their request and exit.
  void roll();
  // SIGTERM: workers finish what they run, exit; whatever is left after `timeout_ms` is killed.
  void stop(int64_t timeout_ms);

 private:
  struct Process {
    pid_t pid = 0;
    int64_t started_ms = 0;
    bool retiring = false;  // told to stop: not replaced when it exits
    bool ready = false;     // has said it accepts requests: counted in the pool's capacity
  };
  struct Pool {
    size_t config_index = 0;
    const config::Pool* cfg = nullptr;
    std::string name;
    int listen_fd = -1;
    int ready_pipe[2] = {-1, -1};
    unsigned workers = 0;
    std::vector<std::string> argv;
    std::vector<Process> procs;
    std::unique_ptr<backend::PoolSlots> slots;
    int failures = 0;  // consecutive deaths shortly after start
    int64_t next_start_ms = 0;
    bool backoff_logged = false;
  };

  bool spawn(Pool& p);
  void on_exit(Pool& p, const Process& proc, int status);
  unsigned live(const Pool& p) const;

  std::string worker_bin_;
  std::vector<Pool> pools_;
  bool stopping_ = false;
};

}  // namespace askr::master
