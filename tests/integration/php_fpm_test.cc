// PHP through php-fpm over FastCGI, against the real binaries on both I/O backends: CGI params as
// nginx's fastcgi_params sets them, request bodies (forms, multipart uploads, large and chunked
// bodies), streamed and large responses, headers and statuses, routes, backend failures (502,
// 504, a worker dying), and many clients sharing a few php-fpm children.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "fixture.h"
#include "php_harness.h"

namespace askr::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMiB = 1 << 20;

// A file of pseudo-random bytes and its SHA-256.
struct BigFile {
  std::string path;
  std::string sha256;
  size_t size = 0;
};

// What big.php?mb=N sends: each MiB a line "MiB 000042\n" padded with "0123456789abcdef".
std::string expected_big(int mb) {
  static const std::string pad = [] {
    std::string p;
    p.reserve(kMiB);
    while (p.size() < kMiB) p += "0123456789abcdef";
    return p;
  }();
  std::string out;
  out.reserve(size_t(mb) * kMiB);
  for (int i = 0; i < mb; ++i) {
    char head[32];
    int n = snprintf(head, sizeof head, "MiB %06d\n", i);
    out.append(head, size_t(n));
    out.append(pad, 0, kMiB - size_t(n));
  }
  return out;
}

// Where the first difference is, for a failure message that does not print megabytes.
std::string describe_difference(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return "sizes " + std::to_string(got.size()) + " vs " + std::to_string(want.size()) +
         ", first difference at byte " + std::to_string(i);
}

// Entries of temp_dir, but for the directory of askr-proxy's own worker sockets, which lives
// there as long as askr-proxy does.
size_t files_in(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    n += !it->path().filename().string().starts_with("askr-workers-");
  }
  return n;
}

// How many times `needle` occurs in `s`.
size_t count_of(const std::string& s, std::string_view needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

std::string lower_case(std::string s) {
  for (char& c : s) c = char(tolower(static_cast<unsigned char>(c)));
  return s;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The pool behind the site: Debian's php-fpm, or askr's own workers in either mode. The same
// request suite runs against each.
struct PhpParam {
  std::string backend;
  std::string pool;  // "fpm", "classic", "worker"
};

void PrintTo(const PhpParam& p, std::ostream* os) {
  *os << p.backend << "/" << p.pool;
}

class Php : public ::testing::TestWithParam<PhpParam> {
 protected:
  bool fpm() const { return GetParam().pool == "fpm"; }
  const std::string& backend() const { return GetParam().backend; }
  static void TearDownTestSuite() {
    big_files().clear();
    big_dir().reset();
  }

  void SetUp() override {
    if (skip_backend(backend())) {
      GTEST_SKIP() << "io_uring is not usable on this machine; the epoll run covers the fallback";
    }
    if (fpm() && !php_fpm_available())
      GTEST_SKIP() << kPhpFpmBin << " is not installed (php8.2-fpm)";
    if (!fpm() && !ASKR_WITH_WORKER)
      GTEST_SKIP() << "askr-worker is not built in this configuration";
    copy_php_site(root());
  }

  // Starts php-fpm with `children` workers and askr-proxy in front of it; `tweak` adjusts the
  // proxy's config.
  void start(const std::function<void(PhpProxyOptions&)>& tweak = {}, int children = 4) {
    PhpProxyOptions o;
    o.backend = backend();
    o.root = root();
    if (fpm()) {
      fpm_ = std::make_unique<PhpFpm>(children);
      o.fastcgi = fpm_->address();
    }
    if (tweak) tweak(o);
    if (!fpm()) o.pool_extra = askr_pool(o.pool_extra, children);
    proxy_ = std::make_unique<PhpProxy>(o);
  }

  // The same limits for askr's workers: `children` workers, the php.ini settings the php-fpm
  // harness uses, read_timeout as the hard request_timeout, max_connections as workers.
  std::string askr_pool(std::string extra, int children) const {
    extra = std::regex_replace(extra, std::regex("read_timeout"), "request_timeout");
    std::smatch m;
    if (std::regex_search(extra, m, std::regex("max_connections = (\\d+)"))) {
      children = std::stoi(m[1]);
      extra = std::regex_replace(extra, std::regex("max_connections = \\d+\n?"), "");
    }
    extra = std::regex_replace(extra, std::regex("keepalive = true\n?"), "");
    std::string pool =
        "workers = " + std::to_string(children) + "\nmode = \"" + GetParam().pool + "\"\n";
    if (GetParam().pool == "worker") pool += "worker_script = \"" + root() + "/_worker.php\"\n";
    return pool + extra +
           "[pool.ini]\ndisplay_errors = \"0\"\nlog_errors = \"1\"\noutput_buffering = \"0\"\n"
           "upload_max_filesize = \"100M\"\npost_max_size = \"200M\"\nmemory_limit = \"256M\"\n";
  }

  std::string root() const { return site_.path() + "/www"; }
  int port() const { return proxy_->port(); }
  std::string url(const std::string& path) const {
    return "'http://127.0.0.1:" + std::to_string(port()) + path + "'";
  }

  // Runs curl with `args`; returns its exit status, stdout in `out`.
  static int curl(const std::string& args, std::string& out) {
    return run_command("curl -sS --http1.1 --noproxy '*' --max-time 120 " + args, out);
  }

  // curl printing the body, then a last line with the status code.
  std::map<std::string, std::string> curl_json(const std::string& args, int& status) {
    std::string out;
    status = 0;
    if (curl("-w '\\n%{http_code}' " + args, out) != 0) return {};
    size_t nl = out.rfind('\n');
    if (nl == std::string::npos) return {};
    status = std::atoi(out.c_str() + nl + 1);
    return parse_json_object(out.substr(0, nl));
  }

  // A file of `size` pseudo-random bytes, made once per test program and removed after the
  // suite.
  static const BigFile& big_file(size_t size) {
    auto& files = big_files();
    auto it = files.find(size);
    if (it != files.end()) return it->second;
    if (!big_dir()) big_dir() = std::make_unique<TempDir>();
    BigFile f;
    f.size = size;
    f.path = big_dir()->path() + "/data-" + std::to_string(size) + ".bin";
    std::ofstream out(f.path, std::ios::binary);
    uint64_t x = 0x9E3779B97F4A7C15ull ^ size;
    std::vector<uint64_t> block(kMiB / 8);
    for (size_t done = 0; done < size;) {
      for (uint64_t& w : block) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w = x;
      }
      size_t n = std::min(kMiB, size - done);
      out.write(reinterpret_cast<const char*>(block.data()), std::streamsize(n));
      done += n;
    }
    out.close();
    f.sha256 = sha256_file(f.path);
    return files.emplace(size, f).first->second;
  }

  TempDir site_;
  std::unique_ptr<PhpFpm> fpm_;
  std::unique_ptr<PhpProxy> proxy_;  // declared last: stopped before php-fpm

 private:
  static std::unique_ptr<TempDir>& big_dir() {
    static std::unique_ptr<TempDir> dir;
    return dir;
  }
  static std::map<size_t, BigFile>& big_files() {
    static std::map<size_t, BigFile> files;
    return files;
  }
};
std::vector<PhpParam> php_params(std::initializer_list<const char*> pools = {"fpm", "classic",
                                                                             "worker"}) {
  std::vector<PhpParam> out;
  for (const char* pool : pools) {
    for (const char* b : {"io_uring", "epoll"}) out.push_back({b, pool});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, Php, ::testing::ValuesIn(php_params()), [](const auto& info) {
  return info.param.pool + "_" + info.param.backend;
});

// What is about php-fpm itself (stopping it, connections kept open to it): askr's pools have
// their own tests of the same.
class FpmPool : public Php {};

INSTANTIATE_TEST_SUITE_P(Backends, FpmPool, ::testing::ValuesIn(php_params({"fpm"})),
                         [](const auto& info) { return info.param.backend; });

// ---- requests in
// ---------------------------------------------------------------------------------

TEST_P(Php, GetWithQueryString) {
  start();
  PhpResponse r = php_fetch(port(), get("/query.php?a=1&b=two%20words&c=%C3%A9&empty=&plus=x+y"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  auto q = parse_json_object(r.body);
  EXPECT_EQ(q["a"], "1") << r.body;
  EXPECT_EQ(q["b"], "two words");
  EXPECT_EQ(q["c"], "\xC3\xA9");
  EXPECT_TRUE(q.count("empty")) << r.body;
  EXPECT_EQ(q["plus"], "x y");

  // The query string reaches PHP as the client wrote it, not decoded.
  r = php_fetch(port(), get("/env.php?x=1&y=%2F&z"));
  auto env = parse_json_object(r.body);
  EXPECT_EQ(env["QUERY_STRING"], "x=1&y=%2F&z") << r.body;
  EXPECT_EQ(env["REQUEST_URI"], "/env.php?x=1&y=%2F&z");
  EXPECT_EQ(env["REQUEST_METHOD"], "GET");

  // No query: QUERY_STRING is empty, REQUEST_URI has no '?'.
  env = parse_json_object(php_fetch(port(), get("/env.php")).body);
  EXPECT_EQ(env["QUERY_STRING"], "");
  EXPECT_EQ(env["REQUEST_URI"], "/env.php");
}

// getenv() without a name lists the request's FastCGI params after the environment, as
// php-fpm's does (its SAPI imports them), and so does $_ENV; a worker's next request lists its
// own params, none of the request before.
TEST_P(Php, GetenvListsTheRequestsParams) {
  start({}, 1);
  PhpResponse r = php_fetch(port(), get("/getenv.php?q=1", "X-Env-Probe: one\r\n"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto env = parse_json_object(r.body);
  EXPECT_EQ(env["REQUEST_METHOD"], "GET") << r.body;
  EXPECT_EQ(env["QUERY_STRING"], "q=1");
  EXPECT_EQ(env["REQUEST_URI"], "/getenv.php?q=1");
  EXPECT_TRUE(ends_with(env["SCRIPT_FILENAME"], "/getenv.php")) << env["SCRIPT_FILENAME"];
  EXPECT_EQ(env["HTTP_HOST"], "localhost");
  EXPECT_EQ(env["HTTP_X_ENV_PROBE"], "one");

  r = php_fetch(port(), get("/getenv.php"));
  ASSERT_EQ(r.status, 200) << r.body;
  env = parse_json_object(r.body);
  EXPECT_EQ(env["QUERY_STRING"], "") << r.body;
  EXPECT_EQ(env["REQUEST_URI"], "/getenv.php");
  EXPECT_EQ(env.count("HTTP_X_ENV_PROBE"), 0u) << r.body;

  // $_ENV the same, but in worker mode, where it is built once, at boot, with no request's.
  r = php_fetch(port(), get("/env_array.php", "X-Env-Probe: two\r\n"));
  ASSERT_EQ(r.status, 200) << r.body;
  env = parse_json_object(r.body);
  if (GetParam().pool == "worker") {
    EXPECT_EQ(env.count("REQUEST_METHOD"), 0u) << r.body;
    EXPECT_EQ(env.count("HTTP_X_ENV_PROBE"), 0u) << r.body;
  } else {
    EXPECT_EQ(env["REQUEST_METHOD"], "GET") << r.body;
    EXPECT_EQ(env["HTTP_X_ENV_PROBE"], "two");
  }
}

// A header field larger than a FastCGI record (65,535 bytes) goes in a name-value pair split
// across PARAMS records, which the protocol allows: Askr's workers read it whole. php-fpm reads
// each record on its own and drops the connection when a pair goes on in the next; such a
// request is answered 431 with a log line that says why, before php-fpm is asked (nginx refuses
// it too: "fastcgi request record is too big", 500), and the pool goes on serving.
TEST_P(Php, HeaderLargerThanAFastcgiRecord) {
  start([](PhpProxyOptions& o) { o.limits += "max_header_size = \"256k\"\n"; });
  std::string value(100000, 'v');
  for (size_t i = 0; i < value.size(); i += 7) value[i] = char('a' + i % 26);
  std::string md5;
  ASSERT_EQ(run_command("printf %s '" + value + "' | md5sum | cut -d' ' -f1", md5), 0);
  while (!md5.empty() && md5.back() == '\n') md5.pop_back();
  PhpResponse r = php_fetch(port(), get("/bigheader.php", "X-Big: " + value + "\r\n"));
  ASSERT_TRUE(r.ok);
  if (fpm()) {
    EXPECT_EQ(r.status, 431) << r.status_line << r.body;
    std::string log = proxy_->error_log();
    EXPECT_NE(log.find("HTTP_X_BIG"), std::string::npos) << log;
    EXPECT_NE(log.find("larger than a FastCGI record"), std::string::npos) << log;
  } else {
    EXPECT_EQ(r.status, 200) << r.status_line << r.body;
    EXPECT_EQ(r.body, "100000 " + md5 + "\n") << r.body;
  }
  r = php_fetch(port(), get("/bigheader.php", "X-Big: small\r\n"));
  EXPECT_EQ(r.status, 200) << r.status_line << r.body;
  EXPECT_TRUE(starts_with(r.body, "5 ")) << r.body;
}

// Sixty requests on one kept client connection (so over the loop's kept backend connections,
// with the handler's buffers reused from one request to the next), each with header fields,
// a query and a body of its own: every request sees what it sent, and nothing of the one
// before.
TEST_P(Php, KeptConnectionRequestsSeeOnlyTheirOwnFieldsAndBody) {
  start();
  Client c(port());
  for (int i = 0; i < 60; ++i) {
    std::string n = std::to_string(i);
    std::string req;
    if (i % 3 == 2) {  // a POST with a body whose size changes from one request to the next
      std::string body = "i=" + n + "&pad=" + std::string(size_t(i * 97 % 5000), 'p');
      req = "POST /env.php?q=" + n + " HTTP/1.1\r\nHost: localhost\r\nX-Only-" + n + ": v" + n +
            "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
    } else {
      req = "GET /env.php?q=" + n + " HTTP/1.1\r\nHost: localhost\r\nX-Only-" + n + ": v" + n +
            "\r\n" + (i % 2 ? "X-Odd: " + n + "\r\n" : std::string()) + "\r\n";
    }
    c.send(req);
    PhpResponse r = c.read();
    ASSERT_TRUE(r.ok) << i;
    ASSERT_EQ(r.status, 200) << i << r.body;
    auto env = parse_json_object(r.body);
    EXPECT_EQ(env["QUERY_STRING"], "q=" + n) << r.body;
    EXPECT_EQ(env["HTTP_X_ONLY_" + n], "v" + n) << r.body;
    EXPECT_EQ(env.count("HTTP_X_ONLY_" + std::to_string(i - 1)), 0u) << r.body;
    EXPECT_EQ(env.count("HTTP_X_ODD"), i % 2 && i % 3 != 2 ? 1u : 0u) << r.body;
    if (i % 3 == 2) {
      EXPECT_EQ(env["REQUEST_METHOD"], "POST");
      EXPECT_EQ(env["CONTENT_TYPE"], "application/x-www-form-urlencoded");
      EXPECT_EQ(env["CONTENT_LENGTH"],
                std::to_string(("i=" + n + "&pad=").size() + size_t(i * 97 % 5000)));
    } else {
      EXPECT_EQ(env["REQUEST_METHOD"], "GET");
      EXPECT_EQ(env["CONTENT_LENGTH"], "") << r.body;
      EXPECT_EQ(env.count("CONTENT_TYPE") ? env["CONTENT_TYPE"] : "", "") << r.body;
    }
    EXPECT_EQ(r.header("content-type"), "application/json");
  }
}

TEST_P(Php, PostUrlencodedForm) {
  start();
  std::string form = "a=1&b=hello+world&c=%26%3D%C3%A9&d=";
  PhpResponse r = php_fetch(port(),
                            "POST /post.php HTTP/1.1\r\nHost: localhost\r\n"
                            "Content-Type: application/x-www-form-urlencoded\r\n"
                            "Content-Length: " +
                                std::to_string(form.size()) + "\r\n\r\n" + form);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  auto post = parse_json_object(r.body);
  EXPECT_EQ(post["a"], "1") << r.body;
  EXPECT_EQ(post["b"], "hello world");
  EXPECT_EQ(post["c"], "&=\xC3\xA9");
  EXPECT_TRUE(post.count("d"));

  // The same form after "Expect: 100-continue": the client waits for the interim answer.
  Client c(port());
  c.send(
      "POST /post.php HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
      std::to_string(form.size()) + "\r\n\r\n");
  PhpResponse interim = c.read();
  EXPECT_EQ(interim.status, 100);
  c.send(form);
  r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(parse_json_object(r.body)["b"], "hello world") << r.body;

  // With curl, and the form's params as CGI params.
  int status;
  auto env = curl_json("-d 'x=1' " + url("/env.php?q=2"), status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(env["REQUEST_METHOD"], "POST");
  EXPECT_EQ(env["CONTENT_TYPE"], "application/x-www-form-urlencoded");
  EXPECT_EQ(env["CONTENT_LENGTH"], "3");
  EXPECT_EQ(env["QUERY_STRING"], "q=2");
}

TEST_P(Php, MultipartUpload20MiB) {
  const BigFile& f = big_file(20 * kMiB);
  ASSERT_EQ(f.sha256.size(), 64u);
  start();
  int status;
  auto up = curl_json("-F 'note=hello' -F 'f=@" + f.path +
                          ";filename=up.bin;type=application/octet-stream' " + url("/upload.php"),
                      status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(up["error"], "0");
  EXPECT_EQ(up["name"], "up.bin");
  EXPECT_EQ(up["size"], std::to_string(f.size));
  EXPECT_EQ(up["sha256"], f.sha256);
  EXPECT_EQ(up["note"], "hello");
  EXPECT_EQ(files_in(proxy_->temp_dir()), 0u) << "a spilled body was left in temp_dir";
}

TEST_P(Php, StreamedBody100MiB) {
  const BigFile& f = big_file(100 * kMiB);
  ASSERT_EQ(f.sha256.size(), 64u);
  start();
  int status;
  auto body = curl_json("-H 'Content-Type: application/octet-stream' --data-binary @" + f.path +
                            " " + url("/body.php"),
                        status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["length"], std::to_string(f.size));
  EXPECT_EQ(body["sha256"], f.sha256);
  EXPECT_EQ(body["CONTENT_LENGTH"], std::to_string(f.size));
  EXPECT_EQ(body["CONTENT_TYPE"], "application/octet-stream");
  EXPECT_EQ(files_in(proxy_->temp_dir()), 0u) << "a spilled body was left in temp_dir";
}

// Bodies of several MiB in a row, each on its own connection sent in one go, as a plain text
// body that PHP reads whole at start-up: every one arrives whole, on every pool.
TEST_P(Php, BurstOfMultiMegabyteBodies) {
  const BigFile& f = big_file(6 * kMiB);
  std::string body = read_file(f.path);
  ASSERT_EQ(body.size(), f.size);
  start();
  for (int i = 0; i < 10; ++i) {
    PhpResponse r = php_fetch(port(),
                              "POST /body.php HTTP/1.1\r\nHost: localhost\r\n"
                              "Content-Type: text/plain\r\nConnection: close\r\n"
                              "Content-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body,
                              30000);
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.body << proxy_->error_log();
    auto got = parse_json_object(r.body);
    EXPECT_EQ(got["length"], std::to_string(f.size)) << i;
    EXPECT_EQ(got["sha256"], f.sha256) << i;
  }
}

TEST_P(Php, LargeBodyIsSplicedAndSmallOneIsNot) {
  const BigFile& f = big_file(5 * kMiB);
  start([](PhpProxyOptions& o) {
    o.server_extra = "log_level = \"debug\"\n";
    o.pool_extra += "splice_threshold = \"256k\"\n";
  });
  int status;
  auto small = curl_json("--data-binary 'a=1' " + url("/body.php"), status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(proxy_->error_log().find("left to splice"), std::string::npos);
  auto body = curl_json("--data-binary @" + f.path + " " + url("/body.php"), status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["sha256"], f.sha256);
  // The proxy stopped receiving and moved the rest of the body with splice(2).
  EXPECT_NE(proxy_->error_log().find("body bytes left to splice"), std::string::npos)
      << proxy_->error_log();
}

TEST_P(Php, SlowClientPausesThePhpResponseInsteadOfBuffering) {
  start();
  auto rss_kib = [&] {
    std::ifstream st("/proc/" + std::to_string(proxy_->pid()) + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0L;
  };
  long before = rss_kib();
  // The client's socket keeps its default buffers: the kernel holds some 10 MiB of the response
  // at most (the proxy's send buffer, the client's receive buffer), so a proxy that did not pause
  // PHP would hold about 40 MiB itself. A receive buffer shrunk after connect (16 KiB, against a
  // loopback MSS of 64 KiB) made the 50 MiB that follow crawl through zero-window probes, and
  // once stall past the ctest timeout.
  Client c(port());
  c.send(get("/big.php?mb=50"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the client does not read
  long during = rss_kib();
  EXPECT_LT(during - before, 20 * 1024) << "the proxy buffered the response (KiB)";
  PhpResponse r = c.read(false, 60000);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.body.size(), 50 * kMiB);
}

TEST_P(Php, ChunkedBodySpillsToTempDirAndArrivesWhole) {
  const BigFile& f = big_file(5 * kMiB);
  ASSERT_EQ(f.sha256.size(), 64u);
  start();
  int status;
  // 5 MiB is far past body_buffer_size (64k): the body spills to temp_dir, and php-fpm gets it
  // with a CONTENT_LENGTH (PHP reads no body without one).
  auto body = curl_json(
      "-H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-bin' "
      "--data-binary @" +
          f.path + " " + url("/body.php"),
      status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["length"], std::to_string(f.size));
  EXPECT_EQ(body["sha256"], f.sha256);
  EXPECT_EQ(body["CONTENT_LENGTH"], std::to_string(f.size));
  EXPECT_EQ(body["CONTENT_TYPE"], "application/x-bin");
  EXPECT_EQ(files_in(proxy_->temp_dir()), 0u) << "the spilled body was left in temp_dir";

  // A small chunked body (kept in memory) on a raw connection, then the connection is reused.
  Client c(port());
  c.send(
      "POST /body.php HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  PhpResponse r = c.read();
  ASSERT_TRUE(r.ok);
  auto small = parse_json_object(r.body);
  EXPECT_EQ(small["length"], "11") << r.body;
  EXPECT_EQ(small["CONTENT_LENGTH"], "11");
  c.send(get("/hello.txt"));
  EXPECT_EQ(c.read().body, "hello from askr\n");
}

// A chunked body for PHP whose framing breaks is refused once: 400, the connection closed, one
// line in the error log and one bad request in the loop's counters (written at stop), as for any
// other refusal.
TEST_P(Php, MalformedChunkedBodyForPhpIsCountedOnce) {
  start();
  Client c(port());
  c.send(
      "POST /body.php HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\nzz\r\n");
  PhpResponse r = c.read();
  EXPECT_EQ(r.status, 400) << r.status_line;
  EXPECT_TRUE(c.wait_closed());
  ASSERT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->error_log();
  EXPECT_EQ(http_counter(log, "bad requests"), 1u) << log;
  EXPECT_EQ(count_of(log, "chunk"), 1u) << log;
}

// ---- responses out
// ---------------------------------------------------------------------------------

TEST_P(Php, LargeResponse50MiB) {
  start();
  const std::string want = expected_big(50);
  std::string out;
  std::string got_path = site_.path() + "/got.bin";
  std::string head_path = site_.path() + "/head.txt";

  // No length from PHP: chunked.
  ASSERT_EQ(curl("-o " + got_path + " -D " + head_path + " -w '%{http_code} %{size_download}' " +
                     url("/big.php?mb=50"),
                 out),
            0);
  EXPECT_EQ(out, "200 " + std::to_string(want.size()));
  std::string head = lower_case(read_file(head_path));
  EXPECT_NE(head.find("transfer-encoding: chunked"), std::string::npos) << head;
  std::string got = read_file(got_path);
  EXPECT_TRUE(got == want) << describe_difference(got, want);

  // With the length PHP announced.
  ASSERT_EQ(curl("-o " + got_path + " -D " + head_path + " -w '%{http_code} %{size_download}' " +
                     url("/big.php?mb=50&cl=1"),
                 out),
            0);
  EXPECT_EQ(out, "200 " + std::to_string(want.size()));
  head = lower_case(read_file(head_path));
  EXPECT_NE(head.find("content-length: " + std::to_string(want.size())), std::string::npos) << head;
  EXPECT_EQ(head.find("transfer-encoding"), std::string::npos) << head;
  got = read_file(got_path);
  EXPECT_TRUE(got == want) << describe_difference(got, want);
}

// PHP's output goes record by record into HTTP/1.1 chunks and HTTP/2 frames, in copies that
// go in pieces where the addresses call for it (shared/base/copy.h): bytes that repeat nowhere,
// unlike big.php's, so that a piece copied to the wrong place, twice or not at all shows.
TEST_P(Php, ReadfileOfUnrepeatedBytesArrivesWhole) {
  start();
  const BigFile& f = big_file(6 * kMiB + 12345);
  site_.write("www/readfile.php", "<?php readfile('" + f.path + "');\n");
  const std::string got_path = site_.path() + "/got.bin";
  std::string out;
  ASSERT_EQ(
      curl("-o " + got_path + " -w '%{http_code} %{size_download}' " + url("/readfile.php"), out),
      0);
  EXPECT_EQ(out, "200 " + std::to_string(f.size));
  EXPECT_EQ(sha256_file(got_path), f.sha256) << "HTTP/1.1";
  ASSERT_EQ(
      run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 120 -o " + got_path +
                      " -w '%{http_code} %{size_download} %{http_version}' " + url("/readfile.php"),
                  out),
      0);
  EXPECT_EQ(out, "200 " + std::to_string(f.size) + " 2");
  EXPECT_EQ(sha256_file(got_path), f.sha256) << "h2c";
}

TEST_P(Php, FlushReachesClientBeforeScriptEnds) {
  start();
  Client c(port());
  auto t0 = Clock::now();
  c.send(get("/stream.php"));
  ASSERT_TRUE(c.read_until("first line\n", 10000)) << c.buffered();
  auto first = Clock::now();
  PhpResponse r = c.read(false, 10000);
  auto end = Clock::now();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "first line\nsecond line\n");
  EXPECT_TRUE(r.chunked);
  EXPECT_LT(first - t0, milliseconds(1500)) << "the flushed line waited for the script";
  EXPECT_GE(end - first, milliseconds(1500)) << "the first line came with the rest";
}

TEST_P(Php, HeadersCookiesAndStatusCodes) {
  start();
  PhpResponse r = php_fetch(port(), get("/headers.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.status_line, "HTTP/1.1 201 Created");
  EXPECT_EQ(r.header("x-custom"), "custom-value");
  EXPECT_EQ(r.all("set-cookie"),
            (std::vector<std::string>{"first=one", "second=two; path=/; HttpOnly"}));
  EXPECT_FALSE(r.has("status")) << "the CGI Status field is not a response header";
  EXPECT_EQ(r.header("content-type"), "text/html; charset=UTF-8");
  EXPECT_EQ(r.body, "created\n");

  r = php_fetch(port(), get("/status.php?c=404"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "not here\n");
  EXPECT_FALSE(r.has("status"));

  r = php_fetch(port(), get("/status.php?c=418"));  // "Status: 418", no reason phrase
  EXPECT_EQ(r.status, 418);
  EXPECT_TRUE(starts_with(r.status_line, "HTTP/1.1 418")) << r.status_line;
  EXPECT_EQ(r.body, "teapot\n");

  r = php_fetch(port(), get("/status.php"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");

  // A Content-Length from PHP is kept: no chunked framing.
  r = php_fetch(port(), get("/cl.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header("content-length"), "5");
  EXPECT_FALSE(r.chunked);
  EXPECT_EQ(r.body, "hello");
}

// ob_gzhandler and zlib.output_compression compress for the request they answer: each reads
// the Accept-Encoding of its own request, so a client that asked for none gets the text as it is,
// whatever the request before it on the same PHP process asked for.
TEST_P(Php, CompressionFollowsEachRequestsAcceptEncoding) {
  start({}, 1);  // one PHP process serves every request
  const std::string text = [] {
    std::string t;
    for (int i = 0; i < 64; ++i) t += "compressible text\n";
    return t;
  }();
  for (const char* query : {"", "?ini=1"}) {
    for (const char* accepted : {"gzip", "", "deflate", ""}) {
      std::string ae = *accepted ? std::string("Accept-Encoding: ") + accepted + "\r\n" : "";
      PhpResponse r = php_fetch(port(), get(std::string("/gzip.php") + query, ae));
      ASSERT_TRUE(r.ok) << query << " " << accepted;
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.header("content-encoding"), accepted) << query << " asked for: " << accepted;
      if (*accepted) {
        EXPECT_NE(r.body, text);
      } else {
        EXPECT_EQ(r.body, text) << query << " without Accept-Encoding";
      }
    }
  }
}

// PHP keeps the last stat() it made for the rest of its request: the next request stats the
// file anew, so it sees what another process did to the file meanwhile.
TEST_P(Php, EachRequestStatsFilesAnew) {
  start({}, 1);  // one PHP process serves every request
  std::string file = site_.write("stat-me", "12");
  auto stat_it = [&] {
    PhpResponse r = php_fetch(port(), get("/filestat.php?f=" + file));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  };
  EXPECT_EQ(stat_it(), R"({"exists":true,"size":2})");
  site_.write("stat-me", "12345");
  EXPECT_EQ(stat_it(), R"({"exists":true,"size":5})") << "a size from the request before";
  fs::remove(file);
  EXPECT_EQ(stat_it(), R"({"exists":false,"size":false})") << "a size from the request before";
}

// output_add_rewrite_var() rewrites the forms of the request that called it, with its own
// value, and no other request's.
TEST_P(Php, RewriteVarIsTheRequestsOwn) {
  start({}, 1);  // one PHP process serves every request
  auto form = [&](const std::string& query) {
    PhpResponse r = php_fetch(port(), get("/rewrite_var.php" + query));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  };
  const std::string with = R"(<form action="/next.php"><input type="hidden" name="tok" value=")";
  EXPECT_EQ(form("?v=one"), with + R"(one" /></form>)");
  EXPECT_EQ(form(""), R"(<form action="/next.php"></form>)");
  EXPECT_EQ(form("?v=two"), with + R"(two" /></form>)");
  EXPECT_EQ(form("?v=three"), with + R"(three" /></form>)");
}

// Server and Date are the proxy's own fields: a script's are not sent beside them, since a
// response with two Date fields (or two Server fields) is malformed and its age unclear to caches.
TEST_P(Php, ScriptServerAndDateDoNotDuplicateTheProxys) {
  start();
  PhpResponse r = php_fetch(port(), get("/server_date.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "x\n");
  EXPECT_EQ(r.all("server"), std::vector<std::string>{"askr"});
  ASSERT_EQ(r.all("date").size(), 1u);
  EXPECT_NE(r.header("date"), "Mon, 01 Jan 2024 00:00:00 GMT");
}

TEST_P(Php, LocationRedirects) {
  start();
  // PHP answers "Status: 302 Found" with the Location.
  PhpResponse r = php_fetch(port(), get("/headers.php?redirect=1"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 302);
  EXPECT_TRUE(ends_with(r.header("location"), "/x")) << r.header("location");
  // A Location without any Status line: 302 all the same.
  r = php_fetch(port(), get("/headers.php?redirect=raw"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 302);
  EXPECT_TRUE(ends_with(r.header("location"), "/x")) << r.header("location");
  // header('HTTP/1.1 200 OK') after the Location: a 200 has no Status line, so 302 again.
  r = php_fetch(port(), get("/headers.php?redirect=line"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 302) << r.status_line;
  // php-fpm passes no reason of the script's for a 200 either.
  r = php_fetch(port(), get("/reason.php?code=200&text=Fine"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
}

// ---- paths and routes
// ------------------------------------------------------------------------------

TEST_P(Php, PathInfoIsSplitAfterTheScript) {
  start();
  PhpResponse r = php_fetch(port(), get("/pathinfo.php/a/b"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  auto p = parse_json_object(r.body);
  EXPECT_EQ(p["PATH_INFO"], "/a/b") << r.body;
  EXPECT_EQ(p["SCRIPT_NAME"], "/pathinfo.php");
  EXPECT_EQ(p["SCRIPT_FILENAME"], fs::canonical(root()).string() + "/pathinfo.php");
  EXPECT_EQ(p["REQUEST_URI"], "/pathinfo.php/a/b");
  EXPECT_EQ(p["PHP_SELF"], "/pathinfo.php/a/b");
  // The script, without PATH_INFO: try_files $fastcgi_script_name (Debian's
  // snippets/fastcgi-php.conf) makes it nginx's $uri, which DOCUMENT_URI is.
  EXPECT_EQ(p["DOCUMENT_URI"], "/pathinfo.php");

  // Decoded like nginx's $uri; REQUEST_URI stays as sent.
  r = php_fetch(port(), get("/pathinfo.php/x%20y/z?q=1"));
  p = parse_json_object(r.body);
  EXPECT_EQ(p["PATH_INFO"], "/x y/z") << r.body;
  EXPECT_EQ(p["SCRIPT_NAME"], "/pathinfo.php");
  EXPECT_EQ(p["REQUEST_URI"], "/pathinfo.php/x%20y/z?q=1");
  EXPECT_EQ(p["DOCUMENT_URI"], "/pathinfo.php");

  // No path after the script: PATH_INFO is empty.
  p = parse_json_object(php_fetch(port(), get("/pathinfo.php")).body);
  EXPECT_EQ(p["PATH_INFO"], "");
  EXPECT_EQ(p["SCRIPT_NAME"], "/pathinfo.php");
  EXPECT_EQ(p["DOCUMENT_URI"], "/pathinfo.php");
}

// A path with more than one ".php/" runs the first script it names, as nginx with Debian's
// snippets/fastcgi-php.conf (fastcgi_split_path_info ^(.+?\.php)(/.*)$; try_files
// $fastcgi_script_name =404): what follows is PATH_INFO, ".php" in it or not. A directory whose
// name ends in ".php" is passed over, so the script beneath it runs, as the greedy
// ^(.+\.php)(/.*)$ finds it (or the path itself names); beneath a missing name nothing runs.
TEST_P(Php, PathInfoIsSplitAtTheFirstScript) {
  site_.write("www/d.php/inner.php", read_file(root() + "/pathinfo.php"));
  start();
  PhpResponse r = php_fetch(port(), get("/pathinfo.php/x.php/y"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto p = parse_json_object(r.body);
  EXPECT_EQ(p["SCRIPT_NAME"], "/pathinfo.php");
  EXPECT_EQ(p["PATH_INFO"], "/x.php/y");
  EXPECT_EQ(p["SCRIPT_FILENAME"], fs::canonical(root()).string() + "/pathinfo.php");

  p = parse_json_object(php_fetch(port(), get("/pathinfo.php/x.php")).body);
  EXPECT_EQ(p["SCRIPT_NAME"], "/pathinfo.php");
  EXPECT_EQ(p["PATH_INFO"], "/x.php");

  r = php_fetch(port(), get("/d.php/inner.php/z.php/w"));
  ASSERT_EQ(r.status, 200) << r.body;
  p = parse_json_object(r.body);
  EXPECT_EQ(p["SCRIPT_NAME"], "/d.php/inner.php");
  EXPECT_EQ(p["PATH_INFO"], "/z.php/w");
  p = parse_json_object(php_fetch(port(), get("/d.php/inner.php")).body);
  EXPECT_EQ(p["SCRIPT_NAME"], "/d.php/inner.php");
  EXPECT_EQ(p["PATH_INFO"], "");

  EXPECT_EQ(php_fetch(port(), get("/none.php/pathinfo.php/a")).status, 404);
  EXPECT_EQ(php_fetch(port(), get("/d.php/")).status, 404);
  EXPECT_EQ(php_fetch(port(), get("/d.php/other.php/a")).status, 404);
}

// An encoded slash after the script reaches PHP decoded in PATH_INFO (and PHP_SELF), as nginx
// gives it, REQUEST_URI as sent: apps route on ids such as "vendor%2Fname". In the script's own
// part it names no file: the script it would name with a real '/' is not found through it.
TEST_P(Php, EncodedSlashInPathInfoIsDecoded) {
  site_.write("www/dir/pathinfo.php", read_file(root() + "/pathinfo.php"));
  start();
  PhpResponse r = php_fetch(port(), get("/pathinfo.php/a%2Fb/c%2f?q=1"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto p = parse_json_object(r.body);
  EXPECT_EQ(p["PATH_INFO"], "/a/b/c/") << r.body;
  EXPECT_EQ(p["SCRIPT_NAME"], "/pathinfo.php");
  EXPECT_EQ(p["SCRIPT_FILENAME"], fs::canonical(root()).string() + "/pathinfo.php");
  EXPECT_EQ(p["REQUEST_URI"], "/pathinfo.php/a%2Fb/c%2f?q=1");
  EXPECT_EQ(p["PHP_SELF"], "/pathinfo.php/a/b/c/");
  EXPECT_EQ(p["DOCUMENT_URI"], "/pathinfo.php");

  // Decoded, its dot-segments are resolved, as nginx resolves them; one that climbs into the
  // script's own path names nothing.
  p = parse_json_object(php_fetch(port(), get("/pathinfo.php/a%2F..%2Fb%2F%2Fc")).body);
  EXPECT_EQ(p["PATH_INFO"], "/b/c");
  EXPECT_EQ(p["SCRIPT_NAME"], "/pathinfo.php");
  EXPECT_EQ(php_fetch(port(), get("/pathinfo.php/..%2fdir/pathinfo.php")).status, 404);

  for (const char* path :
       {"/dir%2Fpathinfo.php", "/dir%2fpathinfo.php/x", "/dir/..%2fpathinfo.php", "/dir%2F"}) {
    r = php_fetch(port(), get(path));
    EXPECT_EQ(r.status, 404) << path << " " << r.body;
  }
  EXPECT_EQ(php_fetch(port(), get("/%2e%2e%2fpathinfo.php")).status, 400);
  EXPECT_EQ(php_fetch(port(), get("/pathinfo.php/..%2f..%2fetc")).status, 400);
  EXPECT_EQ(php_fetch(port(), get("/pathinfo.php/a%2F%00")).status, 400);

  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 " +
                            url("/pathinfo.php/vendor%2Fname"),
                        out),
            0);
  p = parse_json_object(out);
  EXPECT_EQ(p["PATH_INFO"], "/vendor/name") << out;
  EXPECT_EQ(p["REQUEST_URI"], "/pathinfo.php/vendor%2Fname");
}

// A path with an encoded slash names no file, so under a front controller it runs the front
// controller as any missing path does, with REQUEST_URI as sent, which the app routes on (ids
// such as "vendor%2Fname" in package registries and REST APIs). What it would name with a real
// '/' is not looked up: not served, not run.
TEST_P(Php, EncodedSlashGoesToTheFrontController) {
  site_.write("www/search/AC/DC", "a file\n");
  site_.write("www/dir/pathinfo.php", read_file(root() + "/pathinfo.php"));
  start([](PhpProxyOptions& o) { o.front_controller = "index.php"; });
  for (const char* path :
       {"/api/packages/vendor%2Fname?x=1", "/search/AC%2FDC?x=1", "/search/AC%2fDC/?x=1",
        "/hello.txt%2F?x=1", "/dir/..%2fhello.txt?x=1"}) {
    PhpResponse r = php_fetch(port(), get(path));
    ASSERT_EQ(r.status, 200) << path << " " << r.body;
    auto fc = parse_json_object(r.body);
    EXPECT_EQ(fc["script"], "index.php") << path << " " << r.body;
    EXPECT_EQ(fc["REQUEST_URI"], path);
    EXPECT_EQ(fc["SCRIPT_NAME"], "/index.php");
    EXPECT_EQ(fc["x"], "1");
  }
  // A script named through an encoded slash is not found, as nginx's try_files
  // $fastcgi_script_name =404 answers a missing one.
  EXPECT_EQ(php_fetch(port(), get("/dir%2Fpathinfo.php")).status, 404);
  EXPECT_EQ(php_fetch(port(), get("/dir/pathinfo.php")).status, 200);
}

TEST_P(Php, FrontControllerRunsForMissingPaths) {
  start([](PhpProxyOptions& o) { o.front_controller = "index.php"; });
  PhpResponse r = php_fetch(port(), get("/no/such/page?x=1"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  auto fc = parse_json_object(r.body);
  EXPECT_EQ(fc["script"], "index.php") << r.body;
  EXPECT_EQ(fc["REQUEST_URI"], "/no/such/page?x=1");
  EXPECT_EQ(fc["QUERY_STRING"], "x=1");
  EXPECT_EQ(fc["SCRIPT_NAME"], "/index.php");
  EXPECT_EQ(fc["x"], "1");

  // Files that exist are served as they are; scripts that exist run themselves.
  EXPECT_EQ(php_fetch(port(), get("/hello.txt")).body, "hello from askr\n");
  EXPECT_EQ(parse_json_object(php_fetch(port(), get("/pathinfo.php")).body)["SCRIPT_NAME"],
            "/pathinfo.php");
}

// A front controller that is not there (not deployed yet, a typo) is answered 404 by the proxy,
// as nginx's try_files answers it, and never sent to PHP to fail with "Primary script unknown"
// and its own "File not found." page.
TEST_P(Php, MissingFrontControllerIs404FromTheProxy) {
  start([](PhpProxyOptions& o) { o.front_controller = "gone.php"; });
  PhpResponse r = php_fetch(port(), get("/no/such/page?x=1"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 Not Found\n");
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  // What exists is served as before.
  EXPECT_EQ(php_fetch(port(), get("/hello.txt")).body, "hello from askr\n");
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
  EXPECT_EQ(proxy_->error_log().find("Primary script unknown"), std::string::npos)
      << proxy_->error_log();
}

TEST_P(Php, IndexPhpAnswersForTheDirectory) {
  start();
  PhpResponse r = php_fetch(port(), get("/?x=5"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  auto fc = parse_json_object(r.body);
  EXPECT_EQ(fc["script"], "index.php") << r.body;
  EXPECT_EQ(fc["SCRIPT_NAME"], "/index.php");
  EXPECT_EQ(fc["REQUEST_URI"], "/?x=5");
  EXPECT_EQ(fc["x"], "5");
}

// A directory under a PHP site with a front controller is answered as nginx 1.22 answers it with
//   index index.php index.html;
//   location / { try_files $uri $uri/ /index.php?$query_string; }
//   location ~ \.php { include snippets/fastcgi-php.conf; fastcgi_pass ...; }
// ($uri/ matches a directory, whose index module takes the first index name that exists,
// whatever it is): a directory whose index is a directory is redirected to it, never handed to
// the front controller; an index.php that is a directory is 404. What does not exist still runs
// the front controller, and so does a directory without an index, as FrankenPHP's php_server
// and Symfony's nginx config run it (there nginx's $uri/ would answer 403).
TEST_P(Php, DirectoriesAreAnsweredAsNginxDoesNotByTheFrontController) {
  site_.write("www/empty/.keep", "");
  site_.write("www/dindex/index.html/.keep", "");
  site_.write("www/phpdir/index.php/.keep", "");
  site_.write("www/phpdir/index.html", "not this\n");
  start([](PhpProxyOptions& o) { o.front_controller = "index.php"; });
  struct Case {
    const char* target;
    int status;
    const char* location;
  };
  const Case cases[] = {
      {"/empty?a=1", 301, "/empty/?a=1"},
      {"/dindex/?a=1", 301, "/dindex/index.html/?a=1"},
      {"/phpdir/", 404, ""},
  };
  for (const Case& c : cases) {
    PhpResponse r = php_fetch(port(), get(c.target));
    ASSERT_TRUE(r.ok) << c.target;
    EXPECT_EQ(r.status, c.status) << c.target;
    EXPECT_EQ(r.header("location"), c.location) << c.target;
    EXPECT_EQ(r.body.find("\"script\""), std::string::npos) << c.target << ": " << r.body;
  }
  for (const char* missing :
       {"/no/such/dir/?x=1", "/hello.txt/?x=1", "/empty/?x=1", "/dindex/index.html/?x=1"}) {
    PhpResponse r = php_fetch(port(), get(missing));
    ASSERT_TRUE(r.ok) << missing;
    EXPECT_EQ(r.status, 200) << missing;
    auto fc = parse_json_object(r.body);
    EXPECT_EQ(fc["script"], "index.php") << missing << ": " << r.body;
    EXPECT_EQ(fc["x"], "1") << missing;
  }
}

// What is neither a file nor a directory (a FIFO here) is found by try_files and answered 404 by
// nginx's static handler ("is not a regular file"): never by the front controller, and the same
// when it is a directory's index file.
TEST_P(Php, WhatIsNeitherFileNorDirectoryIs404NotTheFrontController) {
  site_.write("www/ff/.keep", "");
  ASSERT_EQ(mkfifo((root() + "/ff/index.html").c_str(), 0644), 0);
  ASSERT_EQ(mkfifo((root() + "/fifo.txt").c_str(), 0644), 0);
  start([](PhpProxyOptions& o) { o.front_controller = "index.php"; });
  for (const char* target : {"/fifo.txt", "/ff/", "/ff/index.html"}) {
    PhpResponse r = php_fetch(port(), get(target));
    ASSERT_TRUE(r.ok) << target;
    EXPECT_EQ(r.status, 404) << target << ": " << r.body;
  }
}

TEST_P(Php, StaticFilesNextToPhpServedByAskr) {
  start();
  PhpResponse r = php_fetch(port(), get("/hello.txt"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello from askr\n");
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_FALSE(r.header("etag").empty());
  EXPECT_FALSE(r.has("x-powered-by"));
  EXPECT_EQ(php_fetch(port(), get("/hello.txt", "Range: bytes=0-4\r\n")).body, "hello");
}

TEST_P(Php, StaticRouteRefusesPhpWithoutShowingIt) {
  start([](PhpProxyOptions& o) {
    o.routes = "[[site.route]]\nprefix = \"/static-only/\"\nstatic = true\n";
  });
  for (const char* path : {"/static-only/secret.php", "/static-only/secret.php?x=1",
                           "/static-only/secret.php/extra", "/static-only/SECRET.PHP"}) {
    PhpResponse r = php_fetch(port(), get(path));
    EXPECT_NE(r.status, 200) << path;
    EXPECT_EQ(r.body.find("SOURCE-MARKER"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("EXECUTED-MARKER"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("<?php"), std::string::npos) << path;
  }
  EXPECT_EQ(php_fetch(port(), get("/static-only/secret.php")).status, 403);
  PhpResponse head = php_fetch(port(), "HEAD /static-only/secret.php HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.status, 403);
  // Other files under the route are served.
  EXPECT_EQ(php_fetch(port(), get("/static-only/readme.txt")).body, "plain file\n");
  // An index.php found for the directory is a .php file like any other: refused, never sent.
  site_.write("www/static-only/sub/index.php", read_file(root() + "/static-only/secret.php"));
  for (const char* path : {"/static-only/sub/", "/static-only/sub/?x=1"}) {
    PhpResponse r = php_fetch(port(), get(path));
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_EQ(r.body.find("SOURCE-MARKER"), std::string::npos) << path;
  }
  // Outside the route PHP still runs.
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
}

TEST_P(Php, ReturnRouteRedirects) {
  start([](PhpProxyOptions& o) {
    o.routes =
        "[[site.route]]\nprefix = \"/old/\"\nreturn = 301\nlocation = "
        "\"https://example.org/new/\"\n";
  });
  PhpResponse r = php_fetch(port(), get("/old/page.php?x=1"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "https://example.org/new/");
  EXPECT_EQ(php_fetch(port(), get("/old/")).status, 301);
}

// A route's own root and alias, as nginx + php-fpm give them for
//   location /media/ { root /srv/mediaroot; }       SCRIPT_FILENAME
//   $document_root$fastcgi_script_name location /wp-content/ { alias /srv/wpc/; } SCRIPT_FILENAME
//   $request_filename
// DOCUMENT_ROOT is the route's root or alias directory.
TEST_P(Php, RouteRootAndAliasScripts) {
  const std::string env = read_file(root() + "/env.php");
  site_.write("mediaroot/media/env.php", env);
  site_.write("wpc/env.php", env);
  site_.write("secret.php", "<?php echo 'SECRET-RAN';\n");
  const std::string base = fs::canonical(site_.path()).string();
  start([&](PhpProxyOptions& o) {
    o.routes = "[[site.route]]\nprefix = \"/media/\"\nroot = \"" + base +
               "/mediaroot\"\n[[site.route]]\nprefix = \"/wp-content/\"\nalias = \"" + base +
               "/wpc\"\n";
  });
  PhpResponse r = php_fetch(port(), get("/media/env.php?q=1"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto p = parse_json_object(r.body);
  EXPECT_EQ(p["SCRIPT_FILENAME"], base + "/mediaroot/media/env.php");
  EXPECT_EQ(p["DOCUMENT_ROOT"], base + "/mediaroot");
  EXPECT_EQ(p["SCRIPT_NAME"], "/media/env.php");

  r = php_fetch(port(), get("/wp-content/env.php/x/y"));
  ASSERT_EQ(r.status, 200) << r.body;
  p = parse_json_object(r.body);
  EXPECT_EQ(p["SCRIPT_FILENAME"], base + "/wpc/env.php");
  EXPECT_EQ(p["DOCUMENT_ROOT"], base + "/wpc");
  EXPECT_EQ(p["SCRIPT_NAME"], "/wp-content/env.php");
  EXPECT_EQ(p["PATH_INFO"], "/x/y");
  EXPECT_EQ(p["REQUEST_URI"], "/wp-content/env.php/x/y");

  // Outside the routes, the site's root.
  p = parse_json_object(php_fetch(port(), get("/env.php")).body);
  EXPECT_EQ(p["DOCUMENT_ROOT"], base + "/www");

  // Nothing climbs out of the alias: ".." is resolved before routing, an encoded slash names no
  // file, NUL is refused, and a path that only starts like the prefix is not under it.
  const std::pair<const char*, int> cases[] = {
      {"/wp-content/../secret.php", 404},  // "/secret.php" under the site's root: none there
      {"/wp-content/%2e%2e/secret.php", 404}, {"/wp-content/%2e%2e/%2e%2e/secret.php", 400},
      {"/wp-content/..%2fsecret.php", 404},   {"/wp-content../secret.php", 404},
      {"/wp-content/..%5csecret.php", 404},   {"/wp-content/env.php%00.txt", 400},
      {"/media/../../secret.php", 400},
  };
  for (const auto& [path, status] : cases) {
    r = php_fetch(port(), get(path));
    EXPECT_EQ(r.status, status) << path;
    EXPECT_EQ(r.body.find("SECRET-RAN"), std::string::npos) << path;
  }
}

// With symlinks = "follow", a script behind a link out of the root runs, and PHP is given the
// path as the request names it, as nginx's $document_root$fastcgi_script_name, not the link's
// target. A route with its own "beneath" refuses the same kind of link: 404, as nginx's
// `try_files $fastcgi_script_name =404` answers a script it may not open.
TEST_P(Php, ScriptBehindASymlink) {
  site_.write("outside/env.php", read_file(root() + "/env.php"));
  fs::create_symlink("../outside/env.php", root() + "/linked.php");
  fs::create_directories(root() + "/strict");
  fs::create_symlink("../../outside/env.php", root() + "/strict/linked.php");
  fs::create_symlink("../outside", root() + "/appdir");
  fs::create_directories(root() + "/owned");
  fs::create_symlink("../../outside/env.php", root() + "/owned/linked.php");
  const bool as_root = geteuid() == 0;
  if (as_root) {
    ASSERT_EQ(lchown((root() + "/owned/linked.php").c_str(), 65534, 65534), 0);
  }
  site_.write("secret.php", "<?php echo 'SECRET-RAN';\n");
  start([](PhpProxyOptions& o) {
    o.site_extra = "symlinks = \"follow\"\n";
    o.routes =
        "[[site.route]]\nprefix = \"/strict/\"\nsymlinks = \"beneath\"\n"
        "[[site.route]]\nprefix = \"/owned/\"\nsymlinks = \"owner\"\n";
  });
  const std::string www = fs::canonical(root()).string();
  PhpResponse r = php_fetch(port(), get("/linked.php"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto p = parse_json_object(r.body);
  EXPECT_EQ(p["SCRIPT_FILENAME"], www + "/linked.php");
  EXPECT_EQ(p["DOCUMENT_ROOT"], www);
  p = parse_json_object(php_fetch(port(), get("/appdir/env.php")).body);
  EXPECT_EQ(p["SCRIPT_FILENAME"], www + "/appdir/env.php");
  EXPECT_EQ(php_fetch(port(), get("/strict/linked.php")).status, 404);
  // A link owned by another user than its target (as root: 65534 -> root's file).
  EXPECT_EQ(php_fetch(port(), get("/owned/linked.php")).status, as_root ? 404 : 200);

  // The request path never climbs out, in any of the three modes.
  for (const char* prefix : {"", "/strict", "/owned"}) {
    for (const char* rest : {"/../secret.php", "/%2e%2e/secret.php", "/..%2fsecret.php",
                             "/../../secret.php", "/secret.php%00.txt"}) {
      const std::string path = std::string(prefix) + rest;
      r = php_fetch(port(), get(path));
      EXPECT_NE(r.status, 200) << path;
      EXPECT_EQ(r.body.find("SECRET-RAN"), std::string::npos) << path;
    }
  }
}

TEST_P(Php, MissingPhpIs404) {
  site_.write("www/upload.txt", "<?php echo 'UPLOADED-CODE-RAN';\n");
  start();
  PhpResponse r = php_fetch(port(), get("/missing.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(php_fetch(port(), get("/dir/missing.php?x=1")).status, 404);
  EXPECT_EQ(php_fetch(port(), get("/missing.php/path/info")).status, 404);
  // A file that is not a script never runs as one, whatever the path after it.
  for (const char* path : {"/upload.txt/x.php", "/upload.txt%00.php", "/upload.txt/.php"}) {
    r = php_fetch(port(), get(path));
    EXPECT_NE(r.status, 200) << path;
    EXPECT_EQ(r.body.find("UPLOADED-CODE-RAN"), std::string::npos) << path;
  }
}

// ---- CGI params ---------------------------------------------------------------------------------

TEST_P(Php, CgiParamsLikeNginx) {
  start();
  Client c(port());
  sockaddr_in local{};
  socklen_t len = sizeof local;
  getsockname(c.fd(), reinterpret_cast<sockaddr*>(&local), &len);
  c.send(get("/env.php?q=1",
             "User-Agent: tester/1.0\r\nX-Dash-Header: dash\r\nCookie: a=b; c=d\r\n"
             "Accept: */*\r\n"));
  PhpResponse r = c.read();
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 200);
  auto env = parse_json_object(r.body);
  std::string root_real = fs::canonical(root()).string();
  EXPECT_EQ(env["GATEWAY_INTERFACE"], "CGI/1.1") << r.body;
  EXPECT_TRUE(starts_with(env["SERVER_SOFTWARE"], "askr")) << env["SERVER_SOFTWARE"];
  EXPECT_EQ(env["REDIRECT_STATUS"], "200");
  EXPECT_EQ(env["REQUEST_METHOD"], "GET");
  EXPECT_EQ(env["SERVER_PROTOCOL"], "HTTP/1.1");
  EXPECT_EQ(env["REQUEST_URI"], "/env.php?q=1");
  EXPECT_EQ(env["QUERY_STRING"], "q=1");
  EXPECT_EQ(env["SCRIPT_NAME"], "/env.php");
  EXPECT_EQ(env["SCRIPT_FILENAME"], root_real + "/env.php");
  EXPECT_EQ(env["DOCUMENT_ROOT"], root_real);
  EXPECT_EQ(env["PATH_INFO"], "");
  EXPECT_EQ(env["CONTENT_LENGTH"], "");
  EXPECT_EQ(env["CONTENT_TYPE"], "");
  EXPECT_EQ(env["SERVER_ADDR"], "127.0.0.1");
  EXPECT_EQ(env["SERVER_PORT"], std::to_string(port()));
  EXPECT_TRUE(env.count("SERVER_NAME")) << r.body;
  EXPECT_EQ(env["REMOTE_ADDR"], "127.0.0.1");
  EXPECT_EQ(env["REMOTE_PORT"], std::to_string(ntohs(local.sin_port)));
  EXPECT_EQ(env["HTTP_HOST"], "localhost");
  EXPECT_EQ(env["HTTP_USER_AGENT"], "tester/1.0");
  EXPECT_EQ(env["HTTP_X_DASH_HEADER"], "dash");
  EXPECT_EQ(env["HTTP_COOKIE"], "a=b; c=d");
  EXPECT_EQ(env["HTTP_ACCEPT"], "*/*");
}

// Each connection's requests name its own client port, one connection after another on the
// same loop, and on one connection again for the next request.
TEST_P(Php, RemotePortIsEachConnectionsOwn) {
  start();
  for (int i = 0; i < 3; ++i) {
    Client c(port());
    sockaddr_in local{};
    socklen_t len = sizeof local;
    getsockname(c.fd(), reinterpret_cast<sockaddr*>(&local), &len);
    for (int j = 0; j < 2; ++j) {
      c.send(get("/env.php"));
      PhpResponse r = c.read();
      ASSERT_TRUE(r.ok);
      ASSERT_EQ(r.status, 200);
      auto env = parse_json_object(r.body);
      EXPECT_EQ(env["REMOTE_ADDR"], "127.0.0.1");
      EXPECT_EQ(env["REMOTE_PORT"], std::to_string(ntohs(local.sin_port)));
      EXPECT_EQ(env["SERVER_PORT"], std::to_string(port()));
    }
  }
}

// A site without server_names names the request's host in SERVER_NAME as nginx's $host has it:
// in lower case, without its port or final dot, so that a URL built from it names the host that
// the site's cookies and HSTS know. HTTP_HOST stays as sent.
TEST_P(Php, ServerNameIsTheHostInLowerCase) {
  start();
  auto env = parse_json_object(
      php_fetch(port(), "GET /env.php HTTP/1.1\r\nHost: Shop.Example.TEST.:8080\r\n\r\n").body);
  EXPECT_EQ(env["SERVER_NAME"], "shop.example.test");
  EXPECT_EQ(env["HTTP_HOST"], "Shop.Example.TEST.:8080");
  env = parse_json_object(php_fetch(port(), get("/env.php")).body);
  EXPECT_EQ(env["SERVER_NAME"], "localhost");
  env = parse_json_object(
      php_fetch(port(), "GET /env.php HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").body);
  EXPECT_EQ(env["SERVER_NAME"], "[::1]");
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 "
                        "-H 'Host: WWW.Example.TEST' " +
                            url("/env.php"),
                        out),
            0);
  EXPECT_EQ(parse_json_object(out)["SERVER_NAME"], "www.example.test") << out;
}

// CONTENT_LENGTH as nginx's $content_length: the field's value when one was sent, "0" included;
// empty only when the request had none. HTTP/1.1 and HTTP/2 alike.
TEST_P(Php, ContentLengthZeroReachesPhpAsZero) {
  start();
  auto env = parse_json_object(
      php_fetch(port(), "POST /env.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
          .body);
  EXPECT_EQ(env["CONTENT_LENGTH"], "0");
  env = parse_json_object(php_fetch(port(), "POST /env.php HTTP/1.0\r\n\r\n").body);
  EXPECT_EQ(env["CONTENT_LENGTH"], "");
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 "
                        "-H 'Content-Length: 0' -X POST " +
                            url("/env.php"),
                        out),
            0);
  EXPECT_EQ(parse_json_object(out)["CONTENT_LENGTH"], "0") << out;
  ASSERT_EQ(
      run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 " + url("/env.php"),
                  out),
      0);
  EXPECT_EQ(parse_json_object(out)["CONTENT_LENGTH"], "") << out;
}

// An absolute-form target's authority is the request's host, whatever Host says (RFC 9112
// §3.2.2: the origin server MUST ignore the received Host): PHP's HTTP_HOST is that authority, as
// nginx passes it, and an HTTP/1.0 request without Host gets one, as HTTP/2's :authority gives it.
TEST_P(Php, AbsoluteFormAuthorityIsTheHostPhpSees) {
  start();
  auto env = parse_json_object(
      php_fetch(port(), "GET http://other.test/env.php?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
          .body);
  EXPECT_EQ(env["HTTP_HOST"], "other.test");
  EXPECT_EQ(env["REQUEST_URI"], "/env.php?q=1");
  env = parse_json_object(
      php_fetch(port(), "GET http://other.test:81/env.php HTTP/1.0\r\n\r\n").body);
  EXPECT_EQ(env["HTTP_HOST"], "other.test:81");
  env =
      parse_json_object(php_fetch(port(), "GET /env.php HTTP/1.1\r\nHost: localhost\r\n\r\n").body);
  EXPECT_EQ(env["HTTP_HOST"], "localhost");
}

// Basic credentials as nginx + php-fpm give them: REMOTE_USER from the proxy ($remote_user),
// PHP_AUTH_USER and PHP_AUTH_PW from PHP; no AUTH_TYPE. Repeated, with a body PHP reads at
// start-up, on one worker.
TEST_P(Php, BasicAuthCredentials) {
  start({}, 1);
  for (int i = 0; i < 6; ++i) {
    PhpResponse r = php_fetch(port(),
                              "POST /auth.php HTTP/1.1\r\nHost: localhost\r\n"
                              "Authorization: Basic dXNlcjpwYXNz\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
    ASSERT_EQ(r.status, 200) << i << ": " << r.body << proxy_->error_log();
    auto env = parse_json_object(r.body);
    EXPECT_EQ(env["body"], "5");
    EXPECT_EQ(env["REMOTE_USER"], "user") << r.body;
    EXPECT_EQ(env["PHP_AUTH_USER"], "user");
    EXPECT_EQ(env["PHP_AUTH_PW"], "pass");
    EXPECT_EQ(env["PHP_AUTH_DIGEST"], "(unset)");
    EXPECT_EQ(env["AUTH_TYPE"], "(unset)");
  }
  // Without credentials, or with another scheme: REMOTE_USER is empty, as nginx sends it.
  auto env = parse_json_object(php_fetch(port(), get("/auth.php")).body);
  EXPECT_EQ(env["REMOTE_USER"], "");
  EXPECT_EQ(env["PHP_AUTH_USER"], "(unset)");
  env =
      parse_json_object(php_fetch(port(), get("/auth.php", "Authorization: Bearer abc\r\n")).body);
  EXPECT_EQ(env["REMOTE_USER"], "");
  EXPECT_EQ(env["PHP_AUTH_USER"], "(unset)");
  // "basic" in any case, a password with ':' in it, spaces before the credentials.
  env = parse_json_object(
      php_fetch(port(), get("/auth.php", "Authorization: bAsIc   YWRtaW46YTpi\r\n")).body);
  EXPECT_EQ(env["REMOTE_USER"], "admin");
  // Credentials without ':' are no user name.
  env = parse_json_object(
      php_fetch(port(), get("/auth.php", "Authorization: Basic dXNlcg==\r\n")).body);
  EXPECT_EQ(env["REMOTE_USER"], "");
}

TEST_P(Php, ProxyHeaderNeverBecomesHttpProxy) {
  start();
  PhpResponse r = php_fetch(port(), get("/env.php", "Proxy: http://evil.example:8080/\r\n"));
  ASSERT_EQ(r.status, 200);
  auto env = parse_json_object(r.body);
  EXPECT_FALSE(env.count("HTTP_PROXY")) << env["HTTP_PROXY"];
  r = php_fetch(port(), get("/env.php", "pRoXy: evil\r\n"));
  EXPECT_FALSE(parse_json_object(r.body).count("HTTP_PROXY")) << r.body;
}

// TRACE would echo the request back, its cookies and credentials with it, into a page another
// site can read (cross-site tracing): nginx refuses it whatever the location, so the script
// behind it never sees one, and neither does a script behind Askr.
TEST_P(Php, TraceIsRefusedBeforePhp) {
  start();
  PhpResponse r =
      php_fetch(port(), "TRACE /env.php HTTP/1.1\r\nHost: x\r\nCookie: s=secret\r\n\r\n");
  EXPECT_EQ(r.status, 405) << r.body;
  EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("REQUEST_METHOD"), std::string::npos) << r.body;
  EXPECT_NE(r.header("allow"), "") << r.status_line;
  EXPECT_EQ(r.header("allow").find("TRACE"), std::string::npos) << r.status_line;
  EXPECT_EQ(php_fetch(port(), get("/status.php")).status, 200);
}

TEST_P(Php, HeaderWithUnderscoreIsDropped) {
  start();
  PhpResponse r =
      php_fetch(port(), get("/env.php", "X_Under: sneaky\r\nX-Under: honest\r\nA_B-C: 1\r\n"));
  ASSERT_EQ(r.status, 200);
  auto env = parse_json_object(r.body);
  // "X_Under" would collide with "X-Under" as HTTP_X_UNDER; only the dashed one passes.
  EXPECT_EQ(env["HTTP_X_UNDER"], "honest") << r.body;
  EXPECT_FALSE(env.count("HTTP_A_B_C")) << r.body;
  r = php_fetch(port(), get("/env.php", "Only_Underscore: x\r\n"));
  EXPECT_FALSE(parse_json_object(r.body).count("HTTP_ONLY_UNDERSCORE")) << r.body;
}

TEST_P(Php, NoHttpsParamOnPlaintext) {
  start();
  PhpResponse r = php_fetch(port(), get("/env.php", "X-Forwarded-Proto: https\r\n"));
  ASSERT_EQ(r.status, 200);
  auto env = parse_json_object(r.body);
  EXPECT_FALSE(env.count("HTTPS")) << env["HTTPS"];
  if (env.count("REQUEST_SCHEME")) {
    EXPECT_EQ(env["REQUEST_SCHEME"], "http");
  }
}

// ---- client timers run only while Askr waits on the client
// ------------------------------------------------------------------------------------

// While PHP works, nothing is expected from the client: the header, body and keep-alive timers
// must not close the connection under a slow script, on a fresh connection nor on a reused one.
TEST_P(Php, SlowScriptOutlivesEveryClientTimer) {
  start([](PhpProxyOptions& o) {
    o.timeouts = "header = \"1s\"\nbody = \"1s\"\nkeepalive = \"1s\"\nsend = \"1s\"\n";
  });
  Client c(port());
  // Fresh connection, with a body: the head and body timers were running.
  c.send(
      "POST /sleep.php?s=3 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
      "Content-Length: 5\r\n\r\nhello");
  PhpResponse r = c.read(false, 10000);
  ASSERT_TRUE(r.ok) << "connection closed while PHP worked";
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slept 3\n");
  // Reused connection: the keep-alive timer was running when the request came.
  c.send(get("/sleep.php?s=3"));
  r = c.read(false, 10000);
  ASSERT_TRUE(r.ok) << "reused connection closed while PHP worked";
  EXPECT_EQ(r.body, "slept 3\n");
  // Idle again: now the keep-alive timer applies.
  EXPECT_TRUE(c.wait_closed(3000));
}

// A request body for PHP that stops coming is answered 408, with one line in the error log, and
// counted once, with the timeouts, as nginx logs it ("client timed out"), not as a bad request.
TEST_P(Php, StalledBodyIs408LoggedAndCountedOnceAsATimeout) {
  start([](PhpProxyOptions& o) { o.timeouts = "body = \"1s\"\n"; });
  {
    Client c(port());
    c.send(
        "POST /body.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n"
        "hello");
    PhpResponse r = c.read(false, 5000);
    EXPECT_EQ(r.status, 408) << r.status_line;
    EXPECT_TRUE(c.wait_closed());
  }
  ASSERT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->error_log();
  EXPECT_EQ(http_counter(log, "timeouts"), 1u) << log;
  EXPECT_EQ(http_counter(log, "bad requests"), 0u) << log;
  EXPECT_EQ(count_of(log, "request body"), 1u) << log;
}

// A streamed response that pauses longer than timeouts.send has nothing waiting to be written:
// the client gets both parts.
TEST_P(Php, StreamPausingLongerThanSendTimeoutDeliversEveryPart) {
  start([](PhpProxyOptions& o) { o.timeouts = "send = \"1s\"\n"; });
  Client c(port());
  c.send(get("/sse.php?s=3"));
  PhpResponse r = c.read(false, 10000);
  ASSERT_TRUE(r.ok) << r.body;
  EXPECT_EQ(r.body, "data: part1\n\ndata: part2\n\n");
}

// ---- PHP's Content-Length is enforced
// ------------------------------------------------------------------------------------

TEST_P(Php, BodyBeyondDeclaredContentLengthIsDropped) {
  start();
  Client c(port());
  c.send(get("/cl_over.php"));
  PhpResponse r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header("content-length"), "3");
  EXPECT_EQ(r.body, "hel");
  // The excess never reaches the kept-alive connection as the start of the next response.
  c.send(get("/status.php"));
  r = c.read();
  ASSERT_TRUE(r.ok) << r.status_line;
  EXPECT_EQ(r.status_line.substr(0, 9), "HTTP/1.1 ");
  EXPECT_EQ(r.body, "ok\n");
  // Logged, not per request but once a second at most.
  c.send(get("/cl_over.php"));
  c.read();
  std::string log = proxy_->error_log();
  EXPECT_NE(log.find("more than its Content-Length"), std::string::npos) << log;
}

// HEAD keeps the Content-Length PHP declared, sends no body, and the connection goes on.
TEST_P(Php, HeadKeepsDeclaredContentLength) {
  start();
  Client c(port());
  c.send("HEAD /cl.php HTTP/1.1\r\nHost: localhost\r\n\r\n");
  PhpResponse r = c.read(true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), "5");
  c.send(get("/status.php"));
  EXPECT_EQ(c.read().body, "ok\n");
}

TEST_P(Php, BackendEndingShortOfContentLengthClosesTheConnection) {
  start();
  Client c(port());
  c.send(get("/cl_short.php"));
  PhpResponse r = c.read(false, 5000);
  EXPECT_FALSE(r.ok);  // the client sees a cut response, never a wrong end
  EXPECT_TRUE(r.closed || c.wait_closed(3000));
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
}

// A 1xx status with a body: 101 is refused outright; 103 is passed on as Early Hints, and then
// the body is no final head, so the final answer is 502.
TEST_P(Php, InterimStatusAsFinalResponseIs502) {
  start();
  PhpResponse r = php_fetch(port(), get("/early.php?s=101"));
  EXPECT_EQ(r.status, 502) << r.status_line;
  Client c(port());
  c.send(get("/early.php"));
  r = c.read();
  if (r.status == 103) r = c.read();
  EXPECT_EQ(r.status, 502) << r.status_line;
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
}

// header('Invalid') writes a head line without a colon. nginx passes the page on; so does Askr,
// without that line, and says so in its log.
TEST_P(Php, HeaderLineWithoutAColonIsSkippedNotA502) {
  start();
  PhpResponse r = php_fetch(port(), get("/noheadercolon.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 202) << r.status_line;
  EXPECT_EQ(r.body, "page despite a bad header\n");
  EXPECT_EQ(r.header("x-after"), "kept");
  EXPECT_FALSE(r.has("invalid"));
  EXPECT_NE(proxy_->error_log().find("without a colon; skipped"), std::string::npos)
      << proxy_->error_log();
}

// PHP's header() lets any byte but CR, LF and NUL through: a debug field with an escape
// sequence, setrawcookie() with a control character, a name with '(' in it. nginx passes such a
// page on; so does Askr, without those fields (no client may be sent them: an HTTP/2 client
// refuses the whole response), over HTTP/1.1 and HTTP/2, and says so in its log.
TEST_P(Php, InvalidResponseFieldsAreSkippedNotA502) {
  start();
  PhpResponse r = php_fetch(port(), get("/badfields.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 201) << r.status_line;
  EXPECT_EQ(r.body, "page despite bad fields\n");
  EXPECT_EQ(r.header("x-after"), "kept");
  EXPECT_EQ(r.all("set-cookie"), std::vector<std::string>{"good=kept"});
  EXPECT_FALSE(r.has("x-esc"));
  EXPECT_FALSE(r.has("x(paren)"));
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 -D - " +
                            url("/badfields.php"),
                        out),
            0)
      << out;
  EXPECT_NE(out.find("HTTP/2 201"), std::string::npos) << out;
  EXPECT_NE(out.find("x-after: kept"), std::string::npos) << out;
  EXPECT_NE(out.find("page despite bad fields\n"), std::string::npos) << out;
  EXPECT_NE(proxy_->error_log().find("control character in the value; skipped"), std::string::npos)
      << proxy_->error_log();
}

// A 205 has no content (RFC 9110 §15.3.6), but unlike a 204 its HTTP/1.1 framing is not implied
// by the status: it goes with Content-Length: 0, whatever PHP wrote or declared, and the next
// response on the connection is read from the right place. nginx passes PHP's body on.
TEST_P(Php, ResetContentHasNoBody) {
  start();
  Client c(port());
  c.send(get("/reset.php"));
  PhpResponse r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 205) << r.status_line;
  EXPECT_EQ(r.header("content-length"), "0");
  EXPECT_FALSE(r.chunked);
  EXPECT_EQ(r.body, "");
  c.send(get("/status.php"));
  r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200) << r.status_line;
  EXPECT_EQ(r.body, "ok\n");
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 -D - " +
                            url("/reset.php"),
                        out),
            0)
      << out;
  EXPECT_NE(out.find("HTTP/2 205"), std::string::npos) << out;
  EXPECT_EQ(out.find("reset body"), std::string::npos) << out;
  EXPECT_EQ(proxy_->error_log().find("wrote more than"), std::string::npos) << proxy_->error_log();
}

// A reason phrase PHP sends with its status (header("HTTP/1.1 400 Invalid token"), Symfony's
// setStatusCode($code, $text)) is the one on the HTTP/1.1 status line, as nginx writes it; a
// status without one, or an unregistered code, keeps the registered phrase or none.
TEST_P(Php, ReasonPhraseFromPhpIsKept) {
  start();
  PhpResponse r = php_fetch(port(), get("/reason.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status_line, "HTTP/1.1 400 Invalid token");
  EXPECT_EQ(r.body, "reason\n");
  r = php_fetch(port(), get("/reason.php?code=299&text=Custom%20Thing"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 299 Custom Thing");
  r = php_fetch(port(), get("/status.php?c=404"));  // header('Status: 404 Not Found')
  EXPECT_EQ(r.status_line, "HTTP/1.1 404 Not Found");
  r = php_fetch(port(), get("/status.php"));  // no Status at all
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  // HTTP/2 has no reason phrase: the status alone.
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 -D - " +
                            url("/reason.php"),
                        out),
            0)
      << out;
  EXPECT_NE(out.find("HTTP/2 400"), std::string::npos) << out;
}

// X-Accel-* fields are instructions to the web server in front of PHP (nginx hides them all by
// default, fastcgi_hide_header): never passed to the client, over HTTP/1.1 and HTTP/2, so that
// an internal path in X-Accel-Redirect is not shown. Askr does not act on X-Accel-Redirect, and
// says so in its log.
TEST_P(Php, XAccelFieldsAreNotPassedToTheClient) {
  start();
  PhpResponse r = php_fetch(port(), get("/xaccel.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200) << r.status_line;
  EXPECT_EQ(r.body, "body\n");
  for (const auto& [name, value] : r.fields) {
    EXPECT_FALSE(name.starts_with("x-accel-")) << name << ": " << value;
  }
  EXPECT_EQ(r.header("x-accelerated"), "not an instruction");
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 -D - " +
                            url("/xaccel.php"),
                        out),
            0)
      << out;
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  EXPECT_EQ(out.find("x-accel-"), std::string::npos) << out;
  EXPECT_EQ(out.find("secret-invoice"), std::string::npos) << out;
  EXPECT_NE(proxy_->error_log().find("sent X-Accel-Redirect, which Askr does not act on"),
            std::string::npos)
      << proxy_->error_log();
}

// A CGI header block beyond the pool's response_header_size (32k by default) is a 502, as
// nginx answers one beyond fastcgi_buffer_size; a site that needs more raises it, as it raises
// fastcgi_buffer_size, and the large head then goes out whole over HTTP/1.1 and HTTP/2.
TEST_P(Php, ResponseHeaderSizeIsThePoolsToSet) {
  start([](PhpProxyOptions& o) { o.pool_extra += "response_header_size = \"100k\"\n"; });
  PhpResponse r = php_fetch(port(), get("/bigcookie.php?kb=60"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200) << r.status_line;
  EXPECT_EQ(r.body, "big head\n");
  EXPECT_EQ(r.header("set-cookie").size(), 4u + 60 * 1024) << r.header("set-cookie").substr(0, 40);
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 -o /dev/null "
                        "-w '%{http_code} %{size_header}' " +
                            url("/bigcookie.php?kb=60"),
                        out),
            0)
      << out;
  EXPECT_EQ(out.substr(0, 4), "200 ") << out;
  EXPECT_GT(std::atoi(out.c_str() + 4), 60 * 1024) << out;
  // Beyond it: 502, and the pool serves the next request.
  r = php_fetch(port(), get("/bigcookie.php?kb=120"));
  EXPECT_EQ(r.status, 502) << r.status_line;
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
}

// The default, 32k, as before: a 40 KiB cookie is a 502.
TEST_P(Php, ResponseHeaderSizeDefaultsTo32k) {
  start();
  EXPECT_EQ(php_fetch(port(), get("/bigcookie.php?kb=20")).status, 200);
  EXPECT_EQ(php_fetch(port(), get("/bigcookie.php?kb=40")).status, 502);
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
}

// header('Content-Type:') asks for no Content-Type; PHP then writes the field with an empty
// value. nginx leaves such a field out (an empty media type is no media type), over HTTP/1.1 and
// HTTP/2; so does Askr. Other fields with an empty value still go out.
TEST_P(Php, EmptyContentTypeFromPhpIsLeftOut) {
  start();
  PhpResponse r = php_fetch(port(), get("/notype.php"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200) << r.status_line;
  EXPECT_EQ(r.body, "no type\n");
  EXPECT_FALSE(r.has("content-type")) << r.header("content-type");
  EXPECT_TRUE(r.has("x-empty"));
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' --max-time 30 -D - " +
                            url("/notype.php"),
                        out),
            0);
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  EXPECT_EQ(out.find("content-type"), std::string::npos) << out;
  EXPECT_NE(out.find("x-empty:"), std::string::npos) << out;
  EXPECT_NE(out.find("no type\n"), std::string::npos) << out;
}

// ---- field names PHP would rewrite never reach it
// ------------------------------------------------------------------------------------

TEST_P(Php, HeaderNamesPhpWouldRewriteAreDropped) {
  start();
  PhpResponse r = php_fetch(port(), get("/env.php",
                                        "X.Forwarded-For: 6.6.6.6\r\n"
                                        "X~Real-Ip: 7.7.7.7\r\nX!Y: 1\r\n"
                                        "X-Fine-2: yes\r\n"));
  ASSERT_EQ(r.status, 200);
  auto env = parse_json_object(r.body);
  EXPECT_FALSE(env.count("HTTP_X_FORWARDED_FOR")) << r.body;
  EXPECT_FALSE(env.count("HTTP_X_REAL_IP")) << r.body;
  EXPECT_EQ(r.body.find("6.6.6.6"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("7.7.7.7"), std::string::npos) << r.body;
  EXPECT_EQ(env["HTTP_X_FINE_2"], "yes");
}

// ---- failures
// ------------------------------------------------------------------------------------

TEST_P(Php, FatalErrorIs500) {
  start();
  Client c(port());
  c.send(get("/fatal.php"));
  PhpResponse r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("this_function_does_not_exist"), std::string::npos)
      << "error details reach the client: " << r.body;
  // The connection and the server carry on.
  c.send(get("/status.php"));
  EXPECT_EQ(c.read().body, "ok\n");
}

TEST_P(Php, UncaughtExceptionGoesToTheExceptionHandler) {
  start();
  Client c(port());
  c.send(get("/exception_handler.php"));
  PhpResponse r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("x-handled"), "yes");
  EXPECT_EQ(r.body, "handled: not caught");
  c.send(get("/status.php"));
  EXPECT_EQ(c.read().body, "ok\n");
  EXPECT_EQ(proxy_->error_log().find("Uncaught"), std::string::npos) << proxy_->error_log();
}

TEST_P(Php, ScriptErrorLogReachesAskrErrorLog) {
  start();
  std::string marker = "marker-m" + std::to_string(getpid());
  PhpResponse r = php_fetch(port(), get("/stderr.php?m=m" + std::to_string(getpid())));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "logged\n");
  EXPECT_EQ(php_fetch(port(), get("/fatal.php")).status, 500);
  // php-fpm sends error_log() text and the fatal error on the FastCGI stderr stream.
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {
    std::string log = proxy_->error_log();
    found = log.find(marker) != std::string::npos &&
            log.find("this_function_does_not_exist") != std::string::npos;
    if (!found) std::this_thread::sleep_for(milliseconds(30));
  }
  EXPECT_TRUE(found) << proxy_->error_log();
  // As nginx, the line names the client and the request.
  std::string log = proxy_->error_log();
  size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos);
  std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(line.find(", client: 127.0.0.1, request: \"GET /stderr.php?m=m" +
                      std::to_string(getpid()) + " HTTP/1.1\", host: \""),
            std::string::npos)
      << line;
}

TEST_P(FpmPool, StoppedPhpFpmIs502AndAskrStaysUp) {
  start();
  EXPECT_EQ(php_fetch(port(), get("/status.php")).status, 200);
  fpm_->stop();
  for (int i = 0; i < 4; ++i) {
    PhpResponse r = php_fetch(port(), get("/status.php"));
    EXPECT_TRUE(r.ok) << i;
    EXPECT_EQ(r.status, 502) << i;
  }
  // On one connection: a 502, then a static file.
  Client c(port());
  c.send(get("/env.php"));
  EXPECT_EQ(c.read().status, 502);
  c.send(get("/hello.txt"));
  EXPECT_EQ(c.read().body, "hello from askr\n");
  EXPECT_TRUE(proxy_->alive());
  // php-fpm comes back on the same socket: requests run again.
  fpm_->start();
  for (int i = 0; i < 4; ++i) {
    PhpResponse r = php_fetch(port(), get("/status.php"));
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "ok\n") << i;
  }
}

TEST_P(Php, SlowScriptPastReadTimeoutIs504) {
  start([](PhpProxyOptions& o) { o.pool_extra = "read_timeout = \"1s\"\n"; });
  auto t0 = Clock::now();
  PhpResponse r = php_fetch(port(), get("/sleep.php?s=3"), 10000);
  auto waited = Clock::now() - t0;
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.status, 504);
  EXPECT_GE(waited, milliseconds(900));
  EXPECT_LT(waited, milliseconds(2900));
  // The next request gets a working connection.
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
}

// With connections kept open to php-fpm, the one that timed out is never reused: its late answer
// must not become the next request's.
TEST_P(FpmPool, ReadTimeoutDropsKeptAliveBackendConnection) {
  start(
      [](PhpProxyOptions& o) {
        o.threads = 1;
        o.pool_extra = "keepalive = true\nmax_connections = 1\nread_timeout = \"1s\"\n";
      },
      2);
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
  EXPECT_EQ(php_fetch(port(), get("/sleep.php?s=2"), 10000).status, 504);
  PhpResponse r = php_fetch(port(), get("/status.php"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  std::this_thread::sleep_for(milliseconds(1500));  // the slow script has finished by now
  for (int i = 0; i < 3; ++i) {
    r = php_fetch(port(), get("/env.php?i=" + std::to_string(i)));
    EXPECT_EQ(parse_json_object(r.body)["QUERY_STRING"], "i=" + std::to_string(i)) << r.body;
  }
}

TEST_P(Php, WorkerDyingMidResponseEndsTheClientResponse) {
  start();
  Client c(port());
  auto t0 = Clock::now();
  c.send(get("/die.php"));
  PhpResponse r = c.read(false, 10000);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.ok) << "a truncated response must not look complete";
  EXPECT_TRUE(starts_with(r.body, "partial\n")) << r.body;
  EXPECT_EQ(r.body.find("never"), std::string::npos);
  EXPECT_TRUE(r.closed || c.wait_closed(5000));
  EXPECT_LT(Clock::now() - t0, milliseconds(8000));
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
}

TEST_P(Php, FullQueueIs503WithRetryAfter) {
  start([](PhpProxyOptions& o) {
    o.threads = 1;
    o.pool_extra = "max_connections = 1\nqueue = 1\n";
  });
  std::string lock_path = site_.path() + "/lock", started = site_.path() + "/started";
  int fd = hold_lock(lock_path);
  ASSERT_GE(fd, 0);
  Client busy(port());
  busy.send(get("/flockwait.php?f=" + lock_path + "&started=" + started));
  ASSERT_TRUE(wait_for_lines(started, 1)) << "the first request did not reach PHP";
  PhpResponse r;
  auto queued = queue_one(port(), get("/sleep.php?s=0"), &r);
  close(fd);  // the first request ends, the queued one runs
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_TRUE(busy.read(false, 30000).body.starts_with("locked after"));
  EXPECT_EQ(queued.get().body, "slept 0\n");
}

// A pool far past its capacity answers 503 to nearly every request; the error log says so about
// once a second with a count, instead of a line per request.
TEST_P(Php, FullQueueFloodKeepsErrorLogSmall) {
  start(
      [](PhpProxyOptions& o) {
        o.threads = 1;
        o.pool_extra = "max_connections = 1\nqueue = 0\nread_timeout = \"20s\"\n";
      },
      1);
  // One request holds the only worker, on a lock the test holds, while the others flood. With no
  // queue, it is answered 503 at once while the worker is not free yet (askr's own may still be
  // starting, or finishing the request before): then it is sent again.
  std::string lock_path = site_.path() + "/lock", started = site_.path() + "/started";
  int fd = hold_lock(lock_path);
  ASSERT_GE(fd, 0);
  const std::string hold = get("/flockwait.php?f=" + lock_path + "&started=" + started);
  auto busy = std::make_unique<Client>(port());
  busy->send(hold);
  for (auto until = Clock::now() + milliseconds(20000); Clock::now() < until;) {
    if (wait_for_lines(started, 1, 50)) break;
    pollfd p{busy->fd(), POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {  // answered already: a 503
      busy = std::make_unique<Client>(port());
      busy->send(hold);
    }
  }
  ASSERT_TRUE(wait_for_lines(started, 1, 0)) << "no request reached PHP";
  std::atomic<int> rejected{0}, other{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        try {
          Client c(port());
          while (!stop) {
            c.send(get("/status.php"));
            PhpResponse r = c.read(false, 5000);
            if (!r.ok) break;
            ++(r.status == 503 ? rejected : other);
            if (r.closed) break;
          }
        } catch (const std::exception&) {
          std::this_thread::sleep_for(milliseconds(10));
        }
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(3000));
  stop = true;
  for (auto& th : threads) th.join();
  close(fd);  // the held request ends
  EXPECT_TRUE(busy->read(false, 10000).body.starts_with("locked after"));

  std::string err = proxy_->error_log();
  size_t queue_lines = 0, with_count = 0;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (line.find("requests queued; answering 503") == std::string::npos) continue;
    ++queue_lines;
    if (line.find(" similar messages suppressed)") != std::string::npos) ++with_count;
  }
  RecordProperty("rejected", rejected.load());
  RecordProperty("queue_lines", int(queue_lines));
  EXPECT_GE(rejected.load(), 200) << "too few 503s to tell; others: " << other.load();
  EXPECT_GE(queue_lines, 1u) << err.substr(0, 2000);
  EXPECT_LE(queue_lines, 8u) << rejected.load() << " rejected; " << err.substr(0, 2000);
  EXPECT_GE(with_count, 1u) << err.substr(0, 2000);
  EXPECT_LT(err.size(), 8000u) << err.substr(0, 2000);
  // The requests themselves are all in the access log.
  size_t logged = 0;
  for (auto t0 = Clock::now(); Clock::now() - t0 < milliseconds(3000);) {
    std::string log = proxy_->access_log();
    logged = 0;
    for (size_t at = log.find("\" 503 "); at != std::string::npos; at = log.find("\" 503 ", at + 1))
      ++logged;
    if (logged >= size_t(rejected.load())) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_GE(logged, size_t(rejected.load()));
}

// One PHP process and no queue: a client that sends its next request as soon as it has read an
// answer is served every time, whatever the pool (askr's worker mode ends a request for the pool
// only when the script asks for the next one, just after the answer has gone).
TEST_P(Php, NoQueueServesSequentialKeepAliveRequests) {
  start(
      [](PhpProxyOptions& o) {
        o.threads = 1;
        o.pool_extra = "max_connections = 1\nqueue = 0\n";
      },
      1);
  PhpResponse first;  // askr's worker may still be starting: 503 until it is up
  for (auto until = Clock::now() + milliseconds(20000); Clock::now() < until;) {
    first = php_fetch(port(), get("/status.php"));
    if (first.status == 200) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(first.status, 200) << proxy_->error_log();
  Client c(port());
  for (int i = 0; i < 100; ++i) {
    c.send(get("/status.php"));
    PhpResponse r = c.read();
    ASSERT_EQ(r.status, 200) << "request " << i << "\n" << proxy_->error_log();
  }
}

// ---- where a request's time goes
// ------------------------------------------------------------------

// The access log's JSON lines for `uri`, once `count` of them are there (the log is flushed on
// the loop's tick).
std::vector<std::map<std::string, std::string>> json_lines_for(const PhpProxy& proxy,
                                                               const std::string& uri,
                                                               size_t count) {
  std::vector<std::map<std::string, std::string>> out;
  for (auto t0 = Clock::now(); Clock::now() - t0 < milliseconds(5000);) {
    out.clear();
    std::istringstream in(proxy.access_log());
    for (std::string line; std::getline(in, line);) {
      auto fields = parse_json_object(line);
      if (fields["uri"] == uri) out.push_back(fields);
    }
    if (out.size() >= count) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return out;
}

uint64_t field_us(std::map<std::string, std::string>& fields, const std::string& name) {
  EXPECT_TRUE(fields.count(name)) << name << " missing";
  return std::strtoull(fields[name].c_str(), nullptr, 10);
}

// A 500 ms script shows about 500 ms in PHP; a request queued behind it shows its wait as
// queued time; queued + PHP + I/O is the request's total. The per-pool totals each loop logs
// when it stops add up the same way.
TEST_P(Php, RequestTimeSplitsIntoQueuedPhpAndIo) {
  start([](PhpProxyOptions& o) {
    o.threads = 1;
    o.pool_extra = "max_connections = 1\nqueue = 4\n";
    o.access_log_format = "json";
  });
  const std::string uri = "/sleep.php?ms=500";
  Client first(port());
  auto first_sent = std::chrono::steady_clock::now();
  first.send(get(uri));
  std::this_thread::sleep_for(milliseconds(100));
  Client second(port());
  auto second_sent = std::chrono::steady_clock::now();
  second.send(get(uri));
  // Measured: on a loaded machine the sleep above may last much longer than asked.
  uint64_t gap_us = uint64_t(
      std::chrono::duration_cast<std::chrono::microseconds>(second_sent - first_sent).count());
  EXPECT_EQ(first.read(false, 10000).body, "slept 500 ms\n");
  auto first_done = std::chrono::steady_clock::now();
  EXPECT_EQ(second.read(false, 10000).body, "slept 500 ms\n");
  auto second_done = std::chrono::steady_clock::now();
  // What the client saw: no stage of a request can be longer than that.
  uint64_t elapsed_us[2] = {
      uint64_t(
          std::chrono::duration_cast<std::chrono::microseconds>(first_done - first_sent).count()),
      uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(second_done - second_sent)
                   .count())};

  auto lines = json_lines_for(*proxy_, uri, 2);
  ASSERT_EQ(lines.size(), 2u) << proxy_->access_log();
  uint64_t queued[2], php[2];
  for (int i = 0; i < 2; ++i) {
    auto& l = lines[size_t(i)];
    uint64_t total = field_us(l, "upstream_time_us");
    queued[i] = field_us(l, "upstream_queue_time_us");
    php[i] = field_us(l, "upstream_php_time_us");
    uint64_t io = field_us(l, "upstream_io_time_us");
    EXPECT_GE(php[i], 495000u) << i;
    EXPECT_LE(queued[i] + php[i] + io, total) << i;
    EXPECT_LE(total, elapsed_us[i]) << i;
    EXPECT_LT(io, 200000u) << i;
  }
  // Lines are written as requests end. The first waited only for a worker to take it (on a busy
  // machine a freshly started pool may still be starting one); the second, sent gap_us after the
  // first, waited for the first to end: queued[1] = queued[0] + php[0] - gap_us, give or take how
  // much later the proxy read the second than the first (150 ms allowed, for a loaded machine).
  EXPECT_LT(queued[0], 300000u);
  EXPECT_GE(queued[1] + gap_us + 150000u, queued[0] + php[0])
      << "queued " << queued[0] << " " << queued[1] << ", php " << php[0] << ", gap " << gap_us;

  ASSERT_EQ(proxy_->stop(), 0);
  std::smatch m;
  std::string err = proxy_->error_log();
  ASSERT_TRUE(std::regex_search(err, m,
                                std::regex("pool fpm: (\\d+) PHP requests, (\\d+) us queued, "
                                           "(\\d+) us in PHP, (\\d+) us in I/O")))
      << err;
  EXPECT_EQ(m[1], "2");
  EXPECT_EQ(std::stoull(m[2]), queued[0] + queued[1]);
  EXPECT_EQ(std::stoull(m[3]), php[0] + php[1]);
}

// While the client does not take the response, reading from PHP is paused: that wait is I/O,
// not time in PHP.
TEST_P(Php, ResponseWaitingOnASlowClientCountsAsIo) {
  start([](PhpProxyOptions& o) { o.access_log_format = "json"; });
  const std::string uri = "/big.php?mb=8";
  Client c(port(), Client::Reads::kSlowly);
  c.send(get(uri));
  std::this_thread::sleep_for(milliseconds(1000));  // the client does not read
  PhpResponse r = c.read(false, 60000);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body.size(), 8 * kMiB);

  auto lines = json_lines_for(*proxy_, uri, 1);
  ASSERT_EQ(lines.size(), 1u) << proxy_->access_log();
  auto& l = lines[0];
  uint64_t total = field_us(l, "upstream_time_us");
  uint64_t php = field_us(l, "upstream_php_time_us");
  uint64_t io = field_us(l, "upstream_io_time_us");
  // The second the client did not read is I/O. (Not bounding PHP's own time: making 8 MiB
  // takes PHP well over a second when the machine is busy; were the wait counted as PHP, I/O
  // would fall short here.)
  EXPECT_GE(io, 800000u) << "php " << php << " total " << total;
  EXPECT_LE(field_us(l, "upstream_queue_time_us") + php + io, total);
}

// The access log's line for `request_line` (as quoted in the combined format), once it is there
// (the log is flushed on the loop's tick, and a request the client left is logged when the
// proxy sees it go); "" when none comes within timeout_ms.
std::string access_line_for(const PhpProxy& proxy, const std::string& request_line,
                            int timeout_ms = 10000) {
  for (auto t0 = Clock::now(); Clock::now() - t0 < milliseconds(timeout_ms);) {
    std::istringstream in(proxy.access_log());
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"" + request_line + "\"") != std::string::npos) return line;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return "";
}

// A client that goes away while its PHP request runs still has its line, as nginx writes it:
// 499 ("client closed request") when no response head went out, else the status sent with the
// body bytes sent. `curl -I` does this to every PHP page that flushes its head early.
TEST_P(Php, ClientLeavingDuringThePhpRequestIsLogged) {
  start();
  {
    Client c(port());
    c.send(get("/sleep.php?ms=1500"));
    std::this_thread::sleep_for(milliseconds(200));
  }  // gone before PHP answers
  {
    Client c(port());
    c.send("HEAD /stream.php HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ASSERT_TRUE(c.read(true).ok);
  }  // gone with the head, as curl -I goes
  {
    Client c(port());
    c.send(get("/trickle.php?n=20"));
    ASSERT_TRUE(c.read_until("line 0\n", 10000)) << c.buffered();
  }  // gone mid-body
  {
    Client c(port());
    c.send("POST /body.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000\r\n\r\nabc");
    std::this_thread::sleep_for(milliseconds(200));
  }  // gone before the end of its body: 400, as nginx answers a body cut short
  EXPECT_NE(access_line_for(*proxy_, "POST /body.php HTTP/1.1").find("\" 400 0 "),
            std::string::npos)
      << proxy_->access_log();
  std::string before = access_line_for(*proxy_, "GET /sleep.php?ms=1500 HTTP/1.1");
  EXPECT_NE(before.find("\" 499 0 "), std::string::npos) << proxy_->access_log();
  std::string head = access_line_for(*proxy_, "HEAD /stream.php HTTP/1.1");
  EXPECT_NE(head.find("\" 200 0 "), std::string::npos) << proxy_->access_log();
  std::string cut = access_line_for(*proxy_, "GET /trickle.php?n=20 HTTP/1.1");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(cut, m, std::regex("\" 200 (\\d+) "))) << proxy_->access_log();
  EXPECT_GE(std::stoul(m[1]), 7u);        // "line 0\n" at least
  EXPECT_LT(std::stoul(m[1]), 20u * 7u);  // not the whole body
}

// ---- many clients, keep-alive, pipelining
// ---------------------------------------------------------

void many_clients(int port, int clients, int per_client) {
  std::atomic<int> good{0};
  std::mutex m;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      try {
        Client c(port);
        for (int i = 0; i < per_client; ++i) {
          std::string id = std::to_string(t) + "-" + std::to_string(i);
          c.send(get("/env.php?id=" + id));
          PhpResponse r = c.read(false, 30000);
          auto env = parse_json_object(r.body);
          if (r.ok && r.status == 200 && env["QUERY_STRING"] == "id=" + id) {
            ++good;
          } else {
            std::lock_guard<std::mutex> lock(m);
            if (first_error.empty()) {
              first_error = "client " + id + ": " + r.status_line + " ok=" + std::to_string(r.ok) +
                            " " + r.body.substr(0, 200);
            }
            return;
          }
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(m);
        if (first_error.empty()) first_error = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), clients * per_client) << first_error;
}

TEST_P(Php, ManyClientsMoreThanChildren) {
  // 32 clients at once, 4 php-fpm children.
  start([](PhpProxyOptions& o) { o.pool_extra = "read_timeout = \"20s\"\n"; }, 4);
  many_clients(port(), 32, 5);
  // And again, once the connections to php-fpm have been used.
  many_clients(port(), 32, 5);
}

TEST_P(Php, ManyClientsQueueBehindMaxConnections) {
  // At most 2 connections to php-fpm per loop: the rest wait in askr's queue.
  start([](PhpProxyOptions& o) { o.pool_extra = "max_connections = 2\nread_timeout = \"20s\"\n"; },
        4);
  many_clients(port(), 32, 5);
}

// A request in flight when askr-proxy is told to stop is answered, and its answer says
// `Connection: close`, since the connection closes after it (RFC 9112 §9.6), as nginx says once
// it is shutting down: a keep-alive client learns it from the answer rather than by the close,
// and the request pipelined behind it is left unanswered, for the client to send again.
TEST_P(Php, AnswerInFlightAtSigtermSaysConnectionClose) {
  start();
  {
    Client c(port());
    c.send(get("/hello.txt"));
    PhpResponse first = c.read();
    EXPECT_EQ(first.status, 200);
    EXPECT_FALSE(first.has("connection"));
    c.send(get("/sleep.php?ms=1000") + get("/hello.txt"));
    std::this_thread::sleep_for(milliseconds(300));
    kill(proxy_->pid(), SIGTERM);
    PhpResponse r = c.read();
    EXPECT_EQ(r.status, 200) << proxy_->error_log();
    EXPECT_EQ(r.body, "slept 1000 ms\n");
    EXPECT_EQ(r.header("connection"), "close");
    PhpResponse second = c.read();
    EXPECT_FALSE(second.ok) << second.status_line;
    EXPECT_TRUE(second.closed);
  }
  EXPECT_EQ(proxy_->stop(), 0);
}

TEST_P(FpmPool, ManyClientsOverKeptAliveBackendConnections) {
  // FCGI_KEEP_CONN, with threads x max_connections (2 x 2) within the 4 children.
  start(
      [](PhpProxyOptions& o) {
        o.pool_extra = "keepalive = true\nmax_connections = 2\nread_timeout = \"20s\"\n";
      },
      4);
  many_clients(port(), 32, 5);
  many_clients(port(), 32, 5);
}

TEST_P(FpmPool, KeptAliveBackendConnectionsSurvivePhpFpmRestart) {
  start(
      [](PhpProxyOptions& o) {
        o.pool_extra = "keepalive = true\nmax_connections = 2\nread_timeout = \"20s\"\n";
      },
      4);
  many_clients(port(), 8, 2);  // idle connections on both loops
  fpm_->stop();
  fpm_->start();
  for (int i = 0; i < 8; ++i) {
    PhpResponse r = php_fetch(port(), get("/status.php"));
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "ok\n") << i;
  }
  many_clients(port(), 8, 2);
}

TEST_P(Php, KeepAliveManyPhpRequestsOnOneConnection) {
  start();
  Client c(port());
  for (int i = 0; i < 4; ++i) {
    std::string tag = std::to_string(i);
    c.send(get("/env.php?n=" + tag));
    PhpResponse r = c.read();
    ASSERT_TRUE(r.ok) << i;
    EXPECT_EQ(parse_json_object(r.body)["QUERY_STRING"], "n=" + tag);

    c.send(get("/headers.php"));  // chunked, 201
    r = c.read();
    ASSERT_TRUE(r.ok) << i;
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, "created\n");

    c.send(get("/cl.php"));  // Content-Length from PHP
    EXPECT_EQ(c.read().body, "hello");

    c.send(get("/hello.txt"));  // static, between PHP requests
    EXPECT_EQ(c.read().body, "hello from askr\n");

    c.send("HEAD /env.php HTTP/1.1\r\nHost: localhost\r\n\r\n");  // no body may follow
    r = c.read(true);
    EXPECT_EQ(r.status, 200);

    c.send(get("/status.php?c=404"));
    EXPECT_EQ(c.read().status, 404);

    c.send(get("/big.php?mb=1"));
    r = c.read();
    ASSERT_TRUE(r.ok) << i;
    EXPECT_EQ(r.body.size(), kMiB);
  }
  // Nothing unexpected is left on the connection.
  c.send(get("/status.php"));
  PhpResponse last = c.read();
  EXPECT_EQ(last.body, "ok\n");
  EXPECT_TRUE(c.buffered().empty());
  EXPECT_FALSE(last.closed);
}

TEST_P(Php, PipelinedPhpRequestsAnswerInOrder) {
  start();
  Client c(port());
  std::string form = "a=pipelined";
  c.send(get("/env.php?n=1") + get("/query.php?n=2") + get("/hello.txt") + get("/cl.php") +
         "POST /post.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
         "Content-Length: " +
         std::to_string(form.size()) + "\r\n\r\n" + form + get("/status.php?c=418") +
         get("/stream.php") + get("/status.php?c=404"));
  PhpResponse r = c.read();
  EXPECT_EQ(parse_json_object(r.body)["QUERY_STRING"], "n=1") << r.body;
  r = c.read();
  EXPECT_EQ(parse_json_object(r.body)["n"], "2") << r.body;
  EXPECT_EQ(c.read().body, "hello from askr\n");
  EXPECT_EQ(c.read().body, "hello");
  r = c.read();
  EXPECT_EQ(parse_json_object(r.body)["a"], "pipelined") << r.body;
  EXPECT_EQ(c.read().status, 418);
  r = c.read(false, 10000);
  EXPECT_EQ(r.body, "first line\nsecond line\n");
  r = c.read();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "not here\n");
}

// ---- large responses spliced from the backend to the client
// ------------------------------------------------------------------------------------

// The proxy's log says at stop how many response bytes each loop spliced; their sum.
uint64_t spliced_bytes(const std::string& log) {
  static const std::regex re("responses spliced, (\\d+) bytes");
  uint64_t sum = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    sum += std::stoull((*it)[1].str());
  }
  return sum;
}

class PhpSplice : public Php {
 protected:
  void start_spliced(const std::string& timeouts = "") {
    start([&](PhpProxyOptions& o) {
      o.server_extra = "log_level = \"debug\"\n";
      o.pool_extra += "response_splice_threshold = \"256k\"\n";
      o.timeouts = timeouts;
    });
  }
  std::string send_url(const BigFile& f, const std::string& extra = "&cl=1") const {
    return "/send.php?path=" + f.path + extra;
  }
  // Downloads `path` with curl into a file; returns "status size sha256".
  std::string download(const std::string& path) {
    std::string out, got = site_.path() + "/got.bin";
    if (curl("-o " + got + " -w '%{http_code} %{size_download}' " + url(path), out) != 0) return "";
    return out + " " + sha256_file(got);
  }
  static size_t splice_lines(const std::string& log) {
    size_t n = 0;
    for (size_t at = 0; (at = log.find("splicing the response", at)) != std::string::npos; ++at)
      ++n;
    return n;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, PhpSplice, ::testing::ValuesIn(php_params()),
                         [](const auto& info) {
                           return info.param.pool + "_" + info.param.backend;
                         });

// Above the threshold, with a Content-Length, the body is spliced and arrives byte for byte;
// below it, or without a length (chunked), it is not.
TEST_P(PhpSplice, AboveThresholdIsSplicedBelowAndChunkedAreNot) {
  const BigFile& small = big_file(200 * 1024);
  const BigFile& large = big_file(5 * kMiB);
  start_spliced();
  EXPECT_EQ(download(send_url(small)), "200 " + std::to_string(small.size) + " " + small.sha256);
  EXPECT_EQ(download(send_url(large, "")),
            "200 " + std::to_string(large.size) + " " + large.sha256);
  EXPECT_EQ(splice_lines(proxy_->error_log()), 0u) << proxy_->error_log();
  EXPECT_EQ(download(send_url(large)), "200 " + std::to_string(large.size) + " " + large.sha256);
  EXPECT_EQ(splice_lines(proxy_->error_log()), 1u) << proxy_->error_log();
  ASSERT_EQ(proxy_->stop(), 0);
  uint64_t spliced = spliced_bytes(proxy_->error_log());
  // Most of the body went by splice: what was received before the link stopped reading (the
  // CGI head's record, and with io_uring what its buffers held) went the usual way.
  EXPECT_LE(spliced, large.size);
  EXPECT_GE(spliced, large.size / 2) << proxy_->error_log();
}

// A spliced response leaves the connection usable: pipelined requests behind it are answered
// in order, and a HEAD for the same script has the length and no body.
TEST_P(PhpSplice, KeepAliveAndPipeliningAfterASplicedResponse) {
  const BigFile& large = big_file(5 * kMiB);
  const std::string want = read_file(large.path);
  start_spliced();
  Client c(port());
  c.send(get(send_url(large)) + get("/status.php") + get(send_url(large)));
  PhpResponse r = c.read(false, 30000);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header("content-length"), std::to_string(large.size));
  EXPECT_TRUE(r.body == want) << describe_difference(r.body, want);
  r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "ok\n");
  r = c.read(false, 30000);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.body == want) << describe_difference(r.body, want);
  c.send("HEAD " + send_url(large) + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  r = c.read(true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header("content-length"), std::to_string(large.size));
  c.send(get("/status.php"));
  r = c.read();
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_FALSE(r.closed);
  EXPECT_EQ(splice_lines(proxy_->error_log()), 2u) << proxy_->error_log();
}

// PHP writes more than it declared: exactly the declared bytes go out, the connection stays
// usable. It writes less: the connection is cut.
TEST_P(PhpSplice, ContentLengthIsEnforcedOnASplicedBody) {
  const BigFile& large = big_file(5 * kMiB);
  const std::string want = read_file(large.path).substr(0, 3 * kMiB);
  start_spliced();
  Client c(port());
  c.send(get(send_url(large, "&declare=" + std::to_string(3 * kMiB))));
  PhpResponse r = c.read(false, 30000);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.body == want) << describe_difference(r.body, want);
  c.send(get("/status.php"));
  r = c.read();
  ASSERT_TRUE(r.ok) << r.status_line;
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_NE(proxy_->error_log().find("more than its Content-Length"), std::string::npos);

  Client shortc(port());
  shortc.send(get(send_url(large, "&declare=" + std::to_string(6 * kMiB))));
  r = shortc.read(false, 30000);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.closed || shortc.wait_closed(3000));
  EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n");
  EXPECT_EQ(splice_lines(proxy_->error_log()), 2u) << proxy_->error_log();
}

// A client that stops reading holds the backend back (bounded by the pipe and socket buffers),
// other connections are served meanwhile, and the response completes once it reads.
TEST_P(PhpSplice, SlowClientPausesTheBackendWithoutBuffering) {
  start_spliced();
  auto rss_kib = [&] {
    std::ifstream st("/proc/" + std::to_string(proxy_->pid()) + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0L;
  };
  long before = rss_kib();
  Client c(port(), Client::Reads::kSlowly);
  c.send(get("/big.php?mb=50&cl=1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // the client does not read
  for (int i = 0; i < 5; ++i) EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n") << i;
  long during = rss_kib();
  EXPECT_LT(during - before, 20 * 1024) << "the proxy buffered the response (KiB)";
  PhpResponse r = c.read(false, 60000);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.body == expected_big(50));
  EXPECT_EQ(splice_lines(proxy_->error_log()), 1u) << proxy_->error_log();
}

// A client that neither reads nor goes away is closed after the send timeout, and the backend
// is freed for the next requests.
TEST_P(PhpSplice, SendTimeoutAppliesWhileASplicedWriteWaits) {
  start_spliced("send = \"1s\"\n");
  Client c(port(), Client::Reads::kSlowly);
  c.send(get("/big.php?mb=50&cl=1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  EXPECT_TRUE(c.wait_closed(10000)) << "the stalled client was not closed";
  for (int i = 0; i < 8; ++i) EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n") << i;
}

// The client closes in the middle of a spliced body: the backend's request is ended (the worker
// is freed) and every later request, on other connections, succeeds.
TEST_P(PhpSplice, ClientClosingMidSpliceFreesTheBackend) {
  start_spliced();
  for (int round = 0; round < 6; ++round) {
    Client c(port());
    c.send(get("/big.php?mb=50&cl=1"));
    ASSERT_TRUE(c.read_until("MiB 000001", 10000)) << round;
  }  // closed with most of the body unsent
  for (int i = 0; i < 8; ++i) EXPECT_EQ(php_fetch(port(), get("/status.php")).body, "ok\n") << i;
  int status;
  std::string out;
  ASSERT_EQ(
      curl("-o /dev/null -w '%{http_code} %{size_download}' " + url("/big.php?mb=8&cl=1"), out), 0);
  EXPECT_EQ(out, "200 " + std::to_string(8 * kMiB));
  (void)status;
  EXPECT_TRUE(proxy_->alive());
}

// ---- reload: a deploy that moves the `current` symlink
// -----------------------------------------------------------

// Capistrano and Deployer put each release in a directory of its own and move a `current`
// symlink to the new one (a new link renamed over the old), then reload the web server. nginx
// with php-fpm serves the new release from then on; so does askr-proxy after a SIGHUP: the
// static files and the scripts, with DOCUMENT_ROOT and SCRIPT_FILENAME under the new release.
class PhpReload : public Php {
 protected:
  void SetUp() override {
    Php::SetUp();
    if (IsSkipped()) return;
    for (const char* n : {"1", "2"}) {
      std::string release = site_.path() + "/releases/" + n;
      copy_php_site(release + "/public");
      site_.write(std::string("releases/") + n + "/public/release.txt", n);
      site_.write(std::string("releases/") + n + "/public/release.php",
                  std::string("<?php echo '") + n + "';\n");
    }
    deploy("1");
    start([&](PhpProxyOptions& o) { o.root = site_.path() + "/current/public"; });
  }
  // Points `current` at releases/`n` as deploy tools do: rename(2) of a new link over it.
  void deploy(const std::string& n) {
    std::string out;
    ASSERT_EQ(run_command("cd " + site_.path() + " && ln -sfn releases/" + n +
                              " current.new && mv -T current.new current",
                          out),
              0);
  }
  std::string released(const std::string& n) const {
    return std::filesystem::canonical(site_.path()).string() + "/releases/" + n + "/public";
  }
  // SIGHUP, then waits for the proxy to say `what` of it.
  void reload_and_wait_for(const std::string& what) {
    kill(proxy_->pid(), SIGHUP);
    for (int i = 0; i < 250 && proxy_->error_log().find(what) == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_NE(proxy_->error_log().find(what), std::string::npos) << proxy_->error_log();
  }
  std::string body(const std::string& path) {
    PhpResponse r = php_fetch(port(), get(path), 15000);
    EXPECT_EQ(r.status, 200) << path << "\n" << r.body;
    return r.body;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, PhpReload, ::testing::ValuesIn(php_params({"fpm", "classic"})),
                         [](const auto& info) {
                           return info.param.pool + "_" + info.param.backend;
                         });

TEST_P(PhpReload, SighupServesTheReleaseCurrentNowNames) {
  EXPECT_EQ(body("/release.txt"), "1");
  EXPECT_EQ(body("/release.php"), "1");
  // A request running over the reload finishes on the release it started on.
  auto slow = std::async(std::launch::async,
                         [&] { return php_fetch(port(), get("/sleep.php?s=2"), 15000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  deploy("2");
  reload_and_wait_for("SIGHUP: site 1's root is now " + released("2") + " (was " + released("1") +
                      ")");
  EXPECT_EQ(body("/release.txt"), "2");  // the same second: no file cache answers from 1
  EXPECT_EQ(body("/release.php"), "2");
  std::map<std::string, std::string> env = parse_json_object(body("/env.php"));
  EXPECT_EQ(env["DOCUMENT_ROOT"], released("2"));
  EXPECT_EQ(env["SCRIPT_FILENAME"], released("2") + "/env.php");
  PhpResponse r = slow.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slept 2\n");
}

// A deploy whose release is not there (yet): the running root keeps serving, and the log says
// why; the next reload once it is there serves it.
TEST_P(PhpReload, SighupWithTheNewReleaseMissingKeepsServingTheRunningOne) {
  deploy("3");
  reload_and_wait_for("SIGHUP: roots not reloaded, the running ones keep serving: ");
  EXPECT_NE(proxy_->error_log().find(site_.path() + "/current/public"), std::string::npos)
      << proxy_->error_log();
  EXPECT_EQ(body("/release.txt"), "1");
  EXPECT_EQ(body("/release.php"), "1");
  deploy("2");
  reload_and_wait_for("SIGHUP: site 1's root is now " + released("2"));
  EXPECT_EQ(body("/release.txt"), "2");
  EXPECT_EQ(body("/release.php"), "2");
}

// ---- a connection to an external pool that is not kept ---------------------------------------

// A FastCGI backend of one connection: it reads a request up to its empty STDIN record, then
// waits up to two seconds to learn whether the proxy shut its side, and answers "eof" or "open".
// php-fpm, which reads its socket to the end before it closes, holds its child that long.
class ShutProbeBackend {
 public:
  explicit ShutProbeBackend(const std::string& path) {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    bound_ = bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
             listen(listen_fd_, 8) == 0;
    if (bound_) thread_ = std::thread([this] { serve(); });
  }
  ~ShutProbeBackend() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
  }
  bool bound() const { return bound_; }

 private:
  void serve() {
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    std::string in;
    char buf[4096];
    bool stdin_ended = false;
    while (!stdin_ended) {  // records up to the empty STDIN
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, size_t(n));
      for (size_t at = 0; at + 8 <= in.size();) {
        size_t len = size_t(uint8_t(in[at + 4])) << 8 | uint8_t(in[at + 5]);
        size_t rec = 8 + len + uint8_t(in[at + 6]);
        if (at + rec > in.size()) break;
        if (in[at + 1] == 5 && len == 0) stdin_ended = true;
        at += rec;
      }
    }
    pollfd p{fd, POLLIN, 0};
    std::string word = "open";
    if (poll(&p, 1, 2000) == 1 && recv(fd, buf, sizeof buf, 0) == 0) word = "eof";
    std::string body = "Content-Type: text/plain\r\n\r\n" + word;
    auto record = [](uint8_t type, std::string_view content) {
      std::string r = {1, char(type), 0, 1, char(content.size() >> 8), char(content.size() & 0xff),
                       0, 0};
      return r.append(content);
    };
    std::string out = record(6, body) + record(6, "") +
                      record(3, std::string("\0\0\0\0\0\0\0\0", 8));  // END_REQUEST, complete
    send_all(fd, out);
    ::close(fd);
  }

  int listen_fd_ = -1;
  bool bound_ = false;
  std::thread thread_;
};

class ExternalPoolLink : public ::testing::TestWithParam<std::string> {};

// The request is all sent: a connection that is not kept is shut for writing, so the backend
// sees the end of it before it answers; a kept one (keepalive = true) stays open.
TEST_P(ExternalPoolLink, ConnectionNotKeptIsShutOnceTheRequestIsOut) {
  for (bool keepalive : {false, true}) {
    SCOPED_TRACE(keepalive ? "keepalive" : "not kept");
    TempDir dir;
    dir.write("www/probe.php", "<?php // answered by the probe backend\n");
    std::string sock = dir.path() + "/probe.sock";
    ShutProbeBackend backend(sock);
    ASSERT_TRUE(backend.bound());
    ProxyOptions o;
    o.backend = GetParam();
    o.threads = 1;
    o.root = dir.path() + "/www";
    o.site_extra = "php = \"probe\"\n";
    o.extra = "[[pool]]\nname = \"probe\"\nfastcgi = \"unix:" + sock + "\"\n" +
              (keepalive ? "keepalive = true\n" : "");
    Proxy proxy(o);
    PhpResponse r = php_fetch(proxy.port(), "GET /probe.php HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, keepalive ? "open" : "eof");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ExternalPoolLink, ::testing::Values("io_uring", "epoll"));

}  // namespace
}  // namespace askr::testing
