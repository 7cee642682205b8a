#include "sapi/cgi_headers.h"

#include <strings.h>

#include <cstdlib>
#include <string>

extern "C" {
#include "http_status_codes.h"
}

namespace askr::worker::sapi {
namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// The code of a "Status: 404 Not Found" line (0 when unreadable).
int status_code_of(std::string_view line) {
  line.remove_prefix(sizeof("Status:") - 1);
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return std::atoi(std::string(line.substr(0, 3)).c_str());
}

void append_line(std::string& out, std::string_view line) {
  out.append(line);
  out.append("\r\n");
}

}  // namespace

std::string_view reason_phrase(int code) {
  for (const http_response_status_code_pair* p = http_status_map; p->code != 0; ++p) {
    if (p->code == code) return p->str;
  }
  return {};
}

std::string cgi_header_block(int code, std::string_view status_line,
                             std::span<const std::string_view> headers) {
  std::string out;
  cgi_header_block(out, code, status_line, headers);
  return out;
}

void cgi_header_block(std::string& out, int code, std::string_view status_line,
                      std::span<const std::string_view> headers) {
  out.clear();
  bool have_status = false;
  size_t space = status_line.find(' ');
  // As php-fpm, a status line naming 200 goes unsaid, as a plain 200 does: a Location after it
  // still means 302, and the reason is the web server's.
  if (code != 200 && starts_with_nocase(status_line, "HTTP/") && space != std::string_view::npos) {
    std::string_view rest = status_line.substr(space);  // " 404 Gone"
    out.append("Status:").append(rest).append("\r\n");
    code = std::atoi(std::string(rest.substr(1, 3)).c_str());
    have_status = true;
  }
  if (!have_status) {
    for (std::string_view h : headers) {
      if (!starts_with_nocase(h, "Status:")) continue;
      append_line(out, h);
      code = status_code_of(h);
      have_status = true;
      break;
    }
  }
  // Like php-fpm, no Status line for a plain 200: a Location alone then means 302 to the web
  // server (RFC 3875 §6.2.3).
  if (!have_status && code != 200) {
    out.append("Status: ").append(std::to_string(code));
    std::string_view reason = reason_phrase(code);
    if (!reason.empty()) out.append(" ").append(reason);
    out.append("\r\n");
  }
  for (std::string_view h : headers) {
    if (h.empty() || starts_with_nocase(h, "Status:")) continue;
    if (code == 304 && starts_with_nocase(h, "Content-Type:")) continue;
    append_line(out, h);
  }
  out.append("\r\n");
}

}  // namespace askr::worker::sapi
