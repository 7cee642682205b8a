// Askr's own PHP workers, supervised by askr-proxy: dispatch across loops, the bounded queue,
// request_timeout, recycling, back-off, SIGHUP, SIGTERM and SIGKILL of the proxy, and the pool
// zygote the workers are forked from (one OPcache per pool, warm replacements).
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <sstream>
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
  // A client asks for /pidsleep.php?s=SECONDS (its pid written to site_.path() + "/marks") and
  // hangs up once the script runs: the pid of the worker running it, 0 if none did within 2 s.
  int leave_a_sleeping_script(int seconds) {
    std::string marks = site_.path() + "/marks";
    Client c(port());
    c.send("GET /pidsleep.php?s=" + std::to_string(seconds) + "&f=" + marks +
           " HTTP/1.1\r\nHost: x\r\n\r\n");
    int busy = 0;
    for (int i = 0; i < 100 && busy == 0; ++i) {
      std::this_thread::sleep_for(milliseconds(20));
      std::ifstream in(marks);
      in >> busy;
    }
    return busy;
  }
  // "PID COUNT" from pid.php.
  std::pair<int, int> whoami() {
    PhpResponse r = get("/pid.php");
    EXPECT_EQ(r.status, 200) << r.body;
    int pid = 0, n = 0;
    sscanf(r.body.c_str(), "%d %d", &pid, &n);
    return {pid, n};
  }
  // askr-proxy's children: its workers and the pool's zygote.
  std::set<int> proxy_children() {
    std::set<int> children;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(proxy_->pid()) + "/task")) {
      std::ifstream in(task.path() / "children");
      for (int pid; in >> pid;) children.insert(pid);
    }
    return children;
  }
  // The first line of pid.php, opcache_hits.php or random.php, split at spaces.
  static std::vector<std::string> fields(const PhpResponse& r) {
    std::vector<std::string> out;
    std::istringstream in(r.body.substr(0, r.body.find('\n')));
    for (std::string f; in >> f;) out.push_back(f);
    return out;
  }
  // Two requests for `path` at once, each holding its worker a second: one per worker of a
  // two-worker pool.
  std::pair<PhpResponse, PhpResponse> on_both_workers(const std::string& path) {
    std::string held = path + (path.find('?') == std::string::npos ? "?" : "&") + "sleep=1";
    auto a = std::async(std::launch::async, [&] { return get(held); });
    auto b = std::async(std::launch::async, [&] { return get(held); });
    return {a.get(), b.get()};
  }
  // Requests during a SIGHUP, from three clients at once, one request running on an old worker
  // all along: none fails, and the pool is served by new workers afterwards.
  void expect_roll_fails_nothing() {
    std::set<int> before;
    for (int i = 0; i < 6; ++i) before.insert(whoami().first);
    auto slow = std::async(std::launch::async, [&] { return get("/sleep.php?s=2", 15000); });
    std::this_thread::sleep_for(milliseconds(300));
    kill(proxy_->pid(), SIGHUP);
    // Three clients at once, over the roll and past it.
    auto client = [&] {
      std::pair<int, std::set<int>> failures_and_pids;
      for (int i = 0; i < 60; ++i) {
        PhpResponse r = get("/pid.php");
        if (r.status != 200) ++failures_and_pids.first;
        int pid = 0;
        sscanf(r.body.c_str(), "%d", &pid);
        failures_and_pids.second.insert(pid);
        std::this_thread::sleep_for(milliseconds(30));
      }
      return failures_and_pids;
    };
    std::vector<std::future<std::pair<int, std::set<int>>>> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(std::async(std::launch::async, client));
    int failures = 0;
    std::set<int> after;
    for (auto& c : clients) {
      auto [failed, pids] = c.get();
      failures += failed;
      after.insert(pids.begin(), pids.end());
    }
    EXPECT_EQ(failures, 0) << proxy_->error_log();
    EXPECT_EQ(slow.get().status, 200);  // the old worker finished its request
    for (int pid : before) EXPECT_TRUE(gone_within(pid)) << pid << " outlived the roll";
    for (int pid : before) after.erase(pid);
    EXPECT_FALSE(after.empty());
  }
  // The pids of a two-worker pool's workers.
  std::set<int> both_workers() {
    auto [a, b] = on_both_workers("/random.php");
    return {std::stoi(fields(a).at(0)), std::stoi(fields(b).at(0))};
  }
  // The error log once it has `what` in it, or after 15 s.
  std::string wait_for_log(const std::string& what) {
    std::string log;
    for (auto until = Clock::now() + std::chrono::seconds(15); Clock::now() < until;) {
      log = proxy_->error_log();
      if (log.find(what) != std::string::npos) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return log;
  }
  // After a SIGHUP that was given up: the running workers, and only they, answer.
  void expect_served_by(const std::set<int>& workers) {
    for (int i = 0; i < 10; ++i) {
      PhpResponse r = get("/pid.php");
      ASSERT_EQ(r.status, 200) << r.body << proxy_->error_log();
      int pid = 0;
      sscanf(r.body.c_str(), "%d", &pid);
      EXPECT_TRUE(workers.count(pid)) << pid << " is not one of the running workers";
    }
  }
  // After a SIGHUP that rolls the pool: a new worker answers, and the old ones end.
  void expect_rolled(const std::set<int>& old) {
    int pid = *old.begin();
    for (auto until = Clock::now() + std::chrono::seconds(10);
         old.count(pid) && Clock::now() < until;) {
      std::this_thread::sleep_for(milliseconds(50));
      pid = whoami().first;
    }
    EXPECT_FALSE(old.count(pid)) << "the pool did not roll";
    for (int before : old) EXPECT_TRUE(gone_within(before)) << before << " outlived the roll";
  }
  // OPcache caches files as soon as they are written (the site is copied just before a test).
  static constexpr const char* kOpcacheIni = "\"opcache.file_update_protection\" = \"0\"\n";

  // Whether process `pid` has a signal pending, not yet taken (/proc/PID/status).
  static bool signal_pending(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
      if ((line.starts_with("SigPnd:") || line.starts_with("ShdPnd:")) &&
          line.find_first_not_of("0\t ", 7) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  // A request for flockwait.php holding its worker on a lock the test holds. When
  // hold_a_worker() returns, the request has reached the worker; closing `lock` lets it end.
  struct HeldWorker {
    int lock = -1;
    int pid = 0;  // the worker's, as flockwait.php wrote it
    std::future<PhpResponse> response;
  };
  void hold_a_worker(HeldWorker* held) {
    std::string lock_path = site_.path() + "/lock", started = site_.path() + "/started";
    held->lock = hold_lock(lock_path);
    ASSERT_GE(held->lock, 0);
    held->response = std::async(std::launch::async, [this, lock_path, started] {
      return get("/flockwait.php?f=" + lock_path + "&started=" + started, 30000);
    });
    ASSERT_TRUE(wait_for_lines(started, 1)) << "the request did not reach the worker";
    held->pid = std::atoi(read_file(started).c_str());
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
  // True once the process is gone (or a zombie), within timeout_ms.
  static bool gone_within(int pid, int timeout_ms = 5000) {
    for (auto until = Clock::now() + milliseconds(timeout_ms); process_exists(pid);) {
      if (Clock::now() >= until) return false;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return true;
  }

  // In a child process acting as uid 65534 (all of it, or its effective uid alone with root's
  // file access kept through the fs uid): connects to the Unix socket `path`, sends a FastCGI
  // request for peer_marker.php and says what happened.
  std::string connect_as_other_user(const std::string& path, bool keep_file_access) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return "pipe failed";
    pid_t pid = fork();
    if (pid == 0) {
      close(pipefd[0]);
      auto say = [&](const std::string& what) {
        [[maybe_unused]] ssize_t n = write(pipefd[1], what.data(), what.size());
        _exit(0);
      };
      if (keep_file_access) {
        if (setresuid(0, 65534, 0) != 0) say("setresuid failed");
        setfsuid(0);
      } else if (setresuid(65534, 65534, 65534) != 0) {
        say("setresuid failed");
      }
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::memcpy(addr.sun_path, path.data(), path.size());
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        say(std::string("connect: ") + strerror(errno));
      std::string req = fcgi_request(root() + "/peer_marker.php");
      [[maybe_unused]] ssize_t sent = send(fd, req.data(), req.size(), MSG_NOSIGNAL);
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[256];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      say(n > 0 ? "answered" : n == 0 || errno == ECONNRESET ? "closed unanswered" : "timed out");
    }
    close(pipefd[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    close(pipefd[0]);
    waitpid(pid, nullptr, 0);
    return out;
  }

  // BEGIN_REQUEST, PARAMS (SCRIPT_FILENAME, REQUEST_METHOD), their end, an empty STDIN.
  static std::string fcgi_request(const std::string& script) {
    auto record = [](uint8_t type, std::string_view content) {
      std::string r = {1, char(type), 0, 1, char(content.size() >> 8), char(content.size() & 0xff),
                       0, 0};
      return r + std::string(content);
    };
    auto pair = [](std::string_view name, std::string_view value) {
      return std::string{char(name.size()), char(value.size())} + std::string(name) +
             std::string(value);
    };
    std::string params = pair("SCRIPT_FILENAME", script) + pair("REQUEST_METHOD", "GET");
    return record(1, std::string{0, 1, 0, 0, 0, 0, 0, 0}) + record(4, params) + record(4, "") +
           record(5, "");
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

// "PID N" from conn.php: the worker, and how many requests its connection has carried.
std::pair<int, int> conn_info(const PhpResponse& r) {
  int pid = 0, n = 0;
  sscanf(r.body.c_str(), "%d %d", &pid, &n);
  return {pid, n};
}

// One loop, one worker: every request goes over the one connection the loop keeps to it.
TEST_P(AskrPool, OneLoopKeepsOneConnectionToAWorker) {
  start("workers = 1\nmode = \"classic\"\n", 1);
  std::pair<int, int> first, last;
  for (int i = 1; i <= 30; ++i) {
    PhpResponse r = get("/conn.php");
    ASSERT_EQ(r.status, 200) << r.body;
    last = conn_info(r);
    if (i == 1) first = last;
  }
  EXPECT_EQ(last.first, first.first);
  EXPECT_EQ(last.second, first.second + 29) << "the connection was not reused";
}

// Under load, with requests queued for the workers, each request's answer often comes back
// before its send is reported complete (the epoll backend reports sends after the reads of the
// same round): the connection is kept all the same. One loop keeps one connection per worker,
// so the requests each connection carried add up to all the requests.
TEST_P(AskrPool, ConnectionsAreKeptUnderConcurrentLoad) {
  start("workers = 2\nmode = \"worker\"\nworker_script = \"" + root() + "/_worker.php\"\n", 1);
  constexpr int kClients = 32, kEach = 50;
  std::vector<std::future<std::map<int, int>>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&] {
      std::map<int, int> most;  // by worker: the most requests its connection had carried
      for (int i = 0; i < kEach; ++i) {
        PhpResponse r = get("/conn.php");
        if (r.status != 200) return std::map<int, int>{{-1, r.status}};
        auto [pid, n] = conn_info(r);
        most[pid] = std::max(most[pid], n);
      }
      return most;
    }));
  }
  std::map<int, int> most;
  for (auto& c : clients) {
    for (auto [pid, n] : c.get()) most[pid] = std::max(most[pid], n);
  }
  ASSERT_EQ(most.count(-1), 0u) << "a request failed with " << most[-1];
  int carried = 0;
  for (auto [pid, n] : most) carried += n;
  EXPECT_LE(most.size(), 2u);
  EXPECT_GE(carried, kClients * kEach) << "connections were closed and opened again";
}

// Requests that wait for a worker are served in the order they arrived, whatever loop took
// them: a loop whose own queue never empties does not keep its workers from the others. With
// three loops, two workers and clients on every loop that each send their next request as soon
// as the last is answered, every client makes steady progress and none waits for long.
TEST_P(AskrPool, WaitingRequestsOfEveryLoopAreServedInTurn) {
  start("workers = 2\nmode = \"classic\"\n", 3);
  constexpr int kClients = 18;
  const auto run_for = milliseconds(3000);
  struct Progress {
    int done = 0;
    int64_t longest_ms = 0;
    int failed_status = 0;
  };
  std::vector<std::future<Progress>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&] {
      Progress p;
      Client conn(port());
      auto end = Clock::now() + run_for;
      while (Clock::now() < end) {
        auto t0 = Clock::now();
        conn.send("GET /sleep.php?ms=10 HTTP/1.1\r\nHost: x\r\n\r\n");
        PhpResponse r = conn.read(false, 20000);
        if (!r.ok || r.status != 200) {
          p.failed_status = r.ok ? r.status : -1;
          break;
        }
        ++p.done;
        p.longest_ms = std::max<int64_t>(
            p.longest_ms, std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count());
      }
      return p;
    }));
  }
  int total = 0;
  for (int c = 0; c < kClients; ++c) {
    Progress p = clients[size_t(c)].get();
    EXPECT_EQ(p.failed_status, 0) << "client " << c;
    // In turn, each request waits for about kClients / 2 others of 10 ms: some 100 ms.
    EXPECT_GE(p.done, 4) << "client " << c << " starved";
    EXPECT_LT(p.longest_ms, 1500) << "client " << c << " waited";
    total += p.done;
  }
  EXPECT_GT(total, 100);
}

// Kept connections pin no worker to a loop: with one worker busy, each loop's next requests go
// to the other worker at once, over connections that each loop keeps.
TEST_P(AskrPool, KeptConnectionsPinNoWorkerToALoop) {
  start("workers = 2\nmode = \"classic\"\n");
  for (int i = 0; i < 20; ++i) ASSERT_EQ(get("/conn.php").status, 200);
  std::string marks = site_.path() + "/marks";
  auto busy =
      std::async(std::launch::async, [&] { return get("/pidsleep.php?s=3&f=" + marks, 15000); });
  std::this_thread::sleep_for(milliseconds(300));
  int max_reuse = 0;
  std::set<int> quick;
  for (int i = 0; i < 12; ++i) {
    auto t0 = Clock::now();
    PhpResponse r = get("/conn.php");
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(Clock::now() - t0, milliseconds(1000)) << "request " << i << " waited";
    quick.insert(conn_info(r).first);
    max_reuse = std::max(max_reuse, conn_info(r).second);
  }
  PhpResponse slow = busy.get();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(quick.size(), 1u);
  EXPECT_EQ(quick.count(std::atoi(slow.body.c_str())), 0u) << "a quick request waited";
  EXPECT_GT(max_reuse, 5) << "connections were not kept";
}

// A worker killed while idle: the loops' connections to it end, the next requests go to the
// slot's replacement, and connections to the other worker are kept as they were.
TEST_P(AskrPool, KeptConnectionsSurviveAWorkerKilledWhileIdle) {
  start("workers = 2\nmode = \"classic\"\n");
  std::map<int, int> seen;  // pid -> highest connection count
  for (int i = 0; i < 20; ++i) {
    auto [pid, n] = conn_info(get("/conn.php"));
    seen[pid] = std::max(seen[pid], n);
  }
  int victim = seen.begin()->first;
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  std::this_thread::sleep_for(milliseconds(300));
  int most = 0;
  for (int i = 0; i < 20; ++i) {
    PhpResponse r = get("/conn.php");
    EXPECT_EQ(r.status, 200) << "request " << i << " after the kill";
    auto [pid, n] = conn_info(r);
    EXPECT_NE(pid, victim);
    most = std::max(most, n);
    if (seen.count(pid)) {
      EXPECT_GT(n, seen[pid]) << "a kept connection was lost";
    }
  }
  EXPECT_FALSE(process_exists(victim));
  // Two loops, 20 requests: the connections made after the kill are kept too.
  EXPECT_GE(most, 10);
}

// A worker killed mid-request costs that request alone (502, and it does not run again on
// another worker), the requests after it succeed, and the pool is back to two workers.
TEST_P(AskrPool, WorkerKilledMidRequestCostsThatRequestOnly) {
  start("workers = 2\nmode = \"classic\"\n");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(get("/conn.php").status, 200);
  std::string marks = site_.path() + "/marks";
  auto doomed =
      std::async(std::launch::async, [&] { return get("/pidsleep.php?s=3&f=" + marks, 15000); });
  int victim = 0;
  for (int i = 0; i < 100 && victim == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    std::ifstream in(marks);
    in >> victim;
  }
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  EXPECT_EQ(doomed.get().status, 502);
  EXPECT_NE(proxy_->error_log().find("prematurely, client: 127.0.0.1, request: \"GET "
                                     "/pidsleep.php?s=3&f=" +
                                     marks + " HTTP/1.1\""),
            std::string::npos)
      << proxy_->error_log();
  int most = 0;
  for (int i = 0; i < 20; ++i) {
    PhpResponse r = get("/conn.php");
    EXPECT_EQ(r.status, 200) << i;
    most = std::max(most, conn_info(r).second);
  }
  EXPECT_GE(most, 10) << "connections are not kept after the kill";
  std::this_thread::sleep_for(milliseconds(300));
  std::ifstream in(marks);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, std::to_string(victim) + "\n") << "the killed request ran again";
  // Back to strength: with one worker busy, another answers at once.
  auto busy = std::async(std::launch::async,
                         [&] { return get("/pidsleep.php?s=2&f=" + marks + "2", 15000); });
  std::this_thread::sleep_for(milliseconds(300));
  auto t0 = Clock::now();
  EXPECT_EQ(get("/conn.php").status, 200);
  EXPECT_LT(Clock::now() - t0, milliseconds(1000));
  EXPECT_EQ(busy.get().status, 200);
}

TEST_P(AskrPool, FullQueueAnd503WithRetryAfter) {
  start("workers = 1\nmode = \"classic\"\nqueue = 1\nqueue_timeout = \"30s\"\n", 1);
  HeldWorker held;
  ASSERT_NO_FATAL_FAILURE(hold_a_worker(&held));
  PhpResponse over;
  auto queued = queue_one(port(), "GET /pid.php HTTP/1.1\r\nHost: x\r\n\r\n", &over);
  close(held.lock);  // the first request ends, the queued one runs
  EXPECT_EQ(over.status, 503);
  EXPECT_EQ(over.header("retry-after"), "1");
  EXPECT_EQ(held.response.get().status, 200);
  EXPECT_EQ(queued.get().status, 200);  // it waited, then ran
}

TEST_P(AskrPool, QueueTimeoutIs503) {
  start("workers = 1\nmode = \"classic\"\nqueue_timeout = \"1s\"\n", 1);
  HeldWorker held;
  ASSERT_NO_FATAL_FAILURE(hold_a_worker(&held));
  auto t0 = Clock::now();
  PhpResponse r = get("/pid.php");
  EXPECT_EQ(r.status, 503);
  EXPECT_LT(Clock::now() - t0, milliseconds(2500));
  close(held.lock);
  EXPECT_EQ(held.response.get().status, 200);
}

TEST_P(AskrPool, RequestTimeoutKillsTheWorkerAndThePoolStaysAtStrength) {
  start("workers = 1\nmode = \"classic\"\nrequest_timeout = \"1s\"\n");
  int before = whoami().first;
  auto t0 = Clock::now();
  PhpResponse r = get("/sleep.php?s=10", 15000);
  EXPECT_EQ(r.status, 504);
  EXPECT_LT(Clock::now() - t0, milliseconds(4000));
  EXPECT_TRUE(gone_within(before));
  auto [after, n] = whoami();  // a new worker answers
  EXPECT_NE(after, before);
  // The line names the request, as nginx's "upstream timed out" does.
  EXPECT_NE(proxy_->error_log().find(
                "pool fpm: request_timeout, client: 127.0.0.1, request: \"GET /sleep.php?s=10 "
                "HTTP/1.1\", host: \"x\""),
            std::string::npos)
      << proxy_->error_log();
}

// A script that runs past request_timeout after it has answered (fastcgi_finish_request()) has
// its worker killed too; the line names its request, as php-fpm's "execution timed out" names
// the script, though no client waits for it any more.
TEST_P(AskrPool, RequestTimeoutAfterTheAnswerNamesTheRequest) {
  start("workers = 1\nmode = \"classic\"\nrequest_timeout = \"1s\"\n");
  PhpResponse r = get("/finish.php?s=10");
  ASSERT_EQ(r.status, 200);
  int busy = atoi(r.body.c_str());
  ASSERT_GT(busy, 0) << r.body;
  EXPECT_TRUE(gone_within(busy));
  EXPECT_NE(proxy_->error_log().find("pool fpm: request_timeout after its answer, client: "
                                     "127.0.0.1, request: \"GET /finish.php?s=10 HTTP/1.1\", "
                                     "host: \"x\""),
            std::string::npos)
      << proxy_->error_log();
}

// So does one whose client left while it ran (the script goes on until it writes).
TEST_P(AskrPool, RequestTimeoutAfterTheClientLeftNamesTheRequest) {
  start("workers = 1\nmode = \"classic\"\nrequest_timeout = \"1s\"\n");
  std::string marks = site_.path() + "/marks";
  int busy = leave_a_sleeping_script(10);
  ASSERT_GT(busy, 0);
  EXPECT_TRUE(gone_within(busy));
  EXPECT_NE(proxy_->error_log().find("pool fpm: request_timeout after its client left, client: "
                                     "127.0.0.1, request: \"GET /pidsleep.php?s=10&f=" +
                                     marks + " HTTP/1.1\", host: \"x\""),
            std::string::npos)
      << proxy_->error_log();
}

// request_timeout bounds the whole request, not the wait between two reads: a script that keeps
// writing is stopped as well, its worker killed and replaced, and its cut response never looks
// complete.
TEST_P(AskrPool, RequestTimeoutStopsAScriptThatKeepsWriting) {
  start("workers = 1\nmode = \"classic\"\nrequest_timeout = \"1s\"\n");
  int before = whoami().first;
  auto t0 = Clock::now();
  Client c(port());
  c.send("GET /trickle.php HTTP/1.1\r\nHost: x\r\n\r\n");
  PhpResponse r = c.read(false, 15000);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.ok) << "a cut response must not look complete";
  EXPECT_EQ(r.body.find("done"), std::string::npos);
  EXPECT_TRUE(r.closed || c.wait_closed(5000));
  EXPECT_LT(Clock::now() - t0, milliseconds(5000));
  EXPECT_TRUE(gone_within(before));
  EXPECT_NE(whoami().first, before);  // a new worker answers
  EXPECT_NE(proxy_->error_log().find("request_timeout"), std::string::npos);
}

// Time spent waiting on a slow client is the client's: a large response that a client reads
// only after more than request_timeout arrives whole, copied (chunked) or spliced (its length
// known). The limit leaves room for the transfer itself on a busy machine: only the wait must
// not count.
TEST_P(AskrPool, RequestTimeoutDoesNotCountTheWaitOnASlowClient) {
  start("workers = 1\nmode = \"classic\"\nrequest_timeout = \"3s\"\n");
  for (const char* path : {"/big.php?mb=20", "/big.php?mb=20&cl=1"}) {
    SCOPED_TRACE(path);
    Client slow(port(), Client::Reads::kSlowly);
    slow.send("GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(milliseconds(4000));  // the client does not read
    PhpResponse big = slow.read(false, 60000);
    EXPECT_TRUE(big.ok);
    EXPECT_EQ(big.body.size(), size_t(20) << 20);
  }
  EXPECT_EQ(proxy_->error_log().find("request_timeout"), std::string::npos) << proxy_->error_log();
}

// Nor a slow upload: a body large enough to be spliced to the worker, sent over longer than
// request_timeout, reaches PHP whole (the clock starts once PHP has all of it). It used to be cut
// by a 504 and the worker killed, the link's timer running while the body waited on the client.
TEST_P(AskrPool, RequestTimeoutDoesNotCountASlowUpload) {
  start("workers = 1\nmode = \"classic\"\nrequest_timeout = \"1s\"\n");
  const size_t piece = 100 * 1024, pieces = 5;  // above splice_threshold (64k)
  Client slow(port());
  slow.send(
      "POST /body.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: " +
      std::to_string(piece * pieces) + "\r\n\r\n");
  for (size_t i = 0; i < pieces; ++i) {
    std::this_thread::sleep_for(milliseconds(500));
    slow.send(std::string(piece, 'b'));
  }
  PhpResponse r = slow.read(false, 10000);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"length\":" + std::to_string(piece * pieces)), std::string::npos)
      << r.body;
  EXPECT_EQ(proxy_->error_log().find("request_timeout"), std::string::npos) << proxy_->error_log();
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

// A worker that reached max_requests is not free while its script shuts down after the loop:
// the next request goes to the idle worker at once, instead of to the retiring one's kept
// connection, where it would wait for that script to end and for the replacement.
TEST_P(AskrPool, RetiringWorkerIsNotSentRequestsWhileItsScriptEnds) {
  start("workers = 2\nmode = \"worker\"\nworker_script = \"" + root() +
            "/_retire_worker.php\"\nmax_requests = 2\n",
        1);
  // Two requests at once: both workers are up, each has served one.
  auto a = std::async(std::launch::async, [&] { return get("/conn.php?ms=300"); });
  PhpResponse b = get("/conn.php?ms=300");
  ASSERT_NE(conn_info(a.get()).first, conn_info(b).first);
  PhpResponse last = get("/conn.php");  // one worker's second: it retires
  ASSERT_EQ(last.status, 200);
  auto t0 = Clock::now();
  PhpResponse r = get("/conn.php");
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(Clock::now() - t0, milliseconds(2000)) << "waited for the retiring worker";
  EXPECT_NE(conn_info(r).first, conn_info(last).first);
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

// A client that hangs up leaves its worker busy until the script ends: meanwhile requests go to
// the other worker instead of waiting behind it, and afterwards the busy one serves again on
// the same connection.
TEST_P(AskrPool, ClientGoneLeavesItsWorkerBusyUntilTheScriptEnds) {
  start("workers = 2\nmode = \"classic\"\n", 1);
  // Two requests at once: both workers are up, and the next request takes the first slot.
  auto both = [&] {
    auto a = std::async(std::launch::async, [&] { return get("/conn.php?ms=300"); });
    PhpResponse b = get("/conn.php?ms=300");
    return std::map<int, int>{conn_info(a.get()), conn_info(b)};
  };
  ASSERT_EQ(both().size(), 2u);
  int busy = leave_a_sleeping_script(2);
  ASSERT_GT(busy, 0);
  std::this_thread::sleep_for(milliseconds(100));
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    PhpResponse r = get("/conn.php");
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(Clock::now() - t0, milliseconds(1000)) << "request " << i << " waited";
    EXPECT_NE(conn_info(r).first, busy);
  }
  // Once the script is over, the worker serves again, on the connection that carried the
  // abandoned request (its third).
  std::this_thread::sleep_for(milliseconds(2200));
  std::map<int, int> after = both();
  ASSERT_EQ(after.count(busy), 1u);
  EXPECT_EQ(after[busy], 3);
}

// A POST whose client leaves while the request waits for a worker, its body cut short, never
// reaches PHP: its body could only arrive cut (nginx, which reads a body before it asks
// php-fpm, never runs such a request). Streamed and spliced bodies alike; the requests after it
// are served as usual.
TEST_P(AskrPool, QueuedRequestWhoseClientLeftWithItsBodyCutIsNotRun) {
  start("workers = 1\nmode = \"classic\"\n", 1);
  std::string busy = site_.path() + "/busy", marks = site_.path() + "/marks";
  auto held = std::async(std::launch::async, [&] { return get("/pidsleep.php?s=2&f=" + busy); });
  for (int i = 0; i < 100 && !std::filesystem::exists(busy); ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(busy));  // the only worker sleeps: what follows queues
  for (size_t length : {size_t(50000), size_t(200000)}) {  // below and above splice_threshold
    Client c(port());
    c.send("POST /pidsleep.php?s=0&f=" + marks +
           " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
           "Content-Length: " +
           std::to_string(length) + "\r\n\r\n" + std::string(1000, 'x'));
    std::this_thread::sleep_for(milliseconds(100));
  }  // each client hangs up with 1,000 of its bytes sent
  EXPECT_EQ(held.get().status, 200);
  EXPECT_EQ(get("/pid.php").status, 200);  // served after the two that were given up
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(std::filesystem::exists(marks)) << "a request with a cut body ran";
  proxy_->stop();
  EXPECT_NE(proxy_->error_log().find("the client left while the request waited for a worker"),
            std::string::npos)
      << proxy_->error_log();
}

// fastcgi_finish_request() answers the client at once, and the script goes on: its worker stays
// busy until the script ends, so the pool's next requests go to the idle worker instead of
// waiting behind it (php-fpm gives them to another child). In both modes.
TEST_P(AskrPool, FinishedRequestLeavesItsWorkerBusyUntilTheScriptEnds) {
  for (const char* mode : {"classic", "worker"}) {
    SCOPED_TRACE(mode);
    std::string script = "worker_script = \"" + root() + "/_worker.php\"\n";
    start("workers = 2\nmode = \"" + std::string(mode) + "\"\n" + (mode[0] == 'w' ? script : ""),
          1);
    // Two requests at once: both workers are up.
    auto a = std::async(std::launch::async, [&] { return get("/conn.php?ms=300"); });
    PhpResponse b = get("/conn.php?ms=300");
    ASSERT_NE(conn_info(a.get()).first, conn_info(b).first);
    auto t0 = Clock::now();
    PhpResponse f = get("/finish.php?s=3");
    ASSERT_EQ(f.status, 200) << proxy_->error_log();
    EXPECT_LT(Clock::now() - t0, milliseconds(2000)) << "the answer waited for the script";
    int busy = atoi(f.body.c_str());
    ASSERT_GT(busy, 0) << f.body;
    for (int i = 0; i < 4; ++i) {
      auto t1 = Clock::now();
      PhpResponse r = get("/conn.php");
      EXPECT_EQ(r.status, 200);
      EXPECT_LT(Clock::now() - t1, milliseconds(1500)) << "request " << i << " waited";
      EXPECT_NE(conn_info(r).first, busy) << "request " << i;
    }
    proxy_.reset();
  }
}

// Work a worker script does in its loop after askr_handle_request() returns keeps that worker
// busy: the pool's next requests go to the idle worker instead of waiting behind it.
TEST_P(AskrPool, WorkAfterHandleRequestLeavesItsWorkerBusy) {
  start("workers = 2\nmode = \"worker\"\nworker_script = \"" + root() + "/_after_worker.php\"\n",
        1);
  auto a = std::async(std::launch::async, [&] { return get("/conn.php?ms=300"); });
  PhpResponse b = get("/conn.php?ms=300");
  ASSERT_NE(conn_info(a.get()).first, conn_info(b).first);
  PhpResponse f = get("/conn.php?after=3");
  ASSERT_EQ(f.status, 200) << proxy_->error_log();
  int busy = conn_info(f).first;
  for (int i = 0; i < 4; ++i) {
    auto t0 = Clock::now();
    PhpResponse r = get("/conn.php");
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(Clock::now() - t0, milliseconds(1500)) << "request " << i << " waited";
    EXPECT_NE(conn_info(r).first, busy) << "request " << i;
  }
}

// With no queue (queue = 0), a request that finds the only worker done with its answer but still
// in its loop (its END_REQUEST comes when the script asks for the next request) waits for it
// instead of getting 503 from an idle pool: sequential keep-alive requests all get 200. That
// wait is bounded (about a second, whatever the loop does), and a worker busy with a request
// still means 503 at once.
TEST_P(AskrPool, NoQueueWaitsForAWorkerThatHasAnswered) {
  start("workers = 1\nqueue = 0\nmode = \"worker\"\nworker_script = \"" + root() +
            "/_after_worker.php\"\n",
        1);
  PhpResponse first;  // 503 until the worker is up
  for (auto until = Clock::now() + milliseconds(20000); Clock::now() < until;) {
    first = get("/conn.php");
    if (first.status == 200) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(first.status, 200) << proxy_->error_log();
  int pid = conn_info(first).first;
  auto request = [](const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  };
  {
    Client c(port());
    for (int i = 0; i < 200; ++i) {  // an empty loop: the window is microseconds
      c.send(request("/conn.php"));
      PhpResponse r = c.read();
      ASSERT_EQ(r.status, 200) << "request " << i << "\n" << proxy_->error_log();
    }
    c.send(request("/conn.php?after_ms=300"));  // the loop sleeps 300 ms after this answer
    ASSERT_EQ(c.read().status, 200);
    c.send(request("/conn.php"));
    PhpResponse r = c.read(false, 20000);
    EXPECT_EQ(r.status, 200) << proxy_->error_log();
    EXPECT_EQ(conn_info(r).first, pid);
  }
  ASSERT_EQ(get("/conn.php?after=5").status, 200);  // a loop that outlasts the wait
  auto t0 = Clock::now();
  PhpResponse late = get("/conn.php", 20000);
  EXPECT_EQ(late.status, 503);
  EXPECT_LT(Clock::now() - t0, milliseconds(4000)) << "waited for the whole loop";
  for (auto until = Clock::now() + milliseconds(20000); Clock::now() < until;) {
    if (get("/conn.php").status == 200) break;  // the loop is over
  }
  std::string lock_path = site_.path() + "/lock", started = site_.path() + "/started";
  int fd = hold_lock(lock_path);
  ASSERT_GE(fd, 0);
  auto running = std::async(std::launch::async, [&] {
    return get("/flockwait.php?f=" + lock_path + "&started=" + started, 30000);
  });
  ASSERT_TRUE(wait_for_lines(started, 1)) << "the request did not reach the worker";
  t0 = Clock::now();
  EXPECT_EQ(get("/conn.php").status, 503);
  EXPECT_LT(Clock::now() - t0, milliseconds(800)) << "waited for a worker busy with a request";
  close(fd);
  EXPECT_EQ(running.get().status, 200);
}

// A worker script written for FrankenPHP, in the shape of its documentation, runs unchanged:
// $_SERVER['FRANKENPHP_WORKER'], frankenphp_request_headers(), frankenphp_response_headers(),
// headers_send(103) (the hints are not forwarded: the answer is the final one, never a 502),
// frankenphp_finish_request() and work after it.
TEST_P(AskrPool, FrankenphpWorkerScriptRunsUnchanged) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() +
        "/_frankenphp_worker.php\"\n");
  Client c(port());
  c.send("GET /status.php HTTP/1.1\r\nHost: x\r\nX-Probe: p1\r\nConnection: close\r\n\r\n");
  PhpResponse hints = c.read();
  EXPECT_EQ(hints.status, 103) << hints.status_line;
  EXPECT_EQ(hints.header("link"), "</style.css>; rel=preload; as=style");
  PhpResponse r = c.read();
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
  Client again(port());
  again.send("GET /status.php HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(again.read().status, 103);
  r = again.read();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("request":{"x-probe":null})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("previous":["terminated"])"), std::string::npos) << r.body;
}

// headers_send(103) in classic and worker mode: each call is an interim 103 response with the
// headers set so far, before the final one (which keeps them); an HTTP/1.0 client gets none.
TEST_P(AskrPool, EarlyHintsGoOutBeforeTheFinalResponse) {
  for (const char* mode : {"classic", "worker"}) {
    SCOPED_TRACE(mode);
    std::string script = "worker_script = \"" + root() + "/_worker.php\"\n";
    start("workers = 1\nmode = \"" + std::string(mode) + "\"\n" + (mode[0] == 'w' ? script : ""));
    Client c(port());
    c.send("GET /early_hints.php HTTP/1.1\r\nHost: x\r\n\r\n");
    PhpResponse first = c.read();
    ASSERT_EQ(first.status, 103) << first.status_line << proxy_->error_log();
    EXPECT_EQ(first.all("link"), std::vector<std::string>{"</style.css>; rel=preload; as=style"});
    PhpResponse second = c.read();
    ASSERT_EQ(second.status, 103) << second.status_line;
    EXPECT_EQ(second.all("link").size(), 2u);
    EXPECT_FALSE(second.has("content-type"));
    PhpResponse r = c.read();
    ASSERT_EQ(r.status, 200) << r.status_line;
    EXPECT_EQ(r.body, "page 1 1\n");
    EXPECT_EQ(r.all("link").size(), 2u);
    EXPECT_EQ(r.header("content-type").rfind("text/plain", 0), 0u) << r.header("content-type");
    // The connection goes on: the next request on it is answered as usual.
    c.send("GET /status.php HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c.read().body, "ok\n");

    PhpResponse old = php_fetch(port(), "GET /early_hints.php HTTP/1.0\r\nHost: x\r\n\r\n");
    EXPECT_EQ(old.status, 200) << old.status_line;
    EXPECT_EQ(old.body, "page 1 1\n");
  }
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

// A worker script that exits 0 at once never serves: it is a failed start like a crash, so the
// supervisor backs off instead of restarting it ~60 times a second, and since no worker is up,
// requests get 503 at once instead of waiting out queue_timeout.
TEST_P(AskrPool, WorkerScriptExitingZeroAtOnceBacksOff) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() + "/_exit0_worker.php\"\n");
  std::this_thread::sleep_for(milliseconds(2500));
  std::string starts = read_file(root() + "/exit0.starts");
  size_t n = size_t(std::count(starts.begin(), starts.end(), '\n'));
  EXPECT_GE(n, 2u);
  EXPECT_LE(n, 6u) << "no back-off: " << n << " starts in 2.5 s";
  std::string log = proxy_->error_log();
  EXPECT_NE(log.find("exited with status 0"), std::string::npos) << log;
  // Why it never served: its script ended without asking for a request. Said once, not at
  // every restart.
  const std::string why =
      "before its worker script " + root() + "/_exit0_worker.php called askr_handle_request()";
  EXPECT_NE(log.find("pool fpm: worker "), std::string::npos) << log;
  size_t lines = 0;
  for (size_t at = 0; (at = log.find(why, at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 1u) << log;
  auto t0 = Clock::now();
  EXPECT_EQ(get("/pid.php").status, 503);
  EXPECT_LT(Clock::now() - t0, milliseconds(1000));
  EXPECT_TRUE(proxy_->alive());
}

// A worker script that never calls askr_handle_request() (it keeps busy with something else) is
// never ready, and nothing ends it: the error log says so once it has run 10 s, naming the pool,
// the worker and the script, and requests meanwhile get 503 after queue_timeout.
TEST_P(AskrPool, WorkerScriptThatNeverAsksForARequestIsLogged) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() +
        "/_busy_worker.php\"\nqueue_timeout = \"1s\"\n");
  auto t0 = Clock::now();
  EXPECT_EQ(get("/pid.php").status, 503);
  EXPECT_LT(Clock::now() - t0, milliseconds(3000));
  std::this_thread::sleep_for(milliseconds(11000));
  std::string log = proxy_->error_log();
  const std::string why = "has run its worker script " + root() +
                          "/_busy_worker.php for 10 s without calling askr_handle_request()";
  size_t lines = 0;
  for (size_t at = 0; (at = log.find(why, at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 1u) << log;
  EXPECT_NE(log.find("pool fpm: worker "), std::string::npos) << log;
  EXPECT_NE(log.find("pool fpm: request waited 1000 ms, no worker of the pool being ready"),
            std::string::npos)
      << log;
  EXPECT_TRUE(proxy_->alive());
  // Stopping does not wait for it: it has no request to finish.
  auto t1 = Clock::now();
  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_LT(Clock::now() - t1, milliseconds(4000));
}

// What a worker script prints outside a request (while booting, between requests) is nobody's
// response: it goes to the error log as a warning per line that names the pool and the worker,
// as php-fpm logs a child's stray output, with a long line cut and control characters escaped.
TEST_P(AskrPool, WorkerScriptOutputOutsideARequestIsLoggedNotSent) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() + "/_chatty_worker.php\"\n");
  for (int i = 0; i < 3; ++i) {
    PhpResponse r = get("/pid.php");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "the answer\n");
  }
  std::string log;
  for (int i = 0; i < 50; ++i) {  // the relay's thread writes them
    log = proxy_->error_log();
    if (log.find("\"between requests\"") != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::regex said(
      "\\[warn\\] \\d+#\\d+: pool fpm: worker \\d+ said into stdout: \"booting the app\"\n");
  EXPECT_TRUE(std::regex_search(log, said)) << log;
  EXPECT_NE(log.find("said into stdout: \"no newline at the end of boot\""), std::string::npos)
      << log;
  EXPECT_NE(log.find("said into stdout: \"bell\\x07here\""), std::string::npos) << log;
  EXPECT_NE(log.find("said into stdout: \"between requests\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"" + std::string(1024, 'L') + "...\" (5000 bytes, cut)"), std::string::npos)
      << log;
  EXPECT_EQ(log.find(std::string(1025, 'L')), std::string::npos);
  EXPECT_EQ(log.find("\nbooting the app"), std::string::npos) << log;  // never a bare line
  EXPECT_EQ(log.find("\nbetween requests"), std::string::npos) << log;
}

// user = "nobody" (php-fpm's pool user): PHP starts and serves as that user and its group, in
// classic and worker mode, so a script cannot read what only root may; the pool serves as
// usual. Before, the key did not exist and PHP ran as root under a root askr-proxy.
TEST_P(AskrPool, WorkersRunAsThePoolUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to start workers as another user";
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  // The site readable by all (the temporary directory is private), a file for root alone.
  for (std::string d = root(); d.size() > 1; d = std::filesystem::path(d).parent_path()) {
    chmod(d.c_str(), 0755);
    if (d == site_.path()) break;
  }
  std::string secret = site_.path() + "/secret.txt";
  site_.write("secret.txt", "root only\n");
  chmod(secret.c_str(), 0600);
  std::string ids = std::to_string(nobody->pw_uid) + " " + std::to_string(nobody->pw_uid) + " " +
                    std::to_string(nobody->pw_gid) + " " + std::to_string(nobody->pw_gid);
  for (const std::string mode : {"classic", "worker"}) {
    std::string pool = "workers = 2\nuser = \"nobody\"\nmode = \"" + mode + "\"\n";
    if (mode == "worker") pool += "worker_script = \"" + root() + "/_worker.php\"\n";
    start(pool);
    for (int i = 0; i < 4; ++i) {
      PhpResponse r = get("/ids.php?file=" + secret);
      EXPECT_EQ(r.status, 200) << mode << ": " << r.body;
      EXPECT_EQ(r.body, ids + " denied\n") << mode;
    }
    PhpResponse r = get("/hello.txt");
    EXPECT_EQ(r.status, 200) << mode;
    proxy_.reset();
  }
  // group = "root": the user's own group replaced.
  start("workers = 1\nuser = \"nobody\"\ngroup = \"root\"\n");
  EXPECT_EQ(get("/ids.php").body,
            std::to_string(nobody->pw_uid) + " " + std::to_string(nobody->pw_uid) + " 0 0 -\n");
}

// The workers' socket is in a directory that only askr-proxy's user can enter; a process of
// another user that gets a connection anyway is refused before PHP runs; nothing is left
// behind when askr-proxy exits.
TEST_P(AskrPool, WorkerSocketIsPrivateToTheProxyUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
  start("workers = 1\nmode = \"classic\"\n");
  ASSERT_EQ(whoami().second, 1);
  std::string dir;
  for (const auto& e : std::filesystem::directory_iterator(proxy_->temp_dir())) {
    if (e.path().filename().string().starts_with("askr-workers-")) dir = e.path().string();
  }
  ASSERT_FALSE(dir.empty()) << "no socket directory in " << proxy_->temp_dir();
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, geteuid());
  std::string sock = dir + "/fpm-0.sock";
  ASSERT_TRUE(std::filesystem::exists(sock)) << sock;

  // As uid 65534 through and through: the directory keeps it out.
  EXPECT_EQ(connect_as_other_user(sock, false), "connect: Permission denied");
  // As uid 65534 with root's file access: the connection is made, and refused by the worker.
  EXPECT_EQ(connect_as_other_user(sock, true), "closed unanswered");
  EXPECT_FALSE(std::filesystem::exists(root() + "/peer_marker.ran"));
  // The worker's line reaches the error log through askr-proxy, a moment after the close.
  const std::string log = wait_for_log("uid 65534 refused");
  EXPECT_NE(log.find("uid 65534 refused"), std::string::npos) << log;
  EXPECT_EQ(whoami().first > 0, true);  // askr-proxy itself is still served

  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " left behind";
}

// A request over request_timeout gets 504; the supervisor kills the worker (by its pidfd) and
// the pool starts another, in worker mode too.
TEST_P(AskrPool, RequestTimeoutKillIsDoneByTheSupervisor) {
  start("workers = 1\nmode = \"worker\"\nworker_script = \"" + root() +
        "/_worker.php\"\nrequest_timeout = \"1s\"\n");
  int before = whoami().first;
  PhpResponse r = get("/sleep.php?s=10", 15000);
  EXPECT_EQ(r.status, 504);
  EXPECT_TRUE(gone_within(before));
  auto [after, n] = whoami();
  EXPECT_NE(after, before);
  EXPECT_EQ(n, 1);
  EXPECT_NE(
      proxy_->error_log().find("killing worker " + std::to_string(before) + " (request_timeout)"),
      std::string::npos)
      << proxy_->error_log();
  // And again: the replacement is killed the same way.
  EXPECT_EQ(get("/sleep.php?s=10", 15000).status, 504);
  EXPECT_TRUE(gone_within(after));
  EXPECT_EQ(get("/status.php").status, 200);
}

// Workers see [pool.env] and nothing of askr-proxy's own environment, in both modes, in
// $_SERVER and in getenv(); askr-worker's internal variables are gone before PHP runs.
TEST_P(AskrPool, WorkersGetOnlyThePoolEnvironment) {
  setenv("ASKR_TEST_SECRET", "proxy-only", 1);
  setenv("ASKR_TEST_PASSED", "passed-on", 1);
  for (std::string mode : {"classic", "worker"}) {
    SCOPED_TRACE(mode);
    std::string pool = "workers = 1\nmode = \"" + mode + "\"\n";
    if (mode == "worker") pool += "worker_script = \"" + root() + "/_worker.php\"\n";
    start(pool +
          "[pool.env]\nAPP_MODE = \"testing\"\nFROM_PROXY = \"$ASKR_TEST_PASSED\"\n"
          "MISSING = \"$ASKR_TEST_NOT_SET\"\n");
    for (const char* script : {"/env.php", "/getenv.php"}) {
      SCOPED_TRACE(script);
      PhpResponse r = get(script);
      ASSERT_EQ(r.status, 200) << r.body;
      std::map<std::string, std::string> env = parse_json_object(r.body);
      EXPECT_EQ(env["APP_MODE"], "testing");
      EXPECT_EQ(env["FROM_PROXY"], "passed-on");
      for (const char* absent :
           {"ASKR_TEST_SECRET", "ASKR_TEST_PASSED", "MISSING", "ASKR_READY_FD", "ASKR_LISTEN_FD",
            "ASKR_ZYGOTE_FD", "LD_BIND_NOW", "HOME", "PATH"}) {
        EXPECT_EQ(env.count(absent), 0u) << absent << " = " << env[absent];
      }
    }
    proxy_.reset();
  }
  unsetenv("ASKR_TEST_SECRET");
  unsetenv("ASKR_TEST_PASSED");
}

// Without [pool.env], PHP sees none of askr-proxy's environment (php-fpm's clear_env = yes).
TEST_P(AskrPool, ProxyEnvironmentNeverReachesPhp) {
  setenv("ASKR_TEST_SECRET", "proxy-only", 1);
  for (std::string mode : {"classic", "worker"}) {
    SCOPED_TRACE(mode);
    std::string pool = "workers = 1\nmode = \"" + mode + "\"\n";
    if (mode == "worker") pool += "worker_script = \"" + root() + "/_worker.php\"\n";
    start(pool);
    for (const char* script : {"/env.php", "/getenv.php"}) {
      PhpResponse r = get(script);
      ASSERT_EQ(r.status, 200) << r.body;
      std::map<std::string, std::string> env = parse_json_object(r.body);
      EXPECT_EQ(env.count("ASKR_TEST_SECRET"), 0u) << script << ": " << r.body;
      EXPECT_EQ(env.count("HOME"), 0u) << script;
    }
    proxy_.reset();
  }
  unsetenv("ASKR_TEST_SECRET");
}

TEST_P(AskrPool, SighupRollsWorkersWithoutFailingRequests) {
  start("workers = 2\nmode = \"classic\"\n");
  expect_roll_fails_nothing();
}

// The same in worker mode, where the old workers leave askr_handle_request() to end their script.
TEST_P(AskrPool, SighupRollsWorkerModeWorkersWithoutFailingRequests) {
  start("workers = 2\nmode = \"worker\"\nworker_script = \"" + root() + "/_worker.php\"\n");
  expect_roll_fails_nothing();
}

// A rolling restart sends SIGTERM to a worker in the middle of a request: the request finishes
// as if nothing happened. Without SA_RESTART the script's blocking flock() fails with EINTR.
TEST_P(AskrPool, SighupDoesNotInterruptARunningRequest) {
  start("workers = 1\nmode = \"classic\"\n");
  HeldWorker held;
  ASSERT_NO_FATAL_FAILURE(hold_a_worker(&held));
  kill(proxy_->pid(), SIGHUP);
  // The worker was sent SIGTERM once the roll is logged; it has taken it once none is pending.
  bool taken = false;
  for (auto until = Clock::now() + std::chrono::seconds(20); !taken && Clock::now() < until;) {
    std::this_thread::sleep_for(milliseconds(20));
    taken = proxy_->error_log().find("restarting 1 workers") != std::string::npos &&
            !signal_pending(held.pid);
  }
  EXPECT_TRUE(taken) << proxy_->error_log();
  close(held.lock);
  PhpResponse r = held.response.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.starts_with("locked after")) << r.body;
}

// SIGQUIT reaches the workers too when it is sent to the process group (Ctrl-\ in a terminal, a
// service manager stopping the whole group): a worker takes it as SIGTERM, finishing its request
// before it exits, instead of dumping core in the middle of it.
TEST_P(AskrPool, SigquitLetsAWorkerFinishItsRequest) {
  start("workers = 1\nmode = \"classic\"\n", 1);
  int worker = whoami().first;
  std::string lock_path = site_.path() + "/lock";
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  auto waiting =
      std::async(std::launch::async, [&] { return get("/flockwait.php?f=" + lock_path, 15000); });
  std::this_thread::sleep_for(milliseconds(500));
  ASSERT_EQ(kill(worker, SIGQUIT), 0);
  std::this_thread::sleep_for(milliseconds(300));
  flock(fd, LOCK_UN);
  close(fd);
  PhpResponse r = waiting.get();
  EXPECT_EQ(r.status, 200) << proxy_->error_log();
  EXPECT_TRUE(r.body.starts_with("locked after")) << r.body;
  for (int i = 0; i < 100 && process_exists(worker); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_FALSE(process_exists(worker));  // it stopped, after its request
}

TEST_P(AskrPool, SigtermStopsTheWorkers) {
  start("workers = 2\nmode = \"classic\"\n");
  std::set<int> pids;
  for (int i = 0; i < 6; ++i) pids.insert(whoami().first);
  EXPECT_EQ(proxy_->stop(), 0);
  for (int pid : pids) EXPECT_FALSE(process_exists(pid)) << pid;
}

// SIGQUIT, which nginx and php-fpm take for a graceful stop, drains as SIGTERM does: the request
// running is served, then askr-proxy exits cleanly. Its default action killed askr-proxy at once.
TEST_P(AskrPool, SigquitIsAGracefulStop) {
  start("workers = 1\nmode = \"classic\"\n", 1);
  std::string lock_path = site_.path() + "/lock";
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  auto running =
      std::async(std::launch::async, [&] { return get("/flockwait.php?f=" + lock_path, 20000); });
  std::this_thread::sleep_for(milliseconds(500));  // it holds the worker, waiting for the lock
  kill(proxy_->pid(), SIGQUIT);
  std::this_thread::sleep_for(milliseconds(300));
  flock(fd, LOCK_UN);
  close(fd);
  PhpResponse r = running.get();
  EXPECT_EQ(r.status, 200) << proxy_->error_log();
  EXPECT_TRUE(r.body.starts_with("locked after")) << r.body;
  std::string log = proxy_->error_log();
  EXPECT_EQ(proxy_->stop(), 0) << log;
  EXPECT_NE(log.find("Quit: stopping, draining"), std::string::npos) << log;
}

// SIGUSR2 (nginx's binary upgrade, which askr-proxy does not do) is ignored with a log line,
// instead of its default action ending askr-proxy.
TEST_P(AskrPool, Sigusr2IsIgnoredWithALogLine) {
  start("workers = 1\nmode = \"classic\"\n", 1);
  int worker = whoami().first;
  kill(proxy_->pid(), SIGUSR2);
  std::string log;
  for (auto until = Clock::now() + std::chrono::seconds(10); Clock::now() < until;) {
    log = proxy_->error_log();
    if (log.find("SIGUSR2") != std::string::npos || !proxy_->alive()) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(proxy_->alive()) << log;
  EXPECT_NE(log.find("SIGUSR2: ignored"), std::string::npos) << log;
  EXPECT_EQ(whoami().first, worker);  // nothing was restarted
  EXPECT_EQ(proxy_->stop(), 0);
}

// SIGTERM drains: a request queued behind the pool's only worker is served once the request
// before it ends, even though that worker then recycles itself (max_requests): the supervisor
// goes on starting workers while the loops drain.
TEST_P(AskrPool, SigtermServesARequestQueuedBehindARecyclingWorker) {
  // A queue of one, so that a second request answered 503 says the first one waits in it.
  start("workers = 1\nmode = \"classic\"\nmax_requests = 1\nqueue = 1\n", 1);
  HeldWorker held;
  ASSERT_NO_FATAL_FAILURE(hold_a_worker(&held));
  PhpResponse refused;
  auto queued = queue_one(port(), "GET /pid.php HTTP/1.1\r\nHost: x\r\n\r\n", &refused);
  EXPECT_EQ(refused.status, 503);
  kill(proxy_->pid(), SIGTERM);
  std::this_thread::sleep_for(milliseconds(300));
  flock(held.lock, LOCK_UN);
  close(held.lock);
  PhpResponse a = held.response.get();
  EXPECT_EQ(a.status, 200);
  EXPECT_TRUE(a.body.starts_with("locked after")) << a.body;
  PhpResponse b = queued.get();
  EXPECT_EQ(b.status, 200) << b.body << proxy_->error_log();
  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_EQ(proxy_->error_log().find("drain timeout"), std::string::npos) << proxy_->error_log();
}

// An askr-worker binary that cannot be started (gone in an upgrade, say) is a failed start like
// any other: the pool backs off and says so now and then, and starts again once the binary is
// back. Trying again at once, on the SIGCHLD of each failed try, spun the main thread and wrote
// thousands of lines a second.
TEST_P(AskrPool, WorkerBinaryThatCannotStartBacksOff) {
  namespace fs = std::filesystem;
  fs::path real = fs::path(ASKR_PROXY_BIN).parent_path().parent_path() / "worker" / "askr-worker";
  fs::path bin = fs::path(site_.path()) / "bin" / "askr-worker";
  fs::create_directories(bin.parent_path());
  fs::create_symlink(real, bin);
  setenv("ASKR_WORKER_BIN", bin.c_str(), 1);
  start("workers = 2\nmode = \"classic\"\n", 1);
  unsetenv("ASKR_WORKER_BIN");
  EXPECT_EQ(get("/pid.php").status, 200);
  fs::remove(bin);
  kill(proxy_->pid(), SIGHUP);
  std::this_thread::sleep_for(milliseconds(1500));
  std::string log = proxy_->error_log();
  size_t tries = 0;
  for (size_t at = log.find("cannot start " + bin.string()); at != std::string::npos;
       at = log.find("cannot start " + bin.string(), at + 1)) {
    ++tries;
  }
  EXPECT_GE(tries, 1u) << log;
  EXPECT_LE(tries, 3u) << log.substr(0, 3000);
  fs::create_symlink(real, bin);
  PhpResponse r;
  for (auto until = Clock::now() + std::chrono::seconds(15); Clock::now() < until;) {
    if ((r = get("/pid.php")).status == 200) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(r.status, 200) << r.body;
}

// timeouts.drain bounds the whole stop: a worker still busy when the drain ends (its client was
// cut off) is killed then, not after a second drain-long wait for it.
TEST_P(AskrPool, SigtermExitsWithinTheDrainTimeout) {
  PhpProxyOptions o;
  o.backend = GetParam();
  o.threads = 1;
  o.root = root();
  o.pool_extra = "workers = 1\nmode = \"classic\"\n";
  o.timeouts = "drain = \"3s\"\n";
  proxy_ = std::make_unique<PhpProxy>(o);
  HeldWorker held;
  ASSERT_NO_FATAL_FAILURE(hold_a_worker(&held));  // held to the end: the request never finishes
  auto t0 = Clock::now();
  EXPECT_EQ(proxy_->stop(20000), 0);
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  EXPECT_GE(took, 2800);
  // A second wait for the worker would take another 3 s: under 5.9 s there was none, with room
  // for a busy machine.
  EXPECT_LT(took, 5900) << proxy_->error_log();
  EXPECT_NE(held.response.get().status, 200);
  close(held.lock);
}

// ASKR_WORKER_BIN naming nothing that runs is an error at start, as a binary not found is,
// rather than a proxy whose pool answers 503 for ever.
TEST_P(AskrPool, WorkerBinaryThatCannotRunIsAnErrorAtStart) {
  std::string path =
      site_.write("bad.toml", "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"" +
                                  root() + "\"\nphp = \"app\"\n[[pool]]\nname = \"app\"\n");
  std::string missing = site_.path() + "/no-such-askr-worker";
  std::string out;
  // Should it start, `timeout` stops it (SIGTERM: a clean exit) and answers 124.
  int rc = run_command(
      "ASKR_WORKER_BIN=" + missing + " timeout 5 " ASKR_PROXY_BIN " -c " + path + " 2>&1", out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("pool app: askr-worker \"" + missing + "\": No such file or directory"),
            std::string::npos)
      << out;
}

TEST_P(AskrPool, NoWorkerOutlivesAKilledProxy) {
  start("workers = 3\nmode = \"worker\"\nworker_script = \"" + root() + "/_worker.php\"\n");
  std::set<int> pids;
  for (int i = 0; i < 9; ++i) pids.insert(whoami().first);
  ASSERT_FALSE(pids.empty());
  kill(proxy_->pid(), SIGKILL);
  for (int pid : pids) EXPECT_TRUE(gone_within(pid)) << pid << " outlived askr-proxy";
}

// A script compiled through one worker is an OPcache hit through the other: the workers were
// forked from one zygote after OPcache started, so they share its cache.
TEST_P(AskrPool, WorkersOfAPoolShareOneOpcache) {
  start("workers = 2\nmode = \"classic\"\n", 2, kOpcacheIni);
  std::vector<std::string> first = fields(get("/opcache_hits.php"));
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[1], "0");  // compiled by this request
  auto [a, b] = on_both_workers("/opcache_hits.php");
  std::vector<std::string> fa = fields(a), fb = fields(b);
  ASSERT_EQ(fa.size(), 3u) << a.body;
  ASSERT_EQ(fb.size(), 3u) << b.body;
  EXPECT_NE(fa[0], fb[0]) << "both requests went to one worker";
  EXPECT_GE(std::stoi(fa[1]), 1) << "worker " << fa[0] << " compiled it again";
  EXPECT_GE(std::stoi(fb[1]), 1) << "worker " << fb[0] << " compiled it again";
  EXPECT_EQ(fa[2], fb[2]);  // one cache: the same scripts in it
}

// A worker recycled after max_requests is replaced by one forked from the zygote: its first
// request finds the script in the pool's OPcache.
TEST_P(AskrPool, RecycledWorkersFirstRequestIsAnOpcacheHit) {
  start("workers = 1\nmode = \"classic\"\nmax_requests = 1\n", 2, kOpcacheIni);
  std::vector<std::string> first = fields(get("/opcache_hits.php"));
  std::vector<std::string> second = fields(get("/opcache_hits.php"));
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_NE(first[0], second[0]);  // recycled
  EXPECT_GE(std::stoi(second[1]), 1) << "the replacement started cold";
}

// A worker killed in the middle of a request: the others are served, and the pool is back to
// two workers, the replacement warm (forked from the zygote).
TEST_P(AskrPool, WorkerKilledMidRequestIsReplacedWarm) {
  start("workers = 2\nmode = \"classic\"\n", 2, kOpcacheIni);
  EXPECT_EQ(get("/opcache_hits.php").status, 200);
  std::string pid_file = site_.path() + "/victim.pid";
  auto doomed = std::async(std::launch::async,
                           [&] { return get("/pidsleep.php?s=10&f=" + pid_file, 15000); });
  int victim = 0;
  for (int i = 0; i < 100 && victim == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    victim = atoi(read_file(pid_file).c_str());
  }
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  EXPECT_NE(doomed.get().status, 200);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(get("/pid.php").status, 200);
  auto [a, b] = on_both_workers("/opcache_hits.php");
  std::vector<std::string> fa = fields(a), fb = fields(b);
  ASSERT_EQ(fa.size(), 3u) << a.body;
  ASSERT_EQ(fb.size(), 3u) << b.body;
  EXPECT_NE(fa[0], fb[0]) << "the pool is not back to two workers";
  for (const auto& f : {fa, fb}) {
    EXPECT_NE(std::stoi(f[0]), victim);
    EXPECT_GE(std::stoi(f[1]), 1) << "worker " << f[0] << " started cold";
  }
  EXPECT_NE(proxy_->error_log().find("killed by signal 9"), std::string::npos);
}

// With opcache.validate_timestamps=0 a changed PHP file is not seen by any worker of the pool
// (one cache), until SIGHUP: it starts a fresh zygote, as php-fpm's reload starts PHP again.
TEST_P(AskrPool, SighupStartsAFreshZygoteThatSeesChangedFiles) {
  start("workers = 2\nmode = \"classic\"\n", 2,
        std::string(kOpcacheIni) + "\"opcache.validate_timestamps\" = \"0\"\n");
  auto version = [&](const char* v) {
    std::ofstream(root() + "/version.php")
        << "<?php echo getmypid(), ' " << v
        << "', \"\\n\"; usleep((int)(($_GET['sleep'] ?? 0) * 1000000));\n";
  };
  version("v1");
  EXPECT_EQ(fields(get("/version.php")).at(1), "v1");
  version("v2");
  auto [a, b] = on_both_workers("/version.php");
  EXPECT_NE(fields(a).at(0), fields(b).at(0));
  EXPECT_EQ(fields(a).at(1), "v1");  // cached for the whole pool, unchecked
  EXPECT_EQ(fields(b).at(1), "v1");
  kill(proxy_->pid(), SIGHUP);
  std::string seen;
  for (int i = 0; i < 100 && seen != "v2"; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
    seen = fields(get("/version.php")).at(1);
  }
  EXPECT_EQ(seen, "v2");
  auto [c, d] = on_both_workers("/version.php");
  EXPECT_EQ(fields(c).at(1), "v2");
  EXPECT_EQ(fields(d).at(1), "v2");
}

// A SIGHUP whose new PHP does not start (here opcache.preload names a file that was deleted)
// leaves the running workers serving, and says so; once the file is back, the next SIGHUP rolls
// the pool. Stopping the old workers before the new PHP had started left the pool answering 503.
TEST_P(AskrPool, SighupWhoseNewPhpFailsLeavesTheRunningWorkersServing) {
  std::string preload = site_.write("keep_preload.php", "<?php\n");
  std::string ini = "\"opcache.preload\" = \"" + preload + "\"\n";
  if (geteuid() == 0) ini += "\"opcache.preload_user\" = \"root\"\n";
  start("workers = 2\nmode = \"classic\"\nqueue_timeout = \"2s\"\n", 2, ini);
  std::set<int> before = both_workers();
  ASSERT_EQ(before.size(), 2u);
  std::filesystem::remove(preload);
  kill(proxy_->pid(), SIGHUP);
  std::string log = wait_for_log("running workers, its new PHP");
  EXPECT_NE(log.find("running workers, its new PHP did not start: zygote"), std::string::npos)
      << log;
  EXPECT_NE(log.find("keep_preload.php"), std::string::npos) << log;  // PHP's own reason
  expect_served_by(before);
  site_.write("keep_preload.php", "<?php\n");
  kill(proxy_->pid(), SIGHUP);
  expect_rolled(before);
}

// In worker mode PHP can start and the worker script still fail at boot (an exception before
// the first askr_handle_request()). A SIGHUP then keeps the running workers serving until a new
// worker says it is ready: here none ever does, so the roll is given up with a line saying why,
// and the pool keeps answering. Once the script is fixed, the next SIGHUP rolls the pool.
TEST_P(AskrPool, SighupWhoseWorkerScriptFailsAtBootLeavesTheRunningWorkersServing) {
  std::string script = root() + "/_roll_worker.php";
  std::string good = read_file(root() + "/_worker.php");
  std::ofstream(script) << good;
  start("workers = 2\nmode = \"worker\"\nworker_script = \"" + script + "\"\n", 1);
  std::set<int> before = both_workers();
  ASSERT_EQ(before.size(), 2u);
  std::ofstream(script) << "<?php\nthrow new RuntimeException('boot failed on purpose');\n";
  kill(proxy_->pid(), SIGHUP);
  std::string log = wait_for_log("keeps its 2 running workers");
  EXPECT_NE(log.find("SIGHUP: pool fpm keeps its 2 running workers, its new worker"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("boot failed on purpose"), std::string::npos) << log;  // PHP's own reason
  expect_served_by(before);
  EXPECT_EQ(log.find("next start in"), std::string::npos) << "the pool backed off:\n" << log;
  std::ofstream(script) << good;
  kill(proxy_->pid(), SIGHUP);
  expect_rolled(before);
}

// The old workers serve while the new generation's first worker boots; a second SIGHUP during
// that boot replaces the roll under way: its worker is stopped, and the second roll completes.
TEST_P(AskrPool, SighupDuringASlowBootReplacesTheRollUnderWay) {
  std::string script = root() + "/_slow_worker.php";
  std::ofstream(script) << "<?php\nif (file_exists(__DIR__ . '/slow_boot')) { "
                           "file_put_contents(__DIR__ . '/booting', getmypid() "
                           ". \"\\n\", FILE_APPEND); sleep(2); }\n"
                        << read_file(root() + "/_worker.php").substr(6);
  start("workers = 2\nmode = \"worker\"\nworker_script = \"" + script + "\"\n", 1);
  std::set<int> before = both_workers();
  ASSERT_EQ(before.size(), 2u);
  site_.write("www/slow_boot", "");
  kill(proxy_->pid(), SIGHUP);
  ASSERT_TRUE(wait_for_lines(root() + "/booting", 1)) << proxy_->error_log();
  int first = std::atoi(read_file(root() + "/booting").c_str());
  expect_served_by(before);  // while the new worker boots
  kill(proxy_->pid(), SIGHUP);
  EXPECT_TRUE(gone_within(first)) << "the first roll's worker outlived the second SIGHUP";
  expect_rolled(before);
  // The two rolls' first workers, then slot 1's of the second, and no other.
  EXPECT_TRUE(wait_for_lines(root() + "/booting", 3));
  std::this_thread::sleep_for(milliseconds(300));
  std::string booting = read_file(root() + "/booting");
  EXPECT_EQ(std::count(booting.begin(), booting.end(), '\n'), 3) << booting;
  EXPECT_EQ(proxy_->error_log().find("keeps its"), std::string::npos) << proxy_->error_log();
}

// opcache.preload runs once per pool, in the zygote; the workers forked after it do not share
// its random generators (it drew from them): each seeds its own.
TEST_P(AskrPool, PreloadRunsOnceAndWorkersDrawTheirOwnRandomNumbers) {
  std::string ini =
      std::string(kOpcacheIni) + "\"opcache.preload\" = \"" + root() + "/_preload.php\"\n";
  if (geteuid() == 0) ini += "\"opcache.preload_user\" = \"root\"\n";
  start("workers = 2\nmode = \"classic\"\n", 2, ini);
  auto [a, b] = on_both_workers("/random.php");
  std::vector<std::string> fa = fields(a), fb = fields(b);
  ASSERT_EQ(fa.size(), 4u) << a.body;
  ASSERT_EQ(fb.size(), 4u) << b.body;
  EXPECT_NE(fa[0], fb[0]);
  EXPECT_NE(fa[1], fb[1]) << "mt_rand() repeats across workers";
  EXPECT_NE(fa[2], fb[2]) << "lcg_value() repeats across workers";
  EXPECT_NE(fa[3], fb[3]);
  std::string runs = read_file(root() + "/preload.runs");
  EXPECT_EQ(std::count(runs.begin(), runs.end(), '\n'), 1) << runs;
}

// The zygote binds every symbol as it loads each library (LD_BIND_NOW in its start-up
// environment), so that its workers never run the lazy binder, whose reads of every library's
// symbol tables stayed in each worker's memory. PHP does not see the variable; an LD_BIND_NOW
// of [pool.env] is the operator's and reaches PHP as set.
TEST_P(AskrPool, ZygoteBindsSymbolsBeforeItForks) {
  for (bool own : {false, true}) {
    SCOPED_TRACE(own ? "LD_BIND_NOW in [pool.env]" : "no LD_BIND_NOW in [pool.env]");
    start(std::string("workers = 1\nmode = \"classic\"\n") +
          (own ? "[pool.env]\nLD_BIND_NOW = \"1\"\n" : ""));
    int worker = whoami().first;
    std::set<int> children = proxy_children();
    children.erase(worker);
    ASSERT_EQ(children.size(), 1u);  // the zygote
    std::ifstream in("/proc/" + std::to_string(*children.begin()) + "/environ");
    std::string environ((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string expected = own ? "LD_BIND_NOW=1" : "LD_BIND_NOW=askr";
    EXPECT_NE(("\0" + environ).find("\0" + expected + '\0'), std::string::npos) << environ;
    EXPECT_EQ(environ.find(own ? "LD_BIND_NOW=askr" : "LD_BIND_NOW=1"), std::string::npos);
    PhpResponse r = get("/getenv.php");
    ASSERT_EQ(r.status, 200) << r.body;
    std::map<std::string, std::string> env = parse_json_object(r.body);
    if (own) {
      EXPECT_EQ(env["LD_BIND_NOW"], "1") << r.body;
    } else {
      EXPECT_EQ(env.count("LD_BIND_NOW"), 0u) << r.body;
    }
    proxy_.reset();
  }
}

// The pool's zygote dies: its workers go on, and the next worker needed comes from a new one.
TEST_P(AskrPool, DeadZygoteIsReplacedBeforeTheNextWorker) {
  start("workers = 1\nmode = \"classic\"\n");
  int worker = whoami().first;
  std::set<int> children = proxy_children();
  children.erase(worker);
  ASSERT_EQ(children.size(), 1u);  // the zygote, beside the worker: both askr-proxy's children
  int zygote = *children.begin();
  ASSERT_EQ(kill(zygote, SIGKILL), 0);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(whoami().first, worker);  // the worker outlives it
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  int replacement = 0;
  for (int i = 0; i < 50 && (replacement == 0 || replacement == worker); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
    replacement = whoami().first;
  }
  EXPECT_NE(replacement, worker);
  EXPECT_FALSE(process_exists(zygote));
  // Said in words, as a worker's end is, not as a raw wait status.
  EXPECT_NE(
      proxy_->error_log().find("zygote " + std::to_string(zygote) + " ended (killed by signal 9)"),
      std::string::npos)
      << proxy_->error_log();
}

// With error_log naming a file, what askr-worker says itself (why PHP did not start, here a
// missing opcache.preload) is written there, next to the proxy's own "zygote is gone" line,
// rather than to askr-proxy's stderr.
TEST_P(AskrPool, WorkerMessagesGoToTheErrorLogFile) {
  ProxyOptions o;
  o.backend = GetParam();
  o.threads = 1;
  o.root = root();
  o.error_log_file = true;
  o.site_extra = "php = \"app\"\n";
  o.extra = "[[pool]]\nname = \"app\"\nworkers = 1\n[pool.ini]\n\"opcache.preload\" = \"" + root() +
            "/no_such_preload.php\"\n";
  if (geteuid() == 0) o.extra += "\"opcache.preload_user\" = \"root\"\n";
  Proxy proxy(o);
  std::string log;
  for (auto until = Clock::now() + std::chrono::seconds(10); Clock::now() < until;) {
    log = proxy.error_log();
    if (log.find("PHP failed to start") != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_NE(log.find("PHP failed to start"), std::string::npos) << log;
  EXPECT_NE(log.find("no_such_preload.php"), std::string::npos) << log;
  EXPECT_EQ(proxy.stop(), 0);
}

// SIGUSR1 reopens the error log by name: what the workers write to their stderr follows it to
// the new file, as askr-proxy's own lines do, instead of going to the rotated file until the
// next SIGHUP.
TEST_P(AskrPool, WorkersFollowTheErrorLogReopenedOnSigusr1) {
  std::ofstream(root() + "/to_stderr.php")
      << "<?php file_put_contents('php://stderr', 'stderr-' . $_GET['m'] . \"\\n\");\n";
  ProxyOptions o;
  o.backend = GetParam();
  o.threads = 1;
  o.root = root();
  o.error_log_file = true;
  o.site_extra = "php = \"app\"\n";
  o.extra = "[[pool]]\nname = \"app\"\nworkers = 1\n";
  Proxy proxy(o);
  auto fetch_marker = [&](const std::string& m) {
    return php_fetch(proxy.port(), "GET /to_stderr.php?m=" + m + " HTTP/1.1\r\nHost: x\r\n\r\n",
                     10000);
  };
  auto wait_for = [&](const std::string& what) {
    for (auto until = Clock::now() + std::chrono::seconds(10); Clock::now() < until;) {
      if (proxy.error_log().find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  };
  EXPECT_EQ(fetch_marker("before").status, 200);
  ASSERT_TRUE(wait_for("stderr-before")) << proxy.error_log();
  std::string rotated = proxy.error_log_path() + ".1";
  ASSERT_EQ(std::rename(proxy.error_log_path().c_str(), rotated.c_str()), 0);
  kill(proxy.pid(), SIGUSR1);
  ASSERT_TRUE(wait_for("SIGUSR1: logs reopened")) << proxy.error_log();
  EXPECT_EQ(fetch_marker("after").status, 200);
  EXPECT_TRUE(wait_for("stderr-after")) << proxy.error_log() << "\nrotated:\n"
                                        << read_file(rotated);
  EXPECT_EQ(read_file(rotated).find("stderr-after"), std::string::npos);
  EXPECT_EQ(proxy.stop(), 0);
}

// A zygote whose PHP does not start (here opcache.preload names a missing file) is a failed
// start like a worker's: logged, backed off, and requests get 503 meanwhile.
TEST_P(AskrPool, ZygoteFailingToStartBacksOff) {
  std::string ini = "\"opcache.preload\" = \"" + root() + "/no_such_preload.php\"\n";
  if (geteuid() == 0) ini += "\"opcache.preload_user\" = \"root\"\n";
  start("workers = 2\nmode = \"classic\"\nqueue_timeout = \"1s\"\n", 2, ini);
  std::this_thread::sleep_for(milliseconds(1500));
  std::string log = proxy_->error_log();
  EXPECT_NE(log.find("zygote"), std::string::npos) << log;
  EXPECT_NE(log.find("next start in"), std::string::npos) << log;
  size_t attempts = 0;
  for (size_t at = 0; (at = log.find("after start", at)) != std::string::npos; ++at) ++attempts;
  EXPECT_LE(attempts, 3u) << log;
  EXPECT_EQ(get("/pid.php").status, 503);
  EXPECT_TRUE(proxy_->alive());
}

// A script that appears while the site runs (a deploy writing index.php into a directory that had
// no index) is never sent as a file: the PHP match may still see the directory as it was a moment
// ago (what it stats is kept for the second), but the static handler that then finds the new
// index.php refuses it rather than show its source.
TEST_P(AskrPool, ScriptThatAppearsIsNeverSentAsAFile) {
  start("workers = 1\nmode = \"classic\"\n");
  std::filesystem::create_directory(root() + "/fresh");
  for (int i = 0; i < 5; ++i) {
    std::filesystem::remove(root() + "/fresh/index.php");
    // More than a second: what was looked up a moment ago is kept until the loop's clock, the
    // kernel's coarse one (a tick behind at most), shows the next second.
    std::this_thread::sleep_for(milliseconds(1100));
    EXPECT_EQ(get("/fresh/").status, 403);  // a directory without an index
    std::ofstream(root() + "/fresh/index.php") << "<?php echo 'ran';";
    PhpResponse r = get("/fresh/");
    EXPECT_EQ(r.body.find("<?php"), std::string::npos) << i << ": " << r.body;
  }
  std::this_thread::sleep_for(milliseconds(1100));
  EXPECT_EQ(get("/fresh/").body, "ran");
}

}  // namespace
}  // namespace askr::testing
