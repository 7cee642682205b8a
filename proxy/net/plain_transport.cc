#include "net/plain_transport.h"

#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>

namespace askr::net {

PlainTransport::PlainTransport(loop::Backend& io, int socket_fd) : io_(io) {
  fd = socket_fd;
}

PlainTransport::~PlainTransport() = default;

void PlainTransport::start(TransportUser* user) {
  user_ = user;
}

static_assert(Transport::kMaxSendIovs <= loop::Backend::kMaxSendIovs);

void PlainTransport::send(const iovec* iov, size_t count, bool more) {
  io_.sendv(this, iov, count, more);
}

ssize_t PlainTransport::send_file(int file_fd, off_t* offset, size_t count) {
  ssize_t n = ::sendfile(fd, file_fd, offset, count);
  return n < 0 ? -errno : n;
}

void PlainTransport::set_corked(bool corked) {
  int on = corked;
  setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

void PlainTransport::shutdown_write() {
  ::shutdown(fd, SHUT_WR);
}

const sockaddr* PlainTransport::peer() {
  if (!have_peer_) {
    socklen_t len = sizeof peer_;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer_), &len) < 0)
      peer_.sin6_family = AF_INET6;
    have_peer_ = true;
  }
  return reinterpret_cast<const sockaddr*>(&peer_);
}

const sockaddr* PlainTransport::local() {
  if (!have_local_) {
    socklen_t len = sizeof local_;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local_), &len) < 0)
      local_.sin6_family = AF_INET6;
    have_local_ = true;
  }
  return reinterpret_cast<const sockaddr*>(&local_);
}

}  // namespace askr::net
