// askr-worker's command line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shared/base/result.h"

namespace askr::worker {

struct Options {
  enum class Mode : uint8_t { kClassic, kWorker };
  Mode mode = Mode::kClassic;
  std::string script;       // --script: worker mode's script
  std::string listen_path;  // --listen: create and listen on this Unix socket
  std::string php_ini;      // --php-ini: the php.ini file; "" = none
  bool ini_scan_dir_set = false;
  std::string ini_scan_dir;          // --ini-scan-dir: "" = scan nothing
  std::vector<std::string> defines;  // -d name=value, in order
  uint64_t max_requests = 0;         // 0 = no limit
  uint64_t memory_limit = 0;         // bytes of RSS; 0 = no limit
  std::string log_level;             // "" = the default (info)
  std::string pool;                  // --pool: the pool's name, for the log; "" = none
  std::string user;                  // --user: run as this user (from root); "" = as started
  std::string group;                 // --group: and this group; "" = the user's own
  bool zygote = false;               // --zygote: start PHP, then fork workers on request
  bool version = false;              // --version / --info
  bool help = false;
};

// Parses argv. Options take their value as the next argument or after '=' ("--mode=worker");
// -d also as "-dname=value". Sizes accept k/m/g units.
Result<Options> parse_options(int argc, char** argv);

// The --help text.
const char* usage();

}  // namespace askr::worker
