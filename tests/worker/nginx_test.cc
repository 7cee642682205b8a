// askr-worker behind a real nginx (fastcgi_pass unix:...), requests made with curl.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "harness.h"

namespace askr::testing::worker {
namespace {

class NginxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!nginx_available()) GTEST_SKIP() << "nginx (nginx-light) is not installed";
    if (run_command({"curl", "--version"}, nullptr) != 0) GTEST_SKIP() << "curl is not installed";
    worker_ = std::make_unique<WorkerProcess>();
    nginx_ = std::make_unique<Nginx>(ASKR_WORKER_PHP_DIR, worker_->socket_path());
  }

  // curl -s -i ARGS... URL: the whole response, head included.
  std::string curl(std::vector<std::string> args, const std::string& path) {
    std::vector<std::string> argv = {"curl", "-s", "-i", "--max-time", "30"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(nginx_->url(path));
    std::string out;
    run_command(argv, &out);
    return out;
  }

  std::unique_ptr<WorkerProcess> worker_;
  std::unique_ptr<Nginx> nginx_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(NginxTest, ServesPages) {
  std::string r = curl({"-H", "X-Custom: hello", "-b", "k=v"}, "/info.php?a=1");
  EXPECT_TRUE(contains(r, "HTTP/1.1 200 OK")) << r << nginx_->error_log();
  EXPECT_TRUE(contains(r, R"("get":{"a":"1"})")) << r;
  EXPECT_TRUE(contains(r, R"("cookie":{"k":"v"})")) << r;
  EXPECT_TRUE(contains(r, R"("HTTP_X_CUSTOM":"hello")")) << r;
  EXPECT_TRUE(contains(r, R"("SCRIPT_NAME":"\/info.php")")) << r;

  r = curl({"-d", "x=1&y=2"}, "/info.php");
  EXPECT_TRUE(contains(r, R"("post":{"x":"1","y":"2"})")) << r;

  r = curl({}, "/headers.php");
  EXPECT_TRUE(contains(r, "HTTP/1.1 201 Created")) << r;
  EXPECT_TRUE(contains(r, "Set-Cookie: c1=v1")) << r;
  EXPECT_TRUE(contains(r, "Set-Cookie: c2=v2; path=/p; HttpOnly")) << r;

  r = curl({}, "/fatal.php");
  EXPECT_TRUE(contains(r, "HTTP/1.1 500 Internal Server Error")) << r;
  EXPECT_TRUE(
      contains(nginx_->error_log(), "PHP message: PHP Fatal error:  the end of this request"))
      << nginx_->error_log();

  r = curl({}, "/missing.php");
  EXPECT_TRUE(contains(r, "HTTP/1.1 404 Not Found")) << r;
  EXPECT_TRUE(contains(r, "File not found.")) << r;
}

TEST_F(NginxTest, UploadAndLargeResponse) {
  std::string file = worker_->dir().file("payload.bin");
  std::string data(2 * 1024 * 1024 + 3, '\0');
  std::mt19937 rng(7);
  for (char& c : data) c = char(rng());
  std::ofstream(file, std::ios::binary) << data;
  std::string r = curl({"-F", "up=@" + file, "-F", "f=v"}, "/upload.php");
  EXPECT_TRUE(contains(r, "\"sha256\":\"" + sha256_hex(data) + "\"")) << r;
  EXPECT_TRUE(contains(r, R"("post":{"f":"v"})")) << r;

  std::string out;
  run_command({"curl", "-s", "--max-time", "30", nginx_->url("/big.php?mb=10")}, &out);
  EXPECT_EQ(out.size(), 10u * 1024 * 1024);
  EXPECT_TRUE(worker_->running());
}

// nginx keeping its connections (fastcgi_keep_conn, upstream keepalive): two requests at once
// open two connections to the one worker, which serves both in turn, then keeps serving
// requests on the kept connections.
TEST(NginxKeepConn, OneWorkerServesSeveralKeptConnections) {
  if (!nginx_available()) GTEST_SKIP() << "nginx (nginx-light) is not installed";
  WorkerProcess worker;
  Nginx nginx(ASKR_WORKER_PHP_DIR, worker.socket_path(), true);
  auto fetch = [&](const std::string& path) {
    std::string out;
    run_command({"curl", "-s", "--max-time", "10", nginx.url(path)}, &out);
    return out;
  };
  auto slow = std::async(std::launch::async, [&] { return fetch("/pid.php?ms=1000"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string pid = std::to_string(worker.pid());
  EXPECT_TRUE(fetch("/pid.php").starts_with(pid + " ")) << nginx.error_log();
  EXPECT_TRUE(slow.get().starts_with(pid + " 1\n"));
  int most = 0;
  for (int i = 0; i < 10; ++i) {
    std::string r = fetch("/pid.php");
    ASSERT_TRUE(r.starts_with(pid + " ")) << r << nginx.error_log();
    most = std::max(most, std::atoi(r.c_str() + pid.size() + 1));
  }
  EXPECT_GE(most, 5) << "nginx's connections were not kept";
}

}  // namespace
}  // namespace askr::testing::worker
