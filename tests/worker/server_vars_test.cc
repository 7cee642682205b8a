// $_SERVER as askr-worker builds it from a request's FastCGI params, in classic and worker mode:
// every param with its value, names PHP rewrites rewritten as PHP does, nothing of an earlier
// request on the same connection, and the filter extension's raw copy (filter_input() with
// INPUT_SERVER) holding the same values.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fcgi_client.h"
#include "harness.h"
#include "shared/fastcgi/encoder.h"

namespace askr::testing::worker {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class ServerVars : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    worker_ = std::make_unique<WorkerProcess>(
        GetParam() == "worker" ? worker_mode(php_fixture("server_vars_worker.php"))
                               : classic_mode());
  }
  Params params(const std::string& names) {
    Params p = default_params(php_fixture("server_vars.php"));
    set_param(p, "X_NAMES", names);
    return p;
  }
  std::unique_ptr<WorkerProcess> worker_;
};

// Thirty requests on one kept connection, each with params of its own: the plain names go
// straight into $_SERVER, "X.DOT<i>" and "A[k]" through PHP's own registration; none of them
// is seen by a later request, and filter_input(INPUT_SERVER) agrees with $_SERVER on each.
TEST_P(ServerVars, EachRequestSeesItsOwnParamsOverOneKeptConnection) {
  FcgiConnection c(worker_->socket_path());
  for (int i = 0; i < 30; ++i) {
    std::string n = std::to_string(i);
    Params p = params("X_ONLY" + n + ",X_SHARED,X_EMPTY,X_DOT" + n + ",X_DUP");
    set_param(p, "X_ONLY" + n, "only" + n);
    set_param(p, "X_SHARED", "shared" + n);
    if (i % 2 == 0) set_param(p, "X_EMPTY", "");
    set_param(p, "X.DOT" + n, "dot" + n);
    if (i % 3 == 0) set_param(p, "A[k]", "arr" + n);
    if (i % 5 == 0) set_param(p, "7", "seven" + n);
    p.emplace_back("X_DUP", "first" + n);  // sent twice: the later one wins, as under php-fpm
    p.emplace_back("X_DUP", "second" + n);
    c.queue_request(1, p, {}, true);
    FcgiResponse r = c.exchange(1);
    ASSERT_TRUE(r.ended) << i << worker_->log();
    ASSERT_EQ(r.status, 200) << r.out;
    const std::string& b = r.body;
    EXPECT_TRUE(contains(b, "\"X_ONLY" + n + "\":[\"only" + n + "\",\"only" + n + "\",true]")) << b;
    EXPECT_TRUE(contains(b, "\"X_SHARED\":[\"shared" + n + "\",\"shared" + n + "\",true]")) << b;
    EXPECT_TRUE(contains(b, "\"X_DOT" + n + "\":[\"dot" + n + "\",\"dot" + n + "\",true]")) << b;
    EXPECT_TRUE(contains(b, "\"X_DUP\":[\"second" + n + "\",\"second" + n + "\",true]")) << b;
    if (i % 2 == 0) {
      EXPECT_TRUE(contains(b, "\"X_EMPTY\":[\"\",\"\",true]")) << b;
    } else {
      EXPECT_TRUE(contains(b, "\"X_EMPTY\":[null,null,false]")) << b;
    }
    EXPECT_TRUE(contains(b, i % 3 == 0 ? "\"a\":{\"k\":\"arr" + n + "\"}" : "\"a\":null")) << b;
    EXPECT_TRUE(contains(b, i % 5 == 0 ? "\"n7\":\"seven" + n + "\"" : "\"n7\":null")) << b;
    // Exactly this request's X_ names, in $_SERVER and in the filter's copy.
    std::string x = "\"x\":{\"X_NAMES\":\"X_ONLY" + n + ",X_SHARED,X_EMPTY,X_DOT" + n +
                    ",X_DUP\",\"X_ONLY" + n + "\":\"only" + n + "\",\"X_SHARED\":\"shared" + n +
                    "\"," + (i % 2 == 0 ? "\"X_EMPTY\":\"\"," : "") + "\"X_DOT" + n + "\":\"dot" +
                    n + "\",\"X_DUP\":\"second" + n + "\"}";
    EXPECT_TRUE(contains(b, x)) << b;
    std::string copy = "\"copy\":[\"X_NAMES\",\"X_ONLY" + n + "\",\"X_SHARED\"," +
                       (i % 2 == 0 ? "\"X_EMPTY\"," : "") + "\"X_DOT" + n + "\",\"X_DUP\"]";
    EXPECT_TRUE(contains(b, copy)) << b;
    EXPECT_TRUE(contains(b, "\"self\":\"\\/server_vars.php\"")) << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerVars, ::testing::Values("classic", "worker"));

// With filter.default set to a filter that changes values, every variable goes through it into
// $_SERVER, and filter_input(INPUT_SERVER) still gives the raw value.
TEST(ServerVarsFilter, DefaultFilterStillAppliesToServer) {
  for (const char* mode : {"classic", "worker"}) {
    std::vector<std::string> args = {"-d", "filter.default=special_chars"};
    WorkerProcess w(std::string(mode) == "worker"
                        ? worker_mode(php_fixture("server_vars_worker.php"), args)
                        : classic_mode(args));
    Params p = default_params(php_fixture("server_vars.php"));
    set_param(p, "X_NAMES", "X_HTML");
    set_param(p, "X_HTML", "<b>");
    FcgiResponse r = fcgi_request(w.socket_path(), p);
    ASSERT_TRUE(r.ended) << mode << w.log();
    EXPECT_TRUE(contains(r.body, R"("X_HTML":["&#60;b&#62;","<b>",true])")) << mode << r.body;
  }
}

// This request's $_SERVER as server_vars_reuse_worker.php answers it (all but REQUEST_TIME*
// and ASKR_CONNECTION_REQUESTS), and its REQUEST_TIME_FLOAT.
struct Seen {
  std::string server;
  double time = 0;
};

Seen ask(WorkerProcess& w, FcgiConnection& c, const Params& p) {
  c.queue_request(1, p, {}, true);
  FcgiResponse r = c.exchange(1);
  EXPECT_TRUE(r.ended) << w.log();
  EXPECT_EQ(r.status, 200) << r.out << w.log();
  Seen s;
  size_t at = r.body.find(",\"server\":");
  if (r.body.rfind("{\"time\":", 0) != 0 || at == std::string::npos) {
    ADD_FAILURE() << r.body;
    return s;
  }
  s.time = std::stod(r.body.substr(8, at - 8));
  s.server = r.body.substr(at + 10);
  return s;
}

// In worker mode the last request's $_SERVER is brought up to date for the next request rather
// than built anew, when nobody else holds it and the variables are the same names in the same
// order. Either way a request must see what a fresh build gives it. Each request below is made
// twice: right after one that kept its $_SERVER (so it is built anew), then again (so the array
// just built is brought up to date); both must see the same $_SERVER, and a later time. In
// between, the script changed a value of $_SERVER, added a variable and removed one. With
// register_argc_argv on (PHP's own default) and off (askr-worker's, php.ini-production's).
class ServerVarsReuse : public ::testing::TestWithParam<std::string> {};

TEST_P(ServerVarsReuse, EveryRequestSeesWhatAFreshBuildGives) {
  std::string script = php_fixture("server_vars_reuse_worker.php");
  WorkerProcess w(worker_mode(script, {"-d", "register_argc_argv=" + GetParam()}));
  FcgiConnection c(w.socket_path());
  struct Case {
    std::vector<std::pair<std::string, std::string>> vars;
    std::string want;      // in the $_SERVER seen
    std::string unwanted;  // never in it
  };
  const std::string basic = "Basic " + std::string("dXNlcjpwdw==");  // user:pw
  std::vector<Case> cases = {
      {{{"X_A", "a0"}, {"X_B", "b"}}, R"("X_A":"a0","X_B":"b")", "MINE"},
      {{{"X_A", "a1"}, {"X_B", "b"}}, R"("X_A":"a1","X_B":"b")", "changed"},
      {{{"X_A", "a1"}, {"X_B", "b"}, {"X_C", "c"}}, R"("X_B":"b","X_C":"c")", "MINE"},
      {{{"X_A", "a1"}, {"X_C", "c"}}, R"("X_A":"a1","X_C":"c")", "X_B"},
      {{{"X_A", ""}, {"X_C", "c"}}, R"("X_A":"","X_C":"c")", "a1"},
      {{{"HTTP_AUTHORIZATION", basic}, {"X_A", "a"}}, R"("PHP_AUTH_USER":"user")", "MINE"},
      {{{"HTTP_AUTHORIZATION", "Bearer t"}, {"X_A", "a"}}, R"("X_A":"a")", "PHP_AUTH_USER"},
      {{{"HTTP_AUTHORIZATION", basic}, {"X_A", "a"}}, R"("PHP_AUTH_PW":"pw")", "MINE"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto params = [&](const std::string& query) {
      Params p = default_params(script, query);
      for (const auto& [name, value] : cases[i].vars) set_param(p, name, value);
      return p;
    };
    ask(w, c, params("keep=1"));
    Seen fresh = ask(w, c, params("q=1+2"));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    Seen reused = ask(w, c, params("q=1+2"));
    EXPECT_EQ(reused.server, fresh.server) << i;
    EXPECT_GT(reused.time, fresh.time) << i;
    EXPECT_TRUE(contains(reused.server, cases[i].want)) << i << ": " << reused.server;
    EXPECT_FALSE(contains(reused.server, cases[i].unwanted)) << i << ": " << reused.server;
    EXPECT_TRUE(contains(reused.server, "\"QUERY_STRING\":\"q=1+2\"")) << i;
    EXPECT_EQ(contains(reused.server, R"("argv":["q=1","2"],"argc":2)"), GetParam() == "1") << i;
  }
}

INSTANTIATE_TEST_SUITE_P(ArgcArgv, ServerVarsReuse, ::testing::Values("1", "0"));

// The environment, which CGI puts in $_SERVER too, changed by putenv() in one request, is in
// the next request's $_SERVER, whether that is built anew or brought up to date.
TEST(ServerVarsReuseEnv, EnvironmentChangedByARequestIsInTheNext) {
  std::string script = php_fixture("server_vars_reuse_worker.php");
  WorkerProcess w(worker_mode(script));
  FcgiConnection c(w.socket_path());
  EXPECT_FALSE(contains(ask(w, c, default_params(script, "putenv=one")).server, "ASKR_T"));
  EXPECT_TRUE(contains(ask(w, c, default_params(script, "x=1")).server, R"("ASKR_T":"one")"));
  EXPECT_TRUE(
      contains(ask(w, c, default_params(script, "putenv=two")).server, R"("ASKR_T":"one")"));
  EXPECT_TRUE(contains(ask(w, c, default_params(script, "x=1")).server, R"("ASKR_T":"two")"));
  EXPECT_TRUE(contains(ask(w, c, default_params(script, "x=2")).server, R"("ASKR_T":"two")"));
}

// Params that never became a request (the connection closed before they were complete) come
// between two requests: the second is still compared in full with the first's $_SERVER, not
// with those params, which had its values.
TEST(ServerVarsReuseEnv, ParamsOfARequestThatNeverBeganAreNotTakenForTheLastRequests) {
  std::string script = php_fixture("server_vars_reuse_worker.php");
  WorkerProcess w(worker_mode(script));
  FcgiConnection c(w.socket_path());
  auto params = [&](const std::string& x) {
    Params p = default_params(script, "q=1");
    set_param(p, "X_V", x);
    return p;
  };
  ask(w, c, params("one"));
  ask(w, c, params("one"));  // the kept array, brought up to date
  {
    FcgiConnection other(w.socket_path());
    std::string rec;
    fastcgi::begin_request(rec, 1, fastcgi::Role::kResponder, true);
    fastcgi::ParamsWriter pw(rec, 1);
    for (const auto& [n, v] : params("two")) pw.add(n, v);
    pw.finish();  // and no end of the params
    other.queue_raw(rec);
    other.wait_first_stdout(1, 300);
  }
  EXPECT_TRUE(contains(ask(w, c, params("two")).server, R"("X_V":"two")"));
  EXPECT_TRUE(contains(ask(w, c, params("two")).server, R"("X_V":"two")"));
}

}  // namespace
}  // namespace askr::testing::worker
