#include "modes/classic.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sapi/php_headers.h"

#include "sapi/module.h"

namespace askr::worker::modes {
namespace {

void write_answer(int code, const char* body) {
  SG(sapi_headers).http_response_code = code;
  zend_try {
    PHPWRITE(body, strlen(body));
  }
  zend_end_try();
}

// Answers the request itself when its script cannot be run, as php-fpm does: 404 "File not
// found." (403 "Access denied." when permission is missing), and a line on STDERR.
void answer_missing(FcgiServer& server, const char* path) {
  int code = 404;
  const char* body = "File not found.\n";
  int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  int err = path ? errno : ENOENT;
  if (fd >= 0) {
    close(fd);
    err = EISDIR;
  }
  if (err == EACCES) {
    code = 403;
    body = "Access denied.\n";
  }
  if (err == ENOENT || err == ENOTDIR) {
    server.write_stderr("Primary script unknown");
  } else {
    server.write_stderr(std::string("Unable to open primary script: ") + path + " (" +
                        strerror(err) + ")");
  }
  write_answer(code, body);
}

// Whether `path` names a file PHP can open as the primary script.
bool script_exists(const char* path) {
  struct stat st;
  if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  return access(path, R_OK) == 0;
}

// Runs the bound request's script; returns PHP's exit status.
int execute(FcgiServer& server) {
  const char* path = SG(request_info).path_translated;
  if (!script_exists(path)) {
    answer_missing(server, path);
    return 0;
  }
  zend_file_handle file;
  zend_stream_init_filename(&file, path);
  file.primary_script = 1;
  php_execute_script(&file);  // catches the bailout of a fatal error itself
  zend_destroy_file_handle(&file);
  return EG(exit_status);
}

void serve(FcgiServer& server) {
  sapi::bind_request(server);
  int status = 255;
  if (php_request_startup() == SUCCESS) {
    status = execute(server);
  } else {
    LOG_ERROR("PHP request start-up failed");
    SG(sapi_headers).http_response_code = 500;
  }
  php_request_shutdown(nullptr);
  EG(exit_status) = 0;
  sapi::unbind();
  server.release(uint32_t(status));
}

}  // namespace

int run_classic(FcgiServer& server, const Limits& limits) {
  uint64_t served = 0;
  while (!should_exit(limits, served)) {
    FcgiServer::Wait w = server.next_request();
    if (w == FcgiServer::Wait::kStop) break;
    if (w == FcgiServer::Wait::kError) return 1;
    serve(server);
    ++served;
  }
  return 0;
}

}  // namespace askr::worker::modes
