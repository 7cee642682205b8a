#include "backend/stdout_splice.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "shared/fastcgi/encoder.h"
#include "shared/fastcgi/protocol.h"

namespace askr::backend {
namespace {

using fastcgi::RecordType;

// A record with explicit padding (the encoder pads to 8; php-fpm may pad otherwise).
std::string record(RecordType type, std::string_view content, uint8_t padding) {
  std::string out(fastcgi::kHeaderLength, '\0');
  fastcgi::write_header({fastcgi::kVersion1, type, 1, uint16_t(content.size()), padding},
                        out.data());
  out.append(content);
  out.append(padding, '\xee');
  return out;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7 + i / 251) % 26);
  return s;
}

class StdoutSpliceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, backend_), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, client_), 0);
    auto s = StdoutSplice::create();
    ASSERT_TRUE(s);
    splice_ = std::move(*s);
  }
  void TearDown() override {
    for (int fd : {backend_[0], backend_[1], client_[0], client_[1]}) ::close(fd);
  }
  void backend_writes(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(backend_[1], bytes.data(), bytes.size());
      ASSERT_GT(n, 0);
      bytes.remove_prefix(size_t(n));
    }
  }
  // What reached the client so far.
  std::string client_got() {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(client_[1], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    return out;
  }
  // Steps until the splice is done or waits on the backend, reading the client meanwhile.
  StdoutSplice::Status run(uint64_t limit, std::string& got) {
    for (;;) {
      StdoutSplice::Status st = splice_->step(dec_, backend_[0], client_[0], limit);
      sent_ += splice_->take_sent();
      got += client_got();
      if (st != StdoutSplice::Status::kWaitWrite) return st;
    }
  }
  // The rest of the backend's stream through the decoder: (type, content) of each event.
  std::vector<std::pair<RecordType, std::string>> rest() {
    std::vector<std::pair<RecordType, std::string>> events;
    char buf[65536];
    for (ssize_t n; (n = ::read(backend_[0], buf, sizeof buf)) > 0;) {
      std::string_view in(buf, size_t(n));
      for (;;) {
        fastcgi::Decoder::Step s = dec_.next(in);
        in.remove_prefix(s.consumed);
        if (s.status != fastcgi::Decoder::Status::kContent) break;
        if (!events.empty() && events.back().first == s.type && !s.content.empty())
          events.back().second += s.content;
        else
          events.emplace_back(s.type, std::string(s.content));
      }
    }
    return events;
  }

  int backend_[2] = {-1, -1};
  int client_[2] = {-1, -1};
  std::unique_ptr<StdoutSplice> splice_;
  fastcgi::Decoder dec_;
  uint64_t sent_ = 0;
};

// STDOUT content across records with and without padding reaches the client as it is; the
// splice stops at the first other record, which stays in the socket for the decoder.
TEST_F(StdoutSpliceTest, MovesStdoutContentAndStopsAtOtherRecords) {
  std::string body = pattern(150000);
  backend_writes(record(RecordType::kStdout, body.substr(0, 5), 3) +
                 record(RecordType::kStdout, body.substr(5, 65535), 1) +
                 record(RecordType::kStdout, body.substr(65540, 65528), 0));
  std::string got;
  EXPECT_EQ(run(UINT64_MAX, got), StdoutSplice::Status::kWaitRead);
  backend_writes(record(RecordType::kStdout, body.substr(131068), 7) +
                 record(RecordType::kStderr, "warn", 4));
  std::string end;
  fastcgi::end_stream(end, RecordType::kStdout, 1);
  fastcgi::end_request(end, 1, 0, fastcgi::ProtocolStatus::kRequestComplete);
  backend_writes(end);
  EXPECT_EQ(run(UINT64_MAX, got), StdoutSplice::Status::kDone);
  EXPECT_EQ(sent_, body.size());
  EXPECT_TRUE(got == body) << got.size();
  auto events = rest();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].first, RecordType::kStderr);
  EXPECT_EQ(events[0].second, "warn");
  EXPECT_EQ(events[1].first, RecordType::kStdout);
  EXPECT_EQ(events[1].second, "");
  EXPECT_EQ(events[2].first, RecordType::kEndRequest);
  EXPECT_TRUE(dec_.at_record_boundary());
}

// At the limit (the response's Content-Length) the splice stops in the middle of a record: the
// decoder goes on from there and delivers the excess, which the caller drops.
TEST_F(StdoutSpliceTest, StopsAtTheLimitMidRecord) {
  std::string body = pattern(70000);
  backend_writes(record(RecordType::kStdout, body.substr(0, 65535), 1) +
                 record(RecordType::kStdout, body.substr(65535), 3));
  std::string got;
  EXPECT_EQ(run(50000, got), StdoutSplice::Status::kDone);
  EXPECT_EQ(got, body.substr(0, 50000));
  EXPECT_EQ(dec_.content_left(), 65535u - 50000u);
  auto events = rest();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].second, body.substr(50000));
}

// A record header split across reads is gathered in the decoder; the end of the backend's
// stream ends the splice (the link's own reading then reports it).
TEST_F(StdoutSpliceTest, PartialHeaderThenEndOfStream) {
  std::string rec = record(RecordType::kStdout, "abcdef", 2);
  backend_writes(rec.substr(0, 3));
  std::string got;
  EXPECT_EQ(run(UINT64_MAX, got), StdoutSplice::Status::kWaitRead);
  EXPECT_EQ(dec_.framing_left(), 5u);
  backend_writes(rec.substr(3));
  ::shutdown(backend_[1], SHUT_WR);
  EXPECT_EQ(run(UINT64_MAX, got), StdoutSplice::Status::kDone);
  EXPECT_EQ(got, "abcdef");
  EXPECT_TRUE(dec_.at_record_boundary());
}

// The client is gone: the error is reported, not taken for the backend's.
TEST_F(StdoutSpliceTest, ClientGoneIsAnError) {
  signal(SIGPIPE, SIG_IGN);  // as askr-proxy does: splice(2) to a closed socket raises it
  backend_writes(record(RecordType::kStdout, pattern(1000), 0));
  ::close(client_[1]);
  client_[1] = -1;
  EXPECT_EQ(splice_->step(dec_, backend_[0], client_[0], UINT64_MAX),
            StdoutSplice::Status::kClientError);
  EXPECT_EQ(splice_->client_error(), EPIPE);
}

}  // namespace
}  // namespace askr::backend
