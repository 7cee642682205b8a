// Askr's own PHP workers, supervised by askr-proxy: dispatch across loops, the bounded queue,
// request_timeout, recycling, back-off, SIGHUP, SIGTERM and SIGKILL of the proxy.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "fixture.h"
#include "php_harness.h"

namespace askr::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class AskrPool : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!ASKR_WITH_WORKER) GTEST_SKIP() << "askr-worker is not built in this configuration";
    if (skip_backend(GetParam())) GTEST_SKIP() << "io_uring is not usable here";
    copy_php_site(root());
  }
  void start(const std::string& pool, int threads = 2, const std::string& ini = "") {
    PhpProxyOptions o;
    o.backend = GetParam();
    o.threads = threads;
    o.root = root();
    o.pool_extra = pool + "[pool.ini]\noutput_buffering = \"0\"\ndisplay_errors = \"0\"\n" + ini;
    proxy_ = std::make_unique<PhpProxy>(o);
  }
  std::string root() const { return site_.path() + "/www"; }
  int port() const { return proxy_->port(); }
  PhpResponse get(const std::string& path, int timeout_ms = 10000) {
    return php_fetch(port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n", timeout_ms);
  }
  // "PID COUNT" from pid.php.
  std::pair<int, int> whoami() {
    PhpResponse r = get("/pid.php");
    EXPECT_EQ(r.status, 200) << r.body;
    int pid = 0, n = 0;
    sscanf(r.body.c_str(), "%d %d", &pid, &n);
    return {pid, n};
  }
  // Alive and not a zombie waiting for a parent to reap it.
  static bool process_exists(int pid) {
    if (pid <= 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    size_t paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
  }

  TempDir site_;
  std::unique_ptr<PhpProxy> proxy_;
};

ASKR_BOTH_BACKENDS(AskrPool);

TEST_P(AskrPool, IdleWorkerIsUsedWhateverLoopTookTheRequest) {
  start("workers = 2\nmode = \"classic\"\n");
  // One worker busy for 3 s; every quick request, on fresh connections that land on either
  // loop, must be answered by the other worker at once.
  auto busy = std::async(std::launch::async, [&] { return get("/sleep.php?s=3", 15000); });
  std::this_thread::sleep_for(milliseconds(300));
  for (int i = 0; i < 12; ++i) {
    auto t0 = Clock::now();
    EXPECT_EQ(get("/pid.php").status, 200);
    EXPECT_LT(Clock::now() - t0, milliseconds(1000)) << "request " << i << " waited";
  }
  EXPECT_EQ(busy.get().status, 200);
}

TEST_P(AskrPool, FullQueueAnd503WithRetryAfter) {
  start("workers = 1\nmode = \"classic\"\nqueue = 1\nqueue_timeout = \"30s\"\n", 1);
  auto running = std::async(std::launch::async, [&] { return get("/sleep.php?s=2", 15000); });
  std::this_thread::sleep_for(milliseconds(300));
  auto queued = std::async(std::launch::async, [&] { return get("/pid.php", 15000); });
  std::this_thread::sleep_for(milliseconds(300));
  PhpResponse over = get("/pid.php");
  EXPECT_EQ(over.status, 503);
  EXPECT_EQ(over.header("retry-after"), "1");
  EXPECT_EQ(running.get().status, 200);
  EXPECT_EQ(queued.get().status, 200);  // it waited, then ran
}

TEST_P(AskrPool, QueueTimeoutIs503) {
  start("workers = 1\nmode = \"classic\"\nqueue_timeout = \"1s\"\n", 1);
  auto running = std::async(std::launch::async, [&] { return get("/sleep.php?s=3", 15000); });
  std::this_thread::sleep_for(milliseconds(300));
  auto t0 = Clock::now();
  PhpResponse r = get("/pid.php");
  EXPECT_EQ(r.status, 503);
  EXPECT_LT(Clock::now() - t0, milliseconds(2500));
  EXPECT_EQ(running.get().status, 200);
}

TEST_P(AskrPool, RequestTimeoutKillsTheWorkerAndThePoolStaysAtStrength) {
  start("workers = 1\nmode = \"classic\"\nrequest_timeout = \"1s\"\n");
  int before = whoami().first;
  auto t0 = Clock::now();
  PhpResponse r = get("/sleep.php?s=10", 15000);
  EXPECT_EQ(r.status, 504);
  EXPECT_LT(Clock::now() - t0, milliseconds(4000));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(process_exists(before));
  auto [after, n] = whoami();  // a new worker answers
  EXPECT_NE(after, before);
  EXPECT_NE(proxy_->error_log().find("request_timeout"), std::string::npos);
}

TEST_P(AskrPool, MaxRequestsRecyclesWorkers) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() +
        "/_worker.php\"\nmax_requests = 3\n");
  std::vector<std::pair<int, int>> seen;
  for (int i = 0; i < 7; ++i) seen.push_back(whoami());
  // Worker mode keeps statics: the counter runs 1, 2, 3 in each process, then a new one starts.
  EXPECT_EQ(seen[0].first, seen[2].first);
  EXPECT_EQ(seen[2].second, 3);
  EXPECT_NE(seen[3].first, seen[2].first);
  EXPECT_EQ(seen[3].second, 1);
  EXPECT_EQ(seen[3].first, seen[5].first);
  EXPECT_NE(seen[6].first, seen[5].first);
  EXPECT_NE(proxy_->error_log().find("recycled"), std::string::npos);
}

TEST_P(AskrPool, ClientGoneMidRequestDoesNotEndTheWorker) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() + "/_worker.php\"\n");
  int before = whoami().first;
  {
    Client c(port());
    c.send("GET /slowflush.php HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(milliseconds(100));
  }  // the client hangs up while the script still runs
  std::this_thread::sleep_for(milliseconds(800));
  EXPECT_EQ(whoami().first, before) << proxy_->error_log();
}

// A worker script written for FrankenPHP, in the shape of its documentation, runs unchanged:
// $_SERVER['FRANKENPHP_WORKER'], frankenphp_request_headers(), frankenphp_response_headers(),
// headers_send(103) (the hints are not forwarded: the answer is the final one, never a 502),
// frankenphp_finish_request() and work after it.
TEST_P(AskrPool, FrankenphpWorkerScriptRunsUnchanged) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() +
        "/_frankenphp_worker.php\"\n");
  PhpResponse r = php_fetch(port(), "GET /status.php HTTP/1.1\r\nHost: x\r\nX-Probe: p1\r\n\r\n");
  ASSERT_EQ(r.status, 200) << r.body << proxy_->error_log();
  EXPECT_EQ(r.header("x-answer"), "42");
  EXPECT_EQ(r.header("link"), "</style.css>; rel=preload; as=style");
  EXPECT_NE(r.body.find(R"("boot":{"worker":"1","has_handle":true},"worker":"1","early":1)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("request":{"x-probe":"p1"},"apache":true)"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("X-Answer":"42")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("apache_response":true,"previous":[])"), std::string::npos) << r.body;
  r = php_fetch(port(), "GET /status.php HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("request":{"x-probe":null})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("previous":["terminated"])"), std::string::npos) << r.body;
}

TEST_P(AskrPool, MemoryLimitRecyclesWorkers) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() +
            "/_worker.php\"\nmemory_limit = \"96m\"\n",
        2, "memory_limit = \"512M\"\n");
  std::set<std::string> pids;
  for (int i = 0; i < 8; ++i) {
    PhpResponse r = get("/grow.php?mb=20");
    ASSERT_EQ(r.status, 200) << r.body;
    pids.insert(r.body);
  }
  // 8 x 20 MiB kept alive would be 160 MiB: the worker had to be replaced on the way.
  EXPECT_GE(pids.size(), 2u);
}

TEST_P(AskrPool, WorkerDyingAtStartupBacksOffWithALogLine) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() +
        "/_broken_worker.php\"\nqueue_timeout = \"1s\"\n");
  std::this_thread::sleep_for(milliseconds(1500));
  std::string log = proxy_->error_log();
  EXPECT_NE(log.find("after start"), std::string::npos) << log;
  EXPECT_NE(log.find("next start in"), std::string::npos) << log;
  // Backing off: far fewer attempts than a tight loop would make in 1.5 s.
  size_t attempts = 0;
  for (size_t at = 0; (at = log.find("after start", at)) != std::string::npos; ++at) ++attempts;
  EXPECT_LE(attempts, 3u) << log;
  EXPECT_EQ(get("/pid.php").status, 503);  // waited for a worker that never came
  EXPECT_TRUE(proxy_->alive());
}

TEST_P(AskrPool, SighupRollsWorkersWithoutFailingRequests) {
  start("workers = 2\nmode = \"classic\"\n");
  std::set<int> before;
  for (int i = 0; i < 6; ++i) before.insert(whoami().first);
  auto slow = std::async(std::launch::async, [&] { return get("/sleep.php?s=2", 15000); });
  std::this_thread::sleep_for(milliseconds(300));
  kill(proxy_->pid(), SIGHUP);
  int failures = 0;
  std::set<int> after;
  for (int i = 0; i < 40; ++i) {
    PhpResponse r = get("/pid.php");
    if (r.status != 200) ++failures;
    int pid = 0;
    sscanf(r.body.c_str(), "%d", &pid);
    after.insert(pid);
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(slow.get().status, 200);  // the old worker finished its request
  std::this_thread::sleep_for(milliseconds(500));
  for (int pid : before) EXPECT_FALSE(process_exists(pid)) << pid << " outlived the roll";
  for (int pid : before) after.erase(pid);
  EXPECT_FALSE(after.empty());
}

TEST_P(AskrPool, SigtermStopsTheWorkers) {
  start("workers = 2\nmode = \"classic\"\n");
  std::set<int> pids;
  for (int i = 0; i < 6; ++i) pids.insert(whoami().first);
  EXPECT_EQ(proxy_->stop(), 0);
  for (int pid : pids) EXPECT_FALSE(process_exists(pid)) << pid;
}

TEST_P(AskrPool, NoWorkerOutlivesAKilledProxy) {
  start("workers = 3\nmode = \"worker\"\nworker_script = \"" + root() + "/_worker.php\"\n");
  std::set<int> pids;
  for (int i = 0; i < 9; ++i) pids.insert(whoami().first);
  ASSERT_FALSE(pids.empty());
  kill(proxy_->pid(), SIGKILL);
  std::this_thread::sleep_for(milliseconds(1000));
  for (int pid : pids) EXPECT_FALSE(process_exists(pid)) << pid << " outlived askr-proxy";
}

}  // namespace
}  // namespace askr::testing
