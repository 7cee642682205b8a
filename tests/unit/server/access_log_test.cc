#include "server/access_log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <string>

namespace askr::server {
namespace {

// One entry written through an AccessLog on a pipe; returns the line as written.
std::string log_line(config::LogFormat format, std::string_view target,
                     std::string_view user_agent = "curl/8",
                     const handlers::BackendTiming* timing = nullptr) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_NONBLOCK), 0);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(40000);
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  {
    AccessLog log(fds[1], format, "pipe");
    AccessEntry e;
    e.peer = reinterpret_cast<const sockaddr*>(&peer);
    e.method = "GET";
    e.target = target;
    e.protocol = "HTTP/1.1";
    e.status = 200;
    e.bytes = 12;
    e.user_agent = user_agent;
    e.timing = timing;
    log.add(e, 1700000000);
  }  // the destructor flushes
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  close(fds[0]);
  close(fds[1]);
  return out;
}

// The JSON line's "uri" value as written (escapes kept).
std::string json_uri(std::string_view target) {
  std::string line = log_line(config::LogFormat::kJson, target);
  size_t from = line.find("\"uri\":\"");
  size_t to = line.find("\",\"protocol\"");
  if (from == std::string::npos || to == std::string::npos) return "<no uri in " + line + ">";
  from += 7;
  return line.substr(from, to - from);
}

// `e` written through an AccessLog on a pipe, from 127.0.0.1:40000; the line as written.
std::string entry_line(config::LogFormat format, AccessEntry e) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_NONBLOCK), 0);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(40000);
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  e.peer = reinterpret_cast<const sockaddr*>(&peer);
  {
    AccessLog log(fds[1], format, "pipe");
    log.add(e, 1700000000);
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  close(fds[0]);
  close(fds[1]);
  return out;
}

// What a request lacks (its method and target when its head could not be read, its referer and
// user agent) is "-" in the combined format and an empty string in JSON, as nginx writes a
// variable that is not found with and without escape=json. A protocol is written as given (the
// connection's, for a head that could not be read); with neither a request line nor a protocol
// (only blank lines came), the combined format's request is "" as nginx's $request.
TEST(AccessLog, MissingFieldsAreADashInCombinedAndEmptyInJson) {
  AccessEntry refused;  // an HTTP/2 stream whose head could not be read
  refused.protocol = "HTTP/2.0";
  refused.status = 400;
  EXPECT_NE(entry_line(config::LogFormat::kCombined, refused)
                .find("] \"- - HTTP/2.0\" 400 0 \"-\" \"-\"\n"),
            std::string::npos)
      << entry_line(config::LogFormat::kCombined, refused);
  EXPECT_NE(entry_line(config::LogFormat::kJson, refused)
                .find("\"method\":\"\",\"uri\":\"\",\"protocol\":\"HTTP/2.0\",\"status\":400,"
                      "\"bytes\":0,\"referer\":\"\",\"user_agent\":\"\"}\n"),
            std::string::npos)
      << entry_line(config::LogFormat::kJson, refused);

  AccessEntry bad_line;  // an HTTP/1.1 request line that could not be read
  bad_line.protocol = "HTTP/1.1";
  bad_line.request_line = "GET\x01 /";
  bad_line.status = 400;
  EXPECT_NE(entry_line(config::LogFormat::kCombined, bad_line).find("] \"GET\\x01 /\" 400 0 "),
            std::string::npos)
      << entry_line(config::LogFormat::kCombined, bad_line);
  EXPECT_NE(entry_line(config::LogFormat::kJson, bad_line)
                .find("\"method\":\"\",\"uri\":\"\",\"protocol\":\"HTTP/1.1\",\"request\":"
                      "\"GET\\u0001 /\",\"status\":400,"),
            std::string::npos)
      << entry_line(config::LogFormat::kJson, bad_line);

  AccessEntry blank;  // blank lines alone
  blank.status = 400;
  EXPECT_NE(entry_line(config::LogFormat::kCombined, blank).find("] \"\" 400 0 \"-\" \"-\"\n"),
            std::string::npos)
      << entry_line(config::LogFormat::kCombined, blank);
  EXPECT_NE(entry_line(config::LogFormat::kJson, blank)
                .find("\"method\":\"\",\"uri\":\"\",\"protocol\":\"\",\"status\":400,"),
            std::string::npos)
      << entry_line(config::LogFormat::kJson, blank);
}

TEST(AccessLogJson, AsciiPassesThrough) {
  EXPECT_EQ(json_uri("/a/b?c=d&e=f"), "/a/b?c=d&e=f");
}

TEST(AccessLogJson, QuotesBackslashesAndControlBytesAreEscaped) {
  EXPECT_EQ(json_uri(std::string("/\"q\\\t\n\r\x01\x1f\x7f", 10)),
            "/\\u0022q\\u005C\\u0009\\u000A\\u000D\\u0001\\u001F\\u007F");
  EXPECT_EQ(json_uri(std::string("/a\0b", 4)), "/a\\u0000b");
}

// "remote" is the client's address alone, as nginx's $remote_addr and the combined format's
// first field, so that `jq -r .remote | sort | uniq -c` counts clients, not connections, and a
// ban list takes it as it is; the port has a field of its own ($remote_port).
TEST(AccessLogJson, RemoteIsTheAddressAndThePortHasItsOwnField) {
  EXPECT_NE(log_line(config::LogFormat::kJson, "/")
                .find("\"remote\":\"127.0.0.1\",\"remote_port\":40000,\"method\""),
            std::string::npos)
      << log_line(config::LogFormat::kJson, "/");
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK), 0);
  sockaddr_in6 peer{};
  peer.sin6_family = AF_INET6;
  peer.sin6_port = htons(40001);
  peer.sin6_addr = in6addr_loopback;
  {
    AccessLog log(fds[1], config::LogFormat::kJson, "pipe");
    AccessEntry e;
    e.peer = reinterpret_cast<const sockaddr*>(&peer);
    e.method = "GET";
    e.target = "/";
    e.protocol = "HTTP/2.0";
    e.status = 200;
    log.add(e, 1700000000);
  }
  char buf[4096];
  const ssize_t n = ::read(fds[0], buf, sizeof buf);
  close(fds[0]);
  close(fds[1]);
  const std::string line(buf, size_t(std::max<ssize_t>(n, 0)));
  EXPECT_NE(line.find("\"remote\":\"::1\",\"remote_port\":40001,"), std::string::npos) << line;
}

TEST(AccessLogJson, PhpRequestStagesAreIntegerMicroseconds) {
  handlers::BackendTiming t{305123, 2100, 301000, 2023};
  std::string line = log_line(config::LogFormat::kJson, "/a.php", "curl/8", &t);
  EXPECT_TRUE(
      line.ends_with("\"user_agent\":\"curl/8\",\"upstream_time_us\":305123,"
                     "\"upstream_queue_time_us\":2100,\"upstream_php_time_us\":301000,"
                     "\"upstream_io_time_us\":2023}\n"))
      << line;
  EXPECT_TRUE(log_line(config::LogFormat::kJson, "/a.php").ends_with("\"curl/8\"}\n"));
  // nginx's combined format has no such fields: the line is unchanged.
  EXPECT_EQ(log_line(config::LogFormat::kCombined, "/a.php", "curl/8", &t),
            log_line(config::LogFormat::kCombined, "/a.php"));
}

TEST(AccessLogJson, WellFormedUtf8PassesThroughUnchanged) {
  // é (2 bytes), € (3), U+FFFD, 😀 (4), U+10FFFF: the largest code point.
  const std::string utf8 = "/\xC3\xA9/\xE2\x82\xAC/\xEF\xBF\xBD/\xF0\x9F\x98\x80/\xF4\x8F\xBF\xBF";
  EXPECT_EQ(json_uri(utf8), utf8);
}

TEST(AccessLogJson, BytesOutsideWellFormedUtf8AreEscaped) {
  EXPECT_EQ(json_uri("/\xFF"), "/\\u00FF");
  EXPECT_EQ(json_uri("/\xFE\xFF"), "/\\u00FE\\u00FF");
  EXPECT_EQ(json_uri("/\x80"), "/\\u0080");                  // a stray continuation byte
  EXPECT_EQ(json_uri("/\xC3"), "/\\u00C3");                  // truncated at the end
  EXPECT_EQ(json_uri("/\xC3/"), "/\\u00C3/");                // truncated before ASCII
  EXPECT_EQ(json_uri("/\xE2\x82"), "/\\u00E2\\u0082");       // truncated 3-byte sequence
  EXPECT_EQ(json_uri("/\xC3\xC3\xA9"), "/\\u00C3\xC3\xA9");  // a bad lead, then a good pair
}

TEST(AccessLogJson, OverlongSurrogateAndOutOfRangeFormsAreEscaped) {
  EXPECT_EQ(json_uri("/\xC0\xAF"), "/\\u00C0\\u00AF");                        // overlong '/'
  EXPECT_EQ(json_uri("/\xC1\xBF"), "/\\u00C1\\u00BF");                        // overlong
  EXPECT_EQ(json_uri("/\xE0\x80\xAF"), "/\\u00E0\\u0080\\u00AF");             // overlong '/'
  EXPECT_EQ(json_uri("/\xE0\x9F\xBF"), "/\\u00E0\\u009F\\u00BF");             // overlong U+07FF
  EXPECT_EQ(json_uri("/\xED\xA0\x80"), "/\\u00ED\\u00A0\\u0080");             // surrogate U+D800
  EXPECT_EQ(json_uri("/\xED\xBF\xBF"), "/\\u00ED\\u00BF\\u00BF");             // surrogate U+DFFF
  EXPECT_EQ(json_uri("/\xED\x9F\xBF"), "/\xED\x9F\xBF");                      // U+D7FF is fine
  EXPECT_EQ(json_uri("/\xF0\x80\x80\xAF"), "/\\u00F0\\u0080\\u0080\\u00AF");  // overlong
  EXPECT_EQ(json_uri("/\xF4\x90\x80\x80"), "/\\u00F4\\u0090\\u0080\\u0080");  // U+110000
  EXPECT_EQ(json_uri("/\xF5\x80\x80\x80"), "/\\u00F5\\u0080\\u0080\\u0080");  // past F4
}

TEST(AccessLogJson, UserAgentIsEscapedTheSameWay) {
  std::string line = log_line(config::LogFormat::kJson, "/", "ua\xFF\xC3\xA9\"");
  EXPECT_NE(line.find("\"user_agent\":\"ua\\u00FF\xC3\xA9\\u0022\"}\n"), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":200,\"bytes\":12,"), std::string::npos) << line;
}

// The zone as nginx writes it: $time_iso8601 (RFC 3339, "+05:30": what Go's time.RFC3339, Java's
// ISO_OFFSET_DATE_TIME and log shippers read) in JSON, $time_local ("+0530") in combined.
TEST(AccessLogTime, JsonTimeIsRfc3339AndCombinedIsNginxTimeLocal) {
  const char* tz = std::getenv("TZ");
  const std::string saved = tz ? tz : "";
  setenv("TZ", "IST-5:30", 1);
  tzset();
  const std::string json = log_line(config::LogFormat::kJson, "/");
  const std::string combined = log_line(config::LogFormat::kCombined, "/");
  tz ? setenv("TZ", saved.c_str(), 1) : unsetenv("TZ");
  tzset();
  EXPECT_EQ(json.rfind("{\"time\":\"2023-11-15T03:43:20+05:30\",", 0), 0u) << json;
  EXPECT_NE(combined.find(" [15/Nov/2023:03:43:20 +0530] "), std::string::npos) << combined;
}

TEST(AccessLogCombined, BytesAbove0x7fAreHexEscaped) {
  std::string line = log_line(config::LogFormat::kCombined, "/\xC3\xA9\xFF\"", "ua");
  EXPECT_NE(line.find("\"GET /\\xC3\\xA9\\xFF\\x22 HTTP/1.1\" 200 12 \"-\" \"ua\"\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.compare(0, 10, "127.0.0.1 "), 0) << line;
}

// A pipe (stderr under a container runtime or a supervisor, a FIFO a log shipper reads) keeps
// a write of up to PIPE_BUF bytes in one piece; a longer one may be split, and the other loops'
// lines (and the error log's) land inside a line. A packet-mode pipe shows where each write was
// split: every piece must be whole lines.
TEST(AccessLogPipe, EachWriteIsWholeLinesOfAtMostPipeBuf) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_DIRECT), 0);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string user_agent(300, 'u');
  std::string lines;
  {
    AccessLog log(fds[1], config::LogFormat::kJson, "pipe");
    AccessEntry e;
    e.peer = reinterpret_cast<const sockaddr*>(&peer);
    e.method = "GET";
    e.target = "/";
    e.protocol = "HTTP/1.1";
    e.status = 200;
    e.user_agent = user_agent;
    for (int i = 0; i < 40; ++i) log.add(e, 1700000000);
  }  // the destructor flushes: about 16 KiB
  char buf[65536];
  size_t pieces = 0;
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0; ++pieces) {
    const std::string piece(buf, size_t(n));
    EXPECT_LE(piece.size(), size_t(PIPE_BUF));
    EXPECT_EQ(piece.back(), '\n') << "a write ends inside a line: ..." << piece.substr(n - 40);
    lines += piece;
  }
  close(fds[0]);
  close(fds[1]);
  EXPECT_GT(pieces, 1u);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 40);
}

}  // namespace
}  // namespace askr::server
