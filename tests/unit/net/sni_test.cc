#include "net/sni.h"

#include <gtest/gtest.h>

#include <string>

namespace askr::net {
namespace {

TEST(SniMap, ExactNameWinsOverWildcard) {
  SniMap m;
  m.add("*.example.com", 0);
  m.add("www.example.com", 1);
  m.add("example.com", 2);
  EXPECT_EQ(m.find("www.example.com"), 1);
  EXPECT_EQ(m.find("api.example.com"), 0);
  EXPECT_EQ(m.find("example.com"), 2);
}

TEST(SniMap, WildcardStandsForExactlyOneLabel) {
  SniMap m;
  m.add("*.example.com", 3);
  EXPECT_EQ(m.find("a.example.com"), 3);
  EXPECT_EQ(m.find("a.b.example.com"), -1);
  EXPECT_EQ(m.find("example.com"), -1);
  EXPECT_EQ(m.find(".example.com"), -1);
  EXPECT_EQ(m.find("aexample.com"), -1);
}

TEST(SniMap, CaseAndTrailingDotIgnored) {
  SniMap m;
  m.add("example.com", 4);
  m.add("*.wild.test", 5);
  EXPECT_EQ(m.find("EXAMPLE.Com"), 4);
  EXPECT_EQ(m.find("example.com."), 4);
  EXPECT_EQ(m.find("X.Wild.Test"), 5);
}

TEST(SniMap, NoMatchIsMinusOne) {
  SniMap m;
  EXPECT_EQ(m.find("example.com"), -1);
  m.add("example.com", 0);
  EXPECT_EQ(m.find(""), -1);
  EXPECT_EQ(m.find("other.com"), -1);
  EXPECT_EQ(m.find(std::string(300, 'a')), -1);
}

TEST(SniMap, FirstSiteKeepsAName) {
  SniMap m;
  m.add("a.test", 0);
  m.add("a.test", 1);
  m.add("*.w.test", 2);
  m.add("*.w.test", 3);
  EXPECT_EQ(m.find("a.test"), 0);
  EXPECT_EQ(m.find("x.w.test"), 2);
}

std::string ext(const std::string& name, uint8_t type = 0) {
  std::string entry;
  entry += char(type);
  entry += char(name.size() >> 8);
  entry += char(name.size() & 0xff);
  entry += name;
  std::string out;
  out += char(entry.size() >> 8);
  out += char(entry.size() & 0xff);
  return out + entry;
}

std::string_view parse(const std::string& data) {
  return parse_sni_extension(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

TEST(SniExtension, HostName) {
  std::string e = ext("example.com");
  EXPECT_EQ(parse(e), "example.com");
}

TEST(SniExtension, MalformedGivesNothing) {
  EXPECT_EQ(parse(""), "");
  EXPECT_EQ(parse(std::string("\x00", 1)), "");
  std::string e = ext("example.com");
  EXPECT_EQ(parse(e.substr(0, e.size() - 1)), "");  // list shorter than announced
  std::string bad_len = e;
  bad_len[4] = 0x7f;  // name longer than the list
  EXPECT_EQ(parse(bad_len), "");
  EXPECT_EQ(parse(ext("example", 1)), "");            // not a host_name
  EXPECT_EQ(parse(ext(std::string("a\0b", 3))), "");  // NUL inside the name
  EXPECT_EQ(parse(ext("a b")), "");
}

TEST(SniExtension, OtherNameTypesAreSkipped) {
  std::string entry1 = std::string("\x01\x00\x03xyz", 6);
  std::string entry2 = std::string(
      "\x00\x00\x06"
      "a.test",
      9);
  std::string list = entry1 + entry2;
  std::string data;
  data += char(list.size() >> 8);
  data += char(list.size() & 0xff);
  data += list;
  EXPECT_EQ(parse(data), "a.test");
}

bool tls13(const std::string& data) {
  return offers_tls13(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

TEST(SupportedVersions, Tls13AmongTheOfferedVersions) {
  EXPECT_TRUE(tls13(std::string("\x02\x03\x04", 3)));
  EXPECT_TRUE(tls13(std::string("\x06\x7a\x7a\x03\x04\x03\x03", 7)));  // GREASE first
  EXPECT_FALSE(tls13(std::string("\x04\x03\x03\x03\x02", 5)));
}

TEST(SupportedVersions, MalformedIsNoTls13) {
  EXPECT_FALSE(tls13(""));
  EXPECT_FALSE(tls13(std::string("\x04\x03\x04", 3)));          // shorter than announced
  EXPECT_FALSE(tls13(std::string("\x03\x03\x04\x03", 4)));      // odd length
  EXPECT_FALSE(tls13(std::string("\x02\x03\x04\x00\x00", 5)));  // longer than announced
}

}  // namespace
}  // namespace askr::net
