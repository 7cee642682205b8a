// The request core with no client socket at all: a protocol-neutral request in, the handler
// chosen, the response out. Static files and `return` routes answer at once; PHP goes to a pool
// whose backend is a fake FastCGI responder on a Unix socket, driven by a real loop backend.
#include "core/dispatch.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "http/h1_parser.h"
#include "http/h1_request.h"
#include "loop/epoll_backend.h"
#include "shared/config/load.h"
#include "shared/fastcgi/encoder.h"

namespace askr::core {
namespace {

namespace fs = std::filesystem;

class Dir {
 public:
  Dir() {
    char tmpl[] = "/tmp/askr-core-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~Dir() { fs::remove_all(path_); }
  void write(const std::string& rel, const std::string& content) const {
    fs::create_directories(fs::path(path_ + "/" + rel).parent_path());
    std::ofstream(path_ + "/" + rel) << content;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Records what a handler writes.
struct Sink final : http::ResponseSink, http::BodyProducer {
  int status = 0;
  std::string body;
  bool ended = false;
  int failed = 0;
  void start_response(int s, std::string_view, std::span<const http::Response::Field>,
                      std::optional<uint64_t>) override {
    status = s;
  }
  bool write_body(std::string_view d) override {
    body += d;
    return true;
  }
  void end_response() override { ended = true; }
  void fail_response(int s) override { failed = s; }
  void set_producer(http::BodyProducer*) override {}
  void on_sink_drained() override {}
};

class Core : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.write("www/hello.txt", "hello\n");
    root_.write("www/app.php", "<?php echo 1;");
    root_.write("www/dir/index.html", "index\n");
    fcgi_path_ = root_.path() + "/fcgi.sock";
    std::string toml =
        "[[listen]]\naddress = \"127.0.0.1:0\"\n"
        "[[pool]]\nname = \"php\"\nfastcgi = \"unix:" +
        fcgi_path_ +
        "\"\n"
        "[[site]]\nroot = \"" +
        root_.path() +
        "/www\"\nphp = \"php\"\n"
        "[[site.route]]\nprefix = \"/old/\"\nreturn = 301\n"
        "location = \"https://example.com/new/\"\n"
        "[[site.route]]\nprefix = \"/files/\"\nstatic = true\n";
    config::LoadResult r = config::load_string(toml, root_.path() + "/askr.toml");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
    cfg_ = std::move(*r.config);
    auto router = Router::build(cfg_);
    ASSERT_TRUE(router);
    router_ = std::move(router.value());
    auto io = loop::EpollBackend::create();
    ASSERT_TRUE(io);
    io_ = std::move(io.value());
    pools_.push_back(std::make_unique<backend::PoolClient>(cfg_.pools[0], *io_, now_ms_));
    loop_.router = &router_;
    loop_.pools = &pools_;
    loop_.php_limits = &limits_;
  }
  void TearDown() override {
    pools_.clear();
    io_.reset();
  }

  // A request as an HTTP/1.1 head would give it.
  http::Request& request(const std::string& raw) {
    raw_ = raw;
    http::RequestHead head;
    http::ParseResult r = http::parse_request(raw_, {}, head);
    EXPECT_EQ(r.state, http::ParseState::kDone);
    http::h1_to_request(head, raw_, false, req_);
    req_.conn = &info_;
    return req_;
  }

  Dir root_;
  std::string fcgi_path_;
  config::Config cfg_;
  Router router_;
  std::unique_ptr<loop::Backend> io_;
  int64_t now_ms_ = 0;
  std::vector<std::unique_ptr<backend::PoolClient>> pools_;
  handlers::PhpLimits limits_;
  LoopServices loop_;
  std::string raw_;
  http::Request req_;
  http::ConnInfo info_;
  Sink sink_;
};

TEST_F(Core, StaticFileAnswersAtOnce) {
  http::Response resp;
  auto stream =
      dispatch(request("GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, resp, {sink_, sink_});
  EXPECT_EQ(stream, nullptr);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_length, 6u);
  EXPECT_EQ(req_.normalized, "/hello.txt");
  if (resp.body == http::Response::Body::kFile) ::close(resp.file_fd);
}

TEST_F(Core, PathIsNormalizedOnceBeforeRouting) {
  http::Response resp;
  auto stream = dispatch(request("GET /x/../dir/./ HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, resp,
                         {sink_, sink_});
  EXPECT_EQ(stream, nullptr);
  EXPECT_TRUE(req_.path_ok);
  EXPECT_EQ(req_.refused, nullptr);
  EXPECT_EQ(req_.normalized, "/dir/");
  EXPECT_EQ(resp.status, 200);
  if (resp.body == http::Response::Body::kFile) ::close(resp.file_fd);
  http::Response bad;
  dispatch(request("GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, bad, {sink_, sink_});
  EXPECT_FALSE(req_.path_ok);
  EXPECT_STREQ(req_.refused, "path climbs above root");  // for the protocol's log line
  EXPECT_EQ(bad.status, 400);
}

TEST_F(Core, ReturnRouteRedirects) {
  http::Response resp;
  auto stream =
      dispatch(request("GET /old/page HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, resp, {sink_, sink_});
  EXPECT_EQ(stream, nullptr);
  EXPECT_EQ(resp.status, 301);
  ASSERT_FALSE(resp.fields().empty());
  bool found = false;
  for (const auto& f : resp.fields()) {
    if (f.name == "Location") found = f.value == "https://example.com/new/";
  }
  EXPECT_TRUE(found);
}

TEST_F(Core, StaticRouteRefusesPhp) {
  root_.write("www/files/x.php", "<?php");
  http::Response resp;
  auto stream = dispatch(request("GET /files/x.php HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, resp,
                         {sink_, sink_});
  EXPECT_EQ(stream, nullptr);
  EXPECT_EQ(resp.status, 403);
}

TEST_F(Core, MissingScriptIs404) {
  http::Response resp;
  auto stream =
      dispatch(request("GET /nope.php HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, resp, {sink_, sink_});
  EXPECT_EQ(stream, nullptr);
  EXPECT_EQ(resp.status, 404);
}

// What a PHP path is (script, directory, missing) comes from the loop's file cache within the
// second it was looked up, like the files themselves: a busy script costs no openat2, fstat and
// close per request. A new second looks again.
TEST_F(Core, ScriptLookupsAreCachedForTheirSecond) {
  handlers::FileCache cache;
  cache.set_now(1);
  loop_.file_cache = &cache;
  auto runs_php = [&](const std::string& path) {
    http::Response resp;
    auto stream = dispatch(request("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, resp,
                           {sink_, sink_});
    return stream != nullptr;
  };
  EXPECT_FALSE(runs_php("/later.php"));
  root_.write("www/later.php", "<?php echo 2;");
  EXPECT_FALSE(runs_php("/later.php"));  // this second's answer stands
  EXPECT_TRUE(runs_php("/app.php"));
  ASSERT_EQ(::unlink((root_.path() + "/www/app.php").c_str()), 0);
  EXPECT_TRUE(runs_php("/app.php"));
  cache.set_now(2);
  EXPECT_TRUE(runs_php("/later.php"));
  EXPECT_FALSE(runs_php("/app.php"));
  loop_.file_cache = nullptr;  // without a cache, every request looks
  root_.write("www/app.php", "<?php echo 1;");
  EXPECT_TRUE(runs_php("/app.php"));
}

// A server name written with the DNS root's dot is reached by a Host with or without it.
TEST_F(Core, ServerNameWithFinalDotIsMatched) {
  std::string toml = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"" + root_.path() +
                     "/www\"\n[[site]]\nserver_names = [\"b.example.\"]\nroot = \"" + root_.path() +
                     "/www/dir\"\n";
  config::LoadResult r = config::load_string(toml, root_.path() + "/askr.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  auto router = Router::build(*r.config);
  ASSERT_TRUE(router);
  for (const char* host : {"b.example", "B.Example.", "b.example:8080"}) {
    EXPECT_EQ(router->match(host).config, &r.config->sites[1]) << host;
  }
  EXPECT_EQ(router->match("c.example").config, &r.config->sites[0]);
}

// The loop's file cache answers only under the root, alias and symlink rule an entry was made
// under, even when a reload's new roots get the descriptor numbers of the old ones.
TEST_F(Core, FileCacheNeverAnswersUnderAnotherSymlinkRule) {
  root_.write("secret.txt", "SECRET");
  fs::create_symlink("../secret.txt", root_.path() + "/www/out");
  auto build = [&](const char* mode, config::Config& cfg) {
    std::string toml = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"" + root_.path() +
                       "/www\"\nsymlinks = \"" + mode + "\"\n";
    config::LoadResult r = config::load_string(toml, root_.path() + "/askr.toml");
    EXPECT_TRUE(r.config);
    cfg = std::move(*r.config);
    return Router::build(cfg);
  };
  handlers::FileCache cache;
  cache.set_now(1);
  loop_.file_cache = &cache;
  config::Config follow_cfg, beneath_cfg;
  auto follow = build("follow", follow_cfg);
  ASSERT_TRUE(follow);
  const int follow_fd = follow->match("a").files.root_fd;
  loop_.router = &follow.value();
  http::Response first;
  dispatch(request("GET /out HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, first, {sink_, sink_});
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.inline_body, "SECRET");
  *follow = Router();  // the old generation goes; its descriptor number is free again
  auto beneath = build("beneath", beneath_cfg);
  ASSERT_TRUE(beneath);
  EXPECT_EQ(beneath->match("a").files.root_fd, follow_fd);
  loop_.router = &beneath.value();
  http::Response second;
  dispatch(request("GET /out HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, second, {sink_, sink_});
  EXPECT_EQ(second.status, 403);
  EXPECT_EQ(second.inline_body.find("SECRET"), std::string_view::npos);
}

// A route's alias: the prefix is replaced by the alias directory, and nothing climbs out of it.
TEST_F(Core, AliasRouteServesFromItsDirectory) {
  root_.write("wpc/up.txt", "uploaded\n");
  root_.write("secret.txt", "SECRET");
  std::string toml = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"" + root_.path() +
                     "/www\"\n[[site.route]]\nprefix = \"/wp-content/\"\nalias = \"" +
                     root_.path() + "/wpc\"\n";
  config::LoadResult r = config::load_string(toml, root_.path() + "/askr.toml");
  ASSERT_TRUE(r.config);
  config::Config cfg = std::move(*r.config);
  auto router = Router::build(cfg);
  ASSERT_TRUE(router);
  loop_.router = &router.value();
  auto get = [&](const std::string& path) {
    http::Response resp;
    dispatch(request("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n"), loop_, resp, {sink_, sink_});
    if (resp.body == http::Response::Body::kFile) ::close(resp.file_fd);
    return resp.status;
  };
  EXPECT_EQ(get("/wp-content/up.txt"), 200);
  EXPECT_EQ(get("/hello.txt"), 200);
  EXPECT_EQ(get("/wp-content/hello.txt"), 404);
  EXPECT_EQ(get("/wp-content/../secret.txt"), 404);  // "/secret.txt" under the site's root
  EXPECT_EQ(get("/wp-content/%2e%2e/secret.txt"), 404);
  EXPECT_EQ(get("/wp-content/..%2fsecret.txt"), 404);  // an encoded slash names no file
  EXPECT_EQ(get("/wp-content%2fup.txt"), 404);
  EXPECT_EQ(get("/wp-content/..%2f..%2fsecret.txt"), 400);  // above the root, as nginx counts
  EXPECT_EQ(get("/wp-content../secret.txt"), 404);          // not under the prefix: the site's root
}

// PHP: the core picks the pool's handler; started, it speaks FastCGI to the pool and the
// response arrives in the sink, with the params taken from the neutral request.
TEST_F(Core, PhpGoesToThePoolAndAnswersThroughTheSink) {
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", fcgi_path_.c_str());
  ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(srv, 4), 0);

  http::Response resp;
  auto stream = dispatch(request("GET /app.php?q=1 HTTP/1.1\r\nHost: a\r\nX-Ok: y\r\n"
                                 "X.Forwarded-For: 6.6.6.6\r\n\r\n"),
                         loop_, resp, {sink_, sink_});
  ASSERT_NE(stream, nullptr);
  stream->start();

  int conn = -1;
  std::string got;
  const std::string end_of_stdin("\x01\x05\x00\x01\x00\x00\x00\x00", 8);
  for (int i = 0; i < 200 && !sink_.ended && !sink_.failed; ++i) {
    io_->poll(10);
    if (conn < 0) conn = accept4(srv, nullptr, nullptr, SOCK_NONBLOCK);
    if (conn < 0) continue;
    char buf[4096];
    ssize_t n = read(conn, buf, sizeof buf);
    if (n > 0) got.append(buf, size_t(n));
    if (got.size() >= 8 && got.ends_with(end_of_stdin)) {
      std::string out;
      fastcgi::stream(out, fastcgi::RecordType::kStdout, 1,
                      "Status: 201 Created\r\nContent-Type: text/plain\r\n\r\nmade");
      fastcgi::end_stream(out, fastcgi::RecordType::kStdout, 1);
      fastcgi::end_request(out, 1, 0, fastcgi::ProtocolStatus::kRequestComplete);
      ASSERT_EQ(write(conn, out.data(), out.size()), ssize_t(out.size()));
      got += "(answered)";
    }
  }
  EXPECT_TRUE(sink_.ended);
  EXPECT_EQ(sink_.status, 201);
  EXPECT_EQ(sink_.body, "made");
  EXPECT_NE(got.find("REQUEST_SCHEMEhttp"), std::string::npos);
  EXPECT_NE(got.find("SERVER_PROTOCOLHTTP/1.1"), std::string::npos);
  EXPECT_NE(got.find("QUERY_STRINGq=1"), std::string::npos);
  EXPECT_NE(got.find("HTTP_X_OKy"), std::string::npos);
  EXPECT_EQ(got.find("6.6.6.6"), std::string::npos) << "a field name PHP would rewrite passed";
  EXPECT_EQ(pools_[0]->counters().dropped_headers, 1u);
  stream.reset();
  if (conn >= 0) ::close(conn);
  ::close(srv);
}

}  // namespace
}  // namespace askr::core

namespace askr::core {
namespace {

// redirect_https and wildcard server names, without sockets.
class RedirectHttps : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.write("www/a.txt", "a\n");
    std::string toml = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[site]]\nroot = \"" + root_.path() +
                       "/www\"\n[[site]]\nroot = \"" + root_.path() +
                       "/www\"\nserver_names = [\"*.w.test\"]\nredirect_https = true\n"
                       "[[site.route]]\nprefix = \"/keep/\"\nredirect_https_status = 308\n"
                       "[[site.route]]\nprefix = \"/open/\"\nredirect_https = false\n";
    config::LoadResult r = config::load_string(toml, root_.path() + "/askr.toml");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
    cfg_ = std::move(*r.config);
    auto router = Router::build(cfg_);
    ASSERT_TRUE(router);
    router_ = std::move(router.value());
    loop_.router = &router_;
  }
  // Dispatches `raw` and returns the status; `location` gets the Location header.
  int answer(const std::string& raw, std::string& location) {
    raw_ = raw;
    http::RequestHead head;
    EXPECT_EQ(http::parse_request(raw_, {}, head).state, http::ParseState::kDone);
    http::h1_to_request(head, raw_, info_.secure, req_);
    req_.conn = &info_;
    http::Response resp;
    Sink sink;
    dispatch(req_, loop_, resp, {sink, sink});
    location.clear();
    for (const auto& f : resp.fields()) {
      if (f.name == "Location") location = f.value;
    }
    if (resp.body == http::Response::Body::kFile && resp.file_owned) ::close(resp.file_fd);
    return resp.status;
  }

  Dir root_;
  config::Config cfg_;
  Router router_;
  LoopServices loop_;
  std::string raw_;
  http::Request req_;
  http::ConnInfo info_;
};

TEST_F(RedirectHttps, PlainRequestGoesToHttpsOnTheTlsPort) {
  std::string loc;
  EXPECT_EQ(answer("GET /a.txt?x=1 HTTP/1.1\r\nHost: X.w.test:8080\r\n\r\n", loc), 301);
  EXPECT_EQ(loc, "https://x.w.test/a.txt?x=1");  // port 443 is left out; nginx's $host case
  loop_.https_port = 8443;
  EXPECT_EQ(answer("GET /a.txt HTTP/1.1\r\nHost: x.w.test\r\n\r\n", loc), 301);
  EXPECT_EQ(loc, "https://x.w.test:8443/a.txt");
  EXPECT_EQ(answer("POST /keep/x HTTP/1.1\r\nHost: x.w.test\r\nContent-Length: 0\r\n\r\n", loc),
            308);
  EXPECT_EQ(loc, "https://x.w.test:8443/keep/x");
  EXPECT_EQ(answer("GET http://x.w.test/a.txt?q HTTP/1.1\r\nHost: x.w.test\r\n\r\n", loc), 301);
  EXPECT_EQ(loc, "https://x.w.test:8443/a.txt?q");
  EXPECT_EQ(answer("GET /open/ HTTP/1.1\r\nHost: x.w.test\r\n\r\n", loc), 404);
}

TEST_F(RedirectHttps, TlsRequestIsServed) {
  info_.secure = true;
  std::string loc;
  EXPECT_EQ(answer("GET /a.txt HTTP/1.1\r\nHost: x.w.test\r\n\r\n", loc), 200);
  EXPECT_EQ(loc, "");
}

// A wildcard stands for one label; other hosts go to the default site (no redirect there).
TEST_F(RedirectHttps, WildcardServerNameMatchesOneLabel) {
  std::string loc;
  EXPECT_EQ(answer("GET /a.txt HTTP/1.1\r\nHost: a.b.w.test\r\n\r\n", loc), 200);
  EXPECT_EQ(answer("GET /a.txt HTTP/1.1\r\nHost: w.test\r\n\r\n", loc), 200);
  EXPECT_EQ(answer("GET /a.txt HTTP/1.1\r\nHost: Y.W.TEST.\r\n\r\n", loc), 301);
}

}  // namespace
}  // namespace askr::core
