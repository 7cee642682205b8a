// Starting and stopping the PHP engine under Askr's SAPI ("askr", pretty name "Askr").
//
// Configuration, as the command line gives it (worker/main.cc):
// - php.ini: only the file named by --php-ini. Without one, none is read: not the current
//   directory's, not $PHPRC's, not libphp's default (/etc/php/8.2/embed/php.ini on Debian). PHP
//   is pointed at /dev/null so that the scan directory below is still read.
// - The scan directory: libphp's built-in one (Debian: /etc/php/8.2/embed/conf.d, where phpenmod
//   enables the packaged extensions and OPcache), unless --ini-scan-dir or $PHP_INI_SCAN_DIR
//   names another ("" = none).
// - -d name=value entries override both, as with php -d.
// - Defaults that php.ini and -d may override: display_errors=0 (errors go to the log, and a
//   fatal error answers 500, as php-fpm with the production php.ini does), log_errors=1, and
//   as php.ini-production: register_argc_argv=0, expose_php=0, zend.assertions=-1,
//   error_reporting=E_ALL & ~E_DEPRECATED & ~E_STRICT, request_order=GP, short_open_tag=0,
//   output_buffering=4096, zend.exception_ignore_args=1, enable_dl=0, session.gc_probability=0
//   (/gc_divisor=1000), session.sid_length=26, session.sid_bits_per_character=5.
#pragma once

#include <string>
#include <vector>

namespace askr::worker::sapi {

struct EngineConfig {
  std::string php_ini;  // "" = none
  bool scan_dir_set = false;
  std::string scan_dir;
  std::vector<std::string> defines;  // "name=value"
};

// Starts PHP (module startup: ini, extensions, OPcache). False, with a log line, on failure.
// Call once, after the signal handlers are installed.
bool start_engine(const EngineConfig& config);
void stop_engine();

// Prints the PHP version, the ini files, the loaded extensions and the OPcache state, one
// "key: value" line each, to stdout. Runs a request of its own.
void print_info();

}  // namespace askr::worker::sapi
