// libFuzzer target for the HTTP/2 server session (http::H2Session over nghttp2), with a fake
// request core behind it.
//
// The input is fed to the session in pieces (split at points the input chooses), with the clock
// moving on between them, after the client preface (prepended when the input does not start
// with it, so that the fuzzer reaches the frames). The fake core answers every request: some at
// once, some with a body that arrives over later pieces, some with a reset; it consumes request
// bodies, sometimes late, and then reads on (the stream's window grows past the preread). Between
// pieces everything the session has to send is pulled out.
// Beyond memory safety (ASan/UBSan), the target checks the contracts: every request handed over
// has a method and a scheme, and every view of it can be read (ASan: inside live storage); no
// stream is handed over twice, and body bytes and closes arrive only for streams handed over and
// not closed; the streams the session reports open stay within the configured concurrency; a
// session that reported the connection over accepts nothing more.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "http/h2_session.h"

namespace {

using askr::http::H2Batch;
using askr::http::H2Limits;
using askr::http::H2Session;
using askr::http::Request;
using askr::http::Response;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class FakeCore final : public H2Session::Events {
 public:
  H2Session* session = nullptr;
  uint32_t choice = 0;  // from the input: how to answer

  std::unique_ptr<Request> new_request() override { return std::make_unique<Request>(); }

  void on_request(int32_t id, std::unique_ptr<Request> req, bool end_stream) override {
    FUZZ_CHECK(open_.count(id) == 0 && seen_.count(id) == 0);
    seen_.insert(id);
    open_.insert(id);
    FUZZ_CHECK(!req->method.empty());
    FUZZ_CHECK(!req->scheme.empty());
    // Every view is read, so that ASan reports one that points anywhere but live storage.
    size_t sum = 0;
    for (std::string_view v :
         {req->method, req->scheme, req->authority, req->target, req->path, req->query}) {
      for (char c : v) sum += uint8_t(c);
    }
    for (const auto& h : req->headers) {
      FUZZ_CHECK(!h.name.empty());
      for (char c : h.name) sum += uint8_t(c);
      for (char c : h.value) sum += uint8_t(c);
    }
    FUZZ_CHECK(req->target.starts_with(req->path));
    checksum_ += sum;
    (void)end_stream;
    static const Response::Field fields[] = {{"Content-Type", "text/plain"},
                                             {"Connection", "close"}};
    switch ((choice++ ^ uint32_t(id)) % 4) {
      case 0:
        session->submit_response(id, 200, fields, 5, true, "today");
        bodies_[id] = "hello";
        break;
      case 1:
        session->submit_response(id, 204, {}, std::nullopt, false, "");
        break;
      case 2:
        session->submit_interim(id, 103, fields);
        session->submit_response(id, 200, fields, std::nullopt, true, "");
        late_.insert(id);  // the body comes with the next piece
        break;
      default:
        session->reset(id, 8);
        break;
    }
  }
  void on_body(int32_t id, std::string_view data) override {
    FUZZ_CHECK(open_.count(id) == 1);
    if (choice & 1) {
      session->consume(id, data.size());
    } else {
      unconsumed_[id] += data.size();
    }
  }
  void on_body_end(int32_t id) override { FUZZ_CHECK(open_.count(id) == 1); }
  void on_refused(int status, uint64_t, std::string_view, std::string_view) override {
    FUZZ_CHECK(status == 400 || status == 431);
  }
  void on_stream_close(int32_t id, uint32_t) override {
    FUZZ_CHECK(open_.erase(id) == 1);
    bodies_.erase(id);
    late_.erase(id);
    unconsumed_.erase(id);
  }
  ssize_t read_body(int32_t id, size_t len, bool& eof) override {
    FUZZ_CHECK(open_.count(id) == 1);
    auto it = bodies_.find(id);
    if (it == bodies_.end()) return late_.count(id) ? -1 : (eof = true, 0);
    size_t n = std::min(len, it->second.size());
    eof = n == it->second.size();
    if (n == 0) bodies_.erase(it);
    return ssize_t(n);
  }
  bool copy_body(int32_t id, H2Batch& out, size_t n) override {
    FUZZ_CHECK(open_.count(id) == 1);
    auto it = bodies_.find(id);
    FUZZ_CHECK(it != bodies_.end() && n > 0 && n <= it->second.size());
    out.bytes.append(it->second, 0, n);
    it->second.erase(0, n);
    if (it->second.empty()) bodies_.erase(it);
    return true;
  }
  // Between pieces: late bodies arrive, held request bytes are consumed.
  void later() {
    for (int32_t id : late_) {
      bodies_[id] = "late body";
      session->resume(id);
    }
    late_.clear();
    for (auto& [id, n] : unconsumed_) {
      session->consume(id, n);
      session->open_stream(id);
    }
    unconsumed_.clear();
  }

 private:
  std::set<int32_t> seen_, open_, late_;
  std::map<int32_t, std::string> bodies_;
  std::map<int32_t, size_t> unconsumed_;
  size_t checksum_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint32_t choice = size ? data[0] : 0;
  H2Limits limits;
  limits.max_concurrent_streams = 8;
  limits.max_streams = 64;
  limits.flood_burst = 32;
  limits.reset_burst = 8;
  limits.max_header_list = 4096;
  limits.max_fields = 32;
  limits.body_preread = 4096;
  FakeCore core;
  core.choice = choice;
  H2Session session(core, limits);
  core.session = &session;
  std::string input =
      in.starts_with(kPreface) ? std::string(in) : std::string(kPreface) + std::string(in);
  H2Batch out;
  int64_t now = 1000;
  bool alive = true;
  size_t pos = 0;
  while (pos < input.size()) {
    // Piece sizes from the input itself: 1..64 bytes, or the rest.
    size_t piece = size_t(uint8_t(input[pos]) % 65) + 1;
    piece = std::min(piece, input.size() - pos);
    bool ok = session.recv(std::string_view(input).substr(pos, piece), now);
    if (!alive) FUZZ_CHECK(!ok);
    alive = alive && ok;
    pos += piece;
    now += 37;
    FUZZ_CHECK(session.pull(out, 1 << 20) || !alive);
    out.clear();
    FUZZ_CHECK(session.open_streams() <= limits.max_concurrent_streams);
    core.later();
    session.pull(out, 1 << 20);
    out.clear();
  }
  session.terminate(0);
  session.pull(out, 1 << 20);
  return 0;
}
