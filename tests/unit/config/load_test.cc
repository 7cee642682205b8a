#include "shared/config/load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

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

TEST_F(LoadTest, UnknownKeys) {
  expect_errors(minimal_plus(R"(
[server]
threads = 2
thread = 2
[limits.extra]
a = 1
[[pool]]
name = "app"
)"),
                {"8:1: unknown key 'thread' in [server]", "9:9: unknown key 'extra' in [limits]",
                 "11:3: unknown key 'pool'"});
  // Keys that later sections will accept are refused until then.
  expect_errors(
      R"(
[[listen]]
address = "127.0.0.1:8080"
port = 80
[[site]]
root = "www"
php = "app"
front_controller = "index.php"
[[site.route]]
path = "/"
)",
      {"3:1: unknown key 'port' in [[listen]]", "6:1: unknown key 'php' in [[site]]",
       "7:1: unknown key 'front_controller' in [[site]]", "8:8: unknown key 'route' in [[site]]"});
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
[[listen]]
address = "[::ffff:127.0.0.1]:80"
[[site]]
root = "www"
)");
  ASSERT_EQ(c.listens.size(), 4u);
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
  EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&v6(c.listens[3]).sin6_addr));
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
server_names = ["A.Example", "b-2.example", "[::1]", "127.0.0.1", "under_score.local"]
root = "www"
[[site]]
server_names = []
root = "www"
)");
  EXPECT_EQ(c.sites[0].server_names, (std::vector<std::string>{"a.example", "b-2.example", "[::1]",
                                                               "127.0.0.1", "under_score.local"}));
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
      ": a server name holds only letters, digits, '-', '.' and '_' (no port, no wildcard)";
  expect_errors(R"(
[[listen]]
address = "127.0.0.1:8080"
[[site]]
server_names = ["", "a.example:80", "*.example", "[::1", "[nope]", "a b"]
root = "www"
)",
                {"4:17: invalid entry \"\" in 'server_names': must not be empty",
                 "4:21: invalid entry \"a.example:80\" in 'server_names'" + why,
                 "4:37: invalid entry \"*.example\" in 'server_names'" + why,
                 "4:50: invalid entry \"[::1\" in 'server_names': not a bracketed IPv6 address",
                 "4:58: invalid entry \"[nope]\" in 'server_names': not a bracketed IPv6 address",
                 "4:68: invalid entry \"a b\" in 'server_names'" + why});
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

// The demo config in conf/ must load as shipped.
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
  EXPECT_EQ(c.sites[0].index, std::vector<std::string>{"index.html"});
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.format, LogFormat::kCombined);
  EXPECT_EQ(c.access_log.path, "stderr");
}

}  // namespace
}  // namespace askr::config
