// Classic mode: one PHP request per FastCGI request, php-fpm style: php_request_startup(), run
// SCRIPT_FILENAME, php_request_shutdown(). The engine (and OPcache) stay up between requests.
#pragma once

#include "fcgi_server.h"
#include "modes/limits.h"

namespace askr::worker::modes {

// Serves requests until a limit is reached or a stop signal arrives; returns the exit status.
int run_classic(FcgiServer& server, const Limits& limits);

}  // namespace askr::worker::modes
