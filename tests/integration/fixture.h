// A site on disk and a proxy serving it, for each I/O backend in turn.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "harness.h"

namespace askr::testing {

// Small files every test can rely on, under dir/www.
inline void write_test_site(const TempDir& dir) {
  dir.write("www/index.html", "<h1>askr</h1>\n");
  dir.write("www/a.txt", "first\n");
  dir.write("www/b.txt", "second\n");
  dir.write("www/style.css", "body{}\n");
  dir.write("www/sub/index.html", "sub index\n");
  dir.write("www/empty/.keep", "");
}

inline std::unique_ptr<Proxy> start_proxy(const std::string& backend, const TempDir& dir,
                                          const std::string& extra = "",
                                          const std::string& log_format = "combined",
                                          const std::string& site_extra = "") {
  ProxyOptions o;
  o.backend = backend;
  o.root = dir.path() + "/www";
  o.extra = extra;
  o.site_extra = site_extra;
  o.access_log_format = log_format;
  return std::make_unique<Proxy>(o);
}

inline bool skip_backend(const std::string& backend) {
  return backend == "io_uring" && !io_uring_available();
}

class ProxyTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (skip_backend(GetParam())) {
      GTEST_SKIP() << "io_uring is not usable on this machine; the epoll run covers the fallback";
    }
    write_test_site(site_);
  }
  void start(const std::string& extra = "", const std::string& log_format = "combined") {
    proxy_ = start_proxy(GetParam(), site_, extra, log_format);
  }
  int port() const { return proxy_->port(); }

  TempDir site_;
  std::unique_ptr<Proxy> proxy_;
};

#define ASKR_BOTH_BACKENDS(suite)                                                   \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::Values("io_uring", "epoll"), \
                           [](const auto& info) { return info.param; })

}  // namespace askr::testing
