// The protocol-neutral request (in the spirit of h2o's h2o_req_t): what the request core and
// the handlers see of a request, whichever protocol (HTTP/1.1 today, HTTP/2 next) and transport
// (plaintext today, TLS next) carried it. The request owns the storage its views point into, so
// it outlives the protocol's receive buffer; the storage keeps its capacity from one request to
// the next, so a reused Request allocates nothing.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/spares.h"

namespace askr::http {

// ASCII case-insensitive equality (header names, coding names and tokens are ASCII).
bool iequals(std::string_view a, std::string_view b);

// True when `host` (a Host field or :authority, port included) is what Askr accepts as one:
// only A-Z a-z 0-9 - . _ ~ : [ ] and pct-encoded octets (a reg-name of unreserved characters
// and escapes, RFC 3986 §3.2.2, or an IP literal), and a name that is there once its port and
// final dot are gone, without an empty label (not ":80", ".", "a..b"). No userinfo or
// sub-delim, so a host built into a Location never leads anywhere else. Escapes are not
// decoded: the host names a site as sent, as nginx's does.
bool valid_host(std::string_view host);

// nginx's $remote_user: the user name of "Authorization: Basic ...", "" when there is none.
std::string remote_user(std::string_view authorization);

// Splits the path-and-query part of a request-target ("/a/b?x=1#f") into the path before '?'
// and the query after it (without the '?'). A "#fragment" is cut off first (RFC 3986 §3.5): it
// names no part of the resource, so "/a#f?g" has no query, as nginx reads it. Both views point
// into `target`.
void split_target(std::string_view target, std::string_view& path, std::string_view& query);

struct Header {
  std::string_view name;   // as sent (case preserved)
  std::string_view value;  // leading and trailing OWS trimmed
};

// Header fields the server itself reads, indexed while the head is parsed so that nobody scans
// the field list for them.
enum class Known : uint8_t {
  kContentType,
  kReferer,
  kUserAgent,
  kCookie,
  kIfMatch,
  kIfNoneMatch,
  kIfModifiedSince,
  kIfRange,
  kRange,
  kAcceptEncoding,
  kAuthorization,
  kIfUnmodifiedSince,
  kCount,
};

// How the request body is framed, as the handler needs to know it.
enum class BodyKind : uint8_t {
  kNone,     // no body
  kLength,   // content_length bytes follow
  kUnknown,  // a body of unknown length (HTTP/1.1 chunked, HTTP/2 DATA without content-length)
};

// What the connection knows about its client. Owned by the connection; valid while the request
// is.
struct ConnInfo {
  const sockaddr* peer = nullptr;
  const sockaddr* local = nullptr;
  bool secure = false;  // TLS: the scheme is https
  // TLS only (nginx's $ssl_protocol, $ssl_cipher, $ssl_server_name, $ssl_session_reused); the
  // views live as long as the connection.
  std::string_view tls_protocol;
  std::string_view tls_cipher;
  std::string_view tls_server_name;
  bool tls_reused = false;
};

class Request {
 public:
  std::string_view method;     // "GET"
  std::string_view scheme;     // "http" or "https"
  std::string_view authority;  // Host (or :authority), port included when sent
  std::string_view target;     // the request-target as sent ("/a/b?x=1")
  std::string_view path;       // target before '?', not decoded
  std::string_view query;      // after '?', without it
  std::string_view protocol;   // "HTTP/1.1", "HTTP/1.0", "HTTP/2.0"
  std::vector<Header> headers;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;  // kLength
  // A Content-Length field came with the request, "0" included (a body of 0 bytes is kNone):
  // PHP's CONTENT_LENGTH is then "0", as nginx's $content_length, not "" as for no field.
  bool length_sent = false;
  bool is_head = false;
  const ConnInfo* conn = nullptr;
  int64_t start_ms = 0;  // when the head was complete (loop clock)

  // The path percent-decoded and normalized once by the request core (see
  // handlers::normalize_path: an encoded slash is kept as handlers::kEncodedSlash); `path_ok`
  // false when it does not normalize (400).
  std::string normalized;
  bool path_ok = false;
  // Set by the request core when it refused the request as bad input (a 400, or a 405 for
  // TRACE): why, a constant string for the protocol's log line; the protocol also counts it.
  const char* refused = nullptr;

  std::string_view known(Known k) const { return known_[size_t(k)]; }
  void set_known(Known k, std::string_view v) { known_[size_t(k)] = v; }
  // Case-insensitive lookup of the first field with this name, or an empty view.
  std::string_view find(std::string_view name) const;
  // The value of the list field `k` (RFC 9110 §5.3), whose name is `name`: known(k), or when
  // the field came on several lines, their values joined with ", " into `joined` (a recipient
  // reads them as one list). The view lives as long as the request and `joined`.
  std::string_view list(Known k, std::string_view name, std::string& joined) const {
    std::string_view first = known(k);
    return first.empty() ? first : lines(first, name, joined);  // one not sent: no call
  }

  // Clears every field; storage keeps its capacity.
  void reset();
  // Copies `bytes` into the request's storage and returns the copy's address; every view the
  // caller then sets must point into storage. One call per request (a second call may move
  // what the first returned).
  const char* adopt(std::string_view bytes);
  // Rebases a view into the original of adopted bytes onto the copy.
  std::string_view rebase(std::string_view v, const char* from, const char* to) const {
    return v.empty() ? v : std::string_view(to + (v.data() - from), v.size());
  }
  // The storage buffer (with its capacity) moves out for a connection going idle and back in
  // for its next request, so an idle connection holds no buffer and a busy one allocates none.
  std::string take_storage() { return std::move(storage_); }
  void give_storage(std::string s) { storage_ = std::move(s); }
  // Exchanges the storage with `s` (HTTP/2 receives a head into a buffer of its own and hands
  // it over whole); every view the caller then sets must point into storage_data().
  void swap_storage(std::string& s) { storage_.swap(s); }
  const char* storage_data() const { return storage_.data(); }
  // For a free list (base::Spares): reset(), keeping buffers of at most `room` bytes in all,
  // none that grew past what a typical request needs.
  void recycle(size_t room);
  size_t kept_bytes() const {
    return storage_.capacity() + normalized.capacity() + headers.capacity() * sizeof(Header);
  }

 private:
  // list() of a field that came: `first` when it came on one line.
  std::string_view lines(std::string_view first, std::string_view name, std::string& joined) const;

  std::string storage_;
  std::array<std::string_view, size_t(Known::kCount)> known_;
};

}  // namespace askr::http
