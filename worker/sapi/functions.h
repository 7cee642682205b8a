// The PHP functions Askr's SAPI adds: fastcgi_finish_request() (alias
// frankenphp_finish_request()), askr_handle_request() (alias frankenphp_handle_request()),
// getallheaders() (aliases apache_request_headers(), frankenphp_request_headers()),
// apache_response_headers() (alias frankenphp_response_headers()) and FrankenPHP's
// headers_send().
#pragma once

#include "sapi/php_headers.h"

namespace askr::worker::sapi {

// What askr_handle_request($callback) does in worker mode. Until one is set (classic mode), the
// function throws a RuntimeException. The hook sets return_value; it may leave through a bailout.
using HandleRequestHook = void (*)(zend_fcall_info* fci, zend_fcall_info_cache* fcc,
                                   zval* return_value);
void set_handle_request_hook(HandleRequestHook hook);
// True once a hook is set: the process runs in worker mode.
bool worker_mode();

// PHP's chdir() is watched, so that worker mode can put back a working directory a request
// changed without asking the kernel for it after every request. Call once, after module
// startup and before any script is compiled (OPcache's JIT may call the handler it finds then).
void watch_chdir();
// True when PHP's chdir() was called since the last call of this.
bool take_chdir_called();

// mt_srand() and srand() are watched the same way (set up by watch_chdir() too), so that worker
// mode can forget a seed a request chose, as PHP's request start does, at no cost otherwise.
// True when either was called since the last call of this.
bool take_seed_called();
// And date_default_timezone_set(), whose zone outlives the request it was set in.
bool take_timezone_set();
// And stream_context_set_default(), stream_context_get_default(), and stream_context_set_option()
// and stream_context_set_params() on any context (the default one may have been kept from the
// boot), through which a request changes the default stream context (whose options and
// parameters outlive it).
bool take_default_context_touched();
// And mbstring's setters whose values its request shutdown forgets: mb_internal_encoding(),
// mb_http_output(), mb_substitute_character(), mb_detect_order(), mb_regex_encoding() (called
// with an argument; mb_language() sets an ini entry, put back with the others).
bool take_mbstring_set();
// And libxml's: libxml_use_internal_errors(), libxml_disable_entity_loader(),
// libxml_set_external_entity_loader(), libxml_set_streams_context() (with an argument).
bool take_libxml_set();
// And the stream layer's: stream_wrapper_register() (alias stream_register_wrapper()),
// stream_wrapper_unregister(), stream_wrapper_restore(), stream_filter_register().
bool take_streams_set();

// The function table of the "askr" module.
extern const zend_function_entry kFunctions[];

}  // namespace askr::worker::sapi
