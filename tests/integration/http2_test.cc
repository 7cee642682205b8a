// HTTP/2 in cleartext with prior knowledge (h2c), black-box, on both I/O backends: nghttp, h2load
// and Node's http2 module for the happy paths; frames built by hand (tests/integration/
// h2_frames.py: python3-h2's hyperframe and hpack) for the RFC 9113 rules and for each attack,
// each checking that the connection ends in time, that the proxy's memory stays bounded and
// that PHP (a php-fpm pool, or Askr's own workers) saw at most the budget of requests.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "fixture.h"
#include "php_harness.h"

namespace askr::testing {
namespace {

const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-h2
const std::string kFrames = std::string(ASKR_SOURCE_DIR) + "/tests/integration/h2_frames.py";
// The test budgets: small enough to reach at once, large enough for real clients.
const std::string kBudgets =
    "[http2]\nflood_burst = 100\nflood_rate = 10\nreset_burst = 50\nreset_rate = 1\n";

bool have(const std::string& cmd) {
  std::string out;
  return run_command("command -v " + cmd + " >/dev/null 2>&1", out) == 0;
}

// Resident memory of a process, in KiB.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class Http2 : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (skip_backend(GetParam())) GTEST_SKIP() << "io_uring is not usable here";
    if (!php_fpm_available()) GTEST_SKIP() << "php-fpm is not installed";
    if (!have(kPython + " -c 'import h2, hyperframe, hpack'")) {
      GTEST_SKIP() << "python3-h2 is not installed";
    }
    copy_php_site(root());
    std::string big;
    for (int i = 0; i < (1 << 20) / 16; ++i) big += "0123456789abcdef";
    big[12345] = 'x';  // not a repeat of a frame-sized piece: the order of pieces matters
    site_.write("www/big.bin", big);
    site_.write("www/a.txt", "first\n");
    fpm_ = std::make_unique<PhpFpm>(4);
  }
  void start(const std::string& http2 = "", const std::string& timeouts = "",
             const std::string& fastcgi = "", const std::string& pool = "") {
    PhpProxyOptions o;
    o.backend = GetParam();
    o.root = root();
    o.routes = "[[site.route]]\nprefix = \"/moved/\"\nreturn = 301\nlocation = \"/a.txt\"\n";
    o.fastcgi = fastcgi.empty() ? fpm_->address() : fastcgi;
    o.pool_extra = pool;
    o.timeouts = timeouts;
    o.extra = kBudgets + http2;
    o.access_log_format = access_log_format_;
    proxy_ = std::make_unique<PhpProxy>(o);
  }
  // The same site behind a TLS listener (a self-signed ECDSA certificate): HTTP/2 by ALPN.
  void start_tls(const std::string& timeouts = "", const std::string& http2 = "") {
    std::string pem = site_.path() + "/c.pem", key = site_.path() + "/c.key", out;
    ASSERT_EQ(run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                          "-nodes -days 2 -keyout " +
                              key + " -out " + pem + " -subj /CN=localhost 2>&1",
                          out),
              0)
        << out;
    PhpProxyOptions o;
    o.backend = GetParam();
    o.root = root();
    o.fastcgi = fpm_->address();
    o.listen_extra = "tls = true\n";
    o.site_extra = "tls_certificate = \"" + pem + "\"\ntls_certificate_key = \"" + key + "\"\n";
    o.timeouts = timeouts;
    o.extra = kBudgets + http2;
    proxy_ = std::make_unique<PhpProxy>(o);
  }
  std::string root() const { return site_.path() + "/www"; }
  // Static files of several sizes (empty, one byte, less than a frame, several frames, more
  // than a stream window; cached ones sent from the cache, 1 KiB to 16 KiB), each with bytes of
  // its own.
  void write_reuse_files() {
    for (size_t n : {0, 1, 777, 1024, 4096, 9999, 16384, 16389, 70000, 200003}) {
      std::string s(n, '\0');
      for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + n) % 251);
      site_.write("www/r" + std::to_string(n) + ".bin", s);
    }
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(proxy_->port()) + path;
  }
  // Runs one case of h2_frames.py; its output and the server's error log explain a failure.
  void frames(const std::string& name, const std::string& arg = "", const std::string& env = "") {
    std::string out;
    int rc = run_command(env + kPython + " " + kFrames + " " + name + " " +
                             std::to_string(proxy_->port()) + " " + arg + " 2>&1",
                         out);
    EXPECT_EQ(rc, 0) << name << " " << arg << ":\n"
                     << out << "\nthe server's error log:\n"
                     << proxy_->error_log();
  }
  // Requests that reached PHP's count.php.
  size_t php_hits() const {
    struct stat st;
    return stat((root() + "/count.txt").c_str(), &st) == 0 ? size_t(st.st_size) : 0;
  }
  std::string sha256(const std::string& rel) { return sha256_file(root() + "/" + rel); }

  TempDir site_;
  std::string access_log_format_ = "combined";
  std::unique_ptr<PhpFpm> fpm_;
  std::unique_ptr<PhpProxy> proxy_;
};

// ---- Happy paths --------------------------------------------------------------------------------

TEST_P(Http2, NghttpStaticByteExactAndPhp) {
  start();
  std::string out;
  ASSERT_EQ(run_command("nghttp " + url("/big.bin") + " | sha256sum", out), 0);
  EXPECT_EQ(out.substr(0, 64), sha256("big.bin"));
  ASSERT_EQ(run_command("nghttp -v " + url("/h2headers.php") + " 2>&1", out), 0);
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out;
  EXPECT_NE(out.find("\"SERVER_PROTOCOL\":\"HTTP/2.0\""), std::string::npos) << out;
  // A `return` route.
  ASSERT_EQ(run_command("nghttp -v " + url("/moved/x") + " 2>&1", out), 0);
  EXPECT_NE(out.find(":status: 301"), std::string::npos) << out;
  EXPECT_NE(out.find("location: /a.txt"), std::string::npos) << out;
  // HEAD: the length, no body.
  ASSERT_EQ(run_command("nghttp -v -H ':method: HEAD' " + url("/big.bin") + " 2>&1", out), 0);
  EXPECT_NE(out.find("content-length: 1048576"), std::string::npos) << out;
  EXPECT_EQ(out.find("recv DATA"), std::string::npos) << out;
  // A streamed PHP response (no Content-Length) of several MiB.
  ASSERT_EQ(run_command("nghttp " + url("/big.php?mb=4") + " | wc -c", out), 0);
  EXPECT_EQ(std::stol(out), 4L << 20);
  proxy_->stop();
  EXPECT_NE(proxy_->error_log().find("http2: "), std::string::npos) << proxy_->error_log();
}

// A PHP response without a body (to HEAD, a 204) is whole once its head is out, and its stream
// may close before PHP ends: it is logged all the same.
TEST_P(Http2, BodilessPhpResponsesAreLogged) {
  start();
  std::string out;
  ASSERT_EQ(run_command("nghttp -H ':method: HEAD' " + url("/status.php") + " 2>&1", out), 0)
      << out;
  ASSERT_EQ(run_command("nghttp " + url("/early.php?s=204") + " 2>&1", out), 0) << out;
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"HEAD /status.php HTTP/2.0\" 200"), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /early.php?s=204 HTTP/2.0\" 204"), std::string::npos) << log;
}

// A stream the client cancels, or leaves with its connection, while PHP works on it has its
// line, as nginx writes it: 499 before the response head, else the status and the body bytes
// sent.
TEST_P(Http2, CancelledStreamsAreLogged) {
  start();
  frames("cancel_in_flight");
  std::string log;
  for (auto t0 = std::chrono::steady_clock::now();
       std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10);) {
    log = proxy_->access_log();
    if (log.find("\"GET /sleep.php?ms=1500 HTTP/2.0\"") != std::string::npos &&
        log.find("\"GET /trickle.php?n=20 HTTP/2.0\"") != std::string::npos &&
        log.find("\"GET /sleep.php?ms=1501 HTTP/2.0\"") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(log.find("\"GET /sleep.php?ms=1500 HTTP/2.0\" 499 0 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /sleep.php?ms=1501 HTTP/2.0\" 499 0 "), std::string::npos) << log;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(log, m, std::regex("\"GET /trickle.php\\?n=20 HTTP/2.0\" 200 (\\d+) ")))
      << log;
  EXPECT_GE(std::stoul(m[1]), 7u);  // "line 0\n" at least
  EXPECT_LT(std::stoul(m[1]), 20u * 7u) << log;
}

// A download the client cancels is logged with the body bytes that went out, as nginx logs it,
// not with the file's size.
TEST_P(Http2, CancelledDownloadIsLoggedWithTheBytesSent) {
  start();
  frames("cancel_download");
  std::string out;
  ASSERT_EQ(run_command("nghttp " + url("/big.bin") + " | wc -c", out), 0);  // and read whole
  EXPECT_EQ(std::stol(out), 1L << 20);
  proxy_->stop();
  std::string log = proxy_->access_log();
  std::smatch m;  // the cancelled one (no User-Agent; its line may come after nghttp's)
  ASSERT_TRUE(
      std::regex_search(log, m, std::regex("\"GET /big.bin HTTP/2.0\" 200 (\\d+) \"-\" \"-\"")))
      << log;
  EXPECT_GT(std::stoul(m[1]), 0u) << log;
  EXPECT_LT(std::stoul(m[1]), 1u << 20) << log;
  EXPECT_NE(log.find("\"GET /big.bin HTTP/2.0\" 200 1048576 "), std::string::npos) << log;
}

TEST_P(Http2, H2loadManyConcurrentStreams) {
  start();
  std::string out;
  ASSERT_EQ(run_command("h2load -n 4000 -c 4 -m 100 " + url("/a.txt") + " 2>&1", out), 0);
  EXPECT_NE(out.find("4000 succeeded"), std::string::npos) << out;
  ASSERT_EQ(run_command("h2load -n 200 -c 2 -m 50 " + url("/h2headers.php") + " 2>&1", out), 0);
  EXPECT_NE(out.find("200 succeeded"), std::string::npos) << out;
  ASSERT_EQ(run_command("h2load -n 40 -c 2 -m 20 " + url("/big.bin") + " 2>&1", out), 0);
  EXPECT_NE(out.find("40 succeeded"), std::string::npos) << out;
}

TEST_P(Http2, LargePostStreamsToPhp) {
  start();
  std::string body;
  for (int i = 0; i < 600000; ++i) body += char('a' + i % 26) + std::string(i % 7 ? "" : "\n");
  std::string file = site_.write("post.bin", body);
  std::string out;
  ASSERT_EQ(run_command("nghttp -d " + file + " " + url("/body.php"), out), 0);
  std::map<std::string, std::string> j = parse_json_object(out);
  EXPECT_EQ(j["length"], std::to_string(body.size())) << out;
  EXPECT_EQ(j["sha256"], sha256_file(file)) << out;
  EXPECT_EQ(j["CONTENT_LENGTH"], std::to_string(body.size())) << out;
  // Without content-length: the unknown-length path (collected, then CONTENT_LENGTH is known).
  frames("unknown_length_post");
}

// A stream PHP reads gets windows wide enough that an upload is not held to a small piece per
// round trip: 8 MiB in 16 window updates of 512 KiB (nghttp2 updates at half the window), 32 at
// most, where 64 KiB windows took 255: 20 MB from 50 ms away took 16 s, 0.4 s over HTTP/1.1.
// "expect: 100-continue" is answered with 100 before the body, as over HTTP/1.1: curl waits a
// second for it before it sends the body.
TEST_P(Http2, ExpectContinueIsAnsweredBeforeTheBody) {
  start();
  frames("expect_continue");
}

TEST_P(Http2, UploadsAreNotHeldToSmallWindows) {
  start();
  frames("upload_waits", "32");
}

// Uploads waiting for PHP (the pool runs two at a time) hold their bodies against their own
// stream windows only: the connection's window stays open for the two PHP is reading, which
// go on to their end, and the others follow.
TEST_P(Http2, QueuedUploadsNeverStallTheConnection) {
  start("", "", "", "max_connections = 2\n");
  frames("concurrent_uploads", "24");
}

// Uploads reset by the client in the read that brought their head and first DATA never reach
// PHP; their bytes still go back to the connection's window, so a later upload goes through.
TEST_P(Http2, DroppedUploadsGiveTheirWindowBack) {
  start();
  frames("dropped_bodies", "45");  // 720 KB dropped, within the test's reset budget
}

// Uploads waiting for a busy pool (its one connection held by a slow GET) may send only a small
// part of their bodies ahead of PHP, however large the bodies and however many the streams: what
// the proxy keeps for them is bounded per connection, not by the pool's queue.
TEST_P(Http2, QueuedUploadsHoldLittleMemory) {
  start("", "", "", "max_connections = 1\nqueue = 1000\n");
  // 2 connections x 99 streams of 1 MiB: 64 MiB and more were held before, 256 KiB a stream
  // (77 MiB grown). Under AddressSanitizer each allocation costs more (redzones, and freed
  // memory is held back a while before it is used again).
#ifdef __SANITIZE_ADDRESS__
  const std::string bound_kib = "32768";
#else
  const std::string bound_kib = "16384";
#endif
  frames("queued_bodies_memory", std::to_string(proxy_->pid()) + ":2:99:1048576:" + bound_kib);
}

TEST_P(Http2, NodeClient) {
  if (!have("node")) GTEST_SKIP() << "nodejs is not installed";
  start();
  std::string out;
  int rc = run_command("node " + std::string(ASKR_SOURCE_DIR) + "/tests/integration/h2_node.js " +
                           std::to_string(proxy_->port()) + " " + sha256("big.bin") + " 2>&1",
                       out);
  EXPECT_EQ(rc, 0) << out;
}

// The same client over TLS: ALPN picks h2, and PHP sees the request came over TLS.
TEST_P(Http2, NodeClientOverTls) {
  if (!have("node")) GTEST_SKIP() << "nodejs is not installed";
  start_tls();
  std::string out;
  int rc = run_command("node " + std::string(ASKR_SOURCE_DIR) + "/tests/integration/h2_node.js " +
                           std::to_string(proxy_->port()) + " " + sha256("big.bin") + " tls 2>&1",
                       out);
  EXPECT_EQ(rc, 0) << out;
}

// Conformance and attacks over TLS (ALPN h2): the same hand-built frames, the same answers.
TEST_P(Http2, FramesAndAttacksOverTls) {
  start_tls("send = \"1s\"\n");
  for (const char* c : {"settings", "frame_too_large", "hpack_bad_index", "concurrency_acked",
                        "continuation_flood", "ping_flood"}) {
    frames(c, "", "H2_TLS=1 ");
  }
  frames("bad_header", "uppercase", "H2_TLS=1 ");
  frames("bad_header", "connection", "H2_TLS=1 ");
  frames("zero_window", "1", "H2_TLS=1 ");
  frames("rapid_reset", "2000", "H2_TLS=1 ");
  frames("answered_before_body", "", "H2_TLS=1 ");
  EXPECT_LE(php_hits(), 50u);
}

TEST_P(Http2, AskrWorkerPool) {
  if (!ASKR_WITH_WORKER) GTEST_SKIP() << "askr-worker is not built in this configuration";
  PhpProxyOptions o;
  o.backend = GetParam();
  o.root = root();
  o.pool_extra = "workers = 2\nmode = \"classic\"\n[pool.ini]\noutput_buffering = \"0\"\n";
  o.extra = kBudgets;
  proxy_ = std::make_unique<PhpProxy>(o);
  std::string out;
  ASSERT_EQ(run_command("h2load -n 200 -c 2 -m 20 " + url("/h2headers.php") + " 2>&1", out), 0);
  EXPECT_NE(out.find("200 succeeded"), std::string::npos) << out;
  ASSERT_EQ(run_command("nghttp " + url("/big.php?mb=3") + " | wc -c", out), 0);
  EXPECT_EQ(std::stol(out), 3L << 20);
  // 103 Early Hints become interim HEADERS on the stream.
  ASSERT_EQ(run_command("nghttp -v " + url("/early_hints.php") + " 2>&1", out), 0);
  EXPECT_NE(out.find(":status: 103"), std::string::npos) << out;
  EXPECT_NE(out.find("page 1 1"), std::string::npos) << out;
  frames("rapid_reset", "1000");
  EXPECT_LE(php_hits(), 50u);
}

// Stream, head, request and nghttp2 objects are recycled from one stream to the next: many
// rounds of differing streams on one connection, each response checked against its own request
// (static files of several sizes, HEAD, PHP echoing the headers, POST bodies).
TEST_P(Http2, RecycledStreamsKeepNothingOfTheLast) {
  write_reuse_files();
  start();
  frames("reuse", "40:" + root());
}

TEST_P(Http2, RecycledStreamsKeepNothingOfTheLastOverTls) {
  write_reuse_files();
  start_tls();
  frames("reuse", "25:" + root(), "H2_TLS=1 ");
}

// Cached files go out from the cache rather than copied: responses held up by a client that does
// not read stay whole and keep their own version while the file is replaced and its cache entry
// dropped, and other connections are served the new version meanwhile. The streams a connection
// keeps open hold more than a socket's largest send buffer (400 of 16000 bytes), so that some
// are held in the server whatever the kernel's buffer grew to.
const std::string kManyStreams = "max_concurrent_streams = 400\n";

TEST_P(Http2, CachedBodySentInPlaceOutlivesItsEntry) {
  start(kManyStreams);
  frames("replaced_midsend", root());
}

TEST_P(Http2, CachedBodySentInPlaceOutlivesItsEntryOverTls) {
  start_tls("", kManyStreams);
  frames("replaced_midsend", root(), "H2_TLS=1 ");
}

// ---- RFC 9113 conformance ----------------------------------------------------------------------

TEST_P(Http2, FramesStatesFlowControlHpackSettings) {
  start();
  for (const char* c :
       {"settings", "frame_too_large", "data_idle_stream", "even_stream", "stream_id_backwards",
        "data_after_end", "window_zero_increment", "window_overflow", "settings_window_overflow",
        "flow_violation", "hpack_bad_index", "settings_ack_payload", "settings_bad_length",
        "settings_bad_push", "settings_bad_window", "settings_bad_frame_size"}) {
    frames(c);
  }
}

TEST_P(Http2, InvalidHeadersAreStreamErrorsNeverForwarded) {
  start();
  for (const char* kind : {"uppercase", "connection", "keep_alive", "transfer_encoding", "upgrade",
                           "te_gzip", "cr_value", "lf_value", "nul_value", "host_mismatch",
                           "dup_path", "no_method", "pseudo_after", "unknown_pseudo", "empty_path",
                           "authority_userinfo", "authority_percent"}) {
    frames("bad_header", kind);
  }
  EXPECT_EQ(php_hits(), 0u);
  frames("content_length_mismatch");
  frames("cookies");  // crumbs joined with "; ", names PHP would rewrite dropped
}

// A PHP head beyond 64 KiB, which the pool's response_header_size lets through, goes out in
// HEADERS and CONTINUATION frames as HTTP/1.1 sends it, and the connection goes on; the stream
// was left waiting for a head nghttp2 would not send.
TEST_P(Http2, PhpHeadBeyond64kIsSent) {
  start("", "", "", "response_header_size = \"200k\"\n");
  frames("big_head", "'/bigcookie.php?n=3&kb=30'");
}

// A PHP response cut short (it ends before its Content-Length) sends what PHP wrote before the
// reset, as HTTP/1.1 sends it before it closes and as nginx does; the reset went out first and
// the bytes waiting for it were lost, though the access log counted them.
TEST_P(Http2, CutResponseSendsWhatPhpWroteBeforeTheReset) {
  start();
  frames("cut_response");
}

// A value with whitespace at its ends (curl sends `-H 'X-A: b '` as written) is served, as nginx
// and HTTP/1.1 serve it, without the whitespace; it was a stream reset.
TEST_P(Http2, PaddedFieldValuesAreServedTrimmed) {
  start();
  frames("padded_values");
}

// A body over max_body_size is refused with 413, with a log line and the counter, as HTTP/1.1
// refuses it: declared by content-length, or found so as DATA of unknown length arrives.
TEST_P(Http2, BodyOverLimitIs413AndLogged) {
  PhpProxyOptions o;
  o.backend = GetParam();
  o.root = root();
  o.fastcgi = fpm_->address();
  o.limits = "max_body_size = 1024\n";
  proxy_ = std::make_unique<PhpProxy>(o);
  auto logged = [&](const std::string& line) {
    for (int i = 0; i < 100; ++i) {
      if (proxy_->error_log().find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  frames("body_over_limit", "1024");
  EXPECT_TRUE(logged("request body larger than max_body_size, answered 413"))
      << proxy_->error_log();
  EXPECT_TRUE(logged("request body grew larger than max_body_size, answered 413"))
      << proxy_->error_log();
  EXPECT_EQ(php_hits(), 0u);
}

// A body that breaks its content-length after its request reached PHP is the client's malformed
// request: its stream is reset and it is logged 400, with a line that says why and the counter,
// as nginx logs it; it was logged 499, as if the client had cancelled it.
TEST_P(Http2, BodyBreakingItsLengthIsLogged400) {
  start();
  frames("body_breaks_its_length");
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"POST /body.php?short HTTP/2.0\" 400 0 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"POST /body.php?over HTTP/2.0\" 400 0 "), std::string::npos) << log;
  EXPECT_NE(proxy_->error_log().find("request body did not match its content-length, answered "
                                     "400"),
            std::string::npos)
      << proxy_->error_log();
}

// A body sent beyond its stream's flow-control window to a request PHP has is the client's
// protocol error, logged 400 with a line that says so, as a body that breaks its content-length
// is; it was logged 499, as if the client had cancelled it.
TEST_P(Http2, FlowControlViolationIsLogged400) {
  start();
  frames("flow_violation");
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"POST /sleep.php?s=15 HTTP/2.0\" 400 0 "), std::string::npos) << log;
  EXPECT_NE(proxy_->error_log().find("request body went beyond its stream's flow-control window, "
                                     "answered 400"),
            std::string::npos)
      << proxy_->error_log();
}

TEST_P(Http2, HeaderListLimits) {
  start();
  frames("too_many_headers");
  frames("header_list_size");
  EXPECT_EQ(php_hits(), 0u);
}

// A :path longer than [limits] max_request_line is refused with 414, as HTTP/1.1 refuses such a
// request line, and never reaches PHP; over HTTP/2 the limit did not apply at all.
TEST_P(Http2, PathOverMaxRequestLineIs414) {
  start();
  frames("long_path");
  EXPECT_EQ(php_hits(), 0u);
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"- - HTTP/2.0\" 414 "), std::string::npos) << log;
  EXPECT_NE(proxy_->error_log().find(":path longer than max_request_line, answered 414"),
            std::string::npos)
      << proxy_->error_log();
}

// Requests the session refuses itself are in the access log, as HTTP/1.1 logs its refused ones:
// a head over the limits (431) or one that could not be read (400, its stream reset) as "- -",
// a malformed one that was read by its name.
TEST_P(Http2, RefusedStreamsAreLogged) {
  start();
  frames("too_many_headers");
  frames("bad_header", "connection");
  frames("bad_header", "host_mismatch");
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"- - HTTP/2.0\" 431 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"- - HTTP/2.0\" 400 0 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /count.php HTTP/2.0\" 400 0 "), std::string::npos) << log;
  // With a line that says why, as HTTP/1.1 logs its refusals.
  std::string errors = proxy_->error_log();
  EXPECT_NE(errors.find("request head over max_header_size or max_headers, answered 431"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("malformed HTTP/2 request head, answered 400"), std::string::npos)
      << errors;
}

// The JSON format writes what a refused stream lacks (its method and target, when its head could
// not be read) as an empty string, as it writes a missing referer and as nginx's escape=json
// writes a variable that is not found; the combined format writes "-" for each. It wrote "-".
TEST_P(Http2, RefusedStreamsAreLoggedInJsonWithEmptyFields) {
  access_log_format_ = "json";
  start();
  frames("too_many_headers");
  frames("bad_header", "connection");
  frames("bad_header", "host_mismatch");
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"method\":\"\",\"uri\":\"\",\"protocol\":\"HTTP/2.0\",\"status\":431,"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\"method\":\"\",\"uri\":\"\",\"protocol\":\"HTTP/2.0\",\"status\":400,"
                     "\"bytes\":0,\"referer\":\"\",\"user_agent\":\"\"}"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\"method\":\"GET\",\"uri\":\"/count.php\",\"protocol\":\"HTTP/2.0\","
                     "\"status\":400,"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("\"-\""), std::string::npos) << log;
}

// A CONNECT is refused (400) and logged with its authority as its target, as an HTTP/1.1
// CONNECT's authority-form is; its line had an empty target ("CONNECT  HTTP/2.0"), which
// log parsers that split the request on single spaces misread.
TEST_P(Http2, ConnectIsLoggedWithItsAuthority) {
  start();
  frames("connect");
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"CONNECT localhost:443 HTTP/2.0\" 400 "), std::string::npos) << log;
}

// An HTTP/1.1 request to switch to h2c is answered in HTTP/1.1, and PHP never sees it.
TEST_P(Http2, UpgradeH2cIgnored) {
  start();
  PhpResponse r = php_fetch(proxy_->port(),
                            "GET /h2headers.php HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, "
                            "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
                            "\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("HTTP_UPGRADE"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("HTTP_HTTP2_SETTINGS"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"SERVER_PROTOCOL\":\"HTTP/1.1\""), std::string::npos) << r.body;
}

// ---- Limits and attacks ------------------------------------------------------------------------

TEST_P(Http2, ConcurrencyLimitRefusesStreams) {
  start();
  frames("concurrency");
  frames("concurrency_acked");
}

TEST_P(Http2, RapidResetBudget) {
  start();
  long before = rss_kib(proxy_->pid());
  frames("rapid_reset", "2000");
  // Streams reset in the batch that carried them never reach PHP; at most the budget does.
  EXPECT_LE(php_hits(), 50u);
  EXPECT_LT(rss_kib(proxy_->pid()) - before, 16 * 1024);
  // Other clients are served.
  std::string out;
  EXPECT_EQ(run_command("nghttp " + url("/a.txt"), out), 0);
  EXPECT_EQ(out, "first\n");
}

// Resets the client makes the server send, on streams that reached PHP, spend the same budget.
TEST_P(Http2, ProvokedResetsSpendTheResetBudget) {
  start();
  frames("provoked_reset", "300");
  EXPECT_LE(php_hits(), 60u);  // the budget of 50, and a few more at 1 a second
}

TEST_P(Http2, Floods) {
  start();
  long before = rss_kib(proxy_->pid());
  for (const char* c :
       {"continuation_flood", "ping_flood", "ping_ack_flood", "settings_flood", "priority_flood",
        "window_update_flood", "empty_data_flood", "unknown_frame_flood"}) {
    frames(c);
  }
  frames("empty_data_flood", "padded");
  EXPECT_LT(rss_kib(proxy_->pid()) - before, 16 * 1024);
  EXPECT_EQ(php_hits(), 0u);
  proxy_->stop();
  EXPECT_NE(proxy_->error_log().find("floods"), std::string::npos);
}

TEST_P(Http2, ZeroWindowStallIsCut) {
  start("", "send = \"1s\"\n");
  frames("zero_window", "1");
}

// A download whose client grants it no window, beside streams in progress: only its stream is
// reset after the send timeout, as nginx resets it; the whole connection was closed, with every
// request on it.
TEST_P(Http2, ZeroWindowResetsOnlyItsStream) {
  start("", "send = \"1s\"\n");
  frames("zero_window_beside", "1");
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"GET /sleep.php?s=2 HTTP/2.0\" 200 "), std::string::npos) << log;
}

TEST_P(Http2, AnsweredStreamAsksTheClientToStopItsBody) {
  start();
  frames("answered_before_body");
}

// A form's few bytes that come after the answer (curl over TLS sends head and body in two
// records) are let in, with no RST_STREAM, over h2c and TLS: curl failed such a POST ("Stream
// error in the HTTP/2 framing layer") where nginx answers it.
TEST_P(Http2, SmallBodyAfterTheAnswerIsLetIn) {
  start();
  frames("small_body_after_answer");
  proxy_.reset();
  start_tls();
  frames("small_body_after_answer", "", "H2_TLS=1 ");
}

// A request whose head says "content-length: 0" without ending its stream is whole: its answer
// is not followed by RST_STREAM NO_ERROR, as none follows the answer to a body that fits in its
// window; the reset was sent as if the body were unknown.
TEST_P(Http2, EmptyDeclaredBodyAfterTheAnswerIsLetIn) {
  start();
  frames("empty_body_after_answer");
}

TEST_P(Http2, StalledRequestBodyIsCut) {
  start("", "body = \"1s\"\n");
  frames("stalled_body", "1");
  frames("stalled_body_pings", "1");  // PINGs are no body progress
}

// A body that stops coming while other streams of the connection are in progress: only its
// stream is reset (408 in the log, as nginx logs it), and the others are served; the whole
// connection was closed, with every request on it.
TEST_P(Http2, StalledBodyResetsOnlyItsStream) {
  start("", "body = \"1s\"\n");
  frames("stalled_body_beside", "1");
  proxy_->stop();
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"POST /body.php HTTP/2.0\" 408 0 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /sleep.php?s=2 HTTP/2.0\" 200 "), std::string::npos) << log;
}

TEST_P(Http2, IdleTimeoutSaysGoaway) {
  start("idle_timeout = \"1s\"\n");
  frames("idle");
}

TEST_P(Http2, StreamsPerConnectionBudget) {
  start("max_streams = 5\n");
  frames("max_streams", "5");
}

// A client that does not read a large PHP response pauses that stream's backend, not the
// connection, and the proxy does not buffer the response.
TEST_P(Http2, SlowReaderPausesOnlyItsStream) {
  start();
  long before = rss_kib(proxy_->pid());
  auto run = std::async(std::launch::async, [&] {
    std::string out;
    int rc = run_command(
        kPython + " " + kFrames + " backpressure " + std::to_string(proxy_->port()) + " 1 2>&1",
        out);
    return std::make_pair(rc, out);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  long during = rss_kib(proxy_->pid());
  auto [rc, out] = run.get();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_LT(during - before, 16 * 1024) << "64 MiB response to a client that does not read";
}

// PHP downloads whose client grants them no window hold what PHP wrote ahead of them, more than
// the connection's 1 MiB together: another PHP response on the same connection still goes
// through, as through nginx. A full buffer pauses its own stream's backend; the streams it
// paused for the connection's total waited for good while the others held 512 KiB.
TEST_P(Http2, StalledStreamsDoNotHoldUpTheOthers) {
  fpm_ = std::make_unique<PhpFpm>(18);  // one worker each
  start();
  frames("stalled_neighbours", "17");  // 17 x 64 KiB: the connection's 1 MiB
}

// Runs h2_frames.py's `name` case, which touches a file once its stream is in flight, and sends
// the proxy SIGTERM then: the case reads how the shutdown goes. A fixed wait lost that race on a
// loaded machine.
void sigterm_while_in_flight(const TempDir& site, PhpProxy& proxy, const std::string& name) {
  std::string sent = site.path() + "/" + name + "-sent";
  auto run = std::async(std::launch::async, [&] {
    std::string out;
    int rc = run_command(kPython + " " + kFrames + " " + name + " " + std::to_string(proxy.port()) +
                             " " + sent + " 2>&1",
                         out);
    return std::make_pair(rc, out);
  });
  for (int i = 0; i < 500 && !std::filesystem::exists(sent); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(proxy.pid(), SIGTERM);
  auto [rc, out] = run.get();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(proxy.stop(), 0);
}

TEST_P(Http2, GracefulGoawayOnShutdown) {
  start();
  sigterm_while_in_flight(site_, *proxy_, "graceful");
}

// RFC 9113 §6.8: on SIGTERM, a first GOAWAY with the last stream 2^31-1 and a PING, then the
// final GOAWAY once the PING comes back (or a second later), so that a request the client sent
// while the first was in flight is served rather than dropped.
TEST_P(Http2, GracefulShutdownNoticeFirst) {
  start();
  sigterm_while_in_flight(site_, *proxy_, "graceful_notice");
}

// A client's GOAWAY limits the streams the server opens (RFC 9113 §6.8), not the client's own:
// its later requests are served, as nginx and h2o serve them; they went unanswered once no
// stream was in flight.
TEST_P(Http2, StreamsAfterTheClientsGoawayAreServed) {
  start();
  frames("client_goaway");
}

TEST_P(Http2, StreamsAfterTheClientsGoawayAreServedOverTls) {
  start_tls();
  frames("client_goaway", "", "H2_TLS=1 ");
}

// A PRIORITY frame of another size than 5 is an error of its stream alone (RFC 9113 §6.3): the
// others go on. It ended the connection, as nginx and h2o end it.
TEST_P(Http2, PriorityOfTheWrongSizeResetsItsStreamAlone) {
  start();
  frames("priority_bad_length");
}

TEST_P(Http2, PriorityOfTheWrongSizeResetsItsStreamAloneOverTls) {
  start_tls();
  frames("priority_bad_length", "", "H2_TLS=1 ");
}

ASKR_BOTH_BACKENDS(Http2);

// h2c off: the preface is just a bad HTTP/1.1 request.
class Http2Off : public ProxyTest {};

TEST_P(Http2Off, PrefaceIsRefusedWhenH2cIsOff) {
  ProxyOptions o;
  o.backend = GetParam();
  o.root = site_.path() + "/www";
  o.listen_extra = "http2 = false\n";
  proxy_ = std::make_unique<Proxy>(o);
  HttpResponse r = fetch(port(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  EXPECT_GE(r.status, 400) << r.status_line;
  r = fetch(port(), get("/index.html"));
  EXPECT_EQ(r.status, 200);
}

ASKR_BOTH_BACKENDS(Http2Off);

}  // namespace
}  // namespace askr::testing
