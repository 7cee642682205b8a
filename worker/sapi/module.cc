#include "sapi/module.h"

#include <strings.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "sapi/php_headers.h"

#include "sapi/cgi_headers.h"
#include "sapi/functions.h"
#include "sapi/request.h"
#include "sapi/stray_output.h"

namespace askr::worker::sapi {
namespace {

// The bound request, while its answer may still be written.
FcgiServer* live_server() {
  FcgiServer* s = bound_server();
  return s && s->in_request() && !s->finished() ? s : nullptr;
}

// Note: PHP may leave this function through a longjmp (php_handle_aborted_connection() bails
// out unless ignore_user_abort is set), so nothing here needs destroying when that happens.
// The client went away. Classic mode does what PHP does (the script stops unless
// ignore_user_abort). In worker mode a bailout would unwind askr_handle_request() and end the
// whole worker, so the request carries on with its output dropped and connection_aborted() true.
void client_gone() {
  if (!worker_mode()) return php_handle_aborted_connection();
  PG(connection_status) |= PHP_CONNECTION_ABORTED;
}

size_t ub_write(const char* str, size_t len) {
  FcgiServer* s = bound_server();
  if (!s) {
    stray_output({str, len});
    return len;
  }
  s->write_stdout({str, len});
  if (s->client_gone() && !s->finished()) client_gone();
  return len;
}

void flush(void* server_context) {
  FcgiServer* s = live_server();
  if (!s) return;
  sapi_send_headers();
  if (!s->flush()) client_gone();
}

int send_headers(sapi_headers_struct* headers) {
  FcgiServer* s = live_server();
  if (SG(request_info).no_headers == 1 || !s) return SAPI_HEADER_SENT_SUCCESSFULLY;
  // Kept from one response to the next, with their capacity: no allocation once warm.
  static std::vector<std::string_view> lines;
  static std::string block;
  lines.clear();
  zend_llist_position pos;
  for (auto* h = static_cast<sapi_header_struct*>(zend_llist_get_first_ex(&headers->headers, &pos));
       h; h = static_cast<sapi_header_struct*>(zend_llist_get_next_ex(&headers->headers, &pos))) {
    lines.emplace_back(h->header, h->header_len);
  }
  const char* status_line = headers->http_status_line ? headers->http_status_line : "";
  cgi_header_block(block, headers->http_response_code, status_line, lines);
  s->write_stdout(block);
  if (block.capacity() > 64 * 1024) std::string().swap(block);
  return SAPI_HEADER_SENT_SUCCESSFULLY;
}

}  // namespace

// The head so far with status 103, sent at once; the final head comes later. Not once the final
// head is out (it would land in the body), nor without a request.
void send_early_hints() {
  FcgiServer* s = live_server();
  if (!s || SG(headers_sent) || SG(request_info).no_headers == 1) return;
  std::vector<std::string_view> lines;
  zend_llist_position pos;
  for (auto* h = static_cast<sapi_header_struct*>(
           zend_llist_get_first_ex(&SG(sapi_headers).headers, &pos));
       h; h = static_cast<sapi_header_struct*>(
              zend_llist_get_next_ex(&SG(sapi_headers).headers, &pos))) {
    std::string_view line(h->header, h->header_len);
    // A Status line of the script's is the final response's, not this one's.
    if (line.size() >= 7 && strncasecmp(line.data(), "status:", 7) == 0) continue;
    lines.push_back(line);
  }
  s->write_stdout(cgi_header_block(103, "", lines));
  if (!s->flush()) client_gone();
}

namespace {

size_t read_post(char* buf, size_t len) {
  FcgiServer* s = live_server();
  if (!s) return 0;
  // PHP takes a short read for the end of the body: fill the buffer unless the body ends.
  size_t got = 0;
  while (got < len) {
    size_t n = s->read_stdin(buf + got, len - got);
    if (n == 0) break;
    got += n;
  }
  return got;
}

char* read_cookies() {
  return SG(request_info).cookie_data;
}

void register_variables(zval* track_vars) {
  register_server_variables(track_vars);
}

// Log lines of the current request go to the client as FastCGI STDERR, prefixed like php-fpm's
// ("PHP message: ..."); the web server writes them to its error log. Without a request (or once
// its answer is complete) they go to the process's own log.
void log_message(const char* message, int syslog_type) {
  if (FcgiServer* s = live_server(); s && !s->client_gone()) {
    s->write_stderr(std::string("PHP message: ") + message);
    return;
  }
  log::Level level = syslog_type <= LOG_ERR       ? log::Level::kError
                     : syslog_type == LOG_WARNING ? log::Level::kWarn
                                                  : log::Level::kInfo;
  if (log::enabled(level)) log::write(level, "PHP message: %s", message);
}

// getenv() in PHP sees the request's params first, as under php-fpm.
char* getenv_param(const char* name, size_t len) {
  const std::string* v = bound_param({name, len});
  return v ? const_cast<char*>(v->c_str()) : nullptr;
}

int activate() {
  if (bound_server()) SG(request_info).proto_num = bound_proto_num();
  return SUCCESS;
}

int deactivate() {
  return SUCCESS;
}

}  // namespace

void fill_callbacks(sapi_module_struct& m) {
  m.activate = activate;
  m.deactivate = deactivate;
  m.ub_write = ub_write;
  m.flush = flush;
  m.getenv = getenv_param;
  m.sapi_error = php_error;
  m.send_headers = send_headers;
  m.read_post = read_post;
  m.read_cookies = read_cookies;
  m.register_server_variables = register_variables;
  m.log_message = log_message;
}

}  // namespace askr::worker::sapi
