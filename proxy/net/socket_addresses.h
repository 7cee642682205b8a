// A connected socket's two addresses, asked of the kernel once each and kept: what every
// transport answers to peer() and local().
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

namespace askr::net {

class SocketAddresses {
 public:
  const sockaddr* peer(int fd) { return get(fd, peer_, have_peer_, getpeername); }
  const sockaddr* local(int fd) { return get(fd, local_, have_local_, getsockname); }

 private:
  using Query = int (*)(int, sockaddr*, socklen_t*);
  // On failure the address is an empty AF_INET6 one, which formats as "::".
  static const sockaddr* get(int fd, sockaddr_in6& addr, bool& have, Query query) {
    if (!have) {
      socklen_t len = sizeof addr;
      if (query(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) addr.sin6_family = AF_INET6;
      have = true;
    }
    return reinterpret_cast<const sockaddr*>(&addr);
  }

  sockaddr_in6 peer_{};
  sockaddr_in6 local_{};
  bool have_peer_ = false;
  bool have_local_ = false;
};

}  // namespace askr::net
