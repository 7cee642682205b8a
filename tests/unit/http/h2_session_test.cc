// The HTTP/2 session alone, driven by nghttp2's own client session over memory: requests become
// protocol-neutral http::Requests, responses and bodies go out, windows open only as bodies are
// consumed, and the limits nghttp2 leaves to the application hold.
#include "http/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace askr::http {
namespace {

struct Seen {
  int32_t id;
  std::string method, scheme, authority, path, query, protocol, cookie;
  BodyKind body;
  uint64_t length;
};

class Core final : public H2Session::Events {
 public:
  H2Session* session = nullptr;
  bool consume = true;
  std::vector<Seen> requests;
  std::map<int32_t, std::string> bodies;  // request bodies received
  std::map<int32_t, bool> ended;
  std::map<int32_t, uint32_t> closed;
  std::vector<int> refused;  // statuses of the requests the session refused itself
  std::string response_body = "hello";
  std::string big_field;  // a field of the answer's head, when not empty
  bool answer = true;     // answer each request at once

  std::unique_ptr<Request> new_request() override { return std::make_unique<Request>(); }
  void on_request(int32_t id, std::unique_ptr<Request> r, bool) override {
    if (r->body == BodyKind::kLength) declared[id] = int64_t(r->content_length);
    requests.push_back({id, std::string(r->method), std::string(r->scheme),
                        std::string(r->authority), std::string(r->path), std::string(r->query),
                        std::string(r->protocol), std::string(r->known(Known::kCookie)), r->body,
                        r->content_length});
    static const Response::Field f[] = {{"Content-Type", "text/plain"}, {"Connection", "x"}};
    if (!answer) return;
    if (!big_field.empty()) {
      const Response::Field big[] = {{"X-Big", big_field}};
      session->submit_response(id, 200, big, 0, false, "today");
      return;
    }
    if (by_reference) {
      // A body of its own per stream, sent from where it lives (as a cached file is).
      stable_[id] = std::string(3000 + size_t(id), char('a' + id % 26));
      session->submit_response(id, 200, f, stable_[id].size(), true, "today");
      return;
    }
    session->submit_response(id, 200, f, response_body.size(), true, "today");
    left_[id] = response_body;
  }
  void on_body(int32_t id, std::string_view d) override {
    bodies[id] += d;
    if (consume) session->consume(id, d.size());
  }
  void on_body_end(int32_t id) override { ended[id] = true; }
  void on_stream_close(int32_t id, uint32_t e) override { closed[id] = e; }
  void on_refused(int status, uint64_t, std::string_view, std::string_view) override {
    refused.push_back(status);
  }
  ssize_t read_body(int32_t id, size_t len, bool& eof) override {
    if (by_reference) {
      size_t left = stable_[id].size() - pos_[id], n = std::min(len, left);
      eof = n == left;
      return ssize_t(n);
    }
    std::string& s = left_[id];
    size_t n = std::min(len, s.size());
    eof = n == s.size();
    return ssize_t(n);
  }
  bool copy_body(int32_t id, H2Batch& out, size_t n) override {
    if (by_reference) {
      out.reference(std::string_view(stable_[id]).substr(pos_[id], n));
      pos_[id] += n;
      return true;
    }
    std::string& s = left_[id];
    if (n > s.size()) return false;
    out.bytes.append(s, 0, n);
    s.erase(0, n);
    return true;
  }
  int64_t declared_body(int32_t id) override { return declared.count(id) ? declared[id] : -1; }
  bool by_reference = false;
  std::map<int32_t, std::string> stable_;  // by_reference: each stream's body, never moved
  std::map<int32_t, int64_t> declared;     // content-length of the requests that had one

 private:
  std::map<int32_t, std::string> left_;
  std::map<int32_t, size_t> pos_;
};

// nghttp2's client side, with what it received.
class Client {
 public:
  std::map<int32_t, std::string> status, body, content_type, connection;
  std::map<int32_t, uint32_t> reset;
  uint32_t goaway = UINT32_MAX;

  Client() {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
               const uint8_t* v, size_t vl, uint8_t, void* p) {
          auto* c = static_cast<Client*>(p);
          std::string name((const char*)n, nl), value((const char*)v, vl);
          if (name == ":status") c->status[f->hd.stream_id] = value;
          if (name == "content-type") c->content_type[f->hd.stream_id] = value;
          if (name == "connection") c->connection[f->hd.stream_id] = value;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* p) {
          static_cast<Client*>(p)->body[id].append((const char*)d, n);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, void* p) {
          auto* c = static_cast<Client*>(p);
          if (f->hd.type == NGHTTP2_RST_STREAM)
            c->reset[f->hd.stream_id] = f->rst_stream.error_code;
          if (f->hd.type == NGHTTP2_GOAWAY) c->goaway = f->goaway.error_code;
          return 0;
        });
    nghttp2_session_client_new(&s, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(s); }

  std::string authority = "example.org";  // none when empty
  int32_t get(const std::string& path, std::vector<std::pair<std::string, std::string>> extra = {},
              nghttp2_data_provider* body = nullptr, const char* method = "GET") {
    std::vector<std::pair<std::string, std::string>> h = {
        {":method", method}, {":scheme", "https"}, {":authority", authority}, {":path", path}};
    if (authority.empty()) h.erase(h.begin() + 2);
    h.insert(h.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nv;
    for (auto& [n, v] : h) {
      nv.push_back(
          {(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    return nghttp2_submit_request(s, nullptr, nv.data(), nv.size(), body, this);
  }

  // What the client has to send, taken rather than sent.
  std::string take() {
    std::string out;
    const uint8_t* p;
    for (ssize_t n; (n = nghttp2_session_mem_send(s, &p)) > 0;) out.append((const char*)p, n);
    return out;
  }

  // Moves bytes both ways until neither side has more. False once the server reports the
  // connection over.
  bool pump(H2Session& server, int64_t now = 0, size_t max_refs = SIZE_MAX,
            std::vector<size_t>* refs = nullptr) {
    bool alive = true;
    for (int i = 0; i < 100; ++i) {
      std::string out;
      const uint8_t* p;
      for (ssize_t n; (n = nghttp2_session_mem_send(s, &p)) > 0;) out.append((const char*)p, n);
      if (!out.empty()) alive = server.recv(out, now) && alive;
      H2Batch batch;
      server.pull(batch, 1 << 20, max_refs);
      if (refs && !batch.empty()) refs->push_back(batch.refs.size());
      std::string back = batch.flat();
      if (!back.empty()) nghttp2_session_mem_recv(s, (const uint8_t*)back.data(), back.size());
      if (out.empty() && back.empty()) break;
    }
    return alive;
  }

  nghttp2_session* s;
};

// A 200,000-byte request body, sent by the client as the windows let it: upload() starts it
// again.
const std::string upload_payload(200000, 'p');
size_t upload_sent = 0;

nghttp2_data_provider upload() {
  upload_sent = 0;
  nghttp2_data_provider dp;
  dp.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                        nghttp2_data_source*, void*) -> ssize_t {
    size_t n = std::min(len, upload_payload.size() - upload_sent);
    std::copy(upload_payload.begin() + upload_sent, upload_payload.begin() + upload_sent + n, buf);
    upload_sent += n;
    if (upload_sent == upload_payload.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return ssize_t(n);
  };
  return dp;
}

class H2SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { make(); }
  void make() {
    server_ = std::make_unique<H2Session>(core_, limits_, &shared_);
    core_.session = server_.get();
  }
  H2Limits limits_;
  H2Counters shared_;
  Core core_;
  Client client_;
  std::unique_ptr<H2Session> server_;
};

TEST_F(H2SessionTest, RequestBecomesProtocolNeutral) {
  int32_t id = client_.get("/a/b?x=1", {{"cookie", "a=1"}, {"cookie", "b=2"}, {"x-y", "z"}});
  ASSERT_TRUE(client_.pump(*server_));
  ASSERT_EQ(core_.requests.size(), 1u);
  const Seen& r = core_.requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.scheme, "https");
  EXPECT_EQ(r.authority, "example.org");
  EXPECT_EQ(r.path, "/a/b");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.protocol, "HTTP/2.0");
  EXPECT_EQ(r.cookie, "a=1; b=2");  // crumbs joined (RFC 9113 §8.2.3)
  EXPECT_EQ(r.body, BodyKind::kNone);
  EXPECT_EQ(client_.status[id], "200");
  EXPECT_EQ(client_.body[id], "hello");
  EXPECT_EQ(client_.content_type[id], "text/plain");
  EXPECT_EQ(client_.connection.count(id), 0u);  // connection-specific: never sent
  EXPECT_EQ(core_.closed.count(id), 1u);
  EXPECT_EQ(server_->counters().streams, 1u);
  EXPECT_EQ(shared_.streams, 1u);
}

// A fragment is no part of the path or the query (RFC 3986 §3.5): nginx cuts it off, and a file
// is found without it.
TEST_F(H2SessionTest, FragmentIsCutFromPathAndQuery) {
  client_.get("/a.txt#x");
  client_.get("/b?q=1#f?g");
  client_.get("/c#f?g");
  ASSERT_TRUE(client_.pump(*server_));
  ASSERT_EQ(core_.requests.size(), 3u);
  EXPECT_EQ(core_.requests[0].path, "/a.txt");
  EXPECT_EQ(core_.requests[0].query, "");
  EXPECT_EQ(core_.requests[1].path, "/b");
  EXPECT_EQ(core_.requests[1].query, "q=1");
  EXPECT_EQ(core_.requests[2].path, "/c");
  EXPECT_EQ(core_.requests[2].query, "");
}

// Bodies referenced where they live (not copied) go out in their place among the frames, each
// stream's own, and a batch holds at most the references it was allowed: the rest waits for the
// next pull.
TEST_F(H2SessionTest, ReferencedBodiesKeepTheirPlaceAndTheBatchBound) {
  core_.by_reference = true;
  std::vector<int32_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(client_.get("/f" + std::to_string(i)));
  std::vector<size_t> refs;
  ASSERT_TRUE(client_.pump(*server_, 0, 3, &refs));
  for (int32_t id : ids) {
    EXPECT_EQ(client_.status[id], "200");
    EXPECT_TRUE(client_.body[id] == core_.stable_[id]) << id << ": " << client_.body[id].size();
  }
  size_t most = 0, all = 0;
  for (size_t n : refs) most = std::max(most, n), all += n;
  EXPECT_EQ(most, 3u);
  EXPECT_EQ(all, ids.size());
  // H2Batch alone: pieces in order, empty ones left out.
  H2Batch b;
  b.bytes = "ab";
  b.reference("XY");
  b.reference("");
  b.bytes += "cd";
  b.reference("Z");
  EXPECT_EQ(b.flat(), "abXYcdZ");
  EXPECT_EQ(b.size(), 7u);
  std::vector<std::string> pieces;
  b.for_each_piece([&](std::string_view p) { pieces.emplace_back(p); });
  EXPECT_EQ(pieces, (std::vector<std::string>{"ab", "XY", "cd", "Z"}));
}

// A request body opens the client's window only as the core consumes it.
TEST_F(H2SessionTest, BodyRespectsTheWindow) {
  core_.consume = false;
  core_.answer = false;  // a complete answer would end the request (the next test)
  const std::string& payload = upload_payload;
  nghttp2_data_provider dp = upload();
  int32_t id = client_.get("/up", {{"content-length", "200000"}}, &dp, "POST");
  client_.pump(*server_);
  ASSERT_EQ(core_.requests.size(), 1u);
  EXPECT_EQ(core_.requests[0].body, BodyKind::kLength);
  EXPECT_EQ(core_.requests[0].length, 200000u);
  EXPECT_EQ(core_.bodies[id].size(), 65535u);  // the initial window, and not a byte more
  EXPECT_FALSE(core_.ended[id]);
  // Once it is consumed, the windows open and the rest comes (consumed as it arrives).
  core_.consume = true;
  server_->consume(id, core_.bodies[id].size());
  client_.pump(*server_);
  EXPECT_TRUE(core_.ended[id]);
  EXPECT_EQ(core_.bodies[id], payload);
}

// A stream may send body_preread bytes before its handler reads, whatever initial_window is:
// that much and no more is held for a request that waits (for a PHP worker). Once the handler
// reads (open_stream), the window is initial_window, and the body comes without waiting for
// each piece to be consumed.
TEST_F(H2SessionTest, BodyPrereadUntilTheHandlerReads) {
  limits_.body_preread = 16384;
  limits_.initial_window = 256 << 10;
  make();
  client_.get("/");  // the SETTINGS exchanged and acknowledged first
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_EQ(nghttp2_session_get_remote_settings(client_.s, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
            16384u);
  core_.consume = false;
  core_.answer = false;
  const std::string& payload = upload_payload;
  nghttp2_data_provider dp = upload();
  int32_t id = client_.get("/up", {{"content-length", "200000"}}, &dp, "POST");
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_EQ(core_.bodies[id].size(), 16384u);  // the preread, not a byte more
  // Consumed without reading on (a handler that only holds it): the preread again.
  server_->consume(id, core_.bodies[id].size());
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_EQ(core_.bodies[id].size(), 32768u);
  // The handler reads: the rest of the body fits the window it has now, unconsumed.
  server_->consume(id, 16384);
  server_->open_stream(id);
  server_->open_stream(id);  // again: nothing more
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_TRUE(core_.ended[id]);
  EXPECT_EQ(core_.bodies[id], payload);
}

// A response complete before its request body: RST_STREAM NO_ERROR once the response is out
// (RFC 9113 §8.1), so the client stops sending a body nobody will read.
TEST_F(H2SessionTest, ResponseCompleteBeforeTheBodyEndsTheStream) {
  nghttp2_data_provider dp;
  dp.read_callback = [](nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*,
                        nghttp2_data_source*, void*) -> ssize_t { return NGHTTP2_ERR_DEFERRED; };
  // More than the stream's window: the client would wait for a WINDOW_UPDATE.
  int32_t id = client_.get("/up", {{"content-length", "1000000"}}, &dp, "POST");
  client_.pump(*server_);
  EXPECT_EQ(client_.status[id], "200");
  EXPECT_EQ(client_.body[id], "hello");
  ASSERT_EQ(client_.reset.count(id), 1u);
  EXPECT_EQ(client_.reset[id], uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_EQ(core_.closed[id], uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_EQ(server_->counters().resets_sent, 0u);  // no error: not counted as one
  // A GET (its request complete with its head) gets no RST_STREAM.
  int32_t get = client_.get("/");
  client_.pump(*server_);
  EXPECT_EQ(client_.body[get], "hello");
  EXPECT_EQ(client_.reset.count(get), 0u);
}

// A head nghttp2 will not send (beyond what it encodes, 64 MiB) resets its stream, and the
// connection goes on; the stream waited for its head for good.
TEST_F(H2SessionTest, HeadTooLargeToSendResetsItsStream) {
  core_.big_field.assign(65 << 20, 'b');
  int32_t id = client_.get("/big");
  client_.pump(*server_);
  EXPECT_EQ(client_.status.count(id), 0u);
  ASSERT_EQ(client_.reset.count(id), 1u);
  EXPECT_EQ(client_.reset[id], uint32_t(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(core_.closed[id], uint32_t(NGHTTP2_INTERNAL_ERROR));
  core_.big_field.clear();
  core_.big_field.shrink_to_fit();
  int32_t next = client_.get("/");
  client_.pump(*server_);
  EXPECT_EQ(client_.body[next], "hello");
}

// A body that fits in the window the client has (a form's few bytes, sent after the head) is
// let in after a response that did not wait for it, and dropped, with no RST_STREAM: curl fails
// a request whose upload was reset, even with NO_ERROR after a whole response.
TEST_F(H2SessionTest, DeclaredBodyWithinTheWindowIsLetInAfterTheResponse) {
  static bool ready;
  ready = false;
  nghttp2_data_provider dp;
  dp.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t, uint32_t* flags,
                        nghttp2_data_source*, void*) -> ssize_t {
    if (!ready) return NGHTTP2_ERR_DEFERRED;
    std::memcpy(buf, "a=b", 3);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 3;
  };
  int32_t id = client_.get("/form", {{"content-length", "3"}}, &dp, "POST");
  client_.pump(*server_);
  EXPECT_EQ(client_.status[id], "200");
  EXPECT_EQ(client_.body[id], "hello");
  EXPECT_EQ(client_.reset.count(id), 0u);
  EXPECT_EQ(core_.closed.count(id), 0u);  // open: the body may come
  ready = true;
  nghttp2_session_resume_data(client_.s, id);
  client_.pump(*server_);
  EXPECT_EQ(client_.reset.count(id), 0u);
  EXPECT_EQ(core_.closed[id], uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_EQ(server_->counters().resets_sent, 0u);
}

TEST_F(H2SessionTest, HeaderListOverTheLimitIs431) {
  limits_.max_header_list = 1024;
  make();
  int32_t id = client_.get("/", {{"x-big", std::string(2000, 'v')}});
  client_.pump(*server_);
  EXPECT_TRUE(core_.requests.empty());
  EXPECT_EQ(client_.status[id], "431");
  // Each field counts 32 bytes more than its name and value: 40 one-byte fields are 1360.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 40; ++i) many.push_back({"x" + std::to_string(i % 10), "v"});
  id = client_.get("/", many);
  client_.pump(*server_);
  EXPECT_EQ(client_.status[id], "431");
  EXPECT_EQ(server_->counters().bad_headers, 2u);
  EXPECT_EQ(core_.refused, (std::vector<int>{431, 431}));  // each for the access log
}

TEST_F(H2SessionTest, HostMustMatchAuthority) {
  int32_t id = client_.get("/", {{"host", "other.example"}});
  client_.pump(*server_);
  EXPECT_TRUE(core_.requests.empty());
  EXPECT_EQ(client_.reset[id], uint32_t(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_EQ(core_.refused, std::vector<int>{400});
}

// The host that names the site (and a redirect's Location) follows the grammar HTTP/1.1's Host
// is held to: userinfo, a broken percent-escape or sub-delims in :authority or host make the
// request malformed (RFC 9113 §8.3.1), never a Location that leads to another host.
TEST_F(H2SessionTest, AuthorityOutsideTheHostGrammarIsRefused) {
  std::vector<int32_t> ids;
  for (const char* a : {"good.example@evil.example", "evil.example%2", "evil%zz", "a(b)", "a,b",
                        ":443", ".", "..", "a..b", "h:abc", "a:b:80"}) {
    client_.authority = a;
    ids.push_back(client_.get("/"));
  }
  client_.authority = "";
  ids.push_back(client_.get("/", {{"host", "good.example@evil.example"}}));
  client_.authority = "[::1]:8443";
  int32_t ok = client_.get("/");
  client_.authority = "a%20B.example";  // pct-encoded octets are a reg-name's (RFC 3986 §3.2.2)
  int32_t escaped = client_.get("/");
  client_.pump(*server_);
  for (int32_t id : ids) EXPECT_EQ(client_.reset[id], uint32_t(NGHTTP2_PROTOCOL_ERROR)) << id;
  ASSERT_EQ(core_.requests.size(), 2u);
  EXPECT_EQ(core_.requests[0].authority, "[::1]:8443");
  EXPECT_EQ(core_.requests[1].authority, "a%20B.example");
  EXPECT_EQ(client_.status[ok], "200");
  EXPECT_EQ(client_.status[escaped], "200");
}

TEST_F(H2SessionTest, RapidResetRunsOutTheBudget) {
  limits_.reset_burst = 10;
  limits_.reset_rate = 0;
  make();
  client_.pump(*server_);  // the prefaces and SETTINGS
  // Each request's HEADERS, then its RST_STREAM, all in one batch as an attacker sends them.
  std::string wire;
  const uint8_t* p;
  for (int i = 0; i < 50; ++i) {
    int32_t id = client_.get("/php");
    for (ssize_t n; (n = nghttp2_session_mem_send(client_.s, &p)) > 0;)
      wire.append((const char*)p, n);
    nghttp2_submit_rst_stream(client_.s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    for (ssize_t n; (n = nghttp2_session_mem_send(client_.s, &p)) > 0;)
      wire.append((const char*)p, n);
  }
  EXPECT_FALSE(server_->recv(wire, 0));
  client_.pump(*server_);
  EXPECT_EQ(client_.goaway, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(core_.requests.empty());  // reset in the batch that carried them
  EXPECT_EQ(server_->counters().floods, 1u);
  EXPECT_GE(server_->counters().resets_received, 10u);
}

// A client GOAWAY (NO_ERROR, last stream 0), as raw bytes.
std::string client_goaway() {
  return std::string("\0\0\x08\x07\0\0\0\0\0\0\0\0\0\0\0\0\0", 17);
}

// The client's GOAWAY bounds the streams the server opens (RFC 9113 §6.8), not the client's own:
// a request after it is served, as nginx and h2o serve it; the connection was done once no
// stream was open, and the request went unanswered.
TEST_F(H2SessionTest, StreamsAfterTheClientsGoawayAreServed) {
  int32_t first = client_.get("/a");
  ASSERT_TRUE(client_.pump(*server_));
  ASSERT_TRUE(server_->recv(client_goaway(), 0));
  EXPECT_FALSE(server_->done());
  int32_t second = client_.get("/b");
  ASSERT_TRUE(client_.pump(*server_));
  ASSERT_EQ(core_.requests.size(), 2u);
  EXPECT_EQ(client_.status[first], "200");
  EXPECT_EQ(client_.status[second], "200");
  EXPECT_EQ(client_.body[second], "hello");
}

// A graceful shutdown in two steps (RFC 9113 §6.8): the first GOAWAY refuses nothing, so a
// request the client sends before it reads it is served; the final GOAWAY goes out once the
// PING sent behind the first comes back, and ends the connection.
TEST_F(H2SessionTest, ShutdownNoticeThenTheFinalGoawayOnThePingsAck) {
  int32_t first = client_.get("/a");
  ASSERT_TRUE(client_.pump(*server_));
  server_->shutdown_notice();
  EXPECT_TRUE(server_->noticing());
  int32_t second = client_.get("/b");
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_FALSE(server_->noticing());
  EXPECT_EQ(client_.status[first], "200");
  EXPECT_EQ(client_.status[second], "200");
  EXPECT_EQ(client_.goaway, uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_EQ(server_->counters().goaways, 2u);
  EXPECT_TRUE(server_->done());
}

// The same, with every byte in a read of its own: frame headers cut anywhere are whole before
// anything is decided about their frames.
TEST_F(H2SessionTest, ClientBytesCutAnywhereAreReadAsOne) {
  const uint8_t* p;
  std::string wire;
  auto take = [&] {
    for (ssize_t n; (n = nghttp2_session_mem_send(client_.s, &p)) > 0;)
      wire.append((const char*)p, n);
  };
  int32_t first = client_.get("/a");
  take();
  wire += client_goaway();
  int32_t second = client_.get("/b");
  take();
  for (char c : wire) ASSERT_TRUE(server_->recv(std::string_view(&c, 1), 0));
  ASSERT_TRUE(client_.pump(*server_));
  ASSERT_EQ(core_.requests.size(), 2u);
  EXPECT_EQ(core_.requests[1].path, "/b");
  EXPECT_EQ(client_.status[first], "200");
  EXPECT_EQ(client_.status[second], "200");
}

// A PRIORITY frame of 4 bytes on stream `id`, as raw bytes.
std::string short_priority(int32_t id) {
  return std::string("\0\0\x04\x02\0\0\0\0", 8) + char(id) + std::string(4, '\0');
}

// A PRIORITY frame of another size than 5 is an error of its stream alone (RFC 9113 §6.3): the
// stream is reset with FRAME_SIZE_ERROR and the others go on; the connection was ended. On a
// stream never opened there is nothing to reset, and the frame is dropped.
TEST_F(H2SessionTest, PriorityOfTheWrongSizeResetsItsStreamAlone) {
  core_.answer = false;
  int32_t first = client_.get("/a");
  ASSERT_TRUE(client_.pump(*server_));
  ASSERT_EQ(core_.requests.size(), 1u);
  ASSERT_TRUE(server_->recv(short_priority(first) + short_priority(first + 10), 0));
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_EQ(client_.reset[first], uint32_t(NGHTTP2_FRAME_SIZE_ERROR));
  EXPECT_EQ(core_.closed[first], uint32_t(NGHTTP2_FRAME_SIZE_ERROR));
  EXPECT_EQ(client_.reset.count(first + 10), 0u);
  EXPECT_EQ(client_.goaway, UINT32_MAX);
  core_.answer = true;
  int32_t second = client_.get("/b");
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_EQ(client_.status[second], "200");
}

// The same when the PRIORITY frame comes in the bytes that open its stream: the stream is
// known by the time the frame is answered.
TEST_F(H2SessionTest, PriorityOfTheWrongSizeInTheBytesThatOpenItsStream) {
  core_.answer = false;
  ASSERT_TRUE(client_.pump(*server_));
  int32_t id = client_.get("/a");
  ASSERT_TRUE(server_->recv(client_.take() + short_priority(id), 0));
  ASSERT_TRUE(client_.pump(*server_));
  EXPECT_EQ(client_.reset[id], uint32_t(NGHTTP2_FRAME_SIZE_ERROR));
  EXPECT_EQ(client_.goaway, UINT32_MAX);
}

TEST_F(H2SessionTest, StreamsPerConnectionBudget) {
  limits_.max_streams = 3;
  make();
  for (int i = 0; i < 3; ++i) {
    client_.get("/");
    client_.pump(*server_);
  }
  EXPECT_EQ(core_.requests.size(), 3u);
  EXPECT_EQ(client_.goaway, uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_EQ(server_->counters().goaways, 1u);
}

// Streams over the advertised concurrency, sent before the client has acknowledged it, are
// refused: the client may retry them.
TEST_F(H2SessionTest, ConcurrencyRefusesStreams) {
  limits_.max_concurrent_streams = 2;
  make();
  core_.response_body = std::string(200000, 'b');  // larger than the window: streams stay open
  std::vector<int32_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(client_.get("/"));
  std::string wire;
  const uint8_t* p;
  for (ssize_t n; (n = nghttp2_session_mem_send(client_.s, &p)) > 0;)
    wire.append((const char*)p, n);
  EXPECT_TRUE(server_->recv(wire, 0));
  H2Batch batch;
  server_->pull(batch, 1 << 20);
  std::string back = batch.flat();
  nghttp2_session_mem_recv(client_.s, (const uint8_t*)back.data(), back.size());
  EXPECT_EQ(core_.requests.size(), 2u);
  EXPECT_EQ(client_.reset[ids[2]], uint32_t(NGHTTP2_REFUSED_STREAM));
  EXPECT_EQ(server_->counters().refused, 1u);
}

TEST_F(H2SessionTest, PingFlood) {
  limits_.flood_burst = 20;
  limits_.flood_rate = 0;
  make();
  for (int i = 0; i < 30; ++i) nghttp2_submit_ping(client_.s, NGHTTP2_FLAG_NONE, nullptr);
  EXPECT_FALSE(client_.pump(*server_));
  EXPECT_EQ(client_.goaway, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
}

// A connection-level WINDOW_UPDATE of 1, as raw bytes.
std::string window_update() {
  return std::string("\0\0\4\x08\0\0\0\0\0\0\0\0\1", 13);
}

// Each DATA frame sent earns its WINDOW_UPDATEs, kept until they come: a client that reads
// late finds every frame that waited meanwhile (many more than the flood burst) and acknowledges
// each, and it is not taken for a flood. Beyond what was earned, the budget holds as before.
TEST_F(H2SessionTest, WindowUpdatesEarnedByDataFramesAreKeptUntilTheyCome) {
  limits_.flood_burst = 10;
  limits_.flood_rate = 0;
  make();
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(client_.get("/f" + std::to_string(i)));
  std::string wire;
  const uint8_t* p;
  for (ssize_t n; (n = nghttp2_session_mem_send(client_.s, &p)) > 0;)
    wire.append((const char*)p, n);
  ASSERT_TRUE(server_->recv(wire, 0));
  H2Batch batch;  // all 40 responses at once, none read yet
  ASSERT_TRUE(server_->pull(batch, 1 << 20));
  std::string back = batch.flat();
  nghttp2_session_mem_recv(client_.s, (const uint8_t*)back.data(), back.size());
  for (int32_t id : ids) ASSERT_EQ(client_.body[id], "hello") << id;
  // One WINDOW_UPDATE per DATA frame read, and as many again (the streams' own): all earned.
  std::string acks;
  for (size_t i = 0; i < 2 * ids.size(); ++i) acks += window_update();
  EXPECT_TRUE(server_->recv(acks, 0));
  EXPECT_EQ(server_->failure(), nullptr);
  // Then the burst, and no more.
  std::string more;
  for (uint32_t i = 0; i < limits_.flood_burst; ++i) more += window_update();
  EXPECT_TRUE(server_->recv(more, 0));
  EXPECT_FALSE(server_->recv(window_update(), 0));
  EXPECT_STREQ(server_->failure(), "a WINDOW_UPDATE flood");
  batch.clear();
  server_->pull(batch, 1 << 20);
  back = batch.flat();
  nghttp2_session_mem_recv(client_.s, (const uint8_t*)back.data(), back.size());
  EXPECT_EQ(client_.goaway, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(server_->counters().floods, 1u);
}

TEST(H2Budget, RefillsAtItsRate) {
  Budget b;
  b.set(2, 10);
  EXPECT_TRUE(b.take(0));
  EXPECT_TRUE(b.take(0));
  EXPECT_FALSE(b.take(0));
  EXPECT_TRUE(b.take(100));  // 10 per second: one more after 100 ms
  EXPECT_FALSE(b.take(100));
}

// Earned events are kept beyond the burst, spent first, and leave the bucket's tokens be.
TEST(H2Budget, EarnedEventsAreKeptBeyondTheBurst) {
  Budget b;
  b.set(2, 0);
  b.give(5);
  for (int i = 0; i < 5 + 2; ++i) EXPECT_TRUE(b.take(0)) << i;
  EXPECT_FALSE(b.take(0));
  b.give(1);
  EXPECT_TRUE(b.take(1000));
  EXPECT_FALSE(b.take(1000));
}

}  // namespace
}  // namespace askr::http
