#include "shared/base/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace askr::log {
namespace {

TEST(RateLimit, FirstLinePassesWithNothingSuppressed) {
  RateLimit limit;
  uint64_t suppressed = 99;
  EXPECT_TRUE(limit.admit(5000, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(RateLimit, LinesWithinTheWindowAreCountedAndTheNextOneReportsThem) {
  RateLimit limit;
  uint64_t suppressed = 0;
  ASSERT_TRUE(limit.admit(5000, suppressed));
  for (int64_t t = 5000; t < 6000; t += 10) EXPECT_FALSE(limit.admit(t, suppressed)) << t;
  EXPECT_FALSE(limit.admit(5999, suppressed));
  EXPECT_TRUE(limit.admit(6000, suppressed));
  EXPECT_EQ(suppressed, 101u);
  // The count starts again: the window now runs from 6000.
  EXPECT_FALSE(limit.admit(6500, suppressed));
  EXPECT_TRUE(limit.admit(9000, suppressed));
  EXPECT_EQ(suppressed, 1u);
  EXPECT_TRUE(limit.admit(10000, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(RateLimit, WindowIsConfigurable) {
  RateLimit limit(50);
  uint64_t suppressed = 0;
  EXPECT_TRUE(limit.admit(0, suppressed));
  EXPECT_FALSE(limit.admit(49, suppressed));
  EXPECT_TRUE(limit.admit(50, suppressed));
  EXPECT_EQ(suppressed, 1u);
}

TEST(RateLimit, ThreadsSharingOneLimitLoseNoCount) {
  RateLimit limit;
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      uint64_t suppressed = 0;
      for (int i = 0; i < 10000; ++i) passed += limit.admit(1000, suppressed);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(passed.load(), 1);
  uint64_t suppressed = 0;
  EXPECT_TRUE(limit.admit(2000, suppressed));
  EXPECT_EQ(suppressed, 39999u);
}

// Captures what the error log writes.
class LogCapture {
 public:
  LogCapture() {
    EXPECT_EQ(pipe2(fds_, O_NONBLOCK), 0);
    set_fd(fds_[1]);
    set_level(Level::kInfo);
  }
  ~LogCapture() {
    set_fd(2);
    close(fds_[0]);
    close(fds_[1]);
  }
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds_[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

size_t count(const std::string& s, std::string_view needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

TEST(LogLimited, OneLinePerCallSite) {
  LogCapture cap;
  for (int i = 0; i < 1000; ++i) {
    LOG_LIMITED(kWarn, "site one %d", i);
    LOG_LIMITED(kWarn, "site two %d", i);
  }
  std::string out = cap.read_all();
  EXPECT_EQ(count(out, "\n"), 2u) << out;
  EXPECT_NE(out.find("[warn]"), std::string::npos) << out;
  EXPECT_NE(out.find("site one 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("site two 0\n"), std::string::npos) << out;
}

TEST(LogLimited, DisabledLevelIsNeitherWrittenNorCounted) {
  LogCapture cap;
  for (int i = 0; i < 10; ++i) LOG_LIMITED(kDebug, "debug %d", i);
  EXPECT_EQ(cap.read_all(), "");
}

TEST(LogLimited, SharedLimitAcrossSites) {
  LogCapture cap;
  RateLimit limit;
  LOG_LIMITED_AT(limit, kError, "first");
  LOG_LIMITED_AT(limit, kError, "second");
  std::string out = cap.read_all();
  EXPECT_EQ(count(out, "\n"), 1u) << out;
  EXPECT_NE(out.find("[error]"), std::string::npos) << out;
}

TEST(WriteCounted, AppendsTheSuppressedCount) {
  LogCapture cap;
  write_counted(Level::kWarn, 1234, "pool %s: queue full", "www");
  write_counted(Level::kWarn, 0, "pool %s: queue full", "www");
  std::string out = cap.read_all();
  EXPECT_NE(out.find("pool www: queue full (1234 similar messages suppressed)\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("pool www: queue full\n"), std::string::npos) << out;
}

TEST(WriteCounted, LongMessageStaysOneLine) {
  LogCapture cap;
  std::string big(5000, 'x');
  write_counted(Level::kWarn, 7, "%s", big.c_str());
  std::string out = cap.read_all();
  EXPECT_EQ(count(out, "\n"), 1u);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_LE(out.size(), 2048u);
}

}  // namespace
}  // namespace askr::log
