#include "server/protocol.h"

#include <gtest/gtest.h>

namespace askr::server {
namespace {

TEST(Protocol, AlpnDecidesOverTls) {
  EXPECT_EQ(choose_protocol(true, "h2", true), Protocol::kHttp2);
  EXPECT_EQ(choose_protocol(true, "h2", false), Protocol::kHttp2);  // h2c is cleartext only
  EXPECT_EQ(choose_protocol(true, "http/1.1", true), Protocol::kHttp1);
  EXPECT_EQ(choose_protocol(true, "", true), Protocol::kHttp1);  // no ALPN: HTTP/1.1
}

TEST(Protocol, CleartextSniffsWhenH2cIsOn) {
  EXPECT_EQ(choose_protocol(false, "", true), Protocol::kSniff);
  EXPECT_EQ(choose_protocol(false, "", false), Protocol::kHttp1);
}

TEST(Protocol, Preface) {
  EXPECT_EQ(sniff_preface(kH2Preface), Sniffed::kHttp2);
  EXPECT_EQ(sniff_preface(std::string(kH2Preface) + "more frames"), Sniffed::kHttp2);
  EXPECT_EQ(sniff_preface("P"), Sniffed::kNeedMore);
  EXPECT_EQ(sniff_preface("PRI * HTTP/2.0\r\n"), Sniffed::kNeedMore);
  EXPECT_EQ(sniff_preface("POST / HTTP/1.1\r\n"), Sniffed::kHttp1);
  EXPECT_EQ(sniff_preface("GET / HTTP/1.1\r\n"), Sniffed::kHttp1);
  EXPECT_EQ(sniff_preface("PRI * HTTP/2.0\r\n\r\nXX"), Sniffed::kHttp1);
}

}  // namespace
}  // namespace askr::server
