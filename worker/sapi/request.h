// The binding between a FastCGI request and PHP's request state (SG(request_info)), and the
// $_SERVER array built from it. Internal to the SAPI module; see module.h for bind_request().
#pragma once

#include <string>
#include <string_view>

#include "sapi/php_headers.h"

namespace askr::worker::sapi {

// The bound request's param `name`, or nullptr (also when no request is bound).
const std::string* bound_param(std::string_view name);

// $_SERVER: the process environment (as CGI does), every FastCGI param, PHP_SELF. PHP adds
// REQUEST_TIME, REQUEST_TIME_FLOAT and PHP_AUTH_* itself. Outside a request: the environment
// and the script's own names (SCRIPT_FILENAME, SCRIPT_NAME, PHP_SELF).
void register_server_variables(zval* track_vars);

// Makes filter_input(), filter_has_var() and filter_input_array() see every server variable of
// the request although most went into $_SERVER without the input filter (see request.cc).
// Called once, after PHP's start.
void hook_filter_functions();

// Makes getenv() without a name, and $_ENV, list the bound request's params after the
// environment, as under php-fpm. Called once, after PHP's start.
void hook_environment_import();

// SG(request_info).proto_num for the bound request: 1000 * major + minor of SERVER_PROTOCOL.
int bound_proto_num();

}  // namespace askr::worker::sapi
