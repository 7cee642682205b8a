#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace askr::worker {
namespace {

volatile sig_atomic_t g_stop = 0;
int g_wake[2] = {-1, -1};

void on_stop_signal(int) {
  int saved = errno;
  g_stop = 1;
  [[maybe_unused]] ssize_t n = write(g_wake[1], "x", 1);
  errno = saved;
}

}  // namespace

bool install_signal_handlers() {
  if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked accept or poll returns at once
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that went away is an error return, not a signal
  return true;
}

bool stop_requested() {
  return g_stop != 0;
}

int wake_fd() {
  return g_wake[0];
}

bool die_with_parent() {
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl(): then we were re-parented already (to init, or to
  // a subreaper).
  return parent != 1 && getppid() == parent;
}

uint64_t resident_bytes() {
  FILE* f = fopen("/proc/self/statm", "re");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  int n = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  if (n != 2) return 0;
  return uint64_t(resident) * uint64_t(sysconf(_SC_PAGESIZE));
}

}  // namespace askr::worker
