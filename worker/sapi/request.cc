#include "sapi/request.h"

#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sapi/functions.h"
#include "sapi/module.h"
#include "sapi/stray_output.h"

namespace askr::worker::sapi {
namespace {

// What SG(request_info) points into while a request is bound. PHP may write into these
// buffers (it treats them as its own char*), so they are strings, not views into the params.
struct Binding {
  FcgiServer* server = nullptr;
  std::string method;
  std::string query;
  std::string script_name;
  std::string script_filename;
  std::string content_type;
  std::string cookie;
  bool has_cookie = false;
  bool has_content_type = false;
  bool has_method = false;
  bool has_script = false;
};

Binding g_binding;

// The params bind_request() reads, each the first of its name, found in one pass over them
// rather than a search each.
struct Wanted {
  enum Name {
    kMethod,
    kQuery,
    kScriptName,
    kScriptFilename,
    kPathTranslated,
    kContentType,
    kCookie,
    kContentLength,
    kAuthorization,
    kCount
  };
  static constexpr std::string_view kNames[kCount] = {
      "REQUEST_METHOD", "QUERY_STRING", "SCRIPT_NAME",    "SCRIPT_FILENAME",   "PATH_TRANSLATED",
      "CONTENT_TYPE",   "HTTP_COOKIE",  "CONTENT_LENGTH", "HTTP_AUTHORIZATION"};
  static_assert(kNames[kScriptName].size() == 11 && kNames[kCookie].size() == 11 &&
                kNames[kQuery].size() == 12 && kNames[kContentType].size() == 12 &&
                kNames[kMethod].size() == 14 && kNames[kContentLength].size() == 14 &&
                kNames[kScriptFilename].size() == 15 && kNames[kPathTranslated].size() == 15 &&
                kNames[kAuthorization].size() == 18);  // as the constructor's switch has them
  const std::string* found[kCount] = {};

  explicit Wanted(const FcgiParams& p) {
    for (const auto& [name, value] : p.pairs()) {
      int i = -1;  // the wanted name of this length, if any (two of the same length: by a byte)
      switch (name.size()) {
        case 11:
          i = name[0] == 'S' ? kScriptName : kCookie;
          break;
        case 12:
          i = name[0] == 'Q' ? kQuery : kContentType;
          break;
        case 14:
          i = name[0] == 'R' ? kMethod : kContentLength;
          break;
        case 15:
          i = name[0] == 'S' ? kScriptFilename : kPathTranslated;
          break;
        case 18:
          i = kAuthorization;
          break;
        default:
          continue;
      }
      if (!found[i] && name == kNames[i]) found[i] = &value;
    }
  }
  const std::string& operator()(Name n, bool* present = nullptr) const {
    static const std::string kEmpty;
    if (present) *present = found[n] != nullptr;
    return found[n] ? *found[n] : kEmpty;
  }
};

char* c_str_or_null(std::string& s, bool present) {
  return present ? s.data() : nullptr;
}

void set_request_info() {
  Binding& b = g_binding;
  sapi_request_info& ri = SG(request_info);
  ri.request_method = b.has_method ? b.method.c_str() : nullptr;
  ri.query_string = b.query.data();
  ri.request_uri = b.script_name.data();
  ri.path_translated = c_str_or_null(b.script_filename, b.has_script);
  ri.content_type = b.has_content_type ? b.content_type.c_str() : nullptr;
  ri.cookie_data = c_str_or_null(b.cookie, b.has_cookie);
  ri.content_length = 0;
  ri.auth_user = ri.auth_password = ri.auth_digest = nullptr;
  ri.argc = 0;
  ri.argv = nullptr;
}

void register_one(const char* name, std::string_view value, zval* track_vars) {
  char* val = const_cast<char*>(value.data());
  size_t new_len = value.size();
  if (sapi_module.input_filter(PARSE_SERVER, name, &val, value.size(), &new_len)) {
    php_register_variable_safe(name, val, new_len, track_vars);
  }
}

// ---- The fast way into $_SERVER -----------------------------------------------------------------
//
// register_one() costs about 1,500 instructions a variable, most of a small request's PHP
// time: the filter extension's input filter registers each variable twice through
// php_register_variable_ex() (its own raw copy for filter_input(INPUT_SERVER), then $_SERVER),
// and each of those parses the name and looks the key up among OPcache's interned strings.
// When the input filter leaves values as they are (no filter extension, or filter.default
// unsafe_raw, its default), the variables go into $_SERVER without it: straight when the name
// is one PHP keeps as it is, else through php_register_variable_safe(). The filter's raw copy is
// then filled only when a script asks for it: filter_input(), filter_has_var() and
// filter_input_array() with INPUT_SERVER fill it first (hook_filter_functions()), through the
// filter, as register_one() would have.

// What the input filter does to server variables, decided once (filter.default is a system
// setting).
enum class FilterKind : uint8_t { kUnknown, kNone, kRaw, kMangles };
FilterKind g_filter = FilterKind::kUnknown;

FilterKind filter_kind() {
  if (g_filter != FilterKind::kUnknown) return g_filter;
  if (sapi_module.input_filter == php_default_input_filter || !sapi_module.input_filter) {
    g_filter = FilterKind::kNone;
  } else if (!zend_hash_str_exists(&module_registry, ZEND_STRL("filter"))) {
    g_filter = FilterKind::kMangles;  // someone else's filter: every variable goes through it
  } else {
    bool exists = false;
    const char* def = zend_ini_string_ex(const_cast<char*>("filter.default"),
                                         sizeof("filter.default") - 1, 0, &exists);
    bool raw = !exists || !def || !*def || strcasecmp(def, "unsafe_raw") == 0;
    g_filter = raw ? FilterKind::kRaw : FilterKind::kMangles;
  }
  return g_filter;
}

// True while the filter extension's raw copy of this request's server variables is owed.
bool g_filter_copy_owed = false;

// A name php_register_variable_ex() would store unchanged as a string key: a letter or '_',
// then letters, digits and '_' (no ' ', '.' or '[' to rewrite, not numeric, not empty).
bool plain_name(std::string_view n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// ---- $_SERVER keys, made once --------------------------------------------------------------
//
// Every request names mostly the same variables, in the same order. Making each key anew (a
// zend_string allocated, hashed, freed with the array) cost about 285 instructions a variable.
// A key is made once instead, as a persistent string flagged interned, the way PHP keeps its
// own permanent strings: arrays that hold it neither count nor free it, so it can never be
// freed while a copy of $_SERVER (kept by a script, in worker mode) still names it, and it
// never is. Names are remembered by position (the variable at index i is nearly always named as
// it was in the last request: one comparison) and in a table by name, which is bounded: a
// client inventing header names cannot grow it; names past the bound are made per request.
class ServerKeys {
 public:
  // The key of the variable at `pos` as the last get() for that position found it, or nullptr.
  zend_string* known(size_t pos) const {
    return pos < by_pos_.size() && by_pos_[pos] ? by_pos_[pos]->second : nullptr;
  }

  // The key for the variable at position `pos` named `name`; nullptr when `name` is not a
  // plain name (or the table is full): then it goes the general way.
  zend_string* get(size_t pos, std::string_view name) {
    if (pos < by_pos_.size() && by_pos_[pos] && by_pos_[pos]->first == name)
      return by_pos_[pos]->second;
    Entry* e = find_or_make(name);
    if (pos < kMaxPositions) {
      if (pos >= by_pos_.size()) by_pos_.resize(pos + 1);
      by_pos_[pos] = e;
    }
    return e ? e->second : nullptr;
  }

 private:
  static constexpr size_t kMaxNames = 512;
  static constexpr size_t kMaxPositions = 256;
  using Entry = std::pair<const std::string, zend_string*>;

  Entry* find_or_make(std::string_view name) {
    scratch_.assign(name);  // a lookup allocates nothing once the scratch has grown
    if (auto it = names_.find(scratch_); it != names_.end()) return &*it;
    if (names_.size() >= kMaxNames) return nullptr;
    return &*names_.emplace(scratch_, plain_name(name) ? make_key(name) : nullptr).first;
  }

  static zend_string* make_key(std::string_view name) {
    zend_string* key = zend_string_init(name.data(), name.size(), 1);
    zend_string_hash_val(key);
    GC_SET_REFCOUNT(key, 1);
    GC_TYPE_INFO(key) =
        GC_STRING | ((IS_STR_INTERNED | IS_STR_PERSISTENT | IS_STR_PERMANENT) << GC_FLAGS_SHIFT);
    return key;
  }

  std::unordered_map<std::string, zend_string*> names_;  // nodes stay put: by_pos_ points in
  std::vector<Entry*> by_pos_;
  std::string scratch_;
};

ServerKeys g_keys;

// Returns the value's string.
zend_string* put_server_var(HashTable* ht, zend_string* key, std::string_view value) {
  zval v;
  ZVAL_STRINGL_FAST(&v, value.data(), value.size());
  zend_hash_update(ht, key, &v);
  return Z_STR(v);
}

// Calls `f(name, value, same)` for each server variable of the bound request, in order: the
// worker mark, every FastCGI param, PHP_SELF. `name` views a NUL-terminated string. `same`: the
// variable is known to have the name and value it had in the set of params before this one.
template <class F>
void for_each_request_var(const Binding& b, F f) {
  // What FrankenPHP gives its worker scripts, which they test for.
  if (worker_mode()) f(std::string_view("FRANKENPHP_WORKER"), std::string_view("1"), true);
  const FcgiParams& params = b.server->params();
  std::span<const FcgiParams::Pair> pairs = params.pairs();
  const std::string* path_info = nullptr;  // the first
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::string& name = pairs[i].first;
    if (!path_info && name == "PATH_INFO") path_info = &pairs[i].second;
    f(std::string_view(name), std::string_view(pairs[i].second), !params.changed(i));
  }
  // PHP_SELF as php-fpm builds it (cgi.fix_pathinfo=1): SCRIPT_NAME followed by PATH_INFO.
  static std::string self;  // its capacity is kept from one request to the next
  self.assign(b.script_name);
  if (path_info) self += *path_info;
  f(std::string_view("PHP_SELF"), std::string_view(self), false);
}

// The generation of the params (FcgiParams::generation()) that $_SERVER was last built or
// brought up to date for, and the string each variable was given then, by position (nullptr:
// none known).
uint64_t g_server_generation = ~uint64_t{0};
std::vector<zend_string*> g_server_values;

void note_value(size_t pos, zend_string* value) {
  if (pos >= g_server_values.size()) g_server_values.resize(pos + 1);
  g_server_values[pos] = value;
}

// The request's variables into $_SERVER (`track_vars`), straight where allowed.
void register_request_vars(const Binding& b, zval* track_vars) {
  FilterKind kind = filter_kind();
  if (kind == FilterKind::kMangles || Z_TYPE_P(track_vars) != IS_ARRAY) {
    for_each_request_var(b, [&](std::string_view n, std::string_view v, bool) {
      register_one(n.data(), v, track_vars);
    });
    g_server_generation = b.server->params().generation();
    return;
  }
  HashTable* ht = Z_ARRVAL_P(track_vars);
  // Sized once for all of them, rather than grown and rehashed three times on the way.
  zend_hash_extend(ht, zend_hash_num_elements(ht) + uint32_t(b.server->params().size()) + 2, false);
  size_t pos = 0;
  for_each_request_var(b, [&](std::string_view name, std::string_view v, bool) {
    zend_string* value = nullptr;
    if (zend_string* key = g_keys.get(pos, name)) {
      value = put_server_var(ht, key, v);
    } else {  // what the filter would have registered, its values being left as they are
      php_register_variable_safe(name.data(), v.data(), v.size(), track_vars);
    }
    note_value(pos++, value);
  });
  g_filter_copy_owed = kind == FilterKind::kRaw;
  g_server_generation = b.server->params().generation();
}

// The filter extension's raw copy of the variables register_request_vars() put into $_SERVER
// without it: each goes through the filter as register_one() would pass it, in the same order,
// with $_SERVER set aside meanwhile so that the filter's second registration, into $_SERVER,
// does nothing.
void fill_filter_copy() {
  if (!g_filter_copy_owed) return;
  g_filter_copy_owed = false;
  const Binding& b = g_binding;
  if (!b.server) return;
  zval& server = PG(http_globals)[TRACK_VARS_SERVER];
  zval saved;
  ZVAL_COPY_VALUE(&saved, &server);
  ZVAL_UNDEF(&server);
  for_each_request_var(b, [](std::string_view n, std::string_view v, bool) {
    char* val = const_cast<char*>(v.data());
    size_t new_len = v.size();
    sapi_module.input_filter(PARSE_SERVER, n.data(), &val, v.size(), &new_len);
  });
  ZVAL_COPY_VALUE(&server, &saved);
}

// filter_input(), filter_has_var() and filter_input_array(), each called through a hook that
// first fills the raw copy when it asks for INPUT_SERVER.
constexpr const char* kFilterFunctions[] = {"filter_input", "filter_has_var", "filter_input_array"};
zif_handler g_filter_handlers[std::size(kFilterFunctions)] = {};

template <size_t I>
void filter_function_hook(INTERNAL_FUNCTION_PARAMETERS) {
  if (g_filter_copy_owed && ZEND_CALL_NUM_ARGS(execute_data) >= 1) {
    zval* type = ZEND_CALL_ARG(execute_data, 1);
    ZVAL_DEREF(type);
    if (Z_TYPE_P(type) <= IS_STRING && zval_get_long(type) == PARSE_SERVER) {
      // As the filter does before reading its copy: $_SERVER (and so the copy) is built first.
      zend_is_auto_global_str(ZEND_STRL("_SERVER"));
      fill_filter_copy();
    }
  }
  g_filter_handlers[I](INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

template <size_t... I>
void hook_all(std::index_sequence<I...>) {
  constexpr zif_handler hooks[] = {filter_function_hook<I>...};
  for (size_t i = 0; i < sizeof...(I); ++i) {
    auto* f = static_cast<zend_function*>(zend_hash_str_find_ptr(
        CG(function_table), kFilterFunctions[i], strlen(kFilterFunctions[i])));
    if (!f || f->type != ZEND_INTERNAL_FUNCTION || g_filter_handlers[i]) continue;
    g_filter_handlers[i] = f->internal_function.handler;
    f->internal_function.handler = hooks[i];
  }
}

// The bucket after `p` (skipping deleted ones) up to `end`, or nullptr.
Bucket* next_bucket(Bucket*& p, Bucket* end) {
  while (p != end && Z_TYPE(p->val) == IS_UNDEF) ++p;
  return p != end ? p++ : nullptr;
}

bool key_is(const Bucket* b, std::string_view name) {
  return b->key && ZSTR_LEN(b->key) == name.size() &&
         std::memcmp(ZSTR_VAL(b->key), name.data(), name.size()) == 0;
}

// The bucket's value becomes the string `v`, unless it already is.
void set_string(Bucket* b, std::string_view v) {
  zval& z = b->val;
  if (Z_TYPE(z) == IS_STRING && Z_STRLEN(z) == v.size() &&
      std::memcmp(Z_STRVAL(z), v.data(), v.size()) == 0) {
    return;
  }
  zval_ptr_dtor(&z);
  ZVAL_STRINGL_FAST(&z, v.data(), v.size());
}

// PHP's own php_import_environment_variables(): the process environment alone.
void (*g_import_process_environment)(zval*) = nullptr;

void import_process_environment(zval* array) {
  (g_import_process_environment ? g_import_process_environment
                                : php_import_environment_variables)(array);
}

// What getenv() without a name and $_ENV (variables_order with E) list: the environment, then
// the bound request's params, as php-fpm gives them. Not through the input filter, which puts
// what it is given into $_SERVER (or $_ENV) itself. In worker mode $_ENV is built once and kept
// (see worker.cc): the environment alone, not the params of the request that happened to build
// it. $_SERVER is built by register_server_variables().
void import_environment(zval* array) {
  import_process_environment(array);
  const Binding& b = g_binding;
  if (!b.server || (worker_mode() && array == &PG(http_globals)[TRACK_VARS_ENV])) return;
  for (const auto& [name, value] : b.server->params().pairs()) {
    php_register_variable_safe(name.c_str(), value.data(), value.size(), array);
  }
}

}  // namespace

bool refresh_request_server(HashTable* ht) {
  const Binding& b = g_binding;
  if (!b.server || filter_kind() == FilterKind::kMangles || HT_IS_PACKED(ht)) return false;
  const sapi_request_info& ri = SG(request_info);
  if (ri.auth_user || ri.auth_password || ri.auth_digest) return false;  // PHP_AUTH_* of its own
  Bucket* p = ht->arData;
  Bucket* end = p + ht->nNumUsed;
  // The environment first, as php_import_environment_variables() registers it. An entry that
  // PHP skips (a name with ' ', '.' or '[') or keys by number is not where it is looked for
  // here: no reuse.
  for (char** env = environ; env && *env; ++env) {
    const char* eq = std::strchr(*env, '=');
    if (!eq) return false;
    std::string_view name(*env, size_t(eq - *env));
    Bucket* at = next_bucket(p, end);
    if (!at || !key_is(at, name)) return false;
    set_string(at, eq + 1);
  }
  // The request's variables, each in the place, and under the very key, a build gives it. When
  // the array is the previous set of params' (nearly always), a variable known to be the same
  // as in that set is only checked for its key, and for holding the string it was given (not
  // one that something changing $_SERVER in place, as phar does, put there).
  bool follows = b.server->params().generation() == g_server_generation + 1;
  bool same = true;
  size_t pos = 0;
  // Inlined: it runs for every variable of every request.
  auto check = [&](std::string_view name, std::string_view v, bool unchanged)
      __attribute__((always_inline)) {
    if (!same) return;
    unchanged = unchanged && follows;
    zend_string* key = unchanged ? g_keys.known(pos) : g_keys.get(pos, name);
    ++pos;
    Bucket* at = key ? next_bucket(p, end) : nullptr;
    if (!at || at->key != key) {
      same = false;
      return;
    }
    if (unchanged && Z_TYPE(at->val) == IS_STRING && pos - 1 < g_server_values.size() &&
        Z_STR(at->val) == g_server_values[pos - 1]) {
      return;
    }
    set_string(at, v);
    note_value(pos - 1, Z_STR(at->val));
  };
  for_each_request_var(b, check);
  if (!same) return false;
  // Then what php_register_server_variables() adds, what php_auto_globals_create_server() adds
  // with register_argc_argv (argv from the query string, argc), and nothing after them.
  Bucket* time_float = next_bucket(p, end);
  Bucket* time = next_bucket(p, end);
  if (!time_float || !key_is(time_float, "REQUEST_TIME_FLOAT") || !time ||
      !key_is(time, "REQUEST_TIME")) {
    return false;
  }
  if (PG(register_argc_argv)) {
    Bucket* argv = next_bucket(p, end);
    Bucket* argc = next_bucket(p, end);
    if (!argv || !key_is(argv, "argv") || !argc || !key_is(argc, "argc")) return false;
  }
  if (next_bucket(p, end)) return false;
  zval_ptr_dtor(&time_float->val);
  ZVAL_DOUBLE(&time_float->val, sapi_get_request_time());
  zval_ptr_dtor(&time->val);
  ZVAL_LONG(&time->val, zend_dval_to_lval(Z_DVAL(time_float->val)));
  if (PG(register_argc_argv)) {
    zval arr;
    ZVAL_ARR(&arr, ht);
    php_build_argv(SG(request_info).query_string, &arr);  // replaces both, in their places
  }
  g_filter_copy_owed = filter_kind() == FilterKind::kRaw;
  g_server_generation = b.server->params().generation();
  return true;
}

void hook_filter_functions() {
  hook_all(std::make_index_sequence<std::size(kFilterFunctions)>());
}

void hook_environment_import() {
  if (g_import_process_environment) return;
  g_import_process_environment = php_import_environment_variables;
  php_import_environment_variables = import_environment;  // getenv() without a name calls it too
}

FcgiServer* bound_server() {
  return g_binding.server;
}

const std::string* bound_param(std::string_view name) {
  return g_binding.server ? g_binding.server->params().find(name) : nullptr;
}

void bind_request(FcgiServer& server) {
  flush_stray_output();  // a line printed before, left without its end, is not the request's
  Binding& b = g_binding;
  const FcgiParams& p = server.params();
  b.server = &server;
  g_filter_copy_owed = false;
  const Wanted w(p);
  b.method = w(Wanted::kMethod, &b.has_method);
  b.query = w(Wanted::kQuery);
  b.script_name = w(Wanted::kScriptName);
  b.script_filename = w(Wanted::kScriptFilename, &b.has_script);
  if (!b.has_script) b.script_filename = w(Wanted::kPathTranslated, &b.has_script);
  b.content_type = w(Wanted::kContentType, &b.has_content_type);
  b.has_content_type = b.has_content_type && !b.content_type.empty();
  b.cookie = w(Wanted::kCookie, &b.has_cookie);
  SG(server_context) = &server;
  set_request_info();
  SG(request_info).content_length = std::atoll(w(Wanted::kContentLength).c_str());
  SG(sapi_headers).http_response_code = 200;
  // Basic and Digest credentials become PHP_AUTH_* (PHP frees them in sapi_deactivate()).
  if (const std::string* auth = w.found[Wanted::kAuthorization]) {
    php_handle_auth_data(auth->c_str());
  }
}

void bind_idle(std::string_view script) {
  Binding& b = g_binding;
  // Emptied field by field, not replaced: the strings keep their capacity for the next request.
  b.server = nullptr;
  for (std::string* s : {&b.method, &b.query, &b.content_type, &b.cookie}) s->clear();
  b.has_cookie = b.has_content_type = b.has_method = false;
  b.script_filename.assign(script);
  b.script_name.assign(script);
  b.has_script = !script.empty();
  SG(server_context) = nullptr;
  set_request_info();
  SG(sapi_headers).http_response_code = 200;
}

void unbind() {
  SG(server_context) = nullptr;
  sapi_request_info& ri = SG(request_info);
  ri.request_method = nullptr;
  ri.query_string = nullptr;
  ri.request_uri = nullptr;
  ri.path_translated = nullptr;
  ri.content_type = nullptr;
  ri.cookie_data = nullptr;
  g_binding.server = nullptr;
  g_filter_copy_owed = false;
}

void mark_idle_started() {
  SG(request_info).no_headers = 1;
}

int bound_proto_num() {
  const std::string* proto = bound_param("SERVER_PROTOCOL");
  if (!proto || proto->size() < 6 || proto->compare(0, 5, "HTTP/") != 0) return 1000;
  int major = (*proto)[5] - '0';
  int minor = proto->size() >= 8 && (*proto)[6] == '.' ? (*proto)[7] - '0' : 0;
  return 1000 * major + minor;
}

void register_server_variables(zval* track_vars) {
  import_process_environment(track_vars);
  const Binding& b = g_binding;
  if (b.server) return register_request_vars(b, track_vars);
  if (worker_mode()) register_one("FRANKENPHP_WORKER", std::string("1"), track_vars);
  if (b.has_script) {
    register_one("SCRIPT_FILENAME", b.script_filename, track_vars);
    register_one("SCRIPT_NAME", b.script_name, track_vars);
    register_one("PHP_SELF", b.script_name, track_vars);
  }
}

}  // namespace askr::worker::sapi
