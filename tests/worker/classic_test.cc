// askr-worker in classic mode, driven by a raw FastCGI client.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "fcgi_client.h"
#include "harness.h"
#include "shared/fastcgi/encoder.h"

namespace askr::testing::worker {
namespace {

namespace fs = std::filesystem;
using fastcgi::ProtocolStatus;

class ClassicTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { worker_ = new WorkerProcess(); }
  static void TearDownTestSuite() {
    delete worker_;
    worker_ = nullptr;
  }
  void TearDown() override { ASSERT_TRUE(worker_->running()) << worker_->log(); }

  static FcgiResponse get(const std::string& script, const std::string& query = "") {
    return fcgi_request(worker_->socket_path(), default_params(php_fixture(script), query));
  }
  static FcgiResponse post(const std::string& script, const std::string& content_type,
                           const std::string& body, const std::string& method = "POST") {
    Params p = default_params(php_fixture(script), "", method);
    set_param(p, "CONTENT_TYPE", content_type);
    set_param(p, "CONTENT_LENGTH", std::to_string(body.size()));
    return fcgi_request(worker_->socket_path(), p, body, 60000);
  }

  static WorkerProcess* worker_;
};

WorkerProcess* ClassicTest::worker_ = nullptr;

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

TEST_F(ClassicTest, GetWithQueryFillsSuperglobalsAndServer) {
  Params p = default_params(php_fixture("info.php"), "a=1&b[]=x&b[]=y");
  set_param(p, "HTTP_X_CUSTOM", "custom value");
  set_param(p, "ASKR_TEST", "from params");
  set_param(p, "PATH_INFO", "/extra");
  set_param(p, "HTTP_COOKIE", "k=v; other=2");
  FcgiResponse r = fcgi_request(worker_->socket_path(), p);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_NE(r.body.find(R"("sapi":"askr")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("get":{"a":"1","b":["x","y"]})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("cookie":{"k":"v","other":"2"})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("HTTP_X_CUSTOM":"custom value")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("ASKR_TEST":"from params")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("PHP_SELF":"\/info.php\/extra")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("request_time":true,"request_time_float":true)"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("getenv_method":"GET")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("X-Custom":"custom value")"), std::string::npos) << r.body;
}

// Without a php.ini, the settings that php.ini-production (Debian's php-fpm) turns off are off:
// no $_SERVER['argv'] built from the query string (register_argc_argv, which the pearcmd.php
// exploits need), no X-Powered-By, no assertions compiled, no deprecations reported (an error
// handler that throws what error_reporting() reports would fail a request php-fpm serves),
// $_REQUEST made of $_GET and $_POST alone (a cookie must not stand in for a form field), no
// arguments in exception traces (a password passed to a function that threw would be logged),
// no dl(), no session garbage collection in requests (Debian's session directory cannot be
// listed by the pool's user, so each collection logged a failure; cron cleans it), and session
// ids of 26 characters, 5 bits each. php.ini and -d still decide.
TEST_F(ClassicTest, ProductionDefaultsWithoutAPhpIni) {
  Params p = default_params(php_fixture("ini_defaults.php"), "+config-create+/tmp/x&a=query");
  set_param(p, "HTTP_COOKIE", "a=cookie; c=cookie");
  FcgiResponse r = fcgi_request(worker_->socket_path(), p);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body,
            R"({"argv":false,"register_argc_argv":"0","expose_php":"0","zend.assertions":"-1",)"
            R"("error_reporting":22527,"request":{"config-create_\/tmp\/x":"","a":"query"},)"
            R"("args_in_traces":false,"enable_dl":"0","session_gc":"0\/1000",)"
            R"("session_id":"26 base32"})"
            "\n");
  EXPECT_EQ(r.header("X-Powered-By"), "");
  WorkerProcess on(
      classic_mode({"-d", "register_argc_argv=1", "-d", "expose_php=1", "-d",
                    "error_reporting=E_ALL", "-d", "zend.exception_ignore_args=0", "-d",
                    "session.sid_length=32", "-d", "session.sid_bits_per_character=4"}));
  r = fcgi_request(on.socket_path(), default_params(php_fixture("ini_defaults.php"), "a"));
  EXPECT_NE(r.body.find(R"("argv":true,"register_argc_argv":"1","expose_php":"1")"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("error_reporting":32767)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("args_in_traces":true)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("session_id":"32 base32")"), std::string::npos) << r.body;
  EXPECT_EQ(r.header("X-Powered-By").rfind("PHP/8.", 0), 0u) << r.out;
}

// short_open_tag is off, as in php.ini-production: a literal XML declaration in a template is
// output, not parsed as PHP (where it is a syntax error, answered 500).
TEST_F(ClassicTest, XmlDeclarationIsOutputAsText) {
  FcgiResponse r = get("xml_declaration.php");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sum>2</sum>\n") << r.out;
}

// Output is buffered (4 KiB), as php.ini-production has it: what a script prints before
// header() and setcookie() does not stop them, as it does not under php-fpm. With the buffer off
// (-d output_buffering=0, for a pool that streams), PHP's warning and a 200 are what it gets.
TEST_F(ClassicTest, OutputBeforeHeadersIsBuffered) {
  FcgiResponse r = get("header_after_output.php");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.status, 302) << r.out;
  EXPECT_EQ(r.header("Location"), "/next");
  EXPECT_EQ(r.header("Set-Cookie"), "seen=1");
  EXPECT_EQ(r.body, "\nmoved");
  EXPECT_EQ(r.err, "");
  WorkerProcess off(classic_mode({"-d", "output_buffering=0"}));
  r = fcgi_request(off.socket_path(), default_params(php_fixture("header_after_output.php")));
  EXPECT_EQ(r.status, 200) << r.out;
  EXPECT_EQ(r.header("Location"), "");
  EXPECT_NE(r.err.find("headers already sent"), std::string::npos) << r.err;
}

TEST_F(ClassicTest, PostFormFillsPost) {
  FcgiResponse r = post("info.php", "application/x-www-form-urlencoded", "a=1&b=two+words");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("post":{"a":"1","b":"two words"})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("input":"a=1&b=two+words")"), std::string::npos) << r.body;
}

TEST_F(ClassicTest, BasicAuthBecomesPhpAuth) {
  Params p = default_params(php_fixture("info.php"));
  set_param(p, "HTTP_AUTHORIZATION", "Basic dXNlcjpwYXNz");  // user:pass
  FcgiResponse r = fcgi_request(worker_->socket_path(), p);
  EXPECT_NE(r.body.find(R"("PHP_AUTH_USER":"user","PHP_AUTH_PW":"pass")"), std::string::npos)
      << r.body;
}

TEST_F(ClassicTest, MultipartUploadReachesFilesAndIsRemovedAfterwards) {
  std::string file = random_bytes(3 * 1024 * 1024 + 17, 1);
  std::string boundary = "----askrboundary7MA4YWxkTrZu0gW";
  std::string body = "--" + boundary +
                     "\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n"
                     "--" +
                     boundary +
                     "\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.bin\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n" +
                     file + "\r\n--" + boundary + "--\r\n";
  FcgiResponse r = post("upload.php", "multipart/form-data; boundary=" + boundary, body);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.status, 200) << r.err;
  EXPECT_NE(r.body.find(R"("post":{"field":"value"})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"sha256\":\"" + sha256_hex(file) + "\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"size\":" + std::to_string(file.size())), std::string::npos);
  // PHP removed the temporary file before END_REQUEST.
  EXPECT_TRUE(fs::is_empty(worker_->upload_dir()));
}

TEST_F(ClassicTest, LargeBodyIsStreamedToPhpInput) {
  std::string body = random_bytes(20 * 1024 * 1024, 2);
  // PUT: PHP does not read the body ahead; the script pulls it through php://input.
  FcgiResponse r = post("stdin.php", "application/octet-stream", body, "PUT");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, std::to_string(body.size()) + " " + sha256_hex(body));
}

TEST_F(ClassicTest, LargeResponse) {
  FcgiResponse r = get("big.php", "mb=10");
  ASSERT_TRUE(r.ended);
  ASSERT_EQ(r.body.size(), 10u * 1024 * 1024);
  std::string block;
  for (int i = 0; i < 4096; ++i) block += "0123456789abcdef";
  for (size_t off = 0; off < r.body.size(); off += block.size()) {
    ASSERT_EQ(r.body.compare(off, block.size(), block), 0) << "at " << off;
  }
}

// Without output buffering each echo is a write of its own: they are gathered into records of
// many bytes, as php-fpm does, not sent as a record (header and padding) each.
TEST_F(ClassicTest, SmallWritesAreGatheredIntoFewRecords) {
  FcgiResponse r = get("small_writes.php");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, std::string(10000, 'x'));
  EXPECT_LE(r.stdout_records, 3u);
}

TEST_F(ClassicTest, FlushSendsOutputBeforeTheScriptEnds) {
  FcgiConnection c(worker_->socket_path());
  c.queue_request(1, default_params(php_fixture("flush.php")));
  FcgiResponse r = c.exchange(1);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "first\nsecond\n");
  // The script sleeps 400 ms after flush(): the first bytes came well before the end.
  EXPECT_GE(r.end - r.first_stdout, std::chrono::milliseconds(250));
}

TEST_F(ClassicTest, HeadersCookiesAndStatus) {
  FcgiResponse r = get("headers.php");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.out.rfind("Status: 201 Created\r\n", 0), 0u) << r.out;
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.header("X-One"), "1");
  EXPECT_EQ(r.all("X-Multi"), (std::vector<std::string>{"a", "b"}));
  std::vector<std::string> cookies = r.all("Set-Cookie");
  ASSERT_EQ(cookies.size(), 2u);
  EXPECT_EQ(cookies[0], "c1=v1");
  EXPECT_EQ(cookies[1], "c2=v2; path=/p; HttpOnly");
  // The output is still in the 4 KiB buffer (output_buffering, as php.ini-production has it).
  EXPECT_EQ(r.body, "headers were not sent\nnow not sent\n");
}

TEST_F(ClassicTest, FatalErrorAnswers500AndTheWorkerServesOn) {
  FcgiResponse r = get("fatal.php");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "");
  EXPECT_NE(r.err.find("PHP message: PHP Fatal error:  the end of this request"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.app_status, 255u);
  FcgiResponse e = get("exception.php");
  EXPECT_EQ(e.status, 500);
  EXPECT_NE(e.err.find("Uncaught RuntimeException: uncaught in classic mode"), std::string::npos);
  FcgiResponse next = get("info.php", "after=fatal");
  EXPECT_EQ(next.status, 200);
  EXPECT_NE(next.body.find(R"("get":{"after":"fatal"})"), std::string::npos);
}

TEST_F(ClassicTest, LogLinesGoToStderrRecords) {
  FcgiResponse r = get("stderr.php");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_NE(r.err.find("PHP message: a line for the log"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("PHP message: PHP Warning:  a warning"), std::string::npos) << r.err;
}

TEST_F(ClassicTest, MissingScriptIs404) {
  Params p = default_params(worker_->dir().file("no-such.php"));
  FcgiResponse r = fcgi_request(worker_->socket_path(), p);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "File not found.\n");
  EXPECT_EQ(r.err, "Primary script unknown");
}

TEST_F(ClassicTest, FastcgiFinishRequestAnswersAndTheScriptGoesOn) {
  std::string marker = worker_->dir().file("finish-marker");
  FcgiResponse r = get("finish.php", "marker=" + marker);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "answered\n");
  EXPECT_FALSE(fs::exists(marker));  // the script still sleeps
  for (int i = 0; i < 300 && !fs::exists(marker); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(fs::exists(marker));
}

// A client that ends its response with STDOUT (askr-proxy) gets END_REQUEST only once the
// script is over, so that it knows when the worker is free; the param is not PHP's to see.
TEST_F(ClassicTest, FinishRequestDefersEndRequestWhenTheClientAsks) {
  std::string marker = worker_->dir().file("finish-marker");
  Params p = default_params(php_fixture("finish.php"), "marker=" + marker);
  p.emplace_back("ASKR_STDOUT_ENDS_RESPONSE", "1");
  FcgiResponse r = fcgi_request(worker_->socket_path(), p);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "answered\n");
  EXPECT_TRUE(fs::exists(marker)) << "END_REQUEST came before the script ended";
  EXPECT_GE(r.end - r.first_stdout, std::chrono::milliseconds(250));
  Params vars = default_params(php_fixture("server_vars.php"));
  vars.emplace_back("X_NAMES", "ASKR_STDOUT_ENDS_RESPONSE");
  vars.emplace_back("ASKR_STDOUT_ENDS_RESPONSE", "1");
  FcgiResponse v = fcgi_request(worker_->socket_path(), vars);
  EXPECT_NE(v.body.find(R"({"ASKR_STDOUT_ENDS_RESPONSE":[null,null,false]})"), std::string::npos)
      << v.body;
}

// $_SERVER['ASKR_CONNECTION_REQUESTS'] counts the requests of the connection (a client's own
// value is replaced); several connections stay open at once, each with its own count.
TEST_F(ClassicTest, ConnectionRequestsCountsTheRequestsOfItsConnection) {
  std::string pid = std::to_string(worker_->pid());
  FcgiConnection a(worker_->socket_path()), b(worker_->socket_path());
  for (int i = 1; i <= 3; ++i) {
    Params p = default_params(php_fixture("pid.php"));
    set_param(p, "ASKR_CONNECTION_REQUESTS", "99");
    a.queue_request(1, p, {}, true);
    FcgiResponse r = a.exchange(1);
    ASSERT_TRUE(r.ended) << i;
    EXPECT_EQ(r.body, pid + " " + std::to_string(i) + "\n");
    EXPECT_TRUE(r.values.empty());
  }
  b.queue_request(1, default_params(php_fixture("pid.php")), {}, true);
  EXPECT_EQ(b.exchange(1).body, pid + " 1\n");
  a.queue_request(1, default_params(php_fixture("pid.php")), {}, true);
  EXPECT_EQ(a.exchange(1).body, pid + " 4\n");
}

TEST_F(ClassicTest, KeepConnServesSeveralRequestsOnOneConnection) {
  FcgiConnection c(worker_->socket_path());
  for (int i = 0; i < 3; ++i) {
    c.queue_request(1, default_params(php_fixture("info.php"), "i=" + std::to_string(i)), {}, true);
    FcgiResponse r = c.exchange(1);
    ASSERT_TRUE(r.ended) << i;
    EXPECT_NE(r.body.find("\"get\":{\"i\":\"" + std::to_string(i) + "\"}"), std::string::npos);
  }
  // Without FCGI_KEEP_CONN the worker closes the connection after the answer.
  c.queue_request(2, default_params(php_fixture("info.php")), {}, false);
  EXPECT_TRUE(c.exchange(2).ended);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ClassicTest, GetValuesIsAnswered) {
  FcgiConnection c(worker_->socket_path());
  std::string rec;
  std::string_view names[] = {fastcgi::kMaxConns, fastcgi::kMaxReqs, fastcgi::kMpxsConns};
  fastcgi::get_values(rec, names);
  c.queue_raw(rec);
  c.queue_request(1, default_params(php_fixture("info.php")));
  FcgiResponse r = c.exchange(1);
  ASSERT_TRUE(r.ended);
  ASSERT_NE(r.value("FCGI_MAX_CONNS"), nullptr);
  EXPECT_EQ(*r.value("FCGI_MAX_CONNS"), "1");
  EXPECT_EQ(*r.value("FCGI_MAX_REQS"), "1");
  EXPECT_EQ(*r.value("FCGI_MPXS_CONNS"), "0");
}

TEST_F(ClassicTest, SecondBeginRequestOnTheConnectionIsRefused) {
  FcgiConnection c(worker_->socket_path());
  c.queue_request(1, default_params(php_fixture("sleep.php"), "ms=200"), {}, true);
  c.queue_request(2, default_params(php_fixture("info.php")), {}, true);
  FcgiResponse r = c.exchange(1);
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "slept\n");
  ASSERT_EQ(r.other_ends.size(), 1u);
  EXPECT_EQ(r.other_ends[0].first, 2);
  EXPECT_EQ(r.other_ends[0].second, ProtocolStatus::kCantMpxConn);
}

// A role other than responder is refused; without FCGI_KEEP_CONN the connection then closes, as
// after any other answer, so that a client reading to the end of the connection is not left
// waiting. With it, the connection carries the next request.
TEST_F(ClassicTest, UnknownRoleIsRefusedAndTheConnectionEndsWithoutKeepConn) {
  for (bool keep : {false, true}) {
    SCOPED_TRACE(keep ? "keep_conn" : "no keep_conn");
    FcgiConnection c(worker_->socket_path());
    std::string rec;
    fastcgi::begin_request(rec, 1, fastcgi::Role::kAuthorizer, keep);
    {
      fastcgi::ParamsWriter w(rec, 1);
      w.add("SCRIPT_FILENAME", php_fixture("info.php"));
      w.finish();
    }
    fastcgi::end_params(rec, 1);
    fastcgi::end_stream(rec, fastcgi::RecordType::kStdin, 1);
    c.queue_raw(rec);
    FcgiResponse r = c.exchange(1, 5000);
    ASSERT_TRUE(r.ended);
    EXPECT_EQ(r.protocol_status, ProtocolStatus::kUnknownRole);
    EXPECT_TRUE(r.out.empty());
    if (!keep) {
      EXPECT_TRUE(c.wait_closed());
      continue;
    }
    c.queue_request(2, default_params(php_fixture("info.php")), {}, true);
    FcgiResponse next = c.exchange(2);
    ASSERT_TRUE(next.ended);
    EXPECT_EQ(next.status, 200);
  }
  EXPECT_EQ(get("info.php").status, 200);
}

TEST_F(ClassicTest, AbortRequestEndsTheRequest) {
  std::string marker = worker_->dir().file("abort-marker");
  FcgiConnection c(worker_->socket_path());
  c.queue_request(1, default_params(php_fixture("abort.php"), "marker=" + marker));
  ASSERT_TRUE(c.wait_first_stdout(1));
  std::string rec;
  fastcgi::abort_request(rec, 1);
  c.queue_raw(rec);
  auto start = Clock::now();
  FcgiResponse r = c.exchange(1, 10000);
  ASSERT_TRUE(r.ended);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_FALSE(fs::exists(marker));
}

TEST_F(ClassicTest, ClientGoneIsSeenByConnectionAborted) {
  std::string marker = worker_->dir().file("aborted-marker");
  {
    FcgiConnection c(worker_->socket_path());
    c.queue_request(1, default_params(php_fixture("abort_ignored.php"), "marker=" + marker));
    ASSERT_TRUE(c.wait_first_stdout(1));
  }  // closed: the next write fails; ignore_user_abort keeps the script going
  // The file exists from the moment PHP creates it, before its byte is written: wait for that.
  std::string aborted;
  for (int i = 0; i < 1000 && aborted.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in(marker);
    aborted.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(aborted, "1");
  EXPECT_EQ(get("info.php", "after=abort").status, 200);
}

TEST_F(ClassicTest, SessionsWork) {
  FcgiResponse first = get("session.php");
  EXPECT_EQ(first.body, "1");
  std::string cookie = first.header("Set-Cookie");
  ASSERT_EQ(cookie.rfind("PHPSESSID=", 0), 0u) << first.out;
  Params p = default_params(php_fixture("session.php"));
  set_param(p, "HTTP_COOKIE", cookie.substr(0, cookie.find(';')));
  EXPECT_EQ(fcgi_request(worker_->socket_path(), p).body, "2");
}

TEST_F(ClassicTest, OpcacheStaysWarm) {
  get("opcache.php");
  FcgiResponse r = get("opcache.php");
  EXPECT_NE(r.body.find(R"("enabled":true)"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(R"("hits":0)"), std::string::npos) << r.body;
}

TEST(Classic, MaxRequestsThenExit) {
  WorkerProcess w(classic_mode({"--max-requests", "3"}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fcgi_request(w.socket_path(), default_params(php_fixture("info.php"))).status, 200);
  }
  EXPECT_EQ(w.wait_exit(5000), std::optional<int>(0)) << w.log();
  EXPECT_FALSE(FcgiConnection(w.socket_path()).connected());
}

// --user (from root): PHP starts and serves as that user, with its group; the --listen socket
// is given to it, as php-fpm's listen.owner defaults to the pool's user. A connection from root
// (a supervisor, nginx as root) is still served.
TEST(Classic, UserRunsPhpAsThatUserAndOwnsTheSocket) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  WorkerProcess w(classic_mode({"--user", "nobody"}));
  struct stat st {};
  ASSERT_EQ(stat(w.socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);
  EXPECT_EQ(st.st_gid, nobody->pw_gid);
  // A script nobody can read, in the worker's (private) directory opened to all.
  chmod(w.dir().path().c_str(), 0755);
  std::string script = w.dir().file("ids.php");
  std::ofstream(script) << "<?php preg_match('/^Uid:\\s+(\\d+)/m', "
                           "file_get_contents('/proc/self/status'), $m); echo $m[1];";
  FcgiResponse r = fcgi_request(w.socket_path(), default_params(script));
  EXPECT_EQ(r.status, 200) << r.out << w.log();
  EXPECT_EQ(r.body, std::to_string(nobody->pw_uid));

  // Not a user: a clear line, and no PHP.
  WorkerOptions no_user;
  no_user.args = {"--user", "no-such-user-here"};
  no_user.wait_ready = false;
  WorkerProcess bad(no_user);
  EXPECT_EQ(bad.wait_exit(10000), std::optional<int>(1));
  EXPECT_NE(bad.log().find("--user no-such-user-here: no such user"), std::string::npos)
      << bad.log();
}

TEST(Classic, SigtermWhileIdleExitsAtOnce) {
  WorkerProcess w;
  kill(w.pid(), SIGTERM);
  EXPECT_EQ(w.wait_exit(2000), std::optional<int>(0)) << w.log();
}

TEST(Classic, SigtermFinishesTheRequestFirst) {
  WorkerProcess w;
  EXPECT_EQ(fcgi_request(w.socket_path(), default_params(php_fixture("info.php"))).status, 200);
  FcgiConnection c(w.socket_path());
  c.queue_request(1, default_params(php_fixture("sleep.php"), "ms=400"));
  c.exchange(1, 100);  // sends it; the script is running now
  kill(w.pid(), SIGTERM);
  FcgiResponse r = c.exchange(1, 5000);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.body, "slept\n");
  EXPECT_EQ(w.wait_exit(2000), std::optional<int>(0)) << w.log();
}

// How many sockets `pid` has open.
size_t open_sockets(pid_t pid) {
  std::error_code ec;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    n += fs::read_symlink(e.path(), ec).string().starts_with("socket:");
  }
  return n;
}

// Waits (10 s at most) until `pid` has `count` sockets open.
bool wait_sockets(pid_t pid, size_t count) {
  for (int i = 0; i < 2000; ++i) {
    if (open_sockets(pid) == count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// A stop that comes after the worker accepted a connection, before that connection's first
// request arrived: the request is served, then the worker exits. (The client, askr-proxy during
// a roll, connected for that request and cannot tell which worker of the slot accepted it.)
TEST(Classic, SigtermServesTheFirstRequestOfAnAcceptedConnection) {
  WorkerProcess w;
  // The listener alone (the harness's probe connection is gone), then ours accepted.
  ASSERT_TRUE(wait_sockets(w.pid(), 1)) << open_sockets(w.pid());
  FcgiConnection c(w.socket_path());
  ASSERT_TRUE(wait_sockets(w.pid(), 2)) << open_sockets(w.pid());
  kill(w.pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the stop is seen first
  c.queue_request(1, default_params(php_fixture("pid.php")));
  FcgiResponse r = c.exchange(1, 5000);
  EXPECT_TRUE(r.ended) << w.log();
  EXPECT_EQ(r.body, std::to_string(w.pid()) + " 1\n");
  EXPECT_EQ(w.wait_exit(3000), std::optional<int>(0)) << w.log();
}

// A kept connection that has carried requests is not waited on at a stop: the worker exits at
// once (a request sent on it meanwhile fails unread, and askr-proxy sends it again elsewhere).
TEST(Classic, SigtermDoesNotWaitOnAKeptConnection) {
  WorkerProcess w;
  FcgiConnection c(w.socket_path());
  c.queue_request(1, default_params(php_fixture("pid.php")), {}, true);
  ASSERT_TRUE(c.exchange(1, 5000).ended);
  auto t0 = std::chrono::steady_clock::now();
  kill(w.pid(), SIGTERM);
  EXPECT_EQ(w.wait_exit(3000), std::optional<int>(0)) << w.log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  EXPECT_TRUE(c.wait_closed(1000));
}

TEST(Classic, InheritedSocketAsAskrProxyStartsIt) {
  WorkerOptions o;
  o.inherit_socket = true;
  WorkerProcess w(o);
  FcgiResponse r = fcgi_request(w.socket_path(), default_params(php_fixture("pid.php")));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::to_string(w.pid()) + " 1\n");
}

// Two workers on one inherited socket: while one runs a request, the other accepts the next
// connection. Ordered by what the workers say on the readiness pipe, not by sleeps: on a loaded
// machine a worker can take seconds to boot or to pick a request up.
TEST(Classic, WorkersShareOneInheritedSocket) {
  TempDir dir;
  std::string path = dir.file("pool.sock");
  int fd = listen_unix(path);
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  WorkerOptions o;
  o.inherit_socket = true;
  o.shared_fd = fd;
  o.shared_path = path;
  o.ready_fd = ready[1];
  WorkerProcess a(o), b(o);
  close(ready[1]);
  // Reads one pid from the pipe (positive: about to accept; negative: a request began).
  auto said = [&]() -> int32_t {
    pollfd p{ready[0], POLLIN, 0};
    int32_t pid = 0;
    if (poll(&p, 1, 20000) != 1 || read(ready[0], &pid, sizeof pid) != ssize_t(sizeof pid))
      return 0;
    return pid;
  };
  std::set<int32_t> accepting = {said(), said()};
  ASSERT_EQ(accepting, (std::set<int32_t>{a.pid(), b.pid()}));  // both wait on the socket
  Params p = default_params(php_fixture("pid.php"), "ms=2000");
  // A request keeps one worker busy (it has begun: the worker said so); a second connection
  // then goes to the other, idle one, which alone waits on the socket.
  FcgiConnection c1(path);
  c1.queue_request(1, p);
  c1.exchange(1, 10);  // sends it
  int32_t busy = -said();
  ASSERT_TRUE(busy == a.pid() || busy == b.pid()) << busy;
  FcgiConnection c2(path);
  c2.queue_request(1, p);
  FcgiResponse r2 = c2.exchange(1), r1 = c1.exchange(1);
  ASSERT_TRUE(r1.ended && r2.ended);
  EXPECT_EQ(r1.body, std::to_string(busy) + " 1\n");
  EXPECT_NE(r1.body, r2.body);
  EXPECT_EQ(r2.body, std::to_string(busy == a.pid() ? b.pid() : a.pid()) + " 1\n");
  close(ready[0]);
  close(fd);
}

TEST(Classic, DiesWithItsParent) {
  TempDir dir;
  int fd = listen_unix(dir.file("orphan.sock"));
  pid_t worker = start_orphaned_worker(fd, dir.file("orphan.log"));
  close(fd);
  ASSERT_GT(worker, 0);
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    gone = process_gone(worker);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone);
  if (!gone) kill(worker, SIGKILL);
}

TEST(Classic, MemoryLimitRecyclesTheWorker) {
  WorkerProcess w(classic_mode({"--memory-limit", "1k"}));
  EXPECT_EQ(fcgi_request(w.socket_path(), default_params(php_fixture("info.php"))).status, 200);
  EXPECT_EQ(w.wait_exit(5000), std::optional<int>(0)) << w.log();
}

TEST(Cli, VersionListsExtensionsAndOpcache) {
  std::string out;
  ASSERT_EQ(run_command({ASKR_WORKER_BIN, "--version"}, &out), 0);
  EXPECT_NE(out.find("php: 8."), std::string::npos) << out;
  EXPECT_NE(out.find("sapi: askr"), std::string::npos) << out;
  EXPECT_NE(out.find(" standard "), std::string::npos) << out;
  EXPECT_NE(out.find("opcache: loaded, enabled"), std::string::npos) << out;
  ASSERT_EQ(run_command({ASKR_WORKER_BIN, "--version", "-d", "opcache.enable=0"}, &out), 0);
  EXPECT_NE(out.find("opcache: loaded, disabled"), std::string::npos) << out;
  EXPECT_EQ(run_command({ASKR_WORKER_BIN, "--no-such-option"}, nullptr), 2);
  EXPECT_EQ(run_command({ASKR_WORKER_BIN, "--mode", "worker"}, nullptr), 2);
}

}  // namespace
}  // namespace askr::testing::worker
