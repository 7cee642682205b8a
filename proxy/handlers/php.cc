#include "handlers/php.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <initializer_list>

#include "handlers/open_beneath.h"
#include "handlers/path.h"
#include "net/listener.h"
#include "shared/base/log.h"
#include "shared/base/poison.h"
#include "shared/base/spares.h"
#include "shared/fastcgi/encoder.h"

namespace askr::handlers {
namespace {

constexpr uint16_t kRequestId = 1;
constexpr size_t kBackendBacklog = 256 * 1024;  // request bytes queued on a backend link
constexpr int kMaxEarlyHints = 8;               // 103 heads passed on per response
constexpr size_t kRetryKeep = 64 * 1024;        // request bytes kept for one retry

// kOther: there, but neither (a FIFO, a socket, a device), which try_files finds as nginx's
// static handler then answers it: 404.
enum class Kind : uint8_t { kMissing, kFile, kDir, kOther };

int64_t now_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Microseconds from `from` to `to`; 0 when `from` was never reached.
uint64_t span_us(int64_t from, int64_t to) {
  return from && to > from ? uint64_t(to - from) : 0;
}

// What `rel` is under `files`; from the loop's cache when it was looked up this second.
Kind probe(const StaticSite& files, std::string_view rel, FileCache* cache) {
  if (cache) {
    if (int k = cache->find_kind(files.id, rel); k >= 0) return Kind(k);
  }
  Kind k = Kind::kMissing;
  int fd = open_beneath(files.root_fd, rel, files.symlinks, O_PATH);
  log_refused_link(files, rel, fd);
  if (fd >= 0) {
    struct stat st;
    if (fstat(fd, &st) == 0)
      k = S_ISREG(st.st_mode) ? Kind::kFile : S_ISDIR(st.st_mode) ? Kind::kDir : Kind::kOther;
    ::close(fd);
  }
  if (cache) cache->put_kind(files.id, rel, uint8_t(k));
  return k;
}

bool ends_with_php(std::string_view p) {
  return p.size() > 5 && p.ends_with(".php") && p[p.size() - 5] != '/';
}

// ends_with_php("/" + index), without building that string.
bool index_is_php(std::string_view index) {
  return index.size() >= 5 && index.ends_with(".php") && index[index.size() - 5] != '/';
}

// The script whose request path is `name`, found at `rel` under `files`.
void set_script(const StaticSite& files, std::string_view name, std::string_view rel,
                std::string_view info, PhpScript& out) {
  out.name.assign(name);
  files.filename(rel, out.filename);
  out.document_root = files.root;
  out.path_info.assign(info);
}

// The script `name` (a request path), when it is a regular file under `files`.
bool find_script(const StaticSite& files, std::string_view name, std::string_view info,
                 PhpScript& out, FileCache* cache) {
  std::optional<std::string_view> rel = files.relative(name);
  if (!rel || probe(files, *rel, cache) != Kind::kFile) return false;
  set_script(files, name, *rel, info, out);
  return true;
}

// Where the first ".php/" at or after `from` in `path` ends a name ("/.php/" does not), or npos.
size_t next_split(std::string_view path, size_t from) {
  for (size_t at = path.find(".php/", from); at != std::string_view::npos;
       at = path.find(".php/", at + 1)) {
    if (at > 0 && path[at - 1] != '/') return at;
  }
  return std::string_view::npos;
}

// A path with ".php/" in it (the first at `split`) runs the first script it names, the rest
// being PATH_INFO: nginx's fastcgi_split_path_info ^(.+?\.php)(/.*)$ with try_files
// $fastcgi_script_name =404 (Debian's snippets/fastcgi-php.conf). A directory named so is passed
// over, so that the script beneath it runs, as the greedy ^(.+\.php)(/.*)$ finds it; beneath a
// name that is missing (or a file of another kind) nothing exists, and the search ends.
PhpMatch split_path_info(const StaticSite& files, std::string_view path, size_t split,
                         PhpScript& out, FileCache* cache) {
  for (; split != std::string_view::npos; split = next_split(path, split + 5)) {
    std::string_view script = path.substr(0, split + 4);
    std::optional<std::string_view> rel = files.relative(script);
    Kind kind = rel ? probe(files, *rel, cache) : Kind::kMissing;
    if (kind == Kind::kFile) {
      // An encoded slash is a '/' in PATH_INFO, as nginx gives it; a ".." that it makes climb
      // into the script's own path names nothing.
      set_script(files, script, *rel, "", out);
      return decode_slashes(path.substr(split + 4), out.path_info) == PathError::kNone
                 ? PhpMatch::kScript
                 : PhpMatch::kNotFound;
    }
    if (kind != Kind::kDir) return PhpMatch::kNotFound;
  }
  // Directories all the way: the path itself may name a script.
  if (!ends_with_php(path)) return PhpMatch::kNotFound;
  return find_script(files, path, "", out, cache) ? PhpMatch::kScript : PhpMatch::kNotFound;
}

// The front controller `fc` when there is one and it is a file; else `otherwise`, so that a
// missing one is answered like a missing file (as nginx's try_files answers it), never sent to
// PHP to fail there ("Primary script unknown").
PhpMatch front_or(PhpMatch otherwise, const StaticSite& site_files, std::string_view fc,
                  PhpScript& out, FileCache* cache) {
  if (fc.empty()) return otherwise;
  if (probe(site_files, fc, cache) != Kind::kFile) {
    LOG_LIMITED(kWarn, "%.*s/%.*s: front_controller is not a file", int(site_files.root.size()),
                site_files.root.data(), int(fc.size()), fc.data());
    return otherwise;
  }
  out.name = "/";
  out.name += fc;
  site_files.filename(fc, out.filename);
  out.document_root = site_files.root;
  out.path_info.clear();
  return PhpMatch::kScript;
}

// What each byte of a field name becomes in its CGI name: upper case, '-' as '_', and 0 for a
// byte PHP would rewrite into a name the field was not sent as: PHP turns '.', ' ' and other
// bytes into '_' in $_SERVER keys, so "X.Forwarded-For" would pose as X-Forwarded-For. Only
// letters, digits and '-' pass (nginx's ignore_invalid_headers; '_' is refused like nginx's
// underscores_in_headers off).
constexpr std::array<char, 256> kCgiChars = [] {
  std::array<char, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[size_t(c)] = char(c - 'a' + 'A');
  for (int c = 'A'; c <= 'Z'; ++c) t[size_t(c)] = char(c);
  for (int c = '0'; c <= '9'; ++c) t[size_t(c)] = char(c);
  t['-'] = '_';
  return t;
}();

// "HTTP_" + upper-cased name with '-' as '_', in one pass that also judges the name: false for
// a name that is not passed to PHP (empty, or with a byte other than a letter, digit or '-').
bool cgi_name(std::string& out, std::string_view header) {
  constexpr std::string_view kPrefix = "HTTP_";
  out.resize(kPrefix.size() + header.size());
  char* p = std::copy(kPrefix.begin(), kPrefix.end(), out.data());
  bool refused = header.empty();
  for (char c : header) {
    const char cgi = kCgiChars[uint8_t(c)];
    refused |= cgi == 0;
    *p++ = cgi;
  }
  return !refused;
}

// Whether an Upgrade value names h2c among its protocols.
bool names_h2c(std::string_view value) {
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = std::min(value.find(',', pos), value.size());
    std::string_view token = value.substr(pos, comma - pos);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (http::iequals(token, "h2c")) return true;
    pos = comma + 1;
  }
  return false;
}

// Request headers as HTTP_* params. Repeated fields are joined (", ", or "; " for Cookie);
// names that are not forwardable are dropped and counted, and Proxy never passes (httpoxy).
void add_header_params(fastcgi::ParamsWriter& w, const http::Request& req, uint64_t& dropped) {
  // Scratch strings of this loop's thread: their capacity is reused from request to request.
  thread_local std::string name, joined;
  const auto& hs = req.headers;
  for (size_t i = 0; i < hs.size(); ++i) {
    std::string_view n = hs[i].name;
    if (!cgi_name(name, n)) {
      ++dropped;
      LOG_DEBUG("request header \"%.*s\" not passed to PHP: only letters, digits and '-'",
                int(std::min<size_t>(n.size(), 64)), n.data());
      continue;
    }
    if (http::iequals(n, "proxy")) continue;
    // An HTTP/1.1 request to switch to HTTP/2 (RFC 7540 §3.2) is not acted on, and PHP never
    // sees it: h2c is spoken with prior knowledge only.
    if (http::iequals(n, "http2-settings")) continue;
    if (http::iequals(n, "upgrade") && names_h2c(hs[i].value)) continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = http::iequals(hs[j].name, n);
    if (seen) continue;
    size_t next = i + 1;
    while (next < hs.size() && !http::iequals(hs[next].name, n)) ++next;
    if (next == hs.size()) {  // the usual case: a field sent once, passed without a copy
      w.add(name, hs[i].value);
      continue;
    }
    joined.assign(hs[i].value);
    const char* sep = http::iequals(n, "cookie") ? "; " : ", ";
    for (size_t j = next; j < hs.size(); ++j) {
      if (http::iequals(hs[j].name, n)) joined.append(sep).append(hs[j].value);
    }
    w.add(name, joined);
  }
}

std::string_view port_text(uint16_t port, char (&buf)[24]) {
  return {buf, size_t(std::to_chars(buf, buf + sizeof buf, port).ptr - buf)};
}

// An address's host and port as text (net::format_host, port_text), kept for the last address
// given: the next request of a kept connection, every request to one listener (SERVER_ADDR),
// and the clients behind one proxy bring the same address again, and find its text made. The
// views stay valid until the next call.
class AddressText {
 public:
  void get(const sockaddr* sa, std::string_view& host, std::string_view& port) {
    if (!sa) {
      host = {};
      port = "0";  // port_text(0, ...)
      return;
    }
    const size_t n = sa->sa_family == AF_INET    ? sizeof(sockaddr_in)
                     : sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                 : 0;
    if (n == 0 || n != key_size_ || !same_key(sa)) {
      host_ = net::format_host(sa, host_buf_);
      port_ = port_text(net::address_port(sa), port_buf_);
      key_size_ = n;  // an address of another family is never kept
      if (n) std::memcpy(&key_, sa, n);
    }
    host = host_;
    port = port_;
  }

 private:
  // The whole sockaddr is compared, padding and IPv6 flow label included: bytes that make no
  // difference to the text only cost a new one when they differ.
  bool same_key(const sockaddr* sa) const {
    return key_size_ == sizeof(sockaddr_in) ? std::memcmp(&key_, sa, sizeof(sockaddr_in)) == 0
                                            : std::memcmp(&key_, sa, sizeof(sockaddr_in6)) == 0;
  }

  sockaddr_in6 key_{};   // large enough for either family
  size_t key_size_ = 0;  // 0: nothing kept
  char host_buf_[net::kHostTextMax], port_buf_[24];
  std::string_view host_, port_;
};

// About the size of the request's records with no body (params of fixed size, the header
// fields, the script's names, records' headers), so that they are built in one buffer.
size_t request_size_hint(const http::Request& req, const PhpScript& script) {
  size_t n = 1024 + 2 * req.target.size() + 3 * script.filename.size() + 2 * script.name.size();
  for (const auto& h : req.headers) n += h.name.size() + h.value.size() + 16;
  return n;
}

bool hop_by_hop(std::string_view name) {
  switch (name.size()) {  // one comparison at most, for any name
    case 2:
      return http::iequals(name, "te");
    case 7:
      return http::iequals(name, "trailer") || http::iequals(name, "upgrade");
    case 10:
      return http::iequals(name, "connection") || http::iequals(name, "keep-alive");
    case 16:
      return http::iequals(name, "proxy-connection");
    case 17:
      return http::iequals(name, "transfer-encoding");
    default:
      return false;
  }
}

// X-Accel-* (X-Accel-Redirect, -Buffering, -Expires, -Limit-Rate, -Charset) are instructions to
// the web server in front of PHP, never meant for the client: nginx hides them all by default
// (fastcgi_hide_header), so an internal path in X-Accel-Redirect is never shown.
bool to_the_server(std::string_view name) {
  constexpr std::string_view kAccel = "x-accel-";
  return name.size() > kAccel.size() && http::iequals(name.substr(0, kAccel.size()), kAccel);
}

}  // namespace

PhpMatch match_php(const StaticSite& files, const StaticSite& site_files, std::string_view fc,
                   std::string_view path, PhpScript& out, FileCache* cache) {
  if (size_t split = next_split(path, 0); split != std::string_view::npos) {
    return split_path_info(files, path, split, out, cache);
  }
  if (ends_with_php(path)) {
    return find_script(files, path, "", out, cache) ? PhpMatch::kScript : PhpMatch::kNotFound;
  }
  std::optional<std::string_view> rel = files.relative(path);
  // An encoded slash names no file: the path is missing, whatever a real '/' there would name.
  if (!rel) return front_or(PhpMatch::kStatic, site_files, fc, out, cache);
  if (path.back() == '/') {
    // Scratch of this loop's thread: its capacity is reused from request to request.
    thread_local std::string candidate;
    for (const std::string& index : *files.index) {
      candidate.assign(*rel).append(index);
      const Kind kind = probe(files, candidate, cache);
      if (kind == Kind::kMissing) continue;
      // nginx's index module redirects to the first name that exists, file or not: anything but
      // a script is the static handler's (a directory there is redirected to with its slash),
      // and a directory named like a script fails try_files $fastcgi_script_name =404.
      if (!index_is_php(index)) return PhpMatch::kStatic;
      if (kind != Kind::kFile) return PhpMatch::kNotFound;
      set_script(files, path, candidate, "", out);
      out.name.append(index);
      return PhpMatch::kScript;
    }
    // A directory without an index file runs the front controller, as FrankenPHP's php_server
    // and Symfony's nginx config (try_files $uri /index.php) run it: with the default index, a
    // site's "/" reaches its app. (nginx's try_files $uri $uri/ would answer 403.)
    return front_or(PhpMatch::kStatic, site_files, fc, out, cache);
  }
  if (probe(files, *rel, cache) != Kind::kMissing) return PhpMatch::kStatic;
  return front_or(PhpMatch::kStatic, site_files, fc, out, cache);
}

// Pieces of text copied end to end into one buffer, for a log line that may never be written:
// one copy each, no separator, no allocation once the buffer has grown.
struct PhpRequest::Context {
  static constexpr size_t kParts = 5;  // client, method, target, protocol, host
  std::string bytes;
  size_t ends[kParts] = {};

  void keep(std::initializer_list<std::string_view> parts) {
    size_t n = 0;
    for (std::string_view p : parts) n += p.size();
    bytes.resize(n);
    size_t at = 0, i = 0;
    for (std::string_view p : parts) {
      if (!p.empty()) std::memcpy(bytes.data() + at, p.data(), p.size());
      ends[i++] = at += p.size();
    }
  }
  std::string_view part(size_t i) const {
    size_t from = i ? ends[i - 1] : 0;
    return std::string_view(bytes).substr(from, ends[i] - from);
  }
};

// What a PhpRequest keeps of one request's buffers for the next, per loop thread
// (base::Spares).
struct PhpRequest::Buffers {
  static constexpr size_t kMaxKept = 64 * 1024;  // per buffer; a larger one is freed
  fastcgi::CgiResponseParser cgi;
  std::string pending, sent;
  std::vector<http::Response::Field> fields;
  PhpScript script;
  // DOCUMENT_ROOT: a copy, as a reload may free the router whose path the request was given.
  std::string document_root;
  Context context;  // for describe()

  void recycle(size_t room) {
    cgi.reset();
    if (size_t k = cgi.kept_bytes(); k <= room) {
      room -= k;
    } else {
      cgi.drop_kept();
    }
    base::keep_or_free(pending, kMaxKept, room);
    base::keep_or_free(sent, kMaxKept, room);
    base::keep_or_free(fields, kMaxKept, room);
    base::keep_or_free(script.filename, kMaxKept, room);
    base::keep_or_free(script.name, kMaxKept, room);
    base::keep_or_free(script.path_info, kMaxKept, room);
    base::keep_or_free(context.bytes, kMaxKept, room);
    script.document_root = {};
  }
  size_t kept_bytes() const {
    return cgi.kept_bytes() + pending.capacity() + sent.capacity() +
           fields.capacity() * sizeof(fields[0]) + script.filename.capacity() +
           script.name.capacity() + script.path_info.capacity() + context.bytes.capacity();
  }
};

namespace {

base::Spares<PhpRequest::Buffers>& buffer_spares() {
  thread_local base::Spares<PhpRequest::Buffers> s(1024, 8 << 20);
  return s;
}

}  // namespace

PhpRequest::PhpRequest(backend::PoolClient& pool, http::ResponseSink& sink,
                       http::BodyProducer& body_source, const PhpLimits& limits,
                       const http::Request& req, const PhpScript& script, ClientInfo client)
    : pool_(pool),
      sink_(sink),
      body_source_(body_source),
      limits_(limits),
      req_(&req),
      client_(client),
      bufs_(buffer_spares().get()),
      script_(bufs_->script),
      cgi_(bufs_->cgi),
      pending_(bufs_->pending),
      sent_(bufs_->sent),
      fields_(bufs_->fields) {
  cgi_.set_max_head_size(pool.cfg().response_header_size);
  script_.filename.assign(script.filename);
  script_.name.assign(script.name);
  script_.path_info.assign(script.path_info);
  bufs_->document_root.assign(script.document_root);
  script_.document_root = client_.document_root = bufs_->document_root;
}

PhpRequest::~PhpRequest() {
  abandon();
  if (spill_fd_ >= 0) ::close(spill_fd_);
  buffer_spares().put(std::move(bufs_));
}

void PhpRequest::start() {
  start_us_ = now_us();
  sink_.set_producer(this);
  begin();
  req_ = nullptr;
}

uint64_t PhpRequest::splice_threshold() const {
  return pool_.cfg().splice_threshold;
}

void PhpRequest::begin() {
  const http::Request& req = *req_;
  const PhpScript& script = script_;
  const ClientInfo& c = client_;
  const http::ConnInfo* conn = req.conn;
  bool https = conn && conn->secure;
  is_head_ = req.is_head;
  if (req.body == http::BodyKind::kUnknown) mode_ = BodyMode::kCollect;
  if (req.body == http::BodyKind::kLength && req.content_length > 0) mode_ = BodyMode::kStream;
  std::string& out = mode_ == BodyMode::kCollect ? params_ : pending_;
  out.reserve(request_size_hint(req, script));  // built with one allocation, not a doubling series
  fastcgi::begin_request(out, kRequestId, fastcgi::Role::kResponder, pool_.keeps_connections());
  fastcgi::ParamsWriter w(out, kRequestId);
  char num[24];
  // REQUEST_URI: the target as sent; for an absolute-form target, its path and query.
  std::string absolute_uri;
  std::string_view uri = req.target;
  if (!req.target.starts_with("/")) {
    absolute_uri.assign(req.path);
    if (!req.query.empty()) absolute_uri.append("?").append(req.query);
    uri = absolute_uri;
  }
  w.add("SCRIPT_FILENAME", script.filename);
  w.add("QUERY_STRING", req.query);
  w.add("REQUEST_METHOD", req.method);
  w.add("CONTENT_TYPE", req.known(http::Known::kContentType));
  if (mode_ == BodyMode::kStream) {
    auto [end, ec] = std::to_chars(num, num + sizeof num, req.content_length);
    w.add("CONTENT_LENGTH", std::string_view(num, size_t(end - num)));
  } else if (mode_ == BodyMode::kNone) {
    w.add("CONTENT_LENGTH", req.length_sent ? "0" : "");
  }
  w.add("SCRIPT_NAME", script.name);
  w.add("PATH_INFO", script.path_info);
  w.add("REQUEST_URI", uri);
  // nginx's $uri once try_files $fastcgi_script_name has matched: the script, without PATH_INFO.
  w.add("DOCUMENT_URI", script.name);
  w.add("DOCUMENT_ROOT", c.document_root);
  w.add("SERVER_PROTOCOL", req.protocol);
  w.add("REQUEST_SCHEME", req.scheme);
  if (https) {
    // nginx's fastcgi_params names: what PHP apps read to know the request is secure.
    w.add("HTTPS", "on");
    w.add("SSL_PROTOCOL", conn->tls_protocol);
    w.add("SSL_CIPHER", conn->tls_cipher);
    w.add("SSL_SERVER_NAME", conn->tls_server_name);
    w.add("SSL_SESSION_REUSED", conn->tls_reused ? "r" : ".");
  }
  w.add("GATEWAY_INTERFACE", "CGI/1.1");
  // Apps that look for "nginx" here to know that the server rewrites URLs for them (WordPress
  // offers pretty permalinks only then) find it: the front controller is nginx's try_files.
  w.add("SERVER_SOFTWARE", "askr/" ASKR_VERSION " (nginx-compatible)");
  const sockaddr* peer_sa = conn ? conn->peer : nullptr;
  const sockaddr* local_sa = conn ? conn->local : nullptr;
  // One kept text per side of the connection, so that neither replaces the other's.
  thread_local AddressText peer_text, local_text;
  std::string_view client, client_port, server, server_port;
  peer_text.get(peer_sa, client, client_port);
  local_text.get(local_sa, server, server_port);
  w.add("REMOTE_ADDR", client);
  w.add("REMOTE_PORT", client_port);
  w.add("REMOTE_USER", http::remote_user(req.known(http::Known::kAuthorization)));
  w.add("SERVER_ADDR", server);
  w.add("SERVER_PORT", server_port);
  w.add("SERVER_NAME", c.server_name);
  w.add("REDIRECT_STATUS", "200");
  add_header_params(w, req, pool_.counters().dropped_headers);
  // Askr's own workers: the response ends with STDOUT, their END_REQUEST says they are free.
  if (pool_.slots()) w.add(fastcgi::kStdoutEndsResponse, "1");
  w.finish();
  bufs_->context.keep({client, req.method, uri, req.protocol, req.authority});
  if (!w.split_name().empty() && !pool_.slots()) return refuse_split_param(w.split_name());
  if (mode_ == BodyMode::kCollect) return;  // CONTENT_LENGTH is known once the body is in
  fastcgi::end_params(pending_, kRequestId);
  if (mode_ == BodyMode::kNone) {
    fastcgi::end_stream(pending_, fastcgi::RecordType::kStdin, kRequestId);
    request_complete();
  }
  queue_us_ = now_us();
  pool_.acquire(this);
}

// A param larger than a FastCGI record (65,535 bytes) was split across PARAMS records, as the
// protocol allows and Askr's workers read it; php-fpm parses each record on its own and drops
// the connection, unanswered, when a pair goes on in the next. So the request is not sent: a
// header field that large is answered 431, anything else (the URI's parts) 414. nginx refuses it
// too ("fastcgi request record is too big", 500).
void PhpRequest::refuse_split_param(std::string_view name) {
  std::string where;
  describe(where);
  LOG_LIMITED(kError,
              "pool %s: request param %.*s is larger than a FastCGI record (65535 bytes), which "
              "php-fpm cannot read; not sent%s",
              pool_.cfg().name.c_str(), int(name.size()), name.data(), where.c_str());
  fail(name.starts_with("HTTP_") ? 431 : 414);
}

// nginx's context for what PHP wrote to stderr (the client's address, the request line, the
// host the client named), written when the request began: the request is not ours after that.
void PhpRequest::describe(std::string& line) const {
  const Context& c = bufs_->context;
  line.append(", client: ").append(c.part(0)).append(", request: \"").append(c.part(1));
  line.append(" ").append(c.part(2)).append(" ").append(c.part(3)).append("\"");
  if (!c.part(4).empty()) line.append(", host: \"").append(c.part(4)).append("\"");
}

void PhpRequest::send(std::string_view bytes) {
  if (retry_ok_) {
    // Before a link is attached, pending_ holds all that was sent (on_link keeps it in sent_).
    const std::string& kept = attached_ ? sent_ : pending_;
    if (kept.size() + bytes.size() <= kRetryKeep) {
      if (attached_) sent_.append(bytes);
    } else {
      retry_ok_ = false;
      std::string().swap(sent_);
    }
  }
  if (link_) {
    link_->write(bytes);
  } else {
    pending_.append(bytes);
  }
}

void PhpRequest::send_stdin(std::string_view data) {
  if (link_ && !retry_ok_) {  // nothing kept for a retry: straight into the link's queue
    link_->write_stream(fastcgi::RecordType::kStdin, kRequestId, data);
    return;
  }
  std::string rec;
  // Its whole size at once (a header and at most 7 bytes of padding per record): a large piece
  // of body is copied once, not again at each doubling of the buffer.
  rec.reserve(data.size() + (data.size() / fastcgi::kMaxAlignedContentLength + 1) * 16);
  fastcgi::stream(rec, fastcgi::RecordType::kStdin, kRequestId, data);
  send(rec);
}

bool PhpRequest::body(std::string_view data) {
  if (finished_) return true;  // the answer is in; what still comes is dropped
  if (mode_ == BodyMode::kCollect) return spill(data);
  send_stdin(data);
  // Without a backend connection (queued for a worker, or being retried) nothing reads the
  // body: the rest waits with the protocol (an HTTP/2 stream's preread window, the client's
  // socket), not here, so queued requests hold little; on_link_drained asks for it.
  if (link_ && link_->buffered() < kBackendBacklog) return true;
  body_paused_ = true;
  return false;
}

// Collects a chunked body: in memory up to body_buffer_size, then in an unnamed temp file.
bool PhpRequest::spill(std::string_view data) {
  collected_bytes_ += data.size();
  if (spill_fd_ < 0 && collected_.size() + data.size() <= limits_.body_buffer_size) {
    collected_.append(data);
    return true;
  }
  if (spill_fd_ < 0) {
    spill_fd_ = ::open(limits_.temp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (spill_fd_ < 0) {
      LOG_LIMITED(kError, "cannot buffer a request body in %s: %s", limits_.temp_dir.c_str(),
                  strerror(errno));
      fail(500);
      return true;
    }
    data = std::string_view(collected_.append(data));
  }
  while (!data.empty()) {
    ssize_t n = ::write(spill_fd_, data.data(), data.size());
    if (n <= 0) {
      LOG_LIMITED(kError, "writing a request body to %s: %s", limits_.temp_dir.c_str(),
                  strerror(errno));
      fail(500);
      return true;
    }
    data.remove_prefix(size_t(n));
  }
  std::string().swap(collected_);
  return true;
}

void PhpRequest::end_body() {
  body_done_ = true;
  if (finished_) return;
  if (mode_ == BodyMode::kStream) {
    std::string rec;
    fastcgi::end_stream(rec, fastcgi::RecordType::kStdin, kRequestId);
    send(rec);
    return request_complete();
  }
  if (mode_ != BodyMode::kCollect) return;
  {
    fastcgi::ParamsWriter w(params_, kRequestId);
    w.add("CONTENT_LENGTH", std::to_string(collected_bytes_));
    w.finish();
  }
  fastcgi::end_params(params_, kRequestId);
  send(params_);
  std::string().swap(params_);
  if (spill_fd_ < 0) {
    if (!collected_.empty()) send_stdin(collected_);
    std::string rec;
    fastcgi::end_stream(rec, fastcgi::RecordType::kStdin, kRequestId);
    send(rec);
    std::string().swap(collected_);
    request_complete();
  } else {
    retry_ok_ = false;  // the file goes out piece by piece once a link is attached
  }
  queue_us_ = now_us();
  pool_.acquire(this);
}

// Sends the next part of a spilled body; called again whenever the link drains.
void PhpRequest::send_collected() {
  if (spill_fd_ < 0 || !link_) return;
  char buf[65536];
  while (spill_sent_ < collected_bytes_ && link_->buffered() < kBackendBacklog) {
    ssize_t n = pread(spill_fd_, buf, sizeof buf, off_t(spill_sent_));
    if (n <= 0) {
      LOG_LIMITED(kError, "reading a buffered request body: %s",
                  n < 0 ? strerror(errno) : "short file");
      return on_failure(500, "request body buffer");
    }
    spill_sent_ += uint64_t(n);
    send_stdin({buf, size_t(n)});
  }
  if (spill_sent_ < collected_bytes_) return;
  std::string rec;
  fastcgi::end_stream(rec, fastcgi::RecordType::kStdin, kRequestId);
  send(rec);
  ::close(spill_fd_);
  spill_fd_ = -1;
  request_complete();
}

void PhpRequest::request_complete() {
  request_complete_ = true;
  if (link_) php_started();
}

void PhpRequest::php_started() {
  if (!php_us_) php_us_ = now_us();
  if (!link_) return;
  link_->start_request_clock();
  if (!pool_.keeps_connections()) link_->shut_write_when_sent();
}

void PhpRequest::end_timing() {
  if (timed_ || !start_us_) return;
  timed_ = true;
  int64_t end = now_us();
  if (paused_us_) client_wait_us_ += span_us(paused_us_, end);
  timing_.total_us = span_us(start_us_, end);
  timing_.queued_us = span_us(queue_us_, link_us_ ? link_us_ : end);
  uint64_t php = span_us(php_us_, end);
  timing_.php_us = php - std::min(php, client_wait_us_);
  timing_.io_us = timing_.total_us - std::min(timing_.total_us, timing_.queued_us + timing_.php_us);
  backend::PoolCounters& c = pool_.counters();
  ++c.timed_requests;
  c.queued_us += timing_.queued_us;
  c.php_us += timing_.php_us;
  c.io_us += timing_.io_us;
}

void PhpRequest::on_link(backend::FcgiLink* link) {
  bool retry = attached_;
  attached_ = true;
  link_ = link;
  // While the request waited for a worker, its body was not read, and neither was the client's
  // close: a body that can no longer come whole would reach PHP cut short (nginx, which reads a
  // body before it asks php-fpm, never runs such a request). Nothing went to the link yet.
  if (!retry && mode_ == BodyMode::kStream && !body_done_ && body_source_.body_cut_short()) {
    ++pool_.counters().cut_bodies;
    LOG_LIMITED(kInfo,
                "pool %s: %s: the client left while the request waited for a worker, with its "
                "body cut short; not run",
                pool_.cfg().name.c_str(), script_.name.c_str());
    return fail(400);
  }
  if (!link_us_) link_us_ = now_us();
  if (retry) {
    link->write(sent_);
  } else if (!pending_.empty()) {
    link->write(pending_);
    if (retry_ok_) sent_.swap(pending_);  // kept for a retry: moved, not copied
    pending_.clear();
  }
  send_collected();
  if (request_complete_) php_started();
  try_splice();
}

void PhpRequest::splice_rest(SpliceSource& source, uint64_t length) {
  auto s = backend::StdinSplice::create(length, kRequestId);
  if (!s) {
    LOG_LIMITED(kError, "request body splice: %s", s.error().message.c_str());
    return fail(500);
  }
  splice_ = std::move(*s);
  splice_source_ = &source;
  retry_ok_ = false;
  std::string().swap(sent_);
  try_splice();
}

void PhpRequest::on_client_readable() {
  try_splice();
}
void PhpRequest::on_link_writable() {
  try_splice();
}

// Moves spliced body bytes once the records written before them are out.
void PhpRequest::try_splice() {
  if (!splice_ || finished_ || !link_ || !link_->is_connected() || !link_->write_idle()) return;
  backend::StdinSplice::Status st = splice_->step(splice_source_->splice_fd(), link_->fd);
  switch (st) {
    case backend::StdinSplice::Status::kDone:
      splice_.reset();
      return splice_source_->on_splice_done();
    case backend::StdinSplice::Status::kWaitRead:
      splice_source_->on_splice_progress();
      link_->waiting_on_client();  // the client's timers cover this wait, not the backend's
      return splice_source_->wait_client_readable();
    case backend::StdinSplice::Status::kWaitWrite:
      splice_source_->on_splice_progress();
      return link_->wait_writable();
    case backend::StdinSplice::Status::kError:
      LOG_LIMITED(kInfo, "request body: %s", splice_->error());
      splice_.reset();
      return fail(400);
  }
}

void PhpRequest::on_link_drained() {
  if (splice_) try_splice();
  if (spill_fd_ >= 0) send_collected();
  if (body_paused_ && link_ && link_->buffered() < kBackendBacklog) {
    body_paused_ = false;
    body_source_.on_sink_drained();
  }
}

// Lines without a colon (PHP's header('Invalid')) and fields no client may be sent (a name that
// is not a token, a control character in a value) were dropped from the head: as nginx passes
// such a page on, it is passed on without them, and the script's author learns of it from the
// log.
void PhpRequest::note_skipped_lines() {
  size_t lines = cgi_.skipped_lines(), fields = cgi_.skipped_fields();
  if (lines + fields == 0) return;
  pool_.counters().skipped_response_lines += lines + fields;
  if (lines) {
    LOG_LIMITED(kWarn, "pool %s: %s sent %zu response header line(s) without a colon; skipped",
                pool_.cfg().name.c_str(), script_.name.c_str(), lines);
  }
  if (fields) {
    LOG_LIMITED(kWarn,
                "pool %s: %s sent %zu response header field(s) with a name that is not a token "
                "or a control character in the value; skipped",
                pool_.cfg().name.c_str(), script_.name.c_str(), fields);
  }
}

// A head with Status 103 (PHP's headers_send(103) in Askr's workers) is Early Hints: passed on
// to the client as an interim response, and the final head follows it on STDOUT. A backend
// sending more than kMaxEarlyHints of them has the rest dropped.
void PhpRequest::send_early_hints() {
  if (++early_hints_ > kMaxEarlyHints) {
    LOG_LIMITED(kWarn, "pool %s: %s sent more than %d Early Hints heads; dropped",
                pool_.cfg().name.c_str(), script_.name.c_str(), kMaxEarlyHints);
    return;
  }
  fields_.clear();
  for (const fastcgi::CgiHeader& h : cgi_.headers()) {
    if (!hop_by_hop(h.name) && !to_the_server(h.name) && !http::iequals(h.name, "content-length")) {
      fields_.push_back({h.name, h.value});
    }
  }
  sink_.interim_response(103, fields_);
}

// Passes the CGI header block on as the response head. Another 1xx status is not a final
// response: that is a bad response, 502.
bool PhpRequest::start_response() {
  int status = cgi_.status();
  if (status < 200) {
    LOG_LIMITED(kError, "pool %s: backend sent status %d as its response, answered 502",
                pool_.cfg().name.c_str(), status);
    ++pool_.counters().bad_responses;
    fail(502);
    return false;
  }
  fields_.clear();
  fields_.reserve(cgi_.headers().size());
  for (const fastcgi::CgiHeader& h : cgi_.headers()) {
    if (hop_by_hop(h.name)) continue;
    if (to_the_server(h.name)) {
      if (http::iequals(h.name, "x-accel-redirect")) {
        LOG_LIMITED(kWarn,
                    "pool %s: %s sent X-Accel-Redirect, which Askr does not act on: the field is "
                    "not passed to the client, the response goes as PHP sent it",
                    pool_.cfg().name.c_str(), script_.name.c_str());
      }
      continue;
    }
    if (http::iequals(h.name, "content-length")) {
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), v);
      if (ec == std::errc() && end == h.value.data() + h.value.size()) length_ = v;
      continue;
    }
    // header('Content-Type:') asks for none, and PHP writes it empty: left out, as nginx leaves
    // it out, rather than sent as an empty media type.
    if (h.value.empty() && http::iequals(h.name, "content-type")) continue;
    fields_.push_back({h.name, h.value});
  }
  // A 205 has no content (RFC 9110 §15.3.6), and unlike 204 its framing is not implied by its
  // status: it goes with Content-Length: 0, and what PHP writes after the head is dropped.
  no_content_ = status == 205;
  if (no_content_) length_ = 0;
  head_sent_ = true;
  sink_.start_response(status, cgi_.reason(), fields_, length_);
  // The body is held to the declared length only where one is sent (HEAD keeps the header).
  if (is_head_ || status == 204 || status == 304) length_.reset();
  // Gated on the declared length alone: it is known before the first body byte, and a body
  // that large is worth the pipe and the extra system calls however PHP cuts it into records.
  // A chunked response (no Content-Length) is never spliced: each piece would need its own
  // chunk-size line.
  uint64_t threshold = pool_.cfg().response_splice_threshold;
  splice_out_wanted_ = threshold && length_ && *length_ >= threshold;
  return true;
}

// A large known-length body: once the sink says it can take spliced bytes, the link stops
// delivering STDOUT and the rest of the body moves backend socket -> pipe -> client socket.
void PhpRequest::maybe_splice_out() {
  if (!splice_out_wanted_ || finished_ || !link_) return;
  splice_out_wanted_ = false;
  splice_target_ = sink_.splice_target();
  if (!splice_target_ || body_bytes_ >= *length_) return;
  link_->stop_reading();
}

void PhpRequest::on_link_recv_stopped() {
  if (finished_ || !link_ || !splice_target_ || out_splice_) return;
  auto s = backend::StdoutSplice::create();
  if (!s) {
    LOG_LIMITED(kError, "response splice: %s", s.error().message.c_str());
    return link_->resume_after_splice();
  }
  out_splice_ = std::move(*s);
  LOG_DEBUG("pool %s: %s: splicing the response, %llu body bytes left", pool_.cfg().name.c_str(),
            script_.name.c_str(), (unsigned long long)(*length_ - body_bytes_));
  try_splice_out();
}

void PhpRequest::on_link_readable() {
  try_splice_out();
}

// Moves what it can; what is written to the sink before goes out first (splice_ready).
void PhpRequest::try_splice_out() {
  if (!out_splice_ || finished_ || !link_) return;
  if (!splice_target_->splice_ready()) return link_->waiting_on_client();
  backend::StdoutSplice::Status st = out_splice_->step(
      link_->decoder(), link_->fd, splice_target_->splice_out_fd(), *length_ - body_bytes_);
  if (uint64_t n = out_splice_->take_sent()) {
    body_bytes_ += n;
    backend::PoolCounters& c = pool_.counters();
    c.spliced_bytes += n;
    if (!spliced_) ++c.spliced_responses;
    spliced_ = true;
    splice_target_->on_body_spliced(n);
  }
  switch (st) {
    case backend::StdoutSplice::Status::kDone:
      return end_splice_out();
    case backend::StdoutSplice::Status::kWaitRead:
      return link_->wait_readable();
    case backend::StdoutSplice::Status::kWaitWrite:
      link_->waiting_on_client();
      if (!paused_us_) paused_us_ = now_us();
      return splice_target_->wait_splice_writable();
    case backend::StdoutSplice::Status::kClientError:
      LOG_LIMITED(kInfo, "pool %s: %s: client gone while splicing the response: %s",
                  pool_.cfg().name.c_str(), script_.name.c_str(),
                  strerror(out_splice_->client_error()));
      return splice_target_->on_splice_error(out_splice_->client_error());  // abandons us
  }
}

// The link reads the rest as usual: the end of the request, other records, and any bytes
// beyond the Content-Length (dropped by write_body).
void PhpRequest::end_splice_out() {
  out_splice_.reset();
  if (link_) link_->resume_after_splice();
}

// Never more than the declared Content-Length: the excess would be read as the start of the
// next response on a kept-alive connection. It is dropped, logged and counted.
void PhpRequest::write_body(std::string_view data) {
  if (no_content_) return;
  if (length_ && body_bytes_ + data.size() > *length_) {
    uint64_t room = *length_ - body_bytes_;
    if (!length_exceeded_) {
      length_exceeded_ = true;
      ++pool_.counters().bad_responses;
      LOG_LIMITED(kWarn, "pool %s: %s wrote more than its Content-Length of %llu, excess dropped",
                  pool_.cfg().name.c_str(), script_.name.c_str(), (unsigned long long)*length_);
    }
    data = data.substr(0, size_t(room));
  }
  if (data.empty()) return;
  body_bytes_ += data.size();
  if (sink_.write_body(data) || !link_) return;
  link_->pause_reading();
  if (!paused_us_) paused_us_ = now_us();
}

void PhpRequest::fail(int status) {
  end_timing();
  finished_ = true;
  out_splice_.reset();
  if (link_) link_->abandon();
  link_ = nullptr;
  sink_.fail_response(status);
}

void PhpRequest::on_stdout(std::string_view data) {
  if (finished_) return;
  php_started();
  while (!head_sent_) {
    std::string_view rest;
    fastcgi::CgiResponseParser::State s = cgi_.feed(data, rest);
    if (s == fastcgi::CgiResponseParser::State::kNeedMore) return;
    if (s == fastcgi::CgiResponseParser::State::kError) {
      LOG_LIMITED(kError, "pool %s: invalid response header from backend: %s",
                  pool_.cfg().name.c_str(), cgi_.error());
      ++pool_.counters().bad_responses;
      return fail(502);
    }
    note_skipped_lines();
    data = rest;
    if (cgi_.status() == 103) {  // Early Hints: the final head follows
      send_early_hints();
      cgi_.reset();
      continue;
    }
    if (!start_response()) return;
  }
  if (!data.empty()) write_body(data);
  maybe_splice_out();
}

// The head went to the sink held back (start_response()), for the body that usually follows in
// the same read; what this read brought is all there is for now, so it goes.
void PhpRequest::on_records_done() {
  if (head_sent_ && !finished_) sink_.push();
}

void PhpRequest::on_sink_drained() {
  if (paused_us_) {
    client_wait_us_ += span_us(paused_us_, now_us());
    paused_us_ = 0;
  }
  if (!link_) return;
  link_->resume_reading();
  try_splice_out();
}

void PhpRequest::on_end() {
  link_ = nullptr;
  out_splice_.reset();
  if (finished_) return;
  end_timing();
  finished_ = true;
  if (!head_sent_) {
    LOG_LIMITED(kError, "pool %s: backend ended the request without a response header",
                pool_.cfg().name.c_str());
    return sink_.fail_response(502);
  }
  if (length_ && body_bytes_ < *length_) {
    // Fewer bytes than declared: the client would wait for the rest, or read the next response
    // as this one's end. The connection is cut instead.
    ++pool_.counters().bad_responses;
    LOG_LIMITED(kWarn, "pool %s: %s ended after %llu of its Content-Length of %llu bytes",
                pool_.cfg().name.c_str(), script_.name.c_str(), (unsigned long long)body_bytes_,
                (unsigned long long)*length_);
    return sink_.fail_response(502);
  }
  sink_.end_response();
}

void PhpRequest::on_failure(int status, const char* why) {
  link_ = nullptr;
  out_splice_.reset();
  if (finished_) return;
  end_timing();
  finished_ = true;
  sink_.fail_response(status);
}

void PhpRequest::abandon() {
  end_timing();
  if (link_) {
    // The whole request went to the link: the end of STDIN is among what it was given.
    bool written = (mode_ == BodyMode::kNone || body_done_) && !splice_ && spill_fd_ < 0;
    if (written && !finished_) {
      link_->abort(kRequestId);
    } else {
      link_->abandon();
    }
    link_ = nullptr;
  } else if (!finished_) {
    pool_.cancel(this);
  }
  out_splice_.reset();  // bytes taken from the backend and not sent are dropped with the pipe
  finished_ = true;
}

}  // namespace askr::handlers
