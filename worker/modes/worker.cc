#include "modes/worker.h"

#include <locale.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sapi/php_headers.h"

extern "C" {  // declared without saying they are C
#include "ext/session/php_session.h"
}
#include "ext/date/php_date.h"
#include "ext/random/php_random.h"
#include "ext/spl/spl_exceptions.h"
#include "ext/standard/basic_functions.h"
#include "ext/standard/file.h"
#include "ext/standard/php_filestat.h"
#include "modes/extension_state.h"
#include "php_memory_streams.h"
#include "sapi/functions.h"
#include "sapi/module.h"
#include "zend_ini.h"
#include "zend_signal.h"
#include "zend_smart_str.h"

namespace askr::worker::modes {
namespace {

// An ini entry as the worker script left it when it started serving: name, value (none: unset).
using IniValue = std::pair<std::string, std::optional<std::string>>;

struct WorkerState {
  FcgiServer* server = nullptr;
  Limits limits;
  std::string script;
  uint64_t served = 0;
  bool booted = false;             // the first askr_handle_request() call has come
  bool in_handler = false;         // a request's handler runs
  std::vector<IniValue> boot_ini;  // ini entries the script changed while booting
  // The process's umask, locale and working directory when the script started serving
  // (boot_process_state()), and PHP's name of that LC_CTYPE (BG(ctype_string); nullptr for "C").
  mode_t boot_umask = 0;
  std::string boot_locale;
  zend_string* boot_ctype = nullptr;
  std::string boot_cwd;  // empty: unknown (getcwd() failed), not put back
  // The zone the script gave date_default_timezone_set() while booting; empty: none.
  std::string boot_timezone;
  // The default stream context when the script started serving (none: null), and a copy of
  // its options then.
  php_stream_context* boot_context = nullptr;
  zval boot_context_options{};
  // Its parameters then (stream_context_set_params()): the notification callback (UNDEF: none),
  // as PHP's own notifier calls it.
  zval boot_notification{};
  php_stream_notification_func boot_notifier_func = nullptr;
  void (*boot_notifier_dtor)(php_stream_notifier*) = nullptr;
  // The between-requests $_SERVER, kept from one idle state to the next (reuse_idle_server()),
  // and the last request's, kept for the next request (reuse_request_server()).
  zval idle_server{};
  zval request_server{};
  // The time limit's timer (arm_time_limit()): when it was armed (µs, CLOCK_MONOTONIC), and
  // whether it was left running after the last request.
  int64_t limit_armed_us = 0;
  bool limit_left_running = false;
};

WorkerState g;

// Extensions whose request state must be renewed for every request, though the PHP request
// (the worker script's) goes on: filter (its copies of the input arrays, read by
// filter_input()) and zlib (the encoding ob_gzhandler and zlib.output_compression take from the
// request's Accept-Encoding, read once a request; zlib.output_compression's handler, started
// anew for each request). The session is reset by hand (reset_session()).
constexpr const char* kRenewedModules[] = {"filter", "zlib"};

zend_module_entry* find_module(const char* name) {
  return static_cast<zend_module_entry*>(
      zend_hash_str_find_ptr(&module_registry, name, strlen(name)));
}

// The modules of kRenewedModules that are loaded, found once (the registry does not change
// after module startup).
std::span<zend_module_entry* const> renewed_modules() {
  static const auto found = [] {
    std::array<zend_module_entry*, std::size(kRenewedModules)> m{};
    size_t n = 0;
    for (const char* name : kRenewedModules) {
      if (zend_module_entry* e = find_module(name)) m[n++] = e;
    }
    return std::pair(m, n);
  }();
  return {found.first.data(), found.second};
}

void renew_modules_startup() {
  for (zend_module_entry* m : renewed_modules()) {
    if (m->request_startup_func) m->request_startup_func(m->type, m->module_number);
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
  for (zend_module_entry* m : renewed_modules()) {
    if (!m->request_shutdown_func) continue;
    if (bails_out([m] { m->request_shutdown_func(m->type, m->module_number); })) failed = true;
  }
  return failed;
}

// Ends the request's session as the session module's request shutdown does (written, closed, id
// and data forgotten), but keeps the save handler: the module's shutdown frees the handlers that
// session_set_save_handler() registered, and an app that registers them once at boot would get
// "User session functions are not defined" from the next request on. True when it bailed out.
bool reset_session() {
  bool failed = false;
  if (PS(session_status) == php_session_active && bails_out([] { php_session_flush(1); })) {
    failed = true;
  }
  if (!Z_ISUNDEF(PS(http_session_vars))) {
    zval_ptr_dtor(&PS(http_session_vars));
    ZVAL_UNDEF(&PS(http_session_vars));
  }
  if ((PS(mod_data) || PS(mod_user_implemented)) &&
      bails_out([] { PS(mod)->s_close(&PS(mod_data)); })) {
    failed = true;
  }
  if (PS(id)) {
    zend_string_release_ex(PS(id), 0);
    PS(id) = nullptr;
  }
  if (PS(session_vars)) {
    zend_string_release_ex(PS(session_vars), 0);
    PS(session_vars) = nullptr;
  }
  PS(session_status) = php_session_none;
  PS(in_save_handler) = false;
  PS(set_handler) = false;
  PS(mod_data) = nullptr;
  PS(mod_user_is_open) = false;
  PS(define_sid) = true;
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

// sapi_deactivate() frees these without forgetting them, and sapi_activate() renews only some
// (content_type_dup only when a request is bound): left set, the next sapi_deactivate() would
// free them again and corrupt PHP's heap.
void forget_freed_request_info() {
  sapi_request_info& ri = SG(request_info);
  ri.auth_user = ri.auth_password = ri.auth_digest = nullptr;
  ri.content_type_dup = nullptr;
  ri.current_user = nullptr;
  ri.current_user_length = 0;
}

std::optional<std::string> ini_value(const zend_ini_entry* e) {
  if (!e->value) return std::nullopt;
  return std::string(ZSTR_VAL(e->value), ZSTR_LEN(e->value));
}

const IniValue* boot_ini(std::string_view name) {
  for (const IniValue& v : g.boot_ini) {
    if (v.first == name) return &v;
  }
  return nullptr;
}

// What the worker script set with ini_set() (or set_time_limit()...) before serving is part of
// its boot, and stays.
void remember_boot_ini() {
  if (!EG(modified_ini_directives)) return;
  void* ptr;
  ZEND_HASH_MAP_FOREACH_PTR(EG(modified_ini_directives), ptr) {
    auto* e = static_cast<zend_ini_entry*>(ptr);
    g.boot_ini.emplace_back(std::string(ZSTR_VAL(e->name), ZSTR_LEN(e->name)), ini_value(e));
  }
  ZEND_HASH_FOREACH_END();
}

// Session settings configure a service the app builds once, often lazily on the session's first
// use in some request (Symfony's NativeSessionStorage sets session.save_path, the handler and the
// cookie parameters then, and never again): they are the app's state and stay as set. Resetting
// them broke Symfony's sessions in FrankenPHP (its issue #2185), which then stopped resetting ini
// settings altogether; everything else is reset here, as under php-fpm.
bool kept_across_requests(std::string_view ini_name) {
  return ini_name.starts_with("session.");
}

// Puts back the ini entries the request changed, as php_request_shutdown() does
// (zend_ini_deactivate()), but to the values the script had at boot: php.ini's, or those it set.
void restore_ini() {
  std::vector<std::string> changed;
  if (EG(modified_ini_directives)) {
    void* ptr;
    ZEND_HASH_MAP_FOREACH_PTR(EG(modified_ini_directives), ptr) {
      auto* e = static_cast<zend_ini_entry*>(ptr);
      std::string_view name(ZSTR_VAL(e->name), ZSTR_LEN(e->name));
      const IniValue* boot = boot_ini(name);
      if ((!boot || !boot->second) && !kept_across_requests(name)) changed.emplace_back(name);
    }
    ZEND_HASH_FOREACH_END();
  }
  for (const std::string& name : changed) {
    zend_string* n = zend_string_init(name.data(), name.size(), 0);
    zend_restore_ini_entry(n, ZEND_INI_STAGE_DEACTIVATE);
    zend_string_release(n);
  }
  for (const auto& [name, value] : g.boot_ini) {
    auto* e = static_cast<zend_ini_entry*>(
        zend_hash_str_find_ptr(EG(ini_directives), name.data(), name.size()));
    if (!e || !value || ini_value(e) == value || kept_across_requests(name)) continue;
    zend_string* n = zend_string_init(name.data(), name.size(), 0);
    zend_string* v = zend_string_init(value->data(), value->size(), 0);
    if (zend_alter_ini_entry_ex(n, v, ZEND_INI_SYSTEM, ZEND_INI_STAGE_RUNTIME, true) != SUCCESS) {
      LOG_LIMITED(kWarn, "worker script %s: ini %s could not be set back to its boot value",
                  g.script.c_str(), name.c_str());
    }
    zend_string_release(v);
    zend_string_release(n);
  }
}

// The umask, the locale and the working directory are the process's, which PHP's umask(),
// setlocale() and chdir() change; the standard module's request shutdown puts the first two back,
// and php_execute_script() the third. Here they go back to what they were when the script
// started serving: a request's umask(0) would otherwise make the files of every later request
// world-writable, and its chdir() move every later request's relative paths. BG(umask),
// BG(locale_changed) and sapi::take_chdir_called() say a request changed them, so that a request
// that did not costs no system call.
void boot_process_state() {
  g.boot_umask = umask(0);
  umask(g.boot_umask);
  BG(umask) = -1;
  if (const char* l = setlocale(LC_ALL, nullptr)) g.boot_locale = l;
  if (BG(ctype_string)) g.boot_ctype = zend_string_copy(BG(ctype_string));
  BG(locale_changed) = false;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd)) g.boot_cwd = cwd;
  sapi::take_chdir_called();
  sapi::take_seed_called();  // a seed chosen while booting stays
}

void restore_cwd() {
  if (g.boot_cwd.empty()) return;
  if (chdir(g.boot_cwd.c_str()) != 0) {
    LOG_LIMITED(kWarn, "worker script %s: cannot go back to %s: %s", g.script.c_str(),
                g.boot_cwd.c_str(), strerror(errno));
  }
}

// What output_add_rewrite_var() (or the session's trans-sid) adds to forms and links is the
// request's, as basic's request shutdown drops it. Left, the rewriter also stays marked active
// while its output handler has ended with the request, so no later request's
// output_add_rewrite_var() would start it again.
void forget_rewrite_vars() {
  for (url_adapt_state_ex_t* s : {&BG(url_adapt_session_ex), &BG(url_adapt_output_ex)}) {
    if (s->active) {
      for (smart_str* str : {&s->result, &s->buf, &s->tag, &s->arg, &s->attr_val})
        smart_str_free(str);
      s->active = 0;
      s->type = 0;
    }
    smart_str_free(&s->form_app);
    smart_str_free(&s->url_app);
    s->tag_type = 0;
    s->attr_type = 0;
  }
}

void restore_process_state() {
  // A seed the request chose (mt_srand(), srand()) is forgotten, as the random extension's
  // request start does: the next request's mt_rand(), rand(), shuffle()... are not predictable
  // from it. mt_rand() seeds itself anew when next used.
  if (sapi::take_seed_called()) RANDOM_G(mt19937_seeded) = false;
  // The string a request gave strtok() is its own, as basic's request shutdown drops it: the
  // next request's strtok() without a string finds none.
  if (BG(strtok_string)) {
    zend_string_release(BG(strtok_string));
    BG(strtok_string) = nullptr;
  }
  // The last stat() and lstat() are the request's, as basic's request shutdown drops them: the
  // next request's filesize(), filemtime()... see what others did to the file meanwhile.
  php_clear_stat_cache(false, nullptr, 0);
  forget_rewrite_vars();
  if (BG(umask) != -1) {
    umask(g.boot_umask);
    BG(umask) = -1;
  }
  if (sapi::take_chdir_called()) restore_cwd();
  if (!BG(locale_changed)) return;
  setlocale(LC_ALL, g.boot_locale.c_str());
  zend_update_current_locale();
  if (BG(ctype_string)) zend_string_release(BG(ctype_string));
  BG(ctype_string) = g.boot_ctype ? zend_string_copy(g.boot_ctype) : nullptr;
  BG(locale_changed) = false;
}

// The date extension's globals (DATEG(), not exported by libphp): through its module entry.
zend_date_globals* date_globals() {
  zend_module_entry* m = find_module("date");
  return m ? static_cast<zend_date_globals*>(m->globals_ptr) : nullptr;
}

// The zone set with date_default_timezone_set() while booting, kept for every request.
void boot_timezone() {
  sapi::take_timezone_set();
  zend_date_globals* dg = date_globals();
  if (dg && dg->timezone) g.boot_timezone = dg->timezone;
}

// A zone a request set with date_default_timezone_set() is forgotten, as the date extension's
// request shutdown forgets it, back to the boot's (or, without one, to date.timezone): it would
// otherwise be every later request's. date_default_timezone_set() is watched, as chdir() is, so
// that this costs nothing to requests that do not call it. Only the zone's name changes: the
// extension's cache of parsed zones stays, since DateTime objects the script keeps across
// requests point into it (under php-fpm they die with the request, the cache with them).
void restore_timezone() {
  if (!sapi::take_timezone_set()) return;
  zend_date_globals* dg = date_globals();
  if (!dg) return;
  if (dg->timezone) efree(dg->timezone);
  dg->timezone =
      g.boot_timezone.empty() ? nullptr : estrndup(g.boot_timezone.data(), g.boot_timezone.size());
}

// The default stream context belongs to the request under php-fpm (a resource, gone when the
// request ends). Here it lives as long as the worker script: what a request set in it
// (stream_context_set_default(), or stream_context_set_option() on stream_context_get_default(),
// an Authorization header for its own HTTP calls, say) would go with every later request's
// file_get_contents(). It goes back to what it was when the script started serving.
void boot_default_context() {
  sapi::take_default_context_touched();
  g.boot_context = FG(default_context);
  if (!g.boot_context) return;
  ZVAL_ARR(&g.boot_context_options, zend_array_dup(Z_ARRVAL(g.boot_context->options)));
  if (php_stream_notifier* n = g.boot_context->notifier) {
    ZVAL_COPY(&g.boot_notification, &n->ptr);
    g.boot_notifier_func = n->func;
    g.boot_notifier_dtor = n->dtor;
  }
}

bool is_boot_notifier(php_stream_notifier* n) {
  if (!n) return Z_ISUNDEF(g.boot_notification);
  return !Z_ISUNDEF(g.boot_notification) && n->func == g.boot_notifier_func &&
         zend_is_identical(&n->ptr, &g.boot_notification);
}

// stream_context_set_params() replaced the notification callback (or set one): the boot's
// comes back, as it was set (PHP's notifier keeps the callable in `ptr`).
void restore_notifier(php_stream_context* context) {
  if (is_boot_notifier(context->notifier)) return;
  if (context->notifier) php_stream_notification_free(context->notifier);
  context->notifier = nullptr;
  if (Z_ISUNDEF(g.boot_notification)) return;
  php_stream_notifier* n = php_stream_notification_alloc();
  n->func = g.boot_notifier_func;
  n->dtor = g.boot_notifier_dtor;
  ZVAL_COPY(&n->ptr, &g.boot_notification);
  context->notifier = n;
}

void restore_default_context() {
  if (!sapi::take_default_context_touched()) return;
  php_stream_context* now = FG(default_context);
  if (now != g.boot_context) {
    FG(default_context) = g.boot_context;
    if (now) zend_list_delete(now->res);  // the request's: let go of it, as its end does
  }
  if (!g.boot_context) return;
  zval_ptr_dtor(&g.boot_context->options);
  ZVAL_ARR(&g.boot_context->options, zend_array_dup(Z_ARRVAL(g.boot_context_options)));
  restore_notifier(g.boot_context);
}

// error_get_last() of the next request starts empty.
void clear_last_error() {
  if (PG(last_error_message)) {
    zend_string_release(PG(last_error_message));
    PG(last_error_message) = nullptr;
  }
  if (PG(last_error_file)) {
    zend_string_release(PG(last_error_file));
    PG(last_error_file) = nullptr;
  }
  PG(last_error_type) = 0;
  PG(last_error_lineno) = 0;
}

// An exception thrown by an output handler as the buffers close (the callable left them open):
// php_request_shutdown() meets it with no PHP frame running and reports it as uncaught; here the
// worker script's frame runs, so it would reach the script's loop through askr_handle_request()
// and end the worker, and, pending meanwhile, keep the rest of the request's end from calling PHP
// (a session save handler's write). Reported the same way, and the worker goes on; exit() in a
// handler is left to end the script.
void report_output_handler_exception() {
  zend_object* ex = EG(exception);
  if (!ex || zend_is_unwind_exit(ex) || zend_is_graceful_exit(ex)) return;
  zend_exception_error(ex, E_ERROR);  // logs "PHP Fatal error:  Uncaught ...", clears it
  EG(exit_status) = 0;
}

// Ends the request state (or the between-requests state): as php_request_shutdown() does for
// output, session, ini settings, umask, locale and working directory, the last error and SAPI,
// without ending the script. True when a step bailed out.
bool end_state() {
  bool failed = bails_out(php_output_end_all);
  report_output_handler_exception();
  if (renew_modules_shutdown()) failed = true;
  if (reset_session()) failed = true;
  forget_session();
  if (bails_out(php_output_deactivate)) failed = true;
  if (bails_out(restore_ini)) failed = true;
  restore_timezone();
  restore_default_context();
  if (bails_out(restore_extension_state)) failed = true;
  restore_process_state();
  clear_last_error();
  // Reads what is left of the body, frees the auth strings, removes uploaded files.
  if (bails_out(sapi_deactivate)) failed = true;
  forget_freed_request_info();
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

// $_ENV is built once: what the worker script put in it at boot stays, as in FrankenPHP (and so
// do putenv() changes, which live in the process's environment).
void keep_env() {
  zend_string* name = zend_string_init("_ENV", sizeof("_ENV") - 1, 0);
  if (zend_hash_exists(&EG(symbol_table), name)) {
    auto* ag = static_cast<zend_auto_global*>(zend_hash_find_ptr(CG(auto_globals), name));
    if (ag) ag->armed = false;  // not rebuilt when code compiled later names it
  } else {
    zend_is_auto_global(name);
  }
  zend_string_release(name);
}

// $_SERVER, kept rather than built anew: registering each variable costs about as much as a
// small request's PHP, and most requests name the same variables as the one before, many with
// the same values. Only an array nobody else holds is reused: a script that kept a copy (a
// framework's request object often does), or changed it, gets a fresh one next time.

// As php_auto_globals_create_server() leaves it: in PG(http_globals) and the symbol table, and
// not built again by code compiled later in the request.
void install_server(zval& kept) {
  ZVAL_COPY(&PG(http_globals)[TRACK_VARS_SERVER], &kept);
  Z_ADDREF(kept);
  zend_hash_str_update(&EG(symbol_table), ZEND_STRL("_SERVER"), &kept);
  auto* ag = static_cast<zend_auto_global*>(
      zend_hash_str_find_ptr(CG(auto_globals), ZEND_STRL("_SERVER")));
  if (ag) ag->armed = false;
}

// False when `kept` is not an array that only this holds (then it is dropped).
bool held_alone(zval& kept) {
  if (Z_TYPE(kept) != IS_ARRAY) return false;
  if (Z_REFCOUNT(kept) == 1) return true;
  zval_ptr_dtor(&kept);
  ZVAL_UNDEF(&kept);
  return false;
}

// Keeps this request's (or idle state's) $_SERVER in `kept` for the next one.
void keep_server(zval& kept) {
  zval_ptr_dtor(&kept);
  ZVAL_UNDEF(&kept);
  if (Z_TYPE(PG(http_globals)[TRACK_VARS_SERVER]) == IS_ARRAY) {
    ZVAL_COPY(&kept, &PG(http_globals)[TRACK_VARS_SERVER]);
  }
}

// $_SERVER between requests is the same every time (the environment and the worker script's
// names, bound by bind_idle()): given again with a fresh REQUEST_TIME. What differs from a
// fresh build: filter_input(INPUT_SERVER) between requests sees nothing. False when there is
// none to reuse: build it, then keep_server().
bool reuse_idle_server() {
  zval& kept = g.idle_server;
  if (!held_alone(kept)) return false;
  HashTable* ht = Z_ARRVAL(kept);
  zval t;
  ZVAL_DOUBLE(&t, sapi_get_request_time());
  zend_hash_str_update(ht, ZEND_STRL("REQUEST_TIME_FLOAT"), &t);
  ZVAL_LONG(&t, zend_dval_to_lval(Z_DVAL(t)));
  zend_hash_str_update(ht, ZEND_STRL("REQUEST_TIME"), &t);
  install_server(kept);
  return true;
}

// The last request's $_SERVER, brought up to date for the bound request where the variables are
// the same names in the same order (sapi::refresh_request_server()). False when it cannot be:
// build it, then keep_server().
bool reuse_request_server() {
  zval& kept = g.request_server;
  if (!held_alone(kept)) return false;
  if (!sapi::refresh_request_server(Z_ARRVAL(kept))) {
    zval_ptr_dtor(&kept);
    ZVAL_UNDEF(&kept);
    return false;
  }
  install_server(kept);
  return true;
}

// What PHP reports while it starts a request (its input parsed into $_POST, $_GET, $_COOKIE:
// "Input variables exceeded 1000", "POST Content-Length ... exceeds the limit") comes, under
// php-fpm, before any of the app's code: no error handler of the app's sees it, it is logged as
// "PHP Request Startup: ...", and the app goes on with what PHP kept. Here the handler the
// worker script set with set_error_handler() is in place all along: it is put aside meanwhile,
// or it would make the warning an exception pending before the callable runs (Laravel's
// handler: a blank page or a 500 where php-fpm serves the form). Returns the handler put aside.
zval begin_request_startup() {
  zval handler;
  ZVAL_COPY_VALUE(&handler, &EG(user_error_handler));
  ZVAL_UNDEF(&EG(user_error_handler));
  PG(during_request_startup) = 1;
  return handler;
}

void end_request_startup(zval& handler) {
  PG(during_request_startup) = 0;
  zval_ptr_dtor(&EG(user_error_handler));  // one a session save handler set meanwhile
  ZVAL_COPY_VALUE(&EG(user_error_handler), &handler);
}

// Starts the state of the bound request (or of none, `idle`): as php_request_startup() does
// for output, SAPI, superglobals and the renewed modules.
void start_state(bool idle) {
  zval app_error_handler = begin_request_startup();
  for (int i = 0; i < NUM_TRACK_VARS; ++i) zval_ptr_dtor_nogc(&PG(http_globals)[i]);
  php_output_activate();
  PG(header_is_being_sent) = 0;
  PG(connection_status) = PHP_CONNECTION_NORMAL;
  sapi_activate();                // reads a form body; cookies
  if (PG(expose_php) && !idle) {  // between requests no headers are sent
    sapi_add_header(SAPI_PHP_VERSION_HEADER, sizeof(SAPI_PHP_VERSION_HEADER) - 1, 1);
  }
  start_output_buffering();
  php_hash_environment();  // $_GET $_POST $_COOKIE $_FILES now; the others on demand...
  // ...but the handler was compiled long ago, so build those now as well.
  if (!(idle ? reuse_idle_server() : reuse_request_server())) {
    zend_is_auto_global_str(ZEND_STRL("_SERVER"));
    keep_server(idle ? g.idle_server : g.request_server);
  }
  zend_is_auto_global_str(ZEND_STRL("_REQUEST"));
  keep_env();
  renew_modules_startup();
  if (PS(auto_start) && SG(server_context)) bails_out([] { php_session_start(); });
  SG(sapi_started) = 1;
  end_request_startup(app_error_handler);
}

void start_idle_state() {
  sapi::bind_idle(g.script);
  start_state(true);
  sapi::mark_idle_started();
}

// An exception the handler did not catch: as at the end of a script under php-fpm, the
// set_exception_handler() handler has it (its page and status are the answer); without one, or
// when that throws too, it is logged as a fatal error and answers 500, unless the script chose
// another status (a redirect, a 404), which PHP's fatal errors leave as it is.
void answer_uncaught_exception() {
  if (Z_TYPE(EG(user_exception_handler)) != IS_UNDEF) zend_user_exception_handler();
  if (!EG(exception)) return;
  if (!SG(headers_sent) && SG(sapi_headers).http_response_code == 200)
    sapi_header_op(SAPI_HEADER_SET_STATUS, reinterpret_cast<void*>(500));
  zend_exception_error(EG(exception), E_ERROR);  // logs "PHP Fatal error:  Uncaught ..."
  EG(exit_status) = 0;
}

// ---- max_execution_time ------------------------------------------------------------------------
//
// PHP arms its time limit (an ITIMER_PROF timer: CPU time) when a request starts and disarms it
// when the request ends: two setitimer() calls a request. Here the disarm is left out when the
// request took less than half its limit in wall-clock time (so the timer has at least half the
// limit of CPU time left): the next request arms it again for the whole limit. Between requests
// the worker script may spend any CPU time in its loop (gc_collect_cycles(), flushing a log...),
// which is no request's: the timer may run out there, and its signal is then dropped
// (on_time_limit()), where PHP's handler would end the worker with "Maximum execution time
// exceeded". Each request gets its whole limit from its own start and counts nothing else.

using SignalHandler = void (*)(int);
SignalHandler php_time_limit_handler = nullptr;  // PHP's own (zend_timeout_handler)
volatile sig_atomic_t timing_request = 0;        // between arm_time_limit() and end_time_limit()

// The time limit's signal, as PHP's signal layer hands it on (outside its critical sections).
void on_time_limit(int signo) {
  if (timing_request) php_time_limit_handler(signo);
}

// Puts on_time_limit() in front of PHP's handler of the time limit's signal. PHP's signal layer
// (Zend signals) dispatches every signal it handles through its table of handlers: the entry is
// replaced in place, and the process's own handler, PHP's dispatcher, stays, so this costs no
// system call. PHP puts its handler back only when a request runs out of time (zend_timeout()),
// which ends the worker; checked again at each request all the same. Without Zend signals (a PHP
// built without them) nothing is wrapped and end_time_limit() always disarms the timer.
#ifdef ZEND_SIGNALS
constexpr bool kTimeLimitWrapped = true;
void wrap_time_limit_handler() {
  zend_signal_entry_t& e = SIGG(handlers)[SIGPROF - 1];
  void* ours = reinterpret_cast<void*>(on_time_limit);
  if (e.handler == ours) return;
  if (!e.handler || e.handler == reinterpret_cast<void*>(SIG_DFL) ||
      e.handler == reinterpret_cast<void*>(SIG_IGN) || (e.flags & SA_SIGINFO)) {
    return;
  }
  php_time_limit_handler = reinterpret_cast<SignalHandler>(e.handler);
  e.handler = ours;
}
#else
constexpr bool kTimeLimitWrapped = false;
void wrap_time_limit_handler() {}
#endif

int64_t monotonic_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void arm_time_limit() {
  wrap_time_limit_handler();
  if (EG(timeout_seconds) > 0) {
    zend_set_timeout(EG(timeout_seconds), 0);  // overwrites a timer left running
  } else if (g.limit_left_running) {
    itimerval off{};  // no limit for this request: zend_set_timeout(0) would leave it running
    setitimer(ITIMER_PROF, &off, nullptr);
  }
  zend_atomic_bool_store_ex(&EG(timed_out), false);
  g.limit_left_running = false;
  g.limit_armed_us = monotonic_us();
  timing_request = 1;
}

void end_time_limit() {
  timing_request = 0;
  zend_long limit = EG(timeout_seconds);
  if (kTimeLimitWrapped && php_time_limit_handler && limit > 0 &&
      !zend_atomic_bool_load_ex(&EG(timed_out)) &&
      monotonic_us() - g.limit_armed_us < limit * 500000) {
    g.limit_left_running = true;
    return;
  }
  zend_unset_timeout();
}

// askr_handle_request($handler). PHP may leave this function through a bailout (a fatal error
// in the handler): nothing here needs destroying then.
void handle_request(zend_fcall_info* fci, zend_fcall_info_cache* fcc, zval* return_value) {
  if (g.in_handler) {  // it would end the request under way and serve the next one in it
    zend_throw_exception(spl_ce_RuntimeException,
                         "askr_handle_request() called while handling a request", 0);
    return;
  }
  if (!g.booted) {
    g.booted = true;
    remember_boot_ini();
    boot_process_state();
    boot_timezone();
    boot_default_context();
    boot_extension_state();
    // Waiting is not executing: the boot's time limit ends here. After a request the limit is
    // already off (below), so no setitimer() is spent on it again.
    zend_unset_timeout();
  }
  // A worker that stops here (max_requests, memory_limit, a stop signal) is not free while its
  // script ends after the loop (an app's shutdown): the last request's END_REQUEST is left to
  // run_worker(), so that the pool sends it nothing more meanwhile.
  if (should_exit(g.limits, g.served)) RETURN_FALSE;
  // The last request is over only now: what the script did after its answer, in its loop, was
  // part of it (the worker was not free).
  g.server->release(0);
  if (g.server->next_request() != FcgiServer::Wait::kRequest) RETURN_FALSE;
  bool failed = end_state();
  sapi::unbind();
  sapi::bind_request(*g.server);
  start_state(false);

  arm_time_limit();
  zval retval;
  ZVAL_UNDEF(&retval);
  fci->retval = &retval;
  g.in_handler = true;
  zend_call_function(fci, fcc);
  g.in_handler = false;
  zval_ptr_dtor(&retval);
  if (EG(exception)) {
    // exit(): the script unwinds and ends; run_worker() answers the request.
    if (zend_is_unwind_exit(EG(exception)) || zend_is_graceful_exit(EG(exception))) return;
    answer_uncaught_exception();
  }
  end_time_limit();

  failed = end_state() || failed;
  sapi::unbind();
  g.server->end_output();
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
  // PHP's memory: freed before its request ends.
  for (zval* kept :
       {&g.idle_server, &g.request_server, &g.boot_context_options, &g.boot_notification}) {
    zval_ptr_dtor(kept);
    ZVAL_UNDEF(kept);
  }
  free_extension_state();
  if (g.boot_ctype) zend_string_release(std::exchange(g.boot_ctype, nullptr));
  int status = EG(exit_status);
  // exit() or a fatal error in a handler: that request is still open; answer it as far as it got.
  // After max_requests and the like, the last request's END_REQUEST is still owed: it goes now.
  php_request_shutdown(nullptr);
  sapi::unbind();
  server.release(uint32_t(status));
  sapi::set_handle_request_hook(nullptr);
  if (status != 0) LOG_WARN("worker script %s ended with status %d", script.c_str(), status);
  return status;
}

}  // namespace askr::worker::modes
