// $_SERVER as askr-worker builds it from a request's FastCGI params, in classic and worker mode:
// every param with its value, names PHP rewrites rewritten as PHP does, nothing of an earlier
// request on the same connection, and the filter extension's raw copy (filter_input() with
// INPUT_SERVER) holding the same values.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "fcgi_client.h"
#include "harness.h"

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

}  // namespace
}  // namespace askr::testing::worker
