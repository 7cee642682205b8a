// The only file that sees toml++. Each section of askr.toml has one parse_x() function and one
// table of the keys it accepts (Field<T>); parse_fields() walks a TOML table against such a
// list, so any key not listed is an error. Adding a section is adding one parse_x() and one line
// to kSections; adding a key is adding one line to its section's table.
//
// Problems never stop the walk: each one is recorded in the Context with the position of the
// offending node, a value in error leaves the default in place, and the Config is only handed
// out when nothing was recorded.
#include "shared/config/load.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "shared/base/result.h"
#include "shared/config/nesting.h"
#include "shared/config/server_name.h"
#include "shared/config/units.h"

namespace askr::config {

namespace {

namespace fs = std::filesystem;
using Node = toml::node;
using std::chrono::milliseconds;

constexpr int64_t kMaxTimeoutMs = 24 * 60 * 60 * 1000;

// What one load carries through the parse_x() functions: where relative paths start, and the
// problems found so far.
class Context {
 public:
  Context(std::string file, fs::path dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  // The absolute directory of the config file.
  const fs::path& dir() const { return dir_; }

  void error(const toml::source_position& at, std::string message) {
    errors_.push_back({file_, at.line, at.column, std::move(message)});
  }
  void error(const Node& at, std::string message) { error(at.source().begin, std::move(message)); }
  void error(const toml::key& at, std::string message) {
    error(at.source().begin, std::move(message));
  }

  size_t error_count() const { return errors_.size(); }
  std::vector<Diagnostic> take_errors() { return std::move(errors_); }

  // The names of the [[pool]] entries, read before any section so that a site may name a pool
  // declared after it. The index is the pool's place in Config::pools.
  void add_pool_name(std::string name, int index) { pools_.emplace(std::move(name), index); }
  std::optional<int> pool_index(std::string_view name) const {
    const auto it = pools_.find(name);
    if (it == pools_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::string file_;
  fs::path dir_;
  std::vector<Diagnostic> errors_;
  std::map<std::string, int, std::less<>> pools_;  // first entry wins for a duplicate name
};

// ---- Helpers shared by the sections ------------------------------------------------------------

std::string quote(std::string_view key) {
  return "'" + std::string(key) + "'";
}

// `text` as it may appear inside a one-line message: control bytes become \xNN.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
      continue;
    }
    char esc[5];
    std::snprintf(esc, sizeof esc, "\\x%02x", u);
    out += esc;
  }
  return out;
}

// The value as the user wrote it, for "(got ...)" in range errors.
std::string written(const Node& v) {
  if (const auto* s = v.as_string()) return printable(s->get());
  if (const auto* i = v.as_integer()) return std::to_string(i->get());
  return "?";
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// Records "'key' must be between MIN and MAX (got V)" unless min <= n <= max.
template <class T, class Format>
std::optional<T> in_range(std::string_view key, const Node& v, Context& ctx, T n, T min, T max,
                          Format format) {
  if (n >= min && n <= max) return n;
  ctx.error(v, quote(key) + " must be between " + format(min) + " and " + format(max) + " (got " +
                   written(v) + ")");
  return std::nullopt;
}

const std::string* get_string(std::string_view key, const Node& v, Context& ctx) {
  if (const auto* s = v.as_string()) return &s->get();
  ctx.error(v, quote(key) + " must be a string");
  return nullptr;
}

std::optional<int64_t> get_integer(std::string_view key, const Node& v, Context& ctx, int64_t min,
                                   int64_t max) {
  const auto* i = v.as_integer();
  if (!i) {
    ctx.error(v, quote(key) + " must be an integer");
    return std::nullopt;
  }
  return in_range(key, v, ctx, i->get(), min, max, [](int64_t n) { return std::to_string(n); });
}

// A size: an integer number of bytes, or a string parse_size() reads.
std::optional<uint64_t> get_size(std::string_view key, const Node& v, Context& ctx, uint64_t min,
                                 uint64_t max) {
  uint64_t n = 0;
  if (const auto* i = v.as_integer()) {
    if (i->get() < 0) {
      ctx.error(v, quote(key) + " must not be negative");
      return std::nullopt;
    }
    n = static_cast<uint64_t>(i->get());
  } else if (const auto* s = v.as_string()) {
    const Result<uint64_t> parsed = parse_size(s->get());
    if (!parsed) {
      ctx.error(v, "invalid size \"" + printable(s->get()) + "\" for " + quote(key) + ": " +
                       parsed.error().message);
      return std::nullopt;
    }
    n = parsed.value();
  } else {
    ctx.error(
        v, quote(key) + " must be a size: an integer number of bytes or a string such as \"8k\"");
    return std::nullopt;
  }
  return in_range(key, v, ctx, n, min, max, format_size);
}

// A duration: an integer number of seconds, or a string parse_duration() reads.
std::optional<milliseconds> get_duration(std::string_view key, const Node& v, Context& ctx,
                                         milliseconds min, milliseconds max) {
  milliseconds d{};
  if (const auto* i = v.as_integer()) {
    if (i->get() < 0) {
      ctx.error(v, quote(key) + " must not be negative");
      return std::nullopt;
    }
    // Saturate: anything past a million hours is out of range anyway.
    const int64_t seconds = std::min<int64_t>(i->get(), int64_t{1} << 32);
    d = std::chrono::seconds(seconds);
  } else if (const auto* s = v.as_string()) {
    const Result<milliseconds> parsed = parse_duration(s->get());
    if (!parsed) {
      ctx.error(v, "invalid duration \"" + printable(s->get()) + "\" for " + quote(key) + ": " +
                       parsed.error().message);
      return std::nullopt;
    }
    d = parsed.value();
  } else {
    ctx.error(v,
              quote(key) +
                  " must be a duration: an integer number of seconds or a string such as \"60s\"");
    return std::nullopt;
  }
  return in_range(key, v, ctx, d, min, max, format_duration);
}

template <class E>
struct Choice {
  std::string_view name;
  E value;
};

// One of a fixed set of strings.
template <class E, size_t N>
std::optional<E> get_choice(std::string_view key, const Node& v, Context& ctx,
                            const Choice<E> (&choices)[N]) {
  if (const auto* s = v.as_string()) {
    for (const Choice<E>& c : choices) {
      if (s->get() == c.name) return c.value;
    }
  }
  std::string names;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) names += i + 1 == N ? " or " : ", ";
    names += "\"" + std::string(choices[i].name) + "\"";
  }
  ctx.error(v, quote(key) + " must be " + names);
  return std::nullopt;
}

// The strings of an array, each checked by `check` (an explanation when it is refused, else
// empty). Refused and non-string elements are reported and left out.
std::vector<std::string> get_strings(std::string_view key, const Node& v, Context& ctx,
                                     std::string (*check)(std::string_view)) {
  std::vector<std::string> out;
  const auto* array = v.as_array();
  if (!array) {
    ctx.error(v, quote(key) + " must be an array of strings");
    return out;
  }
  for (const Node& element : *array) {
    const auto* s = element.as_string();
    if (!s) {
      ctx.error(element, quote(key) + " must be an array of strings");
      continue;
    }
    if (std::string why = check(s->get()); !why.empty()) {
      ctx.error(element,
                "invalid entry \"" + printable(s->get()) + "\" in " + quote(key) + ": " + why);
      continue;
    }
    out.push_back(s->get());
  }
  return out;
}

const toml::table* get_table(std::string_view key, const Node& v, Context& ctx) {
  if (const auto* t = v.as_table()) return t;
  ctx.error(v, quote(key) + " must be a table ([" + std::string(key) + "])");
  return nullptr;
}

// An array of tables ([[key]]). Elements that are not tables are reported here; the caller
// skips them. `header` is the table's name in its header when that is not `key` ("site.route").
const toml::array* get_table_array(std::string_view key, const Node& v, Context& ctx,
                                   std::string_view header = {}) {
  const std::string message = quote(key) + " must be an array of tables ([[" +
                              std::string(header.empty() ? key : header) + "]])";
  const auto* array = v.as_array();
  if (!array) {
    ctx.error(v, message);
    return nullptr;
  }
  for (const Node& element : *array) {
    if (!element.is_table()) ctx.error(element, message);
  }
  return array;
}

// `text` made absolute against the config file's directory (not normalized: with symbolic
// links, "a/../b" is not always "b").
fs::path resolve(const Context& ctx, std::string_view text) {
  const fs::path p(text);
  return p.is_absolute() ? p : ctx.dir() / p;
}

SourceAt source_at(const Node& v) {
  return {v.source().begin.line, v.source().begin.column};
}

// A log destination: "stderr", or a file path made absolute. The file is not opened here.
void set_log_path(std::string_view key, const Node& v, Context& ctx, std::string& out) {
  const std::string* s = get_string(key, v, ctx);
  if (!s) return;
  if (*s == "stderr") {
    out = *s;
    return;
  }
  const fs::path p = resolve(ctx, *s).lexically_normal();
  if (s->empty() || !p.has_filename() || s->find('\0') != std::string::npos) {
    ctx.error(v, quote(key) + " must be \"stderr\" or the path of a file");
    return;
  }
  out = p.string();
}

// An existing directory, made absolute against the config file's directory, then canonical
// (realpath). `out` is set as soon as realpath succeeds, even when it is not a directory.
void set_directory(std::string_view key, const Node& v, Context& ctx, std::string& out) {
  const std::string* s = get_string(key, v, ctx);
  if (!s) return;
  if (s->empty() || s->find('\0') != std::string::npos) {
    ctx.error(v, quote(key) + " must be the path of a directory");
    return;
  }
  const std::string path = resolve(ctx, *s).string();
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) {
    ctx.error(v, std::string(key) + " \"" + printable(path) + "\": " + std::strerror(errno));
    return;
  }
  out = real;
  std::free(real);
  struct stat st {};
  if (::stat(out.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    ctx.error(v, std::string(key) + " \"" + printable(path) + "\" is not a directory");
  }
}

// ---- Fields: the keys a table accepts -----------------------------------------------------------

// One key a table accepts and how its value is stored into T. A value that is refused is
// reported and leaves `out` as it was.
template <class T>
struct Field {
  std::string_view key;
  void (*parse)(std::string_view key, const Node& value, Context& ctx, T& out);
};

// Parses each key of `table` with its Field; a key without one is reported as unknown. `where`
// names the table in that message ("[server]"), or is empty for the top level.
template <class T, size_t N>
void parse_fields(const toml::table& table, std::string_view where, const Field<T> (&fields)[N],
                  Context& ctx, T& out) {
  for (auto&& [key, value] : table) {
    const std::string_view name = key.str();
    const auto* field = std::find_if(std::begin(fields), std::end(fields),
                                     [name](const Field<T>& f) { return f.key == name; });
    if (field != std::end(fields)) {
      field->parse(name, value, ctx, out);
      continue;
    }
    std::string message = "unknown key " + quote(printable(name));
    if (!where.empty()) message += " in " + std::string(where);
    ctx.error(key, std::move(message));
  }
}

// The struct a pointer to member belongs to, so that the field parsers below can name their
// target as one template argument: integer_field<&Limits::max_headers, 1, 10000>.
template <class M>
struct MemberOf;
template <class C, class V>
struct MemberOf<V C::*> {
  using Class = C;
  using Value = V;
};
template <auto Member>
using ClassOf = typename MemberOf<decltype(Member)>::Class;
template <auto Member>
using ValueOf = typename MemberOf<decltype(Member)>::Value;

template <auto Member, int64_t Min, int64_t Max>
void integer_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  if (auto n = get_integer(k, v, ctx, Min, Max)) out.*Member = static_cast<ValueOf<Member>>(*n);
}

template <auto Member, uint64_t Min, uint64_t Max>
void size_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  if (auto n = get_size(k, v, ctx, Min, Max)) out.*Member = static_cast<ValueOf<Member>>(*n);
}

template <auto Member, int64_t MinMs, int64_t MaxMs>
void duration_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  if (auto d = get_duration(k, v, ctx, milliseconds(MinMs), milliseconds(MaxMs))) out.*Member = *d;
}

template <auto Member>
void bool_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  const auto* b = v.as_boolean();
  if (!b) return ctx.error(v, quote(k) + " must be true or false");
  out.*Member = b->get();
}

template <auto Member, const auto& Choices>
void choice_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  if (auto c = get_choice(k, v, ctx, Choices)) out.*Member = ValueOf<Member>(*c);
}

// A log destination and where it is written, for the error of a file that cannot be opened.
template <auto Member, auto At>
void log_path_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  set_log_path(k, v, ctx, out.*Member);
  out.*At = source_at(v);
}

template <auto Member>
void directory_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  set_directory(k, v, ctx, out.*Member);
}

// A [key] section, parsed by Parse.
template <auto Member, ValueOf<Member> (*Parse)(const toml::table&, Context&)>
void table_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  if (const auto* t = get_table(k, v, ctx)) out.*Member = Parse(*t, ctx);
}

// A [[key]] section, parsed by Parse.
template <auto Member, ValueOf<Member> (*Parse)(const toml::array&, Context&)>
void table_array_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  if (const auto* a = get_table_array(k, v, ctx)) out.*Member = Parse(*a, ctx);
}

// ---- [server] -----------------------------------------------------------------------------------

void parse_threads(std::string_view key, const Node& v, Context& ctx, Server& server) {
  if (const auto* s = v.as_string(); s && s->get() == "auto") {
    server.threads = 0;
    return;
  }
  if (!v.is_integer()) {
    ctx.error(v, quote(key) + " must be \"auto\" or an integer");
    return;
  }
  if (auto n = get_integer(key, v, ctx, 1, 1024)) server.threads = static_cast<unsigned>(*n);
}

constexpr Choice<IoBackend> kIoBackends[] = {
    {"auto", IoBackend::kAuto},
    {"io_uring", IoBackend::kIoUring},
    {"epoll", IoBackend::kEpoll},
};

constexpr Choice<const char*> kLogLevels[] = {
    {"error", "error"},
    {"warn", "warn"},
    {"info", "info"},
    {"debug", "debug"},
};

Server parse_server(const toml::table& table, Context& ctx) {
  static constexpr Field<Server> kFields[] = {
      {"threads", parse_threads},
      {"io_backend", choice_field<&Server::io_backend, kIoBackends>},
      {"error_log", log_path_field<&Server::error_log, &Server::error_log_at>},
      {"log_level", choice_field<&Server::log_level, kLogLevels>},
      {"temp_dir", directory_field<&Server::temp_dir>},
      {"max_connections", integer_field<&Server::max_connections, 1, 1000000>},
  };
  Server server;
  parse_fields(table, "[server]", kFields, ctx, server);
  return server;
}

// ---- [[listen]] ---------------------------------------------------------------------------------

bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n > 65535) return false;
  port = static_cast<uint16_t>(n);
  return true;
}

// "IPv4:PORT" or "[IPv6]:PORT", literal addresses only. The error message says why.
Result<Listen> parse_address(std::string_view text) {
  Listen listen;
  listen.text = std::string(text);
  std::string host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      return Error{EINVAL, "expected [IPv6]:PORT"};
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    auto* sa = reinterpret_cast<sockaddr_in6*>(&listen.addr);
    sa->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) != 1) {
      return Error{EINVAL, "\"" + host + "\" is not an IPv6 address"};
    }
    listen.addr_len = sizeof(sockaddr_in6);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Error{EINVAL, "expected IPv4:PORT or [IPv6]:PORT"};
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return Error{EINVAL, "an IPv6 address must be in brackets, as in \"[::1]:8080\""};
    }
    auto* sa = reinterpret_cast<sockaddr_in*>(&listen.addr);
    sa->sin_family = AF_INET;
    if (inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1) {
      return Error{EINVAL, "\"" + host + "\" is not an IPv4 address (host names are not resolved)"};
    }
    listen.addr_len = sizeof(sockaddr_in);
  }
  uint16_t port = 0;
  if (!parse_port(port_text, port)) {
    return Error{EINVAL, "\"" + std::string(port_text) + "\" is not a port number (0-65535)"};
  }
  if (listen.addr.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&listen.addr)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&listen.addr)->sin_port = htons(port);
  }
  return listen;
}

uint16_t port_of(const Listen& l) {
  if (l.addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&l.addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&l.addr)->sin_port);
}

// Whether two valid addresses name the same socket. Port 0 never collides: each such listener
// gets its own ephemeral port.
bool same_socket(const Listen& a, const Listen& b) {
  if (a.addr_len == 0 || a.addr_len != b.addr_len || a.addr.ss_family != b.addr.ss_family) {
    return false;
  }
  if (port_of(a) == 0 || port_of(a) != port_of(b)) return false;
  if (a.addr.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6*>(&a.addr)->sin6_addr;
    const auto& y = reinterpret_cast<const sockaddr_in6*>(&b.addr)->sin6_addr;
    return std::memcmp(&x, &y, sizeof x) == 0;
  }
  return reinterpret_cast<const sockaddr_in*>(&a.addr)->sin_addr.s_addr ==
         reinterpret_cast<const sockaddr_in*>(&b.addr)->sin_addr.s_addr;
}

void parse_listen_address(std::string_view k, const Node& v, Context& ctx, Listen& listen) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  Result<Listen> parsed = parse_address(*s);
  if (!parsed) {
    ctx.error(v, "invalid listen address \"" + printable(*s) + "\": " + parsed.error().message);
    return;
  }
  // The listeners are IPV6_V6ONLY, and the kernel refuses to bind those to an IPv4-mapped
  // address: said here rather than by bind() at start.
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&parsed->addr);
  if (parsed->addr.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
    char v4[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], v4, sizeof v4);
    ctx.error(v, "invalid listen address \"" + printable(*s) +
                     "\": an IPv4-mapped address cannot be listened on (IPv6 listeners take IPv6 "
                     "only): use \"" +
                     v4 + ":" + std::to_string(ntohs(v6->sin6_port)) + "\"");
    return;
  }
  bool http2 = listen.http2;  // keys come in any order: keep what was already set
  listen = std::move(parsed.value());
  listen.http2 = http2;
}

// One [[listen]]. An entry in error comes back with addr_len 0.
Listen parse_listen(const toml::table& table, Context& ctx) {
  static constexpr Field<Listen> kFields[] = {
      {"address", parse_listen_address},
      {"tls", bool_field<&Listen::tls>},
      {"http2", bool_field<&Listen::http2>},
  };
  Listen listen;
  parse_fields(table, "[[listen]]", kFields, ctx, listen);
  if (!table.contains("address")) ctx.error(table, "missing 'address' in [[listen]]");
  return listen;
}

std::vector<Listen> parse_listens(const toml::array& array, Context& ctx) {
  std::vector<Listen> listens;
  std::vector<toml::source_position> positions;
  for (const Node& element : array) {
    const auto* table = element.as_table();
    if (!table) continue;
    Listen listen = parse_listen(*table, ctx);
    for (size_t i = 0; i < listens.size(); ++i) {
      if (!same_socket(listens[i], listen)) continue;
      ctx.error(*table->get("address"), "duplicate listen address \"" + printable(listen.text) +
                                            "\" (first at line " +
                                            std::to_string(positions[i].line) + ")");
      break;
    }
    positions.push_back(table->contains("address") ? table->get("address")->source().begin
                                                   : table->source().begin);
    listens.push_back(std::move(listen));
  }
  return listens;
}

// ---- [[pool]] -----------------------------------------------------------------------------------

bool valid_pool_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const char l = lower(c);
    return (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

void parse_pool_name(std::string_view k, const Node& v, Context& ctx, Pool& pool) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  if (!valid_pool_name(*s)) {
    ctx.error(v, "invalid pool name \"" + printable(*s) +
                     "\": a pool name holds only letters, digits, '_' and '-'");
    return;
  }
  pool.name = *s;
}

// "unix:PATH" (relative to the config file's directory), "IPv4:PORT" or "[IPv6]:PORT". The
// socket is not looked at: the pool may start after askr-proxy.
void parse_fastcgi(std::string_view k, const Node& v, Context& ctx, Pool& pool) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  const std::string invalid = "invalid fastcgi address \"" + printable(*s) + "\": ";
  if (s->starts_with("unix:")) {
    const std::string_view text = std::string_view(*s).substr(5);
    if (text.empty() || text.find('\0') != std::string_view::npos) {
      ctx.error(v, invalid + "expected the path of a socket after \"unix:\"");
      return;
    }
    const std::string path = resolve(ctx, text).string();
    sockaddr_un un{};
    if (path.size() >= sizeof un.sun_path) {
      ctx.error(v, invalid + "the socket path \"" + printable(path) + "\" is " +
                       std::to_string(path.size()) +
                       " bytes long; a unix socket path holds at most " +
                       std::to_string(sizeof un.sun_path - 1));
      return;
    }
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    pool.fastcgi = *s;
    pool.unix_socket = true;
    pool.unix_path = path;
    pool.addr = {};
    std::memcpy(&pool.addr, &un, sizeof un);
    pool.addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return;
  }
  if (s->find(':') == std::string::npos) {
    ctx.error(v, invalid + "expected \"unix:PATH\", \"IPv4:PORT\" or \"[IPv6]:PORT\"");
    return;
  }
  Result<Listen> parsed = parse_address(*s);
  if (!parsed) {
    ctx.error(v, invalid + parsed.error().message);
    return;
  }
  if (port_of(parsed.value()) == 0) {
    ctx.error(v, invalid + "port 0 cannot be connected to");
    return;
  }
  pool.fastcgi = *s;
  pool.unix_socket = false;
  pool.unix_path.clear();
  pool.addr = parsed.value().addr;
  pool.addr_len = parsed.value().addr_len;
}

constexpr Choice<Pool::Mode> kModes[] = {
    {"classic", Pool::Mode::kClassic},
    {"worker", Pool::Mode::kWorker},
};

void parse_workers(std::string_view k, const Node& v, Context& ctx, Pool& pool) {
  if (const auto* s = v.as_string(); s && s->get() == "auto") {
    pool.workers = 0;
    return;
  }
  if (v.as_string() || !v.as_integer()) {
    ctx.error(v, quote(k) + " must be \"auto\" or an integer");
    return;
  }
  if (auto n = get_integer(k, v, ctx, 1, 4096)) pool.workers = uint32_t(*n);
}

void parse_worker_script(std::string_view k, const Node& v, Context& ctx, Pool& pool) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  std::error_code ec;
  const fs::path p = fs::canonical(resolve(ctx, *s), ec);
  if (ec || !fs::is_regular_file(p, ec)) {
    ctx.error(v, quote(k) + ": no such file: " + printable(resolve(ctx, *s).string()));
    return;
  }
  pool.worker_script = p.string();
}

bool user_exists(const char* name) {
  return getpwnam(name) != nullptr;
}
bool group_exists(const char* name) {
  return getgrnam(name) != nullptr;
}

// user = "www-data", group = "www-data": names the system knows (getpwnam, getgrnam).
template <std::string Pool::*Field, bool (*Exists)(const char*)>
void account_field(std::string_view k, const Node& v, Context& ctx, Pool& pool) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  if (s->empty() || !Exists(s->c_str())) {
    ctx.error(v, quote(k) + ": no such " + std::string(k) + ": \"" + printable(*s) + "\"");
    return;
  }
  pool.*Field = *s;
}

// [pool.ini]: "name" = value; strings, integers, floats and booleans, all passed on as text.
void parse_pool_ini(std::string_view k, const Node& v, Context& ctx, Pool& pool) {
  const auto* table = v.as_table();
  if (!table) {
    ctx.error(v, quote(k) + " must be a table of php.ini settings");
    return;
  }
  for (const auto& [key, value] : *table) {
    std::string text;
    if (const auto* s = value.as_string()) {
      text = s->get();
    } else if (const auto* i = value.as_integer()) {
      text = std::to_string(i->get());
    } else if (const auto* b = value.as_boolean()) {
      text = b->get() ? "1" : "0";
    } else if (const auto* f = value.as_floating_point()) {
      text = std::to_string(f->get());
    } else {
      ctx.error(value, "php.ini setting '" + printable(key.str()) +
                           "' must be a string, number or boolean");
      continue;
    }
    if (text.find_first_of("\n\r") != std::string::npos ||
        key.str().find_first_of("=\n\r") != std::string_view::npos) {
      ctx.error(value,
                "php.ini setting '" + printable(key.str()) + "' must be one line without '='");
      continue;
    }
    pool.ini.emplace_back(std::string(key.str()), std::move(text));
  }
}

bool is_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  });
}

// [pool.env]: NAME = "value" sets a variable; NAME = "$OTHER" passes askr-proxy's OTHER.
void parse_pool_env(std::string_view k, const Node& v, Context& ctx, Pool& pool) {
  const auto* table = v.as_table();
  if (!table) {
    ctx.error(v, quote(k) + " must be a table of environment variables");
    return;
  }
  for (const auto& [key, value] : *table) {
    const std::string name(key.str());
    const auto* s = value.as_string();
    if (!is_env_name(name)) {
      ctx.error(value, "environment variable name '" + printable(name) +
                           "' must be letters, digits and '_', not starting with a digit");
      continue;
    }
    if (name.starts_with("ASKR_")) {
      ctx.error(value, "environment variable '" + name + "': ASKR_ names are askr-worker's own");
      continue;
    }
    if (!s || s->get().find('\0') != std::string::npos) {
      ctx.error(value, "environment variable '" + name + "' must be a string without NUL");
      continue;
    }
    std::string_view text = s->get();
    if (text.starts_with('$') && is_env_name(text.substr(1))) {
      pool.env.push_back({name, std::string(text.substr(1)), true});
    } else {
      pool.env.push_back({name, std::string(text), false});
    }
  }
}

Pool parse_pool(const toml::table& table, Context& ctx) {
  static constexpr Field<Pool> kFields[] = {
      {"name", parse_pool_name},
      {"fastcgi", parse_fastcgi},
      {"max_connections", integer_field<&Pool::max_connections, 1, 10000>},
      {"keepalive", bool_field<&Pool::keepalive>},
      {"queue", integer_field<&Pool::queue, 0, 100000>},
      {"queue_timeout", duration_field<&Pool::queue_timeout, 1, kMaxTimeoutMs>},
      {"connect_timeout", duration_field<&Pool::connect_timeout, 1, kMaxTimeoutMs>},
      {"read_timeout", duration_field<&Pool::read_timeout, 1, kMaxTimeoutMs>},
      {"send_timeout", duration_field<&Pool::send_timeout, 1, kMaxTimeoutMs>},
      {"splice_threshold", size_field<&Pool::splice_threshold, 0, INT64_MAX>},
      {"response_splice_threshold", size_field<&Pool::response_splice_threshold, 0, INT64_MAX>},
      {"response_header_size", size_field<&Pool::response_header_size, 1 << 10, 16 << 20>},
      {"workers", parse_workers},
      {"mode", choice_field<&Pool::mode, kModes>},
      {"worker_script", parse_worker_script},
      {"max_requests", integer_field<&Pool::max_requests, 0, INT64_MAX>},
      {"memory_limit", size_field<&Pool::memory_limit, 0, INT64_MAX>},
      {"request_timeout", duration_field<&Pool::request_timeout, 1, kMaxTimeoutMs>},
      {"user", account_field<&Pool::user, user_exists>},
      {"group", account_field<&Pool::group, group_exists>},
      {"ini", parse_pool_ini},
      {"env", parse_pool_env},
  };
  Pool pool;
  parse_fields(table, "[[pool]]", kFields, ctx, pool);
  if (!table.contains("name")) ctx.error(table, "missing 'name' in [[pool]]");
  pool.own = !table.contains("fastcgi");
  if (!pool.own) {
    // Keys of Askr's own pools make no sense for an external FastCGI backend.
    for (const char* key : {"workers", "mode", "worker_script", "max_requests", "memory_limit",
                            "request_timeout", "user", "group", "ini", "env"}) {
      if (const Node* n = table.get(key)) {
        ctx.error(*n, quote(key) + " applies to askr-worker pools only (a pool without 'fastcgi')");
      }
    }
  } else if (pool.mode == Pool::Mode::kWorker && pool.worker_script.empty() &&
             !table.contains("worker_script")) {
    ctx.error(table, "mode = \"worker\" needs 'worker_script'");
  } else if (pool.mode == Pool::Mode::kClassic && table.contains("worker_script")) {
    ctx.error(*table.get("worker_script"), "'worker_script' needs mode = \"worker\"");
  }
  if (pool.own && table.contains("group") && !table.contains("user")) {
    ctx.error(*table.get("group"), "'group' needs 'user'");
  }
  return pool;
}

// One Pool per table, in file order (the indexes index_pool_names() handed out).
std::vector<Pool> parse_pools(const toml::array& array, Context& ctx) {
  std::vector<Pool> pools;
  std::map<std::string, toml::source_position, std::less<>> seen;
  for (const Node& element : array) {
    const auto* table = element.as_table();
    if (!table) continue;
    pools.push_back(parse_pool(*table, ctx));
    const Node* name = table->get("name");
    if (!name || pools.back().name.empty()) continue;
    const auto [it, fresh] = seen.emplace(pools.back().name, name->source().begin);
    if (fresh) continue;
    ctx.error(*name, "duplicate pool name \"" + it->first + "\" (first at line " +
                         std::to_string(it->second.line) + ")");
  }
  return pools;
}

// Records each [[pool]]'s name and index before any section is parsed, so that the order of
// sections in the file does not matter. Problems are left for parse_pools() to report; a name
// in error is still recorded, so that a 'php' naming it is not reported a second time.
void index_pool_names(const toml::table& root, Context& ctx) {
  const auto* array = root["pool"].as_array();
  if (!array) return;
  int index = 0;
  for (const Node& element : *array) {
    const auto* table = element.as_table();
    if (!table) continue;
    if (const auto* name = table->get_as<std::string>("name")) {
      ctx.add_pool_name(name->get(), index);
    }
    ++index;
  }
}

// ---- [[site]] -----------------------------------------------------------------------------------

// A host name (letters, digits, '-', '.', '_') or a bracketed IPv6 literal ("[::1]"), without a
// port: that is what a Host header holds once its port is removed.
std::string check_server_name(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.ends_with('.')) {
    name.remove_suffix(1);  // the DNS root's dot (see canonical_server_name)
    if (name.empty() || name.ends_with('.')) return "must name a host";
  }
  if (name.starts_with('.')) {
    return "a name cannot start with '.' (nginx's \".example.com\" is written \"example.com\", "
           "\"*.example.com\")";
  }
  if (name.starts_with("*.")) {
    if (name.size() == 2) return "a wildcard needs a domain after \"*.\"";
    name.remove_prefix(2);  // "*.example.com": the rest is a name like any other
  }
  // No Host names a host with an empty label.
  if (name.starts_with('.') || name.find("..") != std::string_view::npos) {
    return "a name cannot have an empty label (\"..\")";
  }
  if (name.starts_with('[')) {
    in6_addr addr;
    const std::string inner(name.substr(1, name.size() - 1 - (name.ends_with(']') ? 1 : 0)));
    if (name.ends_with(']') && inet_pton(AF_INET6, inner.c_str(), &addr) == 1) return {};
    return "not a bracketed IPv6 address";
  }
  for (const char c : name) {
    const char l = lower(c);
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '.' || l == '_') {
      continue;
    }
    return "a server name holds only letters, digits, '-', '.' and '_' (no port), or starts "
           "with \"*.\"";
  }
  return {};
}

// A valid server name as the router compares it: lower case, without the DNS root's final dot,
// since "example.com." is the host "example.com" and a Host header's dot is dropped too.
std::string canonical_server_name(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  return to_lower(name);
}

std::string check_index(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return "must name a file";
  if (name.find('/') != std::string_view::npos) return "must be a file name, without '/'";
  if (name.find('\0') != std::string_view::npos) return "must not contain NUL";
  return {};
}

void parse_server_names(std::string_view k, const Node& v, Context& ctx, Site& site) {
  site.server_names = get_strings(k, v, ctx, check_server_name);
  for (std::string& name : site.server_names) name = canonical_server_name(name);
}

void parse_index(std::string_view k, const Node& v, Context& ctx, Site& site) {
  site.index = get_strings(k, v, ctx, check_index);
}

// 'php': the name of a [[pool]], or "" for none (-1).
template <auto Member>
void pool_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  if (s->empty()) {
    out.*Member = -1;
  } else if (const std::optional<int> index = ctx.pool_index(*s)) {
    out.*Member = *index;
  } else {
    ctx.error(v, "unknown pool \"" + printable(*s) + "\" in " + quote(k));
  }
}

// Whether a 'php' node turns PHP on: any value but "". A value in error counts as on, so that
// what depends on it is not reported as well.
bool php_on(const Node* php) {
  if (!php) return false;
  const auto* s = php->as_string();
  return !s || !s->get().empty();
}

// 'front_controller': a file under the root, stored without its leading '/'; "" = none.
template <auto Member>
void front_controller_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  if (s->empty()) {
    (out.*Member).clear();
    return;
  }
  std::string_view path = *s;
  if (path.starts_with('/')) path.remove_prefix(1);
  bool ok = path.find('\0') == std::string_view::npos;
  for (size_t start = 0; ok && start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    ok = !segment.empty() && segment != "." && segment != "..";
    start = end + 1;
  }
  if (!ok) {
    ctx.error(v, "invalid " + quote(k) + " \"" + printable(*s) +
                     "\": must be the path of a file under root, without '.', '..' or empty "
                     "segments");
    return;
  }
  out.*Member = std::string(path);
}

constexpr Choice<Symlinks> kSymlinks[] = {
    {"follow", Symlinks::kFollow},
    {"owner", Symlinks::kOwner},
    {"beneath", Symlinks::kBeneath},
};

// 'redirect_https_status': 301 (the default) or 308 (keeps the method and body).
template <auto Member>
void redirect_status_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  const auto* n = v.as_integer();
  if (!n || (n->get() != 301 && n->get() != 308)) {
    return ctx.error(v, quote(k) + " must be 301 or 308");
  }
  out.*Member = static_cast<int>(n->get());
}

// A non-empty string kept with where it is written, for OpenSSL to judge later:
// tls_string_field<&SiteTls::ciphers, &SiteTls::ciphers_at> (a [[site]]'s) or
// <&Tls::ciphers, &Tls::ciphers_at> ([tls]).
template <auto Member, auto At>
void tls_string_field(std::string_view k, const Node& v, Context& ctx, ClassOf<Member>& out) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  if (s->empty()) return ctx.error(v, quote(k) + " must not be empty");
  out.*Member = *s;
  out.*At = source_at(v);
}

template <auto Member, auto At>
void site_tls_string_field(std::string_view k, const Node& v, Context& ctx, Site& site) {
  tls_string_field<Member, At>(k, v, ctx, site.tls);
}

// ---- TLS: [[site]] certificates and [tls] protocols ---------------------------------------------

// One path or an array of paths (an ECDSA and an RSA certificate), each made absolute and
// checked to be readable and not a directory. Refused entries are reported and left out.
std::vector<std::pair<std::string, SourceAt>> get_tls_files(std::string_view k, const Node& v,
                                                            Context& ctx) {
  std::vector<std::pair<std::string, SourceAt>> out;
  auto one = [&](const Node& n) {
    const std::string* s = get_string(k, n, ctx);
    if (!s) return;
    const std::string path = resolve(ctx, *s).lexically_normal().string();
    if (s->empty() || s->find('\0') != std::string::npos) {
      return ctx.error(n, quote(k) + " must be the path of a PEM file");
    }
    if (::access(path.c_str(), R_OK) != 0) {
      return ctx.error(n, std::string(k) + " \"" + printable(path) + "\": " + std::strerror(errno));
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return ctx.error(n,
                       std::string(k) + " \"" + printable(path) + "\": " + std::strerror(EISDIR));
    }
    out.emplace_back(path, source_at(n));
  };
  if (const auto* array = v.as_array()) {
    if (array->empty() || array->size() > 2) {
      ctx.error(v, quote(k) + " takes one or two files (an ECDSA and an RSA certificate)");
    }
    for (const Node& element : *array) one(element);
  } else {
    one(v);
  }
  return out;
}

void parse_certificates(std::string_view k, const Node& v, Context& ctx, Site& site) {
  auto files = get_tls_files(k, v, ctx);
  site.certificates.resize(std::max(site.certificates.size(), files.size()));
  for (size_t i = 0; i < files.size(); ++i) {
    std::tie(site.certificates[i].certificate, site.certificates[i].certificate_at) = files[i];
  }
}

void parse_certificate_keys(std::string_view k, const Node& v, Context& ctx, Site& site) {
  auto files = get_tls_files(k, v, ctx);
  site.certificates.resize(std::max(site.certificates.size(), files.size()));
  for (size_t i = 0; i < files.size(); ++i) {
    std::tie(site.certificates[i].key, site.certificates[i].key_at) = files[i];
  }
}

// Each certificate has its key: tls_certificate and tls_certificate_key give as many files.
void check_certificates(const toml::table& table, Site& site, Context& ctx) {
  const Node* cert = table.get("tls_certificate");
  const Node* key = table.get("tls_certificate_key");
  if (cert && !key) ctx.error(*cert, "'tls_certificate' needs 'tls_certificate_key'");
  if (key && !cert) ctx.error(*key, "'tls_certificate_key' needs 'tls_certificate'");
  if (!cert || !key) return;
  auto count = [](const Node* n) { return n->is_array() ? n->as_array()->size() : size_t(1); };
  if (count(cert) != count(key)) {
    ctx.error(*key, "'tls_certificate_key' must name as many files as 'tls_certificate'");
  }
  std::erase_if(site.certificates,
                [](const Certificate& c) { return c.certificate.empty() || c.key.empty(); });
}

// An array of "TLSv1.2" / "TLSv1.3": the protocols offered. Others (TLSv1, TLSv1.1, SSLv3) are
// refused: they are broken or deprecated (RFC 8996).
uint8_t get_protocols(std::string_view k, const Node& v, Context& ctx) {
  uint8_t set = 0;
  const auto* array = v.as_array();
  if (!array || array->empty()) {
    ctx.error(v, quote(k) + " must be a non-empty array of \"TLSv1.2\" and \"TLSv1.3\"");
    return 0;
  }
  for (const Node& element : *array) {
    const auto* s = element.as_string();
    if (s && s->get() == "TLSv1.2") {
      set |= kTls12;
    } else if (s && s->get() == "TLSv1.3") {
      set |= kTls13;
    } else {
      ctx.error(element, "unknown protocol " +
                             (s ? "\"" + printable(s->get()) + "\"" : written(element)) + " in " +
                             quote(k) + ": use \"TLSv1.2\" and/or \"TLSv1.3\"");
    }
  }
  return set;
}

void parse_site_protocols(std::string_view k, const Node& v, Context& ctx, Site& site) {
  if (uint8_t set = get_protocols(k, v, ctx)) site.tls.protocols = set;
}

// ---- [[site.route]] -----------------------------------------------------------------------------

// Whether the route says static = true (a value in error counts as false).
bool static_true(const toml::table& route) {
  const auto* b = route.get_as<bool>("static");
  return b && b->get();
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// A path prefix as the router sees request paths: decoded and normalized, so "//", "." and
// ".." never occur in them and a prefix holding one would never match.
void parse_prefix(std::string_view k, const Node& v, Context& ctx, Route& route) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  std::string why;
  if (!s->starts_with('/')) {
    why = "must start with '/'";
  } else if (std::any_of(s->begin(), s->end(), [](char c) {
               return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
             })) {
    why = "must not contain control characters";
  } else {
    for (size_t start = 1; start <= s->size() && why.empty();) {
      size_t end = s->find('/', start);
      if (end == std::string::npos) end = s->size();
      const std::string_view segment = std::string_view(*s).substr(start, end - start);
      if (segment == "." || segment == "..") why = "must not contain '.' or '..' segments";
      if (segment.empty() && end < s->size()) why = "must not contain '//'";
      start = end + 1;
    }
  }
  if (!why.empty()) {
    ctx.error(v, "invalid route prefix \"" + printable(*s) + "\": " + why);
    return;
  }
  route.prefix = *s;
}

void parse_static(std::string_view k, const Node& v, Context& ctx, Route& route) {
  const auto* b = v.as_boolean();
  if (!b) {
    ctx.error(v, quote(k) + " must be true or false");
    return;
  }
  if (b->get()) route.action = RouteAction::kStatic;
}

void parse_return(std::string_view k, const Node& v, Context& ctx, Route& route) {
  if (auto n = get_integer(k, v, ctx, 200, 599)) {
    route.action = RouteAction::kReturn;
    route.status = static_cast<int>(*n);
  }
}

// The Location header: a URL, so no spaces, and nothing that could end the header line.
void parse_location(std::string_view k, const Node& v, Context& ctx, Route& route) {
  const std::string* s = get_string(k, v, ctx);
  if (!s) return;
  if (s->empty() || std::any_of(s->begin(), s->end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      })) {
    ctx.error(v, quote(k) + " must be a URL, without spaces or control characters");
    return;
  }
  route.location = *s;
}

void parse_body(std::string_view k, const Node& v, Context& ctx, Route& route) {
  if (const std::string* s = get_string(k, v, ctx)) route.body = *s;
}

void parse_alias(std::string_view k, const Node& v, Context& ctx, Route& route) {
  set_directory(k, v, ctx, route.root);
  route.alias = true;
}

// 'root' and 'alias': one or the other. Neither they nor 'symlinks' go with 'return', which
// serves no file. An alias replaces the prefix, so the prefix must end in '/': with "/img" ->
// "/srv/img", the request "/img../x" would name "/srv/img/../x".
void check_route_root(const toml::table& table, const Route& route, Context& ctx) {
  const Node* alias = table.get("alias");
  if (alias && table.contains("root")) ctx.error(*alias, "'alias' cannot be combined with 'root'");
  for (const char* key : {"root", "alias", "symlinks"}) {
    const Node* n = table.get(key);
    if (n && table.contains("return"))
      ctx.error(*n, quote(key) + " cannot be combined with 'return'");
  }
  if (alias && !route.prefix.empty() && !route.prefix.ends_with('/')) {
    ctx.error(*alias,
              "'alias' needs a prefix that ends in '/' (got \"" + printable(route.prefix) + "\")");
  }
}

// One [[site.route]], with the checks that need only its own table. What it inherits from the
// site is filled in by finish_site().
Route parse_route(const toml::table& table, Context& ctx) {
  static constexpr Field<Route> kFields[] = {
      {"prefix", parse_prefix},
      {"php", pool_field<&Route::php_pool>},
      {"front_controller", front_controller_field<&Route::front_controller>},
      {"static", parse_static},
      {"return", parse_return},
      {"location", parse_location},
      {"body", parse_body},
      {"root", directory_field<&Route::root>},
      {"alias", parse_alias},
      {"symlinks", choice_field<&Route::symlinks, kSymlinks>},
      {"redirect_https", bool_field<&Route::redirect_https>},
      {"redirect_https_status", redirect_status_field<&Route::redirect_https_status>},
  };
  Route route;
  parse_fields(table, "[[site.route]]", kFields, ctx, route);
  if (!table.contains("prefix")) ctx.error(table, "missing 'prefix' in [[site.route]]");
  check_route_root(table, route, ctx);

  // static = true and return are actions of their own: PHP has no part in them.
  const bool is_static = static_true(table);
  const Node* ret = table.get("return");
  const char* const php_keys[] = {"php", "front_controller"};
  if (is_static) {
    if (ret) ctx.error(*ret, "'return' cannot be combined with 'static = true'");
    for (const char* key : php_keys) {
      if (const Node* n = table.get(key)) {
        ctx.error(*n, quote(key) + " cannot be combined with 'static = true'");
      }
    }
  } else if (ret) {
    for (const char* key : php_keys) {
      if (const Node* n = table.get(key)) {
        ctx.error(*n, quote(key) + " cannot be combined with 'return'");
      }
    }
  }
  if (!ret) {
    for (const char* key : {"location", "body"}) {
      if (const Node* n = table.get(key)) ctx.error(*n, quote(key) + " needs 'return'");
    }
  } else if (route.status != 0) {
    const std::string status = std::to_string(route.status);
    if (is_redirect(route.status) && !table.contains("location")) {
      ctx.error(*ret, "'return = " + status + "' needs 'location' (where to redirect)");
    }
    const Node* body = table.get("body");
    if (body && (route.status == 204 || route.status == 205 || route.status == 304)) {
      ctx.error(*body, "a " + status + " response has no body: leave 'body' out");
    }
  }
  return route;
}

void parse_routes(std::string_view k, const Node& v, Context& ctx, Site& site) {
  const toml::array* array = get_table_array(k, v, ctx, "site.route");
  if (!array) return;
  site.routes.clear();
  for (const Node& element : *array) {
    if (const auto* table = element.as_table()) site.routes.push_back(parse_route(*table, ctx));
  }
}

// The checks that need the whole site, what each route inherits from it (a route without
// 'php' uses the site's pool; a route with PHP and without 'front_controller' uses the site's;
// one without 'root' or 'alias' the site's root, one without 'symlinks' the site's), then the
// routes in matching order: longest prefix first.
void finish_site(const toml::table& table, Site& site, Context& ctx) {
  constexpr std::string_view kNeedsPhp = "'front_controller' needs 'php' (the pool that runs it)";
  const bool site_php = php_on(table.get("php"));
  if (const Node* fc = table.get("front_controller");
      fc && !site_php && !site.front_controller.empty()) {
    ctx.error(*fc, std::string(kNeedsPhp));
  }

  const auto* array = table["route"].as_array();
  if (!array) return;
  std::map<std::string, toml::source_position> seen;
  size_t i = 0;
  for (const Node& element : *array) {
    const auto* route_table = element.as_table();
    if (!route_table || i >= site.routes.size()) continue;
    Route& route = site.routes[i++];
    if (const Node* prefix = route_table->get("prefix"); prefix && !route.prefix.empty()) {
      const auto [it, fresh] = seen.emplace(route.prefix, prefix->source().begin);
      if (!fresh) {
        ctx.error(*prefix, "duplicate route prefix \"" + printable(route.prefix) +
                               "\" (first at line " + std::to_string(it->second.line) + ")");
      }
    }
    if (!route_table->contains("symlinks")) route.symlinks = site.symlinks;
    if (!route_table->contains("redirect_https")) route.redirect_https = site.redirect_https;
    if (!route_table->contains("redirect_https_status")) {
      route.redirect_https_status = site.redirect_https_status;
    }
    if (route_table->contains("return")) continue;  // no files, no PHP
    if (route.root.empty()) route.root = site.root;
    if (static_true(*route_table)) continue;  // parse_route() refused PHP there
    const Node* php = route_table->get("php");
    if (!php) route.php_pool = site.php_pool;
    const bool on = php ? php_on(php) : site_php;
    if (const Node* fc = route_table->get("front_controller")) {
      if (!on && !route.front_controller.empty()) ctx.error(*fc, std::string(kNeedsPhp));
    } else if (on) {
      route.front_controller = site.front_controller;
    }
  }
  std::stable_sort(site.routes.begin(), site.routes.end(), [](const Route& a, const Route& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

Site parse_site(const toml::table& table, Context& ctx) {
  static constexpr Field<Site> kFields[] = {
      {"server_names", parse_server_names},
      {"root", directory_field<&Site::root>},
      {"index", parse_index},
      {"symlinks", choice_field<&Site::symlinks, kSymlinks>},
      {"php", pool_field<&Site::php_pool>},
      {"front_controller", front_controller_field<&Site::front_controller>},
      {"route", parse_routes},
      {"tls_certificate", parse_certificates},
      {"tls_certificate_key", parse_certificate_keys},
      {"tls_protocols", parse_site_protocols},
      {"tls_ciphers", site_tls_string_field<&SiteTls::ciphers, &SiteTls::ciphers_at>},
      {"tls_ciphersuites",
       site_tls_string_field<&SiteTls::ciphersuites, &SiteTls::ciphersuites_at>},
      {"redirect_https", bool_field<&Site::redirect_https>},
      {"redirect_https_status", redirect_status_field<&Site::redirect_https_status>},
  };
  Site site;
  parse_fields(table, "[[site]]", kFields, ctx, site);
  if (!table.contains("root")) ctx.error(table, "missing 'root' in [[site]]");
  check_certificates(table, site, ctx);
  finish_site(table, site, ctx);
  return site;
}

// Reports a server name that an earlier site (or the same one) already has. `seen` maps each
// lower-cased name to where it first appeared.
void check_unique_names(const toml::table& site, std::map<std::string, toml::source_position>& seen,
                        Context& ctx) {
  const auto* names = site["server_names"].as_array();
  if (!names) return;
  for (const Node& element : *names) {
    const auto* s = element.as_string();
    if (!s || !check_server_name(s->get()).empty()) continue;
    const auto [it, fresh] = seen.emplace(canonical_server_name(s->get()), element.source().begin);
    if (fresh) continue;
    ctx.error(element, "duplicate server name \"" + it->first + "\" (first at line " +
                           std::to_string(it->second.line) + ")");
  }
}

std::vector<Site> parse_sites(const toml::array& array, Context& ctx) {
  std::vector<Site> sites;
  std::map<std::string, toml::source_position> seen;
  for (const Node& element : array) {
    const auto* table = element.as_table();
    if (!table) continue;
    sites.push_back(parse_site(*table, ctx));
    check_unique_names(*table, seen, ctx);
  }
  return sites;
}

// ---- [limits] -----------------------------------------------------------------------------------

Limits parse_limits(const toml::table& table, Context& ctx) {
  static constexpr Field<Limits> kFields[] = {
      {"max_request_line", size_field<&Limits::max_request_line, 256, 1 << 20>},
      {"max_header_size", size_field<&Limits::max_header_size, 1 << 10, 16 << 20>},
      {"max_headers", integer_field<&Limits::max_headers, 1, 10000>},
      {"max_body_size", size_field<&Limits::max_body_size, 0, INT64_MAX>},
      {"keepalive_requests", integer_field<&Limits::keepalive_requests, 1, UINT32_MAX>},
      {"body_buffer_size", size_field<&Limits::body_buffer_size, 1 << 10, 1 << 30>},
  };
  Limits limits;
  const size_t errors_before = ctx.error_count();
  parse_fields(table, "[limits]", kFields, ctx, limits);
  // The head includes the request line. Only checked when both values were accepted.
  if (ctx.error_count() == errors_before && limits.max_header_size < limits.max_request_line) {
    const Node* at = table.get("max_header_size");
    ctx.error(at ? *at : *table.get("max_request_line"),
              "'max_header_size' (" + format_size(limits.max_header_size) +
                  ") must not be less than 'max_request_line' (" +
                  format_size(limits.max_request_line) + ")");
  }
  return limits;
}

// ---- [timeouts] ---------------------------------------------------------------------------------

Timeouts parse_timeouts(const toml::table& table, Context& ctx) {
  // Milliseconds. keepalive 0 turns keep-alive off; drain 0 exits at once.
  static constexpr Field<Timeouts> kFields[] = {
      {"header", duration_field<&Timeouts::header, 1, kMaxTimeoutMs>},
      {"body", duration_field<&Timeouts::body, 1, kMaxTimeoutMs>},
      {"keepalive", duration_field<&Timeouts::keepalive, 0, kMaxTimeoutMs>},
      {"send", duration_field<&Timeouts::send, 1, kMaxTimeoutMs>},
      {"drain", duration_field<&Timeouts::drain, 0, kMaxTimeoutMs>},
  };
  Timeouts timeouts;
  parse_fields(table, "[timeouts]", kFields, ctx, timeouts);
  return timeouts;
}

// ---- [http2] ------------------------------------------------------------------------------------

Http2 parse_http2(const toml::table& table, Context& ctx) {
  static constexpr Field<Http2> kFields[] = {
      {"max_concurrent_streams", integer_field<&Http2::max_concurrent_streams, 1, 10000>},
      {"max_streams", integer_field<&Http2::max_streams, 1, 1 << 30>},
      {"initial_window", size_field<&Http2::initial_window, 1 << 10, INT32_MAX>},
      {"body_preread", size_field<&Http2::body_preread, 1 << 10, INT32_MAX>},
      {"connection_window", size_field<&Http2::connection_window, 1 << 16, INT32_MAX>},
      {"reset_burst", integer_field<&Http2::reset_burst, 1, 1000000>},
      {"reset_rate", integer_field<&Http2::reset_rate, 0, 1000000>},
      {"flood_burst", integer_field<&Http2::flood_burst, 1, 1000000>},
      {"flood_rate", integer_field<&Http2::flood_rate, 0, 1000000>},
      {"max_continuations", integer_field<&Http2::max_continuations, 1, 10000>},
      {"idle_timeout", duration_field<&Http2::idle_timeout, 1, kMaxTimeoutMs>},
  };
  Http2 h2;
  parse_fields(table, "[http2]", kFields, ctx, h2);
  return h2;
}

// ---- [access_log] -------------------------------------------------------------------------------

// "off" is not a LogFormat: it clears AccessLog::enabled.
constexpr Choice<std::optional<LogFormat>> kLogFormats[] = {
    {"combined", LogFormat::kCombined},
    {"json", LogFormat::kJson},
    {"off", std::nullopt},
};

void parse_log_format(std::string_view k, const Node& v, Context& ctx, AccessLog& log) {
  const auto format = get_choice(k, v, ctx, kLogFormats);
  if (!format) return;
  log.enabled = format->has_value();
  log.format = format->value_or(LogFormat::kCombined);
}

AccessLog parse_access_log(const toml::table& table, Context& ctx) {
  static constexpr Field<AccessLog> kFields[] = {
      {"format", parse_log_format},
      {"path", log_path_field<&AccessLog::path, &AccessLog::path_at>},
  };
  AccessLog log;
  parse_fields(table, "[access_log]", kFields, ctx, log);
  return log;
}

// ---- [tls] --------------------------------------------------------------------------------------

void parse_tls_protocols(std::string_view k, const Node& v, Context& ctx, Tls& tls) {
  if (uint8_t set = get_protocols(k, v, ctx)) tls.protocols = set;
}

constexpr Choice<Ktls> kKtls[] = {
    {"auto", Ktls::kAuto},
    {"on", Ktls::kOn},
    {"off", Ktls::kOff},
};

Tls parse_tls(const toml::table& table, Context& ctx) {
  static constexpr Field<Tls> kFields[] = {
      {"protocols", parse_tls_protocols},
      {"ciphers", tls_string_field<&Tls::ciphers, &Tls::ciphers_at>},
      {"ciphersuites", tls_string_field<&Tls::ciphersuites, &Tls::ciphersuites_at>},
      {"groups", tls_string_field<&Tls::groups, &Tls::groups_at>},
      {"session_tickets", bool_field<&Tls::session_tickets>},
      {"handshake_timeout", duration_field<&Tls::handshake_timeout, 1, kMaxTimeoutMs>},
      {"ktls", choice_field<&Tls::ktls, kKtls>},
  };
  Tls tls;
  parse_fields(table, "[tls]", kFields, ctx, tls);
  return tls;
}

// Checks across sections: a TLS listener needs a certificate on the default site (the first
// without server_names, else the first), which is what a client without SNI, or with a name no
// site has, gets (nginx refuses an ssl listener whose default server has no certificate too);
// and one port is either TLS or plaintext on every address.
void check_tls(const toml::table& root, const Config& config, Context& ctx) {
  const auto* listens = root["listen"].as_array();
  if (!listens) return;
  const bool default_certificate = config.default_site < config.sites.size() &&
                                   !config.sites[config.default_site].certificates.empty();
  size_t i = 0;
  for (const Node& element : *listens) {
    const auto* table = element.as_table();
    if (!table || i >= config.listens.size()) continue;
    const Listen& l = config.listens[i++];
    const Node* tls = table->get("tls");
    if (l.tls && !default_certificate) {
      ctx.error(*tls,
                "a listener with 'tls = true' needs 'tls_certificate' on the default [[site]] "
                "(the first without server_names, else the first): clients without SNI, or with "
                "a name no site has, get its certificate");
    }
    for (size_t j = 0; j + 1 < i; ++j) {
      const Listen& other = config.listens[j];
      if (other.tls == l.tls || port_of(l) == 0 || port_of(l) != port_of(other)) continue;
      ctx.error(tls ? *tls : *table, "port " + std::to_string(port_of(l)) +
                                         " is TLS on one listener and plaintext on another");
      break;
    }
  }
}

// ---- The whole file -----------------------------------------------------------------------------

constexpr Field<Config> kSections[] = {
    {"server", table_field<&Config::server, parse_server>},
    {"listen", table_array_field<&Config::listens, parse_listens>},
    {"site", table_array_field<&Config::sites, parse_sites>},
    {"pool", table_array_field<&Config::pools, parse_pools>},
    {"limits", table_field<&Config::limits, parse_limits>},
    {"timeouts", table_field<&Config::timeouts, parse_timeouts>},
    {"http2", table_field<&Config::http2, parse_http2>},
    {"access_log", table_field<&Config::access_log, parse_access_log>},
    {"tls", table_field<&Config::tls, parse_tls>},
};

// An array-of-tables section that must have at least one entry. When it is missing the error
// points at the start of the file.
void require_entries(const toml::table& root, std::string_view key, Context& ctx) {
  const Node* node = root.get(key);
  const std::string message = "at least one [[" + std::string(key) + "]] is required";
  if (!node) {
    ctx.error(root, message);
  } else if (const auto* array = node->as_array(); array && array->empty()) {
    ctx.error(*node, message);
  }
}

Config parse_config(const toml::table& root, Context& ctx) {
  Config config;
  index_pool_names(root, ctx);
  parse_fields(root, "", kSections, ctx, config);
  require_entries(root, "listen", ctx);
  require_entries(root, "site", ctx);
  const auto unnamed = std::find_if(config.sites.begin(), config.sites.end(),
                                    [](const Site& s) { return s.server_names.empty(); });
  config.default_site =
      unnamed == config.sites.end() ? 0 : static_cast<size_t>(unnamed - config.sites.begin());
  check_tls(root, config, ctx);  // needs default_site
  return config;
}

LoadResult finish(Context& ctx, std::optional<Config> config) {
  LoadResult result;
  result.errors = ctx.take_errors();
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

std::string Diagnostic::to_string() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

LoadResult load_string(std::string_view text, const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec).lexically_normal();
  if (ec) absolute = fs::path(path).lexically_normal();
  Context ctx(path, absolute.parent_path());
  if (std::optional<NestingError> deep = check_nesting(text)) {
    ctx.error(toml::source_position{deep->line, deep->column}, std::move(deep->message));
    return finish(ctx, std::nullopt);
  }
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& e) {
    ctx.error(e.source().begin, std::string(e.description()));
    return finish(ctx, std::nullopt);
  }
  Config config = parse_config(root, ctx);
  config.path = absolute.string();
  config.file = path;
  return finish(ctx, std::move(config));
}

LoadResult load_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  std::string text;
  int err = f ? 0 : errno;
  if (f) {
    errno = 0;
    char buf[16384];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    if (std::ferror(f)) err = errno ? errno : EIO;
    std::fclose(f);
  }
  if (err != 0) {
    LoadResult result;
    result.errors.push_back({path, 0, 0, std::string("cannot read: ") + std::strerror(err)});
    return result;
  }
  LoadResult result = load_string(text, path);
  result.text = std::move(text);
  return result;
}

}  // namespace askr::config
