// Listening sockets: one per loop and address, all bound to the same port with SO_REUSEPORT,
// each tagged with its loop's CPU so the kernel hands it the connections that arrive there.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/base/result.h"

namespace askr::net {

// Creates, binds and listens. `cpu` < 0 leaves SO_INCOMING_CPU unset. When the address has
// port 0 the kernel picks one; read it back with bound_port() and bind the other loops' sockets
// to that port.
Result<int> open_listener(const sockaddr_storage& addr, socklen_t len, int cpu, int backlog);

// Fails (EADDRINUSE) when a socket already listens on `addr`, in this process or another. The
// loops' sockets share their port with SO_REUSEPORT, which would as well let them join the
// listeners of another server of the same user (a second askr-proxy left running) and split the
// connections with it; a socket bound without SO_REUSEPORT is refused there, as nginx's listen
// is. Call before the first open_listener() of an address; port 0 always passes.
Result<void> check_address_free(const sockaddr_storage& addr, socklen_t len);

int bound_port(int fd);

// "127.0.0.1:8080" or "[::1]:8080".
std::string format_address(const sockaddr* sa);

// The host part alone, without brackets ("127.0.0.1", "::1"), into `buf`: nginx's $remote_addr,
// CGI's REMOTE_ADDR. An IPv4 address is written without inet_ntop()'s sprintf(): this runs for
// two addresses on every PHP request. Empty for a null `sa`.
inline constexpr size_t kHostTextMax = 46;  // INET6_ADDRSTRLEN
std::string_view format_host(const sockaddr* sa, char (&buf)[kHostTextMax]);
// The port of an IPv4 or IPv6 address, in host order.
uint16_t address_port(const sockaddr* sa);

}  // namespace askr::net
