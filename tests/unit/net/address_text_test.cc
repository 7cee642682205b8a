// Addresses as text: what the access log, the error log and PHP's REMOTE_ADDR / SERVER_ADDR
// show.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

#include "net/listener.h"

namespace askr::net {
namespace {

sockaddr_in v4(const char* host, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host, &a.sin_addr);
  return a;
}

sockaddr_in6 v6(const char* host, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, host, &a.sin6_addr);
  return a;
}

std::string host(const sockaddr* sa) {
  char buf[kHostTextMax];
  return std::string(format_host(sa, buf));
}

TEST(AddressText, Ipv4AsInetNtopWritesIt) {
  for (const char* h :
       {"0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255", "1.2.3.4", "192.168.100.9"}) {
    sockaddr_in a = v4(h, 8080);
    EXPECT_EQ(host(reinterpret_cast<sockaddr*>(&a)), h);
    EXPECT_EQ(format_address(reinterpret_cast<sockaddr*>(&a)), std::string(h) + ":8080");
    EXPECT_EQ(address_port(reinterpret_cast<sockaddr*>(&a)), 8080);
  }
}

TEST(AddressText, Ipv6WithoutBracketsAloneWithThemBeforeAPort) {
  sockaddr_in6 a = v6("::1", 443);
  EXPECT_EQ(host(reinterpret_cast<sockaddr*>(&a)), "::1");
  EXPECT_EQ(format_address(reinterpret_cast<sockaddr*>(&a)), "[::1]:443");
  EXPECT_EQ(address_port(reinterpret_cast<sockaddr*>(&a)), 443);
  sockaddr_in6 m = v6("::ffff:10.0.0.7", 65535);
  EXPECT_EQ(host(reinterpret_cast<sockaddr*>(&m)), "::ffff:10.0.0.7");
  EXPECT_EQ(format_address(reinterpret_cast<sockaddr*>(&m)), "[::ffff:10.0.0.7]:65535");
  sockaddr_in6 l = v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1);
  EXPECT_EQ(host(reinterpret_cast<sockaddr*>(&l)), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(AddressText, NoAddressIsEmpty) {
  EXPECT_EQ(host(nullptr), "");
}

}  // namespace
}  // namespace askr::net
