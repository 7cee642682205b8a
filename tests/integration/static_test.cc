// Static files against the real binary: index, MIME, validators, ranges, precompressed
// siblings, large bodies and path safety — with raw sockets and with curl.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "fixture.h"

namespace askr::testing {
namespace {

class Static : public ProxyTest {};
ASKR_BOTH_BACKENDS(Static);

TEST_P(Static, IndexRedirectsAndListingsRefused) {
  start();
  EXPECT_EQ(fetch(port(), get("/sub/")).body, "sub index\n");
  HttpResponse r = fetch(port(), get("/sub?x=1"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/sub/?x=1");
  EXPECT_EQ(fetch(port(), get("/empty/")).status, 403);  // a directory without index
  EXPECT_EQ(fetch(port(), get("/nothing/here")).status, 404);
}

// A directory redirect whose Location is longer than the response's inline arena still carries
// it whole (it used to be dropped silently, leaving an empty Location).
TEST_P(Static, LongDirectoryRedirectKeepsItsLocation) {
  std::string dir;  // 1.6 KiB of path, in segments a file system takes
  for (int i = 0; i < 8; ++i) dir += (i ? "/" : "") + std::string(200, char('a' + i));
  site_.write("www/" + dir + "/index.html", "deep\n");
  start();
  std::string query = "q=" + std::string(600, 'x');
  HttpResponse r = fetch(port(), get("/" + dir + "?" + query));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/" + dir + "/?" + query);
}

TEST_P(Static, MimeTypesByExtension) {
  site_.write("www/app.js", "1");
  site_.write("www/pic.PNG", "1");
  site_.write("www/data.unknownext", "1");
  start();
  EXPECT_EQ(fetch(port(), get("/style.css")).header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(fetch(port(), get("/app.js")).header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(fetch(port(), get("/pic.PNG")).header("content-type"), "image/png");
  EXPECT_EQ(fetch(port(), get("/data.unknownext")).header("content-type"),
            "application/octet-stream");
}

TEST_P(Static, ConditionalRequestsAnswer304) {
  start();
  HttpResponse first = fetch(port(), get("/a.txt"));
  std::string etag = first.header("etag");
  std::string lm = first.header("last-modified");
  ASSERT_FALSE(etag.empty());
  ASSERT_FALSE(lm.empty());
  HttpResponse r = fetch(port(), get("/a.txt", "If-None-Match: " + etag + "\r\n"));
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.header("etag"), etag);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(fetch(port(), get("/a.txt", "If-None-Match: W/" + etag + "\r\n")).status, 304);
  EXPECT_EQ(fetch(port(), get("/a.txt", "If-None-Match: \"other\"\r\n")).status, 200);
  EXPECT_EQ(fetch(port(), get("/a.txt", "If-Modified-Since: " + lm + "\r\n")).status, 304);
  EXPECT_EQ(
      fetch(port(), get("/a.txt", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")).status,
      200);
  // If-None-Match takes precedence over If-Modified-Since.
  EXPECT_EQ(
      fetch(port(), get("/a.txt", "If-None-Match: \"x\"\r\nIf-Modified-Since: " + lm + "\r\n"))
          .status,
      200);
  EXPECT_EQ(fetch(port(), get("/a.txt", "If-Match: \"nope\"\r\n")).status, 412);
}

TEST_P(Static, SingleRanges) {
  site_.write("www/digits.txt", "0123456789");
  start();
  HttpResponse r = fetch(port(), get("/digits.txt", "Range: bytes=2-5\r\n"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "2345");
  EXPECT_EQ(r.header("content-range"), "bytes 2-5/10");
  EXPECT_EQ(fetch(port(), get("/digits.txt", "Range: bytes=-3\r\n")).body, "789");
  EXPECT_EQ(fetch(port(), get("/digits.txt", "Range: bytes=7-\r\n")).body, "789");
  HttpResponse bad = fetch(port(), get("/digits.txt", "Range: bytes=20-30\r\n"));
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.header("content-range"), "bytes */10");
  // If-Range with a different validator: the whole file.
  HttpResponse whole =
      fetch(port(), get("/digits.txt", "Range: bytes=2-5\r\nIf-Range: \"old\"\r\n"));
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, "0123456789");
}

TEST_P(Static, PrecompressedSiblingsByAcceptEncoding) {
  site_.write("www/app.css", "plain");
  site_.write("www/app.css.gz", "gzipped");
  site_.write("www/app.css.br", "brotli");
  start();
  HttpResponse br = fetch(port(), get("/app.css", "Accept-Encoding: gzip, br\r\n"));
  EXPECT_EQ(br.body, "brotli");
  EXPECT_EQ(br.header("content-encoding"), "br");
  EXPECT_EQ(br.header("vary"), "Accept-Encoding");
  EXPECT_EQ(br.header("content-type"), "text/css; charset=utf-8");
  HttpResponse gz = fetch(port(), get("/app.css", "Accept-Encoding: gzip\r\n"));
  EXPECT_EQ(gz.body, "gzipped");
  EXPECT_EQ(gz.header("content-encoding"), "gzip");
  HttpResponse no_br = fetch(port(), get("/app.css", "Accept-Encoding: br;q=0, gzip\r\n"));
  EXPECT_EQ(no_br.body, "gzipped");
  HttpResponse plain = fetch(port(), get("/app.css"));
  EXPECT_EQ(plain.body, "plain");
  EXPECT_EQ(plain.header("content-encoding"), "");
}

TEST_P(Static, ChangedFileIsSeenWithinASecond) {
  start();
  EXPECT_EQ(fetch(port(), get("/a.txt")).body, "first\n");  // now in the loop's file cache
  site_.write("www/a.txt", "changed, and longer\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  // Both loops may hold it: ask on several connections.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(fetch(port(), get("/a.txt")).body, "changed, and longer\n");
  std::filesystem::remove(site_.path() + "/www/a.txt");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(fetch(port(), get("/a.txt")).status, 404);
}

TEST_P(Static, LargeFileWithCurlMatchesByteForByte) {
  std::string big(3 << 20, '\0');
  std::mt19937 rng(42);
  for (char& c : big) c = char(rng());
  std::string path = site_.write("www/big.bin", big);
  start();
  std::string out;
  std::string cmd =
      "curl -sS --http1.1 -o " + site_.path() +
      "/got.bin -w '%{http_code} %{size_download}' http://127.0.0.1:" + std::to_string(port()) +
      "/big.bin";
  ASSERT_EQ(run_command(cmd, out), 0);
  EXPECT_EQ(out, "200 " + std::to_string(big.size()));
  ASSERT_EQ(run_command("cmp " + path + " " + site_.path() + "/got.bin && echo same", out), 0);
  EXPECT_EQ(out, "same\n");
  // A range from the middle of a large file goes through the sendfile path with an offset.
  ASSERT_EQ(run_command("curl -sS -r 1048576-2097151 -o " + site_.path() +
                            "/part.bin http://127.0.0.1:" + std::to_string(port()) + "/big.bin",
                        out),
            0);
  std::string expect = big.substr(1048576, 1048576);
  std::string got_path = site_.path() + "/part.bin";
  FILE* f = fopen(got_path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string got(expect.size() + 1, '\0');
  got.resize(fread(got.data(), 1, got.size(), f));
  fclose(f);
  EXPECT_TRUE(got == expect);
}

TEST_P(Static, CurlKeepAliveAcrossUrls) {
  start();
  std::string out;
  std::string base = "http://127.0.0.1:" + std::to_string(port());
  ASSERT_EQ(run_command("curl -sS -v " + base + "/a.txt " + base + "/b.txt 2>&1", out), 0);
  EXPECT_NE(out.find("first"), std::string::npos);
  EXPECT_NE(out.find("second"), std::string::npos);
  EXPECT_NE(out.find("Re-using existing connection"), std::string::npos) << out;
}

struct Traversal {
  const char* name;
  const char* path;
  int status;
};

void PrintTo(const Traversal& t, std::ostream* os) {
  *os << t.path;
}

class StaticTraversal : public ::testing::TestWithParam<std::tuple<std::string, Traversal>> {};

TEST_P(StaticTraversal, NeverLeavesTheRoot) {
  auto [backend, t] = GetParam();
  if (skip_backend(backend)) GTEST_SKIP() << "io_uring is not usable here";
  TempDir dir;
  write_test_site(dir);
  dir.write("secret.txt", "SECRET");
  std::filesystem::create_symlink(dir.path() + "/secret.txt", dir.path() + "/www/link-out");
  std::filesystem::create_symlink("../secret.txt", dir.path() + "/www/rel-out");
  std::filesystem::create_symlink(dir.path(), dir.path() + "/www/dir-out");
  std::filesystem::create_symlink("a.txt", dir.path() + "/www/link-in");
  auto proxy = start_proxy(backend, dir);
  HttpResponse r = fetch(proxy->port(), get(t.path));
  EXPECT_EQ(r.status, t.status) << t.path;
  EXPECT_EQ(r.body.find("SECRET"), std::string::npos);
  EXPECT_EQ(r.body.find("root:"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, StaticTraversal,
    ::testing::Combine(::testing::Values("io_uring", "epoll"),
                       ::testing::Values(Traversal{"dotdot", "/../secret.txt", 400},
                                         Traversal{"dotdot_etc", "/../../../../etc/passwd", 400},
                                         Traversal{"encoded_dotdot", "/%2e%2e/secret.txt", 400},
                                         Traversal{"mixed_dotdot", "/.%2e/secret.txt", 400},
                                         Traversal{"encoded_slash", "/..%2fsecret.txt", 400},
                                         Traversal{"sub_then_up", "/sub/../../secret.txt", 400},
                                         Traversal{"nul", "/a.txt%00.html", 400},
                                         Traversal{"symlink_abs", "/link-out", 404},
                                         Traversal{"symlink_rel", "/rel-out", 404},
                                         Traversal{"symlink_dir", "/dir-out/secret.txt", 404},
                                         Traversal{"inside_dotdot", "/sub/../a.txt", 200},
                                         Traversal{"symlink_inside", "/link-in", 200},
                                         Traversal{"double_slash", "//a.txt", 200})),
    [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param).name; });

}  // namespace
}  // namespace askr::testing
