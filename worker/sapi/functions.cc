#include "sapi/functions.h"

#include <cctype>
#include <iterator>
#include <string>
#include <utility>

#include "ext/spl/spl_exceptions.h"
#include "sapi/module.h"

namespace askr::worker::sapi {
namespace {

HandleRequestHook g_handle_request = nullptr;

zif_handler g_chdir = nullptr;  // PHP's own chdir()
bool g_chdir_called = false;

void watched_chdir(INTERNAL_FUNCTION_PARAMETERS) {
  g_chdir_called = true;
  g_chdir(INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

zif_handler g_mt_srand = nullptr;  // PHP's own mt_srand(); srand() is an alias with the same
bool g_seed_called = false;

void watched_mt_srand(INTERNAL_FUNCTION_PARAMETERS) {
  g_seed_called = true;
  g_mt_srand(INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

zif_handler g_timezone_set = nullptr;  // PHP's own date_default_timezone_set()
bool g_timezone_set_called = false;

void watched_timezone_set(INTERNAL_FUNCTION_PARAMETERS) {
  g_timezone_set_called = true;
  g_timezone_set(INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

zif_handler g_context_set_default = nullptr;  // PHP's own stream_context_set_default()
zif_handler g_context_get_default = nullptr;  // and stream_context_get_default()
bool g_default_context_touched = false;

void watched_context_set_default(INTERNAL_FUNCTION_PARAMETERS) {
  g_default_context_touched = true;
  g_context_set_default(INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

void watched_context_get_default(INTERNAL_FUNCTION_PARAMETERS) {
  g_default_context_touched = true;
  g_context_get_default(INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

// Setters of extension state that outlives the request (mbstring's encodings, libxml's error
// mode and loaders, a stream context's parameters): each flags its group when called with an
// argument (without one most are getters, which change nothing), then runs PHP's own.
enum Group { kMbstring, kLibxml, kContext, kStreams, kGroups };
bool g_group_set[kGroups] = {};

struct WatchedSetter {
  const char* name;
  Group group;
  zif_handler original;
};

WatchedSetter g_setters[] = {
    {"mb_internal_encoding", kMbstring, nullptr},
    {"mb_http_output", kMbstring, nullptr},
    {"mb_substitute_character", kMbstring, nullptr},
    {"mb_detect_order", kMbstring, nullptr},
    {"mb_regex_encoding", kMbstring, nullptr},
    {"libxml_use_internal_errors", kLibxml, nullptr},
    {"libxml_disable_entity_loader", kLibxml, nullptr},
    {"libxml_set_external_entity_loader", kLibxml, nullptr},
    {"libxml_set_streams_context", kLibxml, nullptr},
    {"stream_context_set_params", kContext, nullptr},
    {"stream_context_set_option", kContext, nullptr},
    {"stream_wrapper_register", kStreams, nullptr},
    {"stream_register_wrapper", kStreams, nullptr},
    {"stream_wrapper_unregister", kStreams, nullptr},
    {"stream_wrapper_restore", kStreams, nullptr},
    {"stream_filter_register", kStreams, nullptr},
};

template <size_t I>
void watched_setter(INTERNAL_FUNCTION_PARAMETERS) {
  if (ZEND_NUM_ARGS() > 0) g_group_set[g_setters[I].group] = true;
  g_setters[I].original(INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

// Replaces the handler of internal function `name` by `watcher`, keeping PHP's in `original`
// (which all watched names must share). False when the function is missing or already watched.
bool watch(std::string_view name, zif_handler watcher, zif_handler& original) {
  auto* f = static_cast<zend_function*>(
      zend_hash_str_find_ptr(CG(function_table), name.data(), name.size()));
  if (!f || f->type != ZEND_INTERNAL_FUNCTION || f->internal_function.handler == watcher) {
    return false;
  }
  if (original && original != f->internal_function.handler) return false;
  original = f->internal_function.handler;
  f->internal_function.handler = watcher;
  return true;
}

// "HTTP_X_FORWARDED_FOR" -> "X-Forwarded-For".
std::string header_name(std::string_view cgi_name) {
  std::string out;
  bool upper = true;
  for (char c : cgi_name) {
    if (c == '_') {
      out += '-';
      upper = true;
    } else {
      out += upper ? c : char(std::tolower(static_cast<unsigned char>(c)));
      upper = false;
    }
  }
  return out;
}

void add_request_headers(zval* return_value) {
  FcgiServer* s = bound_server();
  if (!s) return;
  for (const auto& [name, value] : s->params().pairs()) {
    std::string_view n = name;
    if (n.starts_with("HTTP_")) {
      n.remove_prefix(5);
    } else if (n != "CONTENT_TYPE" && n != "CONTENT_LENGTH") {
      continue;
    }
    std::string h = header_name(n);
    add_assoc_stringl_ex(return_value, h.data(), h.size(), value.data(), value.size());
  }
}

// One "Name: value" header line of PHP's list as a name => value pair (as
// apache_response_headers() has them).
void add_response_header(void* data, void* arg) {
  auto* h = static_cast<sapi_header_struct*>(data);
  std::string_view line(h->header, h->header_len);
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (name.empty()) return;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  add_assoc_stringl_ex(static_cast<zval*>(arg), name.data(), name.size(), value.data(),
                       value.size());
}

template <size_t... I>
void watch_setters(std::index_sequence<I...>) {
  (watch(g_setters[I].name, watched_setter<I>, g_setters[I].original), ...);
}

}  // namespace

void set_handle_request_hook(HandleRequestHook hook) {
  g_handle_request = hook;
}

bool worker_mode() {
  return g_handle_request != nullptr;
}

void watch_chdir() {
  watch("chdir", watched_chdir, g_chdir);
  watch("mt_srand", watched_mt_srand, g_mt_srand);
  watch("srand", watched_mt_srand, g_mt_srand);
  watch("date_default_timezone_set", watched_timezone_set, g_timezone_set);
  watch("stream_context_set_default", watched_context_set_default, g_context_set_default);
  watch("stream_context_get_default", watched_context_get_default, g_context_get_default);
  watch_setters(std::make_index_sequence<std::size(g_setters)>());
}

bool take_chdir_called() {
  return std::exchange(g_chdir_called, false);
}

bool take_seed_called() {
  return std::exchange(g_seed_called, false);
}

bool take_timezone_set() {
  return std::exchange(g_timezone_set_called, false);
}

bool take_default_context_touched() {
  bool params = std::exchange(g_group_set[kContext], false);
  return std::exchange(g_default_context_touched, false) || params;
}

bool take_mbstring_set() {
  return std::exchange(g_group_set[kMbstring], false);
}

bool take_libxml_set() {
  return std::exchange(g_group_set[kLibxml], false);
}

bool take_streams_set() {
  return std::exchange(g_group_set[kStreams], false);
}

}  // namespace askr::worker::sapi

using askr::worker::sapi::bound_server;

// Sends the rest of the answer; the script goes on, its output is dropped.
PHP_FUNCTION(fastcgi_finish_request) {
  ZEND_PARSE_PARAMETERS_NONE();
  askr::worker::FcgiServer* s = bound_server();
  if (!s || !s->in_request() || s->finished()) RETURN_FALSE;
  php_output_end_all();
  php_header();
  s->end_output();
  RETURN_TRUE;
}

PHP_FUNCTION(askr_handle_request) {
  zend_fcall_info fci;
  zend_fcall_info_cache fcc;
  ZEND_PARSE_PARAMETERS_START(1, 1)
  Z_PARAM_FUNC(fci, fcc)
  ZEND_PARSE_PARAMETERS_END();
  if (!askr::worker::sapi::g_handle_request) {
    zend_throw_exception(spl_ce_RuntimeException,
                         "askr_handle_request() called while not in worker mode", 0);
    RETURN_THROWS();
  }
  askr::worker::sapi::g_handle_request(&fci, &fcc, return_value);
}

PHP_FUNCTION(getallheaders) {
  ZEND_PARSE_PARAMETERS_NONE();
  array_init(return_value);
  askr::worker::sapi::add_request_headers(return_value);
}

// The headers set so far for the response (header(), setcookie()...), as FrankenPHP's
// frankenphp_response_headers() and Apache's apache_response_headers() give them.
PHP_FUNCTION(apache_response_headers) {
  ZEND_PARSE_PARAMETERS_NONE();
  array_init(return_value);
  zend_llist_apply_with_argument(&SG(sapi_headers).headers, askr::worker::sapi::add_response_header,
                                 return_value);
}

// FrankenPHP's headers_send($status = 200): sends the head now with this status. 103 (Early
// Hints) is an interim head: the final one follows later, with the headers still set. Other 1xx
// statuses have no use here and are not sent. Returns what FrankenPHP returns.
PHP_FUNCTION(headers_send) {
  zend_long status = 200;
  ZEND_PARSE_PARAMETERS_START(0, 1)
  Z_PARAM_OPTIONAL
  Z_PARAM_LONG(status)
  ZEND_PARSE_PARAMETERS_END();
  if (status >= 100 && status < 200) {
    if (status == 103) askr::worker::sapi::send_early_hints();
    RETURN_LONG(SAPI_HEADER_SENT_SUCCESSFULLY);
  }
  SG(sapi_headers).http_response_code = int(status);
  RETURN_LONG(sapi_send_headers());
}

namespace {

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_fastcgi_finish_request, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_askr_handle_request, 0, 1, _IS_BOOL, 0)
ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_getallheaders, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_apache_response_headers, 0, 0,
                                        MAY_BE_ARRAY | MAY_BE_FALSE)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_headers_send, 0, 0, IS_LONG, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, status, IS_LONG, 0, "200")
ZEND_END_ARG_INFO()

}  // namespace

namespace askr::worker::sapi {

// FrankenPHP's functions under their names too, so that its worker scripts run unchanged.
const zend_function_entry kFunctions[] = {
    // clang-format off
    ZEND_FE(fastcgi_finish_request, arginfo_fastcgi_finish_request)
    ZEND_FALIAS(frankenphp_finish_request, fastcgi_finish_request, arginfo_fastcgi_finish_request)
    ZEND_FE(askr_handle_request, arginfo_askr_handle_request)
    ZEND_FALIAS(frankenphp_handle_request, askr_handle_request, arginfo_askr_handle_request)
    ZEND_FE(getallheaders, arginfo_getallheaders)
    ZEND_FALIAS(apache_request_headers, getallheaders, arginfo_getallheaders)
    ZEND_FALIAS(frankenphp_request_headers, getallheaders, arginfo_getallheaders)
    ZEND_FE(apache_response_headers, arginfo_apache_response_headers)
    ZEND_FALIAS(frankenphp_response_headers, apache_response_headers,
                arginfo_apache_response_headers)
    ZEND_FE(headers_send, arginfo_headers_send)
    ZEND_FE_END
    // clang-format on
};

}  // namespace askr::worker::sapi
