#include "process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "shared/base/log.h"

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
  set_stop_handlers();
  signal(SIGPIPE, SIG_IGN);  // a client that went away is an error return, not a signal
  return true;
}

void set_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  // SA_RESTART: a stop signal (a rolling restart) must not hand EINTR to the request PHP is
  // running (flock(), reads from pipes and sockets). Waiting for a request is not held up by it:
  // poll and epoll_wait return EINTR whatever the flag, and wake_fd() is watched too.
  sa.sa_flags = SA_RESTART;
  // SIGQUIT as well: nginx and php-fpm stop gracefully on it, and askr-proxy does, so one sent
  // to the whole process group (Ctrl-\ in a terminal) must not end a request half-way.
  for (int sig : {SIGTERM, SIGINT, SIGQUIT}) sigaction(sig, &sa, nullptr);
}

bool stop_requested() {
  return g_stop != 0;
}

int wake_fd() {
  return g_wake[0];
}

bool renew_wake_pipe() {
  for (int& fd : g_wake) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  return pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) == 0;
}

pid_t fork_sibling() {
  // No new stack, no tid pointers: fork semantics, the child going on from here.
  return pid_t(syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

bool die_with_parent() {
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl(): then we were re-parented already (to init, or to
  // a subreaper).
  return parent != 1 && getppid() == parent;
}

bool switch_user(const std::string& user, const std::string& group, const std::string& own_path) {
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) {
    LOG_ERROR("--user %s: no such user", user.c_str());
    return false;
  }
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  if (!group.empty()) {
    const struct group* gr = getgrnam(group.c_str());
    if (!gr) {
      LOG_ERROR("--group %s: no such group", group.c_str());
      return false;
    }
    gid = gr->gr_gid;
  }
  if (!own_path.empty() && chown(own_path.c_str(), uid, gid) != 0) {
    LOG_ERROR("cannot give %s to user %s: %s", own_path.c_str(), user.c_str(), strerror(errno));
    return false;
  }
  if (initgroups(user.c_str(), gid) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0) {
    LOG_ERROR("cannot run as user %s: %s", user.c_str(), strerror(errno));
    return false;
  }
  return true;
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
