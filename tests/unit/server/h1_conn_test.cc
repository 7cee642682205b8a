// The HTTP/1.1 protocol driver over a transport that is not a socket: bytes in through
// on_data, bytes out through send(), and no zero-copy capability at all (as a TLS transport in
// user space will be). Files then leave in bounded copies instead of sendfile, and nothing in
// the protocol needs a descriptor.
#include "server/h1_conn.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "server/shard.h"
#include "shared/config/load.h"

namespace askr::server {
namespace {

namespace fs = std::filesystem;

// A transport in memory: what the protocol sends is appended to `out`; a send completes when
// the test says so.
class MemoryTransport final : public net::Transport {
 public:
  net::TransportUser* user = nullptr;
  std::string out;
  bool sending = false;
  bool closed = false;
  bool write_shut = false;
  bool can_sendfile = false;  // send_file reads the file into `out`, as the kernel would send it
  int sendfile_calls = 0;

  void start(net::TransportUser* u) override { user = u; }
  ZeroCopy zero_copy() const override { return {can_sendfile, false, false}; }
  bool secure() const override { return true; }
  void resume_recv() override {}
  void pause_recv() override {}
  void stop_recv() override { ADD_FAILURE() << "splice asked of a transport that cannot"; }
  void send(const iovec* iov, size_t count, bool) override {
    EXPECT_FALSE(sending) << "two sends at once";
    for (size_t i = 0; i < count; ++i)
      out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    sending = true;
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

class H1OverMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/askr-h1-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::create_directories(dir_ + "/www");
    big_.resize(200 * 1024);
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = char('a' + i % 23);
    std::ofstream(dir_ + "/www/big.bin") << big_;
    std::ofstream(dir_ + "/www/small.txt") << std::string(4096, 's');
    std::string toml = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"" + dir_ +
                       "/www\"\n[access_log]\nformat = \"off\"\n";
    config::LoadResult r = config::load_string(toml, dir_ + "/askr.toml");
    ASSERT_TRUE(r.config);
    gen_.config = std::move(*r.config);
    auto router = core::Router::build(gen_.config);
    ASSERT_TRUE(router);
    gen_.router.publish(std::make_shared<const core::Router>(std::move(router.value())));
    shard_ = std::make_unique<Shard>(gen_, 0, -1, std::vector<int>{});
    auto t = std::make_unique<MemoryTransport>();
    mt_ = t.get();
    conn_ = std::make_unique<H1Conn>(*shard_, std::move(t));
    conn_->start({});
  }
  void TearDown() override {
    conn_.reset();
    shard_.reset();
    fs::remove_all(dir_);
  }

  // Sends a request and returns everything the connection wrote for it.
  std::string exchange(const std::string& request) {
    mt_->out.clear();
    mt_->user->on_data(request);
    mt_->drain();
    return mt_->out;
  }

  std::string dir_;
  std::string big_;
  Generation gen_;
  std::unique_ptr<Shard> shard_;
  MemoryTransport* mt_ = nullptr;
  std::unique_ptr<H1Conn> conn_;
};

std::string body_of(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

TEST_F(H1OverMemory, LargeFileGoesOutInCopiesWithoutSendfile) {
  std::string r = exchange("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(r.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("Content-Length: 204800\r\n"), std::string::npos);
  EXPECT_TRUE(body_of(r) == big_) << "body of " << body_of(r).size() << " bytes differs";
  EXPECT_FALSE(mt_->closed);
  // The connection goes on: a second request, a small file sent by reference with its head.
  r = exchange("GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(r.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(body_of(r), std::string(4096, 's'));
}

// A cached file from FileCache::kSendfileFrom up goes out with sendfile where the transport can
// (a copy into the socket is what the client then pays for); smaller ones, and every file over
// a transport that cannot, go as bytes with their head.
TEST_F(H1OverMemory, CachedMidSizeFilesGoBySendfileWhereTheTransportCan) {
  std::string mid(8192, 'm');
  for (size_t i = 0; i < mid.size(); ++i) mid[i] = char('A' + i % 26);
  std::ofstream(dir_ + "/www/mid.bin") << mid;
  std::ofstream(dir_ + "/www/tiny.txt") << "tiny";
  mt_->can_sendfile = true;
  for (int i = 0; i < 2; ++i) {  // the first request fills the cache, the second is served from it
    int before = mt_->sendfile_calls;
    std::string r = exchange("GET /mid.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(r.substr(0, 15), "HTTP/1.1 200 OK");
    EXPECT_EQ(body_of(r), mid);
    EXPECT_GT(mt_->sendfile_calls, before);
  }
  int before = mt_->sendfile_calls;
  std::string r = exchange("GET /mid.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=100-199\r\n\r\n");
  ASSERT_EQ(r.substr(0, 12), "HTTP/1.1 206");
  EXPECT_EQ(body_of(r), mid.substr(100, 100));
  EXPECT_GT(mt_->sendfile_calls, before);
  before = mt_->sendfile_calls;
  r = exchange("GET /tiny.txt HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(body_of(r), "tiny");
  EXPECT_EQ(mt_->sendfile_calls, before);
  mt_->can_sendfile = false;  // the same cached file over a transport that cannot: its bytes
  r = exchange("GET /mid.bin HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(body_of(r), mid);
  EXPECT_FALSE(mt_->closed);
}

TEST_F(H1OverMemory, PipelinedRequestsAnswerInOrder) {
  std::string r = exchange(
      "GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /big.bin HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  size_t first = r.find("HTTP/1.1 200 OK");
  size_t second = r.find("HTTP/1.1 200 OK", first + 1);
  size_t third = r.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  ASSERT_NE(third, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(r.find(big_.substr(0, 64)), std::string::npos) << "HEAD sent a body";
  EXPECT_TRUE(mt_->closed);
}

// The answer goes out, then the sending side is shut and what the client still sends is drained
// (no reset that could destroy the answer) until the client closes or the linger ends.
TEST_F(H1OverMemory, BadRequestIsAnsweredAndClosed) {
  std::string r = exchange("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n");
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 400");
  EXPECT_TRUE(mt_->write_shut);
  mt_->user->on_data("more of what the client sent");
  EXPECT_EQ(mt_->out, r);
  EXPECT_FALSE(mt_->closed);
  mt_->user->on_data_end(0);
  EXPECT_TRUE(mt_->closed);
}

}  // namespace
}  // namespace askr::server
