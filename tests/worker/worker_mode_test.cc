// askr-worker in worker mode: the script boots once and serves requests through
// askr_handle_request(); nothing of one request may show in the next.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "fcgi_client.h"
#include "harness.h"

namespace askr::testing::worker {
namespace {

namespace fs = std::filesystem;

class WorkerModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    worker_ = std::make_unique<WorkerProcess>(worker_mode(php_fixture("worker.php")));
  }

  FcgiResponse request(const std::string& query, const std::string& cookie = "",
                       const std::string& content_type = "", const std::string& body = "") {
    Params p = default_params(php_fixture("worker.php"), query, body.empty() ? "GET" : "POST");
    if (!cookie.empty()) set_param(p, "HTTP_COOKIE", cookie);
    if (!content_type.empty()) set_param(p, "CONTENT_TYPE", content_type);
    if (!body.empty()) set_param(p, "CONTENT_LENGTH", std::to_string(body.size()));
    return fcgi_request(worker_->socket_path(), p, body);
  }
  // worker.php's `t=CASE` says what state it finds, and with `set=1` changes it for the rest of
  // its request: every request, of that case or after another, finds the boot's, `boot`.
  void expect_each_request_finds(const std::string& t, const std::string& boot) {
    FcgiResponse first = request("t=" + t + "&set=1");
    ASSERT_TRUE(first.ended) << worker_->log();
    EXPECT_EQ(first.body, boot);
    EXPECT_EQ(request("t=" + t).body, boot);
    EXPECT_EQ(request("t=" + t + "&set=1").body, boot);
    EXPECT_EQ(request("t=globals").status, 200);
    EXPECT_EQ(request("t=" + t).body, boot);
    EXPECT_TRUE(worker_->running());
  }

  std::unique_ptr<WorkerProcess> worker_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(WorkerModeTest, SuperglobalsAreFreshAndStateIsKept) {
  FcgiResponse a = request("t=globals&a=1", "ca=1", "application/x-www-form-urlencoded", "p=1");
  ASSERT_TRUE(a.ended) << worker_->log();
  EXPECT_EQ(a.status, 200);
  EXPECT_TRUE(contains(a.body, R"("served":1,"calls":1)")) << a.body;
  EXPECT_TRUE(contains(a.body, R"("get":{"t":"globals","a":"1"})")) << a.body;
  EXPECT_TRUE(contains(a.body, R"("post":{"p":"1"})")) << a.body;
  EXPECT_TRUE(contains(a.body, R"("cookie":{"ca":"1"})")) << a.body;
  // request_order is "GP", as in php.ini-production: no cookie in $_REQUEST.
  EXPECT_TRUE(contains(a.body, R"("request":{"t":"globals","a":"1","p":"1"})")) << a.body;
  EXPECT_TRUE(contains(a.body, R"("uri":"\/worker.php?t=globals&a=1")")) << a.body;

  FcgiResponse b = request("t=globals&b=2");
  EXPECT_TRUE(contains(b.body, R"("served":2,"calls":2)")) << b.body;
  EXPECT_TRUE(contains(b.body, R"("get":{"t":"globals","b":"2"})")) << b.body;
  EXPECT_TRUE(contains(b.body, R"("post":[],"cookie":[],"files":[])")) << b.body;
  EXPECT_TRUE(contains(b.body, R"("request":{"t":"globals","b":"2"})")) << b.body;
  EXPECT_TRUE(contains(b.body, R"("uri":"\/worker.php?t=globals&b=2")")) << b.body;
  // One process served both.
  EXPECT_TRUE(contains(b.body, "\"pid\":" + std::to_string(worker_->pid()))) << b.body;
}

// The 4 KiB output buffer of php.ini-production is there in every request a worker script
// handles: output before header() does not stop it.
TEST_F(WorkerModeTest, OutputBeforeHeadersIsBuffered) {
  for (int i = 0; i < 2; ++i) {
    FcgiResponse r = request("t=header_after_output");
    ASSERT_TRUE(r.ended) << worker_->log();
    EXPECT_EQ(r.status, 302) << r.out;
    EXPECT_EQ(r.header("Location"), "/next");
    EXPECT_EQ(r.header("Set-Cookie"), "seen=1");
    EXPECT_EQ(r.body, "\nmoved");
  }
}

TEST_F(WorkerModeTest, NothingLeaksIntoTheNextRequest) {
  FcgiResponse leak = request("t=leak", "leak-in=1");
  ASSERT_TRUE(leak.ended);
  EXPECT_EQ(leak.status, 418);
  EXPECT_EQ(leak.header("X-Leak"), "yes");
  EXPECT_EQ(leak.all("Set-Cookie").size(), 2u);  // leak=yes and the session's

  FcgiResponse next = request("t=globals");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.header("X-Leak"), "");
  EXPECT_TRUE(next.all("Set-Cookie").empty()) << next.out;
  EXPECT_TRUE(contains(next.body, R"("cookie":[])")) << next.body;
  EXPECT_TRUE(contains(next.body, R"("session":false)")) << next.body;
  EXPECT_TRUE(contains(next.body, R"("code":200)")) << next.body;
  EXPECT_FALSE(contains(next.body, "X-Leak")) << next.body;

  // A new session does not see the other one's data.
  FcgiResponse s = request("t=session");
  EXPECT_EQ(s.body, R"({"n":1,"secret":null})");
}

TEST_F(WorkerModeTest, SessionPersistsThroughItsCookie) {
  FcgiResponse first = request("t=session");
  std::string cookie = first.header("Set-Cookie");
  ASSERT_EQ(cookie.rfind("PHPSESSID=", 0), 0u) << first.out;
  cookie = cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(request("t=session", cookie).body, R"({"n":2,"secret":null})");
  EXPECT_EQ(request("t=session", cookie).body, R"({"n":3,"secret":null})");
}

TEST_F(WorkerModeTest, UploadedFilesAreRemovedAfterTheRequest) {
  std::string file(512 * 1024, 'u');
  std::string boundary = "xYzBoUnDaRy";
  std::string body = "--" + boundary +
                     "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n"
                     "Content-Type: text/plain\r\n\r\n" +
                     file + "\r\n--" + boundary + "--\r\n";
  FcgiResponse r = request("t=upload", "", "multipart/form-data; boundary=" + boundary, body);
  ASSERT_TRUE(r.ended) << worker_->log();
  EXPECT_TRUE(contains(r.body, "\"sha256\":\"" + sha256_hex(file) + "\"")) << r.body;
  std::string dir = worker_->upload_dir();  // as json_encode() writes it: "\/tmp\/..."
  for (size_t i = dir.find('/'); i != std::string::npos; i = dir.find('/', i + 2))
    dir.insert(i, "\\");
  EXPECT_TRUE(contains(r.body, dir)) << r.body;
  EXPECT_TRUE(fs::is_empty(worker_->upload_dir()));
  FcgiResponse next = request("t=globals");
  EXPECT_TRUE(contains(next.body, R"("files":[])")) << next.body;
}

TEST_F(WorkerModeTest, UncaughtExceptionAnswers500AndTheWorkerGoesOn) {
  FcgiResponse r = request("t=throw");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(contains(r.err, "Uncaught RuntimeException: thrown by the handler")) << r.err;
  FcgiResponse next = request("t=globals");
  EXPECT_EQ(next.status, 200);
  EXPECT_TRUE(contains(next.body, R"("served":2)")) << next.body;
  EXPECT_TRUE(worker_->running());
}

// As under php-fpm, where PHP answers 500 for a fatal error only when the script chose no other
// status: the redirect a handler set before it threw goes out.
TEST_F(WorkerModeTest, UncaughtExceptionKeepsTheStatusTheScriptChose) {
  FcgiResponse r = request("t=redirect_throw");
  ASSERT_TRUE(r.ended) << worker_->log();
  EXPECT_EQ(r.status, 302) << r.out;
  EXPECT_EQ(r.header("Location"), "/login");
  EXPECT_TRUE(contains(r.err, "Uncaught RuntimeException: thrown after a redirect")) << r.err;
  EXPECT_EQ(request("t=globals").status, 200);
  EXPECT_TRUE(worker_->running());
}

// An exception thrown by an output handler the request left open, as its buffers close when the
// request ends, is that request's uncaught exception: logged as php-fpm logs it, and the worker
// goes on with the request's session written, instead of the exception reaching the worker
// script's loop and ending the worker.
TEST_F(WorkerModeTest, ExceptionFromAnOutputHandlerAtTheEndIsTheRequestsOwn) {
  FcgiResponse first = request("t=session");
  std::string cookie = first.header("Set-Cookie");
  cookie = cookie.substr(0, cookie.find(';'));
  ASSERT_FALSE(cookie.empty()) << first.out;
  FcgiResponse r = request("t=obthrow", cookie);
  ASSERT_TRUE(r.ended) << worker_->log();
  EXPECT_TRUE(
      contains(r.err + worker_->log(), "Uncaught RuntimeException: thrown by an output handler"))
      << r.err << worker_->log();
  FcgiResponse next = request("t=session", cookie);
  ASSERT_TRUE(next.ended) << worker_->log();
  EXPECT_EQ(next.body, R"({"n":3,"secret":null})");
  EXPECT_TRUE(contains(request("t=globals").body, R"("served":4)"));
  EXPECT_TRUE(worker_->running());
}

// A handler that asks for the next request (askr_handle_request() within its own call) gets an
// exception: left uncaught, its request answers 500, and the worker serves the next one as
// usual. It used to end that request at once and serve the next one nested inside it.
TEST_F(WorkerModeTest, HandleRequestFromWithinAHandlerThrows) {
  FcgiResponse r = request("t=nested");
  ASSERT_TRUE(r.ended) << worker_->log();
  EXPECT_EQ(r.status, 500) << r.out;
  EXPECT_TRUE(contains(r.err, "Uncaught RuntimeException: askr_handle_request() called while"))
      << r.err;
  FcgiResponse next = request("t=globals");
  EXPECT_EQ(next.status, 200);
  EXPECT_TRUE(contains(next.body, R"("served":2)")) << next.body;
  EXPECT_TRUE(worker_->running());
}

// A seed a request gives mt_srand() is forgotten when it ends, as PHP's request start forgets it
// under php-fpm: the next request's mt_rand() does not go on with that seed's sequence.
TEST_F(WorkerModeTest, SeedChosenByARequestIsForgotten) {
  FcgiResponse seeded = request("t=seed");
  ASSERT_TRUE(seeded.ended) << worker_->log();
  ASSERT_FALSE(seeded.body.empty());
  FcgiResponse next = request("t=rand");
  ASSERT_TRUE(next.ended) << worker_->log();
  EXPECT_NE(next.body, seeded.body) << "mt_rand() went on with the last request's seed";
  EXPECT_NE(request("t=rand").body, next.body);
}

// The string a request gave strtok() is its own, as basic's request shutdown drops it under
// php-fpm: the next request's strtok() without a string finds none, not the rest of it.
TEST_F(WorkerModeTest, StrtokStringOfARequestIsForgotten) {
  EXPECT_EQ(request("t=strtok&set=a%20b%20c").body, "\"a\"");
  EXPECT_EQ(request("t=strtok").body, "false") << "strtok() went on with the last request's string";
  EXPECT_TRUE(worker_->running());
}

// A zone a request sets with date_default_timezone_set() is its own: the next request has the
// zone the worker script set while booting, as under php-fpm every request starts with the zone
// of php.ini. A date the script made while booting keeps its own zone, which the date extension
// caches: forgetting the request's zone must leave that cache alone.
TEST_F(WorkerModeTest, TimezoneSetByARequestIsForgotten) {
  const std::string paris = "Europe/Paris America/Chicago CST -06:00";
  EXPECT_EQ(request("t=tz&set=Asia/Tokyo").body, paris);
  EXPECT_EQ(request("t=tz").body, paris);
  EXPECT_EQ(request("t=tz&set=America/Chicago").body, paris);
  EXPECT_EQ(request("t=tz").body, paris);
  EXPECT_TRUE(worker_->running());
}

// What a request sets in the default stream context (an Authorization header for its own HTTP
// calls) is its own: the next request's file_get_contents() gets the context as the worker
// script left it when it booted, as under php-fpm each request starts with a fresh one.
TEST_F(WorkerModeTest, DefaultStreamContextSetByARequestIsForgotten) {
  const std::string boot = R"({"http":{"user_agent":"worker-boot"}})";
  EXPECT_EQ(request("t=context&set=1").body, boot);
  EXPECT_EQ(request("t=context").body, boot);
  EXPECT_EQ(request("t=context&set=1").body, boot);
  EXPECT_EQ(request("t=globals&x=1").status, 200);  // not touching it changes nothing
  EXPECT_EQ(request("t=context").body, boot);
  EXPECT_TRUE(worker_->running());
}

// A callback a request sets with stream_context_set_params() on the default context (through
// stream_context_get_default(), or a context the script kept since its boot) is its own too.
TEST_F(WorkerModeTest, DefaultStreamContextParamsSetByARequestAreForgotten) {
  EXPECT_EQ(request("t=params&set=default").body, "none");
  EXPECT_EQ(request("t=params").body, "none");
  EXPECT_EQ(request("t=params&set=kept").body, "none");
  EXPECT_EQ(request("t=params").body, "none");
  EXPECT_TRUE(worker_->running());
}

// mbstring's settings a request changes (mb_internal_encoding('ISO-8859-1') and the like) are
// its own, as mbstring's request start forgets them under php-fpm: the next request counts
// UTF-8 characters again.
TEST_F(WorkerModeTest, MbstringSettingsOfARequestAreForgotten) {
  expect_each_request_finds("mb", R"(["UTF-8","UTF-8",63,["ASCII","UTF-8"],"UTF-8","neutral",3])");
}

// libxml's state is the request's own: internal errors, the errors collected and the last one,
// the disabled entity loader, a request's external entity loader and streams context (PHP's
// loader opens askrt:// with the default context again).
TEST_F(WorkerModeTest, LibxmlStateOfARequestIsForgotten) {
  expect_each_request_finds(
      "xml", R"({"internal":false,"errors":0,"last":null,"disabled":false,"loader":[],)"
             R"("opened_with":{"http":{"user_agent":"worker-boot"}}})");
}

// Stream wrappers and filters a request registers or unregisters are its own, as PHP's request
// end drops its copy of their tables under php-fpm: the next request has http:// and the
// script's askrt:// again, and can register the same names again.
TEST_F(WorkerModeTest, StreamWrappersAndFiltersOfARequestAreForgotten) {
  const std::string boot = "[true,true,false,false]";
  FcgiResponse first = request("t=wrappers&set=1");
  ASSERT_TRUE(first.ended) << worker_->log();
  EXPECT_EQ(first.body, boot + " [true,true]");
  EXPECT_EQ(request("t=wrappers").body, boot);
  EXPECT_EQ(request("t=wrappers&set=1").body, boot + " [true,true]");
  EXPECT_EQ(request("t=globals").status, 200);
  EXPECT_EQ(request("t=wrappers").body, boot);
  EXPECT_TRUE(worker_->running());
}

TEST_F(WorkerModeTest, FatalErrorEndsTheWorkerAfterAnswering) {
  FcgiResponse r = request("t=fatal");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "partial");
  EXPECT_TRUE(contains(r.err, "PHP Fatal error:  fatal in the handler")) << r.err;
  EXPECT_EQ(worker_->wait_exit(5000), std::optional<int>(255)) << worker_->log();
}

TEST_F(WorkerModeTest, ExitEndsTheWorkerAfterAnswering) {
  FcgiResponse r = request("t=exit");
  ASSERT_TRUE(r.ended);
  EXPECT_EQ(r.body, "exiting");
  EXPECT_EQ(worker_->wait_exit(5000), std::optional<int>(0)) << worker_->log();
}

TEST_F(WorkerModeTest, MemoryStaysFlat) {
  FcgiConnection c(worker_->socket_path());
  Params p = default_params(php_fixture("worker.php"), "t=ping");
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i) {
      c.queue_request(1, p, {}, true);
      FcgiResponse r = c.exchange(1);
      ASSERT_EQ(r.body, "pong") << i;
    }
  };
  run(1000);
  size_t after_1k = rss_bytes(worker_->pid());
  run(9000);
  size_t after_10k = rss_bytes(worker_->pid());
  RecordProperty("rss_after_1k", std::to_string(after_1k));
  RecordProperty("rss_after_10k", std::to_string(after_10k));
  EXPECT_LT(after_10k, after_1k + 2 * 1024 * 1024)
      << "RSS after 1000 requests: " << after_1k << ", after 10000: " << after_10k;
}

// A Basic-auth POST with a body PHP reads whole at start-up (text/plain): the strings PHP
// allocates for them were freed at the end of a request and freed again at the next one.
TEST(WorkerMode, BasicAuthPostRepeatedOnOneWorker) {
  WorkerProcess w(worker_mode(php_fixture("worker.php")));
  Params p = default_params(php_fixture("worker.php"), "t=stdin", "POST");
  set_param(p, "CONTENT_TYPE", "text/plain");
  set_param(p, "HTTP_AUTHORIZATION", "Basic dXNlcjpwYXNz");
  for (int i = 0; i < 20; ++i) {
    std::string body(100 + size_t(i), 'b');
    set_param(p, "CONTENT_LENGTH", std::to_string(body.size()));
    FcgiResponse r = fcgi_request(w.socket_path(), p, body);
    ASSERT_TRUE(r.ended) << i << "\n" << w.log();
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, std::to_string(body.size())) << i;
  }
  EXPECT_TRUE(w.running()) << w.log();
}

// The save handler a worker script registers at boot serves every request, as the files handler
// does; a request without the cookie gets a new session.
TEST(WorkerMode, SessionSaveHandlerSetAtBootServesEveryRequest) {
  WorkerProcess w(worker_mode(php_fixture("session_handler.php")));
  Params p = default_params(php_fixture("session_handler.php"));
  FcgiResponse first = fcgi_request(w.socket_path(), p);
  ASSERT_TRUE(first.ended) << w.log();
  EXPECT_EQ(first.body, R"({"n":1,"reads":1,"module":"user"})") << first.err;
  std::string cookie = first.header("Set-Cookie");
  ASSERT_EQ(cookie.rfind("PHPSESSID=", 0), 0u) << first.out;
  cookie = cookie.substr(0, cookie.find(';'));
  set_param(p, "HTTP_COOKIE", cookie);
  for (int n = 2; n <= 20; ++n) {
    FcgiResponse r = fcgi_request(w.socket_path(), p);
    ASSERT_EQ(r.body, R"({"n":)" + std::to_string(n) + R"(,"reads":)" + std::to_string(n) +
                          R"(,"module":"user"})")
        << r.err << w.log();
    EXPECT_EQ(r.err, "");
  }
  // Another client, without the cookie: a session of its own.
  Params other = default_params(php_fixture("session_handler.php"));
  EXPECT_EQ(fcgi_request(w.socket_path(), other).body, R"({"n":1,"reads":21,"module":"user"})");
}

TEST_F(WorkerModeTest, FilesSessionHandlerCountsUpOverTwentyRequests) {
  std::string cookie;
  for (int n = 1; n <= 20; ++n) {
    FcgiResponse r = request("t=session", cookie);
    ASSERT_EQ(r.body, R"({"n":)" + std::to_string(n) + R"(,"secret":null})") << r.err;
    if (n == 1) cookie = r.header("Set-Cookie").substr(0, r.header("Set-Cookie").find(';'));
  }
  EXPECT_EQ(request("t=session").body, R"({"n":1,"secret":null})");
}

// As under php-fpm: what the handler does not catch goes to the set_exception_handler() handler,
// whose page and status are the answer; the worker goes on.
TEST(WorkerMode, UncaughtExceptionGoesToTheUserExceptionHandler) {
  WorkerProcess w(worker_mode(php_fixture("exception_handler.php")));
  Params p = default_params(php_fixture("exception_handler.php"), "t=throw");
  FcgiResponse r = fcgi_request(w.socket_path(), p);
  ASSERT_TRUE(r.ended) << w.log();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("X-Handled"), "yes");
  EXPECT_EQ(r.body, "handled: thrown in request 1");
  EXPECT_EQ(r.err.find("Uncaught"), std::string::npos) << r.err;
  FcgiResponse next =
      fcgi_request(w.socket_path(), default_params(php_fixture("exception_handler.php")));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.header("X-Handled"), "");
  EXPECT_EQ(next.body, "ok 2");
  EXPECT_EQ(fcgi_request(w.socket_path(), p).body, "handled: thrown in request 3");
  EXPECT_TRUE(w.running());
}

// What php_request_shutdown() resets is reset between requests, to the state the script had at
// boot: ini settings, the time limit, the last error, output buffers, headers, status, the
// umask (a request's umask(0) must not make the next one's files world-writable), the locale,
// the working directory (the script's own, where php-fpm starts every request). putenv()
// and $_ENV changes made at boot stay; shutdown functions run when the worker script ends, as in
// FrankenPHP.
TEST(WorkerMode, RequestStateIsResetToTheBootState) {
  WorkerProcess w(worker_mode(php_fixture("reset.php"), {"--max-requests", "4"}));
  std::string marker = w.dir().file("shutdown-ran");
  Params get = default_params(php_fixture("reset.php"), "t=get");
  FcgiResponse before = fcgi_request(w.socket_path(), get);
  ASSERT_TRUE(before.ended) << w.log();
  FcgiResponse set = fcgi_request(w.socket_path(),
                                  default_params(php_fixture("reset.php"), "t=set&file=" + marker));
  EXPECT_EQ(set.status, 201);
  EXPECT_EQ(set.body, "set");
  EXPECT_FALSE(fs::exists(marker)) << "a shutdown function ran at the end of the request";
  FcgiResponse after = fcgi_request(w.socket_path(), get);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, before.body);
  EXPECT_TRUE(contains(after.body, R"("max_execution_time":"30")")) << after.body;
  EXPECT_TRUE(contains(after.body, R"("display_errors":"0")")) << after.body;
  EXPECT_TRUE(contains(after.body, R"("precision":"10")")) << after.body;
  EXPECT_FALSE(contains(after.body, R"("memory_limit":"77M")")) << after.body;
  EXPECT_TRUE(contains(after.body, R"("last_error":null,"ob_level":1,"code":200)")) << after.body;
  EXPECT_FALSE(contains(after.body, "X-Left")) << after.body;
  EXPECT_TRUE(contains(after.body, R"("putenv":"boot","env":"boot","umask":"27")")) << after.body;
  EXPECT_FALSE(contains(after.body, R"("locale":"C.UTF-8")")) << after.body;
  EXPECT_FALSE(contains(after.body, R"("cwd":"\/")")) << after.body;
  EXPECT_FALSE(contains(before.body, R"("cwd":"\/")")) << before.body;
  // Session settings are the app's (a framework sets them on the session's first use): kept.
  EXPECT_EQ(
      fcgi_request(w.socket_path(), default_params(php_fixture("reset.php"), "t=session")).body,
      "4321");
  EXPECT_EQ(w.wait_exit(5000), std::optional<int>(0)) << w.log();
  EXPECT_TRUE(fs::exists(marker)) << "the shutdown function did not run when the script ended";
}

// Between requests the worker script sees its own $_SERVER (its names, no request's params) with
// a fresh REQUEST_TIME each time, though the array is kept from one idle state to the next; a
// change the script makes to it there does not outlive that idle state.
TEST(WorkerMode, ServerArrayBetweenRequestsIsTheScriptsOwn) {
  const std::string script = php_fixture("idle_server.php");
  WorkerProcess w(worker_mode(script));
  auto time_of = [](const std::string& body) {
    size_t at = body.find("\"time\":");
    return at == std::string::npos ? 0.0 : std::strtod(body.c_str() + at + 7, nullptr);
  };
  std::string escaped;  // as json_encode() writes it: "/" as "\/"
  for (char c : script) escaped += c == '/' ? std::string("\\/") : std::string(1, c);
  const std::string own = R"("script":")" + escaped + R"(","uri":null,"mark":null)";
  FcgiResponse boot = fcgi_request(w.socket_path(), default_params(script, "t=change"));
  ASSERT_TRUE(boot.ended) << w.log();
  EXPECT_TRUE(contains(boot.body, own)) << boot.body;
  double last = 0;
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    FcgiResponse r = fcgi_request(w.socket_path(), default_params(script));
    ASSERT_TRUE(r.ended) << w.log();
    EXPECT_TRUE(contains(r.body, own)) << i << ": " << r.body;
    double t = time_of(r.body);
    EXPECT_GT(t, last) << i << ": " << r.body;
    last = t;
  }
}

TEST(WorkerMode, FrankenphpHandleRequestWorksTheSame) {
  WorkerProcess w(worker_mode(php_fixture("frankenphp.php")));
  Params p = default_params(php_fixture("frankenphp.php"), "q=one");
  EXPECT_EQ(fcgi_request(w.socket_path(), p).body, "frankenphp 1 one");
  set_param(p, "QUERY_STRING", "q=two");
  EXPECT_EQ(fcgi_request(w.socket_path(), p).body, "frankenphp 2 two");
}

// expose_php: every response of a worker-mode worker says X-Powered-By, as php-fpm's do; and
// none does with it off.
TEST(WorkerMode, ExposePhpHeaderOnEveryResponse) {
  for (const char* on : {"1", "0"}) {
    WorkerProcess w(
        worker_mode(php_fixture("frankenphp.php"), {"-d", std::string("expose_php=") + on}));
    for (int i = 0; i < 3; ++i) {
      FcgiResponse r = fcgi_request(w.socket_path(), default_params(php_fixture("frankenphp.php")));
      ASSERT_EQ(r.status, 200) << on << " " << i << w.log();
      std::string powered = r.header("X-Powered-By");
      EXPECT_EQ(powered.rfind("PHP/8.", 0) == 0, std::string(on) == "1") << on << " " << i;
      EXPECT_EQ(powered.empty(), std::string(on) == "0") << on << " " << i;
    }
  }
}

TEST(WorkerMode, MaxRequestsThenExit) {
  WorkerProcess w(worker_mode(php_fixture("worker.php"), {"--max-requests", "3"}));
  for (int i = 0; i < 3; ++i) {
    FcgiResponse r = fcgi_request(w.socket_path(), default_params(php_fixture("worker.php")));
    EXPECT_EQ(r.status, 200) << i;
  }
  EXPECT_EQ(w.wait_exit(5000), std::optional<int>(0)) << w.log();
  EXPECT_FALSE(FcgiConnection(w.socket_path()).connected());
}

TEST(WorkerMode, SigtermWhileWaitingExitsAtOnce) {
  WorkerProcess w(worker_mode(php_fixture("worker.php")));
  EXPECT_EQ(fcgi_request(w.socket_path(), default_params(php_fixture("worker.php"))).status, 200);
  kill(w.pid(), SIGTERM);
  EXPECT_EQ(w.wait_exit(2000), std::optional<int>(0)) << w.log();
}

TEST(WorkerMode, SigtermFinishesTheRequestFirst) {
  WorkerProcess w(worker_mode(php_fixture("worker.php")));
  EXPECT_EQ(fcgi_request(w.socket_path(), default_params(php_fixture("worker.php"))).status, 200);
  FcgiConnection c(w.socket_path());
  c.queue_request(1, default_params(php_fixture("worker.php"), "t=sleep"));
  c.exchange(1, 100);  // sent; the handler sleeps
  kill(w.pid(), SIGTERM);
  FcgiResponse r = c.exchange(1, 5000);
  EXPECT_EQ(r.body, "slept");
  EXPECT_EQ(w.wait_exit(2000), std::optional<int>(0)) << w.log();
}

TEST(WorkerMode, ClassicScriptCannotCallHandleRequest) {
  WorkerProcess w;
  std::string script = w.dir().file("call.php");
  FILE* f = fopen(script.c_str(), "w");
  fputs(
      "<?php try { askr_handle_request(fn() => 1); } catch (RuntimeException $e) {"
      " echo $e->getMessage(); }",
      f);
  fclose(f);
  FcgiResponse r = fcgi_request(w.socket_path(), default_params(script));
  EXPECT_EQ(r.body, "askr_handle_request() called while not in worker mode");
}

}  // namespace
}  // namespace askr::testing::worker
