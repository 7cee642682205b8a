#include "sapi/functions.h"

#include <cctype>
#include <string>

#include "ext/spl/spl_exceptions.h"
#include "sapi/module.h"

namespace askr::worker::sapi {
namespace {

HandleRequestHook g_handle_request = nullptr;

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
  for (const auto& [name, value] : s->params().pairs) {
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

}  // namespace

void set_handle_request_hook(HandleRequestHook hook) {
  g_handle_request = hook;
}

bool worker_mode() {
  return g_handle_request != nullptr;
}

}  // namespace askr::worker::sapi

using askr::worker::sapi::bound_server;

// Sends the rest of the answer and END_REQUEST; the script goes on, its output is dropped.
PHP_FUNCTION(fastcgi_finish_request) {
  ZEND_PARSE_PARAMETERS_NONE();
  askr::worker::FcgiServer* s = bound_server();
  if (!s || !s->in_request() || s->finished()) RETURN_FALSE;
  php_output_end_all();
  php_header();
  s->finish(0);
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

namespace {

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_fastcgi_finish_request, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_askr_handle_request, 0, 1, _IS_BOOL, 0)
ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_getallheaders, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

}  // namespace

namespace askr::worker::sapi {

const zend_function_entry kFunctions[] = {
    ZEND_FE(fastcgi_finish_request, arginfo_fastcgi_finish_request)
        ZEND_FE(askr_handle_request, arginfo_askr_handle_request)
            ZEND_FALIAS(frankenphp_handle_request, askr_handle_request, arginfo_askr_handle_request)
                ZEND_FE(getallheaders, arginfo_getallheaders) ZEND_FALIAS(
                    apache_request_headers, getallheaders, arginfo_getallheaders) ZEND_FE_END};

}  // namespace askr::worker::sapi
