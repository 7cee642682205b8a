// The CGI response header block a FastCGI responder writes first on STDOUT (RFC 3875 §6):
// "Status: NNN Reason\r\n" (left out for a plain 200), the header lines, "\r\n". Pure text: no
// PHP state.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace askr::worker::sapi {

// Builds the block. The status comes from, in this order: `status_line` when PHP holds one
// (header("HTTP/1.1 404 Gone") gives "Status: 404 Gone"); else the first "Status:" line among
// `headers` (sent as it is; later ones are dropped); else `code` with PHP's reason phrase, except
// that a plain 200 gets no Status line, as from php-fpm. At most one Status line is written. A
// Content-Type line is left out of a 304, as php-fpm does.
std::string cgi_header_block(int code, std::string_view status_line,
                             std::span<const std::string_view> headers);
// The same, into `out` (replacing what it held), so that a caller can reuse its capacity.
void cgi_header_block(std::string& out, int code, std::string_view status_line,
                      std::span<const std::string_view> headers);

// PHP's reason phrase for `code` ("Not Found"), or "" when it has none.
std::string_view reason_phrase(int code);

}  // namespace askr::worker::sapi
