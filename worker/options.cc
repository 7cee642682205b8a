#include "options.h"

#include <charconv>
#include <string_view>

#include "shared/config/units.h"

namespace askr::worker {
namespace {

// The value of option `name` at argv[i]: after '=' in the same argument, else the next one
// (advancing i). nullopt when `arg` is not this option.
struct ArgReader {
  int argc;
  char** argv;
  int i = 1;
  std::string error;

  bool take(std::string_view name, std::string& out) {
    std::string_view arg = argv[i];
    if (!arg.starts_with(name)) return false;
    std::string_view rest = arg.substr(name.size());
    if (rest.starts_with("=")) {
      out.assign(rest.substr(1));
      return true;
    }
    if (!rest.empty()) return false;
    if (i + 1 >= argc) {
      error = std::string(name) + " needs a value";
      return true;
    }
    out.assign(argv[++i]);
    return true;
  }
};

Result<uint64_t> parse_count(const std::string& text, const char* what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Error{EINVAL, std::string(what) + ": expected a number, got \"" + text + "\""};
  }
  return v;
}

Result<void> apply_value(Options& o, std::string_view name, const std::string& value) {
  if (name == "--mode") {
    if (value == "classic") {
      o.mode = Options::Mode::kClassic;
    } else if (value == "worker") {
      o.mode = Options::Mode::kWorker;
    } else {
      return Error{EINVAL, "--mode: expected classic or worker, got \"" + value + "\""};
    }
  } else if (name == "--script") {
    o.script = value;
  } else if (name == "--listen") {
    o.listen_path = value;
  } else if (name == "--php-ini") {
    o.php_ini = value;
  } else if (name == "--ini-scan-dir") {
    o.ini_scan_dir_set = true;
    o.ini_scan_dir = value;
  } else if (name == "--log-level") {
    o.log_level = value;
  } else if (name == "--pool") {
    o.pool = value;
  } else if (name == "--user") {
    o.user = value;
  } else if (name == "--group") {
    o.group = value;
  } else if (name == "--max-requests") {
    Result<uint64_t> n = parse_count(value, "--max-requests");
    if (!n) return n.error();
    o.max_requests = *n;
  } else if (name == "--memory-limit") {
    Result<uint64_t> n = config::parse_size(value);
    if (!n) return Error{EINVAL, "--memory-limit: " + n.error().message};
    o.memory_limit = *n;
  }
  return {};
}

constexpr std::string_view kValueOptions[] = {
    "--mode",         "--script",       "--listen", "--php-ini", "--ini-scan-dir", "--log-level",
    "--max-requests", "--memory-limit", "--user",   "--group",   "--pool"};

}  // namespace

Result<Options> parse_options(int argc, char** argv) {
  Options o;
  ArgReader r{argc, argv, 1, {}};
  for (; r.i < argc; ++r.i) {
    std::string_view arg = argv[r.i];
    if (arg == "--version" || arg == "--info" || arg == "-v") {
      o.version = true;
      continue;
    }
    if (arg == "--zygote") {
      o.zygote = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg.starts_with("-d")) {
      std::string def(arg.substr(2));
      if (def.empty()) {
        if (r.i + 1 >= argc) return Error{EINVAL, "-d needs name=value"};
        def = argv[++r.i];
      }
      o.defines.push_back(std::move(def));
      continue;
    }
    bool known = false;
    for (std::string_view name : kValueOptions) {
      std::string value;
      if (!r.take(name, value)) continue;
      if (!r.error.empty()) return Error{EINVAL, r.error};
      if (Result<void> ok = apply_value(o, name, value); !ok) return ok.error();
      known = true;
      break;
    }
    if (!known) return Error{EINVAL, "unknown argument \"" + std::string(arg) + "\" (see --help)"};
  }
  if (o.mode == Options::Mode::kWorker && o.script.empty() && !o.version && !o.help) {
    return Error{EINVAL, "--mode worker needs --script FILE"};
  }
  if (!o.group.empty() && o.user.empty()) return Error{EINVAL, "--group needs --user"};
  if (o.zygote && !o.listen_path.empty()) {
    return Error{EINVAL, "--zygote takes its workers' sockets from its supervisor, not --listen"};
  }
  return o;
}

const char* usage() {
  return "usage: askr-worker [options]\n"
         "  --mode classic|worker   classic: run SCRIPT_FILENAME per request (default);\n"
         "                          worker: run --script once; it serves requests through\n"
         "                          askr_handle_request() (alias frankenphp_handle_request())\n"
         "  --script FILE           the worker-mode script\n"
         "  --listen PATH           listen on this Unix socket (without it: the socket\n"
         "                          inherited as fd $ASKR_LISTEN_FD)\n"
         "  --php-ini FILE          php.ini to load (default: none)\n"
         "  --ini-scan-dir DIR      directory of extra .ini files (default: libphp's, on\n"
         "                          Debian /etc/php/8.2/embed/conf.d; \"\" = none)\n"
         "  -d name=value           set a php.ini entry (repeatable)\n"
         "  --max-requests N        exit after N requests (0 = never)\n"
         "  --memory-limit BYTES    exit after a request that leaves RSS above this\n"
         "                          (k/m/g units; 0 = never)\n"
         "  --log-level LEVEL       error|warn|info|debug (default info)\n"
         "  --pool NAME             the pool's name, in log lines about what PHP printed\n"
         "                          outside a request\n"
         "  --user NAME             run as this user (started as root), with its groups;\n"
         "                          PHP starts as it (after --listen's socket is made)\n"
         "  --group NAME            and this group (default: the user's own)\n"
         "  --zygote                for a supervisor: start PHP once, then fork a worker\n"
         "                          (with the options above) per request on the control\n"
         "                          socket $ASKR_ZYGOTE_FD; see worker/zygote.h\n"
         "  --version, --info       print the PHP version, extensions and OPcache state\n";
}

}  // namespace askr::worker
