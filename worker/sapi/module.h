// Askr's SAPI module: the callbacks through which PHP writes output and headers, reads the
// request body and cookies, fills $_SERVER and logs. They act on the FastCGI request that is
// bound to PHP's request state (bind_request()), or, with none bound (the worker script's
// start-up and the time between its requests, --version), log to the process's stderr, where
// output becomes log lines too (stray_output.h).
#pragma once

#include <string_view>

#include "fcgi_server.h"

struct _sapi_module_struct;
struct _zend_array;  // PHP's HashTable

namespace askr::worker::sapi {

// Fills the callbacks of `m` (name, startup and ini settings are the engine's business).
void fill_callbacks(_sapi_module_struct& m);

// The FastCGI request PHP's request state belongs to, or nullptr.
FcgiServer* bound_server();

// Binds the server's current request to SG(request_info) and SG(server_context), to be done
// before php_request_startup() or sapi_activate(). The strings SG(request_info) points to live
// until unbind().
void bind_request(FcgiServer& server);
// Binds no request: PHP runs `script` (may be empty) outside of any FastCGI request.
void bind_idle(std::string_view script);
// Forgets the binding; call after php_request_shutdown() or sapi_deactivate().
void unbind();

// Worker mode: makes `ht`, a $_SERVER array built for an earlier request and held by no one
// else, the bound request's $_SERVER, changing only the values that differ (and REQUEST_TIME*).
// False when it cannot be (the variables are not the same names in the same order, or PHP would
// add others, such as PHP_AUTH_*): then `ht` may be half changed and is to be dropped, and
// $_SERVER built anew.
bool refresh_request_server(_zend_array* ht);

// PHP's headers_send(103): the headers set so far go to the client now as 103 Early Hints (the
// proxy passes them on); they stay set for the final response.
void send_early_hints();

// Outside a request: no headers are sent and output goes to stderr. Call right after
// sapi_activate()/php_request_startup() of an idle binding.
void mark_idle_started();

}  // namespace askr::worker::sapi
