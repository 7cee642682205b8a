// Where io_uring is refused (here: a seccomp filter failing io_uring_setup with EPERM, as
// container runtimes do), `auto` falls back to epoll with one log line and an explicit
// io_uring is an error that says why.
#include <gtest/gtest.h>

#include "fixture.h"

namespace askr::testing {
namespace {

TEST(BackendFallback, DoctorReportsTheRefusal) {
  std::string out;
  EXPECT_EQ(run_proxy_command_without_io_uring("doctor", out), 0);
  EXPECT_NE(out.find("io_uring:         no - io_uring_setup failed: Operation not permitted"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("io_backend auto:  epoll"), std::string::npos) << out;
}

TEST(BackendFallback, AutoFallsBackToEpollAndServes) {
  TempDir dir;
  write_test_site(dir);
  ProxyOptions o;
  o.backend = "auto";
  o.root = dir.path() + "/www";
  o.block_io_uring = true;
  Proxy proxy(o);
  EXPECT_EQ(fetch(proxy.port(), get("/a.txt")).body, "first\n");
  std::string log = proxy.error_log();
  EXPECT_NE(log.find("io_uring not usable (io_uring_setup failed: Operation not permitted"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("epoll backend"), std::string::npos) << log;
  EXPECT_EQ(proxy.stop(), 0);
}

TEST(BackendFallback, ExplicitIoUringIsAnErrorThatSaysWhy) {
  TempDir dir;
  write_test_site(dir);
  std::string cfg = dir.write("askr.toml",
                              "[server]\nio_backend = \"io_uring\"\n[[listen]]\naddress = "
                              "\"127.0.0.1:0\"\n[[site]]\nroot = \"www\"\n");
  std::string out;
  EXPECT_EQ(run_proxy_command_without_io_uring("-c " + cfg, out), 1);
  EXPECT_NE(out.find("io_backend = \"io_uring\" but io_uring is not usable here: io_uring_setup "
                     "failed: Operation not permitted"),
            std::string::npos)
      << out;
}

TEST(BackendFallback, AutoPicksIoUringWhereItWorks) {
  if (!io_uring_available()) GTEST_SKIP() << "io_uring is not usable on this machine";
  TempDir dir;
  write_test_site(dir);
  ProxyOptions o;
  o.backend = "auto";
  o.root = dir.path() + "/www";
  Proxy proxy(o);
  EXPECT_NE(proxy.error_log().find("io_uring backend"), std::string::npos);
}

}  // namespace
}  // namespace askr::testing
