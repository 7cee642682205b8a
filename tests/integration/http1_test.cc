// HTTP/1.1 over the wire against the real binary, on both I/O backends.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "fixture.h"

namespace askr::testing {
namespace {

class Http1 : public ProxyTest {};
ASKR_BOTH_BACKENDS(Http1);

TEST_P(Http1, ServesIndexWithStandardHeaders) {
  start();
  HttpResponse r = fetch(port(), get("/"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<h1>askr</h1>\n");
  EXPECT_EQ(r.header("content-length"), "14");
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.header("server"), "askr");
  EXPECT_FALSE(r.header("date").empty());
  EXPECT_FALSE(r.header("etag").empty());
}

TEST_P(Http1, KeepAliveServesManyRequestsOnOneConnection) {
  start();
  int fd = connect_to(port());
  for (int i = 0; i < 50; ++i) {
    send_all(fd, get(i % 2 ? "/a.txt" : "/b.txt"));
    HttpResponse r = read_response(fd);
    ASSERT_TRUE(r.ok) << i;
    EXPECT_EQ(r.body, i % 2 ? "first\n" : "second\n");
  }
  close(fd);
}

TEST_P(Http1, PipelinedRequestsAnswerInOrder) {
  start();
  int fd = connect_to(port());
  send_all(fd, get("/a.txt") + get("/b.txt") + "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
                   get("/missing") + get("/style.css"));
  EXPECT_EQ(read_response(fd).body, "first\n");
  EXPECT_EQ(read_response(fd).body, "second\n");
  HttpResponse head = read_response(fd, true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "6");
  EXPECT_EQ(read_response(fd).status, 404);
  EXPECT_EQ(read_response(fd).body, "body{}\n");
  close(fd);
}

TEST_P(Http1, PipelinedRequestsSplitAcrossWrites) {
  start();
  int fd = connect_to(port());
  std::string two = get("/a.txt") + get("/b.txt");
  for (char c : two) {
    send_all(fd, std::string_view(&c, 1));
  }
  EXPECT_EQ(read_response(fd).body, "first\n");
  EXPECT_EQ(read_response(fd).body, "second\n");
  close(fd);
}

TEST_P(Http1, HeadHasLengthButNoBody) {
  start();
  int fd = connect_to(port());
  send_all(fd, "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/a.txt"));
  HttpResponse h = read_response(fd, true);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("content-length"), "14");
  HttpResponse g = read_response(fd);  // would read the HEAD body if one had been sent
  EXPECT_EQ(g.body, "first\n");
  close(fd);
}

TEST_P(Http1, Http10ClosesUnlessKeepAliveAsked) {
  start();
  int fd = connect_to(port());
  send_all(fd, "GET /a.txt HTTP/1.0\r\n\r\n");
  HttpResponse r = read_response(fd);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(wait_closed(fd));
  close(fd);

  fd = connect_to(port());
  send_all(fd, "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  r = read_response(fd);
  EXPECT_EQ(r.header("connection"), "keep-alive");
  send_all(fd, "GET /b.txt HTTP/1.0\r\n\r\n");
  EXPECT_EQ(read_response(fd).body, "second\n");
  close(fd);
}

TEST_P(Http1, ConnectionCloseIsHonoured) {
  start();
  int fd = connect_to(port());
  send_all(fd, get("/a.txt", "Connection: close\r\n"));
  HttpResponse r = read_response(fd);
  EXPECT_EQ(r.body, "first\n");
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(wait_closed(fd));
  close(fd);
}

// A Host may hold pct-encoded octets (RFC 3986 §3.2.2), as nginx serves it. Like nginx, the
// site is chosen by the name as sent, case-insensitively and never decoded: "%61.test" is not
// "a.test".
TEST_P(Http1, HostWithPercentEscapesIsServedUndecoded) {
  site_.write("named/a.txt", "named\n");
  start("[[site]]\nserver_names = [\"a.test\"]\nroot = \"" + site_.path() + "/named\"\n");
  auto body_for = [&](const std::string& host) {
    HttpResponse r = fetch(port(), "GET /a.txt HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
    return std::to_string(r.status) + " " + r.body;
  };
  EXPECT_EQ(body_for("a%20b"), "200 first\n");
  EXPECT_EQ(body_for("A.Test:80"), "200 named\n");
  EXPECT_EQ(body_for("%61.test"), "200 first\n");
  EXPECT_EQ(body_for("A%2e.test"), "200 first\n");
  EXPECT_EQ(fetch(port(), "GET /a.txt HTTP/1.1\r\nHost: a%2\r\n\r\n").status, 400);
}

// redirect_https with no host to name in the Location (an HTTP/1.0 request without Host, to a
// site without server_names) is bad input: 400, with its reason in the error log, as every
// request refused by the request core is. A Host that is only a port is refused before.
TEST_P(Http1, RedirectHttpsWithoutAHostIsRefusedAndLogged) {
  proxy_ = start_proxy(GetParam(), site_, "", "combined", "redirect_https = true\n");
  HttpResponse r = fetch(port(), get("/a.txt"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "https://localhost/a.txt");
  EXPECT_EQ(fetch(port(), "GET /a.txt HTTP/1.0\r\n\r\n").status, 400);
  EXPECT_EQ(fetch(port(), "GET /a.txt HTTP/1.1\r\nHost: :80\r\n\r\n").status, 400);
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged =
        proxy_->error_log().find("no host to redirect to https, answered 400") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(logged) << proxy_->error_log();
}

// A body nobody reads is skipped and the connection kept.
TEST_P(Http1, ChunkedBodySkippedKeepsConnection) {
  start();
  int fd = connect_to(port());
  send_all(fd, "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  HttpResponse final_answer = read_response(fd);
  EXPECT_EQ(final_answer.status, 405);
  EXPECT_EQ(final_answer.header("allow"), "GET, HEAD");
  // The body follows in pieces, with an extension and a trailer; then the next request.
  send_all(fd, "5;ext=1\r\nhello\r\n");
  send_all(fd, "6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n" + get("/b.txt"));
  HttpResponse next = read_response(fd);
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "second\n");
  close(fd);
}

// A file is not served for a request whose chunked body, sent with its head, is already seen
// to be malformed: 400 and the connection closes, as nginx answers (it reads what came with the
// head before it serves a file). An error answer keeps its status (nginx's 405 for a POST), and
// a body that is well formed is skipped as before.
TEST_P(Http1, MalformedChunkedBodyWithTheHeadIsNotServed) {
  start();
  int fd = connect_to(port());
  send_all(
      fd,
      "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
  HttpResponse r = read_response(fd);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(wait_closed(fd));
  close(fd);
  fd = connect_to(port());
  send_all(fd,
           "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
           "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
               get("/b.txt"));
  EXPECT_EQ(read_response(fd).body, "first\n");
  EXPECT_EQ(read_response(fd).body, "second\n");
  close(fd);
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = proxy_->access_log().find("\"GET /a.txt HTTP/1.1\" 400") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(logged) << proxy_->access_log();
}

// A client that waits for 100 Continue before a body that would be dropped (a 404, a 405) gets
// the final answer at once instead, and the connection closes after it, as nginx answers: the
// body is never asked for. It was invited with 100 Continue and then thrown away, a whole
// upload sent for nothing. What the client sends anyway does not cut the answer short.
TEST_P(Http1, ExpectContinueAnsweredAtOnceIsNotInvited) {
  start();
  for (const char* target : {"/missing.txt", "/a.txt"}) {
    int fd = connect_to(port());
    send_all(fd, std::string("POST ") + target +
                     " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     "Content-Length: 200000\r\n\r\n");
    HttpResponse r = read_response(fd);
    EXPECT_EQ(r.status, std::string(target) == "/a.txt" ? 405 : 404) << target;
    EXPECT_EQ(r.header("connection"), "close") << target;
    send_all(fd, std::string(200000, 'x'));  // sent anyway: read and dropped
    EXPECT_TRUE(wait_closed(fd)) << target;
    close(fd);
  }
}

// With "Content-Length: 0" there is no body to wait for: the answer keeps the connection, and
// the request after it is answered.
TEST_P(Http1, ExpectContinueWithoutBodyKeepsConnection) {
  start();
  int fd = connect_to(port());
  send_all(fd,
           "POST /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n" +
               get("/b.txt"));
  HttpResponse r = read_response(fd);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("connection"), "");
  EXPECT_EQ(read_response(fd).body, "second\n");
  close(fd);
}

TEST_P(Http1, ContentLengthBodyIsSkippedAndConnectionReused) {
  start();
  int fd = connect_to(port());
  send_all(fd,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world" + get("/a.txt"));
  EXPECT_EQ(read_response(fd).status, 405);
  EXPECT_EQ(read_response(fd).body, "first\n");
  close(fd);
}

TEST_P(Http1, BodyOverLimitIs413) {
  start("[limits]\nmax_body_size = \"1k\"\n");
  int fd = connect_to(port());
  send_all(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  HttpResponse r = read_response(fd);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(wait_closed(fd));
  close(fd);
}

// A client may go on sending the body it declared after the 413 is out: the connection ends its
// sending side and drains what still comes for a while, as nginx does, rather than closing with
// unread bytes on the way, whose reset can destroy the 413 before the client reads it.
TEST_P(Http1, BodyStillSentAfterA413IsDrainedNotReset) {
  start("[limits]\nmax_body_size = \"1k\"\n");
  int fd = connect_to(port());
  send_all(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n");
  EXPECT_EQ(read_response(fd).status, 413);
  EXPECT_TRUE(wait_closed(fd));  // the proxy's side is shut
  std::string piece(1000, 'z');
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL), ssize_t(piece.size())) << i;
    pollfd p{fd, POLLOUT, 0};
    ASSERT_EQ(poll(&p, 1, 100), 1);
    EXPECT_EQ(p.revents & (POLLERR | POLLHUP), 0) << "reset after piece " << i;
  }
  close(fd);
}

// A client that writes its whole body before it reads (Python's http.client, many SDKs) goes on
// sending after a 413 for as long as its upload takes: what comes is drained while it comes,
// as nginx's lingering close does (5 s at most between reads, 30 s in all), so that the client
// finishes its upload and reads the 413, rather than a reset ending its upload after a fixed
// few seconds.
TEST_P(Http1, SlowUploadAfterA413IsDrainedWhileItComes) {
  start("[limits]\nmax_body_size = \"1k\"\n");
  int fd = connect_to(port());
  send_all(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  std::string piece(10000, 'z');
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
  for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
    ASSERT_EQ(::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL), ssize_t(piece.size())) << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(read_response(fd).status, 413);
  close(fd);
}

// max_header_size may be raised well past the 256 KiB of unparsed bytes a connection holds
// before it stops reading a client that sends faster than it is answered: a head in progress is
// read on to that limit, then answered (or refused with 431), never left waiting for the header
// timeout.
TEST_P(Http1, HeadLargerThanTheReadPauseIsReadToMaxHeaderSize) {
  start("[limits]\nmax_header_size = \"1m\"\n");
  int fd = connect_to(port());
  send_all(fd, get("/a.txt", "Cookie: c=" + std::string(400 * 1024, 'x') + "\r\n"));
  HttpResponse r = read_response(fd);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "first\n");
  close(fd);

  fd = connect_to(port());
  send_all(fd, get("/a.txt", "Cookie: c=" + std::string(1100 * 1024, 'x') + "\r\n"));
  EXPECT_EQ(read_response(fd).status, 431);
  close(fd);
}

TEST_P(Http1, ChunkedBodyOverLimitClosesConnection) {
  start("[limits]\nmax_body_size = \"16\"\n");
  int fd = connect_to(port());
  send_all(fd, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" +
                   std::string(32, 'x') + "\r\n0\r\n\r\n" + get("/a.txt"));
  HttpResponse r = read_response(fd);
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(wait_closed(fd));  // the pipelined GET is never answered
  close(fd);
}

// A body being dropped after its answer went out, whose framing then breaks (a bad chunk line,
// or more than max_body_size): nothing is left to send, and the connection closes at once,
// rather than waiting for the keep-alive timeout with the next request left unanswered.
TEST_P(Http1, BadChunkAfterTheAnswerClosesConnection) {
  start("[limits]\nmax_body_size = \"16\"\n");
  for (const std::string& bad :
       {std::string("zz\r\n"), "20\r\n" + std::string(32, 'x') + "\r\n0\r\n\r\n"}) {
    int fd = connect_to(port());
    send_all(fd, "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_EQ(read_response(fd).status, 405);
    send_all(fd, bad + get("/b.txt"));
    EXPECT_TRUE(wait_closed(fd)) << bad;
    close(fd);
  }
}

struct BadCase {
  const char* name;
  std::string request;
  int status;
};

class Http1Strict : public ::testing::TestWithParam<std::tuple<std::string, BadCase>> {
 protected:
  void SetUp() override {
    if (skip_backend(std::get<0>(GetParam()))) GTEST_SKIP() << "io_uring is not usable here";
    write_test_site(site_);
    proxy_ = start_proxy(std::get<0>(GetParam()), site_);
  }
  int port() const { return proxy_->port(); }
  TempDir site_;
  std::unique_ptr<Proxy> proxy_;
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

std::vector<BadCase> bad_cases() {
  return {
      {"cl_and_te",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"duplicate_cl",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
      {"malformed_cl", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400},
      {"cl_list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
      {"te_not_chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"te_gzip_chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       501},
      {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"obs_fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", 400},
      {"bare_cr", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400},
      {"nul", std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 33), 400},
      {"space_before_colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n", 400},
      {"missing_host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"host_only_a_port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400},
      {"host_two_dots", "GET / HTTP/1.1\r\nHost: ..\r\n\r\n", 400},
      {"bad_version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"tls_hello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400},
      // Refused at its first byte, without waiting for a line feed it may never send.
      {"tls_hello_without_lf", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
       400},
      {"long_uri", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
      {"big_headers", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40000, 'b') + "\r\n\r\n",
       431},
      {"bad_chunk_size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       405},
      {"unknown_expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417},
  };
}

TEST_P(Http1Strict, RefusedWithStatusAndClosed) {
  const BadCase& c = std::get<1>(GetParam());
  int fd = connect_to(port());
  send_all(fd, c.request);
  HttpResponse r = read_response(fd);
  EXPECT_EQ(r.status, c.status) << r.status_line;
  EXPECT_TRUE(wait_closed(fd)) << "connection must close when framing is in doubt";
  close(fd);
  // Other connections are unaffected.
  EXPECT_EQ(fetch(port(), get("/a.txt")).body, "first\n");
}

INSTANTIATE_TEST_SUITE_P(Cases, Http1Strict,
                         ::testing::Combine(::testing::Values("io_uring", "epoll"),
                                            ::testing::ValuesIn(bad_cases())),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
                         });

TEST_P(Http1, HeaderDeadlineAnswers408) {
  start("[timeouts]\nheader = \"1s\"\n");
  int fd = connect_to(port());
  send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n");  // never finished
  auto t0 = std::chrono::steady_clock::now();
  HttpResponse r = read_response(fd, false, 5000);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 408);
  EXPECT_GE(waited, std::chrono::milliseconds(800));
  EXPECT_TRUE(wait_closed(fd));
  close(fd);
}

// A 408 is the client's timeout, not bad input: it is counted once, with the timeouts, in the
// loop's counters, as nginx logs it ("client timed out"), not also as a bad request.
TEST_P(Http1, A408IsCountedAsATimeoutOnly) {
  start("[timeouts]\nheader = \"1s\"\n");
  int fd = connect_to(port());
  send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n");  // never finished
  EXPECT_EQ(read_response(fd, false, 5000).status, 408);
  close(fd);
  ASSERT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->error_log();
  EXPECT_EQ(http_counter(log, "timeouts"), 1u) << log;
  EXPECT_EQ(http_counter(log, "bad requests"), 0u) << log;
}

// The start of a second head, pipelined behind a request whose answer is sent, has the header
// deadline too, from when that answer is out, not the send timeout of the answer.
TEST_P(Http1, HeaderDeadlineAppliesToAPipelinedHead) {
  start("[timeouts]\nheader = \"1s\"\nsend = \"20s\"\n");
  int fd = connect_to(port());
  send_all(fd, get("/a.txt") + "GET /b.txt HTTP/1.1\r\nHo");  // the second never finished
  EXPECT_EQ(read_response(fd).body, "first\n");
  auto t0 = std::chrono::steady_clock::now();
  HttpResponse r = read_response(fd, false, 5000);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 408);
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
  EXPECT_TRUE(wait_closed(fd));
  close(fd);
}

TEST_P(Http1, IdleKeepAliveConnectionIsClosed) {
  start("[timeouts]\nkeepalive = \"1s\"\n");
  int fd = connect_to(port());
  send_all(fd, get("/a.txt"));
  EXPECT_EQ(read_response(fd).status, 200);
  EXPECT_TRUE(wait_closed(fd, 4000));
  close(fd);
}

TEST_P(Http1, SlowClientDoesNotBlockOthers) {
  start();
  int slow = connect_to(port());
  send_all(slow, "GET /a.txt HTTP/1.1\r\nHo");
  int bad = connect_to(port());
  send_all(bad, "BLAH\r\n\r\n");
  EXPECT_EQ(read_response(bad).status, 400);
  EXPECT_EQ(fetch(port(), get("/b.txt")).body, "second\n");
  send_all(slow, "st: x\r\n\r\n");
  EXPECT_EQ(read_response(slow).body, "first\n");
  close(slow);
  close(bad);
}

TEST_P(Http1, AccessLogCombined) {
  start();
  fetch(port(), get("/a.txt", "User-Agent: tester/1.0\r\nReferer: http://r/\r\n"));
  fetch(port(), get("/nope"));
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("127.0.0.1 - - ["), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /a.txt HTTP/1.1\" 200 6 \"http://r/\" \"tester/1.0\""),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\"GET /nope HTTP/1.1\" 404"), std::string::npos) << log;
}

// The combined format's third field is nginx's $remote_user: the user name of Basic
// credentials, whatever the site does with them (escaped as the other fields), "-" without.
TEST_P(Http1, AccessLogCombinedNamesTheBasicUser) {
  start();
  fetch(port(), get("/a.txt", "Authorization: Basic dXMiZXI6cHc=\r\n"));  // us"er:pw
  fetch(port(), get("/b.txt", "Authorization: Bearer abc\r\n"));
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("127.0.0.1 - us\\x22er ["), std::string::npos) << log;
  size_t b = log.find("\"GET /b.txt ");
  ASSERT_NE(b, std::string::npos) << log;
  EXPECT_NE(log.rfind("127.0.0.1 - - [", b), std::string::npos) << log;
}

// SIGUSR1 reopens the log files by name, as nginx's USR1 does: once logrotate has moved them
// away, new lines go to fresh files at the configured paths.
TEST_P(Http1, SigusrOneReopensTheLogFiles) {
  ProxyOptions o;
  o.backend = GetParam();
  o.root = site_.path() + "/www";
  o.error_log_file = true;
  proxy_ = std::make_unique<Proxy>(o);
  auto wait_for = [](const std::function<std::string()>& read, const std::string& what) {
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
         std::chrono::steady_clock::now() < until;) {
      if (read().find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  EXPECT_EQ(fetch(port(), get("/a.txt")).status, 200);
  ASSERT_TRUE(wait_for([&] { return proxy_->access_log(); }, "GET /a.txt")) << proxy_->access_log();
  std::string old_error = proxy_->error_log_path() + ".1";
  std::string old_access = proxy_->access_log_path() + ".1";
  ASSERT_EQ(std::rename(proxy_->error_log_path().c_str(), old_error.c_str()), 0);
  ASSERT_EQ(std::rename(proxy_->access_log_path().c_str(), old_access.c_str()), 0);
  kill(proxy_->pid(), SIGUSR1);
  EXPECT_TRUE(wait_for([&] { return proxy_->error_log(); }, "SIGUSR1: logs reopened"))
      << proxy_->error_log();
  EXPECT_EQ(fetch(port(), get("/b.txt")).status, 200);
  EXPECT_TRUE(wait_for([&] { return proxy_->access_log(); }, "GET /b.txt")) << proxy_->access_log();
  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_EQ(proxy_->access_log().find("GET /a.txt"), std::string::npos);
  std::string rotated;
  run_command("cat " + old_access + " " + old_error, rotated);
  EXPECT_NE(rotated.find("GET /a.txt"), std::string::npos) << rotated;
  EXPECT_NE(rotated.find("started:"), std::string::npos) << rotated;
  EXPECT_EQ(rotated.find("GET /b.txt"), std::string::npos) << rotated;
  EXPECT_EQ(rotated.find("stopped"), std::string::npos) << rotated;
  EXPECT_NE(proxy_->error_log().find("stopped"), std::string::npos) << proxy_->error_log();
}

// A request refused for its body has had its head read: the access log names it, as nginx's
// "POST /upload HTTP/1.1" 413 does; a head refused on a kept-alive connection is never logged
// as the request before it.
TEST_P(Http1, AccessLogNamesARequestRefusedForItsBody) {
  start("[limits]\nmax_body_size = \"1k\"\n");
  EXPECT_EQ(fetch(port(),
                  "POST /upload?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: up/1\r\n"
                  "Content-Length: 5000\r\n\r\n")
                .status,
            413);
  int fd = connect_to(port());
  send_all(fd, get("/a.txt") + "GET /b.txt HTTP/1.1\r\nBad Header: y\r\n\r\n");
  EXPECT_EQ(read_response(fd).status, 200);
  EXPECT_EQ(read_response(fd).status, 400);
  close(fd);
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"POST /upload?x=1 HTTP/1.1\" 413 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"up/1\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /b.txt HTTP/1.1\" 400 "), std::string::npos) << log;
  EXPECT_EQ(log.find("\"GET /a.txt HTTP/1.1\" 400"), std::string::npos) << log;
}

// A head refused while parsing is logged with its request line as sent, escaped, as nginx's
// $request: what a scanner or a broken client sent is there to see, not "- - HTTP/1.1".
TEST_P(Http1, AccessLogShowsTheRequestLineOfARefusedHead) {
  start();
  EXPECT_EQ(fetch(port(), "GET /b.txt HTTP/1.1\r\nBad Header: y\r\n\r\n").status, 400);
  EXPECT_EQ(fetch(port(), std::string("\x16\x03\x01\x02\x00\x01\r\n\r\n", 10)).status, 400);
  EXPECT_EQ(fetch(port(), "GET /\"q\" HTTP/1.1 x\r\n\r\n").status, 400);
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"GET /b.txt HTTP/1.1\" 400 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"\\x16\\x03\\x01\\x02\\x00\\x01\" 400 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /\\x22q\\x22 HTTP/1.1 x\" 400 "), std::string::npos) << log;
  EXPECT_EQ(log.find("\"- - HTTP/1.1\""), std::string::npos) << log;
}

// A head that does not arrive within the header timeout is logged with what came of its request
// line, as nginx logs "GET / HT" 408: the slow client's request is there to see.
TEST_P(Http1, AccessLogShowsTheRequestLineOfAHeadThatTimedOut) {
  start("[timeouts]\nheader = \"1s\"\n");
  int partial_line = connect_to(port());
  send_all(partial_line, "GET /slow HT");
  int partial_head = connect_to(port());
  send_all(partial_head, "GET /b.txt?x=1 HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(read_response(partial_line).status, 408);
  EXPECT_EQ(read_response(partial_head).status, 408);
  close(partial_line);
  close(partial_head);
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"GET /slow HT\" 408 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /b.txt?x=1 HTTP/1.1\" 408 "), std::string::npos) << log;
  EXPECT_EQ(log.find("\"- - HTTP/1.1\""), std::string::npos) << log;
}

// A head the client cuts short is logged with what came of it, 400 and no body bytes, as nginx
// logs "GET / HT" 400 0: a client that gives up (or a scanner that probes and leaves) is not
// missing from the log.
TEST_P(Http1, AccessLogShowsAHeadTheClientCutShort) {
  start();
  int partial_line = connect_to(port());
  send_all(partial_line, "GET /cut HT");
  int partial_head = connect_to(port());
  send_all(partial_head, get("/a.txt") + "GET /b.txt?y=2 HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(read_response(partial_head).status, 200);
  close(partial_line);
  close(partial_head);
  EXPECT_EQ(fetch(port(), get("/a.txt")).status, 200);  // after the closes, on the same loop
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"GET /cut HT\" 400 0 "), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /b.txt?y=2 HTTP/1.1\" 400 0 "), std::string::npos) << log;
  EXPECT_EQ(log.find("\"GET /a.txt HTTP/1.1\" 400"), std::string::npos) << log;
}

// A client that sends blank lines alone and leaves, on a new connection or after a request, is
// logged with an empty request line, as nginx logs "" 400 0: not with the "- - HTTP/1.1" of a
// request that was never there, which log parsers read as method "-" and path "-".
TEST_P(Http1, AccessLogShowsBlankLinesAsAnEmptyRequestLine) {
  start();
  int blank = connect_to(port());
  send_all(blank, "\r\n\r\n");
  int after = connect_to(port());
  send_all(after, get("/a.txt") + "\r\n");
  EXPECT_EQ(read_response(after).status, 200);
  close(blank);
  close(after);
  EXPECT_EQ(fetch(port(), get("/b.txt")).status, 200);
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  size_t first = log.find("\"\" 400 0 ");
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_NE(log.find("\"\" 400 0 ", first + 1), std::string::npos) << log;
  EXPECT_EQ(log.find("\"- - HTTP/1.1\""), std::string::npos) << log;
}

// An access log that cannot be written (a full disk; here /dev/full) does not stop serving,
// and the error log says that lines are lost, as nginx's "write() ... failed" does.
TEST_P(Http1, AccessLogWriteFailureIsLogged) {
  ProxyOptions o;
  o.backend = GetParam();
  o.root = site_.path() + "/www";
  o.access_log = "/dev/full";
  proxy_ = std::make_unique<Proxy>(o);
  EXPECT_EQ(fetch(port(), get("/a.txt")).body, "first\n");
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->error_log();
  EXPECT_NE(log.find("access log \"/dev/full\": write failed: No space left on device"),
            std::string::npos)
      << log;
}

// A download the client leaves mid-body is logged, as nginx logs it, with the body bytes that
// went out, not with the file's size.
TEST_P(Http1, AccessLogCountsTheBytesOfACutDownload) {
  constexpr uint64_t kSize = 256ull << 20;
  site_.write("www/huge.bin", "");
  std::filesystem::resize_file(site_.path() + "/www/huge.bin", kSize);  // sparse: costs no disk
  start();
  int fd = connect_slow_reader(port());
  send_all(fd, get("/huge.bin"));
  char buf[4096];
  ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);  // the head is out, the body goes on
  close(fd);  // what is unread makes this a reset: the proxy's next send fails
  std::string line;
  for (auto t0 = std::chrono::steady_clock::now();
       line.empty() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10);) {
    std::string log = proxy_->access_log();
    size_t at = log.find("\"GET /huge.bin HTTP/1.1\" 200 ");
    if (at != std::string::npos) line = log.substr(at, log.find('\n', at) - at);
    if (line.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(line.empty()) << proxy_->access_log();
  uint64_t bytes = std::strtoull(line.c_str() + line.find(" 200 ") + 5, nullptr, 10);
  EXPECT_LT(bytes, kSize) << line;
}

TEST_P(Http1, AccessLogJson) {
  start("", "json");
  fetch(port(), get("/a.txt", "User-Agent: say \"hi\"\r\n"));
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"method\":\"GET\",\"uri\":\"/a.txt\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"status\":200,\"bytes\":6"), std::string::npos) << log;
  EXPECT_NE(log.find("say \\u0022hi\\u0022"), std::string::npos) << log;
}

// A request line that could not be read is logged as sent ("request"), and the method and target
// it lacks are empty strings, as a missing referer is; they were "-", as the combined format
// writes them.
TEST_P(Http1, AccessLogJsonBadRequestLineHasEmptyFields) {
  start("", "json");
  fetch(port(), "GET\x01 / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  EXPECT_NE(log.find("\"method\":\"\",\"uri\":\"\",\"protocol\":\"HTTP/1.1\",\"request\":"
                     "\"GET\\u0001 / HTTP/1.1\",\"status\":400,"),
            std::string::npos)
      << log;
}

// Clients may send any bytes in the target and in header values: each JSON line must still be
// valid JSON (python3's json.loads, which rejects bytes that are not UTF-8 and raw controls).
TEST_P(Http1, AccessLogJsonStaysValidWithRawBytes) {
  start("", "json");
  fetch(port(), get("/a.txt?q=\xff\xc3&r=\xc3\xa9", "User-Agent: ua\xff\xc3(\xed\xa0\x80)\r\n"));
  fetch(port(), get("/\xc3\xff\xc0\xaf\x7f", "User-Agent: \xf4\x90\x80\x80 \xe2\x82\r\n"));
  fetch(port(), get("/a.txt", "User-Agent: plain \"quoted\" \\ \xf0\x9f\x98\x80\r\n"));
  EXPECT_EQ(proxy_->stop(), 0);
  std::string log = proxy_->access_log();
  TempDir dir;
  std::string path = dir.write("access.json", log);
  std::string script = dir.write("check.py",
                                 "import json, sys\n"
                                 "lines = open(sys.argv[1], 'rb').read().splitlines()\n"
                                 "for line in lines:\n"
                                 "    e = json.loads(line.decode('utf-8'))\n"
                                 "    print(ascii(e['uri']), ascii(e['user_agent']))\n"
                                 "print(len(lines))\n");
  std::string out;
  ASSERT_EQ(run_command("python3 " + script + " " + path + " 2>&1", out), 0) << out << log;
  EXPECT_NE(out.find("\n3\n"), std::string::npos) << out;
  // Raw bytes come back as U+00XX; well-formed UTF-8 unchanged.
  EXPECT_NE(out.find("'/a.txt?q=\\xff\\xc3&r=\\xe9' 'ua\\xff\\xc3(\\xed\\xa0\\x80)'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("'plain \"quoted\" \\\\ \\U0001f600'"), std::string::npos) << out;
}

TEST_P(Http1, SigtermFinishesInFlightResponseThenExits) {
  std::string big(8 << 20, 'z');
  site_.write("www/big.bin", big);
  start();
  int fd = connect_to(port());
  send_all(fd, get("/big.bin"));
  // Not read yet: the socket buffers fill and the rest of the response waits in the proxy.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int idle = connect_to(port());
  kill(proxy_->pid(), SIGTERM);
  HttpResponse r = read_response(fd, false, 10000);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.body.size(), big.size());
  EXPECT_EQ(r.header("connection"), "");  // it was already promised keep-alive
  EXPECT_TRUE(wait_closed(idle));
  EXPECT_EQ(proxy_->stop(), 0);
  close(fd);
  close(idle);
}

}  // namespace
}  // namespace askr::testing
