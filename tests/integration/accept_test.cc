// Accepting under pressure, on both I/O backends: out of descriptors, the proxy keeps serving
// the connections it has, logs the episode once instead of on every attempt, and accepts again
// once descriptors are free; [server] max_connections keeps new connections in the listen queue
// until an open one closes.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "fixture.h"

namespace askr::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A fixed answer that needs no file descriptor to produce.
const char* const kPingRoute =
    "[[site.route]]\nprefix = \"/ping\"\nreturn = 200\nbody = \"pong\\n\"\n";

// Lines of the error log that speak of accepting.
size_t accept_lines(const std::string& log) {
  size_t n = 0;
  for (size_t at = 0; at < log.size();) {
    size_t end = log.find('\n', at);
    if (end == std::string::npos) end = log.size();
    if (log.substr(at, end - at).find("accept") != std::string::npos) ++n;
    at = end + 1;
  }
  return n;
}

bool ping(int fd, int timeout_ms = 5000) {
  send_all(fd, get("/ping"));
  HttpResponse r = read_response(fd, false, timeout_ms);
  return r.ok && r.status == 200 && r.body == "pong\n";
}

class Accept : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (skip_backend(GetParam())) {
      GTEST_SKIP() << "io_uring is not usable on this machine; the epoll run covers the fallback";
    }
    write_test_site(site_);
  }
  void start(int nofile, const std::string& server_extra = "") {
    ProxyOptions o;
    o.backend = GetParam();
    o.threads = 1;  // one loop: the limits below are per loop
    o.root = site_.path() + "/www";
    o.extra = kPingRoute;
    o.server_extra = server_extra;
    o.nofile = nofile;
    proxy_ = std::make_unique<Proxy>(o);
  }
  int port() const { return proxy_->port(); }

  TempDir site_;
  std::unique_ptr<Proxy> proxy_;
};
ASKR_BOTH_BACKENDS(Accept);

TEST_P(Accept, OutOfDescriptorsKeepsServingLogsOnceAndRecovers) {
  start(40);
  int keep = connect_to(port());
  ASSERT_TRUE(ping(keep));

  // More connections than the proxy has descriptors for, arriving over 2 s: each arrival used
  // to cost a log line (epoll) or the loop spun on the failing accept (io_uring).
  std::vector<int> pressure;
  auto begin = Clock::now();
  for (int i = 0; i < 80; ++i) {
    pressure.push_back(connect_to(port()));
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::this_thread::sleep_until(begin + std::chrono::milliseconds(2000));

  EXPECT_TRUE(ping(keep)) << "an open keep-alive connection is still served";
  std::string log = proxy_->error_log();
  EXPECT_GE(accept_lines(log), 1u) << log;
  EXPECT_LE(accept_lines(log), 5u) << log.substr(0, 2000);

  for (int fd : pressure) ::close(fd);
  auto freed = Clock::now();
  int fresh = connect_to(port());
  EXPECT_TRUE(ping(fresh, 4000)) << "a new connection is served once descriptors are free";
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - freed);
  EXPECT_LT(waited.count(), 2500);
  ::close(fresh);
  EXPECT_TRUE(ping(keep));
  ::close(keep);

  log = proxy_->error_log();
  EXPECT_LE(accept_lines(log), 6u) << log.substr(0, 2000);
  EXPECT_NE(log.find("works again"), std::string::npos) << log.substr(0, 2000);
}

TEST_P(Accept, MaxConnectionsHoldsTheNextConnectionWhileTheOpenOnesWork) {
  start(0, "max_connections = 2\n");
  // Two requests under way (half a head each): neither connection is idle.
  int a = connect_to(port());
  int b = connect_to(port());
  send_all(a, "GET /ping HTTP/1.1\r\n");
  send_all(b, "GET /ping HTTP/1.1\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  int c = connect_to(port());  // the kernel completes it; the proxy does not take it yet
  send_all(c, get("/ping"));
  EXPECT_FALSE(read_response(c, false, 1000).ok) << "a third connection was served";

  // a's request is answered and a goes idle: with c waiting, a gives way, as nginx reuses a
  // keep-alive connection when its worker_connections run out.
  send_all(a, "Host: x\r\n\r\n");
  HttpResponse ra = read_response(a, false, 3000);
  EXPECT_EQ(ra.body, "pong\n");
  EXPECT_TRUE(wait_closed(a)) << "the idle connection was kept while a client waited";
  HttpResponse r = read_response(c, false, 3000);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.body, "pong\n");
  send_all(b, "Host: x\r\n\r\n");
  EXPECT_EQ(read_response(b, false, 3000).body, "pong\n") << "the open one still is served";
  ::close(a);
  ::close(b);
  ::close(c);
}

// Idle keep-alive connections at the limit give way to new clients, the one idle the longest
// first: they no longer hold the next client until the keep-alive timeout.
TEST_P(Accept, MaxConnectionsClosesTheLongestIdleForAWaitingClient) {
  start(0, "max_connections = 2\n");
  int a = connect_to(port());
  ASSERT_TRUE(ping(a));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int b = connect_to(port());
  ASSERT_TRUE(ping(b));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(ping(a)) << "at the limit with no one waiting, idle connections stay open";

  auto begin = Clock::now();
  int c = connect_to(port());
  ASSERT_TRUE(ping(c, 3000)) << "a new client waited for the keep-alive timeout";
  EXPECT_LT(Clock::now() - begin, std::chrono::milliseconds(2000));
  // a was used last: b, idle the longest, gave way.
  EXPECT_TRUE(wait_closed(b));
  EXPECT_TRUE(ping(a));
  EXPECT_TRUE(ping(c));
  EXPECT_NE(proxy_->error_log().find("closing the one idle the longest"), std::string::npos)
      << proxy_->error_log();
  ::close(a);
  ::close(b);
  ::close(c);
}

// SIGTERM: every loop stops accepting at once, so new clients are refused (and a load balancer
// tries elsewhere) while a request in flight on one loop finishes. A loop with nothing to
// drain used to end before its listening socket was closed (io_uring closes it once the accept
// is cancelled), leaving it to take connections no one would serve until the process exited.
TEST_P(Accept, SigtermRefusesNewConnectionsWhileARequestDrains) {
  ProxyOptions o;
  o.backend = GetParam();
  o.threads = 2;
  o.root = site_.path() + "/www";
  o.extra = kPingRoute;
  proxy_ = std::make_unique<Proxy>(o);
  int busy = connect_to(port());
  send_all(busy, "GET /ping HTTP/1.1\r\n");  // half a head: in flight, not idle
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(proxy_->pid(), SIGTERM);
  EXPECT_TRUE(wait_refused(port())) << "connections are still taken while draining";
  send_all(busy, "Host: x\r\n\r\n");
  HttpResponse r = read_response(busy, false, 5000);
  EXPECT_EQ(r.body, "pong\n");
  ::close(busy);
  EXPECT_EQ(proxy_->stop(), 0);
}

}  // namespace
}  // namespace askr::testing
