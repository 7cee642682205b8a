#include "shared/config/load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/un.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "shared/config/units.h"

namespace askr::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The errors of a refused config as "LINE: message", in order.
std::vector<std::string> numbered_errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.errors) out.push_back(std::to_string(d.line) + ": " + d.message);
  return out;
}

// ---- Sizes and durations ------------------------------------------------------------------------

TEST(Units, Sizes) {
  struct Case {
    std::string_view text;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"512", 512},
      {"8k", 8192},
      {"8K", 8192},
      {"1m", 1 << 20},
      {"1M", 1 << 20},
      {"32k", 32768},
      {"1g", uint64_t{1} << 30},
      {"1G", uint64_t{1} << 30},
      {"1024g", uint64_t{1} << 40},
      {"007", 7},
      {"18446744073709551615", UINT64_MAX},
  };
  for (const Case& c : cases) {
    const Result<uint64_t> r = parse_size(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_EQ(r.value(), c.bytes) << c.text;
  }
}

TEST(Units, BadSizes) {
  const std::string_view bad[] = {"",
                                  "k",
                                  "-1",
                                  "+1",
                                  "1.5k",
                                  "8 k",
                                  " 8k",
                                  "8kb",
                                  "8t",
                                  "8kk",
                                  "0x10",
                                  "1e3",
                                  "8k ",
                                  "ms",
                                  "18446744073709551616",
                                  "17179869184g"};
  for (std::string_view text : bad) {
    EXPECT_FALSE(parse_size(text).ok()) << "'" << text << "'";
  }
  EXPECT_EQ(parse_size("8q").error().message,
            "expected a number of bytes, optionally followed by k, m or g");
  EXPECT_EQ(parse_size("17179869184g").error().message, "too large");
}

TEST(Units, Durations) {
  struct Case {
    std::string_view text;
    milliseconds ms;
  };
  const Case cases[] = {
      {"0", milliseconds(0)},          {"60", seconds(60)},           {"500ms", milliseconds(500)},
      {"500MS", milliseconds(500)},    {"60s", seconds(60)},          {"60S", seconds(60)},
      {"2m", std::chrono::minutes(2)}, {"1h", std::chrono::hours(1)}, {"1H", std::chrono::hours(1)},
      {"0ms", milliseconds(0)},        {"75s", seconds(75)},
  };
  for (const Case& c : cases) {
    const Result<milliseconds> r = parse_duration(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_EQ(r.value(), c.ms) << c.text;
  }
}

TEST(Units, BadDurations) {
  const std::string_view bad[] = {"",
                                  "s",
                                  "-1s",
                                  "1.5s",
                                  "1m30s",
                                  "1 s",
                                  "1d",
                                  "1us",
                                  "1sec",
                                  "s1",
                                  "1hh",
                                  "99999999999999999999ms",
                                  "9999999999999999h"};
  for (std::string_view text : bad) {
    EXPECT_FALSE(parse_duration(text).ok()) << "'" << text << "'";
  }
  EXPECT_EQ(parse_duration("9999999999999999h").error().message, "too large");
}

TEST(Units, Format) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(8192), "8k");
  EXPECT_EQ(format_size(1 << 20), "1m");
  EXPECT_EQ(format_size(3 << 29), "1536m");
  EXPECT_EQ(format_size(uint64_t{1} << 30), "1g");
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(seconds(75)), "75s");
  EXPECT_EQ(format_duration(seconds(120)), "2m");
  EXPECT_EQ(format_duration(std::chrono::hours(24)), "24h");
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, uint64_t{4096}, uint64_t{12345678}}) {
    EXPECT_EQ(parse_size(format_size(n)).value(), n);
  }
  for (int64_t ms : {0, 1, 999, 60000, 90000, 3600000}) {
    EXPECT_EQ(parse_duration(format_duration(milliseconds(ms))).value(), milliseconds(ms));
  }
}

// ---- Loading ------------------------------------------------------------------------------------

// A scratch directory holding askr.toml's neighbours: a www/ directory and a plain file.
class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/askr-config-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ / "www");
    std::ofstream(dir_ / "file.txt") << "x";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string config_path() const { return (dir_ / "askr.toml").string(); }

  // Loads `text` as if it were dir_/askr.toml. A leading newline is dropped, so that a raw
  // string's first line is line 1.
  LoadResult load(std::string_view text) const {
    if (text.starts_with('\n')) text.remove_prefix(1);
    return load_string(text, config_path());
  }

  // Loads `text` and expects exactly the given diagnostics, as "LINE:COLUMN: message".
  void expect_errors(std::string_view text, const std::vector<std::string>& expected) const {
    const LoadResult r = load(text);
    EXPECT_FALSE(r.config.has_value());
    std::vector<std::string> got;
    for (const Diagnostic& d : r.errors) {
      EXPECT_EQ(d.file, config_path());
      got.push_back(std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message);
    }
    EXPECT_EQ(got, expected) << text;
  }

  // Loads `text` and returns its config, failing the test with the diagnostics if any.
  Config load_ok(std::string_view text) const {
    LoadResult r = load(text);
    for (const Diagnostic& d : r.errors) ADD_FAILURE() << d.to_string();
    EXPECT_TRUE(r.config.has_value());
    return r.config.value_or(Config{});
  }

  fs::path dir_;
};

// The smallest valid file, to which a test adds the lines it is about.
constexpr std::string_view kMinimal = R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "www"
)";

std::string minimal_plus(std::string_view more) {
  return std::string(kMinimal) + std::string(more);
}

const sockaddr_in& v4(const Listen& l) {
  return *reinterpret_cast<const sockaddr_in*>(&l.addr);
}
const sockaddr_in6& v6(const Listen& l) {
  return *reinterpret_cast<const sockaddr_in6*>(&l.addr);
}

TEST_F(LoadTest, FullFile) {
  fs::create_directory(dir_ / "blog");
  const Config c = load_ok(R"(
[server]
threads = 4
io_backend = "epoll"
error_log = "logs/error.log"
log_level = "debug"
max_connections = 100

[[listen]]
address = "127.0.0.1:8080"

[[listen]]
address = "[::1]:8443"

[[site]]
server_names = ["Example.COM", "www.example.com"]
root = "www"
index = ["index.php", "index.html"]

[[site]]
root = "blog/"
index = []

[limits]
max_request_line = "4k"
max_header_size = "64K"
max_headers = 50
max_body_size = "10m"
keepalive_requests = 500

[timeouts]
header = "30s"
body = 20
keepalive = "2m"
send = "500ms"
drain = "1h"

[access_log]
format = "json"
path = "/var/log/askr/access.log"
)");
  EXPECT_EQ(c.path, config_path());
  EXPECT_EQ(c.server.threads, 4u);
  EXPECT_EQ(c.server.io_backend, IoBackend::kEpoll);
  EXPECT_EQ(c.server.error_log, (dir_ / "logs/error.log").string());
  EXPECT_EQ(c.server.log_level, "debug");
  EXPECT_EQ(c.server.max_connections, 100u);

  ASSERT_EQ(c.listens.size(), 2u);
  EXPECT_EQ(c.listens[0].text, "127.0.0.1:8080");
  EXPECT_EQ(c.listens[0].addr.ss_family, AF_INET);
  EXPECT_EQ(c.listens[0].addr_len, sizeof(sockaddr_in));
  EXPECT_EQ(ntohs(v4(c.listens[0]).sin_port), 8080);
  EXPECT_EQ(ntohl(v4(c.listens[0]).sin_addr.s_addr), INADDR_LOOPBACK);
  EXPECT_EQ(c.listens[1].text, "[::1]:8443");
  EXPECT_EQ(c.listens[1].addr.ss_family, AF_INET6);
  EXPECT_EQ(ntohs(v6(c.listens[1]).sin6_port), 8443);

  const std::string real_dir = fs::canonical(dir_).string();
  ASSERT_EQ(c.sites.size(), 2u);
  EXPECT_EQ(c.sites[0].server_names, (std::vector<std::string>{"example.com", "www.example.com"}));
  EXPECT_EQ(c.sites[0].root, real_dir + "/www");
  EXPECT_EQ(c.sites[0].index, (std::vector<std::string>{"index.php", "index.html"}));
  EXPECT_TRUE(c.sites[1].server_names.empty());
  EXPECT_EQ(c.sites[1].root, real_dir + "/blog");
  EXPECT_TRUE(c.sites[1].index.empty());
  EXPECT_EQ(c.default_site, 1u);

  EXPECT_EQ(c.limits.max_request_line, 4096u);
  EXPECT_EQ(c.limits.max_header_size, 65536u);
  EXPECT_EQ(c.limits.max_headers, 50u);
  EXPECT_EQ(c.limits.max_body_size, 10u << 20);
  EXPECT_EQ(c.limits.keepalive_requests, 500u);

  EXPECT_EQ(c.timeouts.header, seconds(30));
  EXPECT_EQ(c.timeouts.body, seconds(20));
  EXPECT_EQ(c.timeouts.keepalive, std::chrono::minutes(2));
  EXPECT_EQ(c.timeouts.send, milliseconds(500));
  EXPECT_EQ(c.timeouts.drain, std::chrono::hours(1));

  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.format, LogFormat::kJson);
  EXPECT_EQ(c.access_log.path, "/var/log/askr/access.log");
}

TEST_F(LoadTest, Defaults) {
  const Config c = load_ok(kMinimal);
  EXPECT_EQ(c.server.threads, 0u);
  EXPECT_EQ(c.server.io_backend, IoBackend::kAuto);
  EXPECT_EQ(c.server.error_log, "stderr");
  EXPECT_EQ(c.server.log_level, "info");
  EXPECT_EQ(c.server.max_connections, 16384u);
  ASSERT_EQ(c.sites.size(), 1u);
  EXPECT_TRUE(c.sites[0].server_names.empty());
  EXPECT_EQ(c.sites[0].index, std::vector<std::string>{"index.html"});
  EXPECT_EQ(c.default_site, 0u);
  EXPECT_EQ(c.limits.max_request_line, 8192u);
  EXPECT_EQ(c.limits.max_header_size, 32768u);
  EXPECT_EQ(c.limits.max_headers, 100u);
  EXPECT_EQ(c.limits.max_body_size, 1u << 20);
  EXPECT_EQ(c.limits.keepalive_requests, 1000u);
  EXPECT_EQ(c.timeouts.header, seconds(60));
  EXPECT_EQ(c.timeouts.body, seconds(60));
  EXPECT_EQ(c.timeouts.keepalive, seconds(75));
  EXPECT_EQ(c.timeouts.send, seconds(60));
  EXPECT_EQ(c.timeouts.drain, seconds(10));
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.format, LogFormat::kCombined);
  EXPECT_EQ(c.access_log.path, "stderr");

  // Empty sections are the same as absent ones.
  const Config e = load_ok(minimal_plus("[server]\n[limits]\n[timeouts]\n[access_log]\n"));
  EXPECT_EQ(e.server.threads, 0u);
  EXPECT_EQ(e.limits.max_headers, 100u);
  EXPECT_EQ(e.timeouts.keepalive, seconds(75));
  EXPECT_TRUE(e.access_log.enabled);
}

TEST_F(LoadTest, SizesAndDurationsInTheFile) {
  const Config c = load_ok(minimal_plus(R"(
[limits]
max_request_line = 1024
max_header_size = "1M"
max_body_size = 0
[timeouts]
header = "1500ms"
keepalive = 0
drain = "0s"
)"));
  EXPECT_EQ(c.limits.max_request_line, 1024u);
  EXPECT_EQ(c.limits.max_header_size, 1u << 20);
  EXPECT_EQ(c.limits.max_body_size, 0u);
  EXPECT_EQ(c.timeouts.header, milliseconds(1500));
  EXPECT_EQ(c.timeouts.keepalive, milliseconds(0));
  EXPECT_EQ(c.timeouts.drain, milliseconds(0));
}

TEST_F(LoadTest, Threads) {
  EXPECT_EQ(load_ok(minimal_plus("[server]\nthreads = \"auto\"\n")).server.threads, 0u);
  EXPECT_EQ(load_ok(minimal_plus("[server]\nthreads = 1\n")).server.threads, 1u);
  EXPECT_EQ(load_ok(minimal_plus("[server]\nthreads = 1024\n")).server.threads, 1024u);
  expect_errors(minimal_plus("[server]\nthreads = 0\n"),
                {"6:11: 'threads' must be between 1 and 1024 (got 0)"});
  expect_errors(minimal_plus("[server]\nthreads = 1025\n"),
                {"6:11: 'threads' must be between 1 and 1024 (got 1025)"});
  expect_errors(minimal_plus("[server]\nthreads = -2\n"),
                {"6:11: 'threads' must be between 1 and 1024 (got -2)"});
  expect_errors(minimal_plus("[server]\nthreads = \"4\"\n"),
                {"6:11: 'threads' must be \"auto\" or an integer"});
  expect_errors(minimal_plus("[server]\nthreads = \"Auto\"\n"),
                {"6:11: 'threads' must be \"auto\" or an integer"});
  expect_errors(minimal_plus("[server]\nthreads = 2.0\n"),
                {"6:11: 'threads' must be \"auto\" or an integer"});
  expect_errors(minimal_plus("[server]\nthreads = true\n"),
                {"6:11: 'threads' must be \"auto\" or an integer"});
}

TEST_F(LoadTest, MaxConnections) {
  EXPECT_EQ(load_ok(minimal_plus("[server]\nmax_connections = 1\n")).server.max_connections, 1u);
  EXPECT_EQ(load_ok(minimal_plus("[server]\nmax_connections = 1000000\n")).server.max_connections,
            1000000u);
  expect_errors(minimal_plus("[server]\nmax_connections = 0\n"),
                {"6:19: 'max_connections' must be between 1 and 1000000 (got 0)"});
  expect_errors(minimal_plus("[server]\nmax_connections = 1000001\n"),
                {"6:19: 'max_connections' must be between 1 and 1000000 (got 1000001)"});
  expect_errors(minimal_plus("[server]\nmax_connections = \"10\"\n"),
                {"6:19: 'max_connections' must be an integer"});
}

TEST_F(LoadTest, SyntaxError) {
  expect_errors(R"(
[server]
threads = = 4
)",
                {"2:11: Error while parsing value: could not determine value type"});
  expect_errors("[server]\nthreads = 1\nthreads = 2\n",
                {"3:11: Error while parsing key-value pair: cannot redefine existing integer "
                 "'threads'"});
}

// toml++ builds and frees nested tables recursively: a table header or a key of a few hundred
// thousand dotted parts overflowed the stack (a crash of `askr-proxy -t`). Nesting deeper than 64
// levels is refused before toml++ sees the file, at the place it goes deeper.
TEST_F(LoadTest, DeepNestingIsRefusedBeforeParsing) {
  const std::string message =
      ": tables and arrays nested more than 64 levels deep (each part of a dotted key is one "
      "level)";
  auto parts = [](size_t n, std::string_view sep) {
    std::string s = "a";
    for (size_t i = 1; i < n; ++i) s.append(sep).append("a");
    return s;
  };
  // The 64th dot starts the 65th level.
  expect_errors("[" + parts(400000, ".") + "]\n", {"1:129" + message});
  expect_errors("[[" + parts(400000, ".") + "]]\n", {"1:130" + message});
  expect_errors(parts(400000, ".") + " = 1\n", {"1:128" + message});
  expect_errors("[" + parts(400000, " . ") + "]\n", {"1:256" + message});
  expect_errors("x = " + std::string(400000, '[') + std::string(400000, ']') + "\n",
                {"1:69" + message});
  // Levels add up: a table's keys are below it, an inline table's keys below it.
  expect_errors(
      "[" + parts(30, ".") + "]\n" + parts(30, ".") + " = { " + parts(4, ".") + " = [[1]] }\n",
      {"2:76" + message});
}

TEST_F(LoadTest, NestingInStringsAndCommentsIsNotCounted) {
  const std::string brackets(1000, '[');
  const std::string dots(1000, '.');
  const LoadResult r = load(
      minimal_plus("# " + brackets + "\n[server] # " + dots + "\nerror_log = \"" + brackets + dots +
                   "\" # [[\n\"" + dots + "\" = 1\n'" + dots + "' = 1\nx = '''\n" + brackets +
                   "\n" + dots + "'''\ny = \"\"\"\\\"\"\"" + brackets + "\"\"\"\n"));
  for (const Diagnostic& d : r.errors) {
    EXPECT_EQ(d.message.find("nested"), std::string::npos) << d.to_string();
  }
  EXPECT_FALSE(r.errors.empty());  // the unknown keys
}

TEST_F(LoadTest, NestingUpTo64LevelsIsLeftToTheParser) {
  std::string header = "a";
  for (int i = 1; i < 63; ++i) header += ".a";
  expect_errors("[" + header + "]\nb = 1\n",
                {"1:1: at least one [[listen]] is required",
                 "1:1: at least one [[site]] is required", "1:2: unknown key 'a'"});
}

TEST_F(LoadTest, UnknownKeys) {
  expect_errors(minimal_plus(R"(
[server]
threads = 2
thread = 2
[limits.extra]
a = 1
[[upstream]]
name = "app"
)"),
                {"8:1: unknown key 'thread' in [server]", "9:9: unknown key 'extra' in [limits]",
                 "11:3: unknown key 'upstream'"});
  expect_errors(
      R"(
[[listen]]
address = "127.0.0.1:8080"
port = 80
[[site]]
root = "www"
try_files = ["$uri"]
[[site.route]]
prefix = "/"
path = "/"
[[pool]]
name = "fpm"
fastcgi = "127.0.0.1:9000"
socket = "/run/fpm.sock"
)",
      {"3:1: unknown key 'port' in [[listen]]", "6:1: unknown key 'try_files' in [[site]]",
       "9:1: unknown key 'path' in [[site.route]]", "13:1: unknown key 'socket' in [[pool]]"});
  expect_errors(minimal_plus("[access_log]\nenabled = false\n"),
                {"6:1: unknown key 'enabled' in [access_log]"});
  // A key before the first table header is a top-level key (after one, it would belong to
  // that table).
  expect_errors("hello = 1\n" + std::string(kMinimal), {"1:1: unknown key 'hello'"});
}

TEST_F(LoadTest, WrongTypes) {
  expect_errors(minimal_plus(R"(
[server]
io_backend = 1
error_log = 5
[limits]
max_headers = "100"
max_body_size = 1.5
[timeouts]
send = true
[access_log]
format = "text"
)"),
                {
                    "7:14: 'io_backend' must be \"auto\", \"io_uring\" or \"epoll\"",
                    "8:13: 'error_log' must be a string",
                    "10:15: 'max_headers' must be an integer",
                    "11:17: 'max_body_size' must be a size: an integer number of bytes or a "
                    "string such as \"8k\"",
                    "13:8: 'send' must be a duration: an integer number of seconds or a string "
                    "such as \"60s\"",
                    "15:10: 'format' must be \"combined\", \"json\" or \"off\"",
                });
  expect_errors(R"(
server = "x"
[listen]
address = "127.0.0.1:80"
[[site]]
root = "www"
)",
                {"1:10: 'server' must be a table ([server])",
                 "2:1: 'listen' must be an array of tables ([[listen]])"});
  expect_errors(R"(
listen = ["127.0.0.1:80", {address = "127.0.0.1:81"}]
[[site]]
root = 1
server_names = "a.example"
index = ["ok.html", 2]
)",
                {"1:11: 'listen' must be an array of tables ([[listen]])",
                 "3:8: 'root' must be a string", "4:16: 'server_names' must be an array of strings",
                 "5:21: 'index' must be an array of strings"});
}

TEST_F(LoadTest, OutOfRange) {
  expect_errors(minimal_plus(R"(
[server]
log_level = "trace"
[limits]
max_request_line = "64"
max_headers = 0
max_body_size = -1
keepalive_requests = 0
max_header_size = "32g"
[timeouts]
header = 0
body = "25h"
drain = -1
keepalive = "1x"
)"),
                {
                    "7:13: 'log_level' must be \"error\", \"warn\", \"info\" or \"debug\"",
                    "9:20: 'max_request_line' must be between 256 and 1m (got 64)",
                    "10:15: 'max_headers' must be between 1 and 10000 (got 0)",
                    "11:17: 'max_body_size' must not be negative",
                    "12:22: 'keepalive_requests' must be between 1 and 4294967295 (got 0)",
                    "13:19: 'max_header_size' must be between 1k and 16m (got 32g)",
                    "15:10: 'header' must be between 1ms and 24h (got 0)",
                    "16:8: 'body' must be between 1ms and 24h (got 25h)",
                    "17:9: 'drain' must not be negative",
                    "18:13: invalid duration \"1x\" for 'keepalive': expected a number of "
                    "seconds, or a number followed by ms, s, m or h",
                });
  expect_errors(minimal_plus("[limits]\nmax_body_size = \"2 m\"\n"),
                {"6:17: invalid size \"2 m\" for 'max_body_size': expected a number of bytes, "
                 "optionally followed by k, m or g"});
}

TEST_F(LoadTest, HeaderSizeBelowRequestLine) {
  expect_errors(minimal_plus("[limits]\nmax_request_line = \"16k\"\nmax_header_size = \"8k\"\n"),
                {"7:19: 'max_header_size' (8k) must not be less than 'max_request_line' (16k)"});
  expect_errors(minimal_plus("[limits]\nmax_request_line = \"64k\"\n"),
                {"6:20: 'max_header_size' (32k) must not be less than 'max_request_line' (64k)"});
  // Equal is fine.
  EXPECT_EQ(load_ok(minimal_plus("[limits]\nmax_request_line = \"32k\"\n")).limits.max_request_line,
            32768u);
}

TEST_F(LoadTest, MissingListenAndSite) {
  expect_errors(
      "", {"1:1: at least one [[listen]] is required", "1:1: at least one [[site]] is required"});
  expect_errors(R"(
[server]
threads = 2
[[site]]
root = "www"
)",
                {"1:1: at least one [[listen]] is required"});
  expect_errors(R"(
listen = []
[[listen]]
)",
                {"2:1: Error while parsing table header: cannot redefine existing array 'listen' "
                 "as array-of-tables"});
}

TEST_F(LoadTest, EmptyListenArray) {
  expect_errors(
      R"(
listen = []
site = []
)",
      {"1:10: at least one [[listen]] is required", "2:8: at least one [[site]] is required"});
}

TEST_F(LoadTest, ListenWithoutAddress) {
  expect_errors(R"(
[[listen]]
[[site]]
root = "www"
)",
                {"1:1: missing 'address' in [[listen]]"});
}

TEST_F(LoadTest, SiteWithoutRoot) {
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"

[[site]]
server_names = ["a.example"]
)",
                {"4:1: missing 'root' in [[site]]"});
}

TEST_F(LoadTest, RootNotADirectory) {
  const std::string d = dir_.string();
  expect_errors(minimal_plus(R"(
[[site]]
server_names = ["a.example"]
root = "missing"
[[site]]
server_names = ["b.example"]
root = "file.txt"
[[site]]
server_names = ["c.example"]
root = ""
[[site]]
server_names = ["d.example"]
root = "www\u0000/x"
)"),
                {"8:8: root \"" + d + "/missing\": No such file or directory",
                 "11:8: root \"" + d + "/file.txt\" is not a directory",
                 "14:8: 'root' must be the path of a directory",
                 "17:8: 'root' must be the path of a directory"});
}

TEST_F(LoadTest, RelativeRoot) {
  // dir_/conf/askr.toml with root "../site/public", and a symbolic link to it.
  fs::create_directories(dir_ / "conf");
  fs::create_directories(dir_ / "site" / "public");
  fs::create_directory_symlink(dir_ / "site" / "public", dir_ / "conf" / "link");
  const std::string text = R"([[listen]]
address = "127.0.0.1:0"
[[site]]
server_names = ["one"]
root = "../site/public/"
[[site]]
server_names = ["two"]
root = "link"
[[site]]
server_names = ["three"]
root = "../conf/link/."
[[site]]
root = ")" + dir_.string() +
                           R"(/site//public"
)";
  const std::string real = fs::canonical(dir_ / "site" / "public").string();
  const LoadResult r = load_string(text, (dir_ / "conf" / "askr.toml").string());
  for (const Diagnostic& d : r.errors) ADD_FAILURE() << d.to_string();
  ASSERT_TRUE(r.config.has_value());
  ASSERT_EQ(r.config->sites.size(), 4u);
  for (const Site& s : r.config->sites) EXPECT_EQ(s.root, real);
  EXPECT_EQ(r.config->default_site, 3u);
}

TEST_F(LoadTest, RelativeConfigPath) {
  // A relative config path is taken from the current directory.
  const fs::path old = fs::current_path();
  fs::current_path(dir_);
  const LoadResult r = load_string(std::string(kMinimal.substr(1)), "askr.toml");
  fs::current_path(old);
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->path, (dir_ / "askr.toml").string());
  EXPECT_EQ(r.config->file, "askr.toml");  // as diagnostics name it
  EXPECT_EQ(r.config->sites[0].root, fs::canonical(dir_ / "www").string());
}

TEST_F(LoadTest, LogPaths) {
  const Config c = load_ok(minimal_plus(R"(
[server]
error_log = "logs/../error.log"
[access_log]
format = "off"
path = "/var/log//access.log"
)"));
  EXPECT_EQ(c.server.error_log, (dir_ / "error.log").string());
  EXPECT_FALSE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "/var/log/access.log");
  expect_errors(minimal_plus("[server]\nerror_log = \"logs/\"\n[access_log]\npath = \"\"\n"),
                {"6:13: 'error_log' must be \"stderr\" or the path of a file",
                 "8:8: 'path' must be \"stderr\" or the path of a file"});
  expect_errors(minimal_plus("[access_log]\npath = \"a\\u0000b\"\n"),
                {"6:8: 'path' must be \"stderr\" or the path of a file"});
  const Config combined = load_ok(minimal_plus("[access_log]\nformat = \"combined\"\n"));
  EXPECT_TRUE(combined.access_log.enabled);
  EXPECT_EQ(combined.access_log.format, LogFormat::kCombined);
}

TEST_F(LoadTest, Ipv6Listen) {
  const Config c = load_ok(R"(
[[listen]]
address = "[::1]:8080"
[[listen]]
address = "[::]:0"
[[listen]]
address = "[2001:db8::42]:65535"
[[site]]
root = "www"
)");
  ASSERT_EQ(c.listens.size(), 3u);
  for (const Listen& l : c.listens) {
    EXPECT_EQ(l.addr.ss_family, AF_INET6);
    EXPECT_EQ(l.addr_len, sizeof(sockaddr_in6));
  }
  EXPECT_EQ(ntohs(v6(c.listens[0]).sin6_port), 8080);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&v6(c.listens[0]).sin6_addr));
  EXPECT_EQ(ntohs(v6(c.listens[1]).sin6_port), 0);
  EXPECT_TRUE(IN6_IS_ADDR_UNSPECIFIED(&v6(c.listens[1]).sin6_addr));
  EXPECT_EQ(ntohs(v6(c.listens[2]).sin6_port), 65535);
  char text[INET6_ADDRSTRLEN];
  ASSERT_NE(inet_ntop(AF_INET6, &v6(c.listens[2]).sin6_addr, text, sizeof text), nullptr);
  EXPECT_STREQ(text, "2001:db8::42");
}

// An IPv6 listener takes IPv6 only (IPV6_V6ONLY, so that "[::]:80" and "0.0.0.0:80" may both be
// listened on), and the kernel refuses to bind such a socket to an IPv4-mapped address: said at
// load and by -t, rather than by "bind: Invalid argument" at start after -t said all was well.
TEST_F(LoadTest, Ipv4MappedListenIsAnError) {
  expect_errors(R"(
[[listen]]
address = "[::ffff:127.0.0.1]:80"
[[site]]
root = "www"
)",
                {"2:11: invalid listen address \"[::ffff:127.0.0.1]:80\": an IPv4-mapped address "
                 "cannot be listened on (IPv6 listeners take IPv6 only): use \"127.0.0.1:80\""});
}

TEST_F(LoadTest, Ipv4Listen) {
  const Config c = load_ok(R"(
[[listen]]
address = "0.0.0.0:80"
[[listen]]
address = "127.0.0.1:0"
[[site]]
root = "www"
)");
  ASSERT_EQ(c.listens.size(), 2u);
  EXPECT_EQ(c.listens[0].addr_len, sizeof(sockaddr_in));
  EXPECT_EQ(v4(c.listens[0]).sin_addr.s_addr, htonl(INADDR_ANY));
  EXPECT_EQ(ntohs(v4(c.listens[0]).sin_port), 80);
  EXPECT_EQ(ntohs(v4(c.listens[1]).sin_port), 0);
}

TEST_F(LoadTest, InvalidListenAddresses) {
  expect_errors(R"(
listen = [
  {address = "localhost:8080"},
  {address = "127.0.0.1"},
  {address = "127.0.0.1:65536"},
  {address = "127.0.0.1:-1"},
  {address = "127.0.0.1:"},
  {address = "::1:8080"},
  {address = "[::1]8080"},
  {address = "[::1"},
  {address = "[zz::1]:80"},
  {address = "[::1]:http"},
  {address = "1.2.3:80"},
  {address = 8080},
]
[[site]]
root = "www"
)",
                {
                    "2:14: invalid listen address \"localhost:8080\": \"localhost\" is not an "
                    "IPv4 address (host names are not resolved)",
                    "3:14: invalid listen address \"127.0.0.1\": expected IPv4:PORT or "
                    "[IPv6]:PORT",
                    "4:14: invalid listen address \"127.0.0.1:65536\": \"65536\" is not a port "
                    "number (0-65535)",
                    "5:14: invalid listen address \"127.0.0.1:-1\": \"-1\" is not a port number "
                    "(0-65535)",
                    "6:14: invalid listen address \"127.0.0.1:\": \"\" is not a port number "
                    "(0-65535)",
                    "7:14: invalid listen address \"::1:8080\": an IPv6 address must be in "
                    "brackets, as in \"[::1]:8080\"",
                    "8:14: invalid listen address \"[::1]8080\": expected [IPv6]:PORT",
                    "9:14: invalid listen address \"[::1\": expected [IPv6]:PORT",
                    "10:14: invalid listen address \"[zz::1]:80\": \"zz::1\" is not an IPv6 "
                    "address",
                    "11:14: invalid listen address \"[::1]:http\": \"http\" is not a port number "
                    "(0-65535)",
                    "12:14: invalid listen address \"1.2.3:80\": \"1.2.3\" is not an IPv4 "
                    "address (host names are not resolved)",
                    "13:14: 'address' must be a string",
                });
}

TEST_F(LoadTest, DuplicateListen) {
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[listen]]
address = "[::1]:8080"
[[listen]]
address = "127.0.0.1:8080"
[[listen]]
address = "[0:0:0:0:0:0:0:1]:8080"
[[site]]
root = "www"
)",
                {"6:11: duplicate listen address \"127.0.0.1:8080\" (first at line 2)",
                 "8:11: duplicate listen address \"[0:0:0:0:0:0:0:1]:8080\" (first at line 4)"});
  // Port 0 asks for an ephemeral port each time: never a duplicate.
  const Config c = load_ok(R"(
[[listen]]
address = "127.0.0.1:0"
[[listen]]
address = "127.0.0.1:0"
[[listen]]
address = "127.0.0.1:8080"
[[listen]]
address = "0.0.0.0:8080"
[[site]]
root = "www"
)");
  EXPECT_EQ(c.listens.size(), 4u);
}

TEST_F(LoadTest, ServerNames) {
  const Config c = load_ok(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["A.Example", "b-2.example", "[::1]", "127.0.0.1", "under_score.local", "*.W.example"]
root = "www"
[[site]]
server_names = []
root = "www"
)");
  EXPECT_EQ(c.sites[0].server_names,
            (std::vector<std::string>{"a.example", "b-2.example", "[::1]", "127.0.0.1",
                                      "under_score.local", "*.w.example"}));
  EXPECT_EQ(c.default_site, 1u);

  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["a.example", "b.example"]
root = "www"
[[site]]
server_names = ["c.example", "B.Example"]
root = "www"
[[site]]
server_names = ["d.example", "d.example", "a.example"]
root = "www"
)",
                {"7:30: duplicate server name \"b.example\" (first at line 4)",
                 "10:30: duplicate server name \"d.example\" (first at line 10)",
                 "10:43: duplicate server name \"a.example\" (first at line 4)"});

  const std::string why =
      ": a server name holds only letters, digits, '-', '.' and '_' (no port), or starts with "
      "\"*.\"";
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["", "a.example:80", "**example", "[::1", "[nope]", "a b"]
root = "www"
)",
                {"4:17: invalid entry \"\" in 'server_names': must not be empty",
                 "4:21: invalid entry \"a.example:80\" in 'server_names'" + why,
                 "4:37: invalid entry \"**example\" in 'server_names'" + why,
                 "4:50: invalid entry \"[::1\" in 'server_names': not a bracketed IPv6 address",
                 "4:58: invalid entry \"[nope]\" in 'server_names': not a bracketed IPv6 address",
                 "4:68: invalid entry \"a b\" in 'server_names'" + why});
}

// "example.com." names the same host as "example.com" (the DNS root's dot), as a Host header's
// is read: the dot is dropped, so such a site is reached and two spellings are one name.
TEST_F(LoadTest, ServerNameFinalDotIsDropped) {
  const Config c = load_ok(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["A.Example.", "*.w.example."]
root = "www"
)");
  EXPECT_EQ(c.sites[0].server_names, (std::vector<std::string>{"a.example", "*.w.example"}));

  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["a.example"]
root = "www"
[[site]]
server_names = ["A.EXAMPLE.", ".", "b.example.."]
root = "www"
)",
                {"7:17: duplicate server name \"a.example\" (first at line 4)",
                 "7:31: invalid entry \".\" in 'server_names': must name a host",
                 "7:36: invalid entry \"b.example..\" in 'server_names': must name a host"});
}

// nginx's ".example.com" (example.com and all its subdomains) would be a name no Host ever
// matches, as would a name with an empty label: both are refused, the first with how to write it.
TEST_F(LoadTest, ServerNameWithAnEmptyLabelIsAnError) {
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = [".example.com", "a..example", "*..example", "*.a..b."]
root = "www"
)",
                {"4:17: invalid entry \".example.com\" in 'server_names': a name cannot start "
                 "with '.' (nginx's \".example.com\" is written \"example.com\", "
                 "\"*.example.com\")",
                 "4:33: invalid entry \"a..example\" in 'server_names': a name cannot have an "
                 "empty label (\"..\")",
                 "4:47: invalid entry \"*..example\" in 'server_names': a name cannot have an "
                 "empty label (\"..\")",
                 "4:61: invalid entry \"*.a..b.\" in 'server_names': a name cannot have an "
                 "empty label (\"..\")"});
}

TEST_F(LoadTest, DefaultSiteIsFirstWhenAllAreNamed) {
  const Config c = load_ok(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["a"]
root = "www"
[[site]]
server_names = ["b"]
root = "www"
)");
  EXPECT_EQ(c.default_site, 0u);
}

TEST_F(LoadTest, IndexEntries) {
  expect_errors(minimal_plus("index = [\"a/b.html\", \"..\", \"\", \"ok.php\"]\n"),
                {"5:10: invalid entry \"a/b.html\" in 'index': must be a file name, without '/'",
                 "5:22: invalid entry \"..\" in 'index': must name a file",
                 "5:28: invalid entry \"\" in 'index': must name a file"});
}

TEST_F(LoadTest, ManyErrorsTogether) {
  const LoadResult r = load(R"(
[server]
threads = 0
colour = "blue"

[[listen]]
address = "127.0.0.1:80"
[[listen]]
address = "127.0.0.1:80"

[[site]]
root = "nowhere"
[[site]]
index = "index.html"

[timeouts]
header = "soon"
)");
  EXPECT_FALSE(r.config.has_value());
  std::vector<std::string> got;
  for (const Diagnostic& d : r.errors) got.push_back(d.to_string());
  const std::string f = config_path();
  EXPECT_EQ(got, (std::vector<std::string>{
                     f + ":2:11: 'threads' must be between 1 and 1024 (got 0)",
                     f + ":3:1: unknown key 'colour' in [server]",
                     f + ":8:11: duplicate listen address \"127.0.0.1:80\" (first at line 6)",
                     f + ":11:8: root \"" + dir_.string() + "/nowhere\": No such file or directory",
                     f + ":12:1: missing 'root' in [[site]]",
                     f + ":13:9: 'index' must be an array of strings",
                     f + ":16:10: invalid duration \"soon\" for 'header': expected a number of "
                         "seconds, or a number followed by ms, s, m or h",
                 }));
}

TEST_F(LoadTest, LoadFile) {
  std::ofstream(config_path()) << kMinimal.substr(1);
  const LoadResult r = load_file(config_path());
  ASSERT_TRUE(r.config.has_value());
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.config->path, config_path());

  const std::string missing = (dir_ / "nope.toml").string();
  const LoadResult m = load_file(missing);
  EXPECT_FALSE(m.config.has_value());
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].line, 0u);
  EXPECT_EQ(m.errors[0].to_string(), missing + ": cannot read: No such file or directory");

  const LoadResult d = load_file(dir_.string());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].to_string(), dir_.string() + ": cannot read: Is a directory");

  std::ofstream(config_path()) << "[server]\nthreads = 9999\n";
  const LoadResult bad = load_file(config_path());
  ASSERT_EQ(bad.errors.size(), 3u);
  EXPECT_EQ(bad.errors[0].to_string(), config_path() + ":1:1: at least one [[listen]] is required");
  EXPECT_EQ(bad.errors[1].to_string(), config_path() + ":1:1: at least one [[site]] is required");
  EXPECT_EQ(bad.errors[2].to_string(),
            config_path() + ":2:11: 'threads' must be between 1 and 1024 (got 9999)");
}

TEST_F(LoadTest, ControlCharactersInMessagesAreEscaped) {
  expect_errors(minimal_plus("[server]\n\"a\\nb\" = 1\n"),
                {"6:1: unknown key 'a\\x0ab' in [server]"});
}

// ---- PHP: [[pool]], site php and front_controller, [[site.route]] -----------------------------

const sockaddr_un& un(const Pool& p) {
  return *reinterpret_cast<const sockaddr_un*>(&p.addr);
}
const sockaddr_in& v4(const Pool& p) {
  return *reinterpret_cast<const sockaddr_in*>(&p.addr);
}
const sockaddr_in6& v6(const Pool& p) {
  return *reinterpret_cast<const sockaddr_in6*>(&p.addr);
}

TEST_F(LoadTest, PhpFullFile) {
  fs::create_directory(dir_ / "tmp");
  // The pools come after the site that names them: order in the file does not matter.
  const Config c = load_ok(R"(
[[listen]]
address = "127.0.0.1:8080"

[[site]]
server_names = ["app.example"]
root = "www"
index = ["index.php", "index.html"]
php = "fpm"
front_controller = "/index.php"

  [[site.route]]
  prefix = "/"
  php = "tcp6"

  [[site.route]]
  prefix = "/assets/"
  static = true

  [[site.route]]
  prefix = "/old/"
  return = 301
  location = "https://example.org/new/"
  body = "Moved\n"

  [[site.route]]
  prefix = "/legacy/"
  php = ""

  [[site.route]]
  prefix = "/api/v2/"
  front_controller = "api/v2.php"

  [[site.route]]
  prefix = "/gone"
  return = 410

  [[site.route]]
  prefix = "/admin/"
  php = "tcp4"
  front_controller = ""

  [[site.route]]
  prefix = "/static/"
  static = false

[server]
temp_dir = "tmp/"

[limits]
body_buffer_size = "16k"

[[pool]]
name = "fpm"
fastcgi = "unix:/run/php/php8.2-fpm.sock"
max_connections = 8
queue = 0
queue_timeout = "500ms"
connect_timeout = 2
read_timeout = "2m"
send_timeout = "90s"
splice_threshold = 0
response_splice_threshold = "1m"
response_header_size = "128k"

[[pool]]
name = "tcp4"
fastcgi = "127.0.0.1:9000"

[[pool]]
name = "tcp6"
fastcgi = "[::1]:9001"
max_connections = 10000
queue = 100000
splice_threshold = "1m"
)");
  EXPECT_EQ(c.server.temp_dir, fs::canonical(dir_ / "tmp").string());
  EXPECT_EQ(c.limits.body_buffer_size, 16u << 10);

  ASSERT_EQ(c.pools.size(), 3u);
  const Pool& fpm = c.pools[0];
  EXPECT_EQ(fpm.name, "fpm");
  EXPECT_EQ(fpm.fastcgi, "unix:/run/php/php8.2-fpm.sock");
  EXPECT_TRUE(fpm.unix_socket);
  EXPECT_EQ(fpm.unix_path, "/run/php/php8.2-fpm.sock");
  EXPECT_EQ(fpm.addr.ss_family, AF_UNIX);
  EXPECT_STREQ(un(fpm).sun_path, "/run/php/php8.2-fpm.sock");
  EXPECT_EQ(fpm.addr_len, offsetof(sockaddr_un, sun_path) + fpm.unix_path.size() + 1);
  EXPECT_EQ(fpm.max_connections, 8u);
  EXPECT_EQ(fpm.queue, 0u);
  EXPECT_EQ(fpm.queue_timeout, milliseconds(500));
  EXPECT_EQ(fpm.connect_timeout, seconds(2));
  EXPECT_EQ(fpm.read_timeout, std::chrono::minutes(2));
  EXPECT_EQ(fpm.send_timeout, seconds(90));
  EXPECT_EQ(fpm.splice_threshold, 0u);
  EXPECT_EQ(fpm.response_splice_threshold, 1u << 20);
  EXPECT_EQ(fpm.response_header_size, 128u << 10);

  const Pool& tcp4 = c.pools[1];
  EXPECT_EQ(tcp4.name, "tcp4");
  EXPECT_EQ(tcp4.fastcgi, "127.0.0.1:9000");
  EXPECT_FALSE(tcp4.unix_socket);
  EXPECT_TRUE(tcp4.unix_path.empty());
  EXPECT_EQ(tcp4.addr.ss_family, AF_INET);
  EXPECT_EQ(tcp4.addr_len, sizeof(sockaddr_in));
  EXPECT_EQ(ntohs(v4(tcp4).sin_port), 9000);
  EXPECT_EQ(ntohl(v4(tcp4).sin_addr.s_addr), INADDR_LOOPBACK);

  const Pool& tcp6 = c.pools[2];
  EXPECT_EQ(tcp6.addr.ss_family, AF_INET6);
  EXPECT_EQ(tcp6.addr_len, sizeof(sockaddr_in6));
  EXPECT_EQ(ntohs(v6(tcp6).sin6_port), 9001);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&v6(tcp6).sin6_addr));
  EXPECT_EQ(tcp6.max_connections, 10000u);
  EXPECT_EQ(tcp6.queue, 100000u);
  EXPECT_EQ(tcp6.splice_threshold, 1u << 20);

  ASSERT_EQ(c.sites.size(), 1u);
  const Site& site = c.sites[0];
  EXPECT_EQ(site.php_pool, 0);
  EXPECT_EQ(site.front_controller, "index.php");

  // Longest prefix first; equal lengths keep their order in the file.
  std::vector<std::string> prefixes;
  for (const Route& r : site.routes) prefixes.push_back(r.prefix);
  ASSERT_EQ(prefixes, (std::vector<std::string>{"/assets/", "/legacy/", "/api/v2/", "/static/",
                                                "/admin/", "/old/", "/gone", "/"}));
  const Route& assets = site.routes[0];
  EXPECT_EQ(assets.action, RouteAction::kStatic);
  EXPECT_EQ(assets.php_pool, -1);
  EXPECT_EQ(assets.front_controller, "");

  const Route& legacy = site.routes[1];  // php = "": PHP off, so no front controller either
  EXPECT_EQ(legacy.action, RouteAction::kDefault);
  EXPECT_EQ(legacy.php_pool, -1);
  EXPECT_EQ(legacy.front_controller, "");

  const Route& api = site.routes[2];  // the site's pool, its own front controller
  EXPECT_EQ(api.action, RouteAction::kDefault);
  EXPECT_EQ(api.php_pool, 0);
  EXPECT_EQ(api.front_controller, "api/v2.php");

  const Route& plain = site.routes[3];  // static = false: as the site
  EXPECT_EQ(plain.action, RouteAction::kDefault);
  EXPECT_EQ(plain.php_pool, 0);
  EXPECT_EQ(plain.front_controller, "index.php");

  const Route& admin = site.routes[4];  // its own pool, front_controller = "": none
  EXPECT_EQ(admin.php_pool, 1);
  EXPECT_EQ(admin.front_controller, "");

  const Route& old = site.routes[5];
  EXPECT_EQ(old.action, RouteAction::kReturn);
  EXPECT_EQ(old.status, 301);
  EXPECT_EQ(old.location, "https://example.org/new/");
  EXPECT_EQ(old.body, "Moved\n");
  EXPECT_EQ(old.php_pool, -1);
  EXPECT_EQ(old.front_controller, "");

  const Route& gone = site.routes[6];
  EXPECT_EQ(gone.action, RouteAction::kReturn);
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(gone.location, "");
  EXPECT_EQ(gone.body, "");

  const Route& root = site.routes[7];  // its own pool, the site's front controller
  EXPECT_EQ(root.action, RouteAction::kDefault);
  EXPECT_EQ(root.php_pool, 2);
  EXPECT_EQ(root.front_controller, "index.php");
  EXPECT_EQ(root.status, 0);
}

TEST_F(LoadTest, PhpDefaults) {
  const Config c = load_ok(minimal_plus(R"(
[[pool]]
name = "fpm"
fastcgi = "127.0.0.1:9000"
)"));
  EXPECT_EQ(c.server.temp_dir, "/tmp");
  EXPECT_EQ(c.limits.body_buffer_size, 64u << 10);
  ASSERT_EQ(c.pools.size(), 1u);
  const Pool& p = c.pools[0];
  EXPECT_EQ(p.max_connections, 32u);
  EXPECT_EQ(p.queue, 256u);
  EXPECT_EQ(p.queue_timeout, seconds(30));
  EXPECT_EQ(p.connect_timeout, seconds(5));
  EXPECT_EQ(p.read_timeout, seconds(60));
  EXPECT_EQ(p.send_timeout, seconds(60));
  EXPECT_EQ(p.splice_threshold, 64u << 10);
  EXPECT_EQ(p.response_splice_threshold, 256u << 10);
  EXPECT_EQ(p.response_header_size, 32u << 10);
  // A pool no site names is fine; the site runs no PHP.
  ASSERT_EQ(c.sites.size(), 1u);
  EXPECT_EQ(c.sites[0].php_pool, -1);
  EXPECT_EQ(c.sites[0].front_controller, "");
  EXPECT_TRUE(c.sites[0].routes.empty());

  const Config none = load_ok(kMinimal);
  EXPECT_TRUE(none.pools.empty());
  EXPECT_EQ(none.sites[0].php_pool, -1);
  const Pool defaults;
  EXPECT_EQ(defaults.max_connections, 32u);
  EXPECT_EQ(defaults.splice_threshold, 64u << 10);

  // php = "" and front_controller = "" mean none.
  const Config empty = load_ok(minimal_plus("php = \"\"\nfront_controller = \"\"\n"));
  EXPECT_EQ(empty.sites[0].php_pool, -1);
  EXPECT_EQ(empty.sites[0].front_controller, "");
}

TEST_F(LoadTest, PoolOrderDoesNotMatter) {
  const std::string pools = R"(
[[pool]]
name = "a"
fastcgi = "127.0.0.1:9000"
[[pool]]
name = "b"
fastcgi = "127.0.0.1:9001"
)";
  const std::string site = R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "www"
php = "b"
[[site.route]]
prefix = "/a/"
php = "a"
)";
  for (const std::string& text : {pools + site, site + pools}) {
    const Config c = load_ok(text);
    ASSERT_EQ(c.pools.size(), 2u);
    EXPECT_EQ(c.pools[0].name, "a");
    EXPECT_EQ(c.sites[0].php_pool, 1);
    ASSERT_EQ(c.sites[0].routes.size(), 1u);
    EXPECT_EQ(c.sites[0].routes[0].php_pool, 0);
  }
}

TEST_F(LoadTest, TempDirAndBodyBuffer) {
  fs::create_directories(dir_ / "spool" / "bodies");
  EXPECT_EQ(load_ok(minimal_plus("[server]\ntemp_dir = \"spool//bodies/.\"\n")).server.temp_dir,
            fs::canonical(dir_ / "spool" / "bodies").string());
  EXPECT_EQ(load_ok(minimal_plus("[server]\ntemp_dir = \"/\"\n")).server.temp_dir, "/");
  const std::string d = dir_.string();
  expect_errors(minimal_plus("[server]\ntemp_dir = \"missing\"\n"),
                {"6:12: temp_dir \"" + d + "/missing\": No such file or directory"});
  expect_errors(minimal_plus("[server]\ntemp_dir = \"file.txt\"\n"),
                {"6:12: temp_dir \"" + d + "/file.txt\" is not a directory"});
  expect_errors(minimal_plus("[server]\ntemp_dir = \"\"\n"),
                {"6:12: 'temp_dir' must be the path of a directory"});
  expect_errors(minimal_plus("[server]\ntemp_dir = 1\n"), {"6:12: 'temp_dir' must be a string"});

  EXPECT_EQ(load_ok(minimal_plus("[limits]\nbody_buffer_size = 1024\n")).limits.body_buffer_size,
            1024u);
  EXPECT_EQ(load_ok(minimal_plus("[limits]\nbody_buffer_size = \"1g\"\n")).limits.body_buffer_size,
            1u << 30);
  expect_errors(minimal_plus("[limits]\nbody_buffer_size = 1023\n"),
                {"6:20: 'body_buffer_size' must be between 1k and 1g (got 1023)"});
  expect_errors(minimal_plus("[limits]\nbody_buffer_size = \"2g\"\n"),
                {"6:20: 'body_buffer_size' must be between 1k and 1g (got 2g)"});
}

TEST_F(LoadTest, PoolErrors) {
  expect_errors(minimal_plus(R"(
[[pool]]
fastcgi = "127.0.0.1:9000"
[[pool]]
name = "b"
[[pool]]
name = "my pool"
fastcgi = "127.0.0.1:9002"
[[pool]]
name = "b"
fastcgi = "127.0.0.1:9003"
[[pool]]
name = ""
fastcgi = "127.0.0.1:9004"
[[pool]]
name = 5
fastcgi = 9000
)"),
                {
                    "6:1: missing 'name' in [[pool]]",
                    "11:8: invalid pool name \"my pool\": a pool name holds only letters, "
                    "digits, '_' and '-'",
                    "14:8: duplicate pool name \"b\" (first at line 9)",
                    "17:8: invalid pool name \"\": a pool name holds only letters, digits, '_' "
                    "and '-'",
                    "20:8: 'name' must be a string",
                    "21:11: 'fastcgi' must be a string",
                });
  expect_errors(minimal_plus(R"(
[[pool]]
name = "Fpm_8-2"
fastcgi = "127.0.0.1:9000"
max_connections = 0
queue = 100001
queue_timeout = 0
connect_timeout = "25h"
read_timeout = "0ms"
send_timeout = -1
splice_threshold = -1
[[pool]]
name = "fpm_8-2"
fastcgi = "127.0.0.1:9000"
max_connections = 10001
queue = -1
splice_threshold = "1x"
)"),
                {
                    "9:19: 'max_connections' must be between 1 and 10000 (got 0)",
                    "10:9: 'queue' must be between 0 and 100000 (got 100001)",
                    "11:17: 'queue_timeout' must be between 1ms and 24h (got 0)",
                    "12:19: 'connect_timeout' must be between 1ms and 24h (got 25h)",
                    "13:16: 'read_timeout' must be between 1ms and 24h (got 0ms)",
                    "14:16: 'send_timeout' must not be negative",
                    "15:20: 'splice_threshold' must not be negative",
                    "19:19: 'max_connections' must be between 1 and 10000 (got 10001)",
                    "20:9: 'queue' must be between 0 and 100000 (got -1)",
                    "21:20: invalid size \"1x\" for 'splice_threshold': expected a number of "
                    "bytes, optionally followed by k, m or g",
                });
  expect_errors("pool = [\"fpm\"]\n" + std::string(kMinimal),
                {"1:9: 'pool' must be an array of tables ([[pool]])"});
  expect_errors(minimal_plus("[pool]\nname = \"fpm\"\n"),
                {"5:1: 'pool' must be an array of tables ([[pool]])"});
}

TEST_F(LoadTest, FastCgiAddresses) {
  const std::string long_path = "/" + std::string(106, 'a');  // 107 bytes: the most there is
  const Config c = load_ok(minimal_plus(R"(
[[pool]]
name = "a"
fastcgi = "unix:)" + long_path + R"("
[[pool]]
name = "b"
fastcgi = "[2001:db8::1]:65535"
[[pool]]
name = "c"
fastcgi = "0.0.0.0:1"
)"));
  ASSERT_EQ(c.pools.size(), 3u);
  EXPECT_EQ(c.pools[0].unix_path, long_path);
  EXPECT_EQ(std::string(un(c.pools[0]).sun_path), long_path);
  EXPECT_EQ(c.pools[0].addr_len, sizeof(sockaddr_un));
  EXPECT_EQ(ntohs(v6(c.pools[1]).sin6_port), 65535);
  EXPECT_EQ(ntohs(v4(c.pools[2]).sin_port), 1);

  const std::string too_long = long_path + "a";
  expect_errors(minimal_plus(R"(
[[pool]]
name = "a"
fastcgi = "localhost:9000"
[[pool]]
name = "b"
fastcgi = "127.0.0.1:0"
[[pool]]
name = "c"
fastcgi = "/run/php/fpm.sock"
[[pool]]
name = "d"
fastcgi = "unix:"
[[pool]]
name = "e"
fastcgi = "[::1]"
[[pool]]
name = "f"
fastcgi = "::1:9000"
[[pool]]
name = "g"
fastcgi = "unix:)" + too_long +
                             R"("
[[pool]]
name = "h"
fastcgi = "[::]:0"
[[pool]]
name = "i"
fastcgi = "UNIX:/run/fpm.sock"
)"),
                {
                    "8:11: invalid fastcgi address \"localhost:9000\": \"localhost\" is not an "
                    "IPv4 address (host names are not resolved)",
                    "11:11: invalid fastcgi address \"127.0.0.1:0\": port 0 cannot be connected "
                    "to",
                    "14:11: invalid fastcgi address \"/run/php/fpm.sock\": expected "
                    "\"unix:PATH\", \"IPv4:PORT\" or \"[IPv6]:PORT\"",
                    "17:11: invalid fastcgi address \"unix:\": expected the path of a socket "
                    "after \"unix:\"",
                    "20:11: invalid fastcgi address \"[::1]\": expected [IPv6]:PORT",
                    "23:11: invalid fastcgi address \"::1:9000\": an IPv6 address must be in "
                    "brackets, as in \"[::1]:8080\"",
                    "26:11: invalid fastcgi address \"unix:" + too_long + "\": the socket path \"" +
                        too_long + "\" is 108 bytes long; a unix socket path holds at most 107",
                    "29:11: invalid fastcgi address \"[::]:0\": port 0 cannot be connected to",
                    "32:11: invalid fastcgi address \"UNIX:/run/fpm.sock\": \"UNIX\" is not an "
                    "IPv4 address (host names are not resolved)",
                });
}

TEST_F(LoadTest, RelativeUnixSocket) {
  // dir_/conf/askr.toml: a relative socket path is taken from dir_/conf, and is not looked at.
  fs::create_directories(dir_ / "conf");
  const std::string conf = (dir_ / "conf").string();
  const std::string text = R"([[listen]]
address = "127.0.0.1:0"
[[site]]
root = "."
[[pool]]
name = "a"
fastcgi = "unix:run/php.sock"
[[pool]]
name = "b"
fastcgi = "unix:../run/php.sock"
[[pool]]
name = "c"
fastcgi = "unix:php.sock"
)";
  const LoadResult r = load_string(text, conf + "/askr.toml");
  for (const Diagnostic& d : r.errors) ADD_FAILURE() << d.to_string();
  ASSERT_TRUE(r.config.has_value());
  ASSERT_EQ(r.config->pools.size(), 3u);
  EXPECT_EQ(r.config->pools[0].fastcgi, "unix:run/php.sock");
  EXPECT_EQ(r.config->pools[0].unix_path, conf + "/run/php.sock");
  EXPECT_STREQ(un(r.config->pools[0]).sun_path, (conf + "/run/php.sock").c_str());
  EXPECT_EQ(r.config->pools[1].unix_path, conf + "/../run/php.sock");
  EXPECT_EQ(r.config->pools[2].unix_path, conf + "/php.sock");
  EXPECT_EQ(r.config->pools[2].addr_len,
            offsetof(sockaddr_un, sun_path) + r.config->pools[2].unix_path.size() + 1);

  // The limit applies to the resolved path: a short relative name may be too long once
  // made absolute.
  const std::string name(108 - conf.size() - 1, 's');  // conf + "/" + name: 108 bytes
  const LoadResult bad = load_string(
      text + "[[pool]]\nname = \"d\"\nfastcgi = \"unix:" + name + "\"\n", conf + "/askr.toml");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].line, 16u);
  EXPECT_EQ(bad.errors[0].column, 11u);
  EXPECT_EQ(bad.errors[0].message,
            "invalid fastcgi address \"unix:" + name + "\": the socket path \"" + conf + "/" +
                name + "\" is 108 bytes long; a unix socket path holds at most 107");
}

TEST_F(LoadTest, SitePhpErrors) {
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["a"]
root = "www"
php = "nope"
[[site]]
server_names = ["b"]
root = "www"
front_controller = "index.php"
[[site]]
server_names = ["c"]
root = "www"
php = ""
front_controller = "index.php"
[[site]]
server_names = ["d"]
root = "www"
php = 1
front_controller = "../index.php"
[[site]]
server_names = ["e"]
root = "www"
php = "FPM"
[[pool]]
name = "fpm"
fastcgi = "127.0.0.1:9000"
)",
                {
                    "6:7: unknown pool \"nope\" in 'php'",
                    "10:20: 'front_controller' needs 'php' (the pool that runs it)",
                    "15:20: 'front_controller' needs 'php' (the pool that runs it)",
                    "19:7: 'php' must be a string",
                    "20:20: invalid 'front_controller' \"../index.php\": must be the path of a "
                    "file under root, without '.', '..' or empty segments",
                    "24:7: unknown pool \"FPM\" in 'php'",
                });
  // A 'php' naming a pool that is itself in error is not reported a second time.
  expect_errors(minimal_plus("php = \"my pool\"\n[[pool]]\nname = \"my pool\"\n"
                             "fastcgi = \"127.0.0.1:9000\"\n"),
                {"7:8: invalid pool name \"my pool\": a pool name holds only letters, digits, "
                 "'_' and '-'"});
}

TEST_F(LoadTest, FrontControllerPaths) {
  const std::string pool =
      "php = \"fpm\"\n[[pool]]\nname = \"fpm\"\nfastcgi = \"127.0.0.1:9000\"\n";
  struct Case {
    std::string_view written;
    std::string_view stored;
  };
  const Case good[] = {
      {"index.php", "index.php"}, {"/index.php", "index.php"}, {"public/app.php", "public/app.php"},
      {"/a/b/c", "a/b/c"},        {"..php", "..php"},
  };
  for (const Case& c : good) {
    const Config config =
        load_ok(minimal_plus("front_controller = \"" + std::string(c.written) + "\"\n" + pool));
    EXPECT_EQ(config.sites[0].front_controller, c.stored) << c.written;
  }
  const std::string_view bad[] = {"/",   "//index.php", "./index.php", "a/../index.php",
                                  "..",  "a/",          "a//b.php",    "a/./b.php",
                                  "a/.."};
  for (std::string_view text : bad) {
    expect_errors(minimal_plus("front_controller = \"" + std::string(text) + "\"\n" + pool),
                  {"5:20: invalid 'front_controller' \"" + std::string(text) +
                   "\": must be the path of a file under root, without '.', '..' or empty "
                   "segments"});
  }
  expect_errors(minimal_plus("front_controller = \"a\\u0000.php\"\n" + pool),
                {"5:20: invalid 'front_controller' \"a\\x00.php\": must be the path of a file "
                 "under root, without '.', '..' or empty segments"});
}

TEST_F(LoadTest, RouteErrors) {
  constexpr std::string_view kSite = R"(
[[listen]]
address = "127.0.0.1:8080"
[[pool]]
name = "fpm"
fastcgi = "127.0.0.1:9000"
[[site]]
root = "www"
php = "fpm"
)";
  // `more` without its leading newline: its first line is line 9.
  auto site_plus = [&](std::string_view more) {
    if (more.starts_with('\n')) more.remove_prefix(1);
    return std::string(kSite) + std::string(more);
  };
  expect_errors(site_plus(R"(
[[site.route]]
php = "fpm"
[[site.route]]
prefix = "/a/"
static = true
return = 404
php = "fpm"
front_controller = "x.php"
[[site.route]]
prefix = "/b/"
return = 302
php = ""
front_controller = "x.php"
location = "/x"
)"),
                {
                    "9:1: missing 'prefix' in [[site.route]]",
                    "14:10: 'return' cannot be combined with 'static = true'",
                    "15:7: 'php' cannot be combined with 'static = true'",
                    "16:20: 'front_controller' cannot be combined with 'static = true'",
                    "20:7: 'php' cannot be combined with 'return'",
                    "21:20: 'front_controller' cannot be combined with 'return'",
                });
  expect_errors(site_plus(R"(
[[site.route]]
prefix = "/c/"
location = "/x"
body = "x"
[[site.route]]
prefix = "/d/"
return = 204
body = "no"
[[site.route]]
prefix = "/e/"
return = 600
[[site.route]]
prefix = "/f/"
return = 199
[[site.route]]
prefix = "/g/"
static = "yes"
[[site.route]]
prefix = "/h/"
return = "301"
[[site.route]]
prefix = "/i/"
return = 205
body = "no"
)"),
                {
                    "11:12: 'location' needs 'return'",
                    "12:8: 'body' needs 'return'",
                    "16:8: a 204 response has no body: leave 'body' out",
                    "19:10: 'return' must be between 200 and 599 (got 600)",
                    "22:10: 'return' must be between 200 and 599 (got 199)",
                    "25:10: 'static' must be true or false",
                    "28:10: 'return' must be an integer",
                    "32:8: a 205 response has no body: leave 'body' out",
                });
  // Each redirect needs its target; other statuses may have one (201) or not.
  std::vector<std::string> expected;
  std::string routes;
  int line = 9;  // each route's [[site.route]] line; 'return' is two lines below
  for (int status : {301, 302, 303, 307, 308, 300, 304, 201, 404}) {
    routes += "[[site.route]]\nprefix = \"/" + std::to_string(status) +
              "/\"\nreturn = " + std::to_string(status) + "\n";
    if (status == 201) routes += "location = \"/created/1\"\n";
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      expected.push_back(std::to_string(line + 2) + ":10: 'return = " + std::to_string(status) +
                         "' needs 'location' (where to redirect)");
    }
    line += status == 201 ? 4 : 3;
  }
  expect_errors(site_plus(routes), expected);

  expect_errors(site_plus(R"(
[[site.route]]
prefix = "/i/"
return = 308
location = "https://example.org/a b"
[[site.route]]
prefix = "/j/"
return = 302
location = ""
[[site.route]]
prefix = "/k/"
return = 302
location = "/x\r\nSet-Cookie: a=b"
[[site.route]]
prefix = "/l/"
php = "other"
[[site.route]]
prefix = "/m/"
php = ""
front_controller = "x.php"
[[site.route]]
prefix = "/n/"
match = "exact"
)"),
                {
                    "12:12: 'location' must be a URL, without spaces or control characters",
                    "16:12: 'location' must be a URL, without spaces or control characters",
                    "20:12: 'location' must be a URL, without spaces or control characters",
                    "23:7: unknown pool \"other\" in 'php'",
                    "27:20: 'front_controller' needs 'php' (the pool that runs it)",
                    "30:1: unknown key 'match' in [[site.route]]",
                });
  // A route's front_controller needs PHP there: its own 'php' or the site's.
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "www"
[[site.route]]
prefix = "/x/"
front_controller = "x.php"
)",
                {"7:20: 'front_controller' needs 'php' (the pool that runs it)"});
  expect_errors(minimal_plus("route = \"/\"\n"),
                {"5:9: 'route' must be an array of tables ([[site.route]])"});
  expect_errors(minimal_plus("route = [\"/\"]\n"),
                {"5:10: 'route' must be an array of tables ([[site.route]])"});
}

TEST_F(LoadTest, RoutePrefixes) {
  const std::string why_dots = "must not contain '.' or '..' segments";
  const std::string why_slashes = "must not contain '//'";
  struct Case {
    std::string_view prefix;
    std::string why;
  };
  const Case bad[] = {
      {"legacy/", "must start with '/'"},
      {"", "must start with '/'"},
      {"/a//b/", why_slashes},
      {"//", why_slashes},
      {"/a/../b/", why_dots},
      {"/./", why_dots},
      {"/a/.", why_dots},
      {"/..", why_dots},
      {"/a\\tb", "must not contain control characters"},
  };
  for (const Case& c : bad) {
    std::string shown(c.prefix);
    if (shown == "/a\\tb") shown = "/a\\x09b";
    expect_errors(minimal_plus("[[site.route]]\nprefix = \"" + std::string(c.prefix) + "\"\n"),
                  {"6:10: invalid route prefix \"" + shown + "\": " + c.why});
  }
  const Config c = load_ok(minimal_plus(R"(
[[site.route]]
prefix = "/"
[[site.route]]
prefix = "/a.b/..c/"
[[site.route]]
prefix = "/app"
[[site.route]]
prefix = "/ümlaut/ space/"
)"));
  std::vector<std::string> prefixes;
  for (const Route& r : c.sites[0].routes) prefixes.push_back(r.prefix);
  EXPECT_EQ(prefixes, (std::vector<std::string>{"/ümlaut/ space/", "/a.b/..c/", "/app", "/"}));

  // Duplicates within one site are errors; the same prefix in two sites is not.
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["a"]
root = "www"
[[site.route]]
prefix = "/x/"
static = true
[[site.route]]
prefix = "/y/"
[[site.route]]
prefix = "/x/"
return = 404
[[site]]
server_names = ["b"]
root = "www"
[[site.route]]
prefix = "/x/"
)",
                {"12:10: duplicate route prefix \"/x/\" (first at line 7)"});
}

TEST_F(LoadTest, RouteInheritance) {
  const Config c = load_ok(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["with-php"]
root = "www"
php = "a"
front_controller = "index.php"
[[site.route]]
prefix = "/own-pool/"
php = "b"
[[site.route]]
prefix = "/no-fc/"
front_controller = ""
[[site.route]]
prefix = "/off/"
php = ""
[[site]]
server_names = ["without-php"]
root = "www"
[[site.route]]
prefix = "/php/"
php = "b"
[[site.route]]
prefix = "/php-fc/"
php = "a"
front_controller = "/public/index.php"
[[site.route]]
prefix = "/files/"
[[pool]]
name = "a"
fastcgi = "127.0.0.1:9000"
[[pool]]
name = "b"
fastcgi = "127.0.0.1:9001"
)");
  ASSERT_EQ(c.sites.size(), 2u);
  const std::vector<Route>& with = c.sites[0].routes;
  ASSERT_EQ(with.size(), 3u);
  EXPECT_EQ(with[0].prefix, "/own-pool/");
  EXPECT_EQ(with[0].php_pool, 1);
  EXPECT_EQ(with[0].front_controller, "index.php");
  EXPECT_EQ(with[1].prefix, "/no-fc/");
  EXPECT_EQ(with[1].php_pool, 0);
  EXPECT_EQ(with[1].front_controller, "");
  EXPECT_EQ(with[2].prefix, "/off/");
  EXPECT_EQ(with[2].php_pool, -1);
  EXPECT_EQ(with[2].front_controller, "");

  EXPECT_EQ(c.sites[1].php_pool, -1);
  const std::vector<Route>& without = c.sites[1].routes;
  ASSERT_EQ(without.size(), 3u);
  EXPECT_EQ(without[0].prefix, "/php-fc/");
  EXPECT_EQ(without[0].php_pool, 0);
  EXPECT_EQ(without[0].front_controller, "public/index.php");
  EXPECT_EQ(without[1].prefix, "/files/");
  EXPECT_EQ(without[1].php_pool, -1);
  EXPECT_EQ(without[1].front_controller, "");
  EXPECT_EQ(without[2].prefix, "/php/");
  EXPECT_EQ(without[2].php_pool, 1);
  EXPECT_EQ(without[2].front_controller, "");
  for (const Route& r : without) EXPECT_EQ(r.action, RouteAction::kDefault);
}

// The demo config in conf/ must load as shipped.
// ---- Symlink modes, route roots and aliases -----------------------------------------------------

TEST_F(LoadTest, SymlinksAndRouteRoots) {
  fs::create_directories(dir_ / "uploads");
  fs::create_directories(dir_ / "wp-content");
  const Config c = load_ok(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "www"
symlinks = "follow"
  [[site.route]]
  prefix = "/wp-content/"
  alias = "wp-content/"
  symlinks = "beneath"
  [[site.route]]
  prefix = "/uploads"
  root = "."
  static = true
  [[site.route]]
  prefix = "/plain/"
  [[site.route]]
  prefix = "/gone/"
  return = 410
[[site]]
server_names = ["other"]
root = "www"
)");
  ASSERT_EQ(c.sites.size(), 2u);
  const Site& site = c.sites[0];
  const std::string base = fs::canonical(dir_).string();
  EXPECT_EQ(site.symlinks, Symlinks::kFollow);
  EXPECT_EQ(c.sites[1].symlinks, Symlinks::kOwner);  // the default
  ASSERT_EQ(site.routes.size(), 4u);
  const Route& wp = site.routes[0];  // longest prefix first
  EXPECT_EQ(wp.prefix, "/wp-content/");
  EXPECT_EQ(wp.root, base + "/wp-content");
  EXPECT_TRUE(wp.alias);
  EXPECT_EQ(wp.symlinks, Symlinks::kBeneath);
  const Route& uploads = site.routes[1];
  EXPECT_EQ(uploads.prefix, "/uploads");
  EXPECT_EQ(uploads.root, base);
  EXPECT_FALSE(uploads.alias);
  EXPECT_EQ(uploads.symlinks, Symlinks::kFollow);  // the site's
  const Route& plain = site.routes[2];
  EXPECT_EQ(plain.prefix, "/plain/");
  EXPECT_EQ(plain.root, base + "/www");  // the site's
  EXPECT_FALSE(plain.alias);
  EXPECT_EQ(site.routes[3].root, "");  // return: no files
}

TEST_F(LoadTest, SymlinkAndRouteRootErrors) {
  fs::create_directories(dir_ / "d");
  expect_errors(
      R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "www"
symlinks = "on"
  [[site.route]]
  prefix = "/a/"
  root = "d"
  alias = "d"
  [[site.route]]
  prefix = "/b"
  alias = "d"
  [[site.route]]
  prefix = "/c/"
  root = "missing"
  [[site.route]]
  prefix = "/e/"
  alias = "file.txt"
  [[site.route]]
  prefix = "/f/"
  return = 404
  root = "d"
  symlinks = "follow"
  [[site.route]]
  prefix = "/g/"
  symlinks = true
)",
      {
          "5:12: 'symlinks' must be \"follow\", \"owner\" or \"beneath\"",
          "9:11: 'alias' cannot be combined with 'root'",
          "12:11: 'alias' needs a prefix that ends in '/' (got \"/b\")",
          "15:10: root \"" + (dir_ / "missing").string() + "\": No such file or directory",
          "18:11: alias \"" + (dir_ / "file.txt").string() + "\" is not a directory",
          "22:10: 'root' cannot be combined with 'return'",
          "23:14: 'symlinks' cannot be combined with 'return'",
          "26:14: 'symlinks' must be \"follow\", \"owner\" or \"beneath\"",
      });
}

TEST(DemoConfig, Loads) {
  // __FILE__ is absolute under CMake; a relative one is taken from the current directory.
  const fs::path source = fs::absolute(__FILE__);
  const fs::path demo = (source.parent_path() / "../../../conf/askr.toml").lexically_normal();
  if (!fs::exists(demo)) GTEST_SKIP() << demo << " not found";
  const LoadResult r = load_file(demo.string());
  for (const Diagnostic& d : r.errors) ADD_FAILURE() << d.to_string();
  ASSERT_TRUE(r.config.has_value());
  const Config& c = *r.config;
  ASSERT_EQ(c.listens.size(), 1u);
  EXPECT_EQ(c.listens[0].text, "127.0.0.1:8080");
  ASSERT_EQ(c.sites.size(), 1u);
  EXPECT_EQ(c.sites[0].root, fs::canonical(demo.parent_path() / "www").string());
  EXPECT_EQ(c.sites[0].index, (std::vector<std::string>{"index.php", "index.html"}));
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.format, LogFormat::kCombined);
  EXPECT_EQ(c.access_log.path, "stderr");
  // The demo's PHP runs in Askr's own workers.
  ASSERT_EQ(c.pools.size(), 1u);
  EXPECT_TRUE(c.pools[0].own);
  EXPECT_EQ(c.pools[0].name, "app");
  EXPECT_EQ(c.sites[0].php_pool, 0);
  EXPECT_TRUE(c.sites[0].routes.empty());
}

}  // namespace
}  // namespace askr::config

namespace askr::config {
namespace {

TEST(LoadOwnPools, WorkerPoolKeys) {
  char dir[] = "/tmp/askr-cfg-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string d = dir;
  std::filesystem::create_directories(d + "/www");
  std::ofstream(d + "/worker.php") << "<?php\n";
  LoadResult r = load_string(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "www"
php = "app"
[[pool]]
name = "app"
workers = 3
mode = "worker"
worker_script = "worker.php"
max_requests = 500
memory_limit = "128m"
request_timeout = "5s"
  [pool.ini]
  "opcache.enable" = "1"
  "memory_limit" = "64M"
  "display_errors" = false
)",
                             d + "/askr.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const Pool& p = r.config->pools[0];
  EXPECT_TRUE(p.own);
  EXPECT_EQ(p.workers, 3u);
  EXPECT_EQ(p.mode, Pool::Mode::kWorker);
  EXPECT_EQ(p.worker_script, std::filesystem::canonical(d + "/worker.php").string());
  EXPECT_EQ(p.max_requests, 500u);
  EXPECT_EQ(p.memory_limit, 128u << 20);
  EXPECT_EQ(p.request_timeout, std::chrono::seconds(5));
  ASSERT_EQ(p.ini.size(), 3u);
  // Keys come in toml++'s (sorted) table order.
  EXPECT_EQ(p.ini[0], (std::pair<std::string, std::string>{"display_errors", "0"}));
  EXPECT_EQ(p.ini[2], (std::pair<std::string, std::string>{"opcache.enable", "1"}));
  std::filesystem::remove_all(d);
}

TEST(LoadOwnPools, Errors) {
  LoadResult r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
[[pool]]
name = "a"
mode = "worker"
[[pool]]
name = "b"
fastcgi = "127.0.0.1:9000"
workers = 2
[[pool]]
name = "c"
workers = "many"
worker_script = "/nonexistent.php"
mode = "turbo"
)",
                             "/tmp/x.toml");
  ASSERT_FALSE(r.config);
  std::vector<std::string> got;
  for (const Diagnostic& d : r.errors)
    got.push_back(std::to_string(d.line) + ":" + std::to_string(d.column));
  // a: worker mode without a script; b: a worker key on an external pool; c: bad workers, a
  // missing script (also refused without worker mode), bad mode.
  EXPECT_EQ(got, (std::vector<std::string>{"5:1", "11:11", "14:11", "15:17", "15:17", "16:8"}));
}

// user and group, as php-fpm's pool user and group: names the system knows, for Askr's own pools.
TEST(LoadOwnPools, UserAndGroup) {
  LoadResult r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
php = "app"
[[pool]]
name = "app"
user = "nobody"
group = "nogroup"
[[pool]]
name = "b"
user = "root"
)",
                             "/tmp/x.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  EXPECT_EQ(r.config->pools[0].user, "nobody");
  EXPECT_EQ(r.config->pools[0].group, "nogroup");
  EXPECT_EQ(r.config->pools[1].user, "root");
  EXPECT_EQ(r.config->pools[1].group, "");

  r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
[[pool]]
name = "a"
user = "no-such-user-here"
group = "no-such-group-here"
[[pool]]
name = "b"
group = "nogroup"
[[pool]]
name = "c"
fastcgi = "127.0.0.1:9000"
user = "nobody"
)",
                  "/tmp/x.toml");
  ASSERT_FALSE(r.config);
  std::vector<std::string> got = numbered_errors(r);
  EXPECT_EQ(got, (std::vector<std::string>{"7: 'user': no such user: \"no-such-user-here\"",
                                           "8: 'group': no such group: \"no-such-group-here\"",
                                           "11: 'group' needs 'user'",
                                           "15: 'user' applies to askr-worker pools only (a pool "
                                           "without 'fastcgi')"}));
}

// A name or path with a line feed or an escape sequence is shown with \xNN, as every other value
// in a message is: one diagnostic stays one line, and nothing reaches the terminal as control.
TEST(LoadOwnPools, ControlBytesInNamesAreShownEscaped) {
  LoadResult r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
[[pool]]
name = "a"
user = "x\ny"
group = "\u001b[31m"
[pool.env]
"A\nB" = "1"
[[pool]]
name = "b"
mode = "worker"
worker_script = "/no\nsuch.php"
)",
                             "/tmp/x.toml");
  ASSERT_FALSE(r.config);
  std::vector<std::string> got = numbered_errors(r);
  EXPECT_EQ(got,
            (std::vector<std::string>{"7: 'user': no such user: \"x\\x0ay\"",
                                      "8: 'group': no such group: \"\\x1b[31m\"",
                                      "10: environment variable name 'A\\x0aB' must be letters, "
                                      "digits and '_', not starting with a digit",
                                      "14: 'worker_script': no such file: /no\\x0asuch.php"}));
}

// A php.ini setting is passed as one "name=value" line: a name with a line feed would set a
// second setting that the file never names, and is refused as a value with one is.
TEST(LoadOwnPools, IniNameOnOneLine) {
  LoadResult r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
[[pool]]
name = "a"
[pool.ini]
"memory_limit\nauto_prepend_file" = "/tmp/x.php"
"max_execution_time\r" = 5
)",
                             "/tmp/x.toml");
  ASSERT_FALSE(r.config);
  std::vector<std::string> got = numbered_errors(r);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "8: php.ini setting 'memory_limit\\x0aauto_prepend_file' must be one line "
                     "without '='",
                     "9: php.ini setting 'max_execution_time\\x0d' must be one line without '='"}));
}

TEST(LoadOwnPools, Env) {
  LoadResult r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
php = "app"
[[pool]]
name = "app"
  [pool.env]
  APP_ENV = "prod"
  PATH = "$PATH"
  LITERAL = "$not a name"
)",
                             "/tmp/x.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const std::vector<Pool::EnvVar>& env = r.config->pools[0].env;
  ASSERT_EQ(env.size(), 3u);  // toml++'s (sorted) order
  EXPECT_EQ(env[0].name, "APP_ENV");
  EXPECT_EQ(env[0].value, "prod");
  EXPECT_FALSE(env[0].from_proxy);
  EXPECT_EQ(env[1].name, "LITERAL");
  EXPECT_EQ(env[1].value, "$not a name");
  EXPECT_FALSE(env[1].from_proxy);
  EXPECT_EQ(env[2].name, "PATH");
  EXPECT_EQ(env[2].value, "PATH");
  EXPECT_TRUE(env[2].from_proxy);

  r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
[[pool]]
name = "a"
  [pool.env]
  "BAD-NAME" = "x"
  N = 3
  ASKR_READY_FD = "5"
[[pool]]
name = "b"
fastcgi = "127.0.0.1:9000"
  [pool.env]
)",
                  "/tmp/x.toml");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(r.errors.size(), 4u);
}

}  // namespace
}  // namespace askr::config

namespace askr::config {
namespace {

class TlsLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/askr-config-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ / "www");
    std::ofstream(dir_ / "a.pem") << "x";
    std::ofstream(dir_ / "a.key") << "x";
    std::ofstream(dir_ / "b.pem") << "x";
    std::ofstream(dir_ / "b.key") << "x";
  }
  void TearDown() override { fs::remove_all(dir_); }
  LoadResult load(std::string_view text) const {
    if (text.starts_with('\n')) text.remove_prefix(1);
    return load_string(text, (dir_ / "askr.toml").string());
  }
  std::vector<std::string> errors(std::string_view text) const {
    std::vector<std::string> got;
    for (const Diagnostic& d : load(text).errors) {
      got.push_back(std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message);
    }
    return got;
  }

  fs::path dir_;
};

TEST_F(TlsLoadTest, Defaults) {
  LoadResult r = load(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "www"
)");
  ASSERT_TRUE(r.config);
  const Config& c = *r.config;
  EXPECT_FALSE(c.listens[0].tls);
  EXPECT_EQ(c.tls.protocols, kTls12 | kTls13);
  EXPECT_EQ(c.tls.ciphers, kDefaultCiphers);
  EXPECT_EQ(c.tls.ciphersuites, kDefaultCiphersuites);
  EXPECT_EQ(c.tls.groups, "X25519:prime256v1:secp384r1");
  EXPECT_TRUE(c.tls.session_tickets);
  EXPECT_EQ(c.tls.handshake_timeout.count(), 10000);
  EXPECT_EQ(c.tls.ktls, Ktls::kAuto);
  EXPECT_TRUE(c.sites[0].certificates.empty());
  EXPECT_FALSE(c.sites[0].redirect_https);
  EXPECT_EQ(c.sites[0].redirect_https_status, 301);
}

TEST_F(TlsLoadTest, EveryKey) {
  LoadResult r = load(R"(
[[listen]]
address = "127.0.0.1:8443"
tls = true
[[site]]
root = "www"
server_names = ["a.test"]
tls_certificate = ["a.pem", "b.pem"]
tls_certificate_key = ["a.key", "b.key"]
tls_protocols = ["TLSv1.3"]
tls_ciphers = "ECDHE-RSA-AES128-GCM-SHA256"
tls_ciphersuites = "TLS_AES_128_GCM_SHA256"
redirect_https = true
redirect_https_status = 308
[[site.route]]
prefix = "/a/"
[[site.route]]
prefix = "/b/"
redirect_https = false
redirect_https_status = 301
[tls]
protocols = ["TLSv1.2"]
ciphers = "HIGH"
ciphersuites = "TLS_AES_256_GCM_SHA384"
groups = "X25519"
session_tickets = false
handshake_timeout = "2s"
ktls = "off"
)");
  for (const Diagnostic& d : r.errors) ADD_FAILURE() << d.to_string();
  ASSERT_TRUE(r.config);
  const Config& c = *r.config;
  EXPECT_TRUE(c.listens[0].tls);
  const Site& s = c.sites[0];
  ASSERT_EQ(s.certificates.size(), 2u);
  EXPECT_EQ(s.certificates[0].certificate, (dir_ / "a.pem").string());
  EXPECT_EQ(s.certificates[1].key, (dir_ / "b.key").string());
  EXPECT_EQ(s.tls.protocols, kTls13);
  EXPECT_EQ(s.tls.ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(s.tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_TRUE(s.redirect_https);
  EXPECT_EQ(s.redirect_https_status, 308);
  // Routes sorted longest first; equal lengths keep file order.
  EXPECT_TRUE(s.routes[0].redirect_https);  // inherited
  EXPECT_EQ(s.routes[0].redirect_https_status, 308);
  EXPECT_FALSE(s.routes[1].redirect_https);
  EXPECT_EQ(s.routes[1].redirect_https_status, 301);
  EXPECT_EQ(c.tls.protocols, kTls12);
  EXPECT_EQ(c.tls.ciphers, "HIGH");
  EXPECT_EQ(c.tls.ciphersuites, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(c.tls.groups, "X25519");
  EXPECT_FALSE(c.tls.session_tickets);
  EXPECT_EQ(c.tls.handshake_timeout.count(), 2000);
  EXPECT_EQ(c.tls.ktls, Ktls::kOff);
}

TEST_F(TlsLoadTest, Errors) {
  EXPECT_EQ(errors(R"(
[[listen]]
address = "127.0.0.1:8443"
tls = true
[[site]]
root = "www"
)"),
            (std::vector<std::string>{
                "3:7: a listener with 'tls = true' needs 'tls_certificate' on the default [[site]] "
                "(the first without server_names, else the first): clients without SNI, or with "
                "a name no site has, get its certificate"}));
  // A named site's certificate is not enough: the default site (no server_names) has none.
  EXPECT_EQ(errors(R"(
[[listen]]
address = "127.0.0.1:8443"
tls = true
[[site]]
root = "www"
server_names = ["a.test"]
tls_certificate = "a.pem"
tls_certificate_key = "a.key"
[[site]]
root = "www"
)"),
            (std::vector<std::string>{
                "3:7: a listener with 'tls = true' needs 'tls_certificate' on the default [[site]] "
                "(the first without server_names, else the first): clients without SNI, or with "
                "a name no site has, get its certificate"}));
  EXPECT_EQ(errors(R"(
[[listen]]
address = "127.0.0.1:8443"
tls = true
[[listen]]
address = "127.0.0.2:8443"
[[site]]
root = "www"
tls_certificate = "a.pem"
tls_certificate_key = "missing.key"
tls_protocols = ["TLSv1.1", 3]
redirect_https_status = 302
[tls]
protocols = []
ktls = "maybe"
)"),
            (std::vector<std::string>{
                // The pair without its key is left out, so the default site has no certificate.
                "3:7: a listener with 'tls = true' needs 'tls_certificate' on the default [[site]] "
                "(the first without server_names, else the first): clients without SNI, or with "
                "a name no site has, get its certificate",
                "4:1: port 8443 is TLS on one listener and plaintext on another",
                "9:23: tls_certificate_key \"" + (dir_ / "missing.key").string() +
                    "\": No such file or directory",
                "10:18: unknown protocol \"TLSv1.1\" in 'tls_protocols': use \"TLSv1.2\" and/or "
                "\"TLSv1.3\"",
                "10:29: unknown protocol 3 in 'tls_protocols': use \"TLSv1.2\" and/or \"TLSv1.3\"",
                "11:25: 'redirect_https_status' must be 301 or 308",
                "13:13: 'protocols' must be a non-empty array of \"TLSv1.2\" and \"TLSv1.3\"",
                "14:8: 'ktls' must be \"auto\", \"on\" or \"off\""}));
  EXPECT_EQ(errors(R"(
[[listen]]
address = "127.0.0.1:8443"
[[site]]
root = "www"
tls_certificate = ["a.pem", "b.pem"]
tls_certificate_key = "a.key"
[[site]]
root = "www"
tls_certificate = "a.pem"
)"),
            (std::vector<std::string>{
                "6:23: 'tls_certificate_key' must name as many files as 'tls_certificate'",
                "9:19: 'tls_certificate' needs 'tls_certificate_key'"}));
}

// A directory named as a certificate or key is said to be one, as nginx says it ("Is a
// directory"), rather than left to OpenSSL, whose "no start line" sends the operator looking
// into a file that is not there.
TEST_F(TlsLoadTest, CertificateOrKeyThatIsADirectory) {
  fs::create_directory(dir_ / "certs");
  EXPECT_EQ(
      errors(R"(
[[listen]]
address = "127.0.0.1:8443"
[[site]]
root = "www"
tls_certificate = "certs"
tls_certificate_key = "a.key"
[[site]]
root = "www"
tls_certificate = ["a.pem"]
tls_certificate_key = ["certs/"]
)"),
      (std::vector<std::string>{
          "5:19: tls_certificate \"" + (dir_ / "certs").string() + "\": Is a directory",
          "10:24: tls_certificate_key \"" + (dir_ / "certs/").string() + "\": Is a directory"}));
}

// ---- [http2] and [[listen]] http2 -------------------------------------------------------------

TEST(LoadHttp2, DefaultsAndKeys) {
  LoadResult r = load_string(R"([[listen]]
http2 = false
address = "127.0.0.1:8080"
[[listen]]
address = "127.0.0.1:8081"
[[site]]
root = "/"
)",
                             "/tmp/askr.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  EXPECT_FALSE(r.config->listens[0].http2);  // set before address: kept
  EXPECT_TRUE(r.config->listens[1].http2);   // h2c is on by default
  const Http2& d = r.config->http2;
  EXPECT_EQ(d.max_concurrent_streams, 100u);
  EXPECT_EQ(d.initial_window, 1u << 20);
  EXPECT_EQ(d.body_preread, 16u << 10);
  EXPECT_EQ(d.idle_timeout, std::chrono::seconds(180));

  r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
[[site]]
root = "/"
[http2]
max_concurrent_streams = 10
max_streams = 500
initial_window = "256k"
body_preread = "64k"
connection_window = "4m"
reset_burst = 20
reset_rate = 2
flood_burst = 50
flood_rate = 5
max_continuations = 4
idle_timeout = "30s"
)",
                  "/tmp/askr.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const Http2& h = r.config->http2;
  EXPECT_EQ(h.max_concurrent_streams, 10u);
  EXPECT_EQ(h.max_streams, 500u);
  EXPECT_EQ(h.initial_window, 256u << 10);
  EXPECT_EQ(h.body_preread, 64u << 10);
  EXPECT_EQ(h.connection_window, 4u << 20);
  EXPECT_EQ(h.reset_burst, 20u);
  EXPECT_EQ(h.reset_rate, 2u);
  EXPECT_EQ(h.flood_burst, 50u);
  EXPECT_EQ(h.flood_rate, 5u);
  EXPECT_EQ(h.max_continuations, 4u);
  EXPECT_EQ(h.idle_timeout, std::chrono::seconds(30));
}

TEST(LoadHttp2, Errors) {
  LoadResult r = load_string(R"([[listen]]
address = "127.0.0.1:8080"
http2 = "yes"
[[site]]
root = "/"
[http2]
max_concurrent_streams = 0
initial_window = "4g"
body_preread = 0
push = true
)",
                             "/tmp/askr.toml");
  EXPECT_FALSE(r.config);
  std::vector<std::string> got = numbered_errors(r);
  ASSERT_EQ(got.size(), 5u) << ::testing::PrintToString(got);
  EXPECT_NE(got[0].find("3: 'http2' must be true or false"), std::string::npos) << got[0];
  EXPECT_EQ(got[1].rfind("7: ", 0), 0u) << got[1];
  EXPECT_EQ(got[2].rfind("8: ", 0), 0u) << got[2];
  EXPECT_EQ(got[3].rfind("9: ", 0), 0u) << got[3];  // 0: no first read would open the window
  EXPECT_NE(got[4].find("unknown key 'push' in [http2]"), std::string::npos) << got[4];
}

}  // namespace
}  // namespace askr::config
