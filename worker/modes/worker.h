// Worker mode: the worker script runs once, as one long PHP request, and serves FastCGI requests
// by calling askr_handle_request($handler) (alias frankenphp_handle_request) in a loop. Each
// call:
//  - returns false at once when the process should exit (limits.h), or when a stop signal
//    arrives while waiting;
//  - else waits for the next request, ends the state PHP had between requests (output, headers,
//    session), and starts the request's: fresh $_GET $_POST $_COOKIE $_FILES $_SERVER $_REQUEST,
//    no $_SESSION until session_start(), a fresh header list and status, output buffering as
//    configured, max_execution_time counting for this request alone;
//  - calls $handler. An uncaught exception goes to the set_exception_handler() handler; without
//    one it is logged like a fatal error and answers 500 (when no header was sent yet); the
//    worker goes on. exit() or a fatal error end the worker script: the request is answered as
//    far as it got and the process exits (255 after a fatal error);
//  - ends the request: output flushed, session written and closed (its save handler kept), ini
//    settings back to their values at the first call, the last error cleared, the body's
//    temporary streams closed, uploaded files removed, END_REQUEST sent; then returns true.
// Globals and statics of the script persist from one request to the next, and so do $_ENV (built
// once), handlers set with set_exception_handler()/set_error_handler(), and shutdown functions
// (run when the script ends).
#pragma once

#include <string>

#include "fcgi_server.h"
#include "modes/limits.h"

namespace askr::worker::modes {

// Runs `script`; returns the exit status (PHP's: exit(N), 255 after a fatal error; 1 when the
// script cannot be started).
int run_worker(FcgiServer& server, const Limits& limits, const std::string& script);

}  // namespace askr::worker::modes
