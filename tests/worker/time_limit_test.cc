// max_execution_time in askr-worker, classic and worker mode: each request gets the whole limit
// from its own start however many requests came before (the worker does not disarm the timer
// after a request when it cannot fire before the next one re-arms it), and a request that runs
// past it is stopped.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "fcgi_client.h"
#include "harness.h"

namespace askr::testing::worker {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class TimeLimit : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::vector<std::string> args = {"-d", "max_execution_time=1", "-d", "display_errors=0"};
    worker_ = std::make_unique<WorkerProcess>(
        GetParam() == "worker" ? worker_mode(php_fixture("time_limit_worker.php"), args)
                               : classic_mode(args));
  }
  FcgiResponse request(FcgiConnection& c, const std::string& query) {
    c.queue_request(1, default_params(php_fixture("time_limit.php"), query), {}, true);
    return c.exchange(1);
  }
  std::unique_ptr<WorkerProcess> worker_;
};

// Many quick requests, then requests that each spin for 0.4 s of CPU time (more in all than
// the limit of 1 s, less each than it): all finish. Then one that would spin for 10 s is stopped
// after about its 1 s.
TEST_P(TimeLimit, EachRequestHasTheWholeLimitAndOneThatRunsPastItIsStopped) {
  FcgiConnection c(worker_->socket_path());
  for (int i = 0; i < 300; ++i) {
    FcgiResponse r = request(c, "");
    ASSERT_TRUE(r.ended) << i << worker_->log();
    ASSERT_EQ(r.body, "ok\n") << i;
  }
  for (int i = 0; i < 5; ++i) {
    FcgiResponse r = request(c, "spin=0.4");
    ASSERT_TRUE(r.ended) << i << worker_->log();
    EXPECT_EQ(r.body, "spun\n") << i << r.err << worker_->log();
  }
  auto start = std::chrono::steady_clock::now();
  FcgiResponse r = request(c, "spin=10");
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(contains(r.body, "spun")) << r.out;
  EXPECT_TRUE(contains(r.err + worker_->log(), "Maximum execution time of 1 second exceeded"))
      << r.err << worker_->log();
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 5.0);
}

INSTANTIATE_TEST_SUITE_P(Modes, TimeLimit, ::testing::Values("classic", "worker"));

// The time limit counts the request alone: CPU time the worker script spends in its loop
// between requests (gc_collect_cycles(), say) is no request's. A loop that works for longer than
// the limit after a quick request leaves the worker serving (PHP's timer, left running after a
// quick request to save a system call, used to run out there and end the worker with "Maximum
// execution time exceeded"), and the next request still has its whole limit.
TEST(TimeLimitLoop, WorkInTheLoopBetweenRequestsIsNotTimed) {
  WorkerProcess w(worker_mode(php_fixture("time_limit_loop_worker.php"),
                              {"-d", "max_execution_time=1", "-d", "display_errors=0"}));
  FcgiConnection c(w.socket_path());
  auto request = [&](const std::string& query) {
    c.queue_request(1, default_params(php_fixture("time_limit.php"), query), {}, true);
    return c.exchange(1);
  };
  for (const char* query : {"loop_spin=1.5", "loop_spin=0.7", "spin=0.8", "", "spin=10"}) {
    SCOPED_TRACE(query);
    FcgiResponse r = request(query);
    ASSERT_TRUE(r.ended) << w.log();
    if (std::string(query) == "spin=10") {  // still stopped past its own limit
      EXPECT_TRUE(contains(r.err + w.log(), "Maximum execution time of 1 second exceeded"));
      break;
    }
    EXPECT_EQ(r.body, query[0] == 's' ? "spun\n" : "ok\n") << r.err << w.log();
    EXPECT_FALSE(contains(r.err + w.log(), "Maximum execution time")) << r.err << w.log();
  }
}

// In worker mode $_SERVER's keys are made once and shared by every request's array: copies of
// $_SERVER that a script keeps stay whole while later requests come and go, and each request
// sees only its own variables, also once the table of names is full (800 names here, over its
// 512) and names go the general way.
TEST(ServerVarsKeys, KeptCopiesStayWholeAndEachRequestSeesItsOwn) {
  WorkerProcess w(worker_mode(php_fixture("server_vars_keep_worker.php")));
  FcgiConnection c(w.socket_path());
  std::string first;
  for (int i = 0; i < 40; ++i) {
    Params p = default_params(php_fixture("server_vars_keep_worker.php"));
    std::string now = "{";
    for (int j = 0; j < 20; ++j) {
      std::string name = "X_K" + std::to_string(i) + "_" + std::to_string(j);
      std::string value = "v" + std::to_string(i) + "_" + std::to_string(j);
      set_param(p, name, value);
      now += "\"" + name + "\":\"" + value + "\",";
    }
    set_param(p, "X_SAME", "s" + std::to_string(i));
    now += "\"X_SAME\":\"s" + std::to_string(i) + "\"}";
    if (i == 0) first = now;
    c.queue_request(1, p, {}, true);
    FcgiResponse r = c.exchange(1);
    ASSERT_TRUE(r.ended) << i << w.log();
    ASSERT_EQ(r.status, 200) << r.out;
    EXPECT_EQ(r.body, "{\"first\":" + first + ",\"now\":" + now + "}") << i;
  }
}

}  // namespace
}  // namespace askr::testing::worker
