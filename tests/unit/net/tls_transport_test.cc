// TlsTransport driven by hand: a backend that records what the transport sends, and an OpenSSL
// client on memory BIOs that receives exactly those writes, one at a time.
#include "net/tls_transport.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "self_signed.h"

namespace askr::net {
namespace {

// Records each send as one piece of bytes and the object it came from; sends complete only
// when the test says so.
class RecordingBackend final : public loop::Backend {
 public:
  const char* name() const override { return "recording"; }
  void start_accept(loop::IoObject*) override {}
  void stop_accept(loop::IoObject*) override {}
  void resume_recv(loop::IoObject* c) override { obj = c; }
  void pause_recv(loop::IoObject*) override {}
  void stop_recv(loop::IoObject*) override {}
  void sendv(loop::IoObject* c, const iovec* iov, size_t count, bool) override {
    obj = c;
    std::string bytes;
    for (size_t i = 0; i < count; ++i)
      bytes.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    sends.push_back(std::move(bytes));
  }
  void wait_writable(loop::IoObject* c) override { obj = c; }
  void wait_readable(loop::IoObject*) override {}
  void close(loop::IoObject*) override { closed = true; }
  void poll(int) override {}
  void wake() override {}

  loop::IoObject* obj = nullptr;
  std::vector<std::string> sends;
  bool closed = false;
};

struct RecordingUser final : TransportUser {
  void on_data(std::string_view d) override { data += d; }
  void on_data_end(int) override {}
  void on_sent(int error) override {
    sent.push_back(error);
    if (sent_hook) sent_hook();
  }
  void on_writable() override {}
  void on_readable() override {}
  void on_recv_stopped() override {}
  void on_closed() override {}
  std::string data;
  std::vector<int> sent;
  std::function<void()> sent_hook;
};

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cert_.ok);
    config::Site site;
    site.root = cert_.dir;
    site.certificates.emplace_back().certificate = cert_.pem;
    site.certificates.back().key = cert_.key;
    cfg_.sites.push_back(site);
    cfg_.default_site = 0;
    cfg_.tls.ktls = config::Ktls::kOff;
    auto built = TlsContexts::build(cfg_, nullptr);
    ASSERT_TRUE(built) << built.error().message;
    contexts_ = std::shared_ptr<const TlsContexts>(std::move(*built));

    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    peer_fd_ = sv[1];
    transport_ = std::make_unique<TlsTransport>(io_, sv[0], contexts_, counters_);
    transport_->start(&user_);
    transport_->resume_recv();
    ASSERT_NE(io_.obj, nullptr);

    client_ctx_ = SSL_CTX_new(TLS_client_method());
    ASSERT_NE(client_ctx_, nullptr);
    SSL_CTX_set_min_proto_version(client_ctx_, TLS1_3_VERSION);
    client_ = SSL_new(client_ctx_);
    to_client_ = BIO_new(BIO_s_mem());
    from_client_ = BIO_new(BIO_s_mem());
    SSL_set_bio(client_, to_client_, from_client_);
    SSL_set_connect_state(client_);
  }
  void TearDown() override {
    transport_.reset();
    if (client_) SSL_free(client_);
    if (client_ctx_) SSL_CTX_free(client_ctx_);
    if (peer_fd_ >= 0) ::close(peer_fd_);
  }

  // What the client wrote, delivered to the transport as one receive.
  void client_to_server() {
    char buf[16384];
    std::string bytes;
    int n;
    while ((n = BIO_read(from_client_, buf, sizeof buf)) > 0) bytes.append(buf, size_t(n));
    if (!bytes.empty()) io_.obj->on_recv(bytes);
  }
  // Every send the transport made since the last call, completed and given to the client.
  void server_to_client() {
    for (; delivered_ < io_.sends.size(); ++delivered_) {
      const std::string& s = io_.sends[delivered_];
      BIO_write(to_client_, s.data(), int(s.size()));
      io_.obj->on_sent(0);
    }
  }
  void handshake() {
    for (int i = 0; i < 10 && SSL_do_handshake(client_) != 1; ++i) {
      client_to_server();
      server_to_client();
    }
    ASSERT_EQ(SSL_is_init_finished(client_), 1);
    client_to_server();  // the client's Finished
    ASSERT_TRUE(transport_->ready());
    server_to_client();  // anything the server sends after the handshake (no tickets here)
  }
  // The client reads what it was given: the plaintext, and whether close_notify came with it.
  std::string client_read(bool& closed) {
    std::string out;
    char buf[4096];
    closed = false;
    for (;;) {
      int n = SSL_read(client_, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, size_t(n));
        continue;
      }
      closed = SSL_get_error(client_, n) == SSL_ERROR_ZERO_RETURN;
      ERR_clear_error();
      return out;
    }
  }
  void send(std::string_view head, std::string_view body) {
    iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
    transport_->send(iov, 2, false);
  }

  SelfSigned cert_{"askr-tls-transport", "t.test"};
  config::Config cfg_;
  std::shared_ptr<const TlsContexts> contexts_;
  RecordingBackend io_;
  RecordingUser user_;
  TlsCounters counters_;
  std::unique_ptr<TlsTransport> transport_;
  int peer_fd_ = -1;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  BIO* to_client_ = nullptr;
  BIO* from_client_ = nullptr;
  size_t delivered_ = 0;
};

// A connection's last response carries close_notify in its own write: the client has the whole
// response and the end of the stream from one send.
TEST_F(TlsTransportTest, LastSendCarriesCloseNotifyInTheSameWrite) {
  handshake();
  ASSERT_EQ(SSL_write(client_, "GET / HTTP/1.1\r\n\r\n", 18), 18);
  client_to_server();
  EXPECT_EQ(user_.data, "GET / HTTP/1.1\r\n\r\n");

  size_t before = io_.sends.size();
  transport_->last_send();
  send("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n", "hello");
  ASSERT_EQ(io_.sends.size(), before + 1);
  server_to_client();
  bool closed = false;
  EXPECT_EQ(client_read(closed),
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(closed);
  ASSERT_EQ(user_.sent.size(), 1u);
  EXPECT_EQ(user_.sent[0], 0);

  // Shutting down afterwards sends no second close_notify.
  transport_->shutdown_write();
  EXPECT_EQ(io_.sends.size(), before + 1);
}

// Without last_send a response goes alone: the stream stays open for the next one.
TEST_F(TlsTransportTest, KeptAliveResponseHasNoCloseNotify) {
  handshake();
  for (int i = 0; i < 2; ++i) {
    send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "ok");
    server_to_client();
    bool closed = true;
    EXPECT_EQ(client_read(closed), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    EXPECT_FALSE(closed);
  }
}

// TLS records in a run of ciphertext: (content type, length) of each.
std::vector<std::pair<uint8_t, size_t>> records_of(std::string_view c) {
  std::vector<std::pair<uint8_t, size_t>> out;
  while (c.size() >= 5) {
    size_t len = size_t(uint8_t(c[3])) << 8 | uint8_t(c[4]);
    out.emplace_back(uint8_t(c[0]), len);
    c.remove_prefix(std::min(c.size(), 5 + len));
  }
  return out;
}

// Many small pieces in one send (HTTP/2 frame headers between bodies) fill whole records instead
// of making a record each; large pieces and what follows them arrive intact.
TEST_F(TlsTransportTest, SmallPiecesFillWholeRecords) {
  handshake();
  std::vector<std::string> pieces;
  for (int i = 0; i < 60; ++i) {
    pieces.push_back(std::string(9, char('a' + i % 26)));
    pieces.push_back(std::string(i % 7 == 3 ? 40000 : 4096, char('A' + i % 26)));
  }
  pieces.push_back("tail");
  std::vector<iovec> iov;
  std::string want;
  for (const std::string& p : pieces) {
    iov.push_back({const_cast<char*>(p.data()), p.size()});
    want += p;
  }
  size_t before = io_.sends.size();
  transport_->send(iov.data(), iov.size(), false);
  ASSERT_EQ(io_.sends.size(), before + 1);
  size_t data_records = 0;
  for (auto [type, len] : records_of(io_.sends.back())) {
    EXPECT_EQ(type, 0x17);  // TLS 1.3: every record looks like application data
    EXPECT_LE(len, 16384u + 256u);
    ++data_records;
  }
  size_t full = (want.size() + 16383) / 16384;
  EXPECT_LE(data_records, full + 1)
      << "for " << want.size() << " bytes in " << pieces.size() << " pieces";
  server_to_client();
  bool closed = true;
  EXPECT_EQ(client_read(closed), want);
  EXPECT_FALSE(closed);
  ASSERT_EQ(user_.sent.size(), 1u);
  EXPECT_EQ(user_.sent[0], 0);
}

// One piece, small or large, is encrypted from where it lies and arrives as it was.
TEST_F(TlsTransportTest, OnePieceArrivesWhole) {
  handshake();
  for (size_t size : {size_t(1), size_t(16384), size_t(100000)}) {
    std::string body(size, 'x');
    for (size_t i = 0; i < size; i += 97) body[i] = char('0' + i % 10);
    iovec iov{body.data(), body.size()};
    transport_->send(&iov, 1, false);
    server_to_client();
    bool closed = true;
    EXPECT_EQ(client_read(closed), body) << size;
  }
}

// A busy connection sends batch after batch (the next one from on_sent, as HTTP/2 does), all
// of them whole; once it waits with nothing to send, only small buffers stay.
TEST_F(TlsTransportTest, BatchAfterBatchThenSmallBuffersWhenIdle) {
  handshake();
  std::string big(200000, 'b');
  iovec iov{big.data(), big.size()};
  int more = 2;
  user_.sent_hook = [&] {
    if (more-- > 0) transport_->send(&iov, 1, false);
  };
  transport_->send(&iov, 1, false);
  EXPECT_GE(transport_->send_buffer_capacity(), big.size());
  server_to_client();  // each completed send makes the next
  bool closed = true;
  EXPECT_EQ(client_read(closed).size(), 3 * big.size());
  EXPECT_EQ(user_.sent, (std::vector<int>{0, 0, 0}));
  EXPECT_LE(transport_->send_buffer_capacity(), 2 * 16384u);
}

// The large send buffer of a batch outlives the batch in the loop's spares, and the next batch
// (of this connection or another) takes it back, instead of each batch taking fresh memory
// from malloc (and, through it, zeroed pages from the kernel). Buffers too large to keep are
// freed.
TEST_F(TlsTransportTest, IdleConnectionLeavesItsLargeBufferToTheNextBatch) {
  handshake();
  std::string big(200000, 'b');
  iovec iov{big.data(), big.size()};
  size_t before = TlsTransport::spare_send_bytes();
  transport_->send(&iov, 1, false);
  server_to_client();
  bool closed = true;
  EXPECT_EQ(client_read(closed).size(), big.size());
  EXPECT_LE(transport_->send_buffer_capacity(), 2 * 16384u);
  size_t kept = TlsTransport::spare_send_bytes();
  ASSERT_GE(kept, big.size());  // this batch's buffer (perhaps an earlier test's, taken back)
  ASSERT_GE(kept, before);

  transport_->send(&iov, 1, false);  // takes the spare back
  EXPECT_GE(transport_->send_buffer_capacity(), big.size());
  EXPECT_LE(TlsTransport::spare_send_bytes(), kept - big.size());
  server_to_client();
  EXPECT_EQ(client_read(closed).size(), big.size());
  EXPECT_EQ(TlsTransport::spare_send_bytes(), kept);

  std::string huge(3 << 20, 'h');  // past what a loop keeps of one buffer
  iovec iov2{huge.data(), huge.size()};
  transport_->send(&iov2, 1, false);
  server_to_client();
  EXPECT_EQ(client_read(closed).size(), huge.size());
  EXPECT_LE(transport_->send_buffer_capacity(), 2 * 16384u);
  EXPECT_LE(TlsTransport::spare_send_bytes(), 8u << 20);
  EXPECT_EQ(user_.sent, (std::vector<int>{0, 0, 0}));
}

}  // namespace
}  // namespace askr::net
