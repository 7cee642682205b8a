// A protocol driver's world without a socket: a transport in memory and a shard serving a
// folder of its own, for the HTTP/1.1 and HTTP/2 drivers' tests.
#pragma once

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/router.h"
#include "net/transport.h"
#include "server/shard.h"
#include "shared/config/load.h"

namespace askr::server {

// What the protocol sends is appended to `out`; a send completes when the test says so. No
// zero-copy capability unless can_sendfile (as a TLS transport in user space).
class MemoryTransport final : public net::Transport {
 public:
  net::TransportUser* user = nullptr;
  std::string out;
  bool sending = false;
  int sends = 0;
  bool closed = false;
  bool write_shut = false;
  bool secure_ = true;
  bool can_sendfile = false;  // send_file reads the file into `out`, as the kernel would send it
  int sendfile_calls = 0;

  void start(net::TransportUser* u) override { user = u; }
  ZeroCopy zero_copy() const override { return {can_sendfile, false, false}; }
  bool secure() const override { return secure_; }
  void resume_recv() override {}
  void pause_recv() override {}
  void stop_recv() override { ADD_FAILURE() << "splice asked of a transport that cannot"; }
  void send(const iovec* iov, size_t count, bool) override {
    EXPECT_FALSE(sending) << "two sends at once";
    for (size_t i = 0; i < count; ++i)
      out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    sending = true;
    ++sends;
  }
  ssize_t send_file(int fd, off_t* offset, size_t count) override {
    if (!can_sendfile) {
      ADD_FAILURE() << "sendfile asked of a transport that cannot";
      return -ENOSYS;
    }
    ++sendfile_calls;
    std::string buf(count, '\0');
    ssize_t n = pread(fd, buf.data(), count, *offset);
    if (n < 0) return -errno;
    out.append(buf.data(), size_t(n));
    *offset += n;
    return n;
  }
  int splice_fd() const override { return -1; }
  void wait_writable() override {}
  void wait_readable() override {}
  void set_corked(bool) override {}
  void shutdown_write() override { write_shut = true; }
  void close() override { closed = true; }
  const sockaddr* peer() override { return reinterpret_cast<const sockaddr*>(&addr_); }
  const sockaddr* local() override { return reinterpret_cast<const sockaddr*>(&addr_); }

  // Completes sends until the protocol has nothing more to say.
  void drain() {
    for (int i = 0; i < 1000 && sending; ++i) {
      sending = false;
      user->on_sent(0);
    }
  }

 private:
  sockaddr_in addr_{AF_INET, htons(443), {htonl(INADDR_LOOPBACK)}, {}};
};

// A shard of one site whose root is `dir + "/www"`, a fresh folder the fixture fills first.
class MemoryShard {
 public:
  MemoryShard() {
    char tmpl[] = "/tmp/askr-conn-XXXXXX";
    dir = mkdtemp(tmpl);
    std::filesystem::create_directories(dir + "/www");
  }
  ~MemoryShard() {
    shard_.reset();
    std::filesystem::remove_all(dir);
  }
  MemoryShard(const MemoryShard&) = delete;
  MemoryShard& operator=(const MemoryShard&) = delete;

  // Loads the configuration (one site over dir/www, and `more`) and makes the shard.
  void start(const std::string& more = "") {
    std::string toml = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"" + dir +
                       "/www\"\n[access_log]\nformat = \"off\"\n" + more;
    config::LoadResult r = config::load_string(toml, dir + "/askr.toml");
    ASSERT_TRUE(r.config);
    gen_.config = std::move(*r.config);
    auto router = core::Router::build(gen_.config);
    ASSERT_TRUE(router);
    gen_.router.publish(std::make_shared<const core::Router>(std::move(router.value())));
    shard_ = std::make_unique<Shard>(gen_, 0, -1, std::vector<int>{});
  }
  Shard& shard() { return *shard_; }

  std::string dir;

 private:
  Generation gen_;
  std::unique_ptr<Shard> shard_;
};

}  // namespace askr::server
