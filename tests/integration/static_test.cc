// Static files against the real binary: index, MIME, validators, ranges, precompressed
// siblings, large bodies and path safety — with raw sockets and with curl.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

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

// A fragment in the target is no part of the path (RFC 3986 §3.5): nginx serves the file
// without it, and so does Askr.
TEST_P(Static, FragmentInTargetIsIgnored) {
  start();
  HttpResponse r = fetch(port(), get("/a.txt#x"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "first\n");
  r = fetch(port(), get("/sub?q=1#f"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/sub/?q=1");
}

// Bad input gets its status, a line in the error log and a counter: a target whose path does not
// normalize (a NUL, ".." above the root) is answered 400 and logged with the reason, on
// HTTP/1.1 and HTTP/2 alike.
TEST_P(Static, RefusedPathIsLogged) {
  start();
  auto logged = [&](const std::string& line) {
    for (int i = 0; i < 100; ++i) {
      if (proxy_->error_log().find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  HttpResponse r = fetch(port(), get("/a%00b.txt"));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(logged("NUL in path, answered 400")) << proxy_->error_log();
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --path-as-is --noproxy '*' -o /dev/null "
                        "-w '%{http_code}' --max-time 30 'http://127.0.0.1:" +
                            std::to_string(port()) + "/../a.txt'",
                        out),
            0);
  EXPECT_EQ(out, "400");
  EXPECT_TRUE(logged("path climbs above root, answered 400")) << proxy_->error_log();
}

// An encoded slash names no file (no file name holds a '/'): such a path is answered 404, as a
// missing file is, and never looked up as the path with a real '/' there, so "..%2f" reaches
// nothing beside or above what the plain path names. (nginx decodes it into a '/', and serves
// /a.txt for "/dir/..%2fa.txt".)
TEST_P(Static, EncodedSlashNamesNoFile) {
  site_.write("www/dir/a.txt", "in dir\n");
  start();
  for (const char* path : {"/dir%2Fa.txt", "/dir%2fa.txt", "/dir/..%2fa.txt", "/dir/..%2Fa.txt",
                           "/dir%2F", "/sub%2f", "/sub%2Findex.html"}) {
    HttpResponse r = fetch(port(), get(path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("first"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("in dir"), std::string::npos) << path;
  }
  EXPECT_EQ(fetch(port(), get("/dir/a.txt")).body, "in dir\n");
  EXPECT_EQ(fetch(port(), get("/dir/%2e%2e/a.txt")).body, "first\n");
  EXPECT_EQ(fetch(port(), get("/a%00.txt")).status, 400);
  // Taken as '/', as nginx takes it, it makes no ".." climb above the root either.
  for (const char* path : {"/..%2f..%2fetc/passwd", "/%2e%2e%2fa.txt", "/..%2f/../../a.txt"}) {
    EXPECT_EQ(fetch(port(), get(path)).status, 400) << path;
  }
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --path-as-is --noproxy '*' -o /dev/null "
                        "-w '%{http_code}' --max-time 30 'http://127.0.0.1:" +
                            std::to_string(port()) + "/dir/..%2fa.txt'",
                        out),
            0);
  EXPECT_EQ(out, "404");
}

// The directory redirect points at the path that was served, normalized and percent-encoded,
// as nginx's does: never at the raw target, whose "//host/.." would make Location a
// scheme-relative URL to another site.
TEST_P(Static, DirectoryRedirectGoesToTheNormalizedPath) {
  site_.write("www/sp ace/index.html", "spaced\n");
  start();
  HttpResponse r = fetch(port(), get("//evil.example/../sub"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/sub/");
  r = fetch(port(), get("/x/%2e%2e//sub?a=%41"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/sub/?a=%41");
  r = fetch(port(), get("/sp%20ace"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/sp%20ace/");
  EXPECT_EQ(fetch(port(), get(r.header("location"))).body, "spaced\n");
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

// A list field sent on several lines is one list, its lines joined with commas (RFC 9110 §5.3): a
// client or an intermediary that sends If-None-Match, If-Match or Accept-Encoding twice means
// every tag and coding it names, not the first line's alone. Over HTTP/1.1 and HTTP/2 alike.
TEST_P(Static, ListFieldsOnSeveralLinesAreOneList) {
  site_.write("www/app.css", "plain");
  site_.write("www/app.css.gz", "gzipped");
  start();
  const std::string etag = fetch(port(), get("/a.txt")).header("etag");
  ASSERT_FALSE(etag.empty());
  for (int i = 0; i < 2; ++i) {  // the second answer comes from the loop's file cache
    HttpResponse r =
        fetch(port(), get("/a.txt", "If-None-Match: \"old\"\r\nIf-None-Match: " + etag + "\r\n"));
    EXPECT_EQ(r.status, 304) << i;
    r = fetch(port(), get("/a.txt", "If-Match: \"old\"\r\nIf-Match: " + etag + "\r\n"));
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "first\n") << i;
    r = fetch(port(), get("/a.txt", "If-Match: \"old\"\r\nIf-Match: \"older\"\r\n"));
    EXPECT_EQ(r.status, 412) << i;
    r = fetch(port(), get("/app.css", "Accept-Encoding: identity\r\nAccept-Encoding: gzip\r\n"));
    EXPECT_EQ(r.body, "gzipped") << i;
    EXPECT_EQ(r.header("content-encoding"), "gzip") << i;
  }
  std::string out;
  ASSERT_EQ(
      run_command("curl -sS --http2-prior-knowledge --noproxy '*' -H 'If-None-Match: \"old\"' "
                  "-H 'If-None-Match: " +
                      etag + "' -o /dev/null -w '%{http_code}' --max-time 30 http://127.0.0.1:" +
                      std::to_string(port()) + "/a.txt",
                  out),
      0);
  EXPECT_EQ(out, "304");
}

// A date later than the server's clock is not a valid If-Modified-Since (RFC 9110 §13.1.3): it
// is ignored and the file is served, as nginx serves it, instead of a 304 that would keep a
// client on its stale copy.
TEST_P(Static, IfModifiedSinceInTheFutureIsIgnored) {
  start();
  const std::string future = "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n";
  HttpResponse r = fetch(port(), get("/a.txt", future));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "first\n");
  EXPECT_EQ(fetch(port(), get("/a.txt", "If-None-Match: \"x\"\r\n" + future)).status, 200);
}

// An IMF-fixdate as seconds since the epoch; -1 when it is not one.
time_t http_date(const std::string& text) {
  tm t{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &t);
  return end && *end == '\0' ? timegm(&t) : -1;
}

// A file dated ahead of the clock (a copy from a machine whose clock runs fast) is said to be
// modified now, as RFC 9110 §8.8.2.1 asks: a Last-Modified later than the Date could never be
// matched, since an If-Modified-Since in the future is ignored.
TEST_P(Static, FileDatedInTheFutureIsLastModifiedAtTheDate) {
  std::string path = site_.write("www/ahead.txt", "ahead\n");
  const timespec times[2] = {{0, UTIME_OMIT}, {time(nullptr) + 86400, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  start();
  // The Last-Modified moves on with the clock: the revalidation is asked again when a new second
  // began between the two answers.
  for (int attempt = 0; attempt < 10; ++attempt) {
    HttpResponse first = fetch(port(), get("/ahead.txt"));
    ASSERT_EQ(first.status, 200);
    std::string lm = first.header("last-modified"), date = first.header("date");
    ASSERT_NE(http_date(lm), -1) << lm;
    ASSERT_LE(http_date(lm), http_date(date)) << lm << " is later than " << date;
    HttpResponse again = fetch(port(), get("/ahead.txt", "If-Modified-Since: " + lm + "\r\n"));
    if (again.header("date") != date) continue;
    EXPECT_EQ(again.status, 304);
    EXPECT_EQ(again.header("last-modified"), lm);
    return;
  }
  ADD_FAILURE() << "no two answers within one second";
}

// A file dated before the year 0 (tmpfs and btrfs keep any 64-bit time, a bogus tar archive
// sets one) has no Last-Modified that an HTTP-date can write: none is sent, rather than an
// empty field that is no date. Its ETag still lets a client revalidate it.
TEST_P(Static, FileDatedBeforeTheYearZeroHasNoLastModified) {
  char tmpl[] = "/dev/shm/askr-test-XXXXXX";
  if (!mkdtemp(tmpl)) GTEST_SKIP() << "no /dev/shm";
  const std::string root = tmpl;
  const std::string path = root + "/old.txt";
  std::ofstream(path) << "old\n";
  const timespec times[2] = {{0, UTIME_OMIT}, {-99999999999, 0}};
  struct stat st {};
  if (utimensat(AT_FDCWD, path.c_str(), times, 0) != 0 || stat(path.c_str(), &st) != 0 ||
      st.st_mtime != -99999999999) {
    std::filesystem::remove_all(root);
    GTEST_SKIP() << "the file system of /dev/shm cannot hold a date before the year 0";
  }
  ProxyOptions o;
  o.backend = GetParam();
  o.root = root;
  proxy_ = std::make_unique<Proxy>(o);
  for (int i = 0; i < 2; ++i) {  // the second answer comes from the loop's file cache
    int fd = connect_to(port());
    send_all(fd, get("/old.txt", "Connection: close\r\n"));
    std::string raw = read_all(fd);
    close(fd);
    EXPECT_NE(raw.find("HTTP/1.1 200 "), std::string::npos) << raw;
    EXPECT_EQ(raw.find("Last-Modified"), std::string::npos) << raw;
    EXPECT_NE(raw.find("\r\nETag: \""), std::string::npos) << raw;
    EXPECT_TRUE(raw.ends_with("\r\n\r\nold\n")) << raw;
  }
  proxy_.reset();
  std::filesystem::remove_all(root);
}

// If-Unmodified-Since (RFC 9110 §13.1.4), as nginx evaluates it: 412 when the file changed
// after the date; ignored when If-Match is there or the date is not one.
TEST_P(Static, IfUnmodifiedSinceRefusesAChangedFile) {
  site_.write("www/digits.txt", "0123456789");
  start();
  std::string lm = fetch(port(), get("/digits.txt")).header("last-modified");
  ASSERT_FALSE(lm.empty());
  const std::string old_date = "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n";
  HttpResponse r = fetch(port(), get("/digits.txt", old_date));
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(r.body, "412 Precondition Failed\n");
  EXPECT_EQ(fetch(port(), get("/digits.txt", old_date + "Range: bytes=0-1\r\n")).status, 412);
  EXPECT_EQ(fetch(port(), get("/digits.txt", "If-Unmodified-Since: " + lm + "\r\n")).body,
            "0123456789");
  EXPECT_EQ(fetch(port(), get("/digits.txt", "If-Unmodified-Since: yesterday\r\n")).status, 200);
  std::string etag = fetch(port(), get("/digits.txt")).header("etag");
  EXPECT_EQ(fetch(port(), get("/digits.txt", "If-Match: " + etag + "\r\n" + old_date)).status, 200);
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

// RFC 9110 §14.1.1: on an empty file a suffix range (the last N bytes) is satisfiable, by the
// whole empty body, which a 206 cannot describe: 200 with no bytes, as nginx answers, where a
// 416 would fail a client reading the end of a file that happens to be empty. A range that starts
// at a byte stays unsatisfiable (416), on HTTP/1.1 and HTTP/2 alike.
TEST_P(Static, SuffixRangeOfAnEmptyFileIsTheWholeFile) {
  site_.write("www/empty.txt", "");
  start();
  for (int i = 0; i < 2; ++i) {  // the second answer comes from the loop's file cache
    HttpResponse r = fetch(port(), get("/empty.txt", "Range: bytes=-5\r\n"));
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.header("content-length"), "0") << i;
    EXPECT_EQ(r.header("content-range"), "") << i;
    EXPECT_EQ(r.body, "") << i;
  }
  HttpResponse r = fetch(port(), get("/empty.txt", "Range: bytes=0-\r\n"));
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range"), "bytes */0");
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' -H 'Range: bytes=-5' "
                        "-o /dev/null -w '%{http_code} %{size_download}' --max-time 30 "
                        "http://127.0.0.1:" +
                            std::to_string(port()) + "/empty.txt",
                        out),
            0);
  EXPECT_EQ(out, "200 0");
}

// A file of 4 to 16 KiB is cached with its bytes and kept open for sendfile: an error answered
// for it (412, 416) carries its own short text, never the first bytes of the file.
TEST_P(Static, ErrorsForACachedMidSizeFileCarryTheirOwnBody) {
  site_.write("www/mid.txt", std::string(8000, 'x'));
  start();
  for (int i = 0; i < 2; ++i) {  // the first answer fills the cache, the second comes from it
    HttpResponse r = fetch(port(), get("/mid.txt", "Range: bytes=9000-\r\n"));
    EXPECT_EQ(r.status, 416);
    EXPECT_EQ(r.body, "416 Range Not Satisfiable\n") << i;
    r = fetch(port(), get("/mid.txt", "If-Match: \"nope\"\r\n"));
    EXPECT_EQ(r.status, 412);
    EXPECT_EQ(r.body, "412 Precondition Failed\n") << i;
  }
  EXPECT_EQ(fetch(port(), get("/mid.txt", "Range: bytes=7998-\r\n")).body, "xx");
}

// A 416 describes its own short text body: one Content-Type, and no Content-Encoding of the
// precompressed file it refused to cut (a client would try to gunzip the plain text).
TEST_P(Static, UnsatisfiableRangeDescribesItsOwnBody) {
  site_.write("www/app.css", "plain");
  site_.write("www/app.css.gz", "gzipped");
  start();
  int fd = connect_to(port());
  send_all(fd,
           get("/app.css", "Accept-Encoding: gzip\r\nRange: bytes=100-\r\nConnection: close\r\n"));
  std::string raw = read_all(fd);
  close(fd);
  EXPECT_NE(raw.find("HTTP/1.1 416 "), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\nContent-Range: bytes */7\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("Content-Encoding"), std::string::npos) << raw;
  size_t type = raw.find("\r\nContent-Type: ");
  ASSERT_NE(type, std::string::npos) << raw;
  EXPECT_EQ(raw.find("\r\nContent-Type: ", type + 1), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\nContent-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << raw;
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

// ---- Symlink modes, traversal, route roots and aliases
// -------------------------------------------

// Each symlink mode on each backend, with one proxy serving the tree below (owner links are
// owned by 65534 when the tests run as root, as they do in CI):
//   dir/secret.txt "SECRET"   dir/outdir/f.txt "OUTSIDE"
//   www/link-out -> dir/secret.txt    www/rel-out -> ../secret.txt   www/dir-out -> ../outdir
//   www/link-in -> a.txt              www/sub-in -> sub
//   www/owner-in -> a.txt (65534)     www/owner-out -> ../secret.txt (65534)
//   www/dangling -> nothing           www/loop -> loop              www/proc -> /proc/self/root
//   www/idx/index.html -> ../../secret.txt
class StaticSymlinks : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    if (skip_backend(backend())) GTEST_SKIP() << "io_uring is not usable here";
    write_test_site(dir_);
    dir_.write("secret.txt", "SECRET");
    dir_.write("outdir/f.txt", "OUTSIDE");
    link(dir_.path() + "/secret.txt", "link-out");
    link("../secret.txt", "rel-out");
    link("../outdir", "dir-out");
    link("a.txt", "link-in");
    link("sub", "sub-in");
    link("a.txt", "owner-in");
    link("../secret.txt", "owner-out");
    link("nothing", "dangling");
    link("loop", "loop");
    link("/proc/self/root", "proc");
    std::filesystem::create_directory(dir_.path() + "/www/idx");
    link("../../secret.txt", "idx/index.html");
    as_root_ = geteuid() == 0;
    for (const char* name : {"owner-in", "owner-out"}) {
      if (!as_root_) break;
      ASSERT_EQ(lchown((dir_.path() + "/www/" + name).c_str(), 65534, 65534), 0) << name;
    }
    proxy_ = start_proxy(backend(), dir_, "", "combined", "symlinks = \"" + mode() + "\"\n");
  }
  void link(const std::string& target, const std::string& name) {
    std::filesystem::create_symlink(target, dir_.path() + "/www/" + name);
  }
  const std::string& backend() const { return std::get<0>(GetParam()); }
  const std::string& mode() const { return std::get<1>(GetParam()); }

  TempDir dir_;
  bool as_root_ = false;
  std::unique_ptr<Proxy> proxy_;
};

// Each kind of link, and the status each mode answers. "follow" and "owner" are nginx 1.22's
// answers with disable_symlinks off and if_not_owner (NginxAgrees checks them side by side);
// "beneath" has no nginx equivalent and refuses the way the others do (403).
struct LinkCase {
  const char* path;
  int follow, owner, beneath;
  const char* body;  // when 200
  bool as_nginx;     // false where Askr differs from nginx on purpose
};

std::vector<LinkCase> link_cases(bool as_root) {
  const int owner_refused = as_root ? 403 : 200;
  return {
      {"/link-out", 200, 200, 403, "SECRET", true},        // a file outside, absolute link
      {"/rel-out", 200, 200, 403, "SECRET", true},         // a file outside, relative link
      {"/dir-out/f.txt", 200, 200, 403, "OUTSIDE", true},  // a directory outside
      {"/dir-out", 301, 301, 403, "", true},               // ... named without its slash
      {"/dir-out/", 403, 403, 403, "", true},              // ... which has no index
      {"/link-in", 200, 200, 200, "first\n", true},        // inside
      {"/sub-in/", 200, 200, 200, "sub index\n", true},    // a directory inside, its index
      {"/idx/", 200, 200, 403, "SECRET", true},            // an index file that is a link out
      {"/owner-in", 200, owner_refused, 200, "first\n", true},
      {"/owner-out", 200, owner_refused, 403, "SECRET", true},
      {"/dangling", 404, 404, 404, "", true},
      {"/loop", 403, 403, 403, "", true},
      {"/proc/etc/passwd", 403, 403, 403, "", false},  // nginx follows /proc's magic links
  };
}

TEST_P(StaticSymlinks, EachKindOfLinkAnswersAsDocumented) {
  for (const LinkCase& c : link_cases(as_root_)) {
    const int want = mode() == "follow" ? c.follow : mode() == "owner" ? c.owner : c.beneath;
    HttpResponse r = fetch(proxy_->port(), get(c.path));
    EXPECT_EQ(r.status, want) << c.path;
    if (want == 200) {
      EXPECT_EQ(r.body, c.body) << c.path;
    } else {
      EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << c.path;
    }
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << c.path;
  }
  // Refused links are logged (at most once a second): here, the first one met.
  const std::string log = proxy_->error_log();
  EXPECT_NE(log.find("(symlinks = \"" + mode() + "\")"), std::string::npos) << log;
}

// nginx (Debian's nginx-light) serving the same tree with the equivalent disable_symlinks, in
// the foreground, on a free loopback port. Stopped with the object.
class NginxStatic {
 public:
  // `server_extra`: more directives for the server block ("index a b;").
  NginxStatic(const std::string& root, const std::string& disable_symlinks,
              const std::string& server_extra = "") {
    port_ = free_port();
    const std::string& d = dir_.path();
    std::ofstream(d + "/nginx.conf")
        << "daemon off;\nmaster_process off;\npid " << d << "/nginx.pid;\nerror_log " << d
        << "/error.log;\nevents {}\nhttp {\n  access_log off;\n"
        << "  client_body_temp_path " << d << ";\n  proxy_temp_path " << d << ";\n"
        << "  fastcgi_temp_path " << d << ";\n  uwsgi_temp_path " << d << ";\n"
        << "  scgi_temp_path " << d << ";\n  server {\n    listen 127.0.0.1:" << port_
        << ";\n    root " << root << ";\n    disable_symlinks " << disable_symlinks << ";\n    "
        << server_extra << "\n  }\n}\n";
    pid_ = fork();
    if (pid_ == 0) {
      execl(kBin, "nginx", "-c", (d + "/nginx.conf").c_str(), "-p", d.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 500 && !accepting(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~NginxStatic() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  static bool available() { return access(kBin, X_OK) == 0; }

 private:
  static constexpr const char* kBin = "/usr/sbin/nginx";

  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }
  bool accepting() const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(port_);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Askr and nginx side by side on the same tree give the same status for each kind of link.
// The modes nginx has (disable_symlinks off and if_not_owner); it has no equivalent of "beneath".
class NginxSymlinks : public StaticSymlinks {};

TEST_P(NginxSymlinks, AgreeWithAskr) {
  if (!NginxStatic::available()) GTEST_SKIP() << "nginx is not installed (nginx-light)";
  NginxStatic nginx(dir_.path() + "/www", mode() == "follow" ? "off" : "if_not_owner");
  for (const LinkCase& c : link_cases(as_root_)) {
    if (!c.as_nginx) continue;
    EXPECT_EQ(fetch(proxy_->port(), get(c.path)).status, fetch(nginx.port(), get(c.path)).status)
        << c.path;
  }
}

// The request path itself never leaves the root, whatever the mode.
TEST_P(StaticSymlinks, TraversalVectorsNeverLeaveTheRoot) {
  struct Case {
    const char* path;
    int status;
  };
  const Case cases[] = {
      {"/../secret.txt", 400},
      {"/../../../../etc/passwd", 400},
      {"/%2e%2e/secret.txt", 400},
      {"/.%2e/secret.txt", 400},
      {"/..%2fsecret.txt", 400},
      {"/%2fetc%2fpasswd", 404},  // an encoded slash names no file
      {"/sub/../../secret.txt", 400},
      {"/a.txt%00.html", 400},
      {"/sub-in/../../secret.txt", 400},
      {"/dir-out/../secret.txt", 404},  // "/secret.txt" under the root: ".." is resolved first
      {"//etc/passwd", 404},            // a path under the root, never an absolute one
      {"/..%5csecret.txt", 404},        // a backslash is a file-name byte
      {"/sub/../a.txt", 200},
      {"//a.txt", 200},
  };
  for (const Case& c : cases) {
    HttpResponse r = fetch(proxy_->port(), get(c.path));
    EXPECT_EQ(r.status, c.status) << c.path;
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << c.path;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << c.path;
  }
  // An absolute-form target names a path, never a file-system location.
  HttpResponse abs = fetch(proxy_->port(),
                           "GET http://localhost/../secret.txt HTTP/1.1\r\n"
                           "Host: localhost\r\n\r\n");
  EXPECT_EQ(abs.body.find("SECRET"), std::string::npos);
}

// ---- Index files that are not files
// -------------------------------------------------------------------------

// nginx's index module takes the first index name that exists, whatever it is, and redirects to
// it internally; a directory found so is then answered 301 to itself with its slash added (its
// own index is served on the next request), the query kept. A second site, "idx.test", tries
// several names, as `index missing.html index.html index.htm;`. The tree:
//   d/index.html/ (an empty directory)      e/index.html/index.html "inner"
//   g/index.html -> ../e                    h/index.htm "htm" (the third name)
//   m/index.html -> nothing                 n/index.html -> index.html (a loop)
//   sp ace/index.html/ (an empty directory)  f/index.html (a FIFO: neither file nor directory)
class StaticIndex : public ProxyTest {
 protected:
  static constexpr const char* kNames = R"(["missing.html", "index.html", "index.htm"])";

  void SetUp() override {
    ProxyTest::SetUp();
    if (::testing::Test::IsSkipped()) return;
    site_.write("www/d/index.html/.keep", "");
    site_.write("www/e/index.html/index.html", "inner\n");
    site_.write("www/h/index.htm", "htm\n");
    site_.write("www/sp ace/index.html/.keep", "");
    std::filesystem::create_directories(site_.path() + "/www/g");
    std::filesystem::create_directories(site_.path() + "/www/m");
    std::filesystem::create_directories(site_.path() + "/www/n");
    std::filesystem::create_symlink("../e", site_.path() + "/www/g/index.html");
    std::filesystem::create_symlink("nothing", site_.path() + "/www/m/index.html");
    std::filesystem::create_symlink("index.html", site_.path() + "/www/n/index.html");
    std::filesystem::create_directories(site_.path() + "/www/f");
    ASSERT_EQ(mkfifo((site_.path() + "/www/f/index.html").c_str(), 0644), 0);
    start("[[site]]\nserver_names = [\"idx.test\"]\nroot = \"" + site_.path() +
          "/www\"\nindex = " + kNames + "\n");
  }
  static std::string idx(const std::string& method, const std::string& target) {
    return method + " " + target + " HTTP/1.1\r\nHost: idx.test\r\nConnection: close\r\n\r\n";
  }
};
ASKR_BOTH_BACKENDS(StaticIndex);

struct IndexCase {
  const char* method;
  const char* target;
  int status;
  const char* location;  // "" for none
  const char* body;      // when 200
};

constexpr IndexCase kIndexCases[] = {
    {"GET", "/d/", 301, "/d/index.html/", ""},
    {"GET", "/d/?x=1&y=%41", 301, "/d/index.html/?x=1&y=%41", ""},
    {"HEAD", "/d/?x", 301, "/d/index.html/?x", ""},
    {"GET", "/d/index.html", 301, "/d/index.html/", ""},
    {"GET", "/d/index.html/", 403, "", ""},  // no index in there: no listing
    {"GET", "/e/", 301, "/e/index.html/", ""},
    {"GET", "/e/index.html/", 200, "", "inner\n"},
    {"GET", "/g/", 301, "/g/index.html/", ""},  // a link to a directory is a directory
    {"GET", "/g/index.html/", 301, "/g/index.html/index.html/", ""},  // that is e/
    {"GET", "/g/index.html/index.html/", 200, "", "inner\n"},
    {"GET", "/h/", 200, "", "htm\n"},
    {"GET", "/m/", 403, "", ""},  // a dangling link is no index: the directory has none
    {"GET", "/n/", 403, "", ""},  // a loop is refused
    {"GET", "/sub/", 200, "", "sub index\n"},
    {"GET", "/f/", 404, "", ""},  // the index is there but not a file: 404, and the search ends
    {"GET", "/f/index.html", 404, "", ""},
};

// Each case on HTTP/1.1, and nginx's answer to the same request where nginx is installed.
TEST_P(StaticIndex, AnIndexThatIsADirectoryIsRedirectedToAsNginxDoes) {
  for (const IndexCase& c : kIndexCases) {
    const std::string raw = idx(c.method, c.target);
    int fd = connect_to(port());
    send_all(fd, raw);
    HttpResponse r = read_response(fd, std::string_view(c.method) == "HEAD");
    close(fd);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target;
    EXPECT_EQ(r.header("location"), c.location) << c.method << " " << c.target;
    if (c.status == 200) {
      EXPECT_EQ(r.body, c.body) << c.target;
    }
  }
  if (!NginxStatic::available()) GTEST_SKIP() << "nginx is not installed (nginx-light)";
  NginxStatic nginx(site_.path() + "/www", "off",
                    "index missing.html index.html index.htm;\n    absolute_redirect off;");
  for (const IndexCase& c : kIndexCases) {
    int fd = connect_to(nginx.port());
    send_all(fd, idx(c.method, c.target));
    HttpResponse r = read_response(fd, std::string_view(c.method) == "HEAD");
    close(fd);
    EXPECT_EQ(r.status, c.status) << "nginx: " << c.method << " " << c.target;
    EXPECT_EQ(r.header("location"), c.location) << "nginx: " << c.method << " " << c.target;
  }
}

// The site with the default index, and a directory whose name needs encoding in Location; the
// same answer over HTTP/2.
TEST_P(StaticIndex, RedirectToAnIndexDirectoryIsEncodedAndTheSameOverHttp2) {
  HttpResponse r = fetch(port(), get("/d/"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/d/index.html/");
  r = fetch(port(), get("/sp%20ace/?q=1"));
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/sp%20ace/index.html/?q=1");
  EXPECT_EQ(fetch(port(), get(r.header("location"))).status, 403);
  std::string out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' -o /dev/null -D - "
                        "--max-time 30 'http://127.0.0.1:" +
                            std::to_string(port()) + "/sp%20ace/?q=1'",
                        out),
            0);
  EXPECT_NE(out.find("HTTP/2 301"), std::string::npos) << out;
  EXPECT_NE(out.find("location: /sp%20ace/index.html/?q=1\r\n"), std::string::npos) << out;
  ASSERT_EQ(run_command("curl -sS --http2-prior-knowledge --noproxy '*' -H 'Host: idx.test' "
                        "--max-time 30 'http://127.0.0.1:" +
                            std::to_string(port()) + "/e/index.html/'",
                        out),
            0);
  EXPECT_EQ(out, "inner\n");
}

// A POST is looked up like a GET and refused (405) only where a file is, as nginx's static
// handler answers it: a missing path is 404, a directory is redirected or refused like a GET's.
// Other methods are 405 at once.
TEST_P(StaticIndex, PostIsRefusedOnlyWhereAFileIsAsNginxDoes) {
  const IndexCase cases[] = {
      {"POST", "/a.txt", 405, "", ""},   {"POST", "/sub/", 405, "", ""},
      {"POST", "/nothing", 404, "", ""}, {"POST", "/sub?x=1", 301, "/sub/?x=1", ""},
      {"POST", "/empty/", 403, "", ""},  {"POST", "/d/", 301, "/d/index.html/", ""},
      {"PUT", "/nothing", 405, "", ""},  {"DELETE", "/sub/", 405, "", ""},
  };
  auto ask = [](int port, const IndexCase& c, bool twice) {
    int fd = connect_to(port);  // twice: the second answer may come from the loop's file cache
    std::string raw = std::string(c.method) + " " + c.target +
                      " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nx=1";
    send_all(fd, twice ? raw + raw : raw);
    HttpResponse r = read_response(fd);
    if (twice) {
      HttpResponse again = read_response(fd);
      EXPECT_EQ(again.status, r.status) << c.method << " " << c.target << " again";
    }
    close(fd);
    return r;
  };
  for (const IndexCase& c : cases) {
    fetch(port(), get(c.target));  // a file is now in the loop's cache: a POST is still 405
    HttpResponse r = ask(port(), c, true);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target;
    EXPECT_EQ(r.header("location"), c.location) << c.method << " " << c.target;
    if (c.status == 405) {
      EXPECT_EQ(r.header("allow"), "GET, HEAD") << c.target;
    }
  }
  if (!NginxStatic::available()) GTEST_SKIP() << "nginx is not installed (nginx-light)";
  NginxStatic nginx(site_.path() + "/www", "off", "absolute_redirect off;");
  for (const IndexCase& c : cases) {
    HttpResponse r = ask(nginx.port(), c, false);
    EXPECT_EQ(r.status, c.status) << "nginx: " << c.method << " " << c.target;
    EXPECT_EQ(r.header("location"), c.location) << "nginx: " << c.method << " " << c.target;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, StaticSymlinks,
                         ::testing::Combine(::testing::Values("io_uring", "epoll"),
                                            ::testing::Values("follow", "owner", "beneath")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });
INSTANTIATE_TEST_SUITE_P(Modes, NginxSymlinks,
                         ::testing::Combine(::testing::Values("io_uring", "epoll"),
                                            ::testing::Values("follow", "owner")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// A route's own root (the whole path appended) and alias (the prefix replaced), as nginx's
// `location /media/ { root ...; }` and `location /wp-content/ { alias ...; }`.
TEST_P(Static, RouteRootAndAlias) {
  site_.write("mediaroot/media/m.txt", "media\n");
  site_.write("wpc/up.txt", "uploaded\n");
  site_.write("wpc/index.html", "wpc index\n");
  site_.write("secret.txt", "SECRET");
  std::filesystem::create_symlink("../secret.txt", site_.path() + "/wpc/out");
  proxy_ = start_proxy(GetParam(), site_, "", "combined",
                       "symlinks = \"follow\"\n"
                       "[[site.route]]\nprefix = \"/media/\"\nroot = \"" +
                           site_.path() +
                           "/mediaroot\"\n"
                           "[[site.route]]\nprefix = \"/wp-content/\"\nalias = \"" +
                           site_.path() + "/wpc/\"\nsymlinks = \"beneath\"\n");
  EXPECT_EQ(fetch(port(), get("/media/m.txt")).body, "media\n");
  EXPECT_EQ(fetch(port(), get("/wp-content/up.txt")).body, "uploaded\n");
  EXPECT_EQ(fetch(port(), get("/wp-content/")).body, "wpc index\n");
  EXPECT_EQ(fetch(port(), get("/a.txt")).body, "first\n");       // the site's root
  EXPECT_EQ(fetch(port(), get("/wp-content/out")).status, 403);  // the route's own mode
  struct Case {
    const char* path;
    int status;
  };
  const Case cases[] = {
      {"/wp-content/../secret.txt", 404},  // "/secret.txt", under the site's root
      {"/wp-content/%2e%2e/secret.txt", 404},
      {"/wp-content/..%2fsecret.txt", 404},  // an encoded slash names no file
      {"/wp-content../secret.txt", 404},     // not under the prefix
      {"/wp-content/..%5csecret.txt", 404},
      {"/media/../secret.txt", 404},
      {"/media/m.txt%00", 400},
      {"/wp-content", 404},  // the prefix without its slash is not the route's
  };
  for (const Case& c : cases) {
    HttpResponse r = fetch(port(), get(c.path));
    EXPECT_EQ(r.status, c.status) << c.path;
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << c.path;
  }
}

// Documents, archives, video and audio that sites offer for download or play are typed as nginx's
// mime.types types them: as application/octet-stream a phone cannot open them (iOS Safari
// previews a .docx, Android opens a finished download, by its type), a <video> of an .mpg does
// not play, a .shtml page is downloaded instead of shown, a CA certificate (.crt, .der, .pem) is
// not offered for installation and Firefox refuses to install a self-hosted add-on (.xpi). Askr
// gives a text type its charset.
TEST_P(Static, DocumentAndMediaTypesAreNginxs) {
  struct Case {
    const char* name;
    const char* type;
  };
  const Case cases[] = {
      {"page.shtml", "text/html; charset=utf-8"},
      {"a.doc", "application/msword"},
      {"a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"a.xls", "application/vnd.ms-excel"},
      {"a.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"a.ppt", "application/vnd.ms-powerpoint"},
      {"a.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"a.odt", "application/vnd.oasis.opendocument.text"},
      {"a.ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {"a.odp", "application/vnd.oasis.opendocument.presentation"},
      {"a.odg", "application/vnd.oasis.opendocument.graphics"},
      {"a.rtf", "application/rtf"},
      {"a.ps", "application/postscript"},
      {"a.eps", "application/postscript"},
      {"a.kml", "application/vnd.google-earth.kml+xml"},
      {"a.kmz", "application/vnd.google-earth.kmz"},
      {"a.7z", "application/x-7z-compressed"},
      {"a.rar", "application/x-rar-compressed"},
      {"a.jar", "application/java-archive"},
      {"a.mpeg", "video/mpeg"},
      {"a.mpg", "video/mpeg"},
      {"a.m4v", "video/x-m4v"},
      {"a.avi", "video/x-msvideo"},
      {"a.flv", "video/x-flv"},
      {"a.wmv", "video/x-ms-wmv"},
      {"a.3gp", "video/3gpp"},
      {"a.3gpp", "video/3gpp"},
      {"seg.ts", "video/mp2t"},
      {"a.mid", "audio/midi"},
      {"a.midi", "audio/midi"},
      {"ca.crt", "application/x-x509-ca-cert"},
      {"ca.der", "application/x-x509-ca-cert"},
      {"ca.pem", "application/x-x509-ca-cert"},
      {"addon.xpi", "application/x-xpinstall"},
      {"a.rpm", "application/x-redhat-package-manager"},
      {"a.war", "application/java-archive"},
      {"a.ear", "application/java-archive"},
      {"a.jnlp", "application/x-java-jnlp-file"},
      {"a.ai", "application/postscript"},
  };
  for (const Case& c : cases) site_.write(std::string("www/") + c.name, "x");
  start();
  for (const Case& c : cases) {
    EXPECT_EQ(fetch(port(), get(std::string("/") + c.name)).header("content-type"), c.type)
        << c.name;
  }
  if (!NginxStatic::available()) GTEST_SKIP() << "nginx is not installed (nginx-light)";
  NginxStatic nginx(site_.path() + "/www", "off", "include /etc/nginx/mime.types;");
  for (const Case& c : cases) {
    const std::string type = c.type;
    EXPECT_EQ(fetch(nginx.port(), get(std::string("/") + c.name)).header("content-type"),
              type.substr(0, type.find(';')))
        << "nginx: " << c.name;
  }
}

// A precompressed sibling is another representation (RFC 9110 §8.8.3): its strong ETag differs
// from the plain file's even when both have the same size and time (as "gzip -k" leaves the
// time), and the preconditions compare against the one chosen. Over HTTP/1.1 and HTTP/2, fresh
// and from the loop's file cache.
TEST_P(Static, PrecompressedSiblingHasItsOwnETag) {
  const std::string plain = site_.write("www/app.css", "plain!!");
  const std::string gz = site_.write("www/app.css.gz", "gzipped");
  std::filesystem::last_write_time(gz, std::filesystem::last_write_time(plain));
  start();
  const std::string kGzip = "Accept-Encoding: gzip\r\n";
  for (int i = 0; i < 2; ++i) {
    const std::string plain_tag = fetch(port(), get("/app.css")).header("etag");
    HttpResponse r = fetch(port(), get("/app.css", kGzip));
    ASSERT_EQ(r.body, "gzipped") << i;
    const std::string gz_tag = r.header("etag");
    ASSERT_FALSE(gz_tag.empty()) << i;
    EXPECT_NE(gz_tag, plain_tag) << i;
    r = fetch(port(), get("/app.css", kGzip + "If-None-Match: " + plain_tag + "\r\n"));
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "gzipped") << i;
    EXPECT_EQ(fetch(port(), get("/app.css", kGzip + "If-None-Match: " + gz_tag + "\r\n")).status,
              304)
        << i;
    EXPECT_EQ(fetch(port(), get("/app.css", "If-None-Match: " + gz_tag + "\r\n")).status, 200) << i;
    EXPECT_EQ(fetch(port(), get("/app.css", kGzip + "If-Match: " + plain_tag + "\r\n")).status, 412)
        << i;
    EXPECT_EQ(fetch(port(), get("/app.css", kGzip + "If-Match: " + gz_tag + "\r\n")).status, 200)
        << i;
    r = fetch(port(),
              get("/app.css", kGzip + "Range: bytes=0-1\r\nIf-Range: " + plain_tag + "\r\n"));
    EXPECT_EQ(r.status, 200) << i;
    r = fetch(port(), get("/app.css", kGzip + "Range: bytes=0-1\r\nIf-Range: " + gz_tag + "\r\n"));
    EXPECT_EQ(r.status, 206) << i;
    EXPECT_EQ(r.body, "gz") << i;
    std::string out;
    ASSERT_EQ(
        run_command("curl -sS --http2-prior-knowledge --noproxy '*' -H 'Accept-Encoding: "
                    "gzip' -H 'If-None-Match: " +
                        plain_tag + "' -o /dev/null -w '%{http_code} %header{etag}' " +
                        "--max-time 30 http://127.0.0.1:" + std::to_string(port()) + "/app.css",
                    out),
        0);
    EXPECT_EQ(out, "200 " + gz_tag) << i;
  }
}

// An answer for a file that has a precompressed sibling depends on Accept-Encoding whatever the
// client sent, so it says so even when the plain file goes out: a shared cache that stored a plain
// answer without Vary (a request without Accept-Encoding warming a CDN) would give it to every
// client. As nginx's `gzip_static on; gzip_vary on;` answers; a file without a sibling has no Vary.
TEST_P(Static, VaryWhereverAPrecompressedSiblingExists) {
  site_.write("www/app.css", "plain");
  site_.write("www/app.css.gz", "gzipped");
  start();
  const std::string asks[] = {"", "Accept-Encoding: identity\r\n", "Accept-Encoding: br\r\n",
                              "Accept-Encoding: gzip;q=0\r\n", "Accept-Encoding: gzip\r\n"};
  auto check = [&](int port, const char* who) {
    for (int i = 0; i < 2; ++i) {  // the second answer comes from the loop's file cache
      for (const std::string& ask : asks) {
        HttpResponse r = fetch(port, get("/app.css", ask));
        EXPECT_EQ(r.header("vary"), "Accept-Encoding") << who << " [" << ask << "]";
        EXPECT_EQ(r.body, ask.ends_with("gzip\r\n") ? "gzipped" : "plain") << who << " " << ask;
      }
      EXPECT_EQ(fetch(port, get("/style.css")).header("vary"), "") << who;
    }
  };
  check(port(), "askr");
  if (!NginxStatic::available()) GTEST_SKIP() << "nginx is not installed (nginx-light)";
  NginxStatic nginx(site_.path() + "/www", "off", "gzip_static on;\n    gzip_vary on;");
  check(nginx.port(), "nginx");
}

}  // namespace
}  // namespace askr::testing
