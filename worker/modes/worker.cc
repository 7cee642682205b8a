#include "modes/worker.h"

#include <sys/stat.h>

#include <cstring>
#include <string>

#include "sapi/php_headers.h"

#include "php_memory_streams.h"
#include "sapi/functions.h"
#include "sapi/module.h"

namespace askr::worker::modes {
namespace {

struct WorkerState {
  FcgiServer* server = nullptr;
  Limits limits;
  std::string script;
  uint64_t served = 0;
};

WorkerState g;

// Extensions whose request state must be renewed for every request, though the PHP request
// (the worker script's) goes on: session ($_SESSION, its cookie, the save handler) and filter
// (its copies of the input arrays, read by filter_input()).
constexpr const char* kRenewedModules[] = {"session", "filter"};

zend_module_entry* find_module(const char* name) {
  return static_cast<zend_module_entry*>(
      zend_hash_str_find_ptr(&module_registry, name, strlen(name)));
}

void renew_modules_startup() {
  for (const char* name : kRenewedModules) {
    zend_module_entry* m = find_module(name);
    if (m && m->request_startup_func) m->request_startup_func(m->type, m->module_number);
  }
}

// Runs `step`; true when it bailed out (a fatal error), which is caught here.
template <class Step>
bool bails_out(Step step) {
  volatile bool failed = false;
  zend_try {
    step();
  }
  zend_catch {
    failed = true;
  }
  zend_end_try();
  return failed;
}

bool renew_modules_shutdown() {
  bool failed = false;
  for (const char* name : kRenewedModules) {
    zend_module_entry* m = find_module(name);
    if (!m || !m->request_shutdown_func) continue;
    if (bails_out([m] { m->request_shutdown_func(m->type, m->module_number); })) failed = true;
  }
  return failed;
}

// session_start() put $_SESSION in the global symbol table; the next request starts without.
void forget_session() {
  zend_string* name = zend_string_init("_SESSION", sizeof("_SESSION") - 1, 0);
  zend_delete_global_variable(name);
  zend_string_release(name);
}

// Temporary streams nobody holds any more (the request body behind php://input among them)
// would otherwise live as long as the worker script.
void release_temporary_streams() {
  int stream_type = php_file_le_stream();
  void* ptr;
  ZEND_HASH_FOREACH_PTR(&EG(regular_list), ptr) {
    auto* r = static_cast<zend_resource*>(ptr);
    if (r->type != stream_type) continue;
    auto* stream = static_cast<php_stream*>(r->ptr);
    if (stream && stream->ops == &php_stream_temp_ops && !stream->__exposed &&
        GC_REFCOUNT(r) == 1) {
      zend_list_delete(r);
    }
  }
  ZEND_HASH_FOREACH_END();
}

// Ends the request state (or the between-requests state): as php_request_shutdown() does for
// output, session and SAPI, without ending the script. True when a step bailed out.
bool end_state() {
  bool failed = bails_out(php_output_end_all);
  if (renew_modules_shutdown()) failed = true;
  forget_session();
  if (bails_out(php_output_deactivate)) failed = true;
  // Reads what is left of the body, frees the auth strings, removes uploaded files.
  if (bails_out(sapi_deactivate)) failed = true;
  release_temporary_streams();
  return failed;
}

void start_output_buffering() {
  if (PG(output_handler) && PG(output_handler)[0]) {
    zval handler;
    ZVAL_STRING(&handler, PG(output_handler));
    php_output_start_user(&handler, 0, PHP_OUTPUT_HANDLER_STDFLAGS);
    zval_ptr_dtor(&handler);
  } else if (PG(output_buffering)) {
    php_output_start_user(nullptr, PG(output_buffering) > 1 ? PG(output_buffering) : 0,
                          PHP_OUTPUT_HANDLER_STDFLAGS);
  } else if (PG(implicit_flush)) {
    php_output_set_implicit_flush(1);
  }
}

// Starts the state of the bound request (or of none): as php_request_startup() does for
// output, SAPI, superglobals and the renewed modules.
void start_state() {
  for (int i = 0; i < NUM_TRACK_VARS; ++i) zval_ptr_dtor_nogc(&PG(http_globals)[i]);
  php_output_activate();
  PG(header_is_being_sent) = 0;
  PG(connection_status) = PHP_CONNECTION_NORMAL;
  sapi_activate();  // reads a form body; cookies
  if (PG(expose_php)) {
    sapi_add_header(SAPI_PHP_VERSION_HEADER, sizeof(SAPI_PHP_VERSION_HEADER) - 1, 1);
  }
  start_output_buffering();
  php_hash_environment();  // $_GET $_POST $_COOKIE $_FILES now; the others on demand...
  // ...but the handler was compiled long ago, so build those now as well.
  zend_is_auto_global_str(ZEND_STRL("_SERVER"));
  zend_is_auto_global_str(ZEND_STRL("_REQUEST"));
  zend_is_auto_global_str(ZEND_STRL("_ENV"));
  renew_modules_startup();
  SG(sapi_started) = 1;
}

void start_idle_state() {
  sapi::bind_idle(g.script);
  start_state();
  sapi::mark_idle_started();
}

void answer_uncaught_exception() {
  if (!SG(headers_sent)) sapi_header_op(SAPI_HEADER_SET_STATUS, reinterpret_cast<void*>(500));
  zend_exception_error(EG(exception), E_ERROR);  // logs "PHP Fatal error:  Uncaught ..."
  EG(exit_status) = 0;
}

// askr_handle_request($handler). PHP may leave this function through a bailout (a fatal error
// in the handler): nothing here needs destroying then.
void handle_request(zend_fcall_info* fci, zend_fcall_info_cache* fcc, zval* return_value) {
  if (should_exit(g.limits, g.served)) RETURN_FALSE;
  zend_unset_timeout();  // waiting is not executing
  if (g.server->next_request() != FcgiServer::Wait::kRequest) RETURN_FALSE;
  bool failed = end_state();
  sapi::unbind();
  sapi::bind_request(*g.server);
  start_state();

  zend_set_timeout(EG(timeout_seconds), 0);
  zval retval;
  ZVAL_UNDEF(&retval);
  fci->retval = &retval;
  zend_call_function(fci, fcc);
  zval_ptr_dtor(&retval);
  if (EG(exception)) {
    // exit(): the script unwinds and ends; run_worker() answers the request.
    if (zend_is_unwind_exit(EG(exception)) || zend_is_graceful_exit(EG(exception))) return;
    answer_uncaught_exception();
  }
  zend_unset_timeout();

  failed = end_state() || failed;
  sapi::unbind();
  g.server->release(0);
  ++g.served;
  start_idle_state();
  if (failed) zend_bailout();
  RETURN_TRUE;
}

bool script_readable(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

int run_worker(FcgiServer& server, const Limits& limits, const std::string& script) {
  if (!script_readable(script)) {
    LOG_ERROR("worker script %s: not a readable file", script.c_str());
    return 1;
  }
  g.server = &server;
  g.limits = limits;
  g.script = script;
  sapi::set_handle_request_hook(handle_request);
  sapi::bind_idle(script);
  if (php_request_startup() == FAILURE) {
    LOG_ERROR("PHP request start-up failed");
    return 1;
  }
  sapi::mark_idle_started();
  zend_file_handle file;
  zend_stream_init_filename(&file, script.c_str());
  file.primary_script = 1;
  php_execute_script(&file);
  zend_destroy_file_handle(&file);
  int status = EG(exit_status);
  // exit() or a fatal error in a handler: that request is still open; answer it as far as it got.
  php_request_shutdown(nullptr);
  sapi::unbind();
  server.release(uint32_t(status));
  sapi::set_handle_request_hook(nullptr);
  if (status != 0) LOG_WARN("worker script %s ended with status %d", script.c_str(), status);
  return status;
}

}  // namespace askr::worker::modes
