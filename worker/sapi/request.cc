#include "sapi/request.h"

#include <cstdlib>
#include <string>

#include "sapi/functions.h"
#include "sapi/module.h"

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

const std::string& param_or_empty(const FcgiParams& p, std::string_view name, bool* found) {
  static const std::string kEmpty;
  const std::string* v = p.find(name);
  if (found) *found = v != nullptr;
  return v ? *v : kEmpty;
}

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

}  // namespace

FcgiServer* bound_server() {
  return g_binding.server;
}

const std::string* bound_param(std::string_view name) {
  return g_binding.server ? g_binding.server->params().find(name) : nullptr;
}

void bind_request(FcgiServer& server) {
  Binding& b = g_binding;
  const FcgiParams& p = server.params();
  b.server = &server;
  b.method = param_or_empty(p, "REQUEST_METHOD", &b.has_method);
  b.query = param_or_empty(p, "QUERY_STRING", nullptr);
  b.script_name = param_or_empty(p, "SCRIPT_NAME", nullptr);
  b.script_filename = param_or_empty(p, "SCRIPT_FILENAME", &b.has_script);
  if (!b.has_script) b.script_filename = param_or_empty(p, "PATH_TRANSLATED", &b.has_script);
  b.content_type = param_or_empty(p, "CONTENT_TYPE", &b.has_content_type);
  b.has_content_type = b.has_content_type && !b.content_type.empty();
  b.cookie = param_or_empty(p, "HTTP_COOKIE", &b.has_cookie);
  SG(server_context) = &server;
  set_request_info();
  SG(request_info).content_length =
      std::atoll(param_or_empty(p, "CONTENT_LENGTH", nullptr).c_str());
  SG(sapi_headers).http_response_code = 200;
  // Basic and Digest credentials become PHP_AUTH_* (PHP frees them in sapi_deactivate()).
  if (const std::string* auth = p.find("HTTP_AUTHORIZATION")) php_handle_auth_data(auth->c_str());
}

void bind_idle(std::string_view script) {
  Binding& b = g_binding;
  b = Binding{};
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
  php_import_environment_variables(track_vars);
  // What FrankenPHP gives its worker scripts, which they test for.
  if (worker_mode()) register_one("FRANKENPHP_WORKER", std::string("1"), track_vars);
  const Binding& b = g_binding;
  if (!b.server) {
    if (b.has_script) {
      register_one("SCRIPT_FILENAME", b.script_filename, track_vars);
      register_one("SCRIPT_NAME", b.script_name, track_vars);
      register_one("PHP_SELF", b.script_name, track_vars);
    }
    return;
  }
  for (const auto& [name, value] : b.server->params().pairs) {
    register_one(name.c_str(), value, track_vars);
  }
  // PHP_SELF as php-fpm builds it (cgi.fix_pathinfo=1): SCRIPT_NAME followed by PATH_INFO.
  std::string self = b.script_name;
  if (const std::string* path_info = b.server->params().find("PATH_INFO")) self += *path_info;
  register_one("PHP_SELF", self, track_vars);
}

}  // namespace askr::worker::sapi
