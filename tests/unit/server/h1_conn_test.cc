// The HTTP/1.1 protocol driver over a transport that is not a socket: bytes in through
// on_data, bytes out through send(), and no zero-copy capability at all (as a TLS transport in
// user space will be). Files then leave in bounded copies instead of sendfile, and nothing in
// the protocol needs a descriptor.
#include "server/h1_conn.h"

#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "memory_transport.h"

namespace askr::server {
namespace {

class H1OverMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = world_.dir;
    big_.resize(200 * 1024);
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = char('a' + i % 23);
    std::ofstream(dir_ + "/www/big.bin") << big_;
    std::ofstream(dir_ + "/www/small.txt") << std::string(4096, 's');
    ASSERT_NO_FATAL_FAILURE(world_.start());
    auto t = std::make_unique<MemoryTransport>();
    mt_ = t.get();
    conn_ = std::make_unique<H1Conn>(world_.shard(), std::move(t));
    conn_->start({});
  }
  void TearDown() override { conn_.reset(); }

  // Sends a request and returns everything the connection wrote for it.
  std::string exchange(const std::string& request) {
    mt_->out.clear();
    mt_->user->on_data(request);
    mt_->drain();
    return mt_->out;
  }

  MemoryShard world_;
  std::string dir_;
  std::string big_;
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
