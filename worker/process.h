// Process-wide plumbing of askr-worker: the stop signals, the parent-death guard, the resident
// set size. No PHP here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace askr::worker {

// Installs the SIGTERM/SIGINT/SIGQUIT handler (sets the stop flag and makes wake_fd()
// readable) and ignores SIGPIPE. Call before PHP starts: PHP's signal layer records the
// handlers it finds then and calls them back when it defers a signal during a request.
bool install_signal_handlers();
// (Re)installs the SIGTERM/SIGINT/SIGQUIT handler alone, with SA_RESTART.
void set_stop_handlers();
// True once SIGTERM, SIGINT or SIGQUIT has arrived.
bool stop_requested();
// Readable once stop_requested(); never read from, so it stays readable.
int wake_fd();
// In a forked process: replaces the wake pipe inherited from the parent (shared with it and its
// other children) by a pipe of its own. False when no pipe can be made.
bool renew_wake_pipe();

// fork() that makes the child a child of this process's parent (CLONE_PARENT), its exit
// reported to that parent with this process's exit signal. A raw system call: glibc's fork()
// takes no flags. The child runs no pthread_atfork handlers: call it from a single-threaded
// process that holds no locks. Returns as fork() does.
pid_t fork_sibling();

// Asks the kernel to SIGKILL this process when its parent dies; false when the parent is
// already gone. A change of user clears it: switch_user() first.
bool die_with_parent();

// From root: becomes `user`, with its supplementary groups and `group` (empty: the user's own
// group), for good (real, effective and saved ids), as php-fpm's pool user and group. A
// non-empty `own_path` (the --listen socket) is given to them first, as php-fpm's listen.owner
// and listen.group default to them. Logs why and returns false when it cannot (no such name,
// not root).
bool switch_user(const std::string& user, const std::string& group,
                 const std::string& own_path = {});

// The resident set size (/proc/self/statm), in bytes; 0 when unknown.
uint64_t resident_bytes();

}  // namespace askr::worker
