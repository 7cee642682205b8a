#include "sapi/cgi_headers.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace askr::worker::sapi {
namespace {

using Lines = std::vector<std::string_view>;

TEST(CgiHeaderBlock, StatusFromTheCode) {
  Lines h = {"X-Powered-By: PHP/8.2", "Content-type: text/html; charset=UTF-8"};
  EXPECT_EQ(cgi_header_block(200, "", h),  // a plain 200: no Status line, as from php-fpm
            "X-Powered-By: PHP/8.2\r\nContent-type: text/html; charset=UTF-8\r\n\r\n");
  EXPECT_EQ(cgi_header_block(201, "", h),
            "Status: 201 Created\r\nX-Powered-By: PHP/8.2\r\n"
            "Content-type: text/html; charset=UTF-8\r\n\r\n");
  EXPECT_EQ(cgi_header_block(404, "", {}), "Status: 404 Not Found\r\n\r\n");
  EXPECT_EQ(cgi_header_block(299, "", {}), "Status: 299\r\n\r\n");
}

TEST(CgiHeaderBlock, StatusLineWins) {
  EXPECT_EQ(cgi_header_block(404, "HTTP/1.1 404 Gone Fishing", {}),
            "Status: 404 Gone Fishing\r\n\r\n");
  // Not for a 200, as php-fpm: a Location then means 302 to the web server.
  EXPECT_EQ(cgi_header_block(200, "HTTP/1.0 200 Fine", {}), "\r\n");
  EXPECT_EQ(cgi_header_block(200, "HTTP/1.1 200 OK", Lines{"Location: /x"}),
            "Location: /x\r\n\r\n");
}

TEST(CgiHeaderBlock, OneStatusHeaderKept) {
  Lines h = {"X-A: 1", "Status: 503 Busy", "status: 500 Other"};
  EXPECT_EQ(cgi_header_block(200, "", h), "Status: 503 Busy\r\nX-A: 1\r\n\r\n");
}

TEST(CgiHeaderBlock, NoContentTypeOn304) {
  Lines h = {"Content-Type: text/html", "ETag: \"x\""};
  EXPECT_EQ(cgi_header_block(304, "", h), "Status: 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
}

}  // namespace
}  // namespace askr::worker::sapi
