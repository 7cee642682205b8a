// Listening sockets: one per loop and address, all bound to the same port with SO_REUSEPORT,
// each tagged with its loop's CPU so the kernel hands it the connections that arrive there.
#pragma once

#include <sys/socket.h>

#include <string>

#include "shared/base/result.h"

namespace askr::net {

// Creates, binds and listens. `cpu` < 0 leaves SO_INCOMING_CPU unset. When the address has
// port 0 the kernel picks one; read it back with bound_port() and bind the other loops' sockets
// to that port.
Result<int> open_listener(const sockaddr_storage& addr, socklen_t len, int cpu, int backlog);

int bound_port(int fd);

// "127.0.0.1:8080" or "[::1]:8080".
std::string format_address(const sockaddr* sa);

}  // namespace askr::net
