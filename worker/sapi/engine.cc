#include "sapi/engine.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "sapi/php_headers.h"

#include "ext/standard/info.h"
#include "php_ini.h"
#include "sapi/functions.h"
#include "sapi/module.h"
#include "sapi/request.h"
#include "sapi/stray_output.h"
#include "zend_extensions.h"

// Exported by libphp (main/php_ini.c) but declared in no installed header.
extern "C" {
extern PHPAPI char* php_ini_opened_path;
extern PHPAPI char* php_ini_scanned_path;
}

// main/php_ini_builder.h, whose inline functions are C only: the builder php -d uses, so that
// -d values are quoted the way php-cli and php-fpm quote them.
extern "C" {
struct php_ini_builder {
  char* value;  // malloc()ed; room for a terminating NUL is kept
  size_t length;
};
PHPAPI void php_ini_builder_define(struct php_ini_builder* b, const char* arg);
}

namespace askr::worker::sapi {
namespace {

constexpr const char* kSapiName = "askr";
// OPcache only starts under the SAPIs it knows (php-src ext/opcache: "Opcode Caching is only
// supported in Apache, FPM, FastCGI, FrankenPHP, LiteSpeed and uWSGI SAPIs"). Askr's module
// carries this name while the extensions start up, then its own: PHP_SAPI is registered before
// and php_sapi_name() is read after, so scripts only ever see "askr".
constexpr const char* kStartupName = "frankenphp";

sapi_module_struct g_module{};
std::string g_php_ini;  // php_ini_path_override points into it
char* g_ini_entries = nullptr;

PHP_MINIT_FUNCTION(askr) {
  sapi_module.name = const_cast<char*>(kStartupName);
  return SUCCESS;
}

PHP_MINFO_FUNCTION(askr) {
  php_info_print_table_start();
  php_info_print_table_row(2, "Askr worker", ASKR_VERSION);
  php_info_print_table_end();
}

zend_module_entry g_askr_module = {
    STANDARD_MODULE_HEADER,
    "askr",
    kFunctions,
    PHP_MINIT(askr),
    nullptr,
    nullptr,
    nullptr,
    PHP_MINFO(askr),
    ASKR_VERSION,
    STANDARD_MODULE_PROPERTIES,
};

int startup(sapi_module_struct* m) {
  return php_module_startup(m, &g_askr_module);
}

// Defaults read before php.ini, so that php.ini and -d override them.
void ini_defaults(HashTable* configuration) {
  auto set = [configuration](const char* name, const char* value) {
    zval v;
    ZVAL_NEW_STR(&v, zend_string_init(value, strlen(value), 1));
    zend_hash_str_update(configuration, name, strlen(name), &v);
  };
  set("display_errors", "0");
  set("log_errors", "1");
  // As php.ini-production, which Debian's php-fpm reads: no $_SERVER['argv'] from the query
  // string (what pearcmd.php exploits need), no X-Powered-By, no assertions compiled, and
  // E_ALL & ~E_DEPRECATED & ~E_STRICT reported (as a number: constants are the ini parser's),
  // so that an error handler throwing what is reported fails no request php-fpm serves, and
  // $_REQUEST from $_GET and $_POST alone: with request_order empty it follows variables_order
  // (EGPCS here), and a cookie would stand in for a form field of the same name. No short open
  // tag: a template's literal "<?xml ...?>" would be parsed as PHP, a syntax error. Output is
  // held in a 4 KiB buffer, so that a script which prints (a stray newline, a BOM) before
  // header() or setcookie() still sends them, as under php-fpm, instead of a warning.
  set("register_argc_argv", "0");
  set("expose_php", "0");
  set("zend.assertions", "-1");
  set("error_reporting", std::to_string(E_ALL & ~E_DEPRECATED & ~E_STRICT).c_str());
  set("request_order", "GP");
  set("short_open_tag", "0");
  set("output_buffering", "4096");
  // No arguments in exception traces (a password given to a function that threw would reach
  // the log), no dl(). No session garbage collection in requests: Debian's session directory
  // (1733) cannot be listed by the pool's user, so that each collection logged a failure; its
  // cron job cleans it, as for php-fpm. Session ids of 26 characters of 5 bits.
  set("zend.exception_ignore_args", "1");
  set("enable_dl", "0");
  set("session.gc_probability", "0");
  set("session.gc_divisor", "1000");
  set("session.sid_length", "26");
  set("session.sid_bits_per_character", "5");
}

char* build_ini_entries(const std::vector<std::string>& defines) {
  php_ini_builder b{nullptr, 0};
  for (const std::string& d : defines) php_ini_builder_define(&b, d.c_str());
  if (b.value) b.value[b.length] = '\0';
  return b.value;  // malloc()ed or nullptr; freed in stop_engine()
}

// Sets PHP_INI_SCAN_DIR for php_init_config() and says how to put it back.
std::optional<std::string> override_scan_dir(const EngineConfig& c) {
  std::optional<std::string> saved;
  if (const char* old = getenv("PHP_INI_SCAN_DIR")) saved = old;
  if (c.scan_dir_set) setenv("PHP_INI_SCAN_DIR", c.scan_dir.c_str(), 1);
  return saved;
}

void restore_scan_dir(const std::optional<std::string>& saved) {
  if (saved) {
    setenv("PHP_INI_SCAN_DIR", saved->c_str(), 1);
  } else {
    unsetenv("PHP_INI_SCAN_DIR");
  }
}

}  // namespace

bool start_engine(const EngineConfig& config) {
  if (!config.php_ini.empty() && access(config.php_ini.c_str(), R_OK) != 0) {
    LOG_ERROR("--php-ini %s: %s", config.php_ini.c_str(), strerror(errno));
    return false;
  }
  zend_signal_startup();
  g_module.name = const_cast<char*>(kSapiName);
  g_module.pretty_name = const_cast<char*>("Askr");
  g_module.startup = startup;
  g_module.shutdown = php_module_shutdown_wrapper;
  fill_callbacks(g_module);
  g_module.ini_defaults = ini_defaults;
  g_module.php_ini_ignore_cwd = 1;
  g_php_ini = config.php_ini.empty() ? "/dev/null" : config.php_ini;
  g_module.php_ini_path_override = g_php_ini.data();
  sapi_startup(&g_module);  // clears ini_entries: they are set after it, as php_embed does
  g_ini_entries = build_ini_entries(config.defines);
  g_module.ini_entries = g_ini_entries;
  std::optional<std::string> saved_scan_dir = override_scan_dir(config);
  int rc = g_module.startup(&g_module);
  restore_scan_dir(saved_scan_dir);
  sapi_module.name = const_cast<char*>(kSapiName);
  if (rc == FAILURE) {
    LOG_ERROR("PHP failed to start");
    return false;
  }
  hook_filter_functions();
  hook_environment_import();
  watch_chdir();
  return true;
}

void stop_engine() {
  php_module_shutdown();
  flush_stray_output();
  sapi_shutdown();
  free(g_ini_entries);
  g_ini_entries = nullptr;
}

void print_info() {
  bind_idle("");
  if (php_request_startup() == FAILURE) {
    LOG_ERROR("PHP request start-up failed");
    return;
  }
  mark_idle_started();
  printf("askr-worker: %s\n", ASKR_VERSION);
  printf("php: %s\n", PHP_VERSION);
  printf("sapi: %s\n", sapi_module.name);
  printf("php_ini: %s\n", php_ini_opened_path && strcmp(php_ini_opened_path, "/dev/null") != 0
                              ? php_ini_opened_path
                              : "(none)");
  printf("ini_scan_dir: %s\n", php_ini_scanned_path ? php_ini_scanned_path : "(none)");
  printf("extensions:");
  void* module;
  ZEND_HASH_MAP_FOREACH_PTR(&module_registry, module) {
    printf(" %s", static_cast<zend_module_entry*>(module)->name);
  }
  ZEND_HASH_FOREACH_END();
  printf("\nzend_extensions:");
  for (zend_llist_element* e = zend_extensions.head; e; e = e->next) {
    printf(" %s", static_cast<zend_extension*>(static_cast<void*>(e->data))->name);
  }
  bool loaded = zend_get_extension("Zend OPcache") != nullptr;
  zval enabled;
  ZVAL_FALSE(&enabled);
  zend_eval_string(
      "function_exists('opcache_get_status') && is_array($s = opcache_get_status(false))"
      " && $s['opcache_enabled']",
      &enabled, "askr-info");
  printf("\nopcache: %s\n", !loaded                  ? "not loaded"
                            : zend_is_true(&enabled) ? "loaded, enabled"
                                                     : "loaded, disabled");
  zval_ptr_dtor(&enabled);
  php_request_shutdown(nullptr);
  unbind();
}

}  // namespace askr::worker::sapi
