// The HTTP/2 protocol driver over a transport in memory with no zero-copy capability, as TLS in
// user space is: an nghttp2 client on the other side, sends completed when the test says so.
#include "server/h2_conn.h"

#include <nghttp2/nghttp2.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "memory_transport.h"

namespace askr::server {
namespace {

// nghttp2's client side, with the windows h2load opens (1 GiB for the connection and for each
// stream), and the responses it received.
class H2Client {
 public:
  std::map<int32_t, std::string> status, body;
  std::map<int32_t, bool> ended;

  H2Client() {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
               const uint8_t* v, size_t vl, uint8_t, void* p) {
          if (std::string_view((const char*)n, nl) == ":status")
            static_cast<H2Client*>(p)->status[f->hd.stream_id].assign((const char*)v, vl);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* p) {
          static_cast<H2Client*>(p)->body[id].append((const char*)d, n);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t error, void* p) {
          static_cast<H2Client*>(p)->ended[id] = error == 0;
          return 0;
        });
    nghttp2_session_client_new(&s_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 30}};
    nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(s_, NGHTTP2_FLAG_NONE, 0, 1 << 30);
  }
  ~H2Client() { nghttp2_session_del(s_); }
  H2Client(const H2Client&) = delete;
  H2Client& operator=(const H2Client&) = delete;

  int32_t get(const std::string& path) {
    std::string m = "GET", sc = "https", a = "example.org";
    nghttp2_nv nv[] = {
        {(uint8_t*)":method", (uint8_t*)m.data(), 7, m.size(), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)":scheme", (uint8_t*)sc.data(), 7, sc.size(), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)":authority", (uint8_t*)a.data(), 10, a.size(), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)":path", (uint8_t*)path.data(), 5, path.size(), NGHTTP2_NV_FLAG_NONE}};
    return nghttp2_submit_request(s_, nullptr, nv, 4, nullptr, nullptr);
  }
  // What the client has to send.
  std::string take() {
    std::string out;
    const uint8_t* p;
    for (ssize_t n; (n = nghttp2_session_mem_send(s_, &p)) > 0;) out.append((const char*)p, n);
    return out;
  }
  bool receive(const std::string& bytes) {
    return nghttp2_session_mem_recv(s_, (const uint8_t*)bytes.data(), bytes.size()) ==
           ssize_t(bytes.size());
  }

 private:
  nghttp2_session* s_;
};

class H2OverMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(world_.dir + "/www/4k.bin") << std::string(4096, 'f');
    ASSERT_NO_FATAL_FAILURE(world_.start());
    auto t = std::make_unique<MemoryTransport>();
    mt_ = t.get();
    conn_ = std::make_unique<H2Conn>(world_.shard(), std::move(t));
    conn_->start({});
    mt_->drain();  // our SETTINGS
    ASSERT_TRUE(client_.receive(mt_->out));
    mt_->out.clear();
  }
  void TearDown() override { conn_.reset(); }

  MemoryShard world_;
  MemoryTransport* mt_ = nullptr;
  std::unique_ptr<H2Conn> conn_;
  H2Client client_;
};

// A hundred concurrent responses of 4 KiB (h2load -m100 on a small file) leave in one send, not
// in a send per quarter of them, though the transport keeps a copy of what it sends.
TEST_F(H2OverMemory, HundredSmallResponsesLeaveInOneSend) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(client_.get("/4k.bin"));
  int before = mt_->sends;
  mt_->user->on_data(client_.take());
  ASSERT_TRUE(mt_->sending);
  EXPECT_EQ(mt_->sends, before + 1);
  ASSERT_TRUE(client_.receive(mt_->out));  // what that one send carries
  size_t whole = 0;
  for (int32_t id : ids) {
    whole += client_.status[id] == "200" && client_.ended[id] &&
             client_.body[id] == std::string(4096, 'f');
  }
  EXPECT_EQ(whole, ids.size()) << "responses complete after the first send";
  mt_->out.clear();
  mt_->drain();
  EXPECT_FALSE(mt_->closed);
}

}  // namespace
}  // namespace askr::server
