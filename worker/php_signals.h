// How PHP's signal layer and askr-worker's stop handlers live together.
#pragma once

namespace askr::worker {

// Call once PHP has started. PHP (Zend signals) replaces the SIGTERM/SIGINT/SIGQUIT handlers at
// every request start with its own, installed without SA_RESTART, so a rolling restart would hand
// EINTR to the running script (a flock() that fails, a read cut short). This stops that
// replacement and puts askr-worker's own handlers (async-signal-safe: a flag and a pipe, no PHP
// state touched, so nothing needs deferring) back in place with SA_RESTART.
void keep_stop_handlers_in_requests();

}  // namespace askr::worker
