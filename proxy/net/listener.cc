#include "net/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace askr::net {

Result<int> open_listener(const sockaddr_storage& addr, socklen_t len, int cpu, int backlog) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    Error e = errno_error("setsockopt(SO_REUSEPORT)");
    ::close(fd);
    return e;
  }
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Accepted sockets inherit TCP_NODELAY: responses are written whole, never in small pieces.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cpu >= 0) setsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, sizeof cpu);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) < 0) {
    Error e = errno_error("bind " + format_address(reinterpret_cast<const sockaddr*>(&addr)));
    ::close(fd);
    return e;
  }
  if (listen(fd, backlog) < 0) {
    Error e = errno_error("listen");
    ::close(fd);
    return e;
  }
  return fd;
}

Result<void> check_address_free(const sockaddr_storage& addr, socklen_t len) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("socket");
  int one = 1;
  // As the listeners: connections of a previous run in TIME_WAIT do not count, and an IPv6
  // address leaves the IPv4 one alone.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  Result<void> r;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) < 0) {
    r = errno_error("bind " + format_address(reinterpret_cast<const sockaddr*>(&addr)));
  }
  ::close(fd);
  return r;
}

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

std::string format_address(const sockaddr* sa) {
  char buf[kHostTextMax];
  std::string host(format_host(sa, buf));
  std::string port = std::to_string(address_port(sa));
  return sa->sa_family == AF_INET ? host + ":" + port : "[" + host + "]:" + port;
}

static_assert(kHostTextMax == INET6_ADDRSTRLEN);

std::string_view format_host(const sockaddr* sa, char (&buf)[kHostTextMax]) {
  if (!sa) return {};
  if (sa->sa_family == AF_INET) {
    const auto* b = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i) *p++ = '.';
      p = std::to_chars(p, p + 3, unsigned(b[i])).ptr;
    }
    return {buf, size_t(p - buf)};
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  if (!inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf)) return {};
  return buf;
}

uint16_t address_port(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
}

}  // namespace askr::net
